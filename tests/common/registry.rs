//! A real registry for tests: Debian's docker-registry (distribution 2.8.2) on a free 127.0.0.1
//! port with its own config and storage, stopped with SIGTERM (SIGINT is ignored in background jobs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    pub addr: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    child: Child,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Registry {
    /// Start a registry; `extra` is appended to the config (auth, TLS under `http:`).
    pub fn start(dir: &Path, http_extra: &str, extra: &str) -> Registry {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: relbundle-test\n{http_extra}{extra}",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = dir.join("registry.log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
            .spawn()
            .expect("docker-registry is not installed: run scripts/test (it installs it)");
        let r = Registry { addr, dir: dir.to_path_buf(), log, child };
        r.wait_ready();
        r
    }

    pub fn plain(dir: &Path) -> Registry {
        Registry::start(dir, "", "")
    }

    fn wait_ready(&self) {
        let t0 = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains("listening on") && std::net::TcpStream::connect(&self.addr).is_ok() {
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "registry did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Requests of a kind seen so far, from the registry's access log: e.g. ("POST", "/blobs/uploads/").
    pub fn count(&self, method: &str, uri_part: &str) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        // Access-log lines only: `"METHOD URI HTTP/1.1" STATUS`.
        text.lines().filter(|l| l.contains(&format!("\"{method} ")) && l.contains(uri_part)).count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
