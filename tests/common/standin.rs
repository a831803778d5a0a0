//! Local stand-ins for Fulcio, Rekor v1 and an RFC 3161 TSA (scripts/sigstore-standin.py,
//! 127.0.0.1 only, test keys), for keyless signing through the CLI: `token` mints an OIDC token
//! with the claims given; `file("signing_config.json")` and `file("trusted_root.json")` point
//! `--signing-config` and `--trusted-root` at them.

use super::{python, repo_root, run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The stand-in services, stopped (by their process) when dropped.
pub struct Standin {
    pub dir: PathBuf,
    pub url: String,
    child: Child,
}

impl Standin {
    pub fn start(dir: &Path) -> Standin {
        let ready = dir.join("url");
        let log = std::fs::File::create(dir.with_extension("log")).unwrap();
        let child = Command::new(python())
            .arg(repo_root().join("scripts/sigstore-standin.py"))
            .arg("serve")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while !ready.exists() {
            assert!(t0.elapsed() < Duration::from_secs(30), "the Sigstore stand-ins did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let url = std::fs::read_to_string(&ready).unwrap();
        Standin { dir: dir.to_path_buf(), url, child }
    }

    /// An OIDC identity token (audience sigstore) carrying `claims`.
    pub fn token(&self, claims: &serde_json::Value) -> String {
        let r = run(Command::new(python())
            .arg(repo_root().join("scripts/sigstore-standin.py"))
            .arg("token")
            .arg(&self.dir)
            .arg(claims.to_string()))
        .ok();
        r.stdout.trim().to_string()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
