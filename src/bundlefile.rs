//! `bundle.yaml`: the release declaration at the monorepo root. Its JSON Schema is
//! `spec/bundle.schema.json`; errors name the file, line and field.

use crate::images::ImageRef;
use crate::yaml;
use anyhow::{Result, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const FILE_NAME: &str = "bundle.yaml";
pub const API_VERSION: &str = "relbundle.dev/v1";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub name: Name,
    #[serde(default)]
    pub description: Option<String>,
    pub components: BTreeMap<Name, Component>,
    /// Size limits on prompt templates, checked by `check` and `build`.
    #[serde(default, rename = "promptLimits")]
    pub prompt_limits: PromptLimits,
}

/// The longest template a prompt may have, in characters of template text (every message's
/// content; not the file's other fields).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PromptLimits {
    /// For every prompt.
    #[serde(default)]
    pub max_chars: Option<u64>,
    /// Per prompt id, instead of `maxChars`.
    #[serde(default)]
    pub by_id: BTreeMap<String, u64>,
}

/// The name a split gives the variant of a prompt file that has none.
pub const DEFAULT_VARIANT: &str = "default";

/// A release or component name: lower-case letters, digits and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(pub String);

pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-')
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !valid_name(&s) {
            return Err(serde::de::Error::custom(format!(
                "invalid name `{}`: use lower-case letters, digits and `-`, starting with a letter (at most 63)",
                crate::yaml::shorten(&s)
            )));
        }
        Ok(Name(s))
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The component's folder, relative to the monorepo root.
    pub path: String,
    /// `REPOSITORY@sha256:…` (pinned) or `REPOSITORY:TAG` (digest supplied at build time).
    pub image: ImageRef,
    #[serde(default)]
    pub models: Vec<ModelSpec>,
    /// Globs, relative to the component folder.
    #[serde(default)]
    pub prompts: Vec<String>,
    #[serde(default)]
    pub provides: BTreeMap<String, Provide>,
    /// API name → semver requirement (`^1.2`, `>=2.1, <3`), or `{version: REQ, operations: [...]}`.
    #[serde(default)]
    pub consumes: BTreeMap<String, Consume>,
    /// A/B splits: prompt id → variant (`default` for the file without one) → percent of traffic.
    #[serde(default)]
    pub splits: BTreeMap<String, BTreeMap<String, u32>>,
}

/// What a component consumes of an API: the versions it accepts and, optionally, the operations
/// it calls (`POST /embed`). Without `operations` every operation counts as used.
#[derive(Debug, Clone)]
pub struct Consume {
    pub version: semver::VersionReq,
    pub operations: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for Consume {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Consume;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a semver requirement such as \"^2.1\", or {version: \"^2.1\", operations: [\"POST /embed\"]}")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<Consume, E> {
                let version = semver::VersionReq::parse(s).map_err(|e| E::custom(format!("`{s}` is not a semver requirement: {e}")))?;
                Ok(Consume { version, operations: None })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> std::result::Result<Consume, A::Error> {
                use serde::de::Error;
                let (mut version, mut operations) = (None, None);
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "version" => {
                            let s: String = m.next_value()?;
                            version = Some(
                                semver::VersionReq::parse(&s)
                                    .map_err(|e| A::Error::custom(format!("field `version`: `{s}` is not a semver requirement: {e}")))?,
                            );
                        }
                        "operations" => {
                            let ops: Vec<String> = m.next_value()?;
                            let mut norm = Vec::new();
                            for op in ops {
                                norm.push(normalize_operation(&op).ok_or_else(|| {
                                    A::Error::custom(format!(
                                        "field `operations`: `{op}` is not an operation; write METHOD /path, e.g. \"POST /embed\" (or \"webhook NAME\")"
                                    ))
                                })?);
                            }
                            operations = Some(norm);
                        }
                        other => return Err(A::Error::custom(format!("unknown field `{other}`, expected `version` or `operations`"))),
                    }
                }
                let version = version.ok_or_else(|| A::Error::custom("missing field `version`"))?;
                Ok(Consume { version, operations })
            }
        }
        d.deserialize_any(V)
    }
}

/// `post /embed/{id}` → `POST /embed/{id}`; `webhook NAME [METHOD]` stays as written. None when
/// it is neither.
pub fn normalize_operation(op: &str) -> Option<String> {
    let op = op.trim();
    if let Some(rest) = op.strip_prefix("webhook ") {
        return (!rest.trim().is_empty()).then(|| format!("webhook {}", rest.trim()));
    }
    let (m, path) = op.split_once(char::is_whitespace)?;
    let m = m.to_ascii_uppercase();
    let path = path.trim();
    (["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"].contains(&m.as_str()) && path.starts_with('/'))
        .then(|| format!("{m} {path}"))
}

/// A model: either a `.dvc` file, or the outputs of a `dvc.lock` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A `.dvc` file, relative to the component.
    #[serde(default)]
    pub dvc: Option<String>,
    /// A stage name in `lock` (default `dvc.lock` in the component folder).
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub lock: Option<String>,
    /// One output path of the stage, as written in dvc.lock; all outputs when absent.
    #[serde(default)]
    pub out: Option<String>,
    /// A display name; defaults to the output's file name.
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provide {
    /// The contract file (OpenAPI 3.x or JSON Schema), relative to the component.
    pub contract: String,
    /// The API version, when the contract has no `info.version`.
    #[serde(default)]
    pub version: Option<semver::Version>,
}

impl BundleFile {
    /// Parse and validate the text of a bundle file.
    pub fn parse(text: &str, file: &Path) -> Result<BundleFile> {
        let b: BundleFile = yaml::from_str(text, file)?;
        let at = |key: &str, from: usize| format!("{}:{}", file.display(), yaml::line_of_key(text, key, from));
        if b.api_version != API_VERSION {
            bail!("{}: field `apiVersion`: `{}` is not supported; use `{API_VERSION}`", at("apiVersion", 1), b.api_version);
        }
        if b.components.is_empty() {
            bail!("{}: field `components` is empty; declare at least one component", at("components", 1));
        }
        for (name, c) in &b.components {
            // Line numbers only for errors: scanning the text per component is quadratic.
            let loc = |key: &str| at(key, yaml::line_of_key(text, &name.0, yaml::line_of_key(text, "components", 1)));
            let cp = c.path.trim_end_matches('/');
            (if cp == "." { Ok(()) } else { crate::paths::check_relative(cp) })
                .map_err(|e| anyhow!("{}: component `{name}` field `path`: {e}", loc("path")))?;
            for (i, m) in c.models.iter().enumerate() {
                match (&m.dvc, &m.stage) {
                    (Some(_), None) if m.out.is_none() && m.lock.is_none() => {}
                    (None, Some(_)) => {}
                    _ => bail!(
                        "{}: component `{name}` field `models[{i}]`: give either `dvc: FILE.dvc`, or `stage: NAME` (with optional `lock:` and `out:`)",
                        loc("models")
                    ),
                }
            }
            for (i, g) in c.prompts.iter().enumerate() {
                if let Err(e) = globset::Glob::new(g) {
                    bail!("{}: component `{name}` field `prompts[{i}]`: bad glob `{g}`: {e}", loc("prompts"));
                }
                if g.starts_with('/') || g.split('/').any(|c| c == "..") {
                    bail!("{}: component `{name}` field `prompts[{i}]`: `{g}` must stay inside the component folder", loc("prompts"));
                }
            }
            for (id, weights) in &c.splits {
                let sum: u64 = weights.values().map(|w| u64::from(*w)).sum();
                if sum != 100 {
                    bail!("{}: component `{name}` field `splits.{id}`: the percentages add up to {sum}; they must add up to 100", loc(id));
                }
            }
            for api in c.provides.keys().chain(c.consumes.keys()) {
                if !valid_name(api) {
                    bail!("{}: component `{name}`: API name `{api}` must use lower-case letters, digits and `-`", loc(api));
                }
            }
        }
        Ok(b)
    }
}
