//! Safe extraction of release layers. Every entry must be a regular file with a relative path
//! of plain components: absolute paths, `..`, `.`, empty names, symlinks, hard links, devices and
//! FIFOs are refused (the ORAS, oras-go, Zarf and Helm extraction CVEs), and counts and sizes are
//! capped. Nothing is written until every layer has been read and checked.

use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Only {
    Prompts,
    Contracts,
    Dvc,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_file: u64,
    pub max_total: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_entries: 100_000, max_file: 64 << 20, max_total: 1 << 30 }
    }
}

/// A stream that can "seek" forward only, by reading and discarding into one reused buffer. The
/// tar crate skips each entry's padding through `Seek` when it can; without it, it zero-fills a
/// new 32 KiB buffer per entry (callgrind: a third of `verify` on a 10,000-prompt release).
struct ForwardSeek<R> {
    inner: R,
    scratch: Vec<u8>,
    /// Bytes consumed so far: the position `seek` returns (the tar crate keeps it).
    pos: u64,
}

impl<R: Read> Read for ForwardSeek<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> std::io::Seek for ForwardSeek<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let std::io::SeekFrom::Current(mut n) = pos else {
            return Err(std::io::Error::other("a tar layer is read forward only"));
        };
        if n < 0 {
            return Err(std::io::Error::other("a tar layer is read forward only"));
        }
        if self.scratch.is_empty() {
            self.scratch = vec![0; 8192];
        }
        while n > 0 {
            let k = (n as usize).min(self.scratch.len());
            let got = self.inner.read(&mut self.scratch[..k])?;
            if got == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            n -= got as i64;
            self.pos += got as u64;
        }
        Ok(self.pos)
    }
}

/// Zero padding after the tar end-of-archive blocks that we accept (GNU tar pads to 10 KiB records).
const MAX_PADDING: u64 = 1 << 20;

/// Read a tar.gz layer into (path, bytes) entries, refusing anything unsafe.
pub fn entries(tar_gz: &[u8], what: &str, limits: &Limits) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for_each(tar_gz, what, limits, |name, size, r| {
        let mut buf = Vec::with_capacity(size as usize);
        r.read_to_end(&mut buf)?;
        out.push((name.to_string(), buf));
        Ok(())
    })?;
    Ok(out)
}

/// Stream a tar.gz layer, calling `f(path, size, body)` for each entry in order, refusing anything
/// unsafe. Every gzip member is read (as tar and Python's tarfile do: a layer of several members
/// is one stream), and after the tar end-of-archive blocks only zero padding may follow, so no
/// reader of the layer can see a file that we do not. Memory does not grow with the layer.
pub fn for_each<R: Read>(tar_gz: R, what: &str, limits: &Limits, mut f: impl FnMut(&str, u64, &mut dyn Read) -> Result<()>) -> Result<()> {
    let gz = flate2::read::MultiGzDecoder::new(tar_gz);
    // Bound the decompressed stream as a whole (headers included), against gzip bombs.
    let bounded = gz.take(limits.max_total + (limits.max_entries as u64 + 2) * 1024 + MAX_PADDING);
    let mut ar = tar::Archive::new(ForwardSeek { inner: bounded, scratch: Vec::new(), pos: 0 });
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0u64;
    for (count, e) in ar.entries_with_seek().with_context(|| format!("{what}: not a tar archive"))?.enumerate() {
        let mut e = e.with_context(|| format!("{what}: damaged tar archive"))?;
        if count >= limits.max_entries {
            bail!("{what}: more than {} entries", limits.max_entries);
        }
        let name = entry_name(&e, what)?;
        let size = e.header().size().with_context(|| format!("{what}: entry `{name}` has a bad size"))?;
        if size > limits.max_file {
            bail!("{what}: entry `{name}` is {size} bytes, over the {} MiB limit", limits.max_file >> 20);
        }
        total += size;
        if total > limits.max_total {
            bail!("{what}: more than {} MiB in all", limits.max_total >> 20);
        }
        if !seen.insert(name.clone()) {
            bail!("{what}: entry `{name}` appears twice");
        }
        let mut body = (&mut e).take(size);
        let mut counted = Counted { inner: &mut body, n: 0 };
        f(&name, size, &mut counted).with_context(|| format!("{what}: entry `{name}`"))?;
        let n =
            counted.n + std::io::copy(&mut body, &mut std::io::sink()).with_context(|| format!("{what}: entry `{name}` is truncated"))?;
        if n != size {
            bail!("{what}: entry `{name}` is truncated");
        }
    }
    let mut rest = ar.into_inner();
    check_padding(&mut rest, what)
}

/// After the end-of-archive blocks: zeros only, and not too many of them.
fn check_padding(r: &mut impl Read, what: &str) -> Result<()> {
    let mut buf = [0u8; 8192];
    let mut seen = 0u64;
    loop {
        let n = r.read(&mut buf).with_context(|| format!("{what}: damaged data after the tar archive"))?;
        if n == 0 {
            return Ok(());
        }
        if buf[..n].iter().any(|&b| b != 0) {
            bail!("{what}: data after the end of the tar archive (a hidden second archive?); a release layer is one tar stream");
        }
        seen += n as u64;
        if seen > MAX_PADDING {
            bail!("{what}: more than {} KiB of padding after the tar archive", MAX_PADDING >> 10);
        }
    }
}

/// A reader that counts what the caller read.
struct Counted<'a> {
    inner: &'a mut dyn Read,
    n: u64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// An entry's path, if it is a regular file with a safe relative path.
fn entry_name<R: Read>(e: &tar::Entry<'_, R>, what: &str) -> Result<String> {
    let raw = e.path_bytes().to_vec();
    let name = String::from_utf8(raw).map_err(|_| anyhow!("{what}: an entry name is not UTF-8"))?;
    let kind = e.header().entry_type();
    if !kind.is_file() {
        let k = match kind {
            tar::EntryType::Symlink => "a symlink",
            tar::EntryType::Link => "a hard link",
            tar::EntryType::Char | tar::EntryType::Block => "a device",
            tar::EntryType::Fifo => "a FIFO",
            tar::EntryType::Directory => "a directory entry",
            _ => "not a regular file",
        };
        bail!("{what}: entry `{}` is {k}; release layers hold regular files only", crate::yaml::shorten(&name));
    }
    crate::paths::check_relative(&name).map_err(|e| anyhow!("{what}: unsafe entry name: {e}"))?;
    if Path::new(&name).components().any(|c| !matches!(c, Component::Normal(_))) {
        bail!("{what}: unsafe entry name `{name}`");
    }
    Ok(name)
}

/// Check that no file is also another file's folder (`zzz` and `zzz/a`): linear in the paths.
fn check_tree(files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    let mut folders = std::collections::HashSet::new();
    for rel in files.keys() {
        let mut at = 0;
        while let Some(i) = rel[at..].find('/') {
            folders.insert(&rel[..at + i]);
            at += i + 1;
        }
    }
    for rel in files.keys() {
        if folders.contains(rel.as_str()) {
            bail!("`{rel}` is both a file and the folder of another file in the release; refusing to write either");
        }
    }
    Ok(())
}

/// Write files into the folder `dir`, all or nothing: every path is checked against every other
/// first, and the files are written into a staging folder that is then renamed into place. A `dir`
/// that holds anything is refused unless `force`, which swaps the old folder out whole (no file of
/// an earlier pull survives). An existing empty `dir` (a Kubernetes volume, say, which cannot be
/// renamed) is filled from a staging folder inside it.
pub fn write_tree(dir: &Path, files: &BTreeMap<String, Vec<u8>>, force: bool) -> Result<()> {
    check_tree(files)?;
    let meta = std::fs::symlink_metadata(dir).ok();
    let mut empty = true;
    if let Some(m) = &meta {
        if !m.is_dir() {
            bail!("{}: exists and is not a folder", dir.display());
        }
        empty = std::fs::read_dir(dir).with_context(|| format!("{}: cannot read", dir.display()))?.next().is_none();
        if !empty && !force {
            bail!("{}: the folder is not empty; pull into a new or empty folder, or pass --force to replace it whole", dir.display());
        }
    }
    let abs = std::path::absolute(dir).with_context(|| format!("{}: bad path", dir.display()))?;
    let parent = abs.parent().ok_or_else(|| anyhow!("{}: cannot pull into the root folder", dir.display()))?;
    if meta.is_some() && empty {
        let stage = tempfile::Builder::new()
            .prefix(".bundle-pull-")
            .tempdir_in(&abs)
            .with_context(|| format!("{}: cannot write", dir.display()))?;
        write_all(stage.path(), files)?;
        for e in std::fs::read_dir(stage.path())? {
            let e = e?;
            std::fs::rename(e.path(), abs.join(e.file_name())).with_context(|| format!("{}: cannot write", dir.display()))?;
        }
        return Ok(());
    }
    std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
    let stage = tempfile::Builder::new()
        .prefix(".bundle-pull-")
        .tempdir_in(parent)
        .with_context(|| format!("{}: cannot write", parent.display()))?;
    write_all(stage.path(), files)?;
    std::fs::set_permissions(stage.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    if meta.is_some() {
        // Swap: the old folder moves aside, the new one takes its name, the old one is removed.
        let old = tempfile::Builder::new().prefix(".bundle-old-").tempdir_in(parent)?;
        std::fs::rename(&abs, old.path().join("d")).with_context(|| format!("{}: cannot move aside", dir.display()))?;
        std::fs::rename(stage.keep(), &abs).with_context(|| format!("{}: cannot write", dir.display()))?;
        drop(old);
    } else {
        std::fs::rename(stage.keep(), &abs).with_context(|| format!("{}: cannot write", dir.display()))?;
    }
    Ok(())
}

/// Check that writing `rel` below `dir` would follow no symlink and replace no folder.
fn check_target(dir: &Path, rel: &str) -> Result<()> {
    let mut cur = dir.to_path_buf();
    for c in Path::new(rel).parent().into_iter().flat_map(|p| p.components()) {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => bail!("{}: is a symlink; refusing to write through it", cur.display()),
            Ok(m) if !m.is_dir() => bail!("{}: exists and is not a folder", cur.display()),
            Ok(_) => {}
            Err(_) => return Ok(()), // missing from here down: it will be created
        }
    }
    let target = dir.join(rel);
    if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink() || m.is_dir()) {
        bail!("{}: exists as a symlink or folder; refusing to replace it", target.display());
    }
    Ok(())
}

/// Write files below `dir`. Every target is checked first (no symlink on the way, no folder
/// replaced), so a refusal writes nothing; then each file goes to a temp file in its final folder
/// and is renamed into place.
fn write_all(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
        bail!("{}: exists and is not a folder", dir.display());
    }
    for rel in files.keys() {
        check_target(dir, rel)?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    for (rel, bytes) in files {
        let target = dir.join(rel);
        let parent = target.parent().expect("below dir");
        std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
        let mut tmp = tempfile::Builder::new().prefix(".bundle-pull-").tempfile_in(parent)?;
        std::io::Write::write_all(&mut tmp, bytes)?;
        tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        tmp.persist(&target).map_err(|e| anyhow!("{}: cannot write: {}", target.display(), e.error))?;
    }
    Ok(())
}
