//! OCI image-spec types we write and read: descriptors, image manifests, the layout index.
//! We serialise them ourselves so the manifest bytes (and so the digest) are under our control.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platform: Option<serde_json::Value>,
}

impl Descriptor {
    pub fn new(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: crate::hashing::sha256_digest(bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: None,
            platform: None,
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(|s| s.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Refuse a blob whose descriptor claims more than we accept ([`MAX_MANIFEST`] for a manifest or
/// index, [`MAX_BLOB`] otherwise), before fetching it. The claim comes from a manifest or index:
/// an input error here, a failed check in `verify`.
pub fn check_claim(store: &str, d: &Descriptor) -> anyhow::Result<()> {
    let (what, limit) =
        if crate::spec::MANIFEST_TYPES.contains(&d.media_type.as_str()) { ("manifest", MAX_MANIFEST) } else { ("blob", MAX_BLOB) };
    if d.size > limit {
        anyhow::bail!("{store}: {what} {} is {} bytes, over the {} MiB limit", d.digest, d.size, limit >> 20);
    }
    Ok(())
}

/// Check the length of bytes against their descriptor (a finding when it differs), for readers
/// whose transport has checked the digest already.
pub fn check_size(store: &str, d: &Descriptor, bytes: &[u8]) -> anyhow::Result<()> {
    if bytes.len() as u64 != d.size {
        return Err(crate::error::finding(format!("{store}: blob {} has {} bytes, its descriptor says {}", d.digest, bytes.len(), d.size)));
    }
    Ok(())
}

/// Check bytes against their descriptor: the size, then the sha256. A mismatch is a check finding
/// (exit 1), named after `store` ("oci:DIR" or "REGISTRY/REPO").
pub fn check_blob(store: &str, d: &Descriptor, bytes: &[u8]) -> anyhow::Result<()> {
    check_size(store, d, bytes)?;
    let got = crate::hashing::sha256_digest(bytes);
    if got != d.digest {
        return Err(crate::error::finding(format!("{store}: blob {} is corrupt: its content hashes to {got}", d.digest)));
    }
    Ok(())
}

/// Most bytes a manifest may have (as distribution enforces).
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Most bytes a blob we read may have (release layers are small; a claim over this is refused
/// before any byte is fetched).
pub const MAX_BLOB: u64 = 512 << 20;
/// Most layers we accept in a manifest we read.
pub const MAX_LAYERS: usize = 1024;

impl ImageManifest {
    /// The exact bytes we hash and store: compact JSON in field order.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serialises")
    }

    pub fn from_bytes(b: &[u8], what: &str) -> anyhow::Result<ImageManifest> {
        if b.len() as u64 > MAX_MANIFEST {
            anyhow::bail!("{what}: manifest is {} bytes, over the 4 MiB limit", b.len());
        }
        let m: ImageManifest = serde_json::from_slice(b).map_err(|e| anyhow::anyhow!("{what}: not an OCI image manifest: {e}"))?;
        if m.schema_version != 2 {
            anyhow::bail!("{what}: schemaVersion {} (expected 2)", m.schema_version);
        }
        if m.layers.len() > MAX_LAYERS {
            anyhow::bail!("{what}: {} layers, over the limit of {MAX_LAYERS}", m.layers.len());
        }
        Ok(m)
    }
}

/// A blob read as a stream: yields the bytes and, at their end, fails (a [`crate::error::Finding`]
/// inside the I/O error, see [`io_error`]) unless they match the descriptor's size and sha256.
pub struct Checked<R> {
    inner: std::io::Take<R>,
    hasher: sha2::Sha256,
    n: u64,
    desc: Descriptor,
    store: String,
    done: bool,
}

impl<R: std::io::Read> Checked<R> {
    pub fn new(store: &str, d: &Descriptor, inner: R) -> Checked<R> {
        use sha2::Digest;
        Checked { inner: inner.take(d.size + 1), hasher: sha2::Sha256::new(), n: 0, desc: d.clone(), store: store.to_string(), done: false }
    }
}

impl<R: std::io::Read> std::io::Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        if n > 0 && self.n <= self.desc.size {
            self.hasher.update(&buf[..n]);
            return Ok(n);
        }
        if self.done {
            return Ok(0);
        }
        let wrong = if self.n > self.desc.size {
            format!("has more than the {} bytes its descriptor says", self.desc.size)
        } else if self.n < self.desc.size {
            format!("has {} bytes, its descriptor says {}", self.n, self.desc.size)
        } else {
            let got = format!("sha256:{}", crate::hashing::hex(&std::mem::take(&mut self.hasher).finalize()));
            if got == self.desc.digest {
                self.done = true;
                return Ok(0);
            }
            format!("is corrupt: its content hashes to {got}")
        };
        Err(std::io::Error::other(crate::error::Finding(format!("{}: blob {} {wrong}", self.store, self.desc.digest))))
    }
}

/// An I/O error as an anyhow error, keeping a [`crate::error::Finding`] inside it a finding.
pub fn io_error(e: std::io::Error) -> anyhow::Error {
    if e.get_ref().is_some_and(|i| i.is::<crate::error::Finding>()) {
        let inner = e.into_inner().expect("checked");
        return anyhow::Error::new(*inner.downcast::<crate::error::Finding>().expect("checked"));
    }
    anyhow::Error::new(e)
}
