//! Streaming file hashing: md5 (DVC's pin) and sha256 (our own digest) in one read.
//!
//! * Every file is read once, in 1 MiB chunks, and both digests are fed from the same buffer.
//! * Large files are hashed by a two-thread pipeline (md5 on one core, sha256 on the other);
//!   many files are spread across cores with rayon.
//! * [`HashCache`] remembers (device, inode, mtime, size) → digests, so an unchanged file is not
//!   read again, like DVC's own state database.

use anyhow::{Context, Result};
use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;

/// DVC reads files in 1 MiB chunks; the legacy dos2unix rule works per chunk, so we must too.
pub const CHUNK: usize = 1 << 20;
/// Files at least this large are hashed with the md5/sha256 pipeline on two threads.
pub const PIPELINE_MIN: u64 = 64 << 20;

/// How DVC hashed a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Md5Kind {
    /// DVC 3 `hash: md5`: md5 of the raw bytes.
    #[serde(rename = "md5")]
    Plain,
    /// DVC 2.x entries (no `hash:` field): CRLF→LF per 1 MiB chunk when the first 512 bytes look like text.
    #[serde(rename = "md5-dos2unix")]
    Dos2Unix,
}

impl Md5Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Md5Kind::Plain => "md5",
            Md5Kind::Dos2Unix => "md5-dos2unix",
        }
    }
}

/// The digests of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    /// Lower-case hex md5, computed by the requested [`Md5Kind`].
    pub md5: String,
    /// Lower-case hex sha256 of the raw bytes.
    pub sha256: String,
    pub size: u64,
}

pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// `sha256:<hex>` of a byte slice.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// `sha256:<hex>` of a stream, read to its end through one 64 KiB buffer.
pub fn sha256_reader(r: &mut dyn std::io::Read) -> Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(format!("sha256:{}", hex(&h.finalize())));
        }
        h.update(&buf[..n]);
    }
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// DVC's text heuristic (`dvc_data/hashfile/istextfile.py`): empty is text, a NUL means binary,
/// otherwise text when at most 30 % of the bytes are outside printable ASCII and `\n\r\t\f\b`.
pub fn is_text(block: &[u8]) -> bool {
    if block.is_empty() {
        return true;
    }
    if block.contains(&0) {
        return false;
    }
    let non_text = block.iter().filter(|&&b| !((32..127).contains(&b) || matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x08))).count();
    non_text * 100 <= block.len() * 30
}

/// Replace every CRLF in `chunk` with LF (a CRLF split across chunks stays, as in DVC).
fn dos2unix(chunk: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < chunk.len() {
        if chunk[i] == b'\r' && i + 1 < chunk.len() && chunk[i + 1] == b'\n' {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(chunk[i]);
            i += 1;
        }
    }
}

/// Fill `buf` as far as possible (a short read only at end of file).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Hash a reader in one pass. `progress` is called with the bytes of each chunk.
pub fn hash_reader(mut r: impl Read, kind: Md5Kind, progress: &dyn Fn(u64)) -> std::io::Result<FileDigests> {
    let mut md5 = Md5::new();
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut conv = Vec::new();
    let mut text: Option<bool> = None;
    let mut size = 0u64;
    loop {
        let n = read_full(&mut r, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        sha.update(chunk);
        if kind == Md5Kind::Dos2Unix {
            // DVC 2.x decides text/binary once, from the first 512 bytes of the file.
            let t = *text.get_or_insert_with(|| is_text(&chunk[..n.min(512)]));
            if t {
                dos2unix(chunk, &mut conv);
                md5.update(&conv);
            } else {
                md5.update(chunk);
            }
        } else {
            md5.update(chunk);
        }
        size += n as u64;
        progress(n as u64);
        if n < CHUNK {
            break;
        }
    }
    Ok(FileDigests { md5: hex(&md5.finalize()), sha256: hex(&sha.finalize()), size })
}

/// Hash a large file with md5 and sha256 on two threads fed by one reader.
fn hash_file_pipelined(path: &Path, kind: Md5Kind, progress: &(dyn Fn(u64) + Sync)) -> std::io::Result<FileDigests> {
    let mut f = File::open(path)?;
    let (tx_md5, rx_md5) = sync_channel::<Arc<Vec<u8>>>(4);
    let (tx_sha, rx_sha) = sync_channel::<Arc<Vec<u8>>>(4);
    std::thread::scope(|s| {
        let md5_thread = s.spawn(move || {
            let mut h = Md5::new();
            let mut conv = Vec::new();
            let mut text: Option<bool> = None;
            for chunk in rx_md5 {
                if kind == Md5Kind::Dos2Unix && *text.get_or_insert_with(|| is_text(&chunk[..chunk.len().min(512)])) {
                    dos2unix(&chunk, &mut conv);
                    h.update(&conv);
                } else {
                    h.update(&chunk[..]);
                }
            }
            hex(&h.finalize())
        });
        let sha_thread = s.spawn(move || {
            let mut h = Sha256::new();
            for chunk in rx_sha {
                h.update(&chunk[..]);
            }
            hex(&h.finalize())
        });
        let mut size = 0u64;
        let res = (|| -> std::io::Result<()> {
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = read_full(&mut f, &mut buf)?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                let chunk = Arc::new(buf);
                size += n as u64;
                progress(n as u64);
                // A send only fails if a hasher thread died; its join below reports that.
                let _ = tx_md5.send(chunk.clone());
                let _ = tx_sha.send(chunk);
                if n < CHUNK {
                    break;
                }
            }
            Ok(())
        })();
        drop(tx_md5);
        drop(tx_sha);
        let md5 = md5_thread.join().expect("md5 hasher thread panicked");
        let sha256 = sha_thread.join().expect("sha256 hasher thread panicked");
        res.map(|_| FileDigests { md5, sha256, size })
    })
}

/// Hash one file (following symlinks, as DVC does).
pub fn hash_file(path: &Path, kind: Md5Kind, progress: &(dyn Fn(u64) + Sync)) -> Result<FileDigests> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read file", path.display()))?;
    let r = if meta.len() >= PIPELINE_MIN {
        hash_file_pipelined(path, kind, progress)
    } else {
        File::open(path).and_then(|f| hash_reader(f, kind, progress))
    };
    r.with_context(|| format!("{}: cannot read file", path.display()))
}

/// The identity of a file's content as the filesystem sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatKey {
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i128,
    pub size: u64,
}

impl StatKey {
    pub fn of(meta: &std::fs::Metadata) -> StatKey {
        use std::os::unix::fs::MetadataExt;
        StatKey {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            size: meta.len(),
        }
    }
}

/// A persistent (device, inode, mtime, size, md5 kind) → digests cache.
///
/// Stored as a text file, one entry a line: `dev ino mtime_ns size kind md5 sha256`.
/// Written atomically (temp file + rename); a damaged line is ignored, never trusted.
pub struct HashCache {
    path: Option<PathBuf>,
    entries: Mutex<HashMap<(StatKey, Md5Kind), (String, String)>>,
    dirty: Mutex<bool>,
}

impl HashCache {
    /// A cache that lives only in memory.
    pub fn in_memory() -> HashCache {
        HashCache { path: None, entries: Mutex::new(HashMap::new()), dirty: Mutex::new(false) }
    }

    /// The default location: `$RELBUNDLE_CACHE_DIR`, else `$XDG_CACHE_HOME/relbundle`, else `~/.cache/relbundle`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("RELBUNDLE_CACHE_DIR") {
            return Some(PathBuf::from(d).join("hashes.v1"));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("relbundle").join("hashes.v1"))
    }

    pub fn load(path: PathBuf) -> HashCache {
        let mut entries = HashMap::new();
        if let Ok(f) = File::open(&path) {
            for line in BufReader::new(f).lines().map_while(|l| l.ok()) {
                if let Some((k, v)) = Self::parse_line(&line) {
                    entries.insert(k, v);
                }
            }
        }
        HashCache { path: Some(path), entries: Mutex::new(entries), dirty: Mutex::new(false) }
    }

    fn parse_line(line: &str) -> Option<((StatKey, Md5Kind), (String, String))> {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() != 7 {
            return None;
        }
        let kind = match f[4] {
            "md5" => Md5Kind::Plain,
            "md5-dos2unix" => Md5Kind::Dos2Unix,
            _ => return None,
        };
        let is_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex(f[5], 32) || !is_hex(f[6], 64) {
            return None;
        }
        let key = StatKey { dev: f[0].parse().ok()?, ino: f[1].parse().ok()?, mtime_ns: f[2].parse().ok()?, size: f[3].parse().ok()? };
        Some(((key, kind), (f[5].to_string(), f[6].to_string())))
    }

    pub fn get(&self, key: StatKey, kind: Md5Kind) -> Option<FileDigests> {
        let e = self.entries.lock().unwrap();
        e.get(&(key, kind)).map(|(m, s)| FileDigests { md5: m.clone(), sha256: s.clone(), size: key.size })
    }

    pub fn put(&self, key: StatKey, kind: Md5Kind, d: &FileDigests) {
        self.entries.lock().unwrap().insert((key, kind), (d.md5.clone(), d.sha256.clone()));
        *self.dirty.lock().unwrap() = true;
    }

    /// Write the cache back if anything changed. Failure to write a cache is not an error for the
    /// command, so it is reported on stderr and otherwise ignored.
    pub fn save(&self) {
        let Some(path) = &self.path else { return };
        if !*self.dirty.lock().unwrap() {
            return;
        }
        let res = (|| -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            {
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                for ((k, kind), (m, s)) in self.entries.lock().unwrap().iter() {
                    writeln!(w, "{} {} {} {} {} {} {}", k.dev, k.ino, k.mtime_ns, k.size, kind.as_str(), m, s)?;
                }
                w.flush()?;
            }
            tmp.persist(path).map_err(|e| e.error)?;
            Ok(())
        })();
        if let Err(e) = res {
            eprintln!("warning: could not save the hash cache {}: {e}", path.display());
        }
    }
}

/// Hash many files on every core, using and filling the cache.
/// Returns digests in the order of `files`, and how many were served from the cache.
pub fn hash_files(files: &[(PathBuf, Md5Kind)], cache: &HashCache, progress: &(dyn Fn(u64) + Sync)) -> Result<(Vec<FileDigests>, usize)> {
    use rayon::prelude::*;
    let hits = std::sync::atomic::AtomicUsize::new(0);
    let out: Result<Vec<FileDigests>> = files
        .par_iter()
        .map(|(path, kind)| {
            let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read file", path.display()))?;
            let key = StatKey::of(&meta);
            if let Some(d) = cache.get(key, *kind) {
                hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                progress(d.size);
                return Ok(d);
            }
            let d = hash_file(path, *kind, progress)?;
            // Only cache what we know was stable while we read it.
            if let Ok(after) = std::fs::metadata(path)
                && StatKey::of(&after) == key
            {
                cache.put(key, *kind, &d);
            }
            Ok(d)
        })
        .collect();
    Ok((out?, hits.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos2unix_rule_matches_dvc_reference_values() {
        // dvc-formats.md §4.3: crlf.txt under DVC 2.x hashes as the LF text.
        let crlf = b"line one\r\nline two\r\n";
        let d = hash_reader(&crlf[..], Md5Kind::Dos2Unix, &|_| {}).unwrap();
        assert_eq!(d.md5, "987929d61c9b69f0c6406b840aa77fd8");
        let d = hash_reader(&crlf[..], Md5Kind::Plain, &|_| {}).unwrap();
        assert_eq!(d.md5, "a775daabdb44c57a65eaadeef4edfe51");
        assert_eq!(d.size, 20);
    }

    #[test]
    fn binary_files_are_not_converted() {
        let mut data = vec![0u8; 10];
        data.extend_from_slice(b"\r\n");
        let a = hash_reader(&data[..], Md5Kind::Dos2Unix, &|_| {}).unwrap();
        let b = hash_reader(&data[..], Md5Kind::Plain, &|_| {}).unwrap();
        assert_eq!(a.md5, b.md5);
    }

    #[test]
    fn text_heuristic_threshold() {
        assert!(is_text(b""));
        assert!(!is_text(b"abc\0"));
        let mut v = vec![b'a'; 70];
        v.extend(std::iter::repeat_n(0xffu8, 30));
        assert!(is_text(&v));
        v.push(0xff);
        assert!(!is_text(&v));
    }

    #[test]
    fn pipeline_equals_single_thread() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut data = Vec::new();
        for i in 0..(3 * CHUNK + 17) {
            data.push(if i % 7 == 0 {
                b'\r'
            } else if i % 7 == 1 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            });
        }
        std::fs::write(&p, &data).unwrap();
        for kind in [Md5Kind::Plain, Md5Kind::Dos2Unix] {
            let a = hash_file_pipelined(&p, kind, &|_| {}).unwrap();
            let b = hash_reader(&data[..], kind, &|_| {}).unwrap();
            assert_eq!(a, b);
        }
    }
}
