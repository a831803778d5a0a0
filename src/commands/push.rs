use crate::store::StoreRef;
use crate::store::registry::Transport;
use anyhow::{Result, bail};

pub fn run(source: &str, destination: &str, retag: bool, json: bool, t: &Transport) -> Result<()> {
    let src_ref = StoreRef::parse(source)?;
    let dst_ref = StoreRef::parse(destination)?;
    if dst_ref.digest().is_some() {
        bail!("`{destination}`: a destination names a repository and optionally a tag, not a digest");
    }
    // `bundle copy` without images: the release, then everything attached to it (merged with
    // what the destination has, as `cosign copy` does: legacy .sig and .att, every referrer),
    // then — last — the tag.
    let o = crate::relocate::Options {
        with_images: false,
        images_to: None,
        images_from: None,
        retag,
        sign: None,
        identity: None,
        format: crate::signing::DEFAULT_FORMAT,
        verbose: t.verbose,
    };
    let (r, dst) = crate::relocate::copy_opened(&src_ref, &dst_ref, &o, t)?;
    let (report, attached, record) = (&r.release, r.attached, (&r.name, &r.version));
    if attached.any() {
        eprintln!(
            "copied {} legacy signature(s), {} legacy attestation(s), {} referrer(s)",
            attached.signatures, attached.attestations, attached.referrers
        );
    }
    super::warn_moved(report);
    say_identities(dst.store(), &dst_ref, &report.digest, &report.tag)?;
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        let what = match report.tag_update {
            "unchanged" => " (already there)",
            _ => "",
        };
        println!("pushed {} {}{what}\n{}", record.0, record.1, report.reference);
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
