//! Promotions: a signed record that a release moved to a deployment environment (spec/promotion.md).
//!
//! `bundle promote` attaches an in-toto attestation with the predicate [`PREDICATE_TYPE`] to the
//! release's manifest digest. Who approved is the attestation's verified signer, never what the
//! predicate says; which promotions count is decided by the caller's trust flags or policy.

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
    /// `{"sha256": "<hex>"}` of the file's bytes.
    pub digest: BTreeMap<String, String>,
}

/// One verified promotion of a release.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub predicate: Predicate,
    pub time: DateTime<FixedOffset>,
    /// The verified signer: the approver.
    pub signer: Signer,
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
/// other promotion attestations were not accepted. A promotion whose predicate does not parse, or
/// names another release, is not accepted.
pub fn of_digest(st: &dyn crate::store::Store, digest: &str, p: &Policy, env: Option<&str>) -> Result<(Vec<Promotion>, Vec<String>)> {
    let found = attest::find(st, digest, p, Some(PREDICATE_TYPE))?;
    let mut failures = found.failures;
    // A promotion dated after now (beyond clock skew) has not happened yet: with RELBUNDLE_NOW, a
    // past decision is re-checked without what came later.
    let now = super::gate::now()?;
    let latest = now + chrono::Duration::minutes(CLOCK_SKEW_MINUTES);
    let mut out = Vec::new();
    for a in found.attestations {
        let what = format!("promotion {} by {}", a.envelope_digest, a.signer.short());
        let pred: Predicate = match serde_json::from_value(a.predicate.clone()) {
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
        // The same statement by the same signer in both formats (bundle and `.att`) is one promotion.
        let same = |o: &Promotion| {
            o.signer.fingerprint == a.signer.fingerprint && o.predicate.time == pred.time && o.predicate.environment == pred.environment
        };
        if env.is_none_or(|e| e == pred.environment) && !out.iter().any(same) {
            out.push(Promotion { predicate: pred, time, signer: a.signer });
        }
    }
    out.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.signer.fingerprint.cmp(&b.signer.fingerprint)));
    Ok((out, failures))
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

/// The releases of a repository promoted to `env` under the policy, in promotion order (oldest
/// first; a release's place is its latest promotion), each once whatever its tags.
pub fn history(st: &dyn crate::store::Store, p: &Policy, env: &str) -> Result<Vec<Promoted>> {
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
