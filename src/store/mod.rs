//! Where artifacts live. One trait, [`Store`], with an OCI image-layout backend
//! ([`layout::Layout`]); every command takes a [`StoreRef`] string.
//!
//! A tag is resolved to a digest once ([`Store::resolve`]); everything after uses the digest.

pub mod archive;
pub mod attached;
pub mod auth;
pub mod layout;
pub mod memo;
pub mod referrers;
pub mod registry;

use crate::oci::Descriptor;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// A parsed store reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreRef {
    /// `oci:DIR[:TAG]` or `oci:DIR@sha256:…`; with `archive`, `oci-archive:FILE[:TAG]` (the
    /// layout as one tar file, `dir` naming the file).
    Layout { dir: PathBuf, tag: Option<String>, digest: Option<String>, archive: bool },
    /// `REGISTRY/REPOSITORY[:TAG][@sha256:…]`
    Registry { registry: String, repository: String, tag: Option<String>, digest: Option<String> },
}

impl StoreRef {
    pub fn parse(s: &str) -> Result<StoreRef> {
        for (prefix, archive) in [("oci:", false), ("oci-archive:", true)] {
            if let Some(rest) = s.strip_prefix(prefix) {
                return parse_layout(s, rest, archive);
            }
        }
        let first = s.split('/').next().unwrap_or("");
        let has_host = s.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
        if !has_host {
            bail!(
                "`{s}`: name the registry host (e.g. registry.example.com/{s} or docker.io/{s}), or write oci:DIR[:TAG] for an OCI layout folder"
            );
        }
        if s.ends_with('/') || s.contains("//") {
            bail!("`{s}`: the repository name is empty");
        }
        let img: crate::reference::ImageRef = s.parse().map_err(|e: anyhow::Error| anyhow::anyhow!("invalid reference {e}"))?;
        Ok(StoreRef::Registry { registry: img.registry, repository: img.repository, tag: img.tag, digest: img.digest })
    }

    pub fn tag(&self) -> Option<&str> {
        match self {
            StoreRef::Layout { tag, .. } | StoreRef::Registry { tag, .. } => tag.as_deref(),
        }
    }

    pub fn digest(&self) -> Option<&str> {
        match self {
            StoreRef::Layout { digest, .. } | StoreRef::Registry { digest, .. } => digest.as_deref(),
        }
    }

    /// The same store, naming one manifest by digest (and no tag).
    pub fn pinned(&self, digest: &str) -> StoreRef {
        match self {
            StoreRef::Layout { dir, archive, .. } => {
                StoreRef::Layout { dir: dir.clone(), tag: None, digest: Some(digest.to_string()), archive: *archive }
            }
            StoreRef::Registry { registry, repository, .. } => StoreRef::Registry {
                registry: registry.clone(),
                repository: repository.clone(),
                tag: None,
                digest: Some(digest.to_string()),
            },
        }
    }

    /// The same store without a tag or digest: `oci:DIR` or `REGISTRY/REPOSITORY`.
    pub fn base(&self) -> String {
        match self {
            StoreRef::Layout { dir, archive: false, .. } => format!("oci:{}", dir.display()),
            StoreRef::Layout { dir, archive: true, .. } => format!("oci-archive:{}", dir.display()),
            StoreRef::Registry { registry, repository, .. } => format!("{registry}/{repository}"),
        }
    }
}

/// The rest of `oci:DIR[:TAG]`, `oci:DIR@sha256:…` (and the same for `oci-archive:`).
fn parse_layout(s: &str, rest: &str, archive: bool) -> Result<StoreRef> {
    let what = if archive { "oci-archive:FILE[:TAG]" } else { "oci:DIR[:TAG]" };
    if rest.is_empty() {
        bail!("`{s}`: the {} is missing; write {what}", if archive { "archive file" } else { "layout folder" });
    }
    if let Some((dir, d)) = rest.rsplit_once('@') {
        if !crate::reference::is_sha256_digest(d) {
            bail!("`{s}`: `{d}` is not a sha256 digest");
        }
        return Ok(StoreRef::Layout { dir: dir.into(), tag: None, digest: Some(d.to_string()), archive });
    }
    if let Some((dir, tag)) = rest.rsplit_once(':')
        && !dir.is_empty()
        && !tag.contains('/')
    {
        if !crate::reference::valid_tag(tag) {
            bail!("`{s}`: `{tag}` is not a valid tag (letters, digits, `_.-`, at most 128)");
        }
        return Ok(StoreRef::Layout { dir: dir.into(), tag: Some(tag.to_string()), digest: None, archive });
    }
    Ok(StoreRef::Layout { dir: rest.into(), tag: None, digest: None, archive })
}

impl std::fmt::Display for StoreRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base())?;
        if let Some(t) = self.tag() {
            write!(f, ":{t}")?;
        }
        if let Some(d) = self.digest() {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// What happened when a tag was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    Created,
    /// The tag already pointed at this digest.
    Unchanged,
    /// `--retag` moved the tag; the old digest is given.
    Moved(String),
}

/// `Sync`: a signature check asks several places of one store at once (one thread each).
pub trait Store: Sync {
    /// A human-readable name of the store, for messages.
    fn describe(&self) -> String;
    /// Resolve a tag (or the store's only release) to a manifest descriptor, once.
    fn resolve(&self, tag: Option<&str>) -> Result<Descriptor>;
    /// Read a blob and check its digest and size against the descriptor.
    fn blob(&self, d: &Descriptor) -> Result<Vec<u8>>;
    /// Read several blobs, each checked as [`Store::blob`] does, results in the order given. A
    /// registry fetches them concurrently (one round trip's wait instead of one per blob).
    fn blobs(&self, ds: &[&Descriptor]) -> Vec<Result<Vec<u8>>> {
        ds.iter().map(|d| self.blob(d)).collect()
    }
    /// A blob as a stream: its bytes, then an error (a finding, see [`crate::oci::io_error`]) at
    /// the end unless they match the descriptor's digest and size. Memory does not grow with the
    /// blob (a registry spools it to a temporary file).
    fn blob_reader(&self, d: &Descriptor) -> Result<Box<dyn std::io::Read + Send + '_>>;
    /// Several blob streams, in the order given (a registry fetches them concurrently).
    fn blob_readers(&self, ds: &[&Descriptor]) -> Vec<Result<Box<dyn std::io::Read + Send + '_>>> {
        ds.iter().map(|d| self.blob_reader(d)).collect()
    }
    fn has_blob(&self, d: &Descriptor) -> Result<bool>;
    /// Whether the store holds a manifest by digest, without reading it (a registry answers a
    /// HEAD; a layout checks its blob file exists and is no larger than a manifest may be). Errors stay errors.
    fn has_manifest(&self, digest: &str) -> Result<bool>;
    /// Store a blob the caller found missing (`has_blob`); returns false when it turned out to be present.
    fn put_blob(&self, d: &Descriptor, bytes: &[u8]) -> Result<bool>;
    /// Store several blobs the caller found missing (one at a time unless the backend does better).
    /// The bytes are shared, not copied: a registry uploads them as they are.
    fn put_blobs(&self, blobs: &[(&Descriptor, bytes::Bytes)]) -> Result<()> {
        for (d, b) in blobs {
            self.put_blob(d, b)?;
        }
        Ok(())
    }
    /// The registry behind this store, when it is one: registry-to-registry copies stream each
    /// blob from one to the other ([`registry::Registry::stream_blobs_from`]).
    fn as_registry(&self) -> Option<&registry::Registry> {
        None
    }
    /// Store manifest bytes under their digest.
    fn put_manifest(&self, d: &Descriptor, bytes: &[u8]) -> Result<()>;
    /// Point `tag` at the manifest. Refuses to move an existing tag unless `retag`.
    fn tag(&self, tag: &str, d: &Descriptor, retag: bool) -> Result<TagOutcome>;
    /// Every tag and the manifest it names.
    fn tags(&self) -> Result<Vec<(String, Descriptor)>>;
    /// The tag names alone (a registry lists them in one request, without resolving each).
    fn tag_names(&self) -> Result<Vec<String>> {
        Ok(self.tags()?.into_iter().map(|(t, _)| t).collect())
    }
    /// The manifest a tag names, or None when the tag does not exist (errors stay errors).
    fn find_tag(&self, tag: &str) -> Result<Option<Descriptor>>;
    /// Hold the store's writer lock until the guard drops, around a read-modify-write of tags or
    /// signatures. A layout locks its folder (other `bundle` processes wait); a registry has no
    /// lock (as with cosign, two signers racing on one registry can lose a signature).
    fn lock(&self) -> Result<StoreLock<'_>> {
        Ok(StoreLock(None))
    }
    /// The manifests the store itself lists as referrers of `digest` (OCI 1.1): a registry's
    /// referrers API (nothing when it has none), a layout's index.json entries whose manifest has
    /// that `subject`. The referrers tag `sha256-<hex>` is read apart ([`referrers::read_fallback`]).
    /// Unchecked: readers fetch each manifest and check its `subject`.
    fn referrers(&self, digest: &str) -> Result<Vec<referrers::Listed>>;
    /// Make a referrer manifest, stored already ([`Store::put_manifest`]), findable from its
    /// subject: a registry with the referrers API lists it by itself, one without gets the
    /// referrers tag; a layout lists it in index.json. Returns false when it was listed already.
    fn add_referrer(&self, subject: &str, referrer: &Descriptor) -> Result<bool>;
    /// A manifest descriptor for a digest.
    fn resolve_digest(&self, digest: &str) -> Result<Descriptor> {
        self.tags()?
            .into_iter()
            .find(|(_, d)| d.digest == digest)
            .map(|(_, d)| d)
            .ok_or_else(|| anyhow::anyhow!("{}: no manifest {digest}", self.describe()))
    }
}

/// A held store lock ([`Store::lock`]); released on drop.
pub struct StoreLock<'a>(pub Option<layout::Held<'a>>);

/// An opened store: the layout or registry behind a reference.
pub enum Opened {
    Layout(layout::Layout),
    Registry(registry::Registry),
    Archive(archive::Archive),
}

impl Opened {
    pub fn store(&self) -> &dyn Store {
        match self {
            Opened::Layout(l) => l,
            Opened::Registry(r) => r,
            Opened::Archive(a) => a.layout(),
        }
    }

    /// Make what was written final: an archive is written out (atomically) from its unpacked
    /// layout; a layout and a registry are final already. Commands that write call it last.
    pub fn commit(&self) -> Result<()> {
        match self {
            Opened::Archive(a) => a.commit(),
            _ => Ok(()),
        }
    }
}

pub fn open(r: &StoreRef, t: &registry::Transport) -> Result<Opened> {
    match r {
        StoreRef::Layout { dir, archive: true, .. } => Ok(Opened::Archive(archive::Archive::open(dir)?)),
        StoreRef::Layout { dir, .. } => Ok(Opened::Layout(layout::Layout::new(dir.clone()))),
        StoreRef::Registry { registry, repository, .. } => Ok(Opened::Registry(registry::Registry::open(registry, repository, t)?)),
    }
}

/// Resolve a reference to a manifest descriptor (by digest or tag), once: everything after uses
/// the digest.
pub fn resolve(store: &dyn Store, r: &StoreRef) -> Result<Descriptor> {
    match r.digest() {
        Some(d) => store.resolve_digest(d),
        None => store.resolve(r.tag()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_layout_refs() {
        assert_eq!(
            StoreRef::parse("oci:out/x:1.0.0").unwrap(),
            StoreRef::Layout { dir: "out/x".into(), tag: Some("1.0.0".into()), digest: None, archive: false }
        );
        assert_eq!(
            StoreRef::parse("oci:out/x").unwrap(),
            StoreRef::Layout { dir: "out/x".into(), tag: None, digest: None, archive: false }
        );
        assert_eq!(
            StoreRef::parse("oci-archive:a/r.tar:1.0.0").unwrap(),
            StoreRef::Layout { dir: "a/r.tar".into(), tag: Some("1.0.0".into()), digest: None, archive: true }
        );
        assert_eq!(StoreRef::parse("oci-archive:r.tar").unwrap().to_string(), "oci-archive:r.tar");
        assert!(StoreRef::parse("oci-archive:").is_err());
        assert!(StoreRef::parse("oci:").is_err());
        assert!(StoreRef::parse("oci:x:bad tag").is_err());
        assert_eq!(
            StoreRef::parse("localhost:5000/acme/docproc:1.0.0").unwrap(),
            StoreRef::Registry {
                registry: "localhost:5000".into(),
                repository: "acme/docproc".into(),
                tag: Some("1.0.0".into()),
                digest: None
            }
        );
        assert!(StoreRef::parse("acme/docproc:1").is_err());
        assert!(StoreRef::parse("localhost:5000/UPPER:tag").is_err());
        assert!(StoreRef::parse("localhost:5000/").is_err());
        assert!(StoreRef::parse("localhost:5000/x@sha256:123").is_err());
    }
}

/// What a copy did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyReport {
    pub reference: String,
    pub digest: String,
    pub tag: String,
    pub tag_update: &'static str,
    #[serde(skip)]
    pub moved_from: Option<String>,
    pub uploaded_blobs: u64,
    pub uploaded_bytes: u64,
    pub skipped_blobs: u64,
    pub mounted_blobs: u64,
}

/// Blobs moved by a copy: uploaded (and their bytes), already present, mounted.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Moved {
    pub uploaded_blobs: u64,
    pub uploaded_bytes: u64,
    pub skipped_blobs: u64,
    pub mounted_blobs: u64,
}

impl Moved {
    pub fn add(&mut self, o: Moved) {
        self.uploaded_blobs += o.uploaded_blobs;
        self.uploaded_bytes += o.uploaded_bytes;
        self.skipped_blobs += o.skipped_blobs;
        self.mounted_blobs += o.mounted_blobs;
    }
}

/// Refuse, before anything is written, a tag that already names another release (unless
/// `retag`): [`Store::tag`] would refuse it last, after the content was copied.
pub fn check_tag_free(st: &dyn Store, tag: &str, desc: &Descriptor, retag: bool) -> Result<()> {
    match st.find_tag(tag)? {
        Some(d) if d.digest != desc.digest && !retag => Err(crate::error::finding(format!(
            "{}: tag `{tag}` already names {}; refusing to put {} there (release tags are immutable; pass --retag to move it anyway)",
            st.describe(),
            d.digest,
            desc.digest
        ))),
        _ => Ok(()),
    }
}

/// The report of a copy whose tag was set with `outcome`.
pub fn report(d: &dyn Store, desc: &Descriptor, tag: &str, outcome: TagOutcome, moved: Moved) -> CopyReport {
    let (tag_update, moved_from) = match &outcome {
        TagOutcome::Created => ("created", None),
        TagOutcome::Unchanged => ("unchanged", None),
        TagOutcome::Moved(old) => ("moved", Some(old.clone())),
    };
    CopyReport {
        reference: format!("{}:{tag}@{}", d.describe(), desc.digest),
        digest: desc.digest.clone(),
        tag: tag.to_string(),
        tag_update,
        moved_from,
        uploaded_blobs: moved.uploaded_blobs,
        uploaded_bytes: moved.uploaded_bytes,
        skipped_blobs: moved.skipped_blobs,
        mounted_blobs: moved.mounted_blobs,
    }
}

/// Copy the manifest `desc` and everything it references from `src` to `dst`, in the order that
/// keeps a reader safe: blobs (skipping those present, mounting across repositories of the same
/// registry where it can), then the manifest by digest. The caller attaches signatures and sets
/// the tag last ([`check_tag_free`] first, [`Store::tag`] at the end, [`report`] for both).
/// `known` may hold bytes already in memory (a fresh build, hashed when packed); others are read
/// from `src`, whose `blob` checks them. Nothing is hashed twice or read back.
pub fn copy_content(
    src: &dyn Store,
    src_ref: Option<&StoreRef>,
    desc: &Descriptor,
    manifest: &[u8],
    known: &[(Descriptor, std::sync::Arc<Vec<u8>>)],
    dst: &Opened,
) -> Result<Moved> {
    let m = crate::oci::ImageManifest::from_bytes(manifest, &format!("{}@{}", src.describe(), desc.digest))?;
    let blobs: Vec<&Descriptor> = std::iter::once(&m.config).chain(&m.layers).collect();
    let moved = copy_blobs(src, src_ref, &blobs, known, dst)?;
    dst.store().put_manifest(desc, manifest)?;
    Ok(moved)
}

/// Bytes already in memory (a fresh build's), shared with an upload without a copy.
struct Shared(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// How many bytes of blobs a copy holds in memory at once, at most (beyond one larger blob).
pub const COPY_BATCH_BYTES: u64 = 160 << 20;

/// Copy blobs: skip those present, mount what we can (a registry source on the destination's
/// registry), then fetch and upload the rest in batches of at most [`COPY_BATCH_BYTES`] (beyond
/// one larger blob): a registry source fetches a batch concurrently ([`Store::blobs`]) and a
/// registry destination uploads it concurrently ([`Store::put_blobs`]). Memory does not grow with
/// the number or total size of the blobs.
pub fn copy_blobs(
    src: &dyn Store,
    src_ref: Option<&StoreRef>,
    blobs: &[&Descriptor],
    known: &[(Descriptor, std::sync::Arc<Vec<u8>>)],
    dst: &Opened,
) -> Result<Moved> {
    let d = dst.store();
    let mut moved = Moved::default();
    let mut todo: Vec<&Descriptor> = Vec::new();
    for (i, b) in blobs.iter().enumerate() {
        if blobs[..i].iter().any(|x| x.digest == b.digest) {
            continue;
        }
        if d.has_blob(b)? {
            moved.skipped_blobs += 1;
            continue;
        }
        if let (Opened::Registry(r), Some(StoreRef::Registry { registry, repository, .. })) = (dst, src_ref)
            && *registry == r.registry
            && *repository != r.repository
            && r.mount(b, repository)?
        {
            moved.mounted_blobs += 1;
            continue;
        }
        todo.push(b);
    }
    if let (Opened::Registry(r), Some(from), true) = (dst, src.as_registry(), known.is_empty()) {
        r.stream_blobs_from(from, &todo)?;
        moved.uploaded_blobs += todo.len() as u64;
        moved.uploaded_bytes += todo.iter().map(|b| b.size).sum::<u64>();
        return Ok(moved);
    }
    let mut start = 0;
    while start < todo.len() {
        let mut end = start + 1;
        let mut bytes = todo[start].size;
        while end < todo.len() && end - start < 8 && bytes + todo[end].size <= COPY_BATCH_BYTES {
            bytes += todo[end].size;
            end += 1;
        }
        let batch = &todo[start..end];
        let fetch: Vec<&Descriptor> = batch.iter().copied().filter(|b| !known.iter().any(|(k, _)| k.digest == b.digest)).collect();
        let mut fetched = src.blobs(&fetch).into_iter();
        let mut data: Vec<(&Descriptor, bytes::Bytes)> = Vec::new();
        for b in batch {
            let bytes = match known.iter().find(|(k, _)| k.digest == b.digest) {
                Some((_, bytes)) => bytes::Bytes::from_owner(Shared(bytes.clone())),
                None => bytes::Bytes::from(fetched.next().expect("one result per blob asked")?),
            };
            moved.uploaded_blobs += 1;
            moved.uploaded_bytes += bytes.len() as u64;
            data.push((b, bytes));
        }
        d.put_blobs(&data)?;
        start = end;
    }
    Ok(moved)
}
