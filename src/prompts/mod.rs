//! Prompt template files. Every format is read into one [`Prompt`]: id, version, variant,
//! variables and the template's messages, and checked the same way: every placeholder a template
//! reads must be declared (where the format declares variables) and every declared variable used.
//! One file per format; the mapping of each is in `spec/prompt-formats.md`:
//!
//! * [`native`]: our own format, YAML or JSON (`spec/prompt.schema.json`);
//! * [`prompty`]: `.prompty` (YAML front matter, role-marked Jinja2 body);
//! * [`dotprompt`]: `.prompt` (YAML front matter, Handlebars body; `NAME.VARIANT.prompt`);
//! * [`semantic_kernel`]: Semantic Kernel prompt YAML;
//! * [`langchain`]: LangChain serialized prompts (`_type: prompt`, `_type: chat`, `lc: 1` dumps);
//! * [`langfuse`]: a Langfuse prompt export (JSON).

mod dotprompt;
mod langchain;
mod langfuse;
mod native;
mod prompty;
mod semantic_kernel;
pub mod syntax;

use anyhow::{Result, bail};
use serde_norway::Value;
use std::collections::BTreeSet;
use std::path::Path;
pub use syntax::Syntax;

/// Chat roles a message may have.
pub const ROLES: [&str; 5] = ["system", "user", "assistant", "tool", "developer"];

/// The prompt file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Native,
    Prompty,
    Dotprompt,
    SemanticKernel,
    LangChain,
    Langfuse,
}

impl Format {
    /// The name recorded in the release record (`None` for our own format, as before formats).
    pub fn record_name(self) -> Option<&'static str> {
        match self {
            Format::Native => None,
            f => Some(f.name()),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "relbundle",
            Format::Prompty => "prompty",
            Format::Dotprompt => "dotprompt",
            Format::SemanticKernel => "semantic-kernel",
            Format::LangChain => "langchain",
            Format::Langfuse => "langfuse",
        }
    }

    /// The format of `file`: by extension (`.prompty`, `.prompt`), else by the keys of the YAML or
    /// JSON document (`_type` or `lc`: LangChain; `id` and `version`: ours; `name`, `prompt` and
    /// `type`: Langfuse; `template` with `name`, `template_format` or `input_variables`: Semantic
    /// Kernel), else ours (whose errors then say what is missing).
    pub fn detect(text: &str, file: &Path) -> Result<Format> {
        match file.extension().and_then(|e| e.to_str()) {
            Some("prompty") => return Ok(Format::Prompty),
            Some("prompt") => return Ok(Format::Dotprompt),
            _ => {}
        }
        let doc: Value = crate::yaml::from_str(text, file)?;
        let has = |k: &str| doc.get(k).is_some();
        Ok(if has("_type") || (has("lc") && has("kwargs")) {
            Format::LangChain
        } else if has("id") && has("version") {
            Format::Native
        } else if has("name") && has("prompt") && has("type") {
            Format::Langfuse
        } else if has("template") && (has("name") || has("template_format") || has("input_variables")) {
            Format::SemanticKernel
        } else {
            Format::Native
        })
    }
}

/// One message of a template; `role` is empty for a plain (non-chat) template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// A parsed, checked prompt.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub format: Format,
    pub id: String,
    pub version: semver::Version,
    /// The A/B variant this file is (Dotprompt's `NAME.VARIANT.prompt`, our `variant:`).
    pub variant: Option<String>,
    pub variables: Vec<String>,
    /// Variables a caller must supply: declared without a default and not marked optional.
    pub required: BTreeSet<String>,
    /// The template, in order: one message without a role, or chat messages.
    pub messages: Vec<Message>,
}

impl Prompt {
    /// The template's size: the characters of every message's content.
    pub fn template_chars(&self) -> u64 {
        self.messages.iter().map(|m| m.content.chars().count() as u64).sum()
    }

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

/// A declared variable.
#[derive(Debug, Clone)]
pub(crate) struct Decl {
    pub name: String,
    pub required: bool,
}

/// What a format reads from its file, before the shared checks.
pub(crate) struct Raw {
    pub id: String,
    pub version: semver::Version,
    pub variant: Option<String>,
    pub messages: Vec<Message>,
    pub syntax: Syntax,
    /// Declared variables; `None` when the format declares none (every placeholder is a required
    /// variable then).
    pub declared: Option<Vec<Decl>>,
    /// Variables read outside the template text (a message placeholder's variable).
    pub also_used: Vec<String>,
    /// `FILE:LINE` and name of the field declaring the variables, for errors.
    pub vars_at: String,
    pub vars_field: &'static str,
}

/// Read a prompt file of any supported format.
pub fn parse(text: &str, file: &Path) -> Result<Prompt> {
    let format = Format::detect(text, file)?;
    let loc = Loc { text, file };
    let raw = match format {
        Format::Native => native::parse(text, file)?,
        Format::Prompty => prompty::parse(&loc)?,
        Format::Dotprompt => dotprompt::parse(&loc)?,
        Format::SemanticKernel => semantic_kernel::parse(&loc)?,
        Format::LangChain => langchain::parse(&loc)?,
        Format::Langfuse => langfuse::parse(&loc)?,
    };
    finish(format, raw, &loc)
}

/// The shared checks: a non-empty id, a template, declared variables against the placeholders.
fn finish(format: Format, raw: Raw, loc: &Loc) -> Result<Prompt> {
    if raw.id.trim().is_empty() {
        bail!("{}: the prompt id is empty; give the prompt a stable id (spec/prompt-formats.md)", loc.file.display());
    }
    if raw.messages.is_empty() {
        bail!("{}: no template", loc.file.display());
    }
    let mut used: BTreeSet<String> = raw.messages.iter().flat_map(|m| raw.syntax.variables(&m.content)).collect();
    used.extend(raw.also_used);
    let decls = match raw.declared {
        Some(d) => {
            let names: Vec<String> = d.iter().map(|v| v.name.clone()).collect();
            check_variables(&names, &used, &raw.vars_at, raw.vars_field)?;
            d
        }
        None => used.iter().map(|n| Decl { name: n.clone(), required: true }).collect(),
    };
    Ok(Prompt {
        format,
        id: raw.id,
        version: raw.version,
        variant: raw.variant,
        variables: decls.iter().map(|d| d.name.clone()).collect(),
        required: decls.iter().filter(|d| d.required).map(|d| d.name.clone()).collect(),
        messages: raw.messages,
    })
}

/// A semantic version from a format's field, or an error naming the file, line and field.
pub(crate) fn semver_field(v: Option<&Value>, loc: &Loc, keys: &[&str], how: &str) -> Result<semver::Version> {
    let field = keys.join(".");
    match v {
        Some(Value::String(s)) => semver::Version::parse(s.trim_start_matches('v')).map_err(|e| {
            anyhow::anyhow!(
                "{}: field `{field}`: `{}` is not a semantic version ({e}); use MAJOR.MINOR.PATCH",
                loc.at(keys),
                crate::yaml::shorten(s)
            )
        }),
        Some(other) => bail!("{}: field `{field}`: {}, expected a semantic version like 1.0.0", loc.at(keys), native::kind(other)),
        None => bail!("{}: no version: {how} (spec/prompt-formats.md)", loc.file.display()),
    }
}

/// Split `---` YAML front matter from the body. Returns (front matter, body, the body's first line).
pub(crate) fn front_matter<'a>(loc: &Loc<'a>) -> Result<(&'a str, &'a str, usize)> {
    let text = loc.text.strip_prefix('\u{feff}').unwrap_or(loc.text);
    let (first, after) = text.split_once('\n').unwrap_or((text, ""));
    if first.trim_end() != "---" {
        bail!("{}:1: no front matter: the file must start with a `---` line, then YAML, then `---`", loc.file.display());
    }
    let mut offset = 0;
    for (i, line) in after.split_inclusive('\n').enumerate() {
        if line.trim_end() == "---" {
            return Ok((&after[..offset], &after[offset + line.len()..], i + 3));
        }
        offset += line.len();
    }
    bail!("{}:1: the front matter has no closing `---` line", loc.file.display())
}

/// Deserialize front matter, with error lines counted from the start of the file.
pub(crate) fn from_front_matter<T: serde::de::DeserializeOwned>(yaml: &str, loc: &Loc) -> Result<T> {
    serde_norway::from_str(yaml).map_err(|e| match e.location() {
        Some(l) => {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            anyhow::anyhow!("{}:{}:{}: {msg}", loc.file.display(), l.line() + 1, l.column())
        }
        None => crate::yaml::located(loc.file, &e),
    })
}

/// Split a body into chat messages at lines that hold only a role marker (`system:`, `# user:`,
/// as Prompty writes them), or by `{{role "…"}}` helpers (Dotprompt). Text before the first marker
/// has role `default`.
pub(crate) fn split_roles(body: &str, default: &str, marker: fn(&str) -> Option<String>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    let mut cur = Message { role: default.to_string(), content: String::new() };
    for line in body.split_inclusive('\n') {
        if let Some(role) = marker(line) {
            if !cur.content.trim().is_empty() {
                out.push(cur);
            }
            cur = Message { role, content: String::new() };
        } else {
            cur.content.push_str(line);
        }
    }
    if !cur.content.trim().is_empty() {
        out.push(cur);
    }
    for m in &mut out {
        m.content = m.content.trim_matches('\n').to_string();
    }
    out
}

/// A variant name: like an id, letters, digits, `-` and `_`.
pub(crate) fn check_variant(v: &str, at: &str, field: &str) -> Result<()> {
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("{at}: field `{field}`: variant `{}` must be letters, digits, `-` or `_`", crate::yaml::shorten(v));
    }
    if v == crate::bundlefile::DEFAULT_VARIANT {
        bail!("{at}: field `{field}`: `{v}` is the name splits give the file without a variant; name this variant otherwise");
    }
    Ok(())
}

/// The file name without its extension(s) from the first dot: `greeting.formal.prompt` → `greeting`.
pub(crate) fn stem(file: &Path) -> String {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.split('.').next().unwrap_or(name).to_string()
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
            Some("set") | Some("assign") | Some("capture") => {
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

fn list(v: &[&String]) -> String {
    crate::yaml::list(v.iter().map(|s| format!("`{{{{{s}}}}}`")), 5)
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

    fn p(name: &str, text: &str) -> Result<Prompt> {
        parse(text, Path::new(name))
    }

    fn vars(p: &Prompt) -> (Vec<&str>, Vec<&str>) {
        (p.variables.iter().map(|s| s.as_str()).collect(), p.required.iter().map(|s| s.as_str()).collect())
    }

    #[test]
    fn prompty_v2_lists_inputs_and_splits_roles() {
        let t = "---\nname: g\nmetadata:\n  version: 1.2.0\ninputs:\n  - name: who\n    kind: string\n  - name: lang\n    default: en\ntemplate:\n  format:\n    kind: mustache\n---\n# System:\nSpeak {{lang}}.\n\nuser:\nHi {{#who}}{{.}}{{/who}}\n";
        let x = p("g.prompty", t).unwrap();
        assert_eq!((x.id.as_str(), x.version.to_string()), ("g", "1.2.0".into()));
        assert_eq!(vars(&x), (vec!["who", "lang"], vec!["who"]));
        assert_eq!(x.messages.iter().map(|m| m.role.as_str()).collect::<Vec<_>>(), ["system", "user"]);
        let e = p("g.prompty", "---\nname: g\n---\nuser:\nx\n").unwrap_err().to_string();
        assert!(e.contains("g.prompty: no version: add `version: 1.0.0`"), "{e}");
        let e = p("g.prompty", "name: g\n").unwrap_err().to_string();
        assert!(e.starts_with("g.prompty:1: no front matter"), "{e}");
        let e = p("g.prompty", "---\nname: g\nversion: [\n---\nx\n").unwrap_err().to_string();
        assert!(e.starts_with("g.prompty:4:"), "front matter errors count lines from the file's start: {e}");
    }

    #[test]
    fn dotprompt_json_schema_defaults_and_variants() {
        let t = "---\nname: n\nvariant: b\nversion: 0.1.0\ninput:\n  schema:\n    type: object\n    properties: {q: {type: string}, k: {type: integer}}\n    required: [q]\n---\n{{q}} {{k}} {{history}} {{section \"x\"}}\n";
        let x = p("whatever.prompt", t).unwrap();
        assert_eq!((x.id.as_str(), x.variant.as_deref()), ("n", Some("b")));
        assert_eq!(vars(&x), (vec!["q", "k"], vec!["q"]));
        let x = p("ask.concise.prompt", "---\nversion: 1.0.0\n---\n{{q}}\n").unwrap();
        assert_eq!((x.id.as_str(), x.variant.as_deref(), vars(&x).1), ("ask", Some("concise"), vec!["q"]));
        let e = p("ask.prompt", "---\nversion: 1.0.0\ninput:\n  schema:\n    q: string\n---\n{{r}}\n").unwrap_err().to_string();
        assert!(e.contains("ask.prompt:4: field `input.schema`: the template uses `{{r}}`"), "{e}");
    }

    #[test]
    fn semantic_kernel_formats() {
        let t = "name: s\nversion: 1.0.0\ntemplate_format: liquid\ntemplate: '{% for m in msgs %}{{ m }}{% endfor %}'\ninput_variables:\n  - name: msgs\n";
        assert_eq!(vars(&p("s.yaml", t).unwrap()), (vec!["msgs"], vec!["msgs"]));
        let t = "name: s\nversion: 1.0.0\ntemplate_format: handlebars\ntemplate: '{{#each items}}{{name}}{{/each}}'\n";
        assert_eq!(vars(&p("s.yaml", t).unwrap()), (vec!["items"], vec!["items"]));
        let e = p("s.yaml", "name: s\ntemplate: '{{$x}}'\n").unwrap_err().to_string();
        assert!(e.contains("s.yaml: no version: add `version: 1.0.0` next to `name`"), "{e}");
    }

    #[test]
    fn langchain_chat_shapes_and_dumps() {
        let t = "_type: chat\nmetadata: {version: 1.0.0}\ninput_variables: [q]\nmessages:\n  - [system, be brief]\n  - {role: human, content: '{q}'}\n";
        let x = p("c.yaml", t).unwrap();
        assert_eq!((x.id.as_str(), x.messages[1].role.as_str()), ("c", "user"));
        let dump = r#"{"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "ChatPromptTemplate"],
          "kwargs": {"input_variables": ["history", "q"], "metadata": {"id": "qa", "version": "2.0.0"}, "messages": [
            {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "SystemMessagePromptTemplate"],
             "kwargs": {"prompt": {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
               "kwargs": {"input_variables": [], "template": "Be brief.", "template_format": "f-string"}}}},
            {"lc": 1, "type": "constructor", "id": ["langchain_core", "prompts", "chat", "MessagesPlaceholder"], "kwargs": {"variable_name": "history"}},
            {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "HumanMessagePromptTemplate"],
             "kwargs": {"prompt": {"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
               "kwargs": {"input_variables": ["q"], "template": "{q}", "template_format": "f-string"}}}}]}}"#;
        let x = p("qa.json", dump).unwrap();
        assert_eq!((x.id.as_str(), x.version.to_string(), vars(&x).1), ("qa", "2.0.0".into(), vec!["history", "q"]));
        let e = p("t.json", "{\"_type\": \"prompt\", \"template_path\": \"t.txt\", \"input_variables\": []}").unwrap_err().to_string();
        assert!(e.contains("field `template_path`"), "{e}");
        let e = p("t.yaml", "_type: few_shot\n").unwrap_err().to_string();
        assert!(e.contains("t.yaml:1: field `_type`: `few_shot`"), "{e}");
    }

    #[test]
    fn langfuse_text_and_errors() {
        let x = p("l.json", r#"{"name": "m", "version": 3, "type": "text", "prompt": "As a {{level}} critic: {{movie}}", "labels": []}"#)
            .unwrap();
        assert_eq!((x.version.to_string(), vars(&x).1), ("3.0.0".into(), vec!["level", "movie"]));
        let e = p("l.json", "{\"name\": \"m\",\n \"version\": 3,\n \"type\": \"chat\",\n \"prompt\": \"x\"}").unwrap_err().to_string();
        assert!(e.starts_with("l.json:4: field `prompt`: text for a `chat` prompt"), "{e}");
    }

    /// What the fuzz target does, over its corpus (every format's fixture is in it): no panic, and
    /// a deeply nested hostile template is read in linear time.
    #[test]
    fn fuzz_corpus_and_deep_nesting() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/prompt");
        let names = ["p.yaml", "p.prompty", "p.prompt", "p.formal.prompt"];
        let mut read = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(e.unwrap().path()).unwrap();
            let Some((&pick, rest)) = data.split_first() else { continue };
            if let Ok(text) = std::str::from_utf8(rest) {
                read += usize::from(parse(text, Path::new(names[pick as usize % names.len()])).is_ok());
                for s in [Syntax::Jinja, Syntax::Liquid, Syntax::Handlebars, Syntax::FString, Syntax::SemanticKernel] {
                    let _ = s.variables(text);
                }
            }
        }
        assert!(read >= 7, "the format fixtures in the corpus parse ({read})");
        let deep = format!("{}{{{{x}}}}{}", "{{#each a}}".repeat(200_000), "{{/each}}".repeat(200_000));
        let t = std::time::Instant::now();
        assert_eq!(Syntax::Handlebars.variables(&deep).into_iter().collect::<Vec<_>>(), ["a"]);
        assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
    }
}
