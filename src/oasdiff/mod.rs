//! Breaking-change classification between two versions of an API contract, after oasdiff's
//! catalogue of checks (https://github.com/oasdiff/oasdiff, docs/BREAKING-CHANGES.md): each change
//! carries oasdiff's rule id and level (ERR breaking, WARN potentially breaking, INFO).
//!
//! One file per area: [`paths`] (paths, operations, deprecation, stability, security, webhooks and
//! callbacks), [`parameters`], [`bodies`] (request bodies, responses, media types, headers) and
//! [`schema`] (schema keywords, OpenAPI 3.0 and JSON Schema 2020-12, with request/response
//! direction and readOnly/writeOnly). A JSON Schema contract is what its provider emits, so it is
//! judged as a response body.
//!
//! The rules follow oasdiff's defaults: no deprecation policy (deprecating without a sunset is
//! allowed, removing a deprecated operation or parameter whose `x-sunset` has passed or is absent
//! is allowed), operations whose `x-stability-level` is `draft` or `alpha` are not checked, and
//! the optional checks (removed non-success statuses, operation ids, tags, component schemas,
//! response enum values) are off.

mod bodies;
mod parameters;
mod paths;
mod schema;

use crate::compat::{Docs, Loc};
use anyhow::{Result, anyhow};
use serde::Serialize;
use serde_json::Value;

/// oasdiff's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    #[serde(rename = "ERR")]
    Err,
    #[serde(rename = "WARN")]
    Warn,
    #[serde(rename = "INFO")]
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Err => "ERR",
            Severity::Warn => "WARN",
            Severity::Info => "INFO",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// oasdiff's rule id, e.g. `response-required-property-removed`.
    pub id: String,
    pub level: Severity,
    /// `POST /embed`, `webhook newPet POST`, or empty for the whole API (or a JSON Schema contract).
    pub operation: String,
    /// Where in the operation: `request body`, `response 200 Chunk.char_start`, `query parameter limit`.
    pub location: String,
    pub message: String,
    /// The named schemas (`file#/pointer`, without the `a/`/`b/` side prefix) the change lies under:
    /// what a consumer's `$ref` into the provider's contract can be matched against.
    #[serde(skip)]
    pub schemas: Vec<String>,
}

impl Change {
    /// `POST /embed response 200 Chunk.char_start`, or whichever parts are known.
    pub fn place(&self) -> String {
        match (self.operation.is_empty(), self.location.is_empty()) {
            (true, true) => "the API".into(),
            (true, false) => self.location.clone(),
            (false, true) => self.operation.clone(),
            (false, false) => format!("{} {}", self.operation, self.location),
        }
    }
}

/// Shared state while comparing one contract pair.
pub(crate) struct Cx<'a> {
    pub docs: &'a Docs,
    pub out: Vec<Change>,
    /// Today, `YYYY-MM-DD` (sunset dates are compared with it).
    pub today: String,
    /// Schema pairs known to hold no change, by old and new location and rule context.
    pub clean: std::collections::HashSet<(Loc, Loc, u8)>,
    /// Named schema pairs compared once: their own changes and the named pairs they reach, replayed
    /// for every further operation that uses them.
    pub nodes: std::collections::HashMap<(Loc, Loc, u8), schema::Node>,
}

impl Cx<'_> {
    pub fn push(&mut self, id: impl Into<String>, level: Severity, operation: &str, location: &str, message: String, schemas: Vec<String>) {
        self.out.push(Change { id: id.into(), level, operation: operation.to_string(), location: location.to_string(), message, schemas });
    }
}

/// Compare the contract `old_file` with `new_file` (both loaded in `docs`, with everything their
/// `$ref`s reach). Changes come sorted: ERR, WARN, INFO, then by place.
pub fn compare(docs: &Docs, old_file: &str, new_file: &str) -> Result<Vec<Change>> {
    compare_with(docs, old_file, new_file, &[])
}

/// [`compare`], and also the schemas at `used` (`file#/pointer` without the side prefix, e.g. a
/// consumer's `$ref` into the provider's contract) that no operation reaches: such a schema is
/// what the provider publishes, so it is judged as a response (`schema NAME`).
pub fn compare_with(docs: &Docs, old_file: &str, new_file: &str, used: &[String]) -> Result<Vec<Change>> {
    let old = docs.docs.get(old_file).ok_or_else(|| anyhow!("{old_file}: not loaded"))?;
    let new = docs.docs.get(new_file).ok_or_else(|| anyhow!("{new_file}: not loaded"))?;
    let today = time::OffsetDateTime::now_utc().date();
    let mut cx = Cx {
        docs,
        out: Vec::new(),
        clean: Default::default(),
        nodes: Default::default(),
        today: format!("{:04}-{:02}-{:02}", today.year(), u8::from(today.month()), today.day()),
    };
    if old.get("openapi").is_some() && new.get("openapi").is_some() {
        paths::compare(&mut cx, old_file, new_file)?;
    } else {
        let mut w = schema::Walk::new(&mut cx, schema::Dir::Response, schema::Area::Body, "", "schema");
        w.schema(&Loc::new(old_file, ""), &Loc::new(new_file, ""), "", "")?;
    }
    // Schemas a consumer uses that no operation reached.
    let reached: std::collections::HashSet<String> =
        cx.nodes.keys().chain(cx.clean.iter()).flat_map(|(o, n, _)| [unsided(o), unsided(n)]).collect();
    let (os, ns) = (old_file.split_once('/').map(|x| x.0).unwrap_or("a"), new_file.split_once('/').map(|x| x.0).unwrap_or("b"));
    for u in used {
        let Some((file, ptr)) = u.split_once('#') else { continue };
        let (ol, nl) = (Loc::new(&format!("{os}/{file}"), ptr), Loc::new(&format!("{ns}/{file}"), ptr));
        if reached.contains(u) || docs.get(&ol).is_err() || docs.get(&nl).is_err() || !ptr.starts_with('/') {
            continue;
        }
        let name = ptr.rsplit('/').next().unwrap_or(ptr).replace("~1", "/").replace("~0", "~");
        let mut w = schema::Walk::new(&mut cx, schema::Dir::Response, schema::Area::Body, "", &format!("schema {name}"));
        w.inside(u);
        w.schema(&ol, &nl, "", "")?;
    }
    let mut out = cx.out;
    out.sort_by(|a, b| a.level.cmp(&b.level).then_with(|| a.operation.cmp(&b.operation)).then_with(|| a.location.cmp(&b.location)));
    out.dedup();
    Ok(out)
}

/// A `file#/pointer` without the `a/` or `b/` prefix that tells the two sides apart.
pub(crate) fn unsided(l: &Loc) -> String {
    let f = l.file.strip_prefix("a/").or_else(|| l.file.strip_prefix("b/")).unwrap_or(&l.file);
    format!("{f}#{}", l.ptr)
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

pub(crate) fn child(l: &Loc, parts: &[&str]) -> Loc {
    let mut p = l.ptr.clone();
    for part in parts {
        p.push('/');
        p.push_str(&esc(part));
    }
    Loc { file: l.file.clone(), ptr: p }
}

/// Follow `$ref`s from `l`; None when `l` does not exist or its `$ref` chain is broken (the
/// release's reference checks report those; the classifier compares what it can).
pub(crate) fn get<'d>(docs: &'d Docs, l: &Loc) -> Result<Option<(Loc, &'d Value)>> {
    if docs.get(l).is_err() {
        return Ok(None);
    }
    Ok(docs.resolve(l).ok())
}

pub(crate) fn is_true(v: &Value, k: &str) -> bool {
    v.get(k) == Some(&Value::Bool(true))
}

/// An `x-sunset` (or `sunset`) date: Ok(None) when absent, Err when it is not a date.
pub(crate) fn sunset(v: &Value) -> std::result::Result<Option<String>, String> {
    let Some(s) = v.get("x-sunset").or_else(|| v.get("sunset")) else { return Ok(None) };
    let s = s.as_str().ok_or_else(|| format!("x-sunset {s} is not a string"))?;
    let d = s.get(..10).unwrap_or(s);
    let ok = d.len() == 10
        && d.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
        && (s.len() == 10 || s.as_bytes()[10] == b'T');
    if !ok {
        return Err(format!("x-sunset `{s}` is not a date (YYYY-MM-DD or RFC 3339)"));
    }
    Ok(Some(d.to_string()))
}

/// `x-stability-level`: draft < alpha < beta < stable (the default).
pub(crate) fn stability(v: &Value) -> std::result::Result<u8, String> {
    match v.get("x-stability-level") {
        None => Ok(3),
        Some(Value::String(s)) => match s.as_str() {
            "draft" => Ok(0),
            "alpha" => Ok(1),
            "beta" => Ok(2),
            "stable" => Ok(3),
            other => Err(format!("x-stability-level `{other}` is not one of draft, alpha, beta, stable")),
        },
        Some(other) => Err(format!("x-stability-level {other} is not a string")),
    }
}

pub(crate) const STABILITY: [&str; 4] = ["draft", "alpha", "beta", "stable"];

/// `/a/{id}/b` → `/a/{}/b`: a renamed path parameter is the same path.
pub fn normalize_path(path: &str) -> String {
    paths::normalize(path)
}
