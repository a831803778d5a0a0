//! `oci-archive:FILE.tar[:TAG]`: an OCI image layout as one tar file, as skopeo and
//! containers-image name it (spec/archive.md).
//!
//! Reading unpacks the tar (streamed, entry by entry) into a private folder beside the file and
//! serves it as a [`Layout`]; only `oci-layout`, `index.json` and `blobs/sha256/<hex>` regular
//! files are taken, each at most once; anything else (links, devices, absolute paths, `..`, other
//! paths, a second copy of an entry) is refused, as is an archive over [`MAX_UNPACKED_BYTES`] or
//! [`MAX_ENTRIES`]. Writing goes to that folder; [`Archive::commit`] then streams the folder into
//! a temporary tar beside the file and renames it over the file: readers see the old archive or
//! the new one, never half of one. The file keeps its mode; a new one gets a new file's (0666
//! less the umask). An archive dropped with writes not committed is noted ([`check_saved`]): a
//! command that ends well with unsaved writes fails instead of losing them quietly.
//!
//! The tar is reproducible: ustar headers, entries in a fixed order (`oci-layout`, `index.json`,
//! `blobs/`, `blobs/sha256/`, then the blobs sorted by digest), mtime 0, uid/gid 0, no user or
//! group names, mode 0644 for files and 0755 for folders. Same layout content, same bytes.

use super::layout::Layout;
use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};

/// The most bytes an archive may unpack to. A regular file unpacks to at most its own size
/// (links and sparse entries are refused); this bounds a stream (`oci-archive:/dev/stdin`, a FIFO).
pub const MAX_UNPACKED_BYTES: u64 = 64 << 30;
/// The most entries an archive may hold.
pub const MAX_ENTRIES: u64 = 1_000_000;

pub struct Archive {
    file: PathBuf,
    layout: Layout,
    /// The layout's write count when the archive was last written out (0: as opened).
    committed: std::sync::atomic::AtomicU64,
    /// The private folder the layout lives in (removed on drop).
    _dir: tempfile::TempDir,
}

/// Archives dropped with writes that were never committed, by name.
static UNSAVED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl Drop for Archive {
    fn drop(&mut self) {
        if self.layout.writes() != self.committed.load(std::sync::atomic::Ordering::SeqCst) {
            UNSAVED.lock().unwrap_or_else(|e| e.into_inner()).push(format!("oci-archive:{}", self.file.display()));
        }
    }
}

/// After a command ended well: an error when an archive it wrote to was dropped without
/// [`Archive::commit`] (its writes are lost; a command that writes must commit). A failed command
/// writes nothing, by design, and is not asked.
pub fn check_saved() -> Result<()> {
    let lost = std::mem::take(&mut *UNSAVED.lock().unwrap_or_else(|e| e.into_inner()));
    if lost.is_empty() {
        return Ok(());
    }
    bail!("internal error: {} written but not saved (the command did not commit it); nothing was changed there", lost.join(", "))
}

/// The folder a temporary copy goes in: beside `file` (same file system, so the final rename is
/// atomic and no small /tmp fills up), else the system's temporary folder.
fn work_dir(file: &Path) -> PathBuf {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if parent.is_dir() { parent.to_path_buf() } else { std::env::temp_dir() }
}

impl Archive {
    /// Open an archive: its content unpacked when the file exists, else empty (a first write
    /// creates it on [`Archive::commit`]).
    pub fn open(file: &Path) -> Result<Archive> {
        let dir = tempfile::Builder::new()
            .prefix(".oci-archive-")
            .tempdir_in(work_dir(file))
            .or_else(|_| tempfile::Builder::new().prefix("oci-archive-").tempdir())
            .with_context(|| format!("{}: cannot make a working folder", file.display()))?;
        let name = format!("oci-archive:{}", file.display());
        match std::fs::File::open(file) {
            Ok(f) => unpack(f, dir.path()).with_context(|| format!("{name}: not a readable OCI archive"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("{name}: cannot read: {e}"),
        }
        let layout = Layout::named(dir.path().to_path_buf(), name);
        Ok(Archive { file: file.to_path_buf(), layout, committed: Default::default(), _dir: dir })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Write the layout back as the archive: streamed into a temporary file beside it, synced,
    /// then renamed over it. The archive keeps its mode; a new one is created as `File::create`
    /// creates a file (0666 less the umask).
    pub fn commit(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let name = format!("oci-archive:{}", self.file.display());
        let writes = self.layout.writes();
        let parent = work_dir(&self.file);
        let old = std::fs::metadata(&self.file).ok().map(|m| m.permissions());
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(&parent)
            .with_context(|| format!("{name}: cannot write"))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp);
        write_tar(self.layout.dir(), &mut w).with_context(|| format!("{name}: cannot write"))?;
        let tmp = w.into_inner().map_err(|e| anyhow!("{name}: cannot write: {}", e.error()))?;
        if let Some(p) = old {
            tmp.as_file().set_permissions(p).with_context(|| format!("{name}: cannot keep its mode"))?;
        }
        tmp.as_file().sync_all()?;
        tmp.persist(&self.file).map_err(|e| anyhow!("{name}: cannot write: {}", e.error))?;
        self.committed.store(writes, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// Which tar paths an OCI archive may hold; the relative path to write, or None to skip a folder.
fn allowed(path: &Path, kind: tar::EntryType) -> Result<Option<PathBuf>> {
    let s = path.to_str().ok_or_else(|| anyhow!("entry `{}`: not UTF-8", path.display()))?;
    let s = s.trim_start_matches("./");
    if kind.is_dir() {
        return match s.trim_end_matches('/') {
            "" | "blobs" | "blobs/sha256" => Ok(None),
            other => bail!("entry `{other}/`: an OCI archive holds only oci-layout, index.json and blobs/sha256/"),
        };
    }
    if !kind.is_file() {
        bail!("entry `{s}`: only regular files are allowed (no links or devices)");
    }
    match s {
        "oci-layout" | "index.json" => Ok(Some(PathBuf::from(s))),
        _ => match s.strip_prefix("blobs/sha256/") {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => {
                Ok(Some(PathBuf::from(s)))
            }
            _ => bail!("entry `{s}`: an OCI archive holds only oci-layout, index.json and blobs/sha256/<hex>"),
        },
    }
}

/// Unpack an archive's entries into `dir`, one at a time (memory does not grow with the blobs):
/// each allowed path at most once, within [`MAX_ENTRIES`] and [`MAX_UNPACKED_BYTES`]. Errors name
/// the entry (its number, and its path when it has one).
fn unpack(f: std::fs::File, dir: &Path) -> Result<()> {
    let mut a = tar::Archive::new(std::io::BufReader::with_capacity(1 << 16, f));
    std::fs::create_dir_all(dir.join("blobs").join("sha256"))?;
    let mut total = 0u64;
    for (i, e) in a.entries()?.enumerate() {
        let n = i as u64 + 1;
        if n > MAX_ENTRIES {
            bail!("more than {MAX_ENTRIES} entries");
        }
        let mut e = e.with_context(|| format!("entry {n}: not a tar entry"))?;
        let path = e.path().with_context(|| format!("entry {n}: unreadable path"))?.into_owned();
        let Some(rel) = allowed(&path, e.header().entry_type())? else { continue };
        total = total.saturating_add(e.size());
        if total > MAX_UNPACKED_BYTES {
            bail!("entry `{}`: the archive unpacks to more than {} GiB", rel.display(), MAX_UNPACKED_BYTES >> 30);
        }
        // A second copy of an entry must not replace the first (which would a reader take?).
        let mut out = match std::fs::File::create_new(dir.join(&rel)) {
            Ok(f) => f,
            Err(x) if x.kind() == std::io::ErrorKind::AlreadyExists => {
                bail!("entry `{}`: appears twice; an OCI archive holds each file once", rel.display())
            }
            Err(x) => bail!("entry `{}`: cannot unpack: {x}", rel.display()),
        };
        std::io::copy(&mut e, &mut out).with_context(|| format!("entry `{}`: cannot unpack", rel.display()))?;
    }
    Ok(())
}

fn header(path: &str, size: u64, dir: bool) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(if dir { tar::EntryType::Directory } else { tar::EntryType::Regular });
    h.set_cksum();
    Ok(h)
}

/// Stream a layout folder into a tar, in the fixed order and with the fixed metadata above.
pub fn write_tar(dir: &Path, w: &mut dyn std::io::Write) -> Result<()> {
    let mut b = tar::Builder::new(w);
    for f in ["oci-layout", "index.json"] {
        let p = dir.join(f);
        if let Ok(file) = std::fs::File::open(&p) {
            let len = file.metadata()?.len();
            b.append(&header(f, len, false)?, file)?;
        }
    }
    b.append(&header("blobs/", 0, true)?, std::io::empty())?;
    b.append(&header("blobs/sha256/", 0, true)?, std::io::empty())?;
    let mut blobs: Vec<(String, u64)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir.join("blobs").join("sha256")) {
        for e in rd {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            // Temporary files of an interrupted write are not content.
            if name.starts_with('.') || !e.file_type()?.is_file() {
                continue;
            }
            blobs.push((name, e.metadata()?.len()));
        }
    }
    blobs.sort();
    for (hex, len) in blobs {
        let f = std::fs::File::open(dir.join("blobs").join("sha256").join(&hex))?;
        b.append(&header(&format!("blobs/sha256/{hex}"), len, false)?, std::io::BufReader::with_capacity(1 << 16, f))?;
    }
    b.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_outside_the_layout() {
        let f = tar::EntryType::Regular;
        assert!(allowed(Path::new("../etc/passwd"), f).is_err());
        assert!(allowed(Path::new("blobs/sha256/../../x"), f).is_err());
        assert!(allowed(Path::new("index.json"), tar::EntryType::Symlink).is_err());
        assert!(allowed(Path::new("./index.json"), f).unwrap().is_some());
        assert!(allowed(Path::new("blobs/sha256/"), tar::EntryType::Directory).unwrap().is_none());
        assert!(allowed(Path::new("/index.json"), f).is_err());
    }

    /// Writes dropped without a commit fail the command; committed ones, and none, do not.
    #[test]
    fn unsaved_writes_are_an_error() {
        use crate::store::Store;
        let t = tempfile::tempdir().unwrap();
        let d = crate::oci::Descriptor::new("application/octet-stream", b"x");
        let a = Archive::open(&t.path().join("a.tar")).unwrap();
        a.layout().put_blob(&d, b"x").unwrap();
        drop(a);
        let e = check_saved().unwrap_err().to_string();
        assert!(e.contains("a.tar") && e.contains("not saved"), "{e}");
        let a = Archive::open(&t.path().join("b.tar")).unwrap();
        a.layout().put_blob(&d, b"x").unwrap();
        a.commit().unwrap();
        drop(Archive::open(&t.path().join("b.tar")).unwrap());
        drop(a);
        check_saved().unwrap();
    }
}
