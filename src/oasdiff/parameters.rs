//! Request parameters (path, query, header, cookie; operation- and path-level): removed, added,
//! became required, renamed path parameters, sunset dates, default values, and their schemas.

use super::paths::{Mirror, OpPair, template_names};
use super::schema::{Area, Dir, Walk};
use super::{Cx, Severity, child, get, is_true, sunset};
use crate::compat::Loc;
use anyhow::Result;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

struct Param {
    loc: Loc,
    v: Value,
    /// Declared on the path item rather than the operation.
    path_level: bool,
}

impl Param {
    fn required(&self, inn: &str) -> bool {
        inn == "path" || is_true(&self.v, "required")
    }
    /// The schema: `schema`, or the one under the first `content` media type.
    fn schema(&self) -> Option<Loc> {
        if self.v.get("schema").is_some() {
            return Some(child(&self.loc, &["schema"]));
        }
        let (mt, c) = self.v.get("content")?.as_object()?.iter().next()?;
        c.get("schema").map(|_| child(&self.loc, &["content", mt, "schema"]))
    }
}

/// The style and explode a parameter is serialised with (the OpenAPI defaults: form for query and
/// cookie, simple for path and header; explode only for form).
fn style_of(p: &Param, inn: &str) -> (String, bool) {
    let style =
        p.v.get("style")
            .and_then(|s| s.as_str())
            .map(String::from)
            .unwrap_or_else(|| if inn == "query" || inn == "cookie" { "form".into() } else { "simple".into() });
    let explode = p.v.get("explode").and_then(|e| e.as_bool()).unwrap_or(style == "form");
    (style, explode)
}

/// Clients serialise a parameter the way the contract says: a new style, a new explode for a
/// non-scalar value, or no longer allowing reserved characters unencoded breaks them.
#[allow(clippy::too_many_arguments)]
fn serialization(cx: &mut Cx, p: &Param, q: &Param, inn: &str, name: &str, label: &str, at: &str) {
    if p.v.get("schema").is_some() && q.v.get("schema").is_some() {
        let ((ps, pe), (qs, qe)) = (style_of(p, inn), style_of(q, inn));
        let scalar = |x: &Param| {
            let s = get(cx.docs, &child(&x.loc, &["schema"])).ok().flatten().map(|(_, v)| v);
            s.is_some_and(|s| {
                s.get("anyOf").is_none()
                    && s.get("oneOf").is_none()
                    && s.get("allOf").is_none()
                    && match s.get("type") {
                        Some(Value::String(t)) => ["string", "number", "integer", "boolean", "null"].contains(&t.as_str()),
                        Some(Value::Array(a)) => {
                            !a.is_empty()
                                && a.iter()
                                    .all(|t| t.as_str().is_some_and(|t| ["string", "number", "integer", "boolean", "null"].contains(&t)))
                        }
                        _ => false,
                    }
            })
        };
        if ps != qs {
            cx.push(
                "request-parameter-style-changed",
                Severity::Err,
                label,
                at,
                format!("the {inn} request parameter {name} changed its style from {ps} to {qs}"),
                vec![],
            );
        } else if pe != qe && !(scalar(p) && scalar(q)) {
            cx.push(
                "request-parameter-explode-changed",
                Severity::Err,
                label,
                at,
                format!("the {inn} request parameter {name} changed explode from {pe} to {qe}"),
                vec![],
            );
        }
    }
    if inn == "query" && is_true(&p.v, "allowReserved") && !is_true(&q.v, "allowReserved") {
        cx.push(
            "request-parameter-became-not-allow-reserved",
            Severity::Err,
            label,
            at,
            format!("the {inn} request parameter {name} no longer allows reserved characters unencoded"),
            vec![],
        );
    }
}

/// (in, name) → parameter; an operation's own parameters override the path item's.
fn collect(cx: &Cx, item: &Loc, op: &Loc) -> Result<BTreeMap<(String, String), Param>> {
    let mut m = BTreeMap::new();
    for (at, path_level) in [(item, true), (op, false)] {
        let list = child(at, &["parameters"]);
        let Some((list, lv)) = get(cx.docs, &list)? else { continue };
        let n = lv.as_array().map(|a| a.len()).unwrap_or(0);
        for i in 0..n {
            let Some((loc, v)) = get(cx.docs, &child(&list, &[&i.to_string()]))? else { continue };
            let (Some(inn), Some(name)) = (v.get("in").and_then(|x| x.as_str()), v.get("name").and_then(|x| x.as_str())) else { continue };
            // Header names are case-insensitive.
            let name = if inn == "header" { name.to_ascii_lowercase() } else { name.to_string() };
            m.insert((inn.to_string(), name), Param { loc, v: v.clone(), path_level });
        }
    }
    Ok(m)
}

pub(super) fn compare(cx: &mut Cx, pair: &OpPair, ol: &Loc, nl: &Loc, label: &str, mirror: Mirror) -> Result<()> {
    if mirror == Mirror::Webhook {
        return Ok(());
    }
    let (o, n) = (collect(cx, pair.old_item, ol)?, collect(cx, pair.new_item, nl)?);
    // A renamed path parameter (`/a/{id}` → `/a/{key}`) is the same parameter.
    let (on, nn) = (template_names(pair.old_path), template_names(pair.new_path));
    let renamed: BTreeMap<&str, &str> = on.iter().map(|s| s.as_str()).zip(nn.iter().map(|s| s.as_str())).collect();
    let mut matched = BTreeSet::new();
    for ((inn, name), p) in &o {
        let nkey = (
            inn.clone(),
            if inn == "path" { renamed.get(name.as_str()).map(|s| s.to_string()).unwrap_or(name.clone()) } else { name.clone() },
        );
        let at = format!("{inn} parameter {name}");
        let Some(q) = n.get(&nkey) else {
            if is_true(&p.v, "deprecated") {
                match sunset(&p.v) {
                    Err(e) => cx.push("request-parameter-sunset-parse", Severity::Err, label, &at, e, vec![]),
                    Ok(Some(d)) if cx.today < d => cx.push(
                        "request-parameter-removed-before-sunset",
                        Severity::Err,
                        label,
                        &at,
                        format!("deleted the {inn} request parameter {name} before the sunset date {d}"),
                        vec![],
                    ),
                    Ok(_) => {}
                }
            } else {
                cx.push(
                    "request-parameter-removed",
                    Severity::Warn,
                    label,
                    &at,
                    format!("deleted the {inn} request parameter {name}"),
                    vec![],
                );
            }
            continue;
        };
        matched.insert(nkey.clone());
        let at = format!("{inn} parameter {}", nkey.1);
        if !p.required(inn) && q.required(inn) {
            cx.push(
                "request-parameter-became-required",
                Severity::Err,
                label,
                &at,
                format!("the {inn} request parameter {name} became required"),
                vec![],
            );
        }
        if is_true(&q.v, "deprecated") && !is_true(&p.v, "deprecated") {
            match sunset(&q.v) {
                Err(e) => cx.push("request-parameter-sunset-parse", Severity::Err, label, &at, e, vec![]),
                Ok(Some(d)) if d < cx.today => cx.push(
                    "request-parameter-sunset-date-too-small",
                    Severity::Err,
                    label,
                    &at,
                    format!("the {inn} request parameter {name} was deprecated with a sunset date {d} already past"),
                    vec![],
                ),
                _ => {}
            }
        }
        if is_true(&q.v, "deprecated") && is_true(&p.v, "deprecated") {
            match (sunset(&p.v), sunset(&q.v)) {
                (_, Err(e)) => cx.push("request-parameter-sunset-parse", Severity::Err, label, &at, e, vec![]),
                (Ok(Some(d)), Ok(None)) => cx.push(
                    "request-parameter-sunset-deleted",
                    Severity::Err,
                    label,
                    &at,
                    format!("sunset date {d} deleted, but deprecated: true kept"),
                    vec![],
                ),
                (Ok(Some(a)), Ok(Some(b))) if b < a => cx.push(
                    "request-parameter-sunset-date-changed-too-small",
                    Severity::Err,
                    label,
                    &at,
                    format!("sunset date changed to an earlier date, from {a} to {b}"),
                    vec![],
                ),
                (Err(e), Ok(Some(_))) => cx.push("request-parameter-sunset-date-changed-too-small", Severity::Err, label, &at, e, vec![]),
                _ => {}
            }
        }
        serialization(cx, p, q, inn, name, label, &at);
        let (Some(ps), Some(qs)) = (p.schema(), q.schema()) else { continue };
        // An optional parameter's default is what the server assumes when a client omits it.
        if !q.required(inn) {
            let def = |l: &Loc| get(cx.docs, l).ok().flatten().and_then(|(_, v)| v.get("default").cloned());
            match (def(&ps), def(&qs)) {
                (Some(a), Some(b)) if a != b => cx.push(
                    "request-parameter-default-value-changed",
                    Severity::Err,
                    label,
                    &at,
                    format!("for the {inn} request parameter {name}, default value was changed from {a} to {b}"),
                    vec![],
                ),
                (None, Some(b)) => cx.push(
                    "request-parameter-default-value-added",
                    Severity::Err,
                    label,
                    &at,
                    format!("for the {inn} request parameter {name}, default value {b} was added"),
                    vec![],
                ),
                (Some(a), None) => cx.push(
                    "request-parameter-default-value-removed",
                    Severity::Err,
                    label,
                    &at,
                    format!("for the {inn} request parameter {name}, default value {a} was removed"),
                    vec![],
                ),
                _ => {}
            }
        }
        let mut w = Walk::new(cx, Dir::Request, Area::Param { header: inn == "header" }, label, &at);
        w.schema(&ps, &qs, "", "")?;
    }
    for ((inn, name), q) in &n {
        if matched.contains(&(inn.clone(), name.clone())) || !q.required(inn) {
            continue;
        }
        let at = format!("{inn} parameter {name}");
        let (id, what) = if inn == "path" {
            ("new-request-path-parameter", format!("added the new path request parameter {name}"))
        } else if q.path_level {
            (
                "new-required-request-default-parameter-to-existing-path",
                format!("added the new required {inn} request parameter {name} to all path's operations"),
            )
        } else {
            ("new-required-request-parameter", format!("added the new required {inn} request parameter {name}"))
        };
        cx.push(id, Severity::Err, label, &at, what, vec![]);
    }
    Ok(())
}
