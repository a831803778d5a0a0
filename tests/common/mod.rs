//! Helpers for tests that drive the `bundle` binary and independent tools (git, skopeo, Python's
//! jsonschema/tarfile, dvc's fixtures).
#![allow(dead_code)]

pub mod craft;
pub mod proxy;
pub mod registry;
pub mod servers;
pub mod standin;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The CI variables `bundle` reads (provenance by default when signing in CI, the builder and
/// invocation ids): the tests run as outside CI unless they set them.
pub const CI_VARS: [&str; 9] = [
    "CI",
    "GITLAB_CI",
    "CI_SERVER_URL",
    "CI_PROJECT_PATH",
    "CI_JOB_URL",
    "GITHUB_ACTIONS",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_WORKFLOW_REF",
];

/// A `bundle` command with a private hash cache, no inherited SOURCE_DATE_EPOCH, and none of
/// the CI's variables.
pub fn bundle(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bundle"));
    c.env("RELBUNDLE_CACHE_DIR", cache).env_remove("SOURCE_DATE_EPOCH").env("NO_COLOR", "1");
    for v in CI_VARS {
        c.env_remove(v);
    }
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(c: &mut Command) -> Run {
    let o: Output = c.output().unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn code(self, want: i32) -> Run {
        assert_eq!(self.code, want, "expected exit {want}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

pub fn sh(dir: &Path, script: &str) -> Run {
    run(Command::new("sh").arg("-ec").arg(script).current_dir(dir))
}

pub const GIT_ENV: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "Release Bot"),
    ("GIT_AUTHOR_EMAIL", "release@example.com"),
    ("GIT_COMMITTER_NAME", "Release Bot"),
    ("GIT_COMMITTER_EMAIL", "release@example.com"),
    ("GIT_AUTHOR_DATE", "2026-03-01T12:00:00Z"),
    ("GIT_COMMITTER_DATE", "2026-03-01T12:00:00Z"),
];

pub fn git(dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new("git");
    c.arg("-C").arg(dir).args(["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]).args(args);
    for (k, v) in GIT_ENV {
        c.env(k, v);
    }
    run(&mut c).ok()
}

/// A git repository at `<tmp>/repo` holding copies of the named fixture folders
/// (e.g. `docproc` and `dvc-remote`), committed at a fixed date. Returns the repo path.
pub fn fixture_repo(tmp: &Path, fixtures: &[&str]) -> PathBuf {
    let repo = tmp.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    for f in fixtures {
        let src = repo_root().join("fixtures").join(f);
        run(Command::new("cp").arg("-a").arg(&src).arg(repo.join(f))).ok();
    }
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    // DVC's .gitignore files hide the workspace data; track it like the fixtures in this repo do.
    git(&repo, &["add", "-f", "."]);
    git(&repo, &["commit", "-qm", "fixture"]);
    repo
}

/// The signed starting point of the trust tests, in `dir`: key pairs `trusted` and `other`
/// (password `pw`), the fixture repository, and docproc 1.0.0 built into the layout `dir/base`,
/// signed by `trusted` as `docproc:1.0.0`. Returns (repo, layout, digest).
pub fn signed_fixture(dir: &Path) -> (PathBuf, PathBuf, String) {
    for p in ["trusted", "other"] {
        run(bundle(dir).current_dir(dir).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", p])).ok();
    }
    let repo = fixture_repo(dir, &["docproc", "dvc-remote"]);
    let layout = dir.join("base");
    let r = run(bundle(dir)
        .env("COSIGN_PASSWORD", "pw")
        .args(["build", "--version", "1.0.0", "--sign", "--key", dir.join("trusted.key").to_str().unwrap()])
        .args(["--output", &format!("oci:{}", layout.display())])
        .arg(repo.join("docproc")))
    .ok();
    let digest = built_digest(&r.stdout);
    (repo, layout, digest)
}

pub fn commit_all(repo: &Path, msg: &str) {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", msg]);
}

/// The Python of the test venv (made by scripts/test): has jsonschema, pyyaml, oras, dvc.
pub fn python() -> PathBuf {
    let venv = std::env::var_os("RELBUNDLE_VENV").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv"));
    let p = venv.join("bin").join("python");
    assert!(p.exists(), "{} is missing: run scripts/test (it creates the venv), or set RELBUNDLE_VENV", p.display());
    p
}

/// Run a Python snippet with the venv's interpreter; `args` become sys.argv[1:].
pub fn py(code: &str, args: &[&str]) -> Run {
    run(Command::new(python()).arg("-c").arg(code).args(args))
}

/// The manifest digest printed by `bundle build` (the text form's last `@sha256:` reference).
pub fn built_digest(out: &str) -> String {
    let i = out.rfind("@sha256:").unwrap_or_else(|| panic!("no digest in {out}"));
    out[i + 1..].trim().to_string()
}

/// Every file below `dir` (path, bytes), for "nothing changed" assertions.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    if !dir.exists() {
        return v;
    }
    for e in walk(dir) {
        v.push((e.clone(), std::fs::read(&e).unwrap()));
    }
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// Standard base64, as docker config.json `auth` values are written.
pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A docker config folder (for DOCKER_CONFIG) at `dir` whose config.json logs in to `registry`
/// as `user:password`, in the `auths.<registry>.auth` form `docker login` writes.
pub fn docker_config(dir: &Path, registry: &str, user: &str, password: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let auth = b64(&format!("{user}:{password}"));
    std::fs::write(dir.join("config.json"), format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    dir.to_path_buf()
}
