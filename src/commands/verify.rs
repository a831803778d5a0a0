use super::sign::How;
use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use crate::verify::{self, Options};
use anyhow::Result;
use std::path::PathBuf;

/// What verify checks besides signatures, and how it attests a passing result.
pub struct Checks {
    pub check_images: bool,
    pub values: Option<PathBuf>,
    pub map: Option<PathBuf>,
    /// `--attest-result`: who signs the verification summary.
    pub attest: Option<How>,
}

pub fn run(
    reference: &str,
    trust: &crate::cli::Trust,
    checks: Checks,
    policy: Option<(PathBuf, String)>,
    json: bool,
    t: &Transport,
) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let Checks { check_images, values, map: values_map, attest } = checks;
    // Load the summary's key first: a wrong password should cost nothing.
    let signer = match &attest {
        Some(How::Key(key, pwf, _)) => Some(crate::signing::load_private_key(key, &crate::signing::password(pwf.as_deref(), key, false)?)?),
        _ => None,
    };
    let (o, policy_ref) = match &policy {
        None => {
            let o = Options { check_images, values, values_map, ..super::verify_options(&r, trust, t)? };
            let described = describe_flags(&o);
            (o, (crate::slsa::VERIFY_POLICY.to_string(), crate::hashing::sha256_digest(&described)))
        }
        Some((file, env)) => {
            let digest = match &attest {
                Some(_) => crate::hashing::sha256_digest(&std::fs::read(file)?),
                None => String::new(),
            };
            let o = Options { check_images, values, values_map, ..super::policy_options(&r, trust, file, env, t)? };
            (o, (format!("{}#{env}", crate::slsa::POLICY_FILE), digest))
        }
    };
    let st = store::open(&r, t)?;
    let report = verify::verify(&st, &r, &o)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", verify::render(&report));
    }
    if !report.verified {
        let failed: Vec<&str> = report.checks.iter().filter(|c| c.status == "fail").map(|c| c.name).collect();
        return Err(crate::error::finding(format!("{} is not verified: {} failed", report.digest, failed.join(", "))));
    }
    let Some(how) = &attest else { return Ok(()) };
    let with = match (&signer, how) {
        (Some(s), _) => crate::trust::attest::SignWith::Key(s, None),
        (None, How::Keyless(k)) => crate::trust::attest::SignWith::Keyless(k),
        (None, How::Key(..)) => unreachable!("the key was loaded above"),
    };
    attest_result(&st, &r, &o, &report, policy_ref, with)
}

/// The trust flags a verify ran with, canonical JSON: what a summary's policy digest names.
fn describe_flags(o: &Options) -> Vec<u8> {
    let p = &o.policy;
    let mut keys: Vec<&str> = p.keys.keys.iter().map(|k| k.fingerprint.as_str()).collect();
    keys.sort();
    let v = serde_json::json!({
        "keys": keys,
        "keyless": p.keyless.iter().map(|i| i.label()).collect::<Vec<_>>(),
        "minSigners": p.min_signers,
        "identities": p.identities,
        "annotations": p.annotations,
        "checkImages": o.check_images,
    });
    serde_json::to_vec(&v).expect("a description serialises")
}

/// Attest an SLSA verification summary (PASSED) for a verified release, in its own store.
fn attest_result(
    st: &store::Opened,
    r: &StoreRef,
    o: &Options,
    report: &verify::Report,
    (policy_uri, policy_digest): (String, String),
    with: crate::trust::attest::SignWith,
) -> Result<()> {
    let uri = |d: &str| (crate::slsa::resource_uri(r, d), d.to_string());
    let mut inputs: Vec<(String, String)> = report.signers.iter().map(|s| uri(&s.signed_digest)).collect();
    // A provenance attestation by a trusted signer: SLSA Build L1 (provenance exists).
    let provenance = crate::trust::attest::find(st.store(), &report.digest, &o.policy, Some(crate::slsa::PROVENANCE_V1))?;
    inputs.extend(provenance.attestations.iter().map(|a| uri(&a.envelope_digest)));
    let level = if provenance.attestations.is_empty() { "SLSA_BUILD_LEVEL_0" } else { "SLSA_BUILD_LEVEL_1" };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let summary = crate::slsa::Summary {
        resource_uri: crate::slsa::resource_uri(r, &report.digest),
        policy_uri,
        policy_sha256: policy_digest,
        inputs: &inputs,
        levels: &[level.to_string()],
        time_verified: crate::release::rfc3339(now)?,
    };
    let format = match with {
        crate::trust::attest::SignWith::Key(..) => crate::signing::DEFAULT_FORMAT,
        crate::trust::attest::SignWith::Keyless(_) => crate::signing::Format::Bundle,
    };
    let desc = store::resolve(st.store(), &r.pinned(&report.digest))?;
    let identity = o.policy.identities.first().cloned().unwrap_or_else(|| r.base());
    crate::trust::attest::attach(st.store(), &desc, &identity, crate::slsa::VSA_V1, &crate::slsa::vsa(&summary), with, format)?;
    st.commit()?;
    eprintln!(
        "attested the verification summary ({}, {level}) for {} as {}",
        crate::slsa::VSA_V1,
        report.digest,
        crate::signing::repository_of(&identity)
    );
    Ok(())
}
