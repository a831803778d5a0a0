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
    let mut tar = tar::Builder::new(gz);
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
    let gz = tar.into_inner()?;
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

/// Read a release manifest and its record from a store, checking media types, digests and sizes.
pub fn read(store: &dyn crate::store::Store, desc: &Descriptor) -> Result<(ImageManifest, Release)> {
    let what = format!("{}@{}", store.describe(), desc.digest);
    if desc.size > crate::oci::MAX_MANIFEST {
        anyhow::bail!("{what}: manifest is {} bytes, over the 4 MiB limit", desc.size);
    }
    let bytes = store.blob(desc)?;
    let m = ImageManifest::from_bytes(&bytes, &what)?;
    if m.artifact_type.as_deref() != Some(ARTIFACT_TYPE) || m.config.media_type != RECORD_MEDIA_TYPE {
        anyhow::bail!(
            "{what}: not a relbundle release (artifactType {:?}, config {}); expected {ARTIFACT_TYPE}",
            m.artifact_type.as_deref().unwrap_or("none"),
            m.config.media_type
        );
    }
    if m.config.size > 64 << 20 {
        anyhow::bail!("{what}: release record is {} bytes, over the 64 MiB limit", m.config.size);
    }
    let record = Release::from_bytes(&store.blob(&m.config)?).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    Ok((m, record))
}
