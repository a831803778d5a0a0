//! One environment of a release policy applied to a verified release: the attestations it requires
//! (type, signers, threshold, per-attestation CEL rules) and its CEL rules, with the functions
//! `attestations(type)` and `promotion(env)`. Every requirement and rule has an outcome.

use super::policy_file::{Loaded, RuleOutcome, SignerRule};
use super::promotion::{self, Promotion};
use super::{KeySet, Policy, attest};
use anyhow::Result;
use cel::objects::Map;
use cel::{ExecutionError, Value};
use chrono::{DateTime, FixedOffset};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What the rules run over.
pub struct Input<'a> {
    pub store: &'a dyn crate::store::Store,
    pub digest: &'a str,
    /// The identities (repositories) an attestation's subject may name.
    pub identities: Vec<String>,
    pub trusted_root: Option<std::path::PathBuf>,
    /// `record`, `digest`, `reference`, `signers`.
    pub vars: serde_json::Value,
    pub now: DateTime<FixedOffset>,
}

/// Every requirement's and rule's outcome, in the policy's order: the attestation requirements
/// (each, then its rules), then the environment's rules.
pub fn evaluate(l: &Loaded, i: &Input) -> Result<Vec<RuleOutcome>> {
    let wide = Wide::find(l, i)?;
    let functions = Functions::collect(l, i, &wide)?;
    let mut out = Vec::new();
    // A requirement's keyless identities follow the environment's and the earlier requirements'
    // in the wide policy ([`everyone`]).
    let mut offset = l.identities.len();
    for req in &l.attestations {
        let accepted = accepted(req, offset, &l.environment, &wide, i)?;
        offset += req.signers.identities.len();
        out.push(requirement(req, &l.environment, &accepted));
        for (rule, program) in &req.rules {
            let why = attestation_rule(program, &req.predicate_type, &accepted.0, &functions, i);
            out.push(RuleOutcome { name: rule.name.clone(), condition: rule.condition.clone(), passed: why.is_none(), why });
        }
    }
    match functions.context(i, Vec::new()) {
        Ok(ctx) => out.extend(super::policy_file::evaluate(&l.rules, &ctx)),
        Err(e) => out.extend(super::policy_file::not_run(&l.rules, &e)),
    }
    Ok(out)
}

/// An attestation's rule over every accepted attestation of its type: None when it holds for
/// each, else why not for the first that fails (or that there is none).
fn attestation_rule(
    program: &cel::Program,
    predicate_type: &str,
    accepted: &[(serde_json::Value, super::Signer)],
    functions: &Functions,
    i: &Input,
) -> Option<String> {
    if accepted.is_empty() {
        return Some(format!("no accepted {predicate_type} attestation to check"));
    }
    accepted.iter().find_map(|(pred, signer)| {
        let extra = vec![("predicate", cel::to_value(pred).unwrap_or(Value::Null)), ("signer", signer_value(signer))];
        match functions.context(i, extra) {
            Ok(ctx) => super::policy_file::run(program, &ctx).err().map(|w| format!("the attestation by {}: {w}", signer.short())),
            Err(e) => Some(e),
        }
    })
}

type Accepted = (Vec<(serde_json::Value, super::Signer)>, Vec<String>);

/// Whether some rule may call the function `f` (a name mentioned at all: never too little), so
/// that only what may be asked for is read.
fn mentions(l: &Loaded, f: &str) -> bool {
    l.rules.iter().chain(l.attestations.iter().flat_map(|a| a.rules.iter())).any(|(r, _)| r.condition.contains(f))
}

/// Every attestation of the digest, fetched and verified once, under every signer the
/// environment names ([`everyone`]); each requirement and function narrows it to its signers.
struct Wide {
    found: attest::Found,
}

impl Wide {
    fn find(l: &Loaded, i: &Input) -> Result<Wide> {
        if l.attestations.is_empty() && !mentions(l, "attestations") && !mentions(l, "promotion") {
            return Ok(Wide { found: attest::Found::default() });
        }
        let found = attest::find(i.store, i.digest, &policy(&everyone(l), i)?, None)?;
        Ok(Wide { found })
    }

    /// The attestations of type `t` by a signer of `rule` (its keyless identities at `offset` in
    /// the wide policy's), named as `rule` names them. None when one must be verified again under
    /// `rule`: its certificate matched another identity of the wide policy first.
    fn narrowed(&self, t: &str, rule: &Policy, offset: usize) -> Option<attest::Found> {
        let again = std::cell::Cell::new(false);
        let f = self.found.narrowed(t, &|s: &super::Signer| {
            let Some(w) = s.fingerprint.strip_prefix("keyless:").and_then(|w| w.parse::<usize>().ok()) else {
                let k = rule.keys.keys.iter().find(|k| k.fingerprint == s.fingerprint)?;
                return Some(super::Signer { key: k.name.clone(), ..s.clone() });
            };
            let Some(j) = w.checked_sub(offset).filter(|j| *j < rule.keyless.len()) else {
                again.set(again.get() || !rule.keyless.is_empty());
                return None;
            };
            Some(super::Signer { key: rule.keyless[j].label(), fingerprint: format!("keyless:{j}"), ..s.clone() })
        });
        (!again.get()).then_some(f)
    }
}

/// The attestations a requirement accepts (for the promotion type: only promotions to `env`),
/// and why others were not.
fn accepted(req: &super::policy_file::Required, offset: usize, env: &str, wide: &Wide, i: &Input) -> Result<Accepted> {
    let policy = policy(&req.signers, i)?;
    let t = req.predicate_type.as_str();
    let found = match wide.narrowed(t, &policy, offset) {
        Some(f) => f,
        None => attest::find(i.store, i.digest, &policy, Some(t))?,
    };
    if t == promotion::PREDICATE_TYPE {
        let lookup = |other: &str| attest::find(i.store, other, &policy, Some(promotion::PREDICATE_TYPE));
        let (ps, failures) = promotion::of_found(found, &wide.found.attestations, i.digest, Some(env), &lookup)?;
        let list = ps.into_iter().map(|p| (serde_json::to_value(&p.predicate).unwrap_or_default(), p.signer)).collect();
        return Ok((list, failures));
    }
    let found = found.unique();
    Ok((found.attestations.into_iter().map(|a| (a.predicate, a.signer)).collect(), found.failures))
}

/// A requirement's own outcome: enough distinct signers attested.
fn requirement(req: &super::policy_file::Required, env: &str, accepted: &Accepted) -> RuleOutcome {
    let mut signers: Vec<String> = Vec::new();
    for (_, s) in &accepted.0 {
        if !signers.contains(&s.fingerprint) {
            signers.push(s.fingerprint.clone());
        }
    }
    let mut labels: Vec<String> = Vec::new();
    for l in accepted.0.iter().map(|(_, s)| s.short()) {
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    let need = req.signers.threshold;
    let of = req.signers.keys.len() + req.signers.identities.len();
    let scope = if req.predicate_type == promotion::PREDICATE_TYPE { format!(" to {env}") } else { String::new() };
    let condition = format!("{need} of {of} signer(s) attest {}{scope}", req.predicate_type);
    let why = (signers.len() < need).then(|| {
        let by = if labels.is_empty() { "none".to_string() } else { labels.join(", ") };
        let mut w = format!("{} of the {need} required signer(s) attested (by {by})", signers.len());
        if !accepted.1.is_empty() {
            let shown: Vec<&String> = accepted.1.iter().take(4).collect();
            w.push_str(&format!("; not accepted: {}", shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")));
        }
        w
    });
    RuleOutcome { name: req.name.clone(), condition, passed: why.is_none(), why }
}

/// A policy trusting exactly the signers of `rule` (any one of them per attestation).
fn policy(rule: &SignerRule, i: &Input) -> Result<Policy> {
    let mut p = Policy::of_keys(KeySet::load(&rule.keys)?, i.identities.clone());
    p.keyless = rule.identities.clone();
    p.trusted_root = i.trusted_root.clone();
    Ok(p)
}

/// Every signer the environment names anywhere: its release signers and every requirement's.
fn everyone(l: &Loaded) -> SignerRule {
    let mut keys = l.keys.clone();
    let mut identities = l.identities.clone();
    for r in &l.attestations {
        keys.extend(r.signers.keys.iter().cloned());
        identities.extend(r.signers.identities.iter().cloned());
    }
    SignerRule { keys, identities, threshold: 1 }
}

fn signer_value(s: &super::Signer) -> Value {
    cel::to_value(serde_json::to_value(s).unwrap_or_default()).unwrap_or(Value::Null)
}

/// The data behind `attestations(type)` and `promotion(env)`, collected once.
struct Functions {
    /// Predicate type → its verified attestations, as CEL maps.
    by_type: Arc<HashMap<String, Value>>,
    /// Environment → this release's latest verified promotion to it.
    promotions: Arc<HashMap<String, Value>>,
}

impl Functions {
    /// `attestations(type)` trusts every signer of this environment; `promotion(env)` trusts the
    /// signers of env's promotion requirement when the policy has one, else every signer of this
    /// environment.
    fn collect(l: &Loaded, i: &Input, wide: &Wide) -> Result<Functions> {
        let (types, envs) = (mentions(l, "attestations"), mentions(l, "promotion"));
        // The promotions under every signer of this environment, checked as `promotion(env)` does.
        let all = if types || envs { Self::all_promotions(l, i, wide)? } else { Vec::new() };
        let by_type = if types { Self::by_type(wide, &all) } else { HashMap::new() };
        let promotions = if envs { Self::promotions(l, i, all)? } else { HashMap::new() };
        Ok(Functions { by_type: Arc::new(by_type), promotions: Arc::new(promotions) })
    }

    /// This release's accepted promotions, to any environment, under every signer of this
    /// environment: dated, naming this release, `supersedes` and evidence checked.
    fn all_promotions(l: &Loaded, i: &Input, wide: &Wide) -> Result<Vec<Promotion>> {
        let all = policy(&everyone(l), i)?;
        let found = wide.found.narrowed(promotion::PREDICATE_TYPE, &|s| Some(s.clone()));
        let lookup = |other: &str| attest::find(i.store, other, &all, Some(promotion::PREDICATE_TYPE));
        Ok(promotion::of_found(found, &wide.found.attestations, i.digest, None, &lookup)?.0)
    }

    /// Predicate type → the verified attestations of that type, as a CEL list of maps. For the
    /// promotion type: the accepted promotions `promotions` (approver the verified signer).
    fn by_type(wide: &Wide, promotions: &[Promotion]) -> HashMap<String, Value> {
        let found = wide.found.clone().unique();
        let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let entry = |t: &str, predicate: &serde_json::Value, signer: &super::Signer| {
            let mut m: HashMap<String, Value> = HashMap::new();
            m.insert("predicateType".into(), Value::String(Arc::new(t.to_string())));
            m.insert("predicate".into(), cel::to_value(predicate).unwrap_or(Value::Null));
            m.insert("signer".into(), signer_value(signer));
            Value::Map(Map::from(m))
        };
        for a in found.attestations.iter().filter(|a| a.predicate_type != promotion::PREDICATE_TYPE) {
            grouped.entry(a.predicate_type.clone()).or_default().push(entry(&a.predicate_type, &a.predicate, &a.signer));
        }
        for p in promotions {
            let predicate = serde_json::to_value(&p.predicate).unwrap_or_default();
            grouped.entry(promotion::PREDICATE_TYPE.to_string()).or_default().push(entry(promotion::PREDICATE_TYPE, &predicate, &p.signer));
        }
        grouped.into_iter().map(|(k, v)| (k, Value::List(Arc::new(v)))).collect()
    }

    /// Environment → this release's latest verified promotion to it, as a CEL map.
    fn promotions(l: &Loaded, i: &Input, all: Vec<Promotion>) -> Result<HashMap<String, Value>> {
        let mut per_env: BTreeMap<String, Vec<Promotion>> = BTreeMap::new();
        for p in all {
            per_env.entry(p.predicate.environment.clone()).or_default().push(p);
        }
        for (env, rule) in &l.promoters {
            let (ps, _) = promotion::of_digest(i.store, i.digest, &policy(rule, i)?, Some(env))?;
            per_env.insert(env.clone(), ps);
        }
        Ok(per_env.into_iter().filter_map(|(env, ps)| ps.last().map(|latest| (env, promotion::cel_value(latest, &ps, i.now)))).collect())
    }

    /// A context with the variables, `now`, `extra`, and the two functions.
    fn context(&self, i: &Input, mut extra: Vec<(&str, Value)>) -> std::result::Result<cel::Context<'static, 'static>, String> {
        extra.push(("now", Value::Timestamp(i.now)));
        let mut ctx = super::policy_file::context(&i.vars, extra)?;
        let by_type = self.by_type.clone();
        let attestations = move |t: Arc<String>| -> Value { by_type.get(t.as_str()).cloned().unwrap_or(Value::List(Arc::new(Vec::new()))) };
        ctx.add_function("attestations", attestations).map_err(|e| format!("{e:?}"))?;
        let promotions = self.promotions.clone();
        let promotion = move |env: Arc<String>| -> std::result::Result<Value, ExecutionError> {
            promotions
                .get(env.as_str())
                .cloned()
                .ok_or_else(|| ExecutionError::function_error("promotion", format!("no verified promotion of this release to `{env}`")))
        };
        ctx.add_function("promotion", promotion).map_err(|e| format!("{e:?}"))?;
        Ok(ctx)
    }
}

/// The time the rules run at (`now`, and every promotion's `age`): RELBUNDLE_NOW (RFC 3339), to
/// re-check a past decision as it was made, else the clock.
pub fn now() -> Result<DateTime<FixedOffset>> {
    match std::env::var("RELBUNDLE_NOW") {
        Ok(s) => DateTime::parse_from_rfc3339(s.trim())
            .map_err(|e| anyhow::anyhow!("RELBUNDLE_NOW `{s}` is not an RFC 3339 time (2026-11-30T15:00:00Z): {e}")),
        Err(_) => Ok(chrono::Utc::now().fixed_offset()),
    }
}
