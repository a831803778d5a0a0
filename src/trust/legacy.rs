//! cosign's tag-based signatures: one manifest tagged `sha256-<hex>.sig` whose layers are
//! simple-signing payloads, each with its signature in the `dev.cosignproject.cosign/signature`
//! annotation. Read here as signed entities for [`super::verifier`]; written by [`crate::signing`].

use crate::signing::{MAX_PAYLOAD, MAX_SIGNATURES, SIGNATURE_ANNOTATION, sig_tag};
use anyhow::{Result, anyhow};

/// The parts of a simple-signing payload a verifier checks.
#[derive(Debug, Clone)]
pub struct Claims {
    pub docker_reference: String,
    pub digest: String,
    pub kind: String,
    /// The payload's `optional` object (cosign's annotations, `-a`).
    pub optional: serde_json::Map<String, serde_json::Value>,
}

pub fn parse_payload(b: &[u8]) -> Result<Claims> {
    let v: serde_json::Value = serde_json::from_slice(b).map_err(|e| anyhow!("payload is not JSON: {e}"))?;
    let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(String::from);
    Ok(Claims {
        docker_reference: s("/critical/identity/docker-reference")
            .ok_or_else(|| anyhow!("payload lacks critical.identity.docker-reference"))?,
        digest: s("/critical/image/docker-manifest-digest")
            .ok_or_else(|| anyhow!("payload lacks critical.image.docker-manifest-digest"))?,
        kind: s("/critical/type").ok_or_else(|| anyhow!("payload lacks critical.type"))?,
        optional: v.get("optional").and_then(|o| o.as_object()).cloned().unwrap_or_default(),
    })
}

/// One layer of a `.sig` manifest: its descriptor, payload bytes and signature annotation.
#[derive(Debug, Clone)]
pub struct SigLayer {
    pub desc: crate::oci::Descriptor,
    pub payload: Vec<u8>,
    pub signature: Option<String>,
}

impl SigLayer {
    pub fn same_as(&self, other: &SigLayer) -> bool {
        self.desc.digest == other.desc.digest && self.signature == other.signature
    }
}

/// The signatures stored for a manifest digest: None when there is no `.sig` tag. Store errors
/// stay errors (a registry fault is never read as "unsigned"); payloads are digest-checked. A
/// malformed signature manifest is a finding: whoever wrote it, it signs nothing.
pub fn read_signatures(st: &dyn crate::store::Store, digest: &str) -> Result<Option<(crate::oci::Descriptor, Vec<SigLayer>)>> {
    read_tagged(st, &sig_tag(digest), MAX_PAYLOAD, &|_| true)
}

/// The layers of a cosign tag-based attachment manifest (`.sig`, `.att`) that `keep` selects by
/// descriptor, each blob read once and at most `max_layer` bytes: None without the tag.
pub fn read_tagged(
    st: &dyn crate::store::Store,
    tag: &str,
    max_layer: u64,
    keep: &dyn Fn(&crate::oci::Descriptor) -> bool,
) -> Result<Option<(crate::oci::Descriptor, Vec<SigLayer>)>> {
    let Some(d) = st.find_tag(tag)? else { return Ok(None) };
    let what = format!("{}:{tag}", st.describe());
    let m = crate::oci::ImageManifest::from_bytes(&st.blob(&d)?, &what).map_err(|e| crate::error::finding(format!("{e:#}")))?;
    if m.layers.len() > MAX_SIGNATURES {
        return Err(crate::error::finding(format!("{what}: {} layers, over the limit of {MAX_SIGNATURES}", m.layers.len())));
    }
    let kept: Vec<crate::oci::Descriptor> = m.layers.into_iter().filter(|l| keep(l)).collect();
    if let Some(l) = kept.iter().find(|l| l.size > max_layer) {
        return Err(crate::error::finding(format!("{what}: a layer is {} bytes, over the {} KiB limit", l.size, max_layer >> 10)));
    }
    // Signers of the same identity share a payload: each payload blob is fetched once, all of
    // them together (a registry fetches them concurrently).
    let mut distinct: Vec<&crate::oci::Descriptor> = Vec::new();
    for l in &kept {
        if !distinct.iter().any(|p| p.digest == l.digest && p.size == l.size) {
            distinct.push(l);
        }
    }
    let mut payloads: Vec<(String, Vec<u8>)> = Vec::new();
    for (l, b) in distinct.iter().zip(st.blobs(&distinct)) {
        payloads.push((l.digest.clone(), b?));
    }
    let out = kept
        .into_iter()
        .map(|l| {
            let payload = payloads.iter().find(|(d, _)| *d == l.digest).map(|(_, b)| b.clone()).unwrap_or_default();
            let signature = l.annotation(SIGNATURE_ANNOTATION).map(String::from);
            SigLayer { desc: l, payload, signature }
        })
        .collect();
    Ok(Some((d, out)))
}
