//! Packing a release into one OCI image manifest: the release record as config, and four layers
//! (bundle.yaml, prompts, contracts, DVC pointers). See `spec/README.md` § Artifact.
//!
//! Reproducible by construction: tar entries sorted by path, regular files only, mtime/uid/gid 0,
//! empty user and group names, mode 0644; gzip at a fixed level with no timestamp or file name.

use crate::collect::Collected;
use crate::oci::{Descriptor, ImageManifest};
use crate::release::Release;
use crate::spec::*;
use anyhow::Result;
use flate2::Compression;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A packed artifact: the manifest bytes and every blob it references.
pub struct Packed {
    pub manifest: Vec<u8>,
    pub digest: String,
    /// (descriptor, bytes) for the config and each layer.
    pub blobs: Vec<(Descriptor, Arc<Vec<u8>>)>,
}

impl Packed {
    /// The manifest's descriptor (as an index entry or a push would name it).
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::new(OCI_MANIFEST, &self.manifest);
        d.artifact_type = Some(ARTIFACT_TYPE.to_string());
        d
    }
}

/// Build a deterministic tar.gz of (path, bytes) entries.
pub fn tar_gz(entries: &[(String, Arc<Vec<u8>>)]) -> Result<Vec<u8>> {
    let mut sorted: Vec<&(String, Arc<Vec<u8>>)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let gz = flate2::GzBuilder::new().mtime(0).operating_system(255).write(Vec::new(), Compression::new(GZIP_LEVEL));
    // tar writes each header, body and padding separately; flate2 zero-fills its whole 32 KiB
    // output buffer on every write, so thousands of small writes cost more than the compression
    // (callgrind: a third of `build` at 200 components). One buffer in front makes them few.
    let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, gz));
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, bytes) in sorted {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(bytes.len() as u64);
        h.set_mode(TAR_FILE_MODE);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("")?;
        h.set_groupname("")?;
        tar.append_data(&mut h, path, &bytes[..])?;
    }
    let gz = tar.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    Ok(gz.finish()?)
}

fn titled(media_type: &str, title: &str, bytes: &[u8]) -> Descriptor {
    let mut d = Descriptor::new(media_type, bytes);
    d.annotations = Some(BTreeMap::from([(ANN_TITLE.to_string(), title.to_string())]));
    d
}

/// Pack collected facts into an artifact.
pub fn pack(c: &Collected) -> Result<Packed> {
    let record = Arc::new(c.release.canonical_bytes());
    let config = Descriptor::new(RECORD_MEDIA_TYPE, &record);
    let layers: Vec<(Descriptor, Arc<Vec<u8>>)> = vec![
        (titled(BUNDLE_FILE_MEDIA_TYPE, TITLE_BUNDLE_FILE, &c.bundle_file), c.bundle_file.clone()),
        {
            let b = tar_gz(&c.prompts)?;
            (titled(PROMPTS_MEDIA_TYPE, TITLE_PROMPTS, &b), Arc::new(b))
        },
        {
            let b = tar_gz(&c.contracts)?;
            (titled(CONTRACTS_MEDIA_TYPE, TITLE_CONTRACTS, &b), Arc::new(b))
        },
        {
            let b = tar_gz(&c.dvc)?;
            (titled(DVC_MEDIA_TYPE, TITLE_DVC, &b), Arc::new(b))
        },
    ];
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: Some(ARTIFACT_TYPE.to_string()),
        config: config.clone(),
        layers: layers.iter().map(|(d, _)| d.clone()).collect(),
        subject: None,
        annotations: Some(manifest_annotations(&c.release)),
    };
    let bytes = manifest.to_bytes();
    let digest = crate::hashing::sha256_digest(&bytes);
    let mut blobs = vec![(config, record)];
    blobs.extend(layers);
    Ok(Packed { manifest: bytes, digest, blobs })
}

pub fn manifest_annotations(r: &Release) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert(ANN_VERSION.to_string(), r.version.clone());
    a.insert(ANN_CREATED.to_string(), r.created.clone());
    a.insert(ANN_TITLE.to_string(), r.name.clone());
    a.insert(ANN_RELEASE_NAME.to_string(), r.name.clone());
    if let Some(c) = &r.source.commit {
        a.insert(ANN_REVISION.to_string(), c.clone());
    }
    if let Some(s) = &r.source.repository {
        a.insert(ANN_SOURCE.to_string(), s.clone());
    }
    a
}

/// Most bytes a release record may have.
pub const MAX_RECORD: u64 = 64 << 20;

/// Everything wrong with a manifest's shape as a release, before any blob is read: its artifact and
/// config types, the four titled layers in order (spec/artifact.json), and the size limits. Empty
/// when it is a well-formed release manifest.
pub fn problems(m: &ImageManifest) -> Vec<String> {
    let mut p = Vec::new();
    if m.artifact_type.as_deref() != Some(ARTIFACT_TYPE) || m.config.media_type != RECORD_MEDIA_TYPE {
        p.push(format!(
            "not a relbundle release: artifactType {}, config {}; expected {ARTIFACT_TYPE} with config {RECORD_MEDIA_TYPE}",
            m.artifact_type.as_deref().unwrap_or("none"),
            m.config.media_type
        ));
    }
    if m.config.size > MAX_RECORD {
        p.push(format!("the release record is {} bytes, over the {} MiB limit", m.config.size, MAX_RECORD >> 20));
    }
    let want = [
        (TITLE_BUNDLE_FILE, BUNDLE_FILE_MEDIA_TYPE),
        (TITLE_PROMPTS, PROMPTS_MEDIA_TYPE),
        (TITLE_CONTRACTS, CONTRACTS_MEDIA_TYPE),
        (TITLE_DVC, DVC_MEDIA_TYPE),
    ];
    if m.layers.len() != want.len() {
        p.push(format!("{} layers; a release has exactly {} (spec/artifact.json)", m.layers.len(), want.len()));
    }
    for (i, (l, (title, media_type))) in m.layers.iter().zip(want).enumerate() {
        let got = l.annotation(ANN_TITLE).unwrap_or("(none)");
        if got != title || l.media_type != media_type {
            p.push(format!(
                "layer {}: title `{}` ({}); expected `{title}` ({media_type}) (spec/artifact.json)",
                i + 1,
                crate::yaml::shorten(got),
                l.media_type
            ));
        }
        if l.size > crate::oci::MAX_BLOB {
            p.push(format!("layer {} `{title}` is {} bytes, over the {} MiB limit", i + 1, l.size, crate::oci::MAX_BLOB >> 20));
        }
    }
    p
}

/// Read a release manifest and its record from a store, checking its shape ([`problems`]),
/// digests and sizes. A malformed release is an input error (exit 2), named after the reference;
/// `verify` reports the same problems as failed checks instead.
pub fn read(store: &dyn crate::store::Store, desc: &Descriptor) -> Result<(ImageManifest, Release)> {
    parse(store, desc, &store.blob(desc)?)
}

/// [`read`] from manifest bytes already read (and checked) from `store`: only the record is read.
pub fn parse(store: &dyn crate::store::Store, desc: &Descriptor, bytes: &[u8]) -> Result<(ImageManifest, Release)> {
    let what = format!("{}@{}", store.describe(), desc.digest);
    let m = ImageManifest::from_bytes(bytes, &what)?;
    let p = problems(&m);
    if !p.is_empty() {
        anyhow::bail!("{what}: {}", p.join("; "));
    }
    let record = Release::from_bytes(&store.blob(&m.config)?).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    Ok((m, record))
}

/// The layer paths that belong to one component.
pub fn component_paths(c: &crate::release::ComponentRecord) -> std::collections::BTreeSet<String> {
    let mut s = std::collections::BTreeSet::new();
    s.extend(c.prompts.iter().map(|p| p.path.clone()));
    for p in &c.provides {
        s.insert(p.contract.clone());
        s.extend(p.refs.iter().cloned());
    }
    for m in &c.models {
        s.insert(m.origin.file.clone());
        let dir = crate::paths::parent(&m.origin.file);
        s.insert(if dir.is_empty() { "dvc.yaml".into() } else { format!("{dir}/dvc.yaml") });
        if m.md5.ends_with(".dir") {
            let kind = if m.hash == "md5" { crate::hashing::Md5Kind::Plain } else { crate::hashing::Md5Kind::Dos2Unix };
            let p = crate::dvc::Project::object_path(std::path::Path::new(".dvc/cache"), &m.md5, kind);
            s.insert(p.to_string_lossy().into_owned());
        }
    }
    s
}

/// Every path the release record names, in any layer: what may be extracted from a release.
pub fn named_paths(r: &Release) -> std::collections::BTreeSet<String> {
    r.components.iter().flat_map(component_paths).collect()
}

/// Refuse a layer entry the release record does not name: a file nothing vouches for (hidden, for
/// instance, in a second gzip member) must not reach a reader.
pub fn check_named(named: &std::collections::BTreeSet<String>, store: &str, title: &str, path: &str) -> Result<()> {
    if named.contains(path) {
        return Ok(());
    }
    Err(crate::error::finding(format!(
        "{store}: layer {title} holds `{}`, which the release record does not name; refusing a file nothing vouches for",
        crate::yaml::shorten(path)
    )))
}
