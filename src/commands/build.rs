use crate::cli::Input;
use crate::store::registry::Transport;
use crate::store::{self, CopyReport, StoreRef};
use anyhow::Result;

/// How `build` signs: a key (its password file, and the signing config for --tlog-upload) or keylessly, and whether it attests provenance.
pub struct Signing {
    pub key: Option<(std::path::PathBuf, Option<std::path::PathBuf>, Option<sigstore_sign::trust_root::SigningConfig>)>,
    pub keyless: Option<crate::signing::Keyless>,
    pub provenance: bool,
}

/// Attest `provenance` (when there is one) for the release in `st` as `identity`.
fn attest_provenance(
    st: &store::Opened,
    desc: &crate::oci::Descriptor,
    identity: &str,
    provenance: Option<&serde_json::Value>,
    with: crate::trust::attest::SignWith,
) -> Result<()> {
    let Some(p) = provenance else { return Ok(()) };
    let format = match with {
        crate::trust::attest::SignWith::Key(..) => crate::signing::DEFAULT_FORMAT,
        crate::trust::attest::SignWith::Keyless(_) => crate::signing::Format::Bundle,
    };
    crate::trust::attest::attach(st.store(), desc, identity, crate::slsa::PROVENANCE_V1, p, with, format)?;
    eprintln!("attested SLSA provenance v1 in {} as {}", st.store().describe(), crate::signing::repository_of(identity));
    Ok(())
}

/// What `build` signs with, at each place the release is written.
struct Signs<'a> {
    signer: Option<&'a crate::signing::Signer>,
    keyless: Option<&'a crate::signing::Keyless>,
    provenance: Option<&'a serde_json::Value>,
    tlog: Option<&'a sigstore_sign::trust_root::SigningConfig>,
}

impl Signs<'_> {
    /// Sign (and attest provenance for) the release in `st` as `identity`. `deployed_from`: the
    /// place the release is deployed from, where keyless signs and --tlog-upload logs (the
    /// signature and the provenance).
    fn sign(&self, st: &store::Opened, desc: &crate::oci::Descriptor, identity: &str, deployed_from: bool) -> Result<()> {
        use crate::trust::attest::SignWith;
        if let Some(s) = self.signer {
            let log = if deployed_from { self.tlog } else { None };
            let added = super::sign::sign_in(st, desc, identity, &Default::default(), s, crate::signing::DEFAULT_FORMAT, log)?;
            print_logged(&added);
            attest_provenance(st, desc, identity, self.provenance, SignWith::Key(s, log))?;
        }
        if let (Some(k), true) = (self.keyless, deployed_from) {
            let s = crate::signing::attach_keyless(st.store(), desc, identity, &Default::default(), k)?;
            eprintln!("signed keylessly as {} ({}), logged in {}", s.identity, s.issuer, s.logged());
            attest_provenance(st, desc, identity, self.provenance, SignWith::Keyless(k))?;
        }
        Ok(())
    }
}

pub fn run(input: &Input, output: Option<&str>, push: Option<&str>, how: Signing, retag: bool, json: bool, t: &Transport) -> Result<()> {
    let Signing { key: signing, keyless, provenance } = how;
    // Parse the references before any work, so a typo costs nothing.
    let parsed = output.map(StoreRef::parse).transpose()?;
    let push_ref = push.map(StoreRef::parse).transpose()?;
    if let Some(StoreRef::Layout { .. }) = push_ref {
        anyhow::bail!("--push takes a registry reference (REGISTRY/REPO[:TAG]); use --output for an OCI layout");
    }
    // Load the signing key before any work: a wrong password should cost nothing.
    let signer = match &signing {
        Some((key, pwf, _)) => {
            let pw = crate::signing::password(pwf.as_deref(), key, false)?;
            Some(crate::signing::load_private_key(key, &pw)?)
        }
        None => None,
    };
    let mut c = crate::collect::collect(&input.dir, &super::options(input, t))?;
    super::print_notes(&c.notes);
    super::verify_images(&mut c, input, t)?;
    let out = match parsed {
        Some(r) => r,
        None => super::default_output(&input.dir, &c.release.name)?,
    };
    // Version discipline against the previous release, before anything is written.
    let candidates: Vec<StoreRef> = push_ref.iter().cloned().chain(std::iter::once(out.clone())).collect();
    let signing_pem = signer.as_ref().map(|s| s.public_pem.as_str());
    let (findings, previous) = super::discipline(&mut c, input, &candidates, signing_pem, t)?;
    super::print_previous(previous.as_ref(), &candidates);
    super::print_findings(&findings);
    gate(&findings, input, &mut c.release)?;
    let packed = crate::artifact::pack(&c)?;
    let provenance = provenance.then(|| crate::slsa::provenance(&c.release, &crate::slsa::ci(&|v| std::env::var(v).ok())));
    let provenance = provenance.as_ref();
    let mdesc = packed.descriptor();
    // Both places are opened, and their tags checked, before anything is written.
    let layout = store::open(&out, t)?;
    let tag = out.tag().map(String::from).unwrap_or_else(|| c.release.version.clone());
    store::check_tag_free(layout.store(), &tag, &mdesc, retag)?;
    let pushed = push_ref.as_ref().map(|pr| -> Result<_> { Ok((store::open(pr, t)?, pr)) }).transpose()?;
    let ptag = push_ref.as_ref().map(|pr| pr.tag().map(String::from).unwrap_or_else(|| c.release.version.clone()));
    if let (Some((dst, _)), Some(ptag)) = (&pushed, &ptag) {
        store::check_tag_free(dst.store(), ptag, &mdesc, retag)?;
    }
    let signs =
        Signs { signer: signer.as_ref(), keyless: keyless.as_ref(), provenance, tlog: signing.as_ref().and_then(|(_, _, c)| c.as_ref()) };
    let mut reports: Vec<CopyReport> = Vec::new();
    // The layout first (the embedded default), then the registry: content, then signatures and
    // attestations, and each tag last. Keyless signs once, where the release is deployed from
    // (the registry when pushing: a token is good for one certificate, and each signature is a
    // Rekor entry); --tlog-upload logs one key signature, there too.
    let with_tag = match &out {
        StoreRef::Layout { dir, archive, .. } => {
            StoreRef::Layout { dir: dir.clone(), tag: Some(tag.clone()), digest: None, archive: *archive }
        }
        other => other.clone(),
    };
    let layout_identity = super::sign::default_identity(&with_tag, &c.release.name);
    let moved = store::copy_content(layout.store(), None, &mdesc, &packed.manifest, &packed.blobs, &layout)?;
    signs.sign(&layout, &mdesc, &layout_identity, pushed.is_none())?;
    reports.push(store::report(layout.store(), &mdesc, &tag, layout.store().tag(&tag, &mdesc, retag)?, moved));
    layout.commit()?;
    if let (Some((dst, pr)), Some(ptag)) = (&pushed, &ptag) {
        let moved = store::copy_content(layout.store(), Some(&out), &mdesc, &packed.manifest, &packed.blobs, dst)?;
        if let StoreRef::Registry { registry, repository, .. } = pr {
            // Signed by tag, as skopeo's default policy (matchRepoDigestOrExact) expects.
            signs.sign(dst, &mdesc, &format!("{registry}/{repository}:{ptag}"), true)?;
        }
        reports.push(store::report(dst.store(), &mdesc, ptag, dst.store().tag(ptag, &mdesc, retag)?, moved));
    }
    for r in &reports {
        super::warn_moved(r);
    }
    print_built(&c.release, &packed.digest, &reports, json)
}

/// Say where --tlog-upload logged the bundle signature.
fn print_logged(added: &super::sign::Added) {
    if let Some(i) = added.log_index {
        eprintln!("logged the bundle signature in the transparency log at index {i}");
    }
}

/// Error-level findings against the previous release stop the build, unless --allow-breaking
/// gives a reason (recorded in the release).
fn gate(findings: &[crate::discipline::Finding], input: &Input, release: &mut crate::release::Release) -> Result<()> {
    let errors = findings.iter().filter(|f| f.level == crate::discipline::Level::Error).count();
    if errors > 0 {
        match &input.allow_breaking {
            None => {
                return Err(crate::error::finding(format!(
                    "{errors} error-level finding(s) against the previous release; nothing was written (fix them, or pass --allow-breaking REASON)"
                )));
            }
            Some(reason) => {
                eprintln!(
                    "warning: building despite {errors} error-level finding(s): --allow-breaking {reason:?} is recorded in the release"
                );
                release.allow_breaking = Some(reason.clone());
            }
        }
    }
    Ok(())
}

/// What was built and where: text, or the JSON report.
fn print_built(release: &crate::release::Release, digest: &str, reports: &[CopyReport], json: bool) -> Result<()> {
    if json {
        let v = serde_json::json!({
            "name": release.name,
            "version": release.version,
            "digest": digest,
            "reference": reports[0].reference,
            "tag": reports[0].tag,
            "tagUpdate": reports[0].tag_update,
            "pushed": reports.get(1),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let note = if reports[0].tag_update == "unchanged" { " (unchanged)" } else { "" };
        println!("built {} {}{note}", release.name, release.version);
        for r in reports {
            println!("{}", r.reference);
        }
    }
    Ok(())
}
