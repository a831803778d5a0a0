use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use anyhow::{Result, bail};

pub fn run(source: &str, destination: &str, retag: bool, json: bool, t: &Transport) -> Result<()> {
    let src_ref = StoreRef::parse(source)?;
    let dst_ref = StoreRef::parse(destination)?;
    if dst_ref.digest().is_some() {
        bail!("`{destination}`: a destination names a repository and optionally a tag, not a digest");
    }
    let src = store::open(&src_ref, t)?;
    // Resolve the source once; from here on only its digest is used.
    let desc = store::resolve(src.store(), &src_ref)?;
    let (manifest_bytes, record) = {
        let bytes = src.store().blob(&desc)?;
        let (_, record) = crate::artifact::read(src.store(), &desc)?;
        (bytes, record)
    };
    let tag = dst_ref.tag().or(src_ref.tag()).map(String::from).unwrap_or_else(|| record.version.clone());
    let dst = store::open(&dst_ref, t)?;
    let report = store::copy(src.store(), Some(&src_ref), &desc, &manifest_bytes, &[], &dst, &tag, retag)?;
    // Everything attached travels with the release (merged with what the destination has), as
    // `cosign copy` does: legacy .sig and .att, and every referrer (bundles, attestations, SBOMs).
    let attached = crate::store::attached::copy_attached(src.store(), dst.store(), &desc.digest)?;
    if attached.any() {
        eprintln!(
            "copied {} legacy signature(s), {} legacy attestation(s), {} referrer(s)",
            attached.signatures, attached.attestations, attached.referrers
        );
    }
    super::warn_moved(&report);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let what = match report.tag_update {
            "unchanged" => " (already there)",
            _ => "",
        };
        println!("pushed {} {}{what}\n{}", record.name, record.version, report.reference);
        eprintln!(
            "{} blob(s) uploaded ({} bytes), {} already present, {} mounted",
            report.uploaded_blobs, report.uploaded_bytes, report.skipped_blobs, report.mounted_blobs
        );
    }
    Ok(())
}
