//! The local stand-ins for Fulcio, Rekor v1, Rekor v2 and an RFC 3161 TSA (scripts/sigstore-standin.py,
//! 127.0.0.1 only, test keys): started, waited for, asked for OIDC tokens, and killed when dropped.

use super::{python, repo_root, run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The CI identities the stand-in Fulcio certifies in tests: a GitHub Actions workflow and a
/// GitLab pipeline of `acme/docproc` on the tag v1.2.3 (SAN, issuer), and their OIDC claims.
pub const GITHUB_SAN: &str = "https://github.com/acme/docproc/.github/workflows/release.yml@refs/tags/v1.2.3";
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const GITLAB_SAN: &str = "https://gitlab.com/acme/docproc//.gitlab-ci.yml@refs/tags/v1.2.3";
pub const GITLAB_ISSUER: &str = "https://gitlab.com";
/// The commit the claims name.
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// GitHub Actions' token claims for `workflow` (e.g. `release.yml`) on the tag.
pub fn github_claims(workflow: &str) -> serde_json::Value {
    serde_json::json!({
        "iss": GITHUB_ISSUER,
        "sub": "repo:acme/docproc:ref:refs/tags/v1.2.3",
        "job_workflow_ref": format!("acme/docproc/.github/workflows/{workflow}@refs/tags/v1.2.3"),
        "repository": "acme/docproc",
        "ref": "refs/tags/v1.2.3",
        "sha": SHA,
        "event_name": "push",
        "run_id": "77",
    })
}

/// GitLab CI's `id_tokens` claims for the pipeline on the tag.
pub fn gitlab_claims() -> serde_json::Value {
    serde_json::json!({
        "iss": GITLAB_ISSUER,
        "sub": "project_path:acme/docproc:ref_type:tag:ref:v1.2.3",
        "ci_config_ref_uri": "gitlab.com/acme/docproc//.gitlab-ci.yml@refs/tags/v1.2.3",
        "project_path": "acme/docproc",
        "ref": "v1.2.3",
        "ref_type": "tag",
        "sha": SHA,
        "pipeline_source": "push",
    })
}

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
