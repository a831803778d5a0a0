//! Request bodies and responses: bodies added, removed or made required; media types of any kind
//! (JSON, `*/*`, text/plain, vendor and form types) removed, generalised or specialised; success
//! statuses removed; response headers; and each media type's schema.

use super::paths::Mirror;
use super::schema::{Area, Dir, Walk};
use super::{Cx, Severity, child, get, is_true};
use crate::compat::Loc;
use anyhow::Result;
use serde_json::Value;

/// `application/json; charset=utf-8` → `application/json`.
fn base(mt: &str) -> String {
    mt.split(';').next().unwrap_or(mt).trim().to_ascii_lowercase()
}

/// Whether media range `general` covers `specific` (`*/*` ⊇ `text/*` ⊇ `text/plain`;
/// `application/*+json` ⊇ `application/json` ⊇ `application/vnd.x+json`).
fn covers(general: &str, specific: &str) -> bool {
    let (g, s) = (base(general), base(specific));
    if g == s || g == "*/*" {
        return true;
    }
    let (Some((gt, gs)), Some((st, ss))) = (g.split_once('/'), s.split_once('/')) else { return false };
    if gt != st && gt != "*" {
        return false;
    }
    // `application/json` is the general form of `application/problem+json` (a structured suffix).
    gs == "*"
        || gs.strip_prefix("*+").is_some_and(|suffix| ss.ends_with(&format!("+{suffix}")))
        || (gt == st && ss.ends_with(&format!("+{gs}")))
}

enum Match {
    Same(String),
    /// The new side names a more specific type.
    Specialized(String),
    /// The new side names a more general type.
    Generalized(String),
    None,
}

fn find(old_mt: &str, new: &serde_json::Map<String, Value>) -> Match {
    if new.contains_key(old_mt) {
        return Match::Same(old_mt.to_string());
    }
    if let Some(k) = new.keys().find(|k| base(k) == base(old_mt)) {
        return Match::Same(k.clone());
    }
    if let Some(k) = new.keys().find(|k| covers(old_mt, k)) {
        return Match::Specialized(k.clone());
    }
    if let Some(k) = new.keys().find(|k| covers(k, old_mt)) {
        return Match::Generalized(k.clone());
    }
    Match::None
}

pub(super) fn request_body(cx: &mut Cx, ol: &Loc, nl: &Loc, label: &str, mirror: Mirror) -> Result<()> {
    let (o, n) = (get(cx.docs, &child(ol, &["requestBody"]))?, get(cx.docs, &child(nl, &["requestBody"]))?);
    let (o, n) = (o.map(|(l, v)| (l, v.clone())), n.map(|(l, v)| (l, v.clone())));
    // A webhook's or callback's request is sent by the provider: judged as a response.
    let dir = if mirror == Mirror::Webhook { Dir::Response } else { Dir::Request };
    match (o, n) {
        (None, Some((_, nv))) if is_true(&nv, "required") && dir == Dir::Request => {
            cx.push("request-body-added-required", Severity::Err, label, "request body", "added required request body".into(), vec![])
        }
        (Some(_), None) if dir == Dir::Request => {
            cx.push("request-body-removed", Severity::Err, label, "request body", "removed the request body".into(), vec![])
        }
        (Some((ol, ov)), Some((nl, nv))) => {
            if dir == Dir::Request && !is_true(&ov, "required") && is_true(&nv, "required") {
                cx.push(
                    "request-body-became-required",
                    Severity::Err,
                    label,
                    "request body",
                    "request body became required".into(),
                    vec![],
                );
            }
            let empty = serde_json::Map::new();
            let (oc, nc) = (
                ov.get("content").and_then(|c| c.as_object()).unwrap_or(&empty),
                nv.get("content").and_then(|c| c.as_object()).unwrap_or(&empty),
            );
            for (mt, omv) in oc {
                let nmt = match find(mt, nc) {
                    // For a request, a more general type still accepts what clients send.
                    Match::Same(k) | Match::Generalized(k) if dir == Dir::Request => k,
                    Match::Same(k) | Match::Specialized(k) if dir == Dir::Response => k,
                    Match::Generalized(k) => {
                        cx.push(
                            "response-media-type-name-generalized",
                            Severity::Err,
                            label,
                            "request body",
                            format!("media type {mt} was changed to a more general media type {k}"),
                            vec![],
                        );
                        continue;
                    }
                    _ if dir == Dir::Request => {
                        cx.push(
                            "request-body-media-type-removed",
                            Severity::Err,
                            label,
                            "request body",
                            format!("removed the media type {mt} from the request body"),
                            vec![],
                        );
                        continue;
                    }
                    _ => continue,
                };
                let nmv = &nc[&nmt];
                match (omv.get("schema").is_some(), nmv.get("schema").is_some()) {
                    (true, true) => {
                        let at =
                            if dir == Dir::Request { "request body".to_string() } else { "request body (sent by the provider)".into() };
                        let mut w = Walk::new(cx, dir, Area::Body, label, &at);
                        w.schema(&child(&ol, &["content", mt, "schema"]), &child(&nl, &["content", &nmt, "schema"]), "", "")?;
                    }
                    (false, true) if dir == Dir::Request => cx.push(
                        "request-body-media-type-schema-added",
                        Severity::Err,
                        label,
                        "request body",
                        format!("a schema was added to the request body media type {mt}"),
                        vec![],
                    ),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// 2xx (or `2XX`) statuses.
fn success(status: &str) -> bool {
    status.len() == 3 && status.starts_with('2') && status[1..].chars().all(|c| c.is_ascii_digit() || c == 'X' || c == 'x')
}

pub(super) fn responses(cx: &mut Cx, ol: &Loc, nl: &Loc, label: &str, mirror: Mirror) -> Result<()> {
    if mirror == Mirror::Webhook {
        // The subscriber's answer to a webhook: what the provider must still accept.
        return Ok(());
    }
    let (Some((ol, ov)), Some((nl, nv))) = (get(cx.docs, &child(ol, &["responses"]))?, get(cx.docs, &child(nl, &["responses"]))?) else {
        return Ok(());
    };
    let (ov, nv) = (ov.clone(), nv.clone());
    for (status, _) in ov.as_object().into_iter().flatten() {
        let place = format!("response {status}");
        if nv.get(status).is_none() {
            if success(status) {
                cx.push(
                    "response-success-status-removed",
                    Severity::Err,
                    label,
                    &place,
                    format!("removed the success response with the status {status}"),
                    vec![],
                );
            }
            continue;
        }
        let (Some((orl, orv)), Some((nrl, nrv))) = (get(cx.docs, &child(&ol, &[status]))?, get(cx.docs, &child(&nl, &[status]))?) else {
            continue;
        };
        let (orv, nrv) = (orv.clone(), nrv.clone());
        headers(cx, &orl, &orv, &nrl, &nrv, label, status)?;
        let empty = serde_json::Map::new();
        let (oc, nc) = (
            orv.get("content").and_then(|c| c.as_object()).unwrap_or(&empty),
            nrv.get("content").and_then(|c| c.as_object()).unwrap_or(&empty),
        );
        for (mt, omv) in oc {
            let nmt = match find(mt, nc) {
                Match::Same(k) | Match::Specialized(k) => k,
                Match::Generalized(k) => {
                    cx.push(
                        "response-media-type-name-generalized",
                        Severity::Err,
                        label,
                        &place,
                        format!("media type {mt} was changed to a more general media type {k} for the response status {status}"),
                        vec![],
                    );
                    continue;
                }
                Match::None => {
                    cx.push(
                        "response-media-type-removed",
                        Severity::Err,
                        label,
                        &place,
                        format!("removed the media type {mt} for the response with the status {status}"),
                        vec![],
                    );
                    continue;
                }
            };
            match (omv.get("schema").is_some(), nc[&nmt].get("schema").is_some()) {
                (true, true) => {
                    let mut w = Walk::new(cx, Dir::Response, Area::Body, label, &place);
                    w.schema(&child(&orl, &["content", mt, "schema"]), &child(&nrl, &["content", &nmt, "schema"]), "", "")?;
                }
                (true, false) => cx.push(
                    "response-body-media-type-schema-removed",
                    Severity::Err,
                    label,
                    &place,
                    format!("the schema of media type {mt} was removed for the response status {status}"),
                    vec![],
                ),
                _ => {}
            }
        }
    }
    Ok(())
}

fn headers(cx: &mut Cx, orl: &Loc, orv: &Value, nrl: &Loc, nrv: &Value, label: &str, status: &str) -> Result<()> {
    let place = format!("response {status}");
    for (name, _) in orv.get("headers").and_then(|h| h.as_object()).into_iter().flatten() {
        let Some((_, oh)) = get(cx.docs, &child(orl, &["headers", name]))? else { continue };
        let oh = oh.clone();
        let key = nrv.get("headers").and_then(|h| h.as_object()).and_then(|h| h.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned());
        let Some(key) = key else {
            let (id, sev, what) = if is_true(&oh, "required") {
                ("required-response-header-removed", Severity::Err, "mandatory")
            } else {
                ("optional-response-header-removed", Severity::Warn, "optional")
            };
            cx.push(id, sev, label, &place, format!("the {what} response header {name} removed for the status {status}"), vec![]);
            continue;
        };
        let Some((nhl, nh)) = get(cx.docs, &child(nrl, &["headers", &key]))? else { continue };
        let nh = nh.clone();
        if is_true(&oh, "required") && !is_true(&nh, "required") {
            cx.push(
                "response-header-became-optional",
                Severity::Err,
                label,
                &place,
                format!("the response header {name} became optional for the status {status}"),
                vec![],
            );
        }
        // A header that may now be null breaks clients that parse it.
        let null = |h: &Value| {
            h.get("schema").is_some_and(|s| {
                is_true(s, "nullable") || s.get("type").and_then(|t| t.as_array()).is_some_and(|a| a.iter().any(|t| t == "null"))
            })
        };
        if !null(&oh) && null(&nh) {
            cx.push(
                "response-header-became-nullable",
                Severity::Err,
                label,
                &place,
                format!("the response header {name} became nullable for the status {status}"),
                vec![],
            );
        }
        let ty = |h: &Value| -> Option<Value> {
            let s = h.get("schema")?;
            let s = if s.get("$ref").is_some() { return None } else { s };
            // Nullability is judged above; `[integer, "null"]` is the type integer.
            match s.get("type")? {
                Value::Array(a) => {
                    let t: Vec<&Value> = a.iter().filter(|t| *t != "null").collect();
                    if t.len() == 1 { Some(t[0].clone()) } else { Some(Value::Array(t.into_iter().cloned().collect())) }
                }
                t => Some(t.clone()),
            }
        };
        if let (Some(a), Some(b)) = (ty(&oh), ty(&nh))
            && a != b
        {
            let _ = nhl;
            let id = if a == "integer" && b == "number" { "response-header-type-generalized" } else { "response-header-type-changed" };
            cx.push(
                id,
                Severity::Err,
                label,
                &place,
                format!("the {name} response header's type changed from {a} to {b} for the status {status}"),
                vec![],
            );
        }
    }
    Ok(())
}
