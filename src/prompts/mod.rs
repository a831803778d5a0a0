//! Prompt template files. Every format is read into one [`Prompt`]: id, version, variables and
//! the template's messages. Our own format (YAML or JSON, `spec/prompt.schema.json`) is
//! [`native`]; the mapping of each format is in `spec/prompt-formats.md`.
//!
//! Placeholders are `{{ name }}` (Jinja/Mustache style); every placeholder must be declared and
//! every declared variable used.

mod native;

use anyhow::{Result, bail};
use std::collections::BTreeSet;
use std::path::Path;

/// Chat roles a message may have.
pub const ROLES: [&str; 5] = ["system", "user", "assistant", "tool", "developer"];

/// One message of a template; `role` is empty for a plain (non-chat) template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// A parsed, checked prompt.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub id: String,
    pub version: semver::Version,
    pub variables: Vec<String>,
    /// Variables a caller must supply: declared by name only, or `required: true` without a default.
    pub required: BTreeSet<String>,
    /// The template, in order: one message without a role, or chat messages.
    pub messages: Vec<Message>,
}

impl Prompt {
    /// The template as one text: plain templates as they are, chat messages as `[role]` blocks.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for m in &self.messages {
            if !m.role.is_empty() {
                out.push_str(&format!("[{}]\n", m.role));
            }
            out.push_str(&m.content);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// Read a prompt file of any supported format.
pub fn parse(text: &str, file: &Path) -> Result<Prompt> {
    native::parse(text, file)
}

/// A location in a prompt file for errors: `FILE:LINE`, the line found by key.
pub(crate) struct Loc<'a> {
    pub text: &'a str,
    pub file: &'a Path,
}

impl Loc<'_> {
    /// `FILE:LINE` of the nested key path `keys` (each searched below the previous one).
    pub fn at(&self, keys: &[&str]) -> String {
        format!("{}:{}", self.file.display(), self.line(keys))
    }

    pub fn line(&self, keys: &[&str]) -> usize {
        keys.iter().fold(1, |from, k| crate::yaml::line_of_key(self.text, k, from))
    }
}

/// Check the declared variables against the placeholders `used`: no duplicates, none undeclared,
/// none unused. `at` is the location of the variables field.
pub(crate) fn check_variables(declared: &[String], used: &BTreeSet<String>, at: &str, field: &str) -> Result<()> {
    let mut seen = BTreeSet::new();
    for d in declared {
        if !seen.insert(d.as_str()) {
            bail!("{at}: field `{field}`: `{d}` is declared twice");
        }
    }
    let undeclared: Vec<&String> = used.iter().filter(|u| !seen.contains(u.as_str())).collect();
    if !undeclared.is_empty() {
        let it = if undeclared.len() == 1 { "it" } else { "them" };
        bail!("{at}: field `{field}`: the template uses {} but does not declare {it}; add {it} to `{field}`", list(&undeclared));
    }
    let unused: Vec<&String> = declared.iter().filter(|d| !used.contains(*d)).collect();
    if !unused.is_empty() {
        bail!("{at}: field `{field}`: {} declared but never used in the template; remove it or use it", list(&unused));
    }
    Ok(())
}

/// Names a template binds itself: Jinja `{% for x in … %}`, `{% for k, v in … %}`, `{% set x = … %}`.
pub fn bound_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("{%") {
        rest = &rest[i + 2..];
        let stmt = rest.split("%}").next().unwrap_or("");
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
    let mut stmts = text;
    while let Some(i) = stmts.find("{%") {
        stmts = &stmts[i + 2..];
        let stmt = stmts.split("%}").next().unwrap_or("");
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

fn list(v: &[&String]) -> String {
    crate::error::list(v.iter().map(|s| format!("`{{{{{s}}}}}`")))
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
}
