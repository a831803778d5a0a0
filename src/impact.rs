//! Consumer impact: which components of a release a breaking API change hits. A consumer uses the
//! operations it declares (`consumes: {api: {version, operations: [POST /embed]}}`, all of them when
//! it declares none), and the provider's schemas its own contracts `$ref`.

use crate::oasdiff::Change;
use crate::release::Release;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One consuming component of an API.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub component: String,
    /// Declared operations, normalised (`POST /embed`); None: it declares none (uses any).
    pub operations: Option<Vec<String>>,
    /// `file#/pointer`s in the provider's contract files that the consumer's contracts `$ref`.
    pub refs: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub component: String,
    /// Why it counts: `declares POST /embed`, `$ref …#/components/schemas/Chunk`, `declares no operations`.
    pub because: String,
}

/// `/a/{id}` and `/a/{key}` are the same path.
fn norm_op(op: &str) -> String {
    match op.split_once(' ') {
        Some((m, rest)) if !m.eq_ignore_ascii_case("webhook") => {
            let (path, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let p = crate::oasdiff::normalize_path(path);
            if tail.is_empty() { format!("{} {p}", m.to_ascii_uppercase()) } else { format!("{} {p} {tail}", m.to_ascii_uppercase()) }
        }
        _ => op.to_string(),
    }
}

/// The consumers of `api` in `release`. `files` holds the release's contract files (repository
/// path → bytes), read for the consumers' `$ref`s.
pub fn consumers(release: &Release, api: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<Consumer> {
    let Some(provide) = release.components.iter().flat_map(|c| &c.provides).find(|p| p.api == api) else { return Vec::new() };
    let provider_files: BTreeSet<&str> =
        std::iter::once(provide.contract.as_str()).chain(provide.refs.iter().map(|s| s.as_str())).collect();
    let mut out = Vec::new();
    for c in &release.components {
        let Some(u) = c.consumes.iter().find(|u| u.api == api) else { continue };
        let mut refs = BTreeSet::new();
        for p in &c.provides {
            for file in std::iter::once(&p.contract).chain(&p.refs) {
                if provider_files.contains(file.as_str()) {
                    continue;
                }
                let Some(doc) = files.get(file).and_then(|b| crate::contracts::parse_doc(b, file).ok()) else { continue };
                collect_refs(&doc, file, &provider_files, &mut refs);
            }
        }
        out.push(Consumer { component: c.name.clone(), operations: u.operations.clone(), refs });
    }
    out
}

fn collect_refs(v: &serde_json::Value, from: &str, targets: &BTreeSet<&str>, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Some(r) = x.as_str()
                    && let Some((file, frag)) = r.split_once('#').or(Some((r, "")))
                    && !file.is_empty()
                    && let Ok(target) = crate::paths::join_inside(crate::paths::parent(from), file)
                    && targets.contains(target.as_str())
                {
                    out.insert(format!("{target}#{frag}"));
                } else {
                    collect_refs(x, from, targets, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_refs(x, from, targets, out)),
        _ => {}
    }
}

/// The consumers a change hits, and why.
pub fn hits(change: &Change, consumers: &[Consumer]) -> Vec<Hit> {
    let op = norm_op(&change.operation);
    let mut out = Vec::new();
    for c in consumers {
        // The most telling reason first: a `$ref` to the changed schema, then a declared operation.
        let by_ref = c
            .refs
            .iter()
            .find(|r| change.schemas.iter().any(|s| s == *r || s.starts_with(&format!("{r}/")) || r.starts_with(&format!("{s}/"))))
            .map(|r| format!("$ref {r}"));
        let because = by_ref.or_else(|| match &c.operations {
            None => Some("declares no operations, so any may be used".to_string()),
            Some(_) if change.operation.is_empty() => Some("uses the API".to_string()),
            Some(ops) => ops
                .iter()
                .find(|d| {
                    let d = norm_op(d);
                    op == d || op.starts_with(&format!("{d} "))
                })
                .map(|d| format!("declares {d}")),
        });
        if let Some(because) = because {
            out.push(Hit { component: c.component.clone(), because });
        }
    }
    out
}

/// `breaking for summarizer (POST /embed, response 200 Chunk.char_start)`, or
/// `breaking, no consumer in this release uses it`; `what` is "breaking" or "potentially breaking".
pub fn describe(what: &str, change: &Change, hits: &[Hit]) -> String {
    if hits.is_empty() {
        return format!("{what}, no consumer in this release uses it");
    }
    let names: Vec<&str> = hits.iter().map(|h| h.component.as_str()).collect();
    let place: Vec<&str> = [change.operation.as_str(), change.location.as_str()].into_iter().filter(|s| !s.is_empty()).collect();
    if place.is_empty() {
        format!("{what} for {}", names.join(", "))
    } else {
        format!("{what} for {} ({})", names.join(", "), place.join(", "))
    }
}
