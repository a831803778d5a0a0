//! DVC remotes: where pinned objects live, and how to ask them. One file per kind (`local`, `s3`,
//! `azure`, `http`, `gcs`) behind one [`Remote`]; the cloud kinds go through Apache Arrow's
//! `object_store` crate.
//!
//! The configuration is read as DVC reads it: `.dvc/config`, then `.dvc/config.local` (where DVC
//! keeps credentials) over it; `core.remote` names the default and an output's `remote:` field
//! overrides it. Objects use DVC 3's layout `files/md5/<2>/<30>` and DVC 2's `<2>/<30>`.
//!
//! Credentials are read from the places each ecosystem uses and never printed: every message that
//! leaves this module names the remote and its URL through [`crate::redact`].

mod azure;
mod gcs;
mod http;
mod local;
mod s3;

use crate::hashing::Md5Kind;
use crate::redact;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How many requests are in flight at once against one remote.
pub const CONCURRENCY: usize = 64;
/// A `files/md5/<2>/` folder holding at least this many of the objects asked for is listed
/// (one request per 1,000 names) instead of asked object by object.
const LIST_THRESHOLD: usize = 8;

/// DVC's configuration of one project: every remote and the default one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DvcConfig {
    pub remotes: BTreeMap<String, RemoteConfig>,
    /// `core.remote`.
    pub default: Option<String>,
    /// `cache.dir`, as written.
    pub cache_dir: Option<String>,
}

/// One `['remote "NAME"']` section (config.local's values over config's).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteConfig {
    pub name: String,
    pub url: String,
    /// Every other key of the section (`endpointurl`, `region`, `account_name`, `user`, …).
    pub options: BTreeMap<String, String>,
    /// The `.dvc` folder: relative local URLs are relative to it.
    pub dvc_dir: PathBuf,
}

/// What kind of remote a URL names.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Local(PathBuf),
    S3,
    Azure,
    Http,
    Gcs,
    /// A scheme relbundle does not speak (ssh://, hdfs://, webdav://, oss://, …).
    Unsupported(String),
}

impl RemoteConfig {
    pub fn kind(&self) -> Kind {
        let url = self.url.as_str();
        match url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()) {
            None => {
                let p = Path::new(url);
                Kind::Local(if p.is_absolute() { p.to_path_buf() } else { self.dvc_dir.join(p) })
            }
            Some(s) if s == "file" => Kind::Local(PathBuf::from(&url["file://".len()..])),
            Some(s) if s == "s3" => Kind::S3,
            Some(s) if s == "azure" => Kind::Azure,
            Some(s) if s == "http" || s == "https" => Kind::Http,
            Some(s) if s == "gs" || s == "gcs" => Kind::Gcs,
            Some(s) => Kind::Unsupported(s),
        }
    }

    /// `remote `NAME` (URL)`, the URL without userinfo or secret query values.
    pub fn describe(&self) -> String {
        format!("remote `{}` ({})", self.name, redact::url(&self.url))
    }

    pub fn opt(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(|s| s.as_str()).filter(|s| !s.is_empty())
    }

    /// `true`/`false` options as DVC's config schema reads them.
    fn flag(&self, key: &str) -> Option<bool> {
        self.opt(key).map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"))
    }

    /// What the release record keeps: the name, the URL without secrets, and the non-secret
    /// settings a deployment needs to reach the same objects (S3 endpoint and region, Azure account).
    pub fn record(&self) -> crate::release::ModelRemote {
        crate::release::ModelRemote {
            name: self.name.clone(),
            url: redact::url(&self.url),
            endpoint: self.opt("endpointurl").map(redact::url),
            region: self.opt("region").map(String::from),
            account: self.opt("account_name").map(String::from),
        }
    }

    /// The settings of a recorded remote (for `pull --models`, where there is no DVC project).
    pub fn from_record(r: &crate::release::ModelRemote) -> RemoteConfig {
        let mut options = BTreeMap::new();
        for (k, v) in [("endpointurl", &r.endpoint), ("region", &r.region), ("account_name", &r.account)] {
            if let Some(v) = v {
                options.insert(k.to_string(), v.clone());
            }
        }
        RemoteConfig { name: r.name.clone(), url: r.url.clone(), options, dvc_dir: PathBuf::from(".") }
    }
}

/// Read `.dvc/config` and `.dvc/config.local` (whose values win), as DVC merges them.
pub fn read_config(dvc_dir: &Path) -> DvcConfig {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in ["config", "config.local"] {
        for (sec, kv) in read_ini(&dvc_dir.join(f)) {
            sections.entry(sec).or_default().extend(kv);
        }
    }
    let mut cfg = DvcConfig {
        default: sections.get("core").and_then(|c| c.get("remote")).cloned().filter(|s| !s.is_empty()),
        cache_dir: sections.get("cache").and_then(|c| c.get("dir")).cloned(),
        ..Default::default()
    };
    for (sec, mut kv) in sections {
        let Some(name) = sec.strip_prefix("remote").map(str::trim).and_then(|n| n.strip_prefix('"')).and_then(|n| n.strip_suffix('"'))
        else {
            continue;
        };
        let url = kv.remove("url").unwrap_or_default();
        cfg.remotes.insert(name.to_string(), RemoteConfig { name: name.to_string(), url, options: kv, dvc_dir: dvc_dir.to_path_buf() });
    }
    cfg
}

/// DVC's configobj-style INI: `[section]` / `['remote "name"']` headers and `key = value` lines.
pub fn read_ini(path: &Path) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return out;
    };
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(h) = l.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let h = h.trim();
            let h = h.strip_prefix('\'').and_then(|h| h.strip_suffix('\'')).unwrap_or(h);
            out.push((h.trim().to_string(), BTreeMap::new()));
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            let v = v.trim();
            let v = [('\'', '\''), ('"', '"')].iter().find_map(|(a, b)| v.strip_prefix(*a).and_then(|v| v.strip_suffix(*b))).unwrap_or(v);
            if out.is_empty() {
                out.push((String::new(), BTreeMap::new()));
            }
            out.last_mut().expect("pushed above").1.insert(k.trim().to_string(), v.to_string());
        }
    }
    out
}

/// Where an object lives below a remote's root: DVC 3 `files/md5/<2>/<30>`, DVC 2 `<2>/<30>`.
pub fn object_key(md5: &str, kind: Md5Kind) -> String {
    let (a, b) = md5.split_at(2);
    match kind {
        Md5Kind::Plain => format!("files/md5/{a}/{b}"),
        Md5Kind::Dos2Unix => format!("{a}/{b}"),
    }
}

/// Why a remote could not be asked. The text names the remote and never holds a credential.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// relbundle does not check this kind of remote (the reason says why).
    NotChecked(String),
    /// The remote did not answer, or answered with an error.
    Unreachable(String),
    /// The remote refused the credentials (or their absence).
    Unauthorised(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotChecked(s) => write!(f, "not checked: {s}"),
            Failure::Unreachable(s) => write!(f, "unreachable: {s}"),
            Failure::Unauthorised(s) => write!(f, "unauthorised: {s}"),
        }
    }
}

/// Timeouts and retries for one purpose.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub connect: Duration,
    /// Per request (a whole download counts as one request), `None` for no limit.
    pub request: Option<Duration>,
    pub retries: usize,
}

impl Patience {
    /// Presence checks: small requests; a remote that does not answer soon is reported.
    pub fn check() -> Patience {
        Patience { connect: Duration::from_secs(5), request: Some(Duration::from_secs(30)), retries: 2 }
    }
    /// Downloads: large bodies, more retries.
    pub fn download() -> Patience {
        Patience { connect: Duration::from_secs(10), request: None, retries: 4 }
    }

    fn client_options(&self) -> object_store::ClientOptions {
        let o = object_store::ClientOptions::new().with_connect_timeout(self.connect).with_pool_max_idle_per_host(CONCURRENCY);
        let o = match self.request {
            Some(t) => o.with_timeout(t),
            None => o.with_timeout_disabled(),
        };
        o.with_read_timeout(Duration::from_secs(60))
    }

    fn retry(&self) -> object_store::RetryConfig {
        let base = std::env::var("RELBUNDLE_RETRY_BASE_MS").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(100);
        object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(base),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: self.retries,
            retry_timeout: Duration::from_secs(120),
        }
    }
}

/// An opened remote.
pub struct Remote {
    pub config: RemoteConfig,
    inner: Inner,
}

enum Inner {
    Local(PathBuf),
    Store {
        store: Arc<dyn ObjectStore>,
        /// The remote's folder inside the bucket/container/site (no leading or trailing `/`).
        prefix: String,
        /// Whether listing a folder is possible (S3 and Azure; a plain web server cannot).
        list: bool,
        /// Said with a refusal: where credentials were looked for.
        credentials: String,
    },
}

/// A cloud remote's object store, from its kind's file.
pub(crate) struct Opened {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    list: bool,
    credentials: String,
}

impl Remote {
    /// Open a remote by its configuration (nothing is contacted yet).
    pub fn open(config: &RemoteConfig, p: Patience) -> Result<Remote, Failure> {
        let inner = match config.kind() {
            Kind::Local(dir) => Inner::Local(local::open(&dir)?),
            Kind::S3 => s3::open(config, p)?.into(),
            Kind::Azure => azure::open(config, p)?.into(),
            Kind::Http => http::open(config, p)?.into(),
            Kind::Gcs => return Err(gcs::reason(config)),
            Kind::Unsupported(s) => {
                return Err(Failure::NotChecked(format!(
                    "{}: relbundle does not speak `{s}://` remotes (it checks local, s3://, azure:// and http(s):// remotes); run `dvc status -c`",
                    config.describe()
                )));
            }
        };
        Ok(Remote { config: config.clone(), inner })
    }

    pub fn describe(&self) -> String {
        self.config.describe()
    }

    fn path(prefix: &str, key: &str) -> object_store::path::Path {
        if prefix.is_empty() { object_store::path::Path::from(key) } else { object_store::path::Path::from(format!("{prefix}/{key}")) }
    }

    /// Which of `keys` (from [`object_key`]) the remote holds, in order. Up to [`CONCURRENCY`]
    /// requests at a time; a folder holding many of them is listed instead.
    pub async fn exists(&self, keys: &[String]) -> Result<Vec<bool>, Failure> {
        let (store, prefix, list, credentials) = match &self.inner {
            Inner::Local(dir) => return Ok(keys.iter().map(|k| dir.join(k).is_file()).collect()),
            Inner::Store { store, prefix, list, credentials } => (store, prefix, list, credentials),
        };
        let fail = |e| self.failure(e, credentials);
        let mut found = vec![false; keys.len()];
        let mut rest: Vec<usize> = (0..keys.len()).collect();
        // Many objects in DVC 3's layout: one listing of the whole `files/md5/` tree when that
        // takes fewer requests than asking folder by folder or object by object.
        let plain: Vec<usize> = (0..keys.len()).filter(|&i| keys[i].starts_with("files/md5/")).collect();
        if *list && plain.len() > CONCURRENCY && self.whole_listing_pays(store, prefix, keys, &plain).await.map_err(fail)? {
            let names = Self::md5_names(store, prefix).await.map_err(fail)?;
            for &i in &plain {
                found[i] = names.contains(&keys[i]["files/md5/".len()..]);
            }
            rest.retain(|i| !keys[*i].starts_with("files/md5/"));
        }
        // The others: grouped by folder, the crowded folders listed, the rest asked.
        let mut by_dir: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for i in rest {
            by_dir.entry(keys[i].rsplit_once('/').map(|(d, _)| d).unwrap_or("")).or_default().push(i);
        }
        let (lists, heads): (Vec<_>, Vec<_>) = by_dir.into_iter().partition(|(_, idx)| *list && idx.len() >= LIST_THRESHOLD);
        for (idx, names) in Self::list_folders(store, prefix, lists).await {
            let names = names.map_err(fail)?;
            for i in idx {
                found[i] = names.contains(keys[i].rsplit('/').next().unwrap_or(""));
            }
        }
        let heads: Vec<usize> = heads.into_iter().flat_map(|(_, idx)| idx).collect();
        for (i, r) in Self::head_each(store, prefix, keys, heads).await {
            match r {
                Ok(_) => found[i] = true,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(fail(e)),
            }
        }
        Ok(found)
    }

    /// Whether one listing of `files/md5/` takes fewer requests than the alternatives: the
    /// remote's size estimated from one folder (as DVC does), 1,000 names a page.
    async fn whole_listing_pays(
        &self,
        store: &Arc<dyn ObjectStore>,
        prefix: &str,
        keys: &[String],
        plain: &[usize],
    ) -> Result<bool, object_store::Error> {
        let probe: Result<usize, object_store::Error> =
            store.list(Some(&Self::path(prefix, "files/md5/00"))).collect::<Vec<_>>().await.into_iter().map(|r| r.map(|_| 1)).sum();
        let per_dir = probe? + 1;
        let pages = |n: usize| n.div_ceil(1000);
        let whole = pages(per_dir * 256);
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in plain {
            *per.entry(keys[i].rsplit_once('/').map(|(d, _)| d).unwrap_or("")).or_default() += 1;
        }
        let crowded = per.values().filter(|&&n| n >= LIST_THRESHOLD).count();
        let sparse: usize = per.values().filter(|&&n| n < LIST_THRESHOLD).sum();
        Ok(whole < plain.len().min(crowded * pages(per_dir) + sparse))
    }

    /// Every name under `files/md5/`, as `ab/cdef…`.
    async fn md5_names(store: &Arc<dyn ObjectStore>, prefix: &str) -> Result<HashSet<String>, object_store::Error> {
        let base = Self::path(prefix, "files/md5");
        store
            .list(Some(&base))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(|r| {
                r.map(|m| {
                    m.location
                        .prefix_match(&base)
                        .map(|p| p.map(|x| x.as_ref().to_string()).collect::<Vec<_>>().join("/"))
                        .unwrap_or_default()
                })
            })
            .collect()
    }

    /// The file names in each folder, listed `CONCURRENCY` at a time, with the indexes asked there.
    async fn list_folders(
        store: &Arc<dyn ObjectStore>,
        prefix: &str,
        lists: Vec<(&str, Vec<usize>)>,
    ) -> Vec<(Vec<usize>, Result<HashSet<String>, object_store::Error>)> {
        futures_util::stream::iter(lists.into_iter().map(|(dir, idx)| {
            let store = store.clone();
            let p = Self::path(prefix, dir);
            async move {
                let names: Result<HashSet<String>, object_store::Error> = store
                    .list(Some(&p))
                    .map(|r| r.map(|m| m.location.filename().unwrap_or_default().to_string()))
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect();
                (idx, names)
            }
        }))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
    }

    /// One HEAD per object, `CONCURRENCY` at a time.
    async fn head_each(
        store: &Arc<dyn ObjectStore>,
        prefix: &str,
        keys: &[String],
        heads: Vec<usize>,
    ) -> Vec<(usize, Result<object_store::ObjectMeta, object_store::Error>)> {
        futures_util::stream::iter(heads.into_iter().map(|i| {
            let store = store.clone();
            let p = Self::path(prefix, &keys[i]);
            async move { (i, store.head(&p).await) }
        }))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
    }

    /// The bytes of a small object (a `.dir` listing); `None` when the remote does not hold it.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Failure> {
        match &self.inner {
            Inner::Local(dir) => match std::fs::read(dir.join(key)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Failure::Unreachable(format!("{}: {}: {e}", self.describe(), dir.join(key).display()))),
            },
            Inner::Store { store, prefix, credentials, .. } => match store.get(&Self::path(prefix, key)).await {
                Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())).map_err(|e| self.failure(e, credentials)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.failure(e, credentials)),
            },
        }
    }

    /// A stream of an object's bytes, for downloads; `Ok(None)` when the remote does not hold it.
    pub async fn stream(&self, key: &str) -> Result<Option<BoxStream<'static, Result<bytes::Bytes, String>>>, Failure> {
        match &self.inner {
            Inner::Local(dir) => {
                let p = dir.join(key);
                match std::fs::File::open(&p) {
                    Ok(f) => Ok(Some(local::stream(f, p))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Failure::Unreachable(format!("{}: {}: {e}", self.describe(), p.display()))),
                }
            }
            Inner::Store { store, prefix, credentials, .. } => match store.get(&Self::path(prefix, key)).await {
                Ok(r) => Ok(Some(r.into_stream().map(|c| c.map_err(|e| redact::text(&e.to_string()))).boxed())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.failure(e, credentials)),
            },
        }
    }

    /// Classify an object_store error, naming the remote and never a credential.
    fn failure(&self, e: object_store::Error, credentials: &str) -> Failure {
        let detail = short(&redact::text(&e.to_string()));
        match e {
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                Failure::Unauthorised(format!("{} refused the request ({detail}); check the credentials ({credentials})", self.describe()))
            }
            _ => Failure::Unreachable(format!("{}: {detail}", self.describe())),
        }
    }
}

impl From<Opened> for Inner {
    fn from(o: Opened) -> Inner {
        Inner::Store { store: o.store, prefix: o.prefix, list: o.list, credentials: o.credentials }
    }
}

/// The first lines of a long error chain, on one line.
fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 400 { format!("{}…", one.chars().take(400).collect::<String>()) } else { one }
}

/// A single-threaded async runtime for one command's remote work.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

/// The bucket (or container, or host) and the folder below it of `scheme://bucket/folder`.
pub(crate) fn split_url(url: &str) -> (String, String) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    (bucket.to_string(), path.trim_matches('/').to_string())
}

/// An environment variable, if set and not empty.
pub(crate) fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_local_wins_and_sections_are_read() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("config"),
            "[core]\n    remote = store\n['remote \"store\"']\n    url = s3://bucket/dvc\n    endpointurl = http://127.0.0.1:9000\n[remote \"web\"]\n    url = https://h/r\n",
        )
        .unwrap();
        std::fs::write(d.path().join("config.local"), "['remote \"store\"']\n    access_key_id = AKIA\n    region = 'eu-west-1'\n")
            .unwrap();
        let c = read_config(d.path());
        assert_eq!(c.default.as_deref(), Some("store"));
        let s = &c.remotes["store"];
        assert_eq!(s.kind(), Kind::S3);
        assert_eq!(s.opt("access_key_id"), Some("AKIA"));
        assert_eq!(s.opt("region"), Some("eu-west-1"));
        assert_eq!(s.opt("endpointurl"), Some("http://127.0.0.1:9000"));
        assert_eq!(c.remotes["web"].kind(), Kind::Http);
        assert_eq!(object_key("0123456789abcdef0123456789abcdef", Md5Kind::Plain), "files/md5/01/23456789abcdef0123456789abcdef");
        assert_eq!(object_key("0123456789abcdef0123456789abcdef.dir", Md5Kind::Dos2Unix), "01/23456789abcdef0123456789abcdef.dir");
        assert_eq!(split_url("azure://container/a/b/"), ("container".into(), "a/b".into()));
    }
}
