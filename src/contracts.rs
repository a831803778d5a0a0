//! API contracts: OpenAPI 3.0/3.1 or JSON Schema documents (YAML or JSON), their versions, and
//! the files their `$ref`s reach.

use crate::files::{self, Files};
use crate::paths::{self, Root};
use anyhow::{Result, bail};
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenApi30,
    OpenApi31,
    JsonSchema,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::OpenApi30 => "openapi-3.0",
            Format::OpenApi31 => "openapi-3.1",
            Format::JsonSchema => "json-schema",
        }
    }
}

/// Most `$ref` hops followed from one contract.
pub const MAX_REF_FILES: usize = 256;

#[derive(Debug, Clone)]
pub struct Contract {
    pub format: Format,
    /// `info.version` (OpenAPI) or `x-version`/`version` (JSON Schema), if present.
    pub version: Option<String>,
    /// Every repository file the contract's `$ref`s reach (transitively), excluding itself.
    pub referenced: Vec<String>,
    /// The parsed documents: the contract and every referenced file, by repository path.
    pub docs: Vec<(String, serde_json::Value)>,
}

pub fn parse_doc(bytes: &[u8], rel: &str) -> Result<serde_json::Value> {
    let text = files::text(bytes, rel)?;
    crate::yaml::from_str(text, Path::new(rel))
}

pub fn detect(doc: &serde_json::Value, rel: &str) -> Result<(Format, Option<String>)> {
    if let Some(v) = doc.get("openapi") {
        let v = v.as_str().unwrap_or_default();
        let fmt = if v.starts_with("3.0") {
            Format::OpenApi30
        } else if v.starts_with("3.1") {
            Format::OpenApi31
        } else {
            bail!("{rel}: field `openapi`: version `{v}` is not supported; use OpenAPI 3.0 or 3.1");
        };
        let ver = doc.pointer("/info/version").and_then(|v| v.as_str()).map(String::from);
        return Ok((fmt, ver));
    }
    if doc.get("swagger").is_some() {
        bail!("{rel}: Swagger 2.0 is not supported; convert the contract to OpenAPI 3");
    }
    let is_schema = doc.get("$schema").and_then(|s| s.as_str()).is_some_and(|s| s.contains("json-schema.org"))
        || ["type", "properties", "$defs", "definitions", "allOf", "oneOf", "anyOf"].iter().any(|k| doc.get(*k).is_some());
    if is_schema {
        let ver = doc.get("x-version").or_else(|| doc.get("version")).and_then(|v| v.as_str()).map(String::from);
        return Ok((Format::JsonSchema, ver));
    }
    bail!("{rel}: not an OpenAPI 3.x document (no `openapi:`) nor a JSON Schema (no `$schema`, `type` or `properties`)")
}

/// External (non-fragment) `$ref` targets of a document, as written.
pub fn external_refs(doc: &serde_json::Value, out: &mut BTreeSet<String>) {
    match doc {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    if let Some(s) = v.as_str() {
                        let file = s.split('#').next().unwrap_or("");
                        if !file.is_empty() {
                            out.insert(file.to_string());
                        }
                    }
                } else {
                    external_refs(v, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| external_refs(v, out)),
        _ => {}
    }
}

/// Load a contract and every file its `$ref`s reach. Refs that need the network or leave the
/// repository are refused.
pub fn load(root: &Root, files: &mut Files, rel: &str, what: &str) -> Result<Contract> {
    let bytes = files.read(root, rel, what)?;
    let doc = parse_doc(&bytes, rel)?;
    let (format, version) = detect(&doc, rel)?;
    let mut seen: BTreeSet<String> = BTreeSet::from([rel.to_string()]);
    let mut queue = vec![(rel.to_string(), doc)];
    let mut docs = Vec::new();
    while let Some((from, doc)) = queue.pop() {
        let mut refs = BTreeSet::new();
        external_refs(&doc, &mut refs);
        for r in refs {
            if r.contains("://") || r.starts_with("//") {
                bail!(
                    "{from}: `$ref: {r}` needs the network; copy the referenced schema into the repository and refer to it by relative path"
                );
            }
            let target = paths::join_inside(paths::parent(&from), &r).map_err(|e| anyhow::anyhow!("{from}: `$ref: {r}`: {e}"))?;
            if seen.insert(target.clone()) {
                if seen.len() > MAX_REF_FILES {
                    bail!("{rel}: its `$ref`s reach more than {MAX_REF_FILES} files");
                }
                let b = files.read(root, &target, &format!("{from}: `$ref: {r}`"))?;
                let d = parse_doc(&b, &target)?;
                queue.push((target, d));
            }
        }
        docs.push((from, doc));
    }
    seen.remove(rel);
    Ok(Contract { format, version, referenced: seen.into_iter().collect(), docs })
}
