//! LangChain serialized prompts, YAML or JSON:
//!
//! * `_type: prompt` (what `PromptTemplate.save` writes): `template`, `input_variables`,
//!   `template_format` (`f-string`, the default; `jinja2`; `mustache`), `partial_variables`;
//! * `_type: chat`: `messages`, each `{role, prompt: {template}}`, `{role, content}` or a
//!   `[role, template]` pair as `ChatPromptTemplate.from_messages` takes them;
//! * `lc: 1` dumps (`langchain_core.load.dumpd`) of a `PromptTemplate` or `ChatPromptTemplate`,
//!   whose messages are `SystemMessagePromptTemplate`, `HumanMessagePromptTemplate`,
//!   `AIMessagePromptTemplate`, `ChatMessagePromptTemplate` or `MessagesPlaceholder`.
//!
//! id: `metadata.id`, else `name`, else the file name without extension; version:
//! `metadata.version` (semver; LangChain has none of its own, and `metadata` is a field every
//! prompt template keeps). Variables: `input_variables` (required) and the keys of
//! `partial_variables` (optional); a `MessagesPlaceholder`'s `variable_name` is a variable too.
//! `template_path` (a template in another file) is refused: inline the template.

use super::{Decl, Loc, Message, Raw, Syntax};
use anyhow::{Result, bail};
use serde_norway::Value;

pub fn parse(loc: &Loc) -> Result<Raw> {
    let doc: Value = crate::yaml::from_str(loc.text, loc.file)?;
    let lc = doc.get("lc").is_some();
    // The fields of the template object: the document, or a dump's `kwargs`.
    let kw = if lc { doc.get("kwargs").unwrap_or(&Value::Null) } else { &doc };
    let kind = if lc { class(&doc).unwrap_or_default() } else { text(&doc, "_type", loc)?.unwrap_or_default() };
    let kw_keys: &[&str] = if lc { &["kwargs"] } else { &[] };
    let at = |k: &str| loc.at(&[kw_keys, &[k]].concat());
    if kw.get("template_path").is_some() {
        bail!("{}: field `template_path`: the template is in another file; inline it as `template`", at("template_path"));
    }
    let syntax = match text(kw, "template_format", loc)?.as_deref().unwrap_or("f-string") {
        "f-string" => Syntax::FString,
        "jinja2" => Syntax::Jinja,
        "mustache" => Syntax::Handlebars,
        other => bail!(
            "{}: field `template_format`: `{}` is not f-string, jinja2 or mustache",
            at("template_format"),
            crate::yaml::shorten(other)
        ),
    };
    let mut placeholders = Vec::new();
    let messages = match kind.as_str() {
        "prompt" | "PromptTemplate" => match kw.get("template") {
            Some(Value::String(t)) => vec![Message { role: String::new(), content: t.clone() }],
            _ => bail!("{}: field `template`: a prompt needs its template as text", at("template")),
        },
        "chat" | "ChatPromptTemplate" => chat(kw.get("messages"), loc, &mut placeholders)?,
        "" => bail!("{}: no `_type`: a LangChain prompt file has `_type: prompt` or `_type: chat`", loc.file.display()),
        other => bail!(
            "{}: field `_type`: `{}` is not a prompt LangChain can load here (prompt, chat)",
            loc.at(&["_type"]),
            crate::yaml::shorten(other)
        ),
    };
    let meta = kw.get("metadata");
    let id = match meta.and_then(|m| m.get("id")).or(kw.get("name")) {
        Some(Value::String(s)) => s.clone(),
        _ => super::stem(loc.file),
    };
    let version = super::semver_field(
        meta.and_then(|m| m.get("version")),
        loc,
        &[kw_keys, &["metadata", "version"]].concat(),
        "add `metadata: {version: 1.0.0}` (PromptTemplate(metadata={\"version\": \"1.0.0\"}) saves it)",
    )?;
    let mut declared = Vec::new();
    match kw.get("input_variables") {
        Some(Value::Sequence(v)) => {
            for (i, x) in v.iter().enumerate() {
                match x.as_str() {
                    Some(n) => declared.push(Decl { name: n.into(), required: true }),
                    None => bail!("{}: field `input_variables[{i}]`: {}, expected a name", at("input_variables"), super::native::kind(x)),
                }
            }
        }
        Some(v) => bail!("{}: field `input_variables`: {}, expected a list of names", at("input_variables"), super::native::kind(v)),
        None => {}
    }
    if let Some(Value::Mapping(p)) = kw.get("partial_variables") {
        declared.extend(p.keys().filter_map(|k| k.as_str()).map(|n| Decl { name: n.into(), required: false }));
    }
    let declared = if kw.get("input_variables").is_some() { Some(declared) } else { None };
    Ok(Raw {
        id,
        version,
        variant: None,
        messages,
        syntax,
        declared,
        also_used: placeholders,
        vars_at: at("input_variables"),
        vars_field: "input_variables",
    })
}

/// The class name of an `lc: 1` constructor: the last element of `id`.
fn class(v: &Value) -> Option<String> {
    v.get("id")?.as_sequence()?.last()?.as_str().map(String::from)
}

fn text(v: &Value, k: &str, loc: &Loc) -> Result<Option<String>> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(x) => bail!("{}: field `{k}`: {}, expected text", loc.at(&[k]), super::native::kind(x)),
    }
}

/// Chat messages in any of the accepted shapes; `MessagesPlaceholder` names go to `placeholders`.
fn chat(v: Option<&Value>, loc: &Loc, placeholders: &mut Vec<String>) -> Result<Vec<Message>> {
    let at = loc.at(&["messages"]);
    let Some(Value::Sequence(items)) = v else { bail!("{at}: field `messages`: a chat prompt needs a list of messages") };
    let mut out = Vec::new();
    for (i, m) in items.iter().enumerate() {
        let field = format!("messages[{i}]");
        if let Some(c) = class(m) {
            let kw = m.get("kwargs").unwrap_or(&Value::Null);
            let role = match c.as_str() {
                "MessagesPlaceholder" => {
                    placeholders.extend(kw.get("variable_name").and_then(|n| n.as_str()).map(String::from));
                    continue;
                }
                "SystemMessagePromptTemplate" => "system".to_string(),
                "HumanMessagePromptTemplate" => "user".to_string(),
                "AIMessagePromptTemplate" => "assistant".to_string(),
                "ChatMessagePromptTemplate" => kw.get("role").and_then(|r| r.as_str()).unwrap_or("user").to_string(),
                other => bail!("{at}: field `{field}`: `{}` is not a message template LangChain dumps", crate::yaml::shorten(other)),
            };
            let t = kw.get("prompt").and_then(|p| p.get("kwargs")).and_then(|k| k.get("template")).and_then(|t| t.as_str());
            let Some(t) = t else { bail!("{at}: field `{field}.kwargs.prompt.kwargs.template`: missing") };
            out.push(Message { role, content: t.to_string() });
            continue;
        }
        let (role, content) = match m {
            Value::Sequence(pair) if pair.len() == 2 => (pair[0].as_str(), pair[1].as_str()),
            Value::Mapping(_) => (
                m.get("role").and_then(|r| r.as_str()),
                m.get("content").or_else(|| m.get("prompt").and_then(|p| p.get("template"))).and_then(|c| c.as_str()),
            ),
            _ => (None, None),
        };
        match (role, content) {
            (Some(r), Some(c)) => out.push(Message { role: lc_role(r), content: c.to_string() }),
            _ => bail!("{at}: field `{field}`: expected {{role, prompt: {{template}}}}, {{role, content}} or [role, template]"),
        }
    }
    Ok(out)
}

/// LangChain's role names (`human`, `ai`) as ours.
fn lc_role(r: &str) -> String {
    match r {
        "human" => "user".into(),
        "ai" => "assistant".into(),
        r => r.into(),
    }
}
