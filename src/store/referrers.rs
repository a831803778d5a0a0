//! OCI 1.1 referrers: manifests whose `subject` names another manifest (Sigstore bundles,
//! attestations, SBOMs). A registry with the referrers API lists them at
//! `GET /v2/<repo>/referrers/<digest>`; one without it (distribution 2.8) gets the referrers tag
//! schema: the tag `sha256-<hex>` holds an image index of their descriptors, kept by the writers
//! (read, append, write). A layout lists them in index.json, as entries without a tag.
//!
//! Nothing here trusts a listing: readers fetch each listed manifest and check its `subject`
//! ([`crate::trust::referrers`]); a fallback tag that is not an image index is a finding.

use super::Store;
use crate::oci::Descriptor;
use crate::spec::{OCI_INDEX, OCI_MANIFEST};
use anyhow::{Result, bail};

/// A manifest listed as a referrer, and where it was listed (for reports).
#[derive(Debug, Clone)]
pub struct Listed {
    pub desc: Descriptor,
    pub place: String,
}

/// The referrers tag schema's tag for a digest: `sha256-<hex>`.
pub fn fallback_tag(digest: &str) -> String {
    digest.replace(':', "-")
}

/// The index the fallback tag of `digest` names, and its entries; None without the tag. A tag
/// that names anything but an image index (GitLab resolves `sha256-<hex>` to the subject itself)
/// is a finding: it lists nothing.
pub fn read_fallback(st: &dyn Store, digest: &str) -> Result<Option<(Descriptor, Vec<Descriptor>)>> {
    let tag = fallback_tag(digest);
    let Some(d) = st.find_tag(&tag)? else { return Ok(None) };
    let what = format!("{}:{tag}", st.describe());
    if d.media_type != OCI_INDEX {
        return Err(crate::error::finding(format!(
            "{what}: the referrers tag names a {} ({}), not an image index of referrers; it lists nothing",
            d.media_type, d.digest
        )));
    }
    let bytes = st.blob(&d)?;
    let (_, entries) = super::layout::parse_index(&bytes, &what).map_err(|e| crate::error::finding(format!("{e:#}")))?;
    Ok(Some((d, entries)))
}

/// The fallback tag's entries as listings.
pub fn fallback_listing(st: &dyn Store, digest: &str) -> Result<Vec<Listed>> {
    let place = format!("{}:{} (referrers tag)", st.describe(), fallback_tag(digest));
    Ok(read_fallback(st, digest)?
        .map(|(_, e)| e)
        .unwrap_or_default()
        .into_iter()
        .map(|desc| Listed { desc, place: place.clone() })
        .collect())
}

/// Append `referrer` to the fallback index of `subject` (read, append, write, under the store's
/// lock). Returns false when it is listed already. Refuses to replace a tag that is not an index.
pub fn append_fallback(st: &dyn Store, subject: &str, referrer: &Descriptor) -> Result<bool> {
    let _lock = st.lock()?;
    let tag = fallback_tag(subject);
    let mut entries = match read_fallback(st, subject) {
        Ok(Some((_, e))) => e,
        Ok(None) => Vec::new(),
        Err(e) => bail!("{e:#}; refusing to overwrite it"),
    };
    if entries.iter().any(|e| e.digest == referrer.digest) {
        return Ok(false);
    }
    entries.push(listing_entry(referrer));
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let bytes = serde_json::to_vec(&index)?;
    let d = Descriptor::new(OCI_INDEX, &bytes);
    st.put_manifest(&d, &bytes)?;
    // The referrers tag is mutable by design: every new referrer moves it.
    st.tag(&tag, &d, true)?;
    Ok(true)
}

/// The descriptor a listing holds for a referrer manifest: its type, digest, size, artifactType
/// and annotations (as the OCI spec asks), nothing else; never a tag name
/// (`org.opencontainers.image.ref.name`), which in a layout's index.json would name it.
pub fn listing_entry(referrer: &Descriptor) -> Descriptor {
    let mut annotations = referrer.annotations.clone();
    if let Some(a) = annotations.as_mut() {
        a.remove(crate::spec::ANN_REF_NAME);
    }
    Descriptor {
        media_type: OCI_MANIFEST.to_string(),
        digest: referrer.digest.clone(),
        size: referrer.size,
        artifact_type: referrer.artifact_type.clone(),
        annotations,
        platform: None,
    }
}
