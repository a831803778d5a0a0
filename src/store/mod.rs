//! Where artifacts live. One trait, [`Store`], with an OCI image-layout backend
//! ([`layout::Layout`]); every command takes a [`StoreRef`] string.
//!
//! A tag is resolved to a digest once ([`Store::resolve`]); everything after uses the digest.

pub mod layout;

use crate::oci::Descriptor;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// A parsed store reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreRef {
    /// `oci:DIR[:TAG]` or `oci:DIR@sha256:…`
    Layout {
        dir: PathBuf,
        tag: Option<String>,
        digest: Option<String>,
    },
}

impl StoreRef {
    pub fn parse(s: &str) -> Result<StoreRef> {
        if let Some(rest) = s.strip_prefix("oci:") {
            if rest.is_empty() {
                bail!("`{s}`: the layout folder is missing; write oci:DIR[:TAG]");
            }
            if let Some((dir, d)) = rest.rsplit_once('@') {
                if !crate::images::is_sha256_digest(d) {
                    bail!("`{s}`: `{d}` is not a sha256 digest");
                }
                return Ok(StoreRef::Layout {
                    dir: dir.into(),
                    tag: None,
                    digest: Some(d.to_string()),
                });
            }
            if let Some((dir, tag)) = rest.rsplit_once(':') {
                if !dir.is_empty() && !tag.contains('/') {
                    if !crate::images::valid_tag(tag) {
                        bail!(
                            "`{s}`: `{tag}` is not a valid tag (letters, digits, `_.-`, at most 128)"
                        );
                    }
                    return Ok(StoreRef::Layout {
                        dir: dir.into(),
                        tag: Some(tag.to_string()),
                        digest: None,
                    });
                }
            }
            return Ok(StoreRef::Layout {
                dir: rest.into(),
                tag: None,
                digest: None,
            });
        }
        bail!(
            "`{s}`: unsupported reference; this version of bundle reads and writes OCI image layouts, written oci:DIR[:TAG] or oci:DIR@sha256:…"
        )
    }

    pub fn tag(&self) -> Option<&str> {
        match self {
            StoreRef::Layout { tag, .. } => tag.as_deref(),
        }
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

pub trait Store {
    /// A human-readable name of the store, for messages.
    fn describe(&self) -> String;
    /// Resolve a tag (or the store's only release) to a manifest descriptor, once.
    fn resolve(&self, tag: Option<&str>) -> Result<Descriptor>;
    /// Read a blob and check its digest and size against the descriptor.
    fn blob(&self, d: &Descriptor) -> Result<Vec<u8>>;
    fn has_blob(&self, d: &Descriptor) -> Result<bool>;
    /// Store a blob; returns false when it was already present.
    fn put_blob(&self, d: &Descriptor, bytes: &[u8]) -> Result<bool>;
    /// Store manifest bytes under their digest.
    fn put_manifest(&self, d: &Descriptor, bytes: &[u8]) -> Result<()>;
    /// Point `tag` at the manifest. Refuses to move an existing tag unless `retag`.
    fn tag(&self, tag: &str, d: &Descriptor, retag: bool) -> Result<TagOutcome>;
    /// Every tag and the manifest it names.
    fn tags(&self) -> Result<Vec<(String, Descriptor)>>;
}

pub fn open(r: &StoreRef) -> Result<Box<dyn Store>> {
    match r {
        StoreRef::Layout { dir, .. } => Ok(Box::new(layout::Layout::new(dir.clone()))),
    }
}

/// Resolve a reference to a manifest descriptor (by digest or tag), once.
pub fn resolve(store: &dyn Store, r: &StoreRef) -> Result<Descriptor> {
    match r {
        StoreRef::Layout {
            digest: Some(d), ..
        } => {
            let found = store
                .tags()?
                .into_iter()
                .find(|(_, desc)| &desc.digest == d);
            match found {
                Some((_, desc)) => Ok(desc),
                None => bail!("{}: no manifest {d} in its index.json", store.describe()),
            }
        }
        _ => store.resolve(r.tag()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_layout_refs() {
        assert_eq!(
            StoreRef::parse("oci:out/x:1.0.0").unwrap(),
            StoreRef::Layout {
                dir: "out/x".into(),
                tag: Some("1.0.0".into()),
                digest: None
            }
        );
        assert_eq!(
            StoreRef::parse("oci:out/x").unwrap(),
            StoreRef::Layout {
                dir: "out/x".into(),
                tag: None,
                digest: None
            }
        );
        assert!(StoreRef::parse("oci:").is_err());
        assert!(StoreRef::parse("oci:x:bad tag").is_err());
    }
}
