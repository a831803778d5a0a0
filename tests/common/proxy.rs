//! A fault-injecting HTTP/1.1 proxy in front of a registry. It forwards each request on a fresh
//! upstream connection (keeping the Host header, so the registry's Location URLs point back at the
//! proxy) and can, at a chosen request, answer 500/503/429 itself, reset the connection, truncate
//! the response body, or forward only half of the request body. It can also stand in for a hostile
//! registry: [`Proxy::serve`] answers chosen paths itself with any bytes (and their real digest),
//! and [`Proxy::fail`] with an error status. [`Proxy::referrers_api`] turns it into a registry
//! with the OCI 1.1 referrers API in front of distribution 2.8 (which has none): it records each
//! manifest pushed with a `subject` and answers `GET /v2/<repo>/referrers/<digest>` itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Status(u16),
    Reset,
    TruncateResponse,
    TruncateRequest,
}

pub const ALL: [Fault; 6] =
    [Fault::Status(500), Fault::Status(503), Fault::Status(429), Fault::Reset, Fault::TruncateResponse, Fault::TruncateRequest];

#[derive(Clone, Copy, Debug)]
pub enum Plan {
    None,
    /// Only request number n (0-based) gets the fault.
    At(usize, Fault),
    /// Request n and every later one get the fault.
    From(usize, Fault),
}

#[derive(Default)]
struct State {
    count: usize,
    injected: usize,
    requests: Vec<String>,
    /// With the referrers API: (repository, subject digest, descriptor) of each pushed referrer.
    referrers: Vec<(String, String, serde_json::Value)>,
    referrers_api: bool,
}

pub struct Proxy {
    pub addr: String,
    upstream: String,
    plan: Arc<Mutex<Plan>>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    canned: Arc<Mutex<Vec<Canned>>>,
}

/// A response the proxy gives itself for one request path (GET and HEAD).
#[derive(Clone)]
struct Canned {
    path: String,
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let p = Proxy {
            addr: addr.clone(),
            upstream: upstream.to_string(),
            plan: Arc::new(Mutex::new(Plan::None)),
            state: Arc::new(Mutex::new(State::default())),
            stop: Arc::new(AtomicBool::new(false)),
            canned: Arc::new(Mutex::new(Vec::new())),
        };
        let (plan, state, stop, up, canned) = (p.plan.clone(), p.state.clone(), p.stop.clone(), p.upstream.clone(), p.canned.clone());
        std::thread::spawn(move || {
            for c in l.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(c) = c else { continue };
                let (plan, state, up, canned) = (plan.clone(), state.clone(), up.clone(), canned.clone());
                std::thread::spawn(move || {
                    let _ = handle(c, &up, &plan, &state, &canned);
                });
            }
        });
        p
    }

    /// Set the plan and reset the request counter.
    pub fn plan(&self, plan: Plan) {
        *self.plan.lock().unwrap() = plan;
        let mut s = self.state.lock().unwrap();
        s.count = 0;
        s.requests.clear();
    }

    /// Answer GET and HEAD of `path` (e.g. `/v2/acme/x/manifests/1.0.0`) with 200, `body`, and a
    /// `Docker-Content-Digest` that is the body's real sha256, as a hostile registry would.
    pub fn serve(&self, path: &str, content_type: &str, body: Vec<u8>) {
        let mut c = self.canned.lock().unwrap();
        c.retain(|x| x.path != path);
        c.push(Canned { path: path.to_string(), status: 200, content_type: content_type.to_string(), body });
    }

    /// Answer every request for `path` with `status` and a distribution-style error body.
    pub fn fail(&self, path: &str, status: u16) {
        let mut c = self.canned.lock().unwrap();
        c.retain(|x| x.path != path);
        let body = format!("{{\"errors\":[{{\"code\":\"UNKNOWN\",\"message\":\"injected {status}\"}}]}}").into_bytes();
        c.push(Canned { path: path.to_string(), status, content_type: "application/json".into(), body });
    }

    /// Serve the OCI 1.1 referrers API (see the module documentation).
    pub fn referrers_api(&self) {
        self.state.lock().unwrap().referrers_api = true;
    }

    /// Forget every [`Proxy::serve`] answer: forward everything again.
    pub fn serve_none(&self) {
        self.canned.lock().unwrap().clear();
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn injected(&self) -> usize {
        self.state.lock().unwrap().injected
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
        let _ = &self.upstream;
    }
}

fn read_head(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    // A TLS ClientHello (0x16) is not HTTP: close at once, like a plain-HTTP server would fail it.
    let first = r.fill_buf()?;
    if first.is_empty() || first[0] == 0x16 {
        return Ok(None);
    }
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            return Ok(Some(head));
        }
        if head.len() > 64 << 10 {
            return Ok(None);
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Read a request body: Content-Length, or chunked (kept verbatim).
fn read_body(r: &mut BufReader<TcpStream>, head: &str) -> std::io::Result<Vec<u8>> {
    if let Some(n) = header(head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut b = vec![0; n];
        r.read_exact(&mut b)?;
        return Ok(b);
    }
    if header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            r.read_until(b'\n', &mut line)?;
            out.extend_from_slice(&line);
            let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            out.extend_from_slice(&chunk);
            if size == 0 {
                return Ok(out);
            }
        }
    }
    Ok(Vec::new())
}

fn handle(client: TcpStream, upstream: &str, plan: &Mutex<Plan>, state: &Mutex<State>, canned: &Mutex<Vec<Canned>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(head) = read_head(&mut reader)? else { return Ok(()) };
    let head_s = String::from_utf8_lossy(&head).to_string();
    let body = read_body(&mut reader, &head_s)?;
    let fault = {
        let mut s = state.lock().unwrap();
        let n = s.count;
        s.count += 1;
        s.requests.push(head_s.lines().next().unwrap_or("").to_string());
        let f = match *plan.lock().unwrap() {
            Plan::None => None,
            Plan::At(k, f) => (k == n).then_some(f),
            Plan::From(k, f) => (n >= k).then_some(f),
        };
        if f.is_some() {
            s.injected += 1;
        }
        f
    };
    let mut line = head_s.lines().next().unwrap_or("").split(' ');
    let (method, target) = (line.next().unwrap_or(""), line.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let answer = canned.lock().unwrap().iter().find(|c| c.path == path).cloned();
    if let Some(c) = answer {
        let digest = relbundle::hashing::sha256_digest(&c.body);
        write!(
            client,
            "HTTP/1.1 {} Canned\r\nContent-Type: {}\r\nDocker-Content-Digest: {digest}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            c.status,
            c.content_type,
            c.body.len()
        )?;
        if method != "HEAD" {
            client.write_all(&c.body)?;
        }
        let _ = client.shutdown(Shutdown::Write);
        return Ok(());
    }
    let api = state.lock().unwrap().referrers_api;
    if api
        && method == "GET"
        && let Some((repo, digest)) = path.strip_prefix("/v2/").and_then(|p| p.split_once("/referrers/"))
    {
        let manifests: Vec<serde_json::Value> =
            state.lock().unwrap().referrers.iter().filter(|(r, s, _)| r == repo && s == digest).map(|(_, _, d)| d.clone()).collect();
        let body = serde_json::to_vec(
            &serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}),
        )
        .unwrap();
        write!(
            client,
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        client.write_all(&body)?;
        let _ = client.shutdown(Shutdown::Write);
        return Ok(());
    }
    match fault {
        Some(Fault::Status(code)) => {
            let extra = if code == 429 { "Retry-After: 0\r\n" } else { "" };
            // The error codes distribution sends with these statuses.
            let ecode = if code == 429 { "TOOMANYREQUESTS" } else { "UNKNOWN" };
            let msg = format!("{{\"errors\":[{{\"code\":\"{ecode}\",\"message\":\"injected {code}\"}}]}}");
            write!(
                client,
                "HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{msg}",
                msg.len()
            )?;
            return Ok(());
        }
        Some(Fault::Reset) => {
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        _ => {}
    }
    // Forward on a fresh connection, asking the registry to close it after answering.
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut fwd_head = String::new();
    for l in head_s.split("\r\n") {
        if l.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        if l.is_empty() {
            break;
        }
        fwd_head.push_str(l);
        fwd_head.push_str("\r\n");
    }
    fwd_head.push_str("Connection: close\r\n\r\n");
    up.write_all(fwd_head.as_bytes())?;
    if fault == Some(Fault::TruncateRequest) {
        up.write_all(&body[..body.len() / 2])?;
        let _ = up.shutdown(Shutdown::Both);
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    up.write_all(&body)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    if fault == Some(Fault::TruncateResponse) {
        let head_end = resp.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).unwrap_or(resp.len());
        let cut = if resp.len() > head_end { head_end + (resp.len() - head_end) / 2 } else { head_end / 2 };
        client.write_all(&resp[..cut])?;
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    // A registry with the referrers API indexes a pushed manifest's subject.
    if api
        && method == "PUT"
        && resp.starts_with(b"HTTP/1.1 201")
        && let Some((repo, _)) = path.strip_prefix("/v2/").and_then(|p| p.split_once("/manifests/"))
        && let Ok(m) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(subject) = m.pointer("/subject/digest").and_then(|d| d.as_str())
    {
        let mut d = serde_json::json!({
            "mediaType": m["mediaType"],
            "digest": relbundle::hashing::sha256_digest(&body),
            "size": body.len(),
            "artifactType": m.get("artifactType").unwrap_or(&m["config"]["mediaType"]),
        });
        if let Some(a) = m.get("annotations") {
            d["annotations"] = a.clone();
        }
        let mut st = state.lock().unwrap();
        if !st.referrers.iter().any(|(r, s, x)| r == repo && s == subject && x["digest"] == d["digest"]) {
            st.referrers.push((repo.to_string(), subject.to_string(), d));
        }
    }
    client.write_all(&resp)?;
    let _ = client.shutdown(Shutdown::Write);
    Ok(())
}
