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
//! A rule's variables: `record` (the release record), `digest`, `reference`, and `signers` (one
//! map per accepted signer: `key`, `fingerprint`, `identity`, `source`).

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
}

/// Who must have signed something: keys, keyless identities, and how many of them.
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
    let at = |field: &str| format!("{}: {field}", file.display());
    let names: Vec<String> = f.environments.keys().cloned().collect();
    let mut environments = f.environments;
    let Some(e) = environments.remove(env) else {
        bail!("{}: no environment `{env}` (the policy has {})", file.display(), crate::yaml::list(&names, 8));
    };
    let signers = signer_rule(&e.signers, file, &format!("environments.{env}.signers"))?;
    let mut rules = Vec::new();
    for (i, r) in e.rules.into_iter().enumerate() {
        let program = cel::Program::compile(&r.condition).map_err(|err| {
            anyhow!("{}: `{}` is not a CEL expression: {err}", at(&format!("environments.{env}.rules[{i}].condition")), r.condition)
        })?;
        rules.push((r, program));
    }
    Ok(Loaded {
        file: file.to_path_buf(),
        environment: env.to_string(),
        keys: signers.keys,
        identities: signers.identities,
        threshold: signers.threshold,
        rules,
    })
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

/// Evaluate every rule against what verify established. An evaluation error fails the rule.
pub fn evaluate(l: &Loaded, vars: &serde_json::Value) -> Vec<RuleOutcome> {
    let mut ctx = cel::Context::default();
    if let serde_json::Value::Object(m) = vars {
        for (k, v) in m {
            match cel::to_value(v) {
                Ok(v) => ctx.add_variable_from_value(k.clone(), v),
                Err(e) => {
                    return l
                        .rules
                        .iter()
                        .map(|(r, _)| RuleOutcome {
                            name: r.name.clone(),
                            condition: r.condition.clone(),
                            passed: false,
                            why: Some(format!("variable {k}: {e}")),
                        })
                        .collect();
                }
            }
        }
    }
    l.rules
        .iter()
        .map(|(r, p)| {
            let (passed, why) = match p.execute(&ctx) {
                Ok(cel::Value::Bool(true)) => (true, None),
                Ok(cel::Value::Bool(false)) => (false, Some("the condition is false".to_string())),
                Ok(other) => (false, Some(format!("the condition gave {other:?}, not a boolean"))),
                Err(e) => (false, Some(format!("cannot evaluate: {e}"))),
            };
            RuleOutcome { name: r.name.clone(), condition: r.condition.clone(), passed, why }
        })
        .collect()
}
