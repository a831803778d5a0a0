//! Prompty (`.prompty`): YAML front matter, then a body of chat messages, each starting at a line
//! that holds only a role marker (`system:`, `user:`, `assistant:`, also written `# user:`).
//!
//! * id: `name`; version: `version` (Prompty 1) or `metadata.version` (Prompty 2), semver;
//! * variables: `inputs` — a map of name to `{type, default, description}` or to a sample value
//!   (Prompty 1), or a list of `{name, kind, default, required}` (Prompty 2); else the keys of
//!   `sample`; an input with a default (or a sample value, or `required: false`) is optional;
//! * template syntax: Jinja2, or Mustache when `template` says `mustache` (`template: mustache`,
//!   `template: {format: mustache}` or `template: {format: {kind: mustache}}`).

use super::{Decl, Loc, Message, Raw, Syntax};
use anyhow::{Result, bail};
use serde_norway::Value;

pub fn parse(loc: &Loc) -> Result<Raw> {
    let (yaml, body, _) = super::front_matter(loc)?;
    let fm: Value = super::from_front_matter(yaml, loc)?;
    if !fm.is_mapping() {
        bail!(
            "{}:2: the front matter is {}, expected a map of fields (name, version, inputs, …)",
            loc.file.display(),
            super::native::kind(&fm)
        );
    }
    let id = match fm.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => bail!("{}: field `name`: {}, expected text", loc.at(&["name"]), super::native::kind(v)),
        None => bail!("{}:2: no `name`: Prompty's `name` is the prompt id; add `name: …` to the front matter", loc.file.display()),
    };
    let (v, keys): (Option<&Value>, &[&str]) = match fm.get("version") {
        Some(v) => (Some(v), &["version"]),
        None => (fm.get("metadata").and_then(|m| m.get("version")), &["metadata", "version"]),
    };
    let version =
        super::semver_field(v, loc, keys, "add `version: 1.0.0` (Prompty 1) or `metadata: {version: 1.0.0}` to the front matter")?;
    let syntax = match fm.get("template") {
        Some(t) if mentions_mustache(t) => Syntax::Handlebars,
        _ => Syntax::Jinja,
    };
    let (declared, field) = match (fm.get("inputs"), fm.get("sample")) {
        (Some(i), _) => (Some(inputs(i, loc)?), "inputs"),
        (None, Some(Value::Mapping(m))) => {
            (Some(m.keys().filter_map(|k| k.as_str()).map(|n| Decl { name: n.into(), required: false }).collect()), "sample")
        }
        _ => (None, "inputs"),
    };
    let messages: Vec<Message> = super::split_roles(body, "system", marker);
    Ok(Raw { id, version, variant: None, messages, syntax, declared, also_used: Vec::new(), vars_at: loc.at(&[field]), vars_field: field })
}

fn mentions_mustache(t: &Value) -> bool {
    match t {
        Value::String(s) => s.eq_ignore_ascii_case("mustache"),
        Value::Mapping(m) => m.get("format").is_some_and(|f| mentions_mustache(f) || f.get("kind").is_some_and(mentions_mustache)),
        _ => false,
    }
}

/// A line that is only a role marker: `system:`, `# user:` (any case).
fn marker(line: &str) -> Option<String> {
    let t = line.trim().trim_start_matches('#').trim_start();
    let role = t.strip_suffix(':')?.trim().to_ascii_lowercase();
    super::ROLES.contains(&role.as_str()).then_some(role)
}

fn inputs(v: &Value, loc: &Loc) -> Result<Vec<Decl>> {
    let at = loc.at(&["inputs"]);
    let required = |spec: &Value| match spec {
        Value::Mapping(m) => match m.get("required") {
            Some(Value::Bool(b)) => *b,
            _ => m.get("default").is_none(),
        },
        // A plain value is the sample/default value (Prompty 1 shorthand).
        _ => false,
    };
    match v {
        Value::Mapping(m) => m
            .iter()
            .map(|(k, spec)| match k.as_str() {
                Some(n) => Ok(Decl { name: n.into(), required: required(spec) }),
                None => bail!("{at}: field `inputs`: a key is {}, expected an input name", super::native::kind(k)),
            })
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.get("name") {
                Some(Value::String(n)) => Ok(Decl { name: n.clone(), required: required(item) }),
                _ => bail!("{at}: field `inputs[{i}].name`: each input needs a `name`"),
            })
            .collect(),
        _ => bail!("{at}: field `inputs`: {}, expected a map of inputs or a list of {{name, kind, default}}", super::native::kind(v)),
    }
}
