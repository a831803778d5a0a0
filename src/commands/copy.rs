use crate::relocate::{ImagesTo, Options, Signing};
use crate::store::StoreRef;
use crate::store::registry::Transport;
use anyhow::Result;
use std::path::PathBuf;

pub struct Request {
    pub with_images: bool,
    pub images_to: Option<String>,
    pub images_from: Option<String>,
    pub key: Option<PathBuf>,
    pub keyless: Option<crate::signing::Keyless>,
    pub password_file: Option<PathBuf>,
    pub identity: Option<String>,
    pub format: crate::signing::Format,
    pub retag: bool,
    pub json: bool,
}

pub fn run(source: &str, destination: &str, q: Request, t: &Transport) -> Result<()> {
    // Everything that can be refused is refused before any work.
    let src_ref = StoreRef::parse(source)?;
    let dst_ref = StoreRef::parse(destination)?;
    let images_to = q.images_to.as_deref().map(|s| ImagesTo::parse(s, "--images-to")).transpose()?;
    let images_from = q.images_from.as_deref().map(|s| ImagesTo::parse(s, "--images-from")).transpose()?;
    if q.keyless.is_some() && !q.with_images {
        anyhow::bail!("--keyless signs the relocation record, which only --with-images writes");
    }
    if q.keyless.is_some() && !q.format.bundle() {
        anyhow::bail!("--keyless signs in the bundle format; --format legacy is for keys");
    }
    let signer = match &q.key {
        Some(k) => Some(crate::signing::load_private_key(k, &crate::signing::password(q.password_file.as_deref(), k, false)?)?),
        None => None,
    };
    let sign = match (&signer, &q.keyless) {
        (Some(s), _) => Some(Signing::Key(s)),
        (None, Some(k)) => Some(Signing::Keyless(k)),
        _ => None,
    };
    let o = Options {
        with_images: q.with_images,
        images_to,
        images_from,
        retag: q.retag,
        sign,
        identity: q.identity,
        format: q.format,
        verbose: t.verbose,
    };
    let r = crate::relocate::copy(&src_ref, &dst_ref, &o, t)?;
    super::warn_moved(&r.release);
    if q.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let what = if r.release.tag_update == "unchanged" { " (already there)" } else { "" };
    println!("copied {} {}{what}\n{}", r.name, r.version, r.release.reference);
    for i in &r.images {
        println!("image {} -> {}", i.original, i.relocated);
    }
    let a = r.attached;
    eprintln!("release: {} legacy signature(s), {} legacy attestation(s), {} referrer(s) added", a.signatures, a.attestations, a.referrers);
    eprintln!(
        "{} blob(s) uploaded ({} bytes), {} already present, {} mounted",
        r.moved.uploaded_blobs, r.moved.uploaded_bytes, r.moved.skipped_blobs, r.moved.mounted_blobs
    );
    if r.relocation.is_some() {
        let how = if r.relocation_signed { "signed" } else { "unsigned: pass --key or --keyless to sign it" };
        eprintln!("relocation record stored with the release ({how}); `bundle values {destination} --relocated` emits the new places");
    }
    Ok(())
}
