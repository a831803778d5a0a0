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
    dst.commit()?;
    super::warn_moved(&report);
    say_identities(dst.store(), &dst_ref, &desc.digest, &tag)?;
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

/// Say which identities the signatures at the destination name, and how to verify there: a
/// release signed in a layout (as its name) or another repository verifies here only with
/// `--identity`, or after signing it again in this repository.
fn say_identities(dst: &dyn crate::store::Store, dst_ref: &StoreRef, digest: &str, tag: &str) -> Result<()> {
    let Some((_, layers)) = crate::trust::legacy::read_signatures(dst, digest)? else { return Ok(()) };
    let mut names: Vec<String> = layers
        .iter()
        .filter_map(|l| crate::trust::legacy::parse_payload(&l.payload).ok())
        .map(|c| crate::reference::repository_of(&c.docker_reference).to_string())
        .collect();
    names.sort();
    names.dedup();
    let here = match dst_ref {
        StoreRef::Registry { registry, repository, .. } => format!("{registry}/{repository}"),
        StoreRef::Layout { .. } => String::new(),
    };
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    eprintln!("the signatures here name {}", crate::yaml::list(&quoted, 5));
    if !names.contains(&here) {
        let ids: String = names.iter().map(|n| format!(" --identity {n}")).collect();
        eprintln!(
            "verify here with: bundle verify {}:{tag} --key PUB{ids}\n  (or sign it again here: bundle sign {}:{tag} --key KEY)",
            dst_ref.base(),
            dst_ref.base()
        );
    }
    Ok(())
}
