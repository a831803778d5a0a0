//! Release policies (`verify --policy FILE --env ENV`): per deployment environment, who must have
//! signed the release (keys and keyless identities, with a threshold) and rules written in CEL,
//! the expression language of Kubernetes and Kyverno, over what verify established. Schema:
//! spec/policy.schema.json.
//!
//! ```yaml
//! apiVersion: relbundle.dev/v1
//! kind: ReleasePolicy
//! environments:
//!   production:
//!     signers:
//!       threshold: 2
//!       keys: [keys/release.pub, keys/approver.pub]      # relative to this file
//!       identities:
//!         - issuer: https://gitlab.com
//!           subjectRegExp: '^https://gitlab\.com/acme/docproc//\.gitlab-ci\.yml@refs/tags/v.*$'
//!     rules:
//!       - name: no release built with --allow-breaking
//!         condition: '!has(record.allowBreaking)'
//! ```
//!
//! An environment may also require attestations (in-toto statements attached with `bundle attest`
//! or `bundle promote`): of which predicate type, signed by whom (threshold), each one satisfying
//! its own CEL rules over `predicate` and `signer`:
//!
//! ```yaml
//!     attestations:
//!       - name: promoted to production by two approvers
//!         type: https://relbundle.dev/promotion/v1     # counts only promotions to this environment
//!         signers: {threshold: 2, keys: [keys/alice.pub, keys/bob.pub]}
//!       - name: golden-set evaluation
//!         type: https://acme.dev/eval/v1
//!         signers: {keys: [keys/ci.pub]}
//!         rules:
//!           - name: accuracy at least 0.92
//!             condition: predicate.metrics.accuracy >= 0.92
//!     rules:
//!       - name: soaked in staging for an hour
//!         condition: promotion("staging").age > duration("1h")
//! ```
//!
//! A rule's variables: `record` (the release record), `digest`, `reference`, `now` (a timestamp),
//! and `signers` (one map per accepted signer: `key`, `fingerprint`, `identity`, `source`); an
//! attestation's rules also see `predicate` and `signer`. Functions: `attestations(type)` (the
//! verified attestations of that type: `predicateType`, `predicate`, `signer`; for the promotion
//! type only the promotions readers accept, checked as `promotion(env)` is) and `promotion(env)`
//! (this release's latest verified promotion to `env`: `environment`, `time`, `age`, `approver`,
//! `approvers`, `evidence`, `supersedes`; an error, so a failed rule, when there is none).

use super::sigstore::{Identity, Text};
use anyhow::{Context as _, Result, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const API_VERSION: &str = "relbundle.dev/v1";
pub const KIND: &str = "ReleasePolicy";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    api_version: String,
    kind: String,
    #[serde(default)]
    environments: BTreeMap<String, Environment>,
    /// Who must have signed each component image (`build --verify-images`).
    #[serde(default)]
    images: Option<Images>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Images {
    signers: Signers,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Environment {
    signers: Signers,
    #[serde(default)]
    attestations: Vec<AttestationSpec>,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestationSpec {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type")]
    predicate_type: String,
    signers: Signers,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signers {
    #[serde(default = "one")]
    threshold: usize,
    #[serde(default)]
    keys: Vec<PathBuf>,
    #[serde(default)]
    identities: Vec<IdentitySpec>,
}

fn one() -> usize {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IdentitySpec {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    subject_reg_exp: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    issuer_reg_exp: Option<String>,
    /// Fulcio CI claims, NAME: REGEX.
    #[serde(default)]
    claims: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub condition: String,
}

/// One environment of a policy file, ready to apply.
pub struct Loaded {
    pub file: PathBuf,
    pub environment: String,
    pub keys: Vec<PathBuf>,
    pub identities: Vec<Identity>,
    pub threshold: usize,
    pub rules: Vec<(Rule, cel::Program)>,
    /// The attestations this environment requires.
    pub attestations: Vec<Required>,
    /// Per environment of the file, who may promote to it: the signers of its promotion
    /// requirement (for `promotion(env)`); environments without one are absent.
    pub promoters: BTreeMap<String, SignerRule>,
}

/// An attestation an environment requires: its predicate type, who must have signed one (each
/// distinct signer counts once), and the rules every accepted one must satisfy.
pub struct Required {
    pub name: String,
    pub predicate_type: String,
    pub signers: SignerRule,
    pub rules: Vec<(Rule, cel::Program)>,
}

/// Who must have signed something: keys, keyless identities, and how many of them.
#[derive(Clone)]
pub struct SignerRule {
    pub keys: Vec<PathBuf>,
    pub identities: Vec<Identity>,
    pub threshold: usize,
}

fn read(file: &Path) -> Result<File> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{}: cannot read the policy", file.display()))?;
    let f: File = crate::yaml::from_str(&text, file)?;
    if f.api_version != API_VERSION || f.kind != KIND {
        bail!("{}: apiVersion {API_VERSION} and kind {KIND} expected (got {} {})", file.display(), f.api_version, f.kind);
    }
    Ok(f)
}

fn signer_rule(s: &Signers, file: &Path, field: &str) -> Result<SignerRule> {
    let base = file.parent().unwrap_or(Path::new("."));
    let keys: Vec<PathBuf> = s.keys.iter().map(|k| base.join(k)).collect();
    let mut identities = Vec::new();
    for (i, id) in s.identities.iter().enumerate() {
        identities.push(identity(id, &format!("{}: {field}.identities[{i}]", file.display()))?);
    }
    let given = keys.len() + identities.len();
    if given == 0 || s.threshold == 0 || s.threshold > given {
        bail!("{}: {field}: threshold {} must be from 1 to the number of keys and identities ({given})", file.display(), s.threshold);
    }
    Ok(SignerRule { keys, identities, threshold: s.threshold })
}

/// The `images:` section of a policy: who must have signed every component image.
pub fn load_images(file: &Path) -> Result<SignerRule> {
    let f = read(file)?;
    let Some(images) = f.images else {
        bail!("{}: no `images:` section saying who must sign the component images", file.display());
    };
    signer_rule(&images.signers, file, "images.signers")
}

/// Read `file` and take `env` from it: every field and every CEL condition checked now, so a
/// mistake in the policy is an input error (exit 2), never a rule that silently passes.
pub fn load(file: &Path, env: &str) -> Result<Loaded> {
    let f = read(file)?;
    let names: Vec<String> = f.environments.keys().cloned().collect();
    let mut promoters = BTreeMap::new();
    for (name, e) in &f.environments {
        if let Some(a) = e.attestations.iter().find(|a| a.predicate_type == super::promotion::PREDICATE_TYPE) {
            let at = format!("environments.{name}.attestations[type={}].signers", a.predicate_type);
            promoters.insert(name.clone(), signer_rule(&a.signers, file, &at)?);
        }
    }
    let mut environments = f.environments;
    let Some(e) = environments.remove(env) else {
        bail!("{}: no environment `{env}` (the policy has {})", file.display(), crate::yaml::list(&names, 8));
    };
    let signers = signer_rule(&e.signers, file, &format!("environments.{env}.signers"))?;
    let rules = compile(e.rules, file, &format!("environments.{env}.rules"))?;
    let mut attestations = Vec::new();
    for (i, a) in e.attestations.into_iter().enumerate() {
        let at = format!("environments.{env}.attestations[{i}]");
        if a.predicate_type.is_empty() || !a.predicate_type.contains(':') {
            bail!("{}: {at}.type: `{}` is not a predicate type URI", file.display(), a.predicate_type);
        }
        attestations.push(Required {
            name: a.name.unwrap_or_else(|| format!("attestation {}", a.predicate_type)),
            signers: signer_rule(&a.signers, file, &format!("{at}.signers"))?,
            rules: compile(a.rules, file, &format!("{at}.rules"))?,
            predicate_type: a.predicate_type,
        });
    }
    Ok(Loaded {
        file: file.to_path_buf(),
        environment: env.to_string(),
        keys: signers.keys,
        identities: signers.identities,
        threshold: signers.threshold,
        rules,
        attestations,
        promoters,
    })
}

/// Compile every rule's condition: one that does not compile is an input error naming its field.
fn compile(rules: Vec<Rule>, file: &Path, field: &str) -> Result<Vec<(Rule, cel::Program)>> {
    let mut out = Vec::new();
    for (i, r) in rules.into_iter().enumerate() {
        let program = cel::Program::compile(&r.condition)
            .map_err(|err| anyhow!("{}: {field}[{i}].condition: `{}` is not a CEL expression: {err}", file.display(), r.condition))?;
        out.push((r, program));
    }
    Ok(out)
}

fn identity(id: &IdentitySpec, field: &str) -> Result<Identity> {
    let text = |exact: &Option<String>, regex: &Option<String>, what: &str| -> Result<Text> {
        match (exact, regex) {
            (Some(x), None) => Ok(Text::Exact(x.clone())),
            (None, Some(r)) => Text::regex(r, &format!("{field}.{what}RegExp")),
            _ => bail!("{field}: give exactly one of `{what}` and `{what}RegExp`"),
        }
    };
    let mut claims = Vec::new();
    for (name, value) in &id.claims {
        if !super::sigstore::CLAIMS.contains(&name.as_str()) {
            bail!("{field}.claims: `{name}` is not a Fulcio claim we check (one of {})", super::sigstore::CLAIMS.join(", "));
        }
        claims.push((name.clone(), Text::regex(value, &format!("{field}.claims.{name}"))?));
    }
    Ok(Identity {
        san: text(&id.subject, &id.subject_reg_exp, "subject")?,
        issuer: text(&id.issuer, &id.issuer_reg_exp, "issuer")?,
        claims,
    })
}

/// The outcome of one rule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleOutcome {
    pub name: String,
    pub condition: String,
    pub passed: bool,
    /// Why it failed: false, or an evaluation error (a missing field, a wrong type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The outcome of a rule that was not run (its inputs are missing), failed with `why`.
pub fn not_run(rules: &[(Rule, cel::Program)], why: &str) -> Vec<RuleOutcome> {
    rules
        .iter()
        .map(|(r, _)| RuleOutcome { name: r.name.clone(), condition: r.condition.clone(), passed: false, why: Some(why.to_string()) })
        .collect()
}

/// A CEL context holding `vars` (a JSON object: each key a variable), plus `extra` CEL values.
pub fn context(vars: &serde_json::Value, extra: Vec<(&str, cel::Value)>) -> Result<cel::Context<'static, 'static>, String> {
    let mut ctx = cel::Context::default();
    if let serde_json::Value::Object(m) = vars {
        for (k, v) in m {
            let v = cel::to_value(v).map_err(|e| format!("variable {k}: {e}"))?;
            ctx.add_variable_from_value(k.clone(), v);
        }
    }
    for (k, v) in extra {
        ctx.add_variable_from_value(k, v);
    }
    Ok(ctx)
}

/// Run one rule in a context: true, or why not (false, not a boolean, an evaluation error).
pub fn run(program: &cel::Program, ctx: &cel::Context) -> std::result::Result<(), String> {
    match program.execute(ctx) {
        Ok(cel::Value::Bool(true)) => Ok(()),
        Ok(cel::Value::Bool(false)) => Err("the condition is false".to_string()),
        Ok(other) => Err(format!("the condition gave {other:?}, not a boolean")),
        Err(e) => Err(format!("cannot evaluate: {e}")),
    }
}

/// Evaluate every rule in `ctx`. An evaluation error fails the rule.
pub fn evaluate(rules: &[(Rule, cel::Program)], ctx: &cel::Context) -> Vec<RuleOutcome> {
    rules
        .iter()
        .map(|(r, p)| {
            let why = run(p, ctx).err();
            RuleOutcome { name: r.name.clone(), condition: r.condition.clone(), passed: why.is_none(), why }
        })
        .collect()
}
