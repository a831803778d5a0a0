//! A Langfuse prompt export (JSON, as the Langfuse API returns a prompt version): `name`, integer
//! `version`, `type` (`text` or `chat`), `prompt` (text, or a list of `{role, content}` messages and
//! `{type: placeholder, name}` message placeholders), `config`, `labels`, `tags`.
//!
//! * id: `name`;
//! * version: Langfuse's integer `version` N read as N.0.0. Langfuse counts a new version for every
//!   change, so every new version is a major one: a changed template under the same number, or a
//!   lower number, fails the bump rules exactly as for semver formats;
//! * variables: Langfuse declares none; every `{{name}}` placeholder (and every message
//!   placeholder's `name`) is a required variable.

use super::{Loc, Message, Raw, Syntax};
use anyhow::{Result, bail};
use serde_norway::Value;

pub fn parse(loc: &Loc) -> Result<Raw> {
    let doc: Value = crate::yaml::from_str(loc.text, loc.file)?;
    let id = match doc.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => bail!("{}: field `name`: {}, expected text", loc.at(&["name"]), super::native::kind(v)),
        None => bail!("{}: no `name`", loc.file.display()),
    };
    let version = match doc.get("version") {
        Some(Value::Number(n)) if n.as_u64().is_some() => semver::Version::new(n.as_u64().expect("checked"), 0, 0),
        Some(v) => bail!(
            "{}: field `version`: {}, expected Langfuse's whole version number (1, 2, …)",
            loc.at(&["version"]),
            super::native::kind(v)
        ),
        None => bail!("{}: no `version`: a Langfuse export has the prompt's version number", loc.file.display()),
    };
    let kind = doc.get("type").and_then(|t| t.as_str()).unwrap_or("text");
    let mut placeholders = Vec::new();
    let messages = match (kind, doc.get("prompt")) {
        ("text", Some(Value::String(t))) => vec![Message { role: String::new(), content: t.clone() }],
        ("chat", Some(Value::Sequence(items))) => {
            let mut out = Vec::new();
            for (i, m) in items.iter().enumerate() {
                match (m.get("type").and_then(|t| t.as_str()), m.get("role").and_then(|r| r.as_str()), m.get("content")) {
                    (Some("placeholder"), _, _) => match m.get("name").and_then(|n| n.as_str()) {
                        Some(n) => placeholders.push(n.to_string()),
                        None => bail!("{}: field `prompt[{i}].name`: a message placeholder needs a name", loc.at(&["prompt"])),
                    },
                    (_, Some(r), Some(Value::String(c))) => out.push(Message { role: r.to_string(), content: c.clone() }),
                    _ => bail!("{}: field `prompt[{i}]`: expected {{role, content}} or {{type: placeholder, name}}", loc.at(&["prompt"])),
                }
            }
            out
        }
        ("text" | "chat", Some(p)) => {
            bail!(
                "{}: field `prompt`: {} for a `{kind}` prompt; text prompts have text, chat prompts a list of messages",
                loc.at(&["prompt"]),
                super::native::kind(p)
            )
        }
        ("text" | "chat", None) => bail!("{}: no `prompt`", loc.file.display()),
        (other, _) => bail!("{}: field `type`: `{}` is not text or chat", loc.at(&["type"]), crate::yaml::shorten(other)),
    };
    Ok(Raw {
        id,
        version,
        variant: None,
        messages,
        syntax: Syntax::Handlebars,
        declared: None,
        also_used: placeholders,
        vars_at: loc.at(&["prompt"]),
        vars_field: "prompt",
    })
}
