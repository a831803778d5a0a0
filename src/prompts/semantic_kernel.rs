//! Semantic Kernel prompt YAML (`PromptTemplateConfig`): `name`, `template`, `template_format`
//! (`semantic-kernel`, the default; `handlebars`; `liquid`), `input_variables` of
//! `{name, description, default, is_required}`, `execution_settings`, ….
//!
//! * id: `name`; version: a top-level `version` (semver; Semantic Kernel has none of its own);
//! * variables: `input_variables`; one is required when `is_required` is true (Semantic Kernel's
//!   default) and it has no `default`. Without `input_variables`, every placeholder is a required
//!   variable.
//! * the template is one text; chat messages written as `<message role="system">…</message>`
//!   stay in it, as Semantic Kernel renders them.

use super::{Decl, Loc, Message, Raw, Syntax};
use anyhow::{Result, bail};
use serde::Deserialize;
use serde_norway::Value;

#[derive(Deserialize)]
struct Config {
    name: String,
    template: String,
    #[serde(default)]
    template_format: Option<String>,
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    input_variables: Option<Vec<InputVariable>>,
}

#[derive(Deserialize)]
struct InputVariable {
    name: String,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    is_required: Option<bool>,
}

pub fn parse(loc: &Loc) -> Result<Raw> {
    let c: Config = crate::yaml::from_str(loc.text, loc.file)?;
    let syntax = match c.template_format.as_deref().unwrap_or("semantic-kernel") {
        "semantic-kernel" => Syntax::SemanticKernel,
        "handlebars" => Syntax::Handlebars,
        "liquid" => Syntax::Liquid,
        other => bail!(
            "{}: field `template_format`: `{}` is not one of semantic-kernel, handlebars, liquid",
            loc.at(&["template_format"]),
            crate::yaml::shorten(other)
        ),
    };
    let version = super::semver_field(c.version.as_ref(), loc, &["version"], "add `version: 1.0.0` next to `name`")?;
    let declared = c
        .input_variables
        .map(|v| v.into_iter().map(|i| Decl { required: i.is_required.unwrap_or(true) && i.default.is_none(), name: i.name }).collect());
    Ok(Raw {
        id: c.name,
        version,
        variant: None,
        // Chat messages (`<message role="…">`) stay in the one template text, as Semantic Kernel renders it.
        messages: vec![Message { role: String::new(), content: c.template }],
        syntax,
        declared,
        also_used: Vec::new(),
        vars_at: loc.at(&["input_variables"]),
        vars_field: "input_variables",
    })
}
