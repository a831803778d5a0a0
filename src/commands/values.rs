use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use anyhow::{Result, bail};
use std::path::Path;

/// `--env ENV [--policy FILE]`: the environment the values are for.
#[derive(Clone, Copy, Default)]
pub struct Gate<'a> {
    pub env: Option<&'a str>,
    pub policy: Option<&'a Path>,
}

pub fn run(
    reference: &str,
    output: Option<&Path>,
    map: Option<&Path>,
    relocated: bool,
    trust: &crate::cli::Trust,
    gate: Gate,
    json: bool,
    t: &Transport,
) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let st = store::open(&r, t)?;
    // Resolve once: the values pin this digest, whatever the tag does later.
    let desc = store::resolve(st.store(), &r)?;
    let pinned = r.pinned(&desc.digest);
    match (gate.env, gate.policy) {
        (Some(env), Some(file)) => {
            // The environment's policy decides, and it must say who may promote to it.
            let o = super::policy_options(&r, trust, file, env, t)?;
            let promotion = crate::trust::promotion::PREDICATE_TYPE;
            if !o.rules.as_ref().is_some_and(|l| l.attestations.iter().any(|a| a.predicate_type == promotion)) {
                bail!(
                    "{}: environment `{env}` requires no {promotion} attestation, so it cannot say whether a release was promoted there; add one under environments.{env}.attestations",
                    file.display()
                );
            }
            super::require_verified(&st, &pinned, o)?;
        }
        (Some(env), None) => {
            if !trust.signers.given() {
                bail!(
                    "--env {env}: name who may have signed and promoted the release (--key PUB, keyless identity flags), or give --policy FILE"
                );
            }
            super::require_verified(&st, &pinned, super::verify_options(&r, trust, t)?)?;
            require_promoted(st.store(), &r, &desc.digest, trust, env)?;
        }
        (None, _) if !trust.signers.given() => {
            eprintln!("warning: the values were NOT verified (no --key): they come from an unchecked release record");
        }
        (None, _) => {
            // The identity to check is the repository named (from `r`), even though we verify by digest.
            let o = super::verify_options(&r, trust, t)?;
            super::require_verified(&st, &pinned, o)?;
        }
    }
    let (_, mut record) = crate::artifact::read(st.store(), &desc)?;
    if relocated {
        let policy = if trust.signers.given() { Some(crate::trust::Policy::from_flags(&r, trust)?) } else { None };
        let rel = crate::relocate::record_for(st.store(), &r, &desc.digest, policy.as_ref())?;
        if policy.is_none() {
            eprintln!("warning: the relocation record was NOT verified (no --key): the image places come from an unsigned record");
        }
        record = crate::relocate::apply(&record, &rel)?;
    }
    let mut v = crate::helm::values(&record, &desc.digest, &pinned.to_string());
    if let Some(m) = map {
        v = crate::helm::remap(v, m)?;
    }
    let text = if json {
        format!("{}\n", serde_json::to_string_pretty(&v)?)
    } else {
        format!(
            "# Helm values pinning {} {} ({}), written by bundle values\n{}",
            record.name,
            record.version,
            desc.digest,
            serde_norway::to_string(&v)?
        )
    };
    match output {
        None => print!("{text}"),
        Some(p) => {
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            std::io::Write::write_all(&mut tmp, text.as_bytes())?;
            tmp.persist(p).map_err(|e| anyhow::anyhow!("{}: cannot write: {}", p.display(), e.error))?;
            eprintln!("wrote {} for {} {} ({})", p.display(), record.name, record.version, desc.digest);
        }
    }
    Ok(())
}

/// The rule of `values --env ENV` with trust flags: a promotion of this digest to ENV whose
/// attestation one of the trusted keys or identities signed.
fn require_promoted(s: &dyn store::Store, r: &StoreRef, digest: &str, trust: &crate::cli::Trust, env: &str) -> Result<()> {
    let mut p = crate::trust::Policy::from_flags(r, trust)?;
    p.min_signers = 1;
    let (found, failures) = crate::trust::promotion::of_digest(s, digest, &p, Some(env))?;
    if let Some(last) = found.last() {
        eprintln!("promoted to {env} at {} by {}", crate::trust::promotion::rfc3339(&last.time), last.approver());
        for n in &last.notes {
            eprintln!("note: {n}");
        }
        return Ok(());
    }
    let why = if failures.is_empty() { "no promotion attestation".to_string() } else { failures.join("; ") };
    Err(crate::error::finding(format!(
        "refusing {digest}: rule `promoted to {env}` failed: no promotion to {env} signed by a trusted key or identity ({why}); promote it first: bundle promote REF --to {env}"
    )))
}
