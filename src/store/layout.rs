//! OCI image layout backend: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
//!
//! Every write is atomic (temp file in the same folder, then rename), blobs before index.json,
//! and every blob read is checked against its digest and size. index.json is read and rewritten
//! under an exclusive lock on the layout folder ([`Layout::hold`]), so parallel writers lose no tag.

use super::{Store, TagOutcome};
use crate::oci::{Descriptor, MAX_MANIFEST};
use crate::spec::{ANN_REF_NAME, OCI_INDEX};
use anyhow::{Context, Result, anyhow, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Layout {
    dir: PathBuf,
    /// How messages name the store (an archive's layout is named as the archive).
    name: Option<String>,
    /// The folder lock: how many holders in this process, and the locked folder handle.
    held: std::sync::Mutex<(usize, Option<std::fs::File>)>,
    /// Files this value has written (an archive's layout is saved only when it changed).
    writes: std::sync::atomic::AtomicU64,
}

/// This process holds the layout's lock until the last `Held` drops.
pub struct Held<'a>(&'a Layout);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut h = self.0.held.lock().unwrap_or_else(|e| e.into_inner());
        h.0 -= 1;
        if h.0 == 0 {
            h.1 = None; // closing the handle releases the lock
        }
    }
}

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).with_context(|| format!("{}: cannot write", dir.display()))?;
    tmp.write_all(bytes)?;
    // tempfile creates 0600; layout files are meant to be shared like any other.
    tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| anyhow!("{}: cannot write: {}", path.display(), e.error))?;
    Ok(())
}

impl Layout {
    pub fn new(dir: PathBuf) -> Layout {
        Layout { dir, name: None, held: std::sync::Mutex::new((0, None)), writes: Default::default() }
    }

    /// A layout that messages name `name` (an unpacked `oci-archive:`).
    pub fn named(dir: PathBuf, name: String) -> Layout {
        Layout { dir, name: Some(name), held: std::sync::Mutex::new((0, None)), writes: Default::default() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many files this value has written so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Write one of the layout's files atomically ([`write_atomic`]), counted in [`Layout::writes`].
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        write_atomic(path, bytes)
    }

    /// Take the layout's exclusive lock (flock on the folder; another process waits for it), or
    /// join this process's hold of it. Creates the folder if needed.
    pub fn hold(&self) -> Result<Held<'_>> {
        let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if h.0 == 0 {
            std::fs::create_dir_all(&self.dir).with_context(|| format!("{}: cannot create", self.dir.display()))?;
            let f = std::fs::File::open(&self.dir).with_context(|| format!("{}: cannot open", self.dir.display()))?;
            f.lock().with_context(|| format!("{}: cannot lock the layout", self.dir.display()))?;
            h.1 = Some(f);
        }
        h.0 += 1;
        Ok(Held(self))
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let hex = digest.strip_prefix("sha256:").filter(|_| crate::reference::is_sha256_digest(digest));
        let hex = hex.ok_or_else(|| anyhow!("{}: unsupported digest `{digest}` (only sha256)", self.describe()))?;
        Ok(self.dir.join("blobs").join("sha256").join(hex))
    }

    /// Open a blob's file (missing: the layout is incomplete, said with the repair).
    fn open_blob(&self, d: &Descriptor) -> Result<std::fs::File> {
        let p = self.blob_path(&d.digest)?;
        std::fs::File::open(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => anyhow!(
                "{}: blob {} is missing, so the layout is incomplete; copy the release into it again (`bundle push SOURCE {}`) or rebuild it",
                self.describe(),
                d.digest,
                self.describe()
            ),
            _ => anyhow!("{}: cannot read blob {}: {e}", self.describe(), d.digest),
        })
    }

    fn read_index(&self) -> Result<(serde_json::Value, Vec<Descriptor>)> {
        let p = self.dir.join("index.json");
        // Read at most one byte over the limit, so a huge index.json is refused without loading it.
        let read = std::fs::File::open(&p).and_then(|f| {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_MANIFEST + 1), &mut b).map(|_| b)
        });
        let b = match read {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.dir.join("oci-layout").exists() {
                    bail!("{}: index.json is missing; the layout is damaged", self.describe());
                }
                return Ok((serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}), Vec::new()));
            }
            Err(e) => return Err(anyhow!("{}: cannot read: {e}", p.display())),
        };
        parse_index(&b, &p.display().to_string())
    }

    fn ensure_layout(&self) -> Result<()> {
        std::fs::create_dir_all(self.dir.join("blobs").join("sha256")).with_context(|| format!("{}: cannot create", self.dir.display()))?;
        let p = self.dir.join("oci-layout");
        if !p.exists() {
            let _held = self.hold()?;
            // A new layout: an empty index first, so the layout is valid from the moment it has `oci-layout`.
            let idx = self.dir.join("index.json");
            if !idx.exists() {
                self.write(&idx, br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#)?;
            }
            self.write(&p, OCI_LAYOUT)?;
        }
        Ok(())
    }

    fn entries(&self) -> Result<Vec<Descriptor>> {
        Ok(self.read_index()?.1)
    }
}

/// Parse an `index.json`: at most 4 MiB, JSON with a `manifests` list of descriptors.
/// Returns the document (to keep unknown fields when rewriting it) and the descriptors.
pub fn parse_index(b: &[u8], what: &str) -> Result<(serde_json::Value, Vec<Descriptor>)> {
    if b.len() as u64 > MAX_MANIFEST {
        bail!("{what}: index.json is over the 4 MiB limit");
    }
    let v: serde_json::Value = serde_json::from_slice(b).with_context(|| format!("{what}: index.json is not JSON"))?;
    let Some(list) = v.get("manifests").and_then(|m| m.as_array()) else {
        bail!("{what}: index.json has no `manifests` list; not an OCI image index");
    };
    let descs = list
        .iter()
        .map(|m| serde_json::from_value(m.clone()).map_err(|e| anyhow!("{what}: index.json: bad descriptor: {e}")))
        .collect::<Result<Vec<Descriptor>>>()?;
    Ok((v, descs))
}

/// Whether an index.json entry can be a tag: an OCI image manifest or index. Other entries are
/// skipped, as containers-image (skopeo, podman) skips them.
fn taggable(d: &Descriptor) -> bool {
    d.media_type == crate::spec::OCI_MANIFEST || d.media_type == OCI_INDEX
}

/// The tags of index.json entries: `org.opencontainers.image.ref.name` of each taggable entry. A
/// name given to two different manifests is ambiguous (readers would disagree on which is meant)
/// and refused, naming both digests.
pub fn named(entries: Vec<Descriptor>, what: &str) -> Result<Vec<(String, Descriptor)>> {
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for d in entries.into_iter().filter(taggable) {
        let Some(t) = d.annotation(ANN_REF_NAME).map(String::from) else { continue };
        match seen.get(&t) {
            Some(first) if *first == d.digest => continue,
            Some(first) => bail!(
                "{what}: index.json names two manifests `{t}` ({first} and {}); the tag is ambiguous, so nothing is read by it: remove one entry",
                d.digest
            ),
            None => {
                seen.insert(t.clone(), d.digest.clone());
                out.push((t, d));
            }
        }
    }
    Ok(out)
}

/// The `kind` annotation `cosign save` puts on the entries of its layouts.
const COSIGN_KIND: &str = "kind";
const COSIGN_IMAGE: &str = "dev.cosignproject.cosign/image";
const COSIGN_SIGS: &str = "dev.cosignproject.cosign/sigs";
const COSIGN_ATTS: &str = "dev.cosignproject.cosign/atts";

/// The cosign `kind` of a tagged entry: `.sig` and `.att` manifests, and a release.
fn cosign_kind(tag: &str, d: &Descriptor) -> Option<&'static str> {
    if tag.ends_with(".sig") {
        Some(COSIGN_SIGS)
    } else if tag.ends_with(".att") {
        Some(COSIGN_ATTS)
    } else if !tag.starts_with("sha256-") && d.media_type == crate::spec::OCI_MANIFEST {
        Some(COSIGN_IMAGE)
    } else {
        None
    }
}

impl Layout {
    /// The one untagged image-manifest entry of a cosign `kind` (None when there is none, or
    /// several: which one would be a guess).
    fn cosign_entry(&self, kind: &str) -> Result<Option<Descriptor>> {
        let found: Vec<Descriptor> = self
            .entries()?
            .into_iter()
            .filter(|e| taggable(e) && e.annotation(ANN_REF_NAME).is_none() && e.annotation(COSIGN_KIND) == Some(kind))
            .collect();
        Ok(if found.len() == 1 { found.into_iter().next() } else { None })
    }
}

impl Store for Layout {
    fn describe(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("oci:{}", self.dir.display()))
    }

    fn resolve(&self, tag: Option<&str>) -> Result<Descriptor> {
        let tags = self.tags()?;
        match tag {
            Some(t) => tags.into_iter().find(|(n, _)| n == t).map(|(_, d)| d).ok_or_else(|| {
                anyhow!("{}: no tag `{t}` in index.json; run `bundle history {}` to list the releases", self.describe(), self.describe())
            }),
            None => {
                let releases: Vec<(String, Descriptor)> =
                    tags.into_iter().filter(|(n, _)| !n.ends_with(".sig") && !n.starts_with("sha256-")).collect();
                match releases.len() {
                    1 => Ok(releases.into_iter().next().expect("one").1),
                    // A layout `cosign save` wrote: its one image, marked by cosign's `kind`.
                    0 if let Some(img) = self.cosign_entry(COSIGN_IMAGE)? => Ok(img),
                    0 => bail!(
                        "{}: the layout holds no release; build one with `bundle build --output {}`",
                        self.describe(),
                        self.describe()
                    ),
                    _ => bail!(
                        "{}: the layout holds {} releases ({}); name one as {}:TAG",
                        self.describe(),
                        releases.len(),
                        crate::yaml::list(releases.iter().map(|(n, _)| n.as_str()), 5),
                        self.describe()
                    ),
                }
            }
        }
    }

    fn blob(&self, d: &Descriptor) -> Result<Vec<u8>> {
        crate::oci::check_claim(&self.describe(), d)?;
        let f = self.open_blob(d)?;
        let mut b = Vec::with_capacity(d.size as usize);
        std::io::Read::read_to_end(&mut std::io::Read::take(f, d.size + 1), &mut b)?;
        crate::oci::check_blob(&self.describe(), d, &b)?;
        Ok(b)
    }

    fn blob_reader(&self, d: &Descriptor) -> Result<Box<dyn std::io::Read + Send + '_>> {
        crate::oci::check_claim(&self.describe(), d)?;
        let f = self.open_blob(d)?;
        Ok(Box::new(crate::oci::Checked::new(&self.describe(), d, std::io::BufReader::with_capacity(1 << 16, f))))
    }

    fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        let p = self.blob_path(&d.digest)?;
        Ok(std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() == d.size))
    }

    /// Content-addressed: the manifest is here when a blob of its digest is (whether or not
    /// index.json lists it); one `stat`, nothing read.
    fn has_manifest(&self, digest: &str) -> Result<bool> {
        // A file of manifest size at most (as resolve_digest reads it); one stat, nothing read.
        let meta = std::fs::metadata(self.blob_path(digest)?);
        Ok(meta.is_ok_and(|m| m.is_file() && m.len() <= crate::oci::MAX_MANIFEST))
    }

    fn put_blob(&self, d: &Descriptor, bytes: &[u8]) -> Result<bool> {
        self.ensure_layout()?;
        if self.has_blob(d)? {
            return Ok(false);
        }
        self.write(&self.blob_path(&d.digest)?, bytes)?;
        Ok(true)
    }

    fn put_manifest(&self, d: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.put_blob(d, bytes).map(|_| ())
    }

    fn lock(&self) -> Result<super::StoreLock<'_>> {
        Ok(super::StoreLock(Some(self.hold()?)))
    }

    fn tag(&self, tag: &str, d: &Descriptor, retag: bool) -> Result<TagOutcome> {
        let _held = self.hold()?;
        self.ensure_layout()?;
        let (mut idx, entries) = self.read_index()?;
        named(entries.clone(), &self.describe())?;
        let list = idx["manifests"].as_array_mut().expect("checked in read_index");
        // The entry that holds the tag now (an entry that is not a manifest is no tag).
        let pos = entries.iter().position(|e| taggable(e) && e.annotation(ANN_REF_NAME) == Some(tag));
        let mut entry = serde_json::to_value(d)?;
        entry["annotations"][ANN_REF_NAME] = serde_json::Value::String(tag.to_string());
        // cosign's `kind`, so `cosign verify --local-image` and `cosign load` find the release
        // and its signatures (cosign reads one image per layout: the first of its kind).
        if let Some(kind) = cosign_kind(tag, d) {
            entry["annotations"][COSIGN_KIND] = serde_json::Value::String(kind.to_string());
        }
        let outcome = match pos {
            Some(i) => {
                let old = list[i]["digest"].as_str().unwrap_or_default().to_string();
                if old == d.digest {
                    return Ok(TagOutcome::Unchanged);
                }
                if !retag {
                    return Err(crate::error::finding(format!(
                        "{}: tag `{tag}` already names {old}; refusing to point it at {} (release tags are immutable; pass --retag to move it anyway)",
                        self.describe(),
                        d.digest
                    )));
                }
                list[i] = entry;
                TagOutcome::Moved(old)
            }
            None => {
                list.push(entry);
                TagOutcome::Created
            }
        };
        let bytes = serde_json::to_vec(&idx)?;
        self.write(&self.dir.join("index.json"), &bytes)?;
        Ok(outcome)
    }

    /// A manifest by digest: from index.json, or any manifest blob in the layout (a release whose
    /// tag has moved stays reachable by digest, as in a registry).
    fn resolve_digest(&self, digest: &str) -> Result<Descriptor> {
        if let Some((_, d)) = self.tags()?.into_iter().find(|(_, d)| d.digest == digest) {
            return Ok(d);
        }
        let p = self.blob_path(digest)?;
        let meta = std::fs::metadata(&p).map_err(|_| anyhow!("{}: no manifest {digest}", self.describe()))?;
        if meta.len() > MAX_MANIFEST {
            bail!("{}: {digest} is not a manifest (over 4 MiB)", self.describe());
        }
        let bytes = std::fs::read(&p)?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| anyhow!("{}: {digest} is not a manifest", self.describe()))?;
        let mt = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or(crate::spec::OCI_MANIFEST);
        let mut d = Descriptor::new(mt, &bytes);
        // Keep the digest asked for: a corrupted blob must fail its digest check when read, not here.
        d.digest = digest.to_string();
        d.artifact_type = v.get("artifactType").and_then(|m| m.as_str()).map(String::from);
        Ok(d)
    }

    fn find_tag(&self, tag: &str) -> Result<Option<Descriptor>> {
        if let Some(d) = self.tags()?.into_iter().find(|(t, _)| t == tag).map(|(_, d)| d) {
            return Ok(Some(d));
        }
        // A layout `cosign save` wrote names no tags: its `.sig` and `.att` manifests are the
        // entries of cosign's kinds, and belong to its one image.
        let kind = match tag.rsplit_once('.') {
            Some((_, "sig")) => COSIGN_SIGS,
            Some((_, "att")) => COSIGN_ATTS,
            _ => return Ok(None),
        };
        match self.cosign_entry(COSIGN_IMAGE)? {
            Some(img) if format!("{}.{}", img.digest.replace(':', "-"), &tag[tag.len() - 3..]) == tag => self.cosign_entry(kind),
            _ => Ok(None),
        }
    }

    /// index.json entries that are image manifests whose `subject` is `digest` (each read from
    /// the layout, digest-checked).
    fn referrers(&self, digest: &str) -> Result<Vec<super::referrers::Listed>> {
        let place = format!("{} (index.json)", self.describe());
        let mut out: Vec<super::referrers::Listed> = Vec::new();
        for e in self.entries()? {
            if e.media_type != crate::spec::OCI_MANIFEST || e.digest == digest || out.iter().any(|o| o.desc.digest == e.digest) {
                continue;
            }
            let bytes = self.blob(&e)?;
            let subject = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.pointer("/subject/digest").and_then(|d| d.as_str()).map(String::from));
            if subject.as_deref() == Some(digest) {
                out.push(super::referrers::Listed { desc: e, place: place.clone() });
            }
        }
        Ok(out)
    }

    fn add_referrer(&self, _subject: &str, referrer: &Descriptor) -> Result<bool> {
        self.add_entry(super::referrers::listing_entry(referrer), false)
    }

    fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        named(self.entries()?, &self.describe())
    }
}

impl Layout {
    /// Name an image in index.json (a component image kept by `bundle copy`): an entry for the
    /// manifest or index `d` with `org.opencontainers.image.ref.name` = `name` and the annotation
    /// given. Nothing is written when that entry (same name, same digest) is there.
    pub fn put_image_entry(&self, d: &Descriptor, name: &str, key: &str, value: &str) -> Result<()> {
        let mut e = d.clone();
        e.annotations = Some([(ANN_REF_NAME.to_string(), name.to_string()), (key.to_string(), value.to_string())].into());
        self.add_entry(e, true).map(|_| ())
    }

    /// Append an index.json entry, unless one with its digest (and, when it is named, its
    /// `org.opencontainers.image.ref.name`) is there. With `replace`, it replaces an entry of the
    /// same name that points elsewhere: for image entries, whose names are made from the digest
    /// they name, so another digest under the name is stale or forged, and two would make the
    /// name ambiguous for every later read. (Never for referrers: their annotations come from the
    /// source and must not move a name.) Returns whether it was added.
    fn add_entry(&self, entry: Descriptor, replace: bool) -> Result<bool> {
        let _held = self.hold()?;
        self.ensure_layout()?;
        let (mut idx, entries) = self.read_index()?;
        let name = entry.annotation(ANN_REF_NAME);
        if entries.iter().any(|e| e.digest == entry.digest && (name.is_none() || e.annotation(ANN_REF_NAME) == name)) {
            return Ok(false);
        }
        let list = idx["manifests"].as_array_mut().expect("checked in read_index");
        if let (Some(name), true) = (name, replace) {
            list.retain(|e| e["annotations"][ANN_REF_NAME].as_str() != Some(name));
        }
        list.push(serde_json::to_value(&entry)?);
        self.write(&self.dir.join("index.json"), &serde_json::to_vec(&idx)?)?;
        Ok(true)
    }
}
