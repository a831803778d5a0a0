//! Dotprompt (`.prompt`): YAML front matter, then a Handlebars body whose `{{role "…"}}` helpers
//! start chat messages (text before the first one is a user message).
//!
//! * id: `name`, else the file name up to its first dot (`greeting.formal.prompt` → `greeting`);
//! * variant: `variant`, else the file name's middle part (`greeting.formal.prompt` → `formal`);
//! * version: `version`, else `metadata.version`, semver (Dotprompt has no version of its own);
//! * variables: the keys of `input.schema` — Picoschema (`name: string`, `name?: string` is
//!   optional, `tags(array): string`) or JSON Schema (`properties`, `required`); a key with an
//!   `input.default` is optional. Without a schema (or with a named one), every placeholder is a
//!   required variable. `{{history}}`, `{{section}}`, `{{media}}` and `{{role}}` are Dotprompt's
//!   own helpers, not variables.

use super::{Decl, Loc, Message, Raw, Syntax};
use anyhow::{Result, bail};
use serde_norway::Value;

pub fn parse(loc: &Loc) -> Result<Raw> {
    let (yaml, body, _) = super::front_matter(loc)?;
    let fm: Value = if yaml.trim().is_empty() { Value::Mapping(Default::default()) } else { super::from_front_matter(yaml, loc)? };
    if !fm.is_mapping() {
        bail!(
            "{}:2: the front matter is {}, expected a map of fields (name, version, input, …)",
            loc.file.display(),
            super::native::kind(&fm)
        );
    }
    let text_field = |k: &str| -> Result<Option<String>> {
        match fm.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => bail!("{}: field `{k}`: {}, expected text", loc.at(&[k]), super::native::kind(v)),
        }
    };
    let name = loc.file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parts: Vec<&str> = name.split('.').collect();
    let id = text_field("name")?.unwrap_or_else(|| super::stem(loc.file));
    let variant = match text_field("variant")? {
        Some(v) => Some(v),
        None if parts.len() == 3 => Some(parts[1].to_string()),
        None => None,
    };
    if let Some(v) = &variant {
        super::check_variant(v, &loc.at(&["variant"]), "variant")?;
    }
    let (v, keys): (Option<&Value>, &[&str]) = match fm.get("version") {
        Some(v) => (Some(v), &["version"]),
        None => (fm.get("metadata").and_then(|m| m.get("version")), &["metadata", "version"]),
    };
    let version = super::semver_field(v, loc, keys, "add `version: 1.0.0` (or `metadata: {version: 1.0.0}`) to the front matter")?;
    let input = fm.get("input");
    let defaults: Vec<String> = input
        .and_then(|i| i.get("default"))
        .and_then(|d| d.as_mapping())
        .map(|m| m.keys().filter_map(|k| k.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let declared = match input.and_then(|i| i.get("schema")) {
        Some(s @ Value::Mapping(_)) => Some(schema_keys(s, loc)?),
        _ => None,
    }
    .map(|d: Vec<Decl>| d.into_iter().map(|x| Decl { required: x.required && !defaults.contains(&x.name), ..x }).collect());
    let messages = roles(body);
    Ok(Raw {
        id,
        version,
        variant,
        messages,
        syntax: Syntax::Handlebars,
        declared,
        also_used: Vec::new(),
        vars_at: loc.at(&["input", "schema"]),
        vars_field: "input.schema",
    })
}

/// Top-level fields of a Picoschema or JSON Schema object.
fn schema_keys(s: &Value, loc: &Loc) -> Result<Vec<Decl>> {
    if let Some(props) = s.get("properties").and_then(|p| p.as_mapping()) {
        let required: Vec<&str> =
            s.get("required").and_then(|r| r.as_sequence()).map(|r| r.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
        return Ok(props.keys().filter_map(|k| k.as_str()).map(|n| Decl { name: n.into(), required: required.contains(&n) }).collect());
    }
    let m = s.as_mapping().expect("a map");
    m.keys()
        .map(|k| {
            let Some(k) = k.as_str() else { bail!("{}: field `input.schema`: a key is not text", loc.at(&["input", "schema"])) };
            let base = k.split('(').next().unwrap_or(k).trim();
            let (name, optional) = match base.strip_suffix('?') {
                Some(n) => (n, true),
                None => (base, false),
            };
            if super::syntax::ident(name).as_deref() != Some(name) {
                bail!(
                    "{}: field `input.schema.{k}`: `{}` is not a field name",
                    loc.at(&["input", "schema", k]),
                    crate::yaml::shorten(name)
                );
            }
            Ok(Decl { name: name.into(), required: !optional })
        })
        .collect()
}

/// Split at `{{role "…"}}` helpers; drop Dotprompt's own helpers that read no variable.
fn roles(body: &str) -> Vec<Message> {
    let mut out = Vec::new();
    let mut role = "user".to_string();
    let mut rest = body;
    loop {
        let next = find_role(rest);
        let (chunk, after) = match next {
            Some((start, end, _)) => (&rest[..start], Some(&rest[end..])),
            None => (rest, None),
        };
        let content = chunk.replace("{{history}}", "").trim_matches('\n').to_string();
        if !content.trim().is_empty() {
            out.push(Message { role: role.clone(), content });
        }
        match (next, after) {
            (Some((_, _, r)), Some(a)) => {
                role = r;
                rest = a;
            }
            _ => break,
        }
    }
    out
}

/// The next `{{role "NAME"}}`: (start, end, NAME).
fn find_role(s: &str) -> Option<(usize, usize, String)> {
    let mut from = 0;
    while let Some(i) = s[from..].find("{{") {
        let start = from + i;
        let end = start + s[start..].find("}}")? + 2;
        let tag: Vec<&str> = s[start + 2..end - 2].split_whitespace().collect();
        if tag.len() == 2 && tag[0] == "role" {
            return Some((start, end, tag[1].trim_matches(['"', '\'']).to_string()));
        }
        from = end;
    }
    None
}
