//! What travels with a release when it is copied: everything attached to its digest, merged with
//! what the destination holds already (never replacing it).
//!
//! * cosign's tag-based attachments: `sha256-<hex>.sig` (signatures) and `sha256-<hex>.att`
//!   (attestations), each one manifest whose layers are merged (a layer the destination has, with
//!   the same annotations, is not added twice);
//! * OCI 1.1 referrers (Sigstore bundles, attestations, SBOMs, anything with a `subject`), copied
//!   by digest and listed at the destination the way it lists referrers (the referrers API,
//!   the referrers tag, a layout's index.json);
//! * and, the same way, what is attached to those: a signature of an attestation, an SBOM's
//!   signature (to a depth of [`MAX_DEPTH`]).

use super::Store;
use crate::oci::{Descriptor, ImageManifest};
use anyhow::Result;

/// How deep attachments of attachments are followed.
pub const MAX_DEPTH: usize = 3;

/// What a copy of attachments added at the destination.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Copied {
    /// Layers added to `.sig` manifests.
    pub signatures: usize,
    /// Layers added to `.att` manifests.
    pub attestations: usize,
    /// Referrer manifests newly listed.
    pub referrers: usize,
}

impl Copied {
    pub fn any(&self) -> bool {
        self.signatures + self.attestations + self.referrers > 0
    }
}

/// Copy everything attached to `digest` in `src` to `dst` (which holds the manifest already).
pub fn copy_attached(src: &dyn Store, dst: &dyn Store, digest: &str) -> Result<Copied> {
    let mut out = Copied::default();
    let mut seen: Vec<String> = Vec::new();
    walk(src, dst, digest, 0, &mut out, &mut seen)?;
    Ok(out)
}

fn walk(src: &dyn Store, dst: &dyn Store, digest: &str, depth: usize, out: &mut Copied, seen: &mut Vec<String>) -> Result<()> {
    if depth > MAX_DEPTH || seen.iter().any(|s| s == digest) {
        return Ok(());
    }
    seen.push(digest.to_string());
    let mut children: Vec<String> = Vec::new();
    out.signatures += crate::signing::copy_signatures(src, dst, digest)?;
    if let Some(d) = src.find_tag(&crate::signing::sig_tag(digest))? {
        children.push(d.digest);
    }
    let att = format!("{}.att", digest.replace(':', "-"));
    if let Some((added, d)) = merge_tagged(src, dst, &att)? {
        out.attestations += added;
        children.push(d);
    }
    // Referrers: only those whose manifest really names `digest` as its subject.
    let found = crate::trust::referrers::find(src, digest)?;
    for r in &found.referrers {
        copy_manifest(src, dst, &r.desc)?;
        if dst.add_referrer(digest, &crate::signing::referrer_descriptor(&r.manifest, &r.desc))? {
            out.referrers += 1;
        }
        children.push(r.desc.digest.clone());
    }
    for c in children {
        walk(src, dst, &c, depth + 1, out, seen)?;
    }
    Ok(())
}

/// Copy one image manifest and its blobs by digest (no tag), skipping what the destination has.
pub fn copy_manifest(src: &dyn Store, dst: &dyn Store, desc: &Descriptor) -> Result<ImageManifest> {
    let bytes = src.blob(desc)?;
    let m = ImageManifest::from_bytes(&bytes, &format!("{}@{}", src.describe(), desc.digest))?;
    for b in std::iter::once(&m.config).chain(&m.layers) {
        if !dst.has_blob(b)? {
            let data = src.blob(b)?;
            dst.put_blob(b, &data)?;
        }
    }
    dst.put_manifest(desc, &bytes)?;
    Ok(m)
}

/// Merge the tag-based attachment manifest `tag` (cosign's `.att`) from `src` into `dst`:
/// copied as it is when the destination has none, else its layers the destination lacks are
/// appended. Returns the layers added and the destination's manifest digest; None without the tag.
fn merge_tagged(src: &dyn Store, dst: &dyn Store, tag: &str) -> Result<Option<(usize, String)>> {
    let Some(sd) = src.find_tag(tag)? else { return Ok(None) };
    let _lock = dst.lock()?;
    let Some(dd) = dst.find_tag(tag)? else {
        let m = copy_manifest(src, dst, &sd)?;
        dst.tag(tag, &sd, true)?;
        return Ok(Some((m.layers.len(), sd.digest)));
    };
    let what = |s: &dyn Store| format!("{}:{tag}", s.describe());
    let sm = ImageManifest::from_bytes(&src.blob(&sd)?, &what(src))?;
    let mut dm = ImageManifest::from_bytes(&dst.blob(&dd)?, &what(dst))?;
    let before = dm.layers.len();
    for l in &sm.layers {
        if dm.layers.iter().any(|x| x.digest == l.digest && x.annotations == l.annotations) {
            continue;
        }
        if !dst.has_blob(l)? {
            let data = src.blob(l)?;
            dst.put_blob(l, &data)?;
        }
        dm.layers.push(l.clone());
    }
    let added = dm.layers.len() - before;
    if added == 0 {
        return Ok(Some((0, dd.digest)));
    }
    // cosign's config for an attachment manifest lists the layers (verifiers ignore it).
    let config = crate::signing::sig_config(&dm.layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>());
    let cd = Descriptor::new(crate::signing::SIG_CONFIG_MEDIA_TYPE, &config);
    if !dst.has_blob(&cd)? {
        dst.put_blob(&cd, &config)?;
    }
    dm.config = cd;
    let bytes = dm.to_bytes();
    let md = Descriptor::new(crate::spec::OCI_MANIFEST, &bytes);
    dst.put_manifest(&md, &bytes)?;
    dst.tag(tag, &md, true)?;
    Ok(Some((added, md.digest)))
}
