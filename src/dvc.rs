//! DVC facts: `.dvc` files, `dvc.yaml`/`dvc.lock` stages, `.dir` listings, the cache and local remotes,
//! and DVC's exact hashing rules (see `spec/README.md` § DVC and the tests in `tests/dvc.rs`).

use crate::hashing::{self, FileDigests, HashCache, Md5Kind};
use crate::paths;
use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One output (or dependency) entry, as DVC writes it in `.dvc` and `dvc.lock`.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub path: String,
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub nfiles: Option<u64>,
    /// `md5` for DVC 3; absent for DVC 2.x entries (md5-dos2unix).
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default = "yes")]
    pub cache: bool,
    #[serde(default)]
    pub isexec: Option<bool>,
    #[serde(default)]
    pub repo: Option<ImportRepo>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub desc: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImportRepo {
    pub url: String,
    #[serde(default)]
    pub rev_lock: Option<String>,
    #[serde(default)]
    pub rev: Option<String>,
}

/// A `.dvc` file: plain `dvc add` output, or `dvc import` / `dvc import-url`.
#[derive(Debug, Clone, Deserialize)]
pub struct DvcFile {
    #[serde(default)]
    pub outs: Vec<Entry>,
    #[serde(default)]
    pub deps: Vec<Entry>,
    #[serde(default)]
    pub frozen: Option<bool>,
    #[serde(default)]
    pub wdir: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LockFile {
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub stages: BTreeMap<String, LockStage>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LockStage {
    #[serde(default)]
    pub cmd: Option<serde_norway::Value>,
    #[serde(default)]
    pub deps: Vec<Entry>,
    #[serde(default)]
    pub outs: Vec<Entry>,
}

/// The parts of `dvc.yaml` we need: `wdir`, `cache: false` outputs, and `artifacts:`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PipelineFile {
    #[serde(default)]
    pub stages: BTreeMap<String, PipelineStage>,
    #[serde(default)]
    pub artifacts: BTreeMap<String, Artifact>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PipelineStage {
    #[serde(default)]
    pub wdir: Option<String>,
    #[serde(default)]
    pub outs: Vec<serde_norway::Value>,
    #[serde(default)]
    pub metrics: Vec<serde_norway::Value>,
    #[serde(default)]
    pub plots: Vec<serde_norway::Value>,
    /// Inputs of the stage (paths, relative to the stage's folder).
    #[serde(default)]
    pub deps: Vec<serde_norway::Value>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Artifact {
    pub path: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
}

impl PipelineStage {
    /// Output paths declared with `cache: false` (in outs, metrics or plots).
    pub fn uncached(&self) -> Vec<String> {
        let mut v = Vec::new();
        for o in self.outs.iter().chain(&self.metrics).chain(&self.plots) {
            if let serde_norway::Value::Mapping(m) = o {
                for (k, opts) in m {
                    let cache = opts.get("cache").and_then(|c| c.as_bool()).unwrap_or(true);
                    if let (Some(k), false) = (k.as_str(), cache) {
                        v.push(k.to_string());
                    }
                }
            }
        }
        v
    }
}

impl Entry {
    pub fn md5_kind(&self, file: &Path) -> Result<Md5Kind> {
        match self.hash.as_deref() {
            None => Ok(Md5Kind::Dos2Unix),
            Some("md5") => Ok(Md5Kind::Plain),
            Some(other) => bail!(
                "{}: output `{}`: unsupported hash `{other}`; relbundle reads DVC's `md5` (DVC 3) and legacy md5-dos2unix (no `hash:`) entries",
                file.display(),
                self.path
            ),
        }
    }

    /// Validate the md5 value (32 hex digits, `.dir` suffix for directories).
    pub fn checked_md5(&self, file: &Path) -> Result<(String, bool)> {
        let md5 = self.md5.as_deref().ok_or_else(|| {
            anyhow!("{}: output `{}` has no `md5`; run `dvc add`/`dvc repro` and commit the result", file.display(), self.path)
        })?;
        let (hex, is_dir) = match md5.strip_suffix(".dir") {
            Some(h) => (h, true),
            None => (md5, false),
        };
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            bail!("{}: output `{}`: `md5: {md5}` is not 32 lower-case hex digits", file.display(), self.path);
        }
        Ok((md5.to_string(), is_dir))
    }
}

/// Parse a `.dvc` file's text.
pub fn parse_dvc_file(text: &str, file: &Path) -> Result<DvcFile> {
    let f: DvcFile = crate::yaml::from_str(text, file)?;
    if f.outs.is_empty() {
        bail!("{}: no `outs:`; this is not a DVC-tracked output (`dvc add PATH` writes PATH.dvc)", file.display());
    }
    Ok(f)
}

pub fn parse_lock_file(text: &str, file: &Path) -> Result<LockFile> {
    let f: LockFile = crate::yaml::from_str(text, file)?;
    match f.schema.as_deref() {
        Some("2.0") => Ok(f),
        Some(s) => bail!("{}: field `schema`: unsupported dvc.lock schema '{s}' (expected '2.0', written by DVC 2 and 3)", file.display()),
        None => bail!(
            "{}: field `schema` is missing: this is a DVC 1.x lock file; run `dvc repro` with DVC 2 or 3 to rewrite it",
            file.display()
        ),
    }
}

pub fn parse_pipeline_file(text: &str, file: &Path) -> Result<PipelineFile> {
    crate::yaml::from_str(text, file)
}

/// One entry of a `.dir` listing.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct DirEntry {
    pub md5: String,
    pub relpath: String,
}

/// Parse a `.dir` object (a JSON list of `{md5, relpath}`).
pub fn parse_dir_listing(bytes: &[u8], what: &str) -> Result<Vec<DirEntry>> {
    let v: Vec<DirEntry> = serde_json::from_slice(bytes).with_context(|| format!("{what}: not a DVC `.dir` listing"))?;
    for e in &v {
        if e.md5.len() != 32 || !e.md5.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{what}: entry `{}` has a malformed md5", e.relpath);
        }
        paths::check_relative(&e.relpath).with_context(|| format!("{what}: entry `{}`", e.relpath))?;
    }
    Ok(v)
}

/// Serialise a `.dir` listing exactly as DVC does: Python `json.dumps(sorted(entries), sort_keys=True)`,
/// i.e. separators `", "` and `": "`, non-ASCII escaped as `\uXXXX` (surrogate pairs above U+FFFF),
/// sorted by relpath in code-point order, no trailing newline.
pub fn dir_listing_bytes(entries: &mut [DirEntry]) -> Vec<u8> {
    entries.sort_by(|a, b| a.relpath.cmp(&b.relpath));
    let mut s = String::from("[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str("{\"md5\": ");
        py_json_str(&e.md5, &mut s);
        s.push_str(", \"relpath\": ");
        py_json_str(&e.relpath, &mut s);
        s.push('}');
    }
    s.push(']');
    s.into_bytes()
}

/// Python's `json.dumps` string encoding with `ensure_ascii=True`.
fn py_json_str(v: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{:04x}", unit);
                }
            }
        }
    }
    out.push('"');
}

/// The DVC directory hash of a listing: md5 of its canonical bytes, plus `.dir`.
pub fn dir_md5(entries: &mut [DirEntry]) -> (String, Vec<u8>) {
    let bytes = dir_listing_bytes(entries);
    (format!("{}.dir", hashing::md5_hex(&bytes)), bytes)
}

/// A DVC project: its root (the folder holding `.dvc/`), its cache and its default remote.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub cache_dir: PathBuf,
    pub remote: Remote,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Remote {
    None,
    /// A local-path remote: (name, absolute path).
    Local(String, PathBuf),
    /// Any other scheme (s3://, gs://, ssh://, …): (name, url), not checked without credentials.
    Other(String, String),
}

impl Project {
    /// Find the DVC project that holds `start`, looking upward but not above `limit`.
    pub fn find(start: &Path, limit: &Path) -> Option<Project> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            if d.join(".dvc").is_dir() {
                return Some(Project::open(d));
            }
            if d == limit {
                break;
            }
            dir = d.parent();
        }
        None
    }

    fn open(root: &Path) -> Project {
        let dvc = root.join(".dvc");
        let mut cfg = read_config(&dvc.join("config"));
        for (k, v) in read_config(&dvc.join("config.local")) {
            cfg.insert(k, v);
        }
        let resolve = |v: &str| -> PathBuf {
            let p = Path::new(v.strip_prefix("file://").unwrap_or(v));
            if p.is_absolute() { p.to_path_buf() } else { dvc.join(p) }
        };
        let cache_dir = cfg.get(&("cache".into(), "dir".into())).map(|v| resolve(v)).unwrap_or_else(|| dvc.join("cache"));
        let remote = match cfg.get(&("core".into(), "remote".into())) {
            None => Remote::None,
            Some(name) => match cfg.get(&(format!("remote \"{name}\""), "url".into())) {
                None => Remote::None,
                Some(url) if url.contains("://") && !url.starts_with("file://") => Remote::Other(name.clone(), url.clone()),
                Some(url) => Remote::Local(name.clone(), resolve(url)),
            },
        };
        Project { root: root.to_path_buf(), cache_dir, remote }
    }

    /// Where an object lives below a cache-shaped folder.
    pub fn object_path(base: &Path, md5: &str, kind: Md5Kind) -> PathBuf {
        let (a, b) = md5.split_at(2);
        match kind {
            Md5Kind::Plain => base.join("files").join("md5").join(a).join(b),
            Md5Kind::Dos2Unix => base.join(a).join(b),
        }
    }

    /// Find an object in the cache or the local remote. Returns the place it was found.
    pub fn locate(&self, md5: &str, kind: Md5Kind) -> Option<(Location, PathBuf)> {
        let p = Self::object_path(&self.cache_dir, md5, kind);
        if p.is_file() {
            return Some((Location::Cache, p));
        }
        if let Remote::Local(_, dir) = &self.remote {
            let p = Self::object_path(dir, md5, kind);
            if p.is_file() {
                return Some((Location::Remote, p));
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Cache,
    Remote,
}

/// Read DVC's configobj-style INI: `[section]` / `['remote "name"']` headers and `key = value` lines.
fn read_config(path: &Path) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return out;
    };
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(h) = l.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let h = h.trim();
            section = h.trim_matches('\'').to_string();
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            out.insert((section.clone(), k.trim().to_string()), v.trim().trim_matches('\'').trim_matches('"').to_string());
        }
    }
    out
}

/// A workspace directory as DVC sees it: every file below it (symlinks followed, `.dvcignore`
/// honoured, empty folders skipped), as (relpath, absolute path), sorted by relpath.
pub fn walk_dir(dir: &Path, project_root: &Path) -> Result<Vec<(String, PathBuf)>> {
    // `.dvcignore` files between the DVC project root and `dir` apply too, each anchored at its
    // own folder (deepest first, as git layers them); none above the project root does.
    let mut above = Vec::new();
    let mut cur = dir.parent();
    while let Some(d) = cur {
        if !d.starts_with(project_root) {
            break;
        }
        let f = d.join(".dvcignore");
        if f.is_file() {
            let mut b = ignore::gitignore::GitignoreBuilder::new(d);
            if let Some(e) = b.add(&f) {
                bail!("{}: {e}", f.display());
            }
            above.push(b.build().with_context(|| format!("{}: bad pattern", f.display()))?);
        }
        if d == project_root {
            break;
        }
        cur = d.parent();
    }
    let mut wb = ignore::WalkBuilder::new(dir);
    wb.standard_filters(false).follow_links(true).parents(false).add_custom_ignore_filename(".dvcignore").filter_entry(move |e| {
        let is_dir = e.file_type().is_some_and(|t| t.is_dir());
        if is_dir && matches!(e.file_name().to_str(), Some(".git") | Some(".dvc")) {
            return false;
        }
        for gi in &above {
            let m = gi.matched_path_or_any_parents(e.path(), is_dir);
            if m.is_ignore() {
                return false;
            }
            if m.is_whitelist() {
                return true;
            }
        }
        true
    });
    let mut files = Vec::new();
    for ent in wb.build() {
        let ent = ent.with_context(|| format!("{}: cannot walk directory", dir.display()))?;
        if !ent.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let rel = ent.path().strip_prefix(dir).expect("walk stays below its root");
        let rel = rel
            .to_str()
            .ok_or_else(|| anyhow!("{}: file name is not UTF-8; DVC's listings are UTF-8 JSON", ent.path().display()))?
            .to_string();
        files.push((rel, ent.path().to_path_buf()));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// The result of re-hashing a workspace output.
#[derive(Debug, Clone)]
pub struct Rehash {
    pub md5: String,
    pub size: u64,
    pub nfiles: Option<u64>,
    /// Per file (relpath, digests); a single-file output has one entry with relpath "".
    pub files: Vec<(String, FileDigests)>,
}

/// Re-hash a workspace output by DVC's rules (file or directory).
pub fn rehash(path: &Path, kind: Md5Kind, project_root: &Path, cache: &HashCache, progress: &(dyn Fn(u64) + Sync)) -> Result<Rehash> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{}: workspace output is missing; run `dvc pull` or `dvc checkout`", path.display()))?;
    if meta.is_dir() {
        let listing = walk_dir(path, project_root)?;
        let jobs: Vec<(PathBuf, Md5Kind)> = listing.iter().map(|(_, p)| (p.clone(), kind)).collect();
        let (digests, _) = hashing::hash_files(&jobs, cache, progress)?;
        let mut entries: Vec<DirEntry> =
            listing.iter().zip(&digests).map(|((rel, _), d)| DirEntry { md5: d.md5.clone(), relpath: rel.clone() }).collect();
        let (md5, _) = dir_md5(&mut entries);
        let size = digests.iter().map(|d| d.size).sum();
        let files = listing.into_iter().map(|(r, _)| r).zip(digests).collect::<Vec<_>>();
        Ok(Rehash { md5, size, nfiles: Some(files.len() as u64), files })
    } else {
        let (d, _) = hashing::hash_files(&[(path.to_path_buf(), kind)], cache, progress)?;
        let d = d.into_iter().next().expect("one file in, one digest out");
        Ok(Rehash { md5: d.md5.clone(), size: d.size, nfiles: None, files: vec![(String::new(), d)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_listing_matches_dvc_bytes_for_tricky_names() {
        // dvc-formats.md §4.2, `hashtest/tricky`: written by DVC 3.67.1.
        let raw = r#"[{"md5": "41ff0912a07fdc52799ff27b38e7f140", "relpath": "Z.txt"}, {"md5": "4b3819771135e00b75e4afda54be3184", "relpath": "a-b.txt"}, {"md5": "facdca2fa68795a4937fd54f654c3f9d", "relpath": "a.txt"}, {"md5": "6983b4cd210aab338877de6d3b33c926", "relpath": "a/b.txt"}, {"md5": "1c32841fa9aaf0079007f473873dc68e", "relpath": "back\\slash"}, {"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "empty.txt"}, {"md5": "facdca2fa68795a4937fd54f654c3f9d", "relpath": "link-to-a.txt"}, {"md5": "0669fb1192972e0fd119a954245e4f18", "relpath": "q\"uote"}, {"md5": "46bbbe8aa98cc0714426e948474eaaf4", "relpath": "run.sh"}, {"md5": "14006db33769d2a211c4f39abf12ffc2", "relpath": "tab\tname"}, {"md5": "120d7f3e68408bb9c5002b3a528af783", "relpath": "with space.txt"}, {"md5": "3944782347f27156efab8997e906fbeb", "relpath": "x/y/z.bin"}, {"md5": "c783930cfbb0d66af60d2809818b0ca2", "relpath": "\u00e9.txt"}, {"md5": "027a1b1d8e537e3a87b2c80370d31885", "relpath": "\ud83d\ude00.bin"}]"#;
        let mut entries: Vec<DirEntry> = serde_json::from_str(raw).unwrap();
        entries.reverse();
        let (md5, bytes) = dir_md5(&mut entries);
        assert_eq!(String::from_utf8(bytes).unwrap(), raw);
        assert_eq!(md5, "ac98147eb8f212fdd595d8527c8ff9cf.dir");
    }

    #[test]
    fn config_remote_and_cache() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".dvc")).unwrap();
        std::fs::write(
            d.path().join(".dvc/config"),
            "[core]\n    remote = store\n['remote \"store\"']\n    url = ../../remote\n[cache]\n    dir = /tmp/x\n",
        )
        .unwrap();
        let p = Project::find(d.path(), d.path()).unwrap();
        assert_eq!(p.cache_dir, PathBuf::from("/tmp/x"));
        assert_eq!(p.remote, Remote::Local("store".into(), d.path().join(".dvc/../../remote")));
    }
}
