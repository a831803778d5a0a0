//! Prompt template files (YAML or JSON). Schema: `spec/prompt.schema.json`.
//!
//! Accepted shapes: a plain `template` string; chat style as `system`/`user`/`assistant` keys or a
//! `messages` list of `{role, content}`; `variables` (or LangChain's `input_variables`) as a list of
//! names or of `{name, required, default}`. Placeholders are `{{ name }}` (Jinja/Mustache style).

use anyhow::{Result, bail};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct PromptFile {
    pub id: String,
    pub version: semver::Version,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub assistant: Option<String>,
    #[serde(default)]
    pub messages: Option<Messages>,
    #[serde(default, alias = "input_variables")]
    pub variables: Option<Vec<Variable>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Messages {
    List(Vec<Message>),
    Map(std::collections::BTreeMap<String, String>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Variable {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        required: Option<bool>,
        #[serde(default)]
        default: Option<serde_norway::Value>,
    },
}

impl Variable {
    pub fn name(&self) -> &str {
        match self {
            Variable::Name(n) | Variable::Full { name: n, .. } => n,
        }
    }
}

/// A parsed, checked prompt.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub id: String,
    pub version: semver::Version,
    pub variables: Vec<String>,
    /// Variables a caller must supply: declared by name only, or `required: true` without a default.
    pub required: BTreeSet<String>,
}

/// The bodies of Jinja statements `{% … %}`, in one forward pass (an unclosed `{%` ends the scan:
/// searching for `%}` again from every `{%` would cost time quadratic in the template).
fn statements(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let i = rest.find("{%")?;
        let body = &rest[i + 2..];
        let end = body.find("%}")?;
        rest = &body[end + 2..];
        Some(&body[..end])
    })
}

/// Names a template binds itself: Jinja `{% for x in … %}`, `{% for k, v in … %}`, `{% set x = … %}`.
pub fn bound_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for stmt in statements(text) {
        let mut words = stmt.trim_start_matches('-').split_whitespace();
        match words.next() {
            Some("for") => {
                for w in words.take_while(|w| *w != "in") {
                    for n in w.split(',').filter(|n| !n.is_empty()) {
                        out.insert(n.to_string());
                    }
                }
            }
            Some("set") => {
                if let Some(n) = words.next() {
                    out.insert(n.trim_end_matches('=').to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// The root names of `{{ name }}`, `{{ name.attr }}` and `{{ name | filter }}` placeholders, and of
/// the names Jinja statements read (`{% for x in name %}`, `{% if name %}`), less the names the
/// template binds itself.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bound = bound_names(text);
    for stmt in statements(text) {
        let mut words = stmt.trim_start_matches('-').split_whitespace();
        let read: Vec<&str> = match words.next() {
            Some("for") => words.skip_while(|w| *w != "in").skip(1).take(1).collect(),
            Some("if") | Some("elif") => words.take(1).collect(),
            _ => Vec::new(),
        };
        for w in read {
            let name: String = w.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && !bound.contains(&name) && name != "not" {
                out.insert(name);
            }
        }
    }
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        rest = &rest[i + 2..];
        let t = rest.trim_start_matches([' ', '-', '\t']);
        let name: String = t.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && !bound.contains(&name) {
            out.insert(name);
        }
    }
    out
}

pub fn parse(text: &str, file: &Path) -> Result<Prompt> {
    let p: PromptFile = crate::yaml::from_str(text, file)?;
    let f = file.display();
    if p.id.trim().is_empty() {
        bail!("{f}: field `id` is empty; give the prompt a stable id");
    }
    let mut texts: Vec<&str> = Vec::new();
    texts.extend(p.template.as_deref());
    texts.extend(p.system.as_deref());
    texts.extend(p.user.as_deref());
    texts.extend(p.assistant.as_deref());
    match &p.messages {
        Some(Messages::List(l)) => texts.extend(l.iter().map(|m| m.content.as_str())),
        Some(Messages::Map(m)) => texts.extend(m.values().map(|s| s.as_str())),
        None => {}
    }
    if texts.is_empty() {
        bail!("{f}: no template: give `template`, `system`/`user`, or `messages` (a list of {{role, content}})");
    }
    if let Some(Messages::List(l)) = &p.messages {
        for (i, m) in l.iter().enumerate() {
            if !matches!(m.role.as_str(), "system" | "user" | "assistant" | "tool" | "developer") {
                bail!("{f}: field `messages[{i}].role`: unknown role `{}` (system, user, assistant, tool, developer)", m.role);
            }
        }
    }
    let used: BTreeSet<String> = texts.iter().flat_map(|t| placeholders(t)).collect();
    let declared: Vec<String> = p.variables.as_ref().map(|v| v.iter().map(|x| x.name().to_string()).collect()).unwrap_or_default();
    let mut seen = BTreeSet::new();
    for d in &declared {
        if !seen.insert(d.as_str()) {
            bail!("{f}: field `variables`: `{d}` is declared twice");
        }
    }
    let undeclared: Vec<&String> = used.iter().filter(|u| !seen.contains(u.as_str())).collect();
    if !undeclared.is_empty() {
        bail!(
            "{f}: field `variables`: the template uses {} but does not declare {}; add {} to `variables`",
            list(&undeclared),
            if undeclared.len() == 1 { "it" } else { "them" },
            if undeclared.len() == 1 { "it" } else { "them" }
        );
    }
    let unused: Vec<&String> = declared.iter().filter(|d| !used.contains(*d)).collect();
    if !unused.is_empty() {
        bail!("{f}: field `variables`: {} declared but never used in the template; remove it or use it", list(&unused));
    }
    let required = p
        .variables
        .iter()
        .flatten()
        .filter(|v| match v {
            Variable::Name(_) => true,
            Variable::Full { required, default, .. } => required.unwrap_or(default.is_none()) && default.is_none(),
        })
        .map(|v| v.name().to_string())
        .collect();
    Ok(Prompt { id: p.id, version: p.version, variables: declared, required })
}

fn list(v: &[&String]) -> String {
    v.iter().map(|s| format!("`{{{{{s}}}}}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_names() {
        let p = placeholders("Hi {{ user.name }} {{x|upper}} {{-y}} {{ 3 }} {{");
        assert_eq!(p.into_iter().collect::<Vec<_>>(), vec!["user", "x", "y"]);
        let p = placeholders("{% for c in chunks %}{{ c.text }}{% endfor %}{% set n = 3 %}{{ n }}{% if show %}x{% endif %}");
        assert_eq!(p.into_iter().collect::<Vec<_>>(), vec!["chunks", "show"]);
    }

    #[test]
    fn shapes() {
        let f = Path::new("p.yaml");
        parse("id: a\nversion: 1.0.0\ntemplate: 'Hello {{name}}'\nvariables: [name]\n", f).unwrap();
        parse("id: a\nversion: 1.0.0\nsystem: s\nuser: '{{q}}'\nvariables:\n  - name: q\n    required: true\n", f).unwrap();
        parse("id: a\nversion: 1.0.0\nmessages:\n  - role: user\n    content: '{{q}}'\ninput_variables: [q]\n", f).unwrap();
        assert!(parse("id: a\nversion: 1.0\ntemplate: x\n", f).is_err());
        let e = parse("id: a\nversion: 1.0.0\ntemplate: '{{q}}'\n", f).unwrap_err().to_string();
        assert!(e.contains("`{{q}}`"), "{e}");
        assert!(parse("id: a\nversion: 1.0.0\ntemplate: 'x'\nvariables: [q]\n", f).is_err());
    }
}
