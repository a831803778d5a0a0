//! Promotions: a signed record that a release moved to a deployment environment (spec/promotion.md).
//!
//! `bundle promote` attaches an in-toto attestation with the predicate [`PREDICATE_TYPE`] to the
//! release's manifest digest. Who approved is the attestation's verified signer, never what the
//! predicate says (readers overwrite `approver` with it); which promotions count is decided by the
//! caller's trust flags or policy; a `supersedes` claim is kept only when the release it names
//! has a verified promotion to the same environment before it, and an evidence entry only when
//! the same signer's verified attestation has its digest.

use super::{Policy, Signer, attest};
use anyhow::Result;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The predicate type of a promotion record.
pub const PREDICATE_TYPE: &str = "https://relbundle.dev/promotion/v1";
/// The predicate type of an evidence file attached by `promote --evidence FILE` without `=TYPE`.
pub const EVIDENCE_TYPE: &str = "https://relbundle.dev/evidence/v1";

/// How far in the future a promotion's time may be (the signer's clock ahead of ours).
pub const CLOCK_SKEW_MINUTES: i64 = 5;

/// The promotion predicate (spec/promotion.schema.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Predicate {
    /// The environment promoted to.
    pub environment: String,
    /// When, RFC 3339 (SOURCE_DATE_EPOCH when set).
    pub time: String,
    /// Who signed: `{"key": "sha256:<fingerprint>"}` or `{"issuer": …, "subject": …}` (keyless).
    pub approver: BTreeMap<String, String>,
    /// The release promoted (also the statement's subject).
    pub release: ReleaseRef,
    /// The evidence files, each also attached as its own attestation.
    #[serde(default)]
    pub evidence: Vec<EvidenceRef>,
    /// The release promoted to this environment before, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<ReleaseRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReleaseRef {
    pub name: String,
    pub version: String,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceRef {
    /// The file's name (no directories).
    pub name: String,
    pub predicate_type: String,
    /// `{"sha256": "<hex>"}` of the evidence attestation's DSSE payload (the statement as signed).
    pub digest: BTreeMap<String, String>,
}

/// One verified promotion of a release.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub predicate: Predicate,
    pub time: DateTime<FixedOffset>,
    /// The verified signer: the approver.
    pub signer: Signer,
    /// What a reader left out of the predicate, and why (a `supersedes` that does not hold, an
    /// evidence entry with no matching attestation).
    pub notes: Vec<String>,
}

impl Promotion {
    /// The approver, as people read it: `key <fingerprint>` or the certificate's SAN.
    pub fn approver(&self) -> String {
        self.signer.short()
    }
}

/// The time of a promotion: SOURCE_DATE_EPOCH when set (reproducible records, tests), else now.
pub fn now_or_epoch() -> Result<DateTime<FixedOffset>> {
    let utc = chrono::FixedOffset::east_opt(0).expect("UTC");
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => {
            let secs: i64 = s.trim().parse().map_err(|_| anyhow::anyhow!("SOURCE_DATE_EPOCH `{s}` is not a whole number of seconds"))?;
            let t = DateTime::from_timestamp(secs, 0).ok_or_else(|| anyhow::anyhow!("SOURCE_DATE_EPOCH `{s}` is out of range"))?;
            Ok(t.with_timezone(&utc))
        }
        Err(_) => Ok(chrono::Utc::now().with_timezone(&utc)),
    }
}

/// RFC 3339 in UTC, whole seconds: `2026-11-30T15:00:00Z`.
pub fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The verified promotions of `digest` (to `env`, or to any environment), oldest first, and why
/// other promotion attestations were not accepted (and what was left out of accepted ones). A
/// promotion whose predicate does not parse or names another release is not accepted; a
/// `supersedes` that does not hold is cleared, and an evidence entry with no verified attestation
/// by the same signer is left out ([`of_found`]). `approver` is the verified signer's, whatever
/// the predicate says ([`verified_approver`]).
pub fn of_digest(st: &dyn crate::store::Store, digest: &str, p: &Policy, env: Option<&str>) -> Result<(Vec<Promotion>, Vec<String>)> {
    let found = attest::find(st, digest, p, Some(PREDICATE_TYPE))?;
    // The evidence attestations are fetched only when a promotion names evidence.
    let names_evidence =
        found.attestations.iter().any(|a| a.predicate.get("evidence").and_then(|e| e.as_array()).is_some_and(|e| !e.is_empty()));
    let evidence = if names_evidence { attest::find(st, digest, p, None)?.attestations } else { Vec::new() };
    of_found(found, &evidence, digest, env, &|other| attest::find(st, other, p, Some(PREDICATE_TYPE)))
}

/// [`of_digest`] over attestations already found and verified: `found` (the promotions),
/// `evidence` (the digest's verified attestations of any type, for the evidence entries);
/// `lookup` finds the promotion attestations of another digest under the same policy (for
/// `supersedes`).
pub fn of_found(
    found: attest::Found,
    evidence: &[attest::Attestation],
    digest: &str,
    env: Option<&str>,
    lookup: &dyn Fn(&str) -> Result<attest::Found>,
) -> Result<(Vec<Promotion>, Vec<String>)> {
    let (candidates, mut failures) = parsed(found.unique(), digest)?;
    let mut out = Vec::new();
    for mut c in candidates.into_iter().filter(|c| env.is_none_or(|e| e == c.predicate.environment)) {
        if let Some(why) = superseded_checked(&c, lookup)? {
            c.predicate.supersedes = None;
            c.notes.push(why);
        }
        evidence_checked(&mut c, evidence);
        let what = format!("promotion {} by {}", c.signer.signed_digest, c.approver());
        failures.extend(c.notes.iter().map(|n| format!("{what}: {n}")));
        out.push(c);
    }
    Ok((out, failures))
}

/// Leave out of `evidence` every entry with no verified attestation of its predicate type, by the
/// promotion's own signer, whose DSSE payload's sha256 is the entry's digest (a note says which).
fn evidence_checked(c: &mut Promotion, evidence: &[attest::Attestation]) {
    let approver = verified_approver(&c.signer);
    let (kept, dropped): (Vec<EvidenceRef>, Vec<EvidenceRef>) = std::mem::take(&mut c.predicate.evidence).into_iter().partition(|e| {
        let want = e.digest.get("sha256").map(|h| format!("sha256:{h}"));
        evidence.iter().any(|a| {
            a.predicate_type == e.predicate_type && Some(&a.payload_digest) == want.as_ref() && verified_approver(&a.signer) == approver
        })
    });
    c.predicate.evidence = kept;
    for e in dropped {
        let hex = e.digest.get("sha256").map(String::as_str).unwrap_or("(none)");
        c.notes.push(format!(
            "evidence {} ({}) sha256:{hex} has no verified attestation of that type and digest by the same signer: left out of `evidence`",
            e.name, e.predicate_type
        ));
    }
}

/// The promotions among verified attestations of `digest`, to any environment, oldest first
/// (nothing about `supersedes` checked yet), and why the others were not accepted.
fn parsed(found: attest::Found, digest: &str) -> Result<(Vec<Promotion>, Vec<String>)> {
    let mut failures = found.failures;
    // A promotion dated after now (beyond clock skew) has not happened yet: with RELBUNDLE_NOW, a
    // past decision is re-checked without what came later.
    let now = super::gate::now()?;
    let latest = now + chrono::Duration::minutes(CLOCK_SKEW_MINUTES);
    let mut out = Vec::new();
    for a in found.attestations {
        let what = format!("promotion {} by {}", a.envelope_digest, a.signer.short());
        let mut pred: Predicate = match serde_json::from_value(a.predicate.clone()) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{what}: not a {PREDICATE_TYPE} predicate: {e}"));
                continue;
            }
        };
        if pred.release.digest != digest {
            failures.push(format!("{what}: names release {}, not {digest}", pred.release.digest));
            continue;
        }
        let time = match DateTime::parse_from_rfc3339(&pred.time) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{what}: time `{}` is not RFC 3339: {e}", pred.time));
                continue;
            }
        };
        if time > latest {
            failures.push(format!("{what}: dated {}, after now ({}): not counted", pred.time, rfc3339(&now)));
            continue;
        }
        // Who approved is who verifiably signed, whatever the predicate claims.
        pred.approver = verified_approver(&a.signer);
        out.push(Promotion { predicate: pred, time, signer: a.signer, notes: Vec::new() });
    }
    out.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.signer.fingerprint.cmp(&b.signer.fingerprint)));
    Ok((out, failures))
}

/// Why a promotion's `supersedes` is not believed (None when it holds or is absent): the release
/// it names must have a verified promotion (under the same policy) to the same environment, of
/// the same release name and version, dated no later than this one.
fn superseded_checked(c: &Promotion, lookup: &dyn Fn(&str) -> Result<attest::Found>) -> Result<Option<String>> {
    let Some(s) = &c.predicate.supersedes else { return Ok(None) };
    let env = &c.predicate.environment;
    let (before, _) = parsed(lookup(&s.digest)?, &s.digest)?;
    let holds = before.iter().any(|b| b.predicate.environment == *env && b.predicate.release == *s && b.time <= c.time);
    Ok((!holds).then(|| {
        format!(
            "claims to supersede {} {} ({}) in {env}, which has no verified promotion to {env} before it: `supersedes` cleared",
            s.name, s.version, s.digest
        )
    }))
}

/// The approver a reader records: the verified signer, `{"key": "sha256:<fingerprint>"}` or, for
/// a keyless signer, `{"issuer": …, "subject": <the certificate's SAN>}`.
pub fn verified_approver(s: &Signer) -> BTreeMap<String, String> {
    match (&s.certificate, s.fingerprint.starts_with("sha256:")) {
        (Some(c), false) => BTreeMap::from([
            ("issuer".to_string(), c.issuer.clone().unwrap_or_default()),
            ("subject".to_string(), c.identity.clone().unwrap_or_default()),
        ]),
        _ => BTreeMap::from([("key".to_string(), s.fingerprint.clone())]),
    }
}

/// One release in an environment's history: every verified promotion of it to the environment.
pub struct Promoted {
    pub tag: String,
    pub digest: String,
    pub version: String,
    pub promotions: Vec<Promotion>,
}

impl Promoted {
    /// When it was promoted: its latest verified promotion.
    pub fn time(&self) -> DateTime<FixedOffset> {
        self.promotions.iter().map(|p| p.time).max().expect("a promoted release has a promotion")
    }
}

/// The releases of a repository (of the release `name`, when given) promoted to `env` under the
/// policy, in promotion order (oldest first; a release's place is its latest promotion), each
/// once whatever its tags.
pub fn history(st: &dyn crate::store::Store, p: &Policy, env: &str, name: Option<&str>) -> Result<Vec<Promoted>> {
    // The `.att` tag, referrers and blobs are read once, however many tags name a release.
    let memo = crate::store::memo::Memo::new(st);
    let st: &dyn crate::store::Store = &memo;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut tags = st.tags()?;
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    for (tag, d) in tags {
        // cosign signatures and attestations, referrer indexes: not releases.
        if tag.starts_with("sha256-") || !seen.insert(d.digest.clone()) {
            continue;
        }
        let Ok((_, rec)) = crate::artifact::read(st, &d) else { continue };
        if name.is_some_and(|n| n != rec.name) {
            continue;
        }
        let (promotions, _) = of_digest(st, &d.digest, p, Some(env))?;
        if !promotions.is_empty() {
            out.push(Promoted { tag, digest: d.digest, version: rec.version, promotions });
        }
    }
    out.sort_by(|a, b| a.time().cmp(&b.time()).then_with(|| a.digest.cmp(&b.digest)));
    Ok(out)
}

/// A promotion as a CEL value: `environment`, `time` (timestamp), `age` (duration since, at
/// `now`), `approver`, `approvers` (every verified approver of the release for the environment),
/// `evidence`, `supersedes`.
pub fn cel_value(latest: &Promotion, all: &[Promotion], now: DateTime<FixedOffset>) -> cel::Value {
    use cel::Value;
    use std::sync::Arc;
    let s = |x: &str| Value::String(Arc::new(x.to_string()));
    let mut approvers: Vec<String> = Vec::new();
    for a in all.iter().map(|p| p.approver()) {
        if !approvers.contains(&a) {
            approvers.push(a);
        }
    }
    let json = |v: serde_json::Value| cel::to_value(v).unwrap_or(Value::Null);
    let mut m: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    m.insert("environment".into(), s(&latest.predicate.environment));
    m.insert("time".into(), Value::Timestamp(latest.time));
    m.insert("age".into(), Value::Duration(now.signed_duration_since(latest.time)));
    m.insert("approver".into(), s(&latest.approver()));
    m.insert("approvers".into(), Value::List(Arc::new(approvers.iter().map(|a| s(a)).collect())));
    m.insert("evidence".into(), json(serde_json::to_value(&latest.predicate.evidence).unwrap_or_default()));
    m.insert("supersedes".into(), json(serde_json::to_value(&latest.predicate.supersedes).unwrap_or_default()));
    Value::Map(cel::objects::Map::from(m))
}
