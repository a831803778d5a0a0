//! OCI registry backend on oci-client (rustls). We keep the digest under our control: blobs and
//! raw manifest bytes are pushed as they are, every pulled byte is checked against its
//! descriptor's sha256 and size (distribution 2.8 does not check sizes), and after a tag is set the
//! registry's `Docker-Content-Digest` for it must equal our own sha256.
//!
//! Plain HTTP only for loopback registries or hosts named by `--insecure-registry` /
//! `RELBUNDLE_INSECURE_REGISTRIES`, and for those only when HTTPS gets no TLS answer (as docker). Bounded retries with exponential backoff and jitter on 429,
//! 5xx, resets and timeouts. Credentials never reach a message.

use super::auth::{self, Explicit};
use super::{Store, TagOutcome};
use crate::oci::{Descriptor, MAX_MANIFEST};
use crate::spec::{MANIFEST_TYPES, OCI_MANIFEST};
use anyhow::{Context, Result, anyhow, bail};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Every manifest type we accept; distribution 2.8 answers 404 to an OCI manifest without it.
/// Largest blob read from a registry into memory.
const MAX_ATTEMPTS: u32 = 5;
/// Blob uploads in flight at once.
pub const UPLOAD_CONCURRENCY: usize = 4;
/// Blobs streamed registry to registry at once (per image; images travel three at a time).
pub const STREAM_CONCURRENCY: usize = 8;
/// Chunks buffered between a blob's fetch and its upload.
const STREAM_CHUNKS: usize = 16;
/// Blob downloads in flight at once (a release's record and layers, a digest's bundles).
pub const DOWNLOAD_CONCURRENCY: usize = 8;

/// How to reach registries: TLS roots, plain-HTTP hosts, explicit login.
#[derive(Clone, Debug, Default)]
pub struct Transport {
    /// Hosts (`host[:port]`) that may be reached over plain HTTP, besides loopback ones.
    pub insecure: Vec<String>,
    /// Extra PEM CA certificates.
    pub ca_files: Vec<PathBuf>,
    pub explicit: Explicit,
    /// Per-request read timeout.
    pub timeout: Option<Duration>,
    /// Report transport, login source and retries on stderr (never secrets).
    pub verbose: bool,
}

/// `localhost`, `127.0.0.0/8` and `[::1]`, with any port: plain HTTP is allowed, as docker does.
pub fn is_loopback(host: &str) -> bool {
    let h =
        if let Some(rest) = host.strip_prefix('[') { rest.split(']').next().unwrap_or("") } else { host.split(':').next().unwrap_or("") };
    h == "localhost" || h == "::1" || h.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Does `host[:port]` answer plain HTTP? Sends `GET /v2/` and returns the status when the answer
/// is plain HTTP; None when it speaks TLS (Go and nginx answer plain requests on a TLS port with a
/// 400 that mentions HTTPS; others close or send a TLS alert) or cannot be reached. A few quick
/// attempts ride over a dropped connection.
fn probe_plain(host: &str) -> Option<u16> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let target = if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) && !host.ends_with(']') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addr = target.to_socket_addrs().ok()?.next()?;
    for attempt in 0..3u64 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(20 * attempt));
        }
        let Ok(mut c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)) else { continue };
        let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
        if c.write_all(format!("GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).is_err() {
            continue;
        }
        let mut buf = Vec::new();
        let _ = c.take(1024).read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        let Some(rest) = text.strip_prefix("HTTP/1.") else {
            if buf.is_empty() {
                continue; // dropped: ask again
            }
            return None; // TLS alert or other bytes: a TLS server
        };
        if text.contains("HTTPS") || text.contains("https") {
            return None;
        }
        return rest.get(2..5).and_then(|s| s.parse().ok());
    }
    None
}

/// A CA certificate no server presents: trusting only it makes a TLS client that loads no roots.
fn probe_ca() -> oci_client::client::Certificate {
    oci_client::client::Certificate {
        encoding: oci_client::client::CertificateEncoding::Pem,
        data: include_bytes!("probe-ca.pem").to_vec(),
    }
}

pub struct Registry {
    rt: std::sync::Arc<tokio::runtime::Runtime>,
    client: Client,
    auth: RegistryAuth,
    pub registry: String,
    pub repository: String,
    /// Manifest bytes we pushed or pulled, by digest, so a tag push needs no second download.
    manifests: Mutex<HashMap<String, Vec<u8>>>,
    verbose: bool,
    /// The referrers API, which oci-client does not expose (shared with siblings).
    refs: std::sync::Arc<Referrers>,
    /// The pull token of this repository for [`Registry::send_raw`], once asked (`Some(None)`:
    /// none needed): oci-client's `auth` asks the registry again on every call.
    pull_token: Mutex<Option<Option<String>>>,
}

/// How to reach the referrers API: the transport, the HTTP client (built on first use), and the
/// answer to "has the registry the API?" (asked once per registry).
struct Referrers {
    plain: bool,
    ca_pem: Vec<Vec<u8>>,
    timeout: Duration,
    http: std::sync::OnceLock<reqwest::Client>,
    api: Mutex<Option<bool>>,
}

fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|x| {
            matches!(x.code, OciErrorCode::ManifestUnknown | OciErrorCode::BlobUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound)
        }),
        _ => false,
    }
}

fn is_certificate_error(e: &dyn std::error::Error) -> bool {
    let chain = error_chain(e).to_lowercase();
    chain.contains("certificate") || chain.contains("unknownissuer")
}

fn is_dns_error(e: &dyn std::error::Error) -> bool {
    error_chain(e).to_lowercase().contains("dns error")
}

fn retryable(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) if is_certificate_error(r) || is_dns_error(r) => false,
        OciDistributionError::RequestError(r) => {
            r.is_timeout()
                || r.is_connect()
                || r.is_request()
                || r.is_body()
                || r.is_decode()
                // error_for_status() (e.g. blob_exists) turns 429/5xx into a status error.
                || r.status().is_some_and(|s| s.as_u16() == 429 || s.as_u16() >= 500)
        }
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        // Too many requests, or an upload the network corrupted: a retry starts a fresh upload.
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|x| {
            matches!(
                x.code,
                OciErrorCode::Toomanyrequests
                    | OciErrorCode::DigestInvalid
                    | OciErrorCode::BlobUploadInvalid
                    | OciErrorCode::BlobUploadUnknown
                    | OciErrorCode::SizeInvalid
            )
        }),
        OciDistributionError::IoError(_) => true,
        // A truncated body shows up as a digest mismatch or a short read: try again.
        OciDistributionError::DigestError(_) => true,
        _ => false,
    }
}

/// Exponential backoff from 100 ms (`RELBUNDLE_RETRY_BASE_MS`), doubled per attempt, capped at
/// 5 s, with ±50 % jitter.
fn backoff(attempt: u32) -> Duration {
    let first = std::env::var("RELBUNDLE_RETRY_BASE_MS").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(100);
    let base = (first << attempt.min(6)).min(5000);
    Duration::from_millis(base / 2 + fastrand::u64(0..=base))
}

impl Registry {
    pub fn open(registry: &str, repository: &str, t: &Transport) -> Result<Registry> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
        let mut insecure: Vec<String> = t.insecure.clone();
        if let Ok(env) = std::env::var("RELBUNDLE_INSECURE_REGISTRIES") {
            insecure.extend(env.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
        }
        let mut certs = Vec::new();
        for f in &t.ca_files {
            let data = std::fs::read(f).with_context(|| format!("--ca-file {}: cannot read", f.display()))?;
            if !String::from_utf8_lossy(&data).contains("-----BEGIN CERTIFICATE-----") {
                bail!("--ca-file {}: not a PEM certificate", f.display());
            }
            certs.push(oci_client::client::Certificate { encoding: oci_client::client::CertificateEncoding::Pem, data });
        }
        // `only`: None means the system roots (+ --ca-file); Some(certs) trusts exactly those.
        let config =
            |plain: Vec<String>, connect: Duration, only: Option<Vec<oci_client::client::Certificate>>| oci_client::client::ClientConfig {
                protocol: oci_client::client::ClientProtocol::HttpsExcept(plain),
                extra_root_certificates: if only.is_none() { certs.clone() } else { Vec::new() },
                tls_certs_only: only.unwrap_or_default(),
                read_timeout: Some(t.timeout.unwrap_or(Duration::from_secs(60))),
                connect_timeout: Some(connect),
                max_concurrent_upload: 4,
                // One request per blob (`PUT …?digest=` with the whole body): no chunk round trips.
                use_monolithic_push: true,
                user_agent: concat!("relbundle/", env!("CARGO_PKG_VERSION")),
                ..Default::default()
            };
        let login = auth::find(registry, &t.explicit)?;
        let who = login.as_ref().map(|l| format!("as {} (from {})", l.username, l.source)).unwrap_or_else(|| "anonymously".into());
        let auth = match &login {
            Some(l) => l.to_oci(),
            None => RegistryAuth::Anonymous,
        };
        // Like docker: a loopback registry, or one named as insecure, may be plain HTTP; every
        // other host is HTTPS only. One plain request tells which, and whether /v2/ wants a login.
        let may_be_plain = is_loopback(registry) || insecure.iter().any(|h| h == registry);
        let mut plain = Vec::new();
        let mut auth = auth;
        if may_be_plain && let Some(status) = probe_plain(registry) {
            plain.push(registry.to_string());
            // An open registry (200 without a login): an empty bearer token keeps oci-client from
            // pinging /v2/ before every request; the registry ignores it.
            if status == 200 && matches!(auth, RegistryAuth::Anonymous) {
                auth = RegistryAuth::Bearer(String::new());
            }
        }
        if t.verbose {
            eprintln!("registry {registry}: {} {who}", if plain.is_empty() { "HTTPS" } else { "plain HTTP" });
        }
        // A registry reached over plain HTTP never needs TLS roots.
        let roots = if plain.is_empty() { None } else { Some(vec![probe_ca()]) };
        let is_plain = !plain.is_empty();
        Ok(Registry {
            rt: std::sync::Arc::new(rt),
            client: Client::new(config(plain, Duration::from_secs(10), roots)),
            auth,
            registry: registry.to_string(),
            repository: repository.to_string(),
            manifests: Mutex::new(HashMap::new()),
            pull_token: Mutex::new(None),
            verbose: t.verbose,
            refs: std::sync::Arc::new(Referrers {
                plain: is_plain,
                ca_pem: certs.iter().map(|c| c.data.clone()).collect(),
                timeout: t.timeout.unwrap_or(Duration::from_secs(60)),
                http: Default::default(),
                api: Default::default(),
            }),
        })
    }

    /// Fetch one blob: its size claim checked first, streamed with a cap at the claimed size and
    /// retried. oci-client's stream hashes the bytes and fails on a digest mismatch (a finding,
    /// see `retry`), so only the size is checked here: the content is hashed once.
    async fn fetch_blob(&self, d: &Descriptor) -> Result<Vec<u8>> {
        let out = Mutex::new(std::io::Cursor::new(Vec::with_capacity(d.size.min(crate::oci::MAX_BLOB) as usize)));
        self.fetch_blob_into(d, &out).await?;
        let bytes = out.into_inner().unwrap_or_else(|e| e.into_inner()).into_inner();
        crate::oci::check_size(&self.name(), d, &bytes)?;
        Ok(bytes)
    }

    /// Fetch one blob into an anonymous temporary file (memory does not grow with the blob), its
    /// digest checked by the transport and its size here; the file is rewound for reading.
    async fn spool_blob(&self, d: &Descriptor) -> Result<std::fs::File> {
        let file = tempfile::tempfile().context("cannot create a temporary file for a blob")?;
        let out = Mutex::new(file);
        let n = self.fetch_blob_into(d, &out).await?;
        if n != d.size {
            return Err(crate::error::finding(format!("{}: blob {} has {n} bytes, its descriptor says {}", self.name(), d.digest, d.size)));
        }
        let mut file = out.into_inner().unwrap_or_else(|e| e.into_inner());
        std::io::Seek::rewind(&mut file)?;
        Ok(file)
    }

    /// Stream a blob into `out` (restarted on each retry); returns the bytes written.
    async fn fetch_blob_into<W: Spool>(&self, d: &Descriptor, out: &Mutex<W>) -> Result<u64> {
        crate::oci::check_claim(&self.name(), d)?;
        if !crate::reference::is_sha256_digest(&d.digest) {
            return Err(crate::error::finding(format!("{}: blob digest `{}` is not sha256", self.name(), d.digest)));
        }
        let r = self.reference(None, Some(&d.digest));
        let layer = oci_client::manifest::OciDescriptor {
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size as i64,
            ..Default::default()
        };
        let cap = d.size;
        self.retry(&format!("fetch blob {}", d.digest), || {
            let layer = layer.clone();
            let r = r.clone();
            async move {
                use futures_util::StreamExt;
                let spool_error =
                    |e: std::io::Error| OciDistributionError::GenericError(Some(format!("cannot write a temporary file: {e}")));
                out.lock().unwrap_or_else(|e| e.into_inner()).restart().map_err(spool_error)?;
                self.client.store_auth_if_needed(&self.registry, &self.auth).await;
                let mut s = self.client.pull_blob_stream(&r, &layer).await?;
                let mut n = 0u64;
                while let Some(chunk) = s.stream.next().await {
                    let chunk = chunk?;
                    if n + chunk.len() as u64 > cap {
                        return Err(OciDistributionError::GenericError(Some(format!("blob is larger than its descriptor's {cap} bytes"))));
                    }
                    n += chunk.len() as u64;
                    out.lock().unwrap_or_else(|e| e.into_inner()).write_all(&chunk).map_err(spool_error)?;
                }
                Ok(n)
            }
        })
        .await
    }

    /// Another repository on the same registry, sharing this one's runtime, HTTP client, login and
    /// tokens: no second transport probe, and no second load of the system's CA store.
    pub fn sibling(&self, repository: &str) -> Registry {
        Registry {
            rt: self.rt.clone(),
            client: self.client.clone(),
            auth: self.auth.clone(),
            registry: self.registry.clone(),
            repository: repository.to_string(),
            manifests: Mutex::new(HashMap::new()),
            pull_token: Mutex::new(None),
            verbose: self.verbose,
            refs: self.refs.clone(),
        }
    }

    /// The HTTP client for requests oci-client has no call for (the referrers API), with the same
    /// TLS trust as the registry client; built on first use.
    fn http(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.refs.http.get() {
            return Ok(c);
        }
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("relbundle/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(self.refs.timeout);
        if self.refs.plain {
            // Plain HTTP: no TLS roots to load.
            b = b.tls_certs_only(reqwest::Certificate::from_pem_bundle(include_bytes!("probe-ca.pem"))?);
        } else {
            let mut extra = Vec::new();
            for pem in self.refs.ca_pem.iter() {
                extra.extend(reqwest::Certificate::from_pem_bundle(pem).context("--ca-file: not a PEM certificate")?);
            }
            b = b.tls_certs_merge(extra);
        }
        let c = b.build().context("cannot set up the HTTP client")?;
        let _ = self.refs.http.set(c);
        Ok(self.refs.http.get().expect("set above"))
    }

    /// `GET /v2/<repo>/referrers/<digest>` (every page): the listed descriptors, or None when the
    /// registry has no referrers API (404). Any other answer is an error, never "no referrers".
    fn referrers_api_list(&self, digest: &str) -> Result<Option<Vec<Descriptor>>> {
        let scheme = if self.refs.plain { "http" } else { "https" };
        let mut url = format!("{scheme}://{}/v2/{}/referrers/{digest}", self.registry, self.repository);
        let what = format!("list referrers of {digest}");
        let r = self.reference(None, Some(digest));
        let http = self.http()?;
        let mut out = Vec::new();
        for _page in 0..64 {
            let (status, link, body) = self.rt.block_on(async {
                let res = self.send_raw(&r, &what, || http.get(&url).header("Accept", crate::spec::OCI_INDEX)).await?;
                let status = res.status().as_u16();
                let link = res.headers().get("link").and_then(|v| v.to_str().ok()).map(String::from);
                let body = res.bytes().await.map_err(|e| anyhow!("{}: {what}: {}", self.name(), error_chain(&e)))?;
                Ok::<_, anyhow::Error>((status, link, body))
            })?;
            match status {
                200 => {}
                404 => return Ok(None),
                401 | 403 => bail!(
                    "{}: {what}: access denied (HTTP {status}); check the login for {} (docker login {})",
                    self.name(),
                    self.registry,
                    self.registry
                ),
                _ => bail!("{}: {what}: the registry answered HTTP {status}", self.name()),
            }
            if body.len() as u64 > MAX_MANIFEST {
                bail!("{}: {what}: the referrers index is over the 4 MiB limit", self.name());
            }
            let (_, entries) = super::layout::parse_index(&body, &format!("{}: {what}", self.name()))?;
            out.extend(entries);
            // Pagination (`Link: <...>; rel="next"`), relative to the registry.
            match link.as_deref().and_then(next_link) {
                Some(next) if next.starts_with('/') => url = format!("{scheme}://{}{next}", self.registry),
                Some(next) => url = next,
                None => return Ok(Some(out)),
            }
        }
        bail!("{}: {what}: more than 64 pages of referrers", self.name())
    }

    /// A request oci-client has no call for, with its login (its bearer token for `r`, else basic
    /// credentials) and bounded retries on 429, 5xx, timeouts and failed connections.
    async fn send_raw(&self, r: &Reference, what: &str, make: impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response> {
        use oci_client::RegistryOperation;
        let mut attempt = 0;
        let mut fresh = false;
        loop {
            let cached = self.pull_token.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let token = match (&self.auth, cached) {
                (RegistryAuth::Bearer(t), _) if t.is_empty() => None,
                (_, Some(t)) => t,
                (a, None) => match self.client.auth(r, a, RegistryOperation::Pull).await {
                    // Kept only when the registry answered: a failed login is asked again next time.
                    Ok(t) => {
                        *self.pull_token.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.clone());
                        fresh = true;
                        t
                    }
                    Err(_) => None,
                },
            };
            let req = match (&token, &self.auth) {
                (Some(t), _) => make().bearer_auth(t),
                (None, RegistryAuth::Basic(u, p)) => make().basic_auth(u, Some(p)),
                (None, RegistryAuth::Bearer(t)) if !t.is_empty() => make().bearer_auth(t),
                _ => make(),
            };
            let res = req.send().await;
            // A cached token that expired: ask for a new one, once.
            if !fresh && res.as_ref().is_ok_and(|r| r.status().as_u16() == 401) && token.is_some() {
                *self.pull_token.lock().unwrap_or_else(|e| e.into_inner()) = None;
                continue;
            }
            let retry = match &res {
                Ok(r) => r.status().as_u16() == 429 || r.status().is_server_error(),
                Err(e) => e.is_timeout() || e.is_connect() || e.is_request(),
            };
            if retry && attempt + 1 < MAX_ATTEMPTS {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            return res.map_err(|e| anyhow!("{}: {what}: {}", self.name(), error_chain(&e)));
        }
    }

    /// `HEAD /v2/<repo>/manifests/<digest>`: whether the repository has the manifest (one
    /// request, nothing downloaded).
    fn head_manifest(&self, digest: &str) -> Result<bool> {
        let scheme = if self.refs.plain { "http" } else { "https" };
        let url = format!("{scheme}://{}/v2/{}/manifests/{digest}", self.registry, self.repository);
        let what = format!("check manifest {digest}");
        let r = self.reference(None, Some(digest));
        let http = self.http()?;
        let res = self.rt.block_on(self.send_raw(&r, &what, || http.head(&url).header("Accept", MANIFEST_TYPES.join(", "))))?;
        match res.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            s @ (401 | 403) => bail!(
                "{}: {what}: access denied (HTTP {s}); check the login for {} (docker login {})",
                self.name(),
                self.registry,
                self.registry
            ),
            s => bail!("{}: {what}: the registry answered HTTP {s}", self.name()),
        }
    }

    /// Whether the registry has the referrers API, asked once (by listing `digest`'s referrers)
    /// and remembered for every repository of the registry in this process.
    fn referrers_api(&self, digest: &str) -> Result<(bool, Option<Vec<Descriptor>>)> {
        if *self.refs.api.lock().unwrap() == Some(false) {
            return Ok((false, None));
        }
        let listed = self.referrers_api_list(digest)?;
        let has = listed.is_some();
        let mut k = self.refs.api.lock().unwrap();
        if k.is_none() && self.verbose {
            eprintln!(
                "registry {}: {}",
                self.registry,
                if has { "has the referrers API" } else { "has no referrers API: referrers are listed by the tag sha256-<hex>" }
            );
        }
        *k = Some(has);
        Ok((has, listed))
    }

    pub fn reference(&self, tag: Option<&str>, digest: Option<&str>) -> Reference {
        match (tag, digest) {
            (_, Some(d)) => Reference::with_digest(self.registry.clone(), self.repository.clone(), d.to_string()),
            (Some(t), None) => Reference::with_tag(self.registry.clone(), self.repository.clone(), t.to_string()),
            (None, None) => Reference::with_tag(self.registry.clone(), self.repository.clone(), "latest".to_string()),
        }
    }

    fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Run one registry operation with bounded retries; turn errors into actionable messages.
    fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
    {
        self.rt.block_on(self.retry(what, f))
    }

    async fn retry<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
    {
        let mut attempt = 0;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt + 1 < MAX_ATTEMPTS && retryable(&e) => {
                    let wait = backoff(attempt);
                    if self.verbose {
                        // The error text names the URL and status, never a credential.
                        eprintln!(
                            "registry {}: {what}: attempt {} failed ({e}); retrying in {} ms",
                            self.registry,
                            attempt + 1,
                            wait.as_millis()
                        );
                    }
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(self.explain(what, e, attempt + 1)),
            }
        }
    }

    /// Like [`call`], but a 404 is `Ok(None)` (and is not retried).
    fn call_opt<T, F, Fut>(&self, what: &str, mut f: F) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
    {
        self.rt.block_on(self.retry(what, || {
            let fut = f();
            async move {
                match fut.await {
                    Ok(v) => Ok(Some(v)),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }))
    }

    fn explain(&self, what: &str, e: OciDistributionError, attempts: u32) -> anyhow::Error {
        let host = &self.registry;
        let tries = if attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() };
        match &e {
            // Bytes that never match their digest, however often we ask: the content is wrong.
            // (Streamed blobs report it inside an io::Error.)
            OciDistributionError::DigestError(d) => crate::error::finding(format!(
                "{}: {what}{tries}: the registry serves content that does not match its digest: {d}",
                self.name()
            )),
            OciDistributionError::IoError(io)
                if io.get_ref().and_then(|i| i.downcast_ref::<oci_client::errors::DigestError>()).is_some() =>
            {
                crate::error::finding(format!(
                    "{}: {what}{tries}: the registry serves content that does not match its digest: {io}",
                    self.name()
                ))
            }
            OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => anyhow!(
                "{}: {what}: the registry refused the login or requires one; run `docker login {host}`, set REGISTRY_AUTH_FILE, or pass --username with --password-stdin",
                self.name()
            ),
            OciDistributionError::RegistryError { envelope, .. }
                if envelope.errors.iter().any(|x| matches!(x.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)) =>
            {
                anyhow!("{}: {what}: access denied; check the login for {host} (docker login {host})", self.name())
            }
            OciDistributionError::RequestError(r) if is_certificate_error(r) => anyhow!(
                "{}: {what}: the TLS certificate of {host} is not trusted ({}); pass --ca-file CA.pem with the CA that signed it",
                self.name(),
                error_chain(r)
            ),
            OciDistributionError::RequestError(r) if is_dns_error(r) => {
                anyhow!("{}: {what}: cannot resolve the host name {host}; check the registry name", self.name())
            }
            OciDistributionError::RequestError(r) if r.is_connect() => {
                let hint = if is_loopback(host) { "" } else { "; for a plain-HTTP registry pass --insecure-registry HOST" };
                anyhow!("{}: {what}: cannot connect to {host}{tries}: {}{hint}", self.name(), error_chain(r))
            }
            OciDistributionError::RequestError(r) => {
                anyhow!("{}: {what}{tries}: {}", self.name(), error_chain(r))
            }
            _ => anyhow!("{}: {what}{tries}: {e}", self.name()),
        }
    }

    /// Fetch a manifest by digest, checking digest, size and the 4 MiB limit.
    fn manifest_bytes(&self, d: &Descriptor) -> Result<Vec<u8>> {
        if let Some(b) = self.manifests.lock().unwrap().get(&d.digest) {
            return Ok(b.clone());
        }
        crate::oci::check_claim(&self.name(), d)?;
        let r = self.reference(None, Some(&d.digest));
        let (bytes, _) =
            self.call(&format!("fetch manifest {}", d.digest), || self.client.pull_manifest_raw(&r, &self.auth, &MANIFEST_TYPES))?;
        crate::oci::check_blob(&self.name(), d, &bytes)?;
        let v = bytes.to_vec();
        self.manifests.lock().unwrap().insert(d.digest.clone(), v.clone());
        Ok(v)
    }

    /// HEAD a tag (with every manifest Accept type) and return the registry's digest, or None.
    pub fn head_tag(&self, tag: &str) -> Result<Option<String>> {
        let r = self.reference(Some(tag), None);
        self.call_opt(&format!("resolve tag {tag}"), || self.client.fetch_manifest_digest(&r, &self.auth))
    }

    /// Resolve a tag or digest to a descriptor: one HEAD for a tag, then one GET by digest.
    pub fn describe_ref(&self, tag: Option<&str>, digest: Option<&str>) -> Result<Option<Descriptor>> {
        let digest = match (tag, digest) {
            (_, Some(d)) => d.to_string(),
            (Some(t), None) => match self.head_tag(t)? {
                Some(d) => d,
                None => return Ok(None),
            },
            (None, None) => bail!("{}: name a tag or a digest ({}:TAG or {}@sha256:…)", self.name(), self.name(), self.name()),
        };
        if !crate::reference::is_sha256_digest(&digest) {
            bail!("{}: the registry answered with digest `{digest}`, not sha256", self.name());
        }
        let r = self.reference(None, Some(&digest));
        let Some((bytes, _)) =
            self.call_opt(&format!("fetch manifest {digest}"), || self.client.pull_manifest_raw(&r, &self.auth, &MANIFEST_TYPES))?
        else {
            return Ok(None);
        };
        if bytes.len() as u64 > MAX_MANIFEST {
            bail!("{}@{digest}: manifest is {} bytes, over the 4 MiB limit", self.name(), bytes.len());
        }
        let got = crate::hashing::sha256_digest(&bytes);
        if got != digest {
            bail!("{}@{digest}: the registry served a manifest whose sha256 is {got}", self.name());
        }
        Ok(Some(self.remember(digest, &bytes)))
    }

    /// Read a tag's manifest in one request (GET by tag): its digest is the sha256 of the bytes
    /// received, computed here, never the registry's word. None when there is no such tag.
    pub fn fetch_tag(&self, tag: &str) -> Result<Option<Descriptor>> {
        let r = self.reference(Some(tag), None);
        let Some((bytes, _)) =
            self.call_opt(&format!("fetch tag {tag}"), || self.client.pull_manifest_raw(&r, &self.auth, &MANIFEST_TYPES))?
        else {
            return Ok(None);
        };
        if bytes.len() as u64 > MAX_MANIFEST {
            bail!("{}:{tag}: manifest is {} bytes, over the 4 MiB limit", self.name(), bytes.len());
        }
        Ok(Some(self.remember(crate::hashing::sha256_digest(&bytes), &bytes)))
    }

    /// The descriptor of manifest bytes whose digest was checked, kept for later reads by digest.
    fn remember(&self, digest: String, bytes: &[u8]) -> Descriptor {
        let v = serde_json::from_slice::<serde_json::Value>(bytes).ok();
        let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(|m| m.as_str()).map(String::from);
        let mut d = Descriptor::new(&field("mediaType").unwrap_or_else(|| OCI_MANIFEST.to_string()), bytes);
        d.artifact_type = field("artifactType");
        self.manifests.lock().unwrap().insert(digest, bytes.to_vec());
        d
    }

    /// Mount a blob from another repository of the same registry. False when the registry declined.
    pub fn mount(&self, d: &Descriptor, from_repository: &str) -> Result<bool> {
        let target = self.reference(None, Some(&d.digest));
        let source = Reference::with_digest(self.registry.clone(), from_repository.to_string(), d.digest.clone());
        let ok = self.rt.block_on(async {
            self.client.store_auth_if_needed(&self.registry, &self.auth).await;
            self.client.mount_blob(&target, &source, &d.digest).await.is_ok()
        });
        Ok(ok)
    }

    /// Every tag in the repository (distribution ignores `n`, so one call lists them all).
    pub fn list_tags(&self) -> Result<Vec<String>> {
        let r = self.reference(Some("latest"), None);
        let resp = self.call_opt("list tags", || self.client.list_tags(&r, &self.auth, None, None))?;
        Ok(resp.map(|t| t.tags).unwrap_or_default())
    }
}

/// The target of a `Link: <url>; rel="next"` header.
fn next_link(h: &str) -> Option<String> {
    h.split(',').find(|p| p.contains("rel=\"next\"") || p.contains("rel=next")).and_then(|p| {
        let start = p.find('<')? + 1;
        let end = p.find('>')?;
        Some(p[start..end].to_string())
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

impl Store for Registry {
    fn describe(&self) -> String {
        self.name()
    }

    fn resolve(&self, tag: Option<&str>) -> Result<Descriptor> {
        let Some(t) = tag else {
            bail!("{}: name a tag or a digest ({}:TAG or {}@sha256:…)", self.name(), self.name(), self.name());
        };
        self.fetch_tag(t)?
            .ok_or_else(|| anyhow!("{}: no tag `{t}`; run `bundle history {}` to list the releases", self.name(), self.name()))
    }

    fn blob(&self, d: &Descriptor) -> Result<Vec<u8>> {
        if MANIFEST_TYPES.contains(&d.media_type.as_str()) {
            return self.manifest_bytes(d);
        }
        self.rt.block_on(self.fetch_blob(d))
    }

    fn blobs(&self, ds: &[&Descriptor]) -> Vec<Result<Vec<u8>>> {
        if ds.iter().any(|d| MANIFEST_TYPES.contains(&d.media_type.as_str())) {
            return ds.iter().map(|d| self.blob(d)).collect();
        }
        // At most DOWNLOAD_CONCURRENCY at a time, results in the order asked, each with its own retries.
        use futures_util::StreamExt;
        self.rt.block_on(futures_util::stream::iter(ds.iter().map(|d| self.fetch_blob(d))).buffered(DOWNLOAD_CONCURRENCY).collect())
    }

    fn blob_reader(&self, d: &Descriptor) -> Result<Box<dyn std::io::Read + Send + '_>> {
        if MANIFEST_TYPES.contains(&d.media_type.as_str()) {
            return Ok(Box::new(std::io::Cursor::new(self.manifest_bytes(d)?)));
        }
        Ok(Box::new(self.rt.block_on(self.spool_blob(d))?))
    }

    fn blob_readers(&self, ds: &[&Descriptor]) -> Vec<Result<Box<dyn std::io::Read + Send + '_>>> {
        if ds.iter().any(|d| MANIFEST_TYPES.contains(&d.media_type.as_str())) {
            return ds.iter().map(|d| self.blob_reader(d)).collect();
        }
        use futures_util::StreamExt;
        let files: Vec<Result<std::fs::File>> =
            self.rt.block_on(futures_util::stream::iter(ds.iter().map(|d| self.spool_blob(d))).buffered(DOWNLOAD_CONCURRENCY).collect());
        files.into_iter().map(|f| f.map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)).collect()
    }

    fn as_registry(&self) -> Option<&Registry> {
        Some(self)
    }

    fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        let r = self.reference(None, Some(&d.digest));
        self.call(&format!("check blob {}", d.digest), || async {
            self.client.store_auth_if_needed(&self.registry, &self.auth).await;
            self.client.blob_exists(&r, &d.digest).await
        })
    }

    /// A HEAD by digest (nothing is downloaded); a manifest this process pushed or read here is known.
    fn has_manifest(&self, digest: &str) -> Result<bool> {
        if self.manifests.lock().unwrap().contains_key(digest) {
            return Ok(true);
        }
        self.head_manifest(digest)
    }

    fn put_blob(&self, d: &Descriptor, bytes: &[u8]) -> Result<bool> {
        // The caller checked `has_blob`; a second HEAD here would double the round trips.
        let r = self.reference(None, Some(&d.digest));
        let data = bytes::Bytes::copy_from_slice(bytes);
        self.call(&format!("upload blob {}", d.digest), || async {
            self.client.store_auth_if_needed(&self.registry, &self.auth).await;
            self.client.push_blob(&r, data.clone(), &d.digest).await
        })?;
        Ok(true)
    }

    /// Upload several blobs, at most [`UPLOAD_CONCURRENCY`] at a time, each with its own retries.
    fn put_blobs(&self, blobs: &[(&Descriptor, bytes::Bytes)]) -> Result<()> {
        use futures_util::{StreamExt, TryStreamExt};
        self.rt.block_on(async {
            self.client.store_auth_if_needed(&self.registry, &self.auth).await;
            futures_util::stream::iter(blobs.iter().map(|(d, data)| async move {
                let r = self.reference(None, Some(&d.digest));
                self.retry(&format!("upload blob {}", d.digest), || self.client.push_blob(&r, data.clone(), &d.digest)).await
            }))
            .buffer_unordered(UPLOAD_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await
            .map(|_| ())
        })
    }

    fn put_manifest(&self, d: &Descriptor, bytes: &[u8]) -> Result<()> {
        let r = self.reference(None, Some(&d.digest));
        let ct: http::HeaderValue = d.media_type.parse().context("bad media type")?;
        let data = bytes::Bytes::copy_from_slice(bytes);
        self.call(&format!("upload manifest {}", d.digest), || async {
            self.client.store_auth_if_needed(&self.registry, &self.auth).await;
            self.client.push_manifest_raw(&r, data.clone(), ct.clone()).await
        })?;
        self.manifests.lock().unwrap().insert(d.digest.clone(), bytes.to_vec());
        Ok(())
    }

    fn tag(&self, tag: &str, d: &Descriptor, retag: bool) -> Result<TagOutcome> {
        let old = self.head_tag(tag)?;
        let outcome = match old {
            Some(o) if o == d.digest => return Ok(TagOutcome::Unchanged),
            Some(o) if !retag => {
                return Err(crate::error::finding(format!(
                    "{}: tag `{tag}` already names {o}; refusing to point it at {} (release tags are immutable; pass --retag to move it anyway)",
                    self.name(),
                    d.digest
                )));
            }
            Some(o) => TagOutcome::Moved(o),
            None => TagOutcome::Created,
        };
        let bytes = self.manifest_bytes(d)?;
        let r = self.reference(Some(tag), None);
        let ct: http::HeaderValue = d.media_type.parse().context("bad media type")?;
        let data = bytes::Bytes::from(bytes);
        self.call(&format!("set tag {tag}"), || async {
            self.client.store_auth_if_needed(&self.registry, &self.auth).await;
            self.client.push_manifest_raw(&r, data.clone(), ct.clone()).await
        })?;
        // The registry's own digest for the tag must be ours.
        match self.head_tag(tag)? {
            Some(got) if got == d.digest => Ok(outcome),
            Some(got) => bail!("{}: after tagging `{tag}` the registry reports {got}, not {}", self.name(), d.digest),
            None => bail!("{}: tag `{tag}` is missing right after it was set", self.name()),
        }
    }

    fn resolve_digest(&self, digest: &str) -> Result<Descriptor> {
        self.describe_ref(None, Some(digest))?.ok_or_else(|| anyhow!("{}: no manifest {digest}", self.name()))
    }

    fn find_tag(&self, tag: &str) -> Result<Option<Descriptor>> {
        self.fetch_tag(tag)
    }

    fn tag_names(&self) -> Result<Vec<String>> {
        self.list_tags()
    }

    fn referrers(&self, digest: &str) -> Result<Vec<super::referrers::Listed>> {
        let place = format!("{} (referrers API)", self.name());
        let (_, listed) = self.referrers_api(digest)?;
        Ok(listed.unwrap_or_default().into_iter().map(|desc| super::referrers::Listed { desc, place: place.clone() }).collect())
    }

    /// With the referrers API the registry lists the pushed manifest itself (checked: when it
    /// does not, the referrers tag is written as well); without it, the referrers tag.
    fn add_referrer(&self, subject: &str, referrer: &Descriptor) -> Result<bool> {
        let (has_api, _) = self.referrers_api(subject)?;
        if has_api && self.referrers_api_list(subject)?.is_some_and(|l| l.iter().any(|d| d.digest == referrer.digest)) {
            return Ok(true);
        }
        super::referrers::append_fallback(self, subject, referrer)
    }

    fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        let mut out = Vec::new();
        for t in self.list_tags()? {
            if let Some(d) = self.fetch_tag(&t)? {
                out.push((t, d));
            }
        }
        Ok(out)
    }
}

/// Bytes of a blob on their way from one registry to another, or why the fetch stopped.
type Piece = std::result::Result<bytes::Bytes, FetchError>;

/// Why a streamed fetch stopped: the transport (retried), or bytes that are not the blob's
/// (a wrong digest, or more bytes than the descriptor's size): never retried.
enum FetchError {
    Transport(OciDistributionError),
    Mismatch(String),
}

impl From<OciDistributionError> for FetchError {
    fn from(e: OciDistributionError) -> FetchError {
        FetchError::Transport(e)
    }
}

/// The sha256 the transport found for a body that does not match its digest, when `e` says so.
fn digest_mismatch(e: &std::io::Error) -> Option<String> {
    match e.get_ref()?.downcast_ref::<oci_client::errors::DigestError>()? {
        oci_client::errors::DigestError::VerificationError { actual, .. } => Some(actual.clone()),
        _ => None,
    }
}

/// One attempt's request to the fetching side: stream this blob into this channel.
struct Feed {
    d: Descriptor,
    tx: tokio::sync::mpsc::Sender<Piece>,
}

/// Why one streamed attempt failed: at the source (fetch), the source's bytes are not the blob
/// (never retried), or at the destination (upload).
enum Failed {
    Fetch(OciDistributionError),
    Mismatch(String),
    Upload(OciDistributionError),
}

impl Registry {
    /// Copy blobs this registry lacks from another registry, each streamed: the source's GET
    /// body is forwarded chunk by chunk as the body of a monolithic upload (`PUT …?digest=`), at
    /// most [`STREAM_CONCURRENCY`] blobs at once. The source's bytes are hashed on the way and
    /// capped at the descriptor's size ([`Registry::feed`]); the last chunk is held back until
    /// the digest and size are known to match, so a wrong blob fails the upload before its last
    /// byte (nothing is committed) and fails the copy at once, naming the blob and the source,
    /// without retries. A failed transfer (either side) restarts that blob from its first byte.
    /// Memory holds a few chunks per blob in flight, whatever the blob sizes.
    pub fn stream_blobs_from(&self, src: &Registry, blobs: &[&Descriptor]) -> Result<()> {
        for d in blobs {
            crate::oci::check_claim(&src.name(), d)?;
            if !crate::reference::is_sha256_digest(&d.digest) {
                return Err(crate::error::finding(format!("{}: blob digest `{}` is not sha256", src.name(), d.digest)));
            }
        }
        if blobs.is_empty() {
            return Ok(());
        }
        // The source's connections live on its own runtime: a thread drives its fetches.
        let (req_tx, req_rx) = tokio::sync::mpsc::unbounded_channel::<Feed>();
        std::thread::scope(|s| {
            s.spawn(move || src.rt.block_on(src.serve_feeds(req_rx)));
            let out = self.rt.block_on(async {
                use futures_util::{StreamExt, TryStreamExt};
                self.client.store_auth_if_needed(&self.registry, &self.auth).await;
                futures_util::stream::iter(blobs.iter().map(|d| self.stream_one(src, d, &req_tx)))
                    .buffer_unordered(STREAM_CONCURRENCY)
                    .try_collect::<Vec<_>>()
                    .await
                    .map(|_| ())
            });
            drop(req_tx); // ends the fetching thread
            out
        })
    }

    /// Answer fetch requests until every sender is gone, each fetch concurrently.
    async fn serve_feeds(&self, rx: tokio::sync::mpsc::UnboundedReceiver<Feed>) {
        use futures_util::StreamExt;
        self.client.store_auth_if_needed(&self.registry, &self.auth).await;
        let feeds = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
        feeds.for_each_concurrent(None, |f| self.feed(f)).await;
    }

    /// Stream one blob into its channel, then an error if the fetch failed. The transport
    /// (oci-client's verifying stream) hashes every byte and reports a digest mismatch after the
    /// last one; so each chunk is sent only when the next has arrived, and the last only when the
    /// body ended with the descriptor's size and digest: the upload never receives a wrong blob
    /// whole. Bytes over the size, or a wrong digest, are a [`FetchError::Mismatch`].
    async fn feed(&self, f: Feed) {
        use futures_util::StreamExt;
        let r = self.reference(None, Some(&f.d.digest));
        let layer = oci_client::manifest::OciDescriptor {
            media_type: f.d.media_type.clone(),
            digest: f.d.digest.clone(),
            size: f.d.size as i64,
            ..Default::default()
        };
        let cap = f.d.size;
        let sent = async {
            let mut s = self.client.pull_blob_stream(&r, &layer).await?;
            let mut n = 0u64;
            let mut held: Option<bytes::Bytes> = None;
            while let Some(item) = s.stream.next().await {
                let chunk = match item {
                    Ok(c) => c,
                    // A whole body with a wrong digest; a short one may be a cut connection.
                    // (A right body under a wrong Docker-Content-Digest header is not a mismatch
                    // of the bytes: it stays a fetch error, retried.)
                    Err(e) if n == cap && digest_mismatch(&e).is_some_and(|got| got != f.d.digest) => {
                        let got = digest_mismatch(&e).unwrap_or_default();
                        return Err(FetchError::Mismatch(format!("its {n} bytes have the digest {got}")));
                    }
                    Err(e) => return Err(OciDistributionError::from(e).into()),
                };
                n += chunk.len() as u64;
                if n > cap {
                    return Err(FetchError::Mismatch(format!("it has more bytes than its descriptor's {cap}")));
                }
                if let Some(prev) = held.replace(chunk)
                    && f.tx.send(Ok(prev)).await.is_err()
                {
                    return Ok(()); // the upload gave up
                }
            }
            if n != cap {
                return Err(OciDistributionError::GenericError(Some(format!("blob has {n} bytes, its descriptor says {cap}"))).into());
            }
            // The body ended and the transport found its digest right: the last bytes may go.
            if let Some(last) = held {
                let _ = f.tx.send(Ok(last)).await;
            }
            Ok(())
        };
        if let Err(e) = sent.await {
            let _ = f.tx.send(Err(e)).await;
        }
    }

    /// Stream one blob from `src`, with bounded retries; each attempt starts afresh at both ends.
    async fn stream_one(&self, src: &Registry, d: &Descriptor, req: &tokio::sync::mpsc::UnboundedSender<Feed>) -> Result<()> {
        let mut attempt = 0;
        loop {
            let e = match self.stream_attempt(d, req).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let (inner, at_source) = match e {
                Failed::Fetch(x) => (x, true),
                Failed::Upload(x) => (x, false),
                Failed::Mismatch(why) => {
                    return Err(crate::error::finding(format!(
                        "{}: fetch blob {} (to copy to {}): the source serves other content: {why}; nothing was uploaded",
                        src.name(),
                        d.digest,
                        self.name()
                    )));
                }
            };
            if attempt + 1 < MAX_ATTEMPTS && retryable(&inner) {
                let wait = backoff(attempt);
                if self.verbose {
                    let side = if at_source { format!("fetch from {}", src.registry) } else { "upload".into() };
                    eprintln!(
                        "registry {}: copy blob {}: attempt {} failed ({side}: {inner}); retrying in {} ms",
                        self.registry,
                        d.digest,
                        attempt + 1,
                        wait.as_millis()
                    );
                }
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(match at_source {
                true => src.explain(&format!("fetch blob {}", d.digest), inner, attempt + 1),
                false => self.explain(&format!("upload blob {}", d.digest), inner, attempt + 1),
            });
        }
    }

    /// One attempt: ask the source for the blob and upload what arrives. A fetch error is
    /// reported as such (the upload only sees its body end early).
    async fn stream_attempt(&self, d: &Descriptor, req: &tokio::sync::mpsc::UnboundedSender<Feed>) -> std::result::Result<(), Failed> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(STREAM_CHUNKS);
        let gone = || Failed::Fetch(OciDistributionError::GenericError(Some("the fetching side stopped".into())));
        req.send(Feed { d: d.clone(), tx }).map_err(|_| gone())?;
        let fetch_error = std::sync::Arc::new(Mutex::new(None::<FetchError>));
        let slot = fetch_error.clone();
        let body = futures_util::stream::unfold(rx, move |mut rx| {
            let slot = slot.clone();
            async move {
                match rx.recv().await? {
                    Ok(chunk) => Some((Ok(chunk), rx)),
                    Err(e) => {
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        Some((Err(OciDistributionError::GenericError(Some("the source's body failed".into()))), rx))
                    }
                }
            }
        });
        let r = self.reference(None, Some(&d.digest));
        let pushed = self.client.push_blob_stream(&r, body, &d.digest, Some(d.size)).await;
        match fetch_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(FetchError::Transport(e)) => return Err(Failed::Fetch(e)),
            Some(FetchError::Mismatch(why)) => return Err(Failed::Mismatch(why)),
            None => {}
        }
        pushed.map(|_| ()).map_err(Failed::Upload)
    }
}

/// Where a fetched blob is written: memory or a temporary file, emptied at each attempt.
trait Spool: std::io::Write + Send {
    fn restart(&mut self) -> std::io::Result<()>;
}

impl Spool for std::io::Cursor<Vec<u8>> {
    fn restart(&mut self) -> std::io::Result<()> {
        self.get_mut().clear();
        self.set_position(0);
        Ok(())
    }
}

impl Spool for std::fs::File {
    fn restart(&mut self) -> std::io::Result<()> {
        self.set_len(0)?;
        std::io::Seek::rewind(self)
    }
}

#[cfg(test)]
mod probe_tests {
    #[test]
    fn probe_ca_builds_a_client() {
        let cfg = oci_client::client::ClientConfig { tls_certs_only: vec![super::probe_ca()], ..Default::default() };
        if let Err(e) = oci_client::Client::try_from(cfg) {
            panic!("{e:?}");
        }
    }
}
