//! The local stand-ins for Fulcio, Rekor v1 and an RFC 3161 TSA (scripts/sigstore-standin.py,
//! 127.0.0.1 only, test keys): started, waited for, asked for OIDC tokens, and killed when dropped.

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
    pub fn start(dir: &Path, untrusted_log: bool) -> Standin {
        let ready = dir.join(if untrusted_log { "url-untrusted" } else { "url" });
        let mut c = Command::new(python());
        c.arg(repo_root().join("scripts/sigstore-standin.py")).arg("serve").arg(dir);
        if untrusted_log {
            c.arg("--untrusted-log");
        }
        let log = std::fs::File::create(dir.with_extension(if untrusted_log { "untrusted.log" } else { "log" })).unwrap();
        let child = c.stdout(Stdio::null()).stderr(Stdio::from(log)).spawn().unwrap();
        let t0 = Instant::now();
        while !ready.exists() {
            assert!(t0.elapsed() < Duration::from_secs(30), "the Sigstore stand-ins did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let url = std::fs::read_to_string(&ready).unwrap();
        Standin { dir: dir.to_path_buf(), url, child }
    }

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
