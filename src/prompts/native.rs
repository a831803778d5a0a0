//! Our own prompt format, YAML or JSON (`spec/prompt.schema.json`). The template is any of:
//!
//! * `template: "text"` (a plain template);
//! * `template: {system: …, user: …, assistant: …}` (a chat map, in the order written);
//! * `template: [{role, content}, …]` or `messages: [{role, content}, …]` (a chat list; an item may
//!   also be a one-key map `{user: …}`, and `content` a list of `{type: text, text}` parts);
//! * `messages: {system: …, user: …}`;
//! * top-level `system:` / `user:` / `assistant:` keys.
//!
//! `variables` (or LangChain's `input_variables`) is a list of names or of `{name, required, default}`.

use super::{Decl, Loc, Message, ROLES, Raw, Syntax};
use anyhow::{Result, bail};
use serde::Deserialize;
use serde_norway::Value;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
struct PromptFile {
    id: String,
    version: semver::Version,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    template: Option<Value>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    assistant: Option<String>,
    #[serde(default)]
    messages: Option<Value>,
    #[serde(default, alias = "input_variables")]
    variables: Option<Vec<Variable>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Variable {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        required: Option<bool>,
        #[serde(default)]
        default: Option<Value>,
    },
}

impl Variable {
    fn name(&self) -> &str {
        match self {
            Variable::Name(n) | Variable::Full { name: n, .. } => n,
        }
    }

    /// Required: declared by name only, or not `required: false` and without a default.
    fn required(&self) -> bool {
        match self {
            Variable::Name(_) => true,
            Variable::Full { required, default, .. } => required.unwrap_or(true) && default.is_none(),
        }
    }
}

pub fn parse(text: &str, file: &Path) -> Result<Raw> {
    let p: PromptFile = crate::yaml::from_str(text, file)?;
    let loc = Loc { text, file };
    if p.id.trim().is_empty() {
        bail!("{}: field `id` is empty; give the prompt a stable id", loc.at(&["id"]));
    }
    let mut messages = Vec::new();
    if let Some(t) = &p.template {
        messages.extend(chat(t, "template", &loc)?);
    }
    for (role, t) in [("system", &p.system), ("user", &p.user), ("assistant", &p.assistant)] {
        messages.extend(t.iter().map(|c| Message { role: role.into(), content: c.clone() }));
    }
    if let Some(m) = &p.messages {
        if m.is_string() {
            bail!("{}: field `messages`: a list of {{role, content}} or a map of role to text, not a string", loc.at(&["messages"]));
        }
        messages.extend(chat(m, "messages", &loc)?);
    }
    if messages.is_empty() {
        bail!(
            "{}: no template: give `template` (text, a {{system, user, assistant}} map or a [{{role, content}}] list), `system`/`user`, or `messages`",
            loc.at(&["id"])
        );
    }
    if let Some(v) = &p.variant {
        super::check_variant(v, &loc.at(&["variant"]), "variant")?;
    }
    let vars_field = if text.contains("input_variables") { "input_variables" } else { "variables" };
    let declared = p.variables.unwrap_or_default().iter().map(|v| Decl { name: v.name().to_string(), required: v.required() }).collect();
    Ok(Raw {
        id: p.id,
        version: p.version,
        variant: p.variant,
        messages,
        syntax: Syntax::Jinja,
        declared: Some(declared),
        also_used: Vec::new(),
        vars_at: loc.at(&[vars_field]),
        vars_field,
    })
}

/// The messages of a `template` or `messages` value: text, a role map, or a list.
fn chat(v: &Value, field: &str, loc: &Loc) -> Result<Vec<Message>> {
    match v {
        Value::String(s) => Ok(vec![Message { role: String::new(), content: s.clone() }]),
        Value::Mapping(m) => m.iter().map(|(k, c)| role_message(k, c, field, loc)).collect(),
        Value::Sequence(items) => items.iter().enumerate().map(|(i, item)| list_item(item, &format!("{field}[{i}]"), loc)).collect(),
        _ => bail!("{}: field `{field}`: {}; give text, a map of role to text, or a list of {{role, content}}", loc.at(&[field]), kind(v)),
    }
}

/// `role: text` in a map.
fn role_message(k: &Value, c: &Value, field: &str, loc: &Loc) -> Result<Message> {
    let Some(role) = k.as_str() else { bail!("{}: field `{field}`: a key is {}, expected a role", loc.at(&[field]), kind(k)) };
    let at = loc.at(&[field, role]);
    check_role(role, &format!("{field}.{role}"), &at)?;
    Ok(Message { role: role.into(), content: content(c, &format!("{field}.{role}"), &at)? })
}

/// `{role, content}` or `{ROLE: text}` in a list.
fn list_item(item: &Value, field: &str, loc: &Loc) -> Result<Message> {
    let base = field.split('[').next().unwrap_or(field);
    let at = loc.at(&[base]);
    let Value::Mapping(m) = item else { bail!("{at}: field `{field}`: {}, expected {{role, content}}", kind(item)) };
    match (m.get("role"), m.get("content")) {
        (Some(r), Some(c)) => {
            let Some(role) = r.as_str() else { bail!("{at}: field `{field}.role`: {}, expected a role", kind(r)) };
            check_role(role, &format!("{field}.role"), &at)?;
            Ok(Message { role: role.into(), content: content(c, &format!("{field}.content"), &at)? })
        }
        (Some(_), None) => bail!("{at}: field `{field}`: `role` without `content`"),
        (None, Some(_)) => bail!("{at}: field `{field}`: `content` without `role`"),
        (None, None) if m.len() == 1 => {
            let (k, c) = m.iter().next().expect("one entry");
            role_message(k, c, base, loc)
                .map_err(|e| anyhow::anyhow!("{}", e.to_string().replacen(&format!("`{base}."), &format!("`{field}."), 1)))
        }
        (None, None) => bail!("{at}: field `{field}`: expected {{role, content}} or one `ROLE: text` entry"),
    }
}

fn check_role(role: &str, field: &str, at: &str) -> Result<()> {
    if !ROLES.contains(&role) {
        bail!("{at}: field `{field}`: unknown role `{}` ({})", crate::yaml::shorten(role), ROLES.join(", "));
    }
    Ok(())
}

/// Message content: text, or a list of parts (`{type: text, text}` or plain strings; other parts
/// such as images carry no template text).
fn content(c: &Value, field: &str, at: &str) -> Result<String> {
    match c {
        Value::String(s) => Ok(s.clone()),
        Value::Sequence(parts) => {
            let mut out = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                match p {
                    Value::String(s) => out.push(s.clone()),
                    Value::Mapping(m) => match m.get("text") {
                        Some(Value::String(s)) => out.push(s.clone()),
                        Some(t) => bail!("{at}: field `{field}[{i}].text`: {}, expected text", kind(t)),
                        None => {}
                    },
                    _ => bail!("{at}: field `{field}[{i}]`: {}, expected text or {{type: text, text}}", kind(p)),
                }
            }
            Ok(out.join("\n"))
        }
        _ => bail!("{at}: field `{field}`: {}, expected text", kind(c)),
    }
}

/// What a YAML value is, for errors.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<super::super::Prompt> {
        super::super::parse(s, Path::new("p.yaml"))
    }

    #[test]
    fn shapes() {
        p("id: a\nversion: 1.0.0\ntemplate: 'Hello {{name}}'\nvariables: [name]\n").unwrap();
        p("id: a\nversion: 1.0.0\nsystem: s\nuser: '{{q}}'\nvariables:\n  - name: q\n    required: true\n").unwrap();
        p("id: a\nversion: 1.0.0\nmessages:\n  - role: user\n    content: '{{q}}'\ninput_variables: [q]\n").unwrap();
        assert!(p("id: a\nversion: 1.0\ntemplate: x\n").is_err());
        let e = p("id: a\nversion: 1.0.0\ntemplate: '{{q}}'\n").unwrap_err().to_string();
        assert!(e.contains("`{{q}}`"), "{e}");
        assert!(p("id: a\nversion: 1.0.0\ntemplate: 'x'\nvariables: [q]\n").is_err());
    }

    #[test]
    fn chat_shapes_keep_order_and_roles() {
        let map = p("id: a\nversion: 1.0.0\nvariables: [l, t]\ntemplate:\n  system: 'in {{l}}'\n  user: '{{t}}'\n").unwrap();
        let roles: Vec<&str> = map.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user"]);
        assert_eq!(map.text(), "[system]\nin {{l}}\n[user]\n{{t}}\n");
        let list = p("id: a\nversion: 1.0.0\nvariables: [t]\ntemplate:\n  - {role: system, content: s}\n  - user: '{{t}}'\n").unwrap();
        assert_eq!(list.messages.len(), 2);
        let parts = p(
            "id: a\nversion: 1.0.0\nvariables: [t]\nmessages:\n  - role: user\n    content: [{type: text, text: '{{t}}'}, {type: image_url}]\n",
        );
        assert_eq!(parts.unwrap().messages[0].content, "{{t}}");
        p("id: a\nversion: 1.0.0\nvariables: [t]\nmessages: {system: s, user: '{{t}}'}\n").unwrap();
    }

    #[test]
    fn variants() {
        let x = p("id: a\nversion: 1.0.0\nvariant: concise\ntemplate: x\n").unwrap();
        assert_eq!(x.variant.as_deref(), Some("concise"));
        let e = p("id: a\nversion: 1.0.0\nvariant: default\ntemplate: x\n").unwrap_err().to_string();
        assert!(e.starts_with("p.yaml:3: field `variant`: `default` is the name splits give"), "{e}");
        assert!(p("id: a\nversion: 1.0.0\nvariant: 'a b'\ntemplate: x\n").is_err());
    }

    #[test]
    fn bad_chat_shapes_name_line_and_field() {
        let e = p("id: a\nversion: 1.0.0\ntemplate:\n  system: s\n  narrator: x\n").unwrap_err().to_string();
        assert!(e.starts_with("p.yaml:5: field `template.narrator`: unknown role"), "{e}");
        let e = p("id: a\nversion: 1.0.0\ntemplate:\n  system: [1]\n").unwrap_err().to_string();
        assert!(e.starts_with("p.yaml:4: field `template.system[0]`: a number"), "{e}");
        let e = p("id: a\nversion: 1.0.0\nmessages:\n  - role: user\n").unwrap_err().to_string();
        assert!(e.contains("p.yaml:3: field `messages[0]`: `role` without `content`"), "{e}");
        let e = p("id: a\nversion: 1.0.0\nmessages:\n  - {user: x}\n  - {bot: x}\n").unwrap_err().to_string();
        assert!(e.contains("field `messages[1].bot`: unknown role"), "{e}");
        let e = p("id: a\nversion: 1.0.0\ntemplate: 3\n").unwrap_err().to_string();
        assert!(e.starts_with("p.yaml:3: field `template`: a number"), "{e}");
        let e = p("id: a\nversion: 1.0.0\nvariables: [q]\ntemplate: {user: x}\n").unwrap_err().to_string();
        assert!(e.starts_with("p.yaml:3: field `variables`: `{{q}}` declared but never used"), "{e}");
    }
}
