//! Real storage servers for the DVC remote tests, each on a free loopback port: moto's S3 server,
//! Azurite (Microsoft's Azure Storage emulator) and a Python web server (http.server, with basic
//! auth when asked). Each is started, waited for until it answers, and killed when dropped.

use super::{python, repo_root};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub port: u16,
    what: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(what: &'static str, mut cmd: Command, port: u16) -> Server {
    let mut child =
        cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("cannot start {what} ({cmd:?}): {e}"));
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited before answering: {st}");
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{what} did not answer on port {port} within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port, what }
}

fn venv_bin(name: &str) -> std::path::PathBuf {
    let p = python().parent().unwrap().join(name);
    assert!(p.exists(), "{} is missing: run scripts/setup-test-env", p.display());
    p
}

/// moto's S3 server (`moto_server`). Any credentials are accepted unless IAM auth is switched on
/// by `INITIAL_NO_AUTH_ACTION_COUNT`.
pub fn moto(no_auth_actions: Option<u32>) -> Server {
    let port = free_port();
    let mut c = Command::new(venv_bin("moto_server"));
    c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(n) = no_auth_actions {
        c.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
    }
    start("moto_server", c, port)
}

/// Azurite's blob service, storing below `dir`.
pub fn azurite(dir: &Path) -> Server {
    let bin = repo_root().join(".tools/azurite/node_modules/.bin/azurite-blob");
    assert!(bin.exists(), "{} is missing: run scripts/setup-test-env (npm install azurite into .tools/azurite)", bin.display());
    let port = free_port();
    let mut c = Command::new(bin);
    c.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"]).arg(dir).args([
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
    ]);
    start("azurite", c, port)
}

/// The Azurite connection string for the emulator at `port` (its public development account).
pub fn azurite_connection_string(port: u16, key: &str) -> String {
    format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
}

pub const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Python's http.server serving `dir`; with `auth = Some((user, password))` every request needs
/// that basic auth (401 otherwise).
pub fn web(dir: &Path, auth: Option<(&str, &str)>) -> Server {
    let port = free_port();
    let script = r#"
import base64, functools, http.server, sys
port, root, cred = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def check(self):
        if cred and self.headers.get("Authorization") != "Basic " + base64.b64encode(cred.encode()).decode():
            self.send_response(401); self.send_header("WWW-Authenticate", 'Basic realm="dvc"'); self.send_header("Content-Length", "0"); self.end_headers(); return False
        return True
    def do_GET(self):
        if self.check(): super().do_GET()
    def do_HEAD(self):
        if self.check(): super().do_HEAD()
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(H, directory=root)).serve_forever()
"#;
    let cred = auth.map(|(u, p)| format!("{u}:{p}")).unwrap_or_default();
    let mut c = Command::new(python());
    c.arg("-c").arg(script).arg(port.to_string()).arg(dir).arg(cred);
    start("http.server", c, port)
}

/// `dvc` of the test venv, run in `dir` with a private site cache and no analytics.
pub fn dvc(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> super::Run {
    let mut c = Command::new(venv_bin("dvc"));
    c.args(args).current_dir(dir).env("DVC_NO_ANALYTICS", "1").env("DVC_SITE_CACHE_DIR", dir.join(".dvc/tmp/site"));
    for (k, v) in env {
        c.env(k, v);
    }
    super::run(&mut c)
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on 127.0.0.1:{}", self.what, self.port)
    }
}
