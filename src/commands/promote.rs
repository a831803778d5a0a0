use super::sign::How;
use crate::signing;
use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use crate::trust::attest::{self, SignWith};
use crate::trust::promotion::{self, EvidenceRef, Predicate, ReleaseRef};
use anyhow::{Context as _, Result, bail};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Request<'a> {
    pub env: &'a str,
    /// `FILE[=TYPE]`, as given.
    pub evidence: &'a [String],
    pub format: signing::Format,
    pub json: bool,
}

/// One evidence file: its name, predicate type, statement's sha256 (once attached) and JSON object.
struct Evidence {
    file: PathBuf,
    r#ref: EvidenceRef,
    predicate: serde_json::Value,
}

/// `FILE[=TYPE]`: read and check every evidence file before anything is signed.
fn evidence(list: &[String]) -> Result<Vec<Evidence>> {
    let mut out = Vec::new();
    for spec in list {
        // A type is a URI or one of cosign's names; an `=` before anything else is part of the name.
        let (file, predicate_type) = match spec.rsplit_once('=').and_then(|(f, t)| attest::predicate_type_uri(t).ok().map(|t| (f, t))) {
            Some((f, t)) => (f, t),
            None => (spec.as_str(), promotion::EVIDENCE_TYPE.to_string()),
        };
        let path = PathBuf::from(file);
        let bytes = std::fs::read(&path).with_context(|| format!("--evidence {file}: cannot read"))?;
        let predicate: serde_json::Value =
            serde_json::from_slice(&bytes).with_context(|| format!("--evidence {file}: not JSON (an evidence file is a JSON object)"))?;
        if !predicate.is_object() {
            bail!("--evidence {file}: a JSON object is needed (it becomes the attestation's predicate)");
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file.to_string());
        // The digest is the signed statement's, known once it is attached.
        out.push(Evidence { file: path, r#ref: EvidenceRef { name, predicate_type, digest: BTreeMap::new() }, predicate });
    }
    Ok(out)
}

/// Who signs, as the promotion records it: the key's fingerprint, or the identity token's issuer
/// and subject (the Fulcio certificate made from that token carries them).
fn approver(how: &How, key: Option<&signing::Signer>) -> Result<BTreeMap<String, String>> {
    match (how, key) {
        (_, Some(k)) => {
            let t = crate::trust::TrustedKey::from_pem(&k.public_pem, "the signing key")?;
            Ok(BTreeMap::from([("key".to_string(), t.fingerprint.clone())]))
        }
        (How::Keyless(k), None) => {
            let token = crate::trust::keyless::identity_token(k.token.as_deref(), &|v| std::env::var(v).ok())?;
            let subject = token.email().unwrap_or(token.subject()).to_string();
            Ok(BTreeMap::from([("issuer".to_string(), token.issuer().to_string()), ("subject".to_string(), subject)]))
        }
        (How::Key(..), None) => unreachable!("a key signer is loaded before"),
    }
}

pub fn run(reference: &str, how: How, trust: &crate::cli::Trust, req: &Request, t: &Transport) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    if !trust.signers.given() {
        bail!(
            "name who must have signed the release: --release-key PUB, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]; an unverified release is never promoted"
        );
    }
    if !crate::reference::valid_tag(req.env) {
        bail!("--to `{}`: an environment is a name of letters, digits, `.`, `_` and `-`", req.env);
    }
    let evidence = evidence(req.evidence)?;
    let key = match &how {
        How::Key(key, pwf, _) => {
            let pw = signing::password(pwf.as_deref(), key, false)?;
            Some(signing::load_private_key(key, &pw)?)
        }
        How::Keyless(_) if !req.format.bundle() => bail!("--keyless attests in the bundle format; --format legacy is for keys"),
        How::Keyless(_) => None,
    };
    let st = store::open(&r, t)?;
    let desc = store::resolve(st.store(), &r)?;
    let pinned = r.pinned(&desc.digest);
    // Refuse to promote what does not verify: nothing is written then.
    super::require_verified(&st, &pinned, super::verify_options(&r, trust, t)?)?;
    let (_, record) = crate::artifact::read(st.store(), &desc)?;
    let time = promotion::now_or_epoch()?;
    let release = ReleaseRef { name: record.name.clone(), version: record.version.clone(), digest: desc.digest.clone() };
    let supersedes = previous(st.store(), &lookup_policy(&r, trust, key.as_ref())?, req.env, &release, &time)?;
    let identity = signing::repository_of(&super::sign::default_identity(&r, &record.name)).to_string();
    let with = || match (&how, &key) {
        (_, Some(k)) => SignWith::Key(k, None),
        (How::Keyless(k), None) => SignWith::Keyless(k),
        (How::Key(..), None) => unreachable!("a key signer is loaded above"),
    };
    // The evidence first: a promotion is never stored without the evidence it names. Each is
    // named by the sha256 of its statement as signed (the DSSE payload bytes).
    let mut evidence = evidence;
    for e in &mut evidence {
        let attached = attest::attach(st.store(), &desc, &identity, &e.r#ref.predicate_type, &e.predicate, with(), req.format)
            .with_context(|| format!("--evidence {}: cannot attach", e.file.display()))?;
        let hex = attached.statement_digest.trim_start_matches("sha256:").to_string();
        e.r#ref.digest = BTreeMap::from([("sha256".to_string(), hex)]);
    }
    let predicate = Predicate {
        environment: req.env.to_string(),
        time: promotion::rfc3339(&time),
        approver: approver(&how, key.as_ref())?,
        release,
        evidence: evidence.iter().map(|e| e.r#ref.clone()).collect(),
        supersedes,
    };
    let value = serde_json::to_value(&predicate)?;
    attest::attach(st.store(), &desc, &identity, promotion::PREDICATE_TYPE, &value, with(), req.format)?;
    st.commit()?;
    if req.json {
        let v = serde_json::json!({"digest": desc.digest, "identity": identity, "predicateType": promotion::PREDICATE_TYPE, "predicate": value});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let by = predicate.approver.values().cloned().collect::<Vec<_>>().join(" from ");
    println!("promoted {} {} ({}) to {} at {} (approver: {by})", record.name, record.version, desc.digest, req.env, predicate.time);
    for e in &predicate.evidence {
        println!("  evidence {} ({}) sha256:{}", e.name, e.predicate_type, e.digest["sha256"]);
    }
    match &predicate.supersedes {
        Some(s) => println!("  supersedes {} ({}) in {}", s.version, s.digest, req.env),
        None => println!("  the first release promoted to {} (under the given keys)", req.env),
    }
    Ok(())
}

/// Whose earlier promotions `promote` reads for `supersedes`: the trust flags' signers and, with a
/// key, the promoter's own key. Readers check `supersedes` themselves, so reading it vouches for
/// nothing; the release itself is verified under the trust flags only.
fn lookup_policy(r: &StoreRef, trust: &crate::cli::Trust, key: Option<&signing::Signer>) -> Result<crate::trust::Policy> {
    let mut policy = crate::trust::Policy::from_flags(r, trust)?;
    policy.min_signers = 1;
    if let Some(k) = key {
        policy.keys.add(crate::trust::TrustedKey::from_pem(&k.public_pem, "the signing key")?);
    }
    Ok(policy)
}

/// The release of `this.name` promoted to `env` last (another digest than `this.digest`), among
/// promotions dated no later than `time` (a reader requires that; a later-dated one is skipped,
/// saying so).
fn previous(
    st: &dyn store::Store,
    policy: &crate::trust::Policy,
    env: &str,
    this: &ReleaseRef,
    time: &chrono::DateTime<chrono::FixedOffset>,
) -> Result<Option<ReleaseRef>> {
    let name = this.name.as_str();
    let mut before = Vec::new();
    for mut p in promotion::history(st, policy, env, Some(name))? {
        let later: Vec<_> = p.promotions.iter().filter(|x| x.time > *time).map(|x| promotion::rfc3339(&x.time)).collect();
        if !later.is_empty() && p.digest != this.digest {
            eprintln!(
                "note: a promotion of {name} {} ({}) to {env} dated {} is after this one ({}): not a candidate for `supersedes`",
                p.version,
                p.digest,
                later.join(", "),
                promotion::rfc3339(time)
            );
        }
        p.promotions.retain(|x| x.time <= *time);
        if !p.promotions.is_empty() && p.digest != this.digest {
            before.push(p);
        }
    }
    before.sort_by(|a, b| a.time().cmp(&b.time()).then_with(|| a.digest.cmp(&b.digest)));
    Ok(before.pop().map(|p| ReleaseRef { name: name.to_string(), version: p.version, digest: p.digest }))
}
