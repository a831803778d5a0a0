//! `pull --models`: fetch every pinned model file of a release from its DVC remote, streaming,
//! checking DVC's md5 (and the record's sha256 where it has one) of every file, and writing each
//! one atomically (a temp file in its final folder, renamed only once verified; nothing is left on
//! a mismatch). A file already in place with the pinned digests is not fetched again, so a pull
//! that was cut short resumes.

use crate::hashing::{self, Md5Kind};
use crate::release::{ComponentRecord, ModelRecord, Release};
use crate::remotes::{self, Failure, Patience, Remote, RemoteConfig};
use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many files are fetched at once.
const PARALLEL: usize = 8;
/// Attempts per file (each after a failed or damaged transfer).
const ATTEMPTS: usize = 4;

/// One file to put in place.
struct Job {
    /// Relative to the output folder (the model's path in the monorepo, then the file in it).
    rel: String,
    key: String,
    md5: String,
    kind: Md5Kind,
    sha256: Option<String>,
    size: Option<u64>,
    remote: usize,
}

/// What a pull did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub models: usize,
    pub files: Vec<String>,
    pub fetched: usize,
    pub fetched_bytes: u64,
    /// Files already in place with the pinned digests.
    pub kept: usize,
}

/// Fetch the models of `comps` into `out`. `remote_url` replaces every recorded remote's URL (a
/// mirror, or a local folder).
pub fn models(record: &Release, comps: &[&ComponentRecord], out: &Path, remote_url: Option<&str>) -> Result<Summary> {
    let rt = remotes::runtime()?;
    let mut remotes: Vec<Remote> = Vec::new();
    let mut by_config: BTreeMap<String, usize> = BTreeMap::new();
    let mut jobs: Vec<Job> = Vec::new();
    let mut summary = Summary::default();
    for c in comps {
        for m in c.models.iter().filter(|m| m.cache) {
            summary.models += 1;
            let cfg = remote_of(record, c, m, remote_url)?;
            let key = format!("{:?}", (&cfg.name, &cfg.url, &cfg.options));
            let idx = match by_config.get(&key) {
                Some(i) => *i,
                None => {
                    let r = Remote::open(&cfg, Patience::download()).map_err(|f| anyhow!("model `{}` ({}): {f}", m.name, m.path))?;
                    remotes.push(r);
                    by_config.insert(key, remotes.len() - 1);
                    remotes.len() - 1
                }
            };
            jobs.extend(model_jobs(&rt, &remotes[idx], idx, c, m)?);
        }
    }
    // Check every target before writing anything: plain relative paths, no symlink on the way.
    for j in &jobs {
        crate::paths::check_relative(&j.rel).with_context(|| format!("release record: model file `{}`", j.rel))?;
        crate::extract::check_target(out, &j.rel)?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    // Files already in place and verified are kept (a resumed pull).
    let mut todo = Vec::new();
    for j in jobs {
        summary.files.push(j.rel.clone());
        let target = out.join(&j.rel);
        if target.is_file() && verified_in_place(&target, &j)? {
            summary.kept += 1;
        } else {
            todo.push(j);
        }
    }
    let results: Vec<Result<u64>> = rt.block_on(
        futures_util::stream::iter(todo.iter().map(|j| fetch_one(&remotes[j.remote], j, out))).buffer_unordered(PARALLEL).collect(),
    );
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(n) => {
                summary.fetched += 1;
                summary.fetched_bytes += n;
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !errors.is_empty() {
        errors.sort();
        bail!(
            "{} of {} model file(s) could not be fetched (the others are in place and verified; run the same pull again to resume):{}",
            errors.len(),
            summary.files.len(),
            crate::yaml::list_lines(&errors, 10)
        );
    }
    Ok(summary)
}

/// The remote a model comes from: the recorded one, or `--dvc-remote URL`.
fn remote_of(record: &Release, c: &ComponentRecord, m: &ModelRecord, url: Option<&str>) -> Result<RemoteConfig> {
    match (url, &m.remote) {
        (Some(u), Some(r)) => {
            let mut cfg = RemoteConfig::from_record(r);
            cfg.url = u.to_string();
            cfg.dvc_dir = std::env::current_dir().unwrap_or_default();
            Ok(cfg)
        }
        (Some(u), None) => Ok(RemoteConfig {
            name: "--dvc-remote".into(),
            url: u.to_string(),
            options: Default::default(),
            dvc_dir: std::env::current_dir().unwrap_or_default(),
        }),
        (None, Some(r)) => Ok(RemoteConfig::from_record(r)),
        (None, None) => bail!(
            "model `{}` of component `{}` ({} {}) names no cloud remote: the release was built with a local or no DVC remote; pass --dvc-remote URL",
            m.name,
            c.name,
            record.name,
            record.version
        ),
    }
}

/// The files of one model: itself, or every entry of its `.dir` listing (from the record; from
/// the remote, checked against the pinned md5, when the record has none).
fn model_jobs(rt: &tokio::runtime::Runtime, remote: &Remote, idx: usize, c: &ComponentRecord, m: &ModelRecord) -> Result<Vec<Job>> {
    let kind = match m.hash.as_str() {
        "md5" => Md5Kind::Plain,
        "md5-dos2unix" => Md5Kind::Dos2Unix,
        h => bail!("release record: model `{}` has hash `{h}`; expected md5 or md5-dos2unix", m.name),
    };
    let Some(hex) = m.md5.strip_suffix(".dir") else {
        return Ok(vec![Job {
            rel: m.path.clone(),
            key: remotes::object_key(&m.md5, kind),
            md5: m.md5.clone(),
            kind,
            sha256: m.sha256.clone(),
            size: Some(m.size),
            remote: idx,
        }]);
    };
    let files: Vec<crate::release::ModelFile> = match &m.files {
        Some(f) => f.clone(),
        None => {
            let key = remotes::object_key(&m.md5, kind);
            let bytes = rt
                .block_on(remote.get(&key))
                .map_err(|f| anyhow!("model `{}` of component `{}`: {f}", m.name, c.name))?
                .ok_or_else(|| anyhow!("model `{}`: its listing {key} is not on {}", m.name, remote.describe()))?;
            if hashing::md5_hex(&bytes) != hex {
                bail!("model `{}`: the listing {key} on {} does not hash to its pinned name {}", m.name, remote.describe(), m.md5);
            }
            crate::dvc::parse_dir_listing(&bytes, &format!("{} {key}", remote.describe()))?
                .into_iter()
                .map(|d| crate::release::ModelFile { relpath: d.relpath, md5: d.md5, sha256: None, size: None })
                .collect()
        }
    };
    Ok(files
        .into_iter()
        .map(|f| Job {
            rel: format!("{}/{}", m.path, f.relpath),
            key: remotes::object_key(&f.md5, kind),
            md5: f.md5,
            kind,
            sha256: f.sha256,
            size: f.size,
            remote: idx,
        })
        .collect())
}

fn verified_in_place(target: &Path, j: &Job) -> Result<bool> {
    let meta = std::fs::symlink_metadata(target).with_context(|| format!("{}: cannot read", target.display()))?;
    if !meta.is_file() || j.size.is_some_and(|s| s != meta.len()) {
        return Ok(false);
    }
    let d = hashing::hash_file(target, j.kind, &|_| {})?;
    Ok(d.md5 == j.md5 && j.sha256.as_ref().is_none_or(|s| s.trim_start_matches("sha256:") == d.sha256))
}

/// Fetch one file, retrying a failed or damaged transfer; the target appears only when verified.
async fn fetch_one(remote: &Remote, j: &Job, out: &Path) -> Result<u64> {
    let target = out.join(&j.rel);
    let parent = target.parent().expect("below out").to_path_buf();
    std::fs::create_dir_all(&parent).with_context(|| format!("{}: cannot create", parent.display()))?;
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            let base = std::env::var("RELBUNDLE_RETRY_BASE_MS").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(200);
            tokio::time::sleep(std::time::Duration::from_millis((base << attempt).min(5000))).await;
        }
        match try_fetch(remote, j, &parent, &target).await {
            Ok(n) => return Ok(n),
            Err(Attempt::Final(e)) => return Err(e),
            Err(Attempt::Retry(e)) => last = e,
        }
    }
    bail!("{}: {last} (gave up after {ATTEMPTS} attempts)", j.rel)
}

enum Attempt {
    Retry(String),
    Final(anyhow::Error),
}

async fn try_fetch(remote: &Remote, j: &Job, parent: &Path, target: &PathBuf) -> std::result::Result<u64, Attempt> {
    let stream = match remote.stream(&j.key).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Attempt::Final(anyhow!("{}: object {} is not on {}", j.rel, j.key, remote.describe()))),
        Err(f @ Failure::Unauthorised(_)) | Err(f @ Failure::NotChecked(_)) => return Err(Attempt::Final(anyhow!("{}: {f}", j.rel))),
        Err(f) => return Err(Attempt::Retry(f.to_string())),
    };
    let final_err = |e: std::io::Error| Attempt::Final(anyhow!("{}: cannot write: {e}", parent.display()));
    // Dropped (and so deleted) on every path that does not persist it.
    let mut tmp = tempfile::Builder::new().prefix(".bundle-part-").tempfile_in(parent).map_err(final_err)?;
    // Hashing and writing run on a thread of their own, so several files use several cores while
    // this (single-threaded) runtime keeps the transfers going.
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(16);
    let plain = j.kind == Md5Kind::Plain;
    let worker = std::thread::spawn(move || -> std::io::Result<(tempfile::NamedTempFile, String, String, u64)> {
        let (mut md5, mut sha, mut n) = (Md5::new(), Sha256::new(), 0u64);
        for chunk in rx {
            if plain {
                md5.update(&chunk);
            }
            sha.update(&chunk);
            n += chunk.len() as u64;
            tmp.write_all(&chunk)?;
        }
        tmp.flush()?;
        Ok((tmp, hashing::hex(&md5.finalize()), hashing::hex(&sha.finalize()), n))
    });
    let mut stream = stream;
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                if tx.send(c).is_err() {
                    break; // the worker stopped on a write error: it says which below
                }
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let (tmp, md5_hex, got_sha, n) =
        worker.join().map_err(|_| Attempt::Final(anyhow!("{}: the hashing thread failed", j.rel)))?.map_err(final_err)?;
    if let Some(e) = failed {
        return Err(Attempt::Retry(format!("transfer failed: {e}")));
    }
    if let Some(s) = j.size
        && s != n
    {
        return Err(Attempt::Retry(format!("received {n} bytes, the pin says {s}")));
    }
    let got_md5 = match j.kind {
        Md5Kind::Plain => md5_hex,
        // DVC 2's dos2unix rule needs the whole file's first block: hash the temp file by it.
        Md5Kind::Dos2Unix => {
            hashing::hash_file(tmp.path(), Md5Kind::Dos2Unix, &|_| {}).map_err(|e| Attempt::Final(anyhow!("{}: {e:#}", j.rel)))?.md5
        }
    };
    if got_md5 != j.md5 {
        return Err(Attempt::Retry(format!("{} bytes from {} hash to md5 {got_md5}, the pin is {}", n, remote.describe(), j.md5)));
    }
    if let Some(want) = &j.sha256
        && want.trim_start_matches("sha256:") != got_sha
    {
        return Err(Attempt::Retry(format!("sha256 {got_sha} differs from the record's {want}")));
    }
    tmp.as_file().sync_all().map_err(final_err)?;
    tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644)).map_err(final_err)?;
    tmp.persist(target).map_err(|e| Attempt::Final(anyhow!("{}: cannot write: {}", target.display(), e.error)))?;
    Ok(n)
}
