//! Paths and operations: removal (with deprecation and sunset), renamed path parameters,
//! `x-stability-level`, sunset changes, security requirements, webhooks and callbacks.

use super::{Cx, STABILITY, Severity, child, get, is_true, stability, sunset};
use crate::compat::Loc;
use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/// `/a/{id}/b` → `/a/{}/b`: a renamed path parameter is the same path.
pub(crate) fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for ch in path.chars() {
        match ch {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push_str("{}");
                }
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(ch),
        }
    }
    out
}

/// The names of a template's path parameters, in order.
pub(crate) fn template_names(path: &str) -> Vec<String> {
    path.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(n, _)| n.to_string())).collect()
}

fn path_map<'d>(cx: &Cx<'d>, file: &str, key: &str) -> Result<BTreeMap<String, (String, Loc)>> {
    let mut m = BTreeMap::new();
    let root = Loc::new(file, "");
    if let Some((_, Value::Object(paths))) = get(cx.docs, &child(&root, &[key]))? {
        for p in paths.keys() {
            let norm = if key == "paths" { normalize(p) } else { p.clone() };
            m.insert(norm, (p.clone(), child(&root, &[key, p])));
        }
    }
    Ok(m)
}

pub(super) fn compare(cx: &mut Cx, of: &str, nf: &str) -> Result<()> {
    let (op, np) = (path_map(cx, of, "paths")?, path_map(cx, nf, "paths")?);
    for (norm, (opath, oloc)) in &op {
        let Some((_, oitem)) = get(cx.docs, oloc)? else { continue };
        let oitem = oitem.clone();
        match np.get(norm) {
            None => {
                for m in METHODS {
                    if let Some(o) = oitem.get(m) {
                        removed(cx, o, &format!("{} {opath}", m.to_uppercase()), true, false);
                    }
                }
            }
            Some((npath, nloc)) => {
                let Some((nloc, nitem)) = get(cx.docs, nloc)? else { continue };
                let nitem = nitem.clone();
                let (oloc, _) = get(cx.docs, oloc)?.expect("exists");
                for m in METHODS {
                    let label = format!("{} {npath}", m.to_uppercase());
                    match (oitem.get(m), nitem.get(m)) {
                        (Some(o), None) => removed(cx, o, &label, false, false),
                        (Some(_), Some(_)) => {
                            let pair = OpPair { old_item: &oloc, new_item: &nloc, old_path: opath, new_path: npath, method: m };
                            operation(cx, &pair, &label, Mirror::No)?;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    // Webhooks (OpenAPI 3.1): operations the provider calls on its subscribers.
    let (ow, nw) = (path_map(cx, of, "webhooks")?, path_map(cx, nf, "webhooks")?);
    for (name, (_, oloc)) in &ow {
        let Some((oloc, oitem)) = get(cx.docs, oloc)? else { continue };
        let oitem = oitem.clone();
        let nitem = match nw.get(name) {
            Some((_, nloc)) => get(cx.docs, nloc)?.map(|(l, v)| (l, v.clone())),
            None => None,
        };
        for m in METHODS {
            if oitem.get(m).is_none() {
                continue;
            }
            let label = format!("webhook {name} {}", m.to_uppercase());
            match &nitem {
                Some((nloc, nv)) if nv.get(m).is_some() => {
                    let pair = OpPair { old_item: &oloc, new_item: nloc, old_path: "", new_path: "", method: m };
                    operation(cx, &pair, &label, Mirror::Webhook)?;
                }
                _ => cx.push("webhook-removed", Severity::Err, &label, "", format!("webhook {name} {} removed", m.to_uppercase()), vec![]),
            }
        }
    }
    let root = |f: &str| Loc::new(f, "");
    let (o, n) = (cx.docs.get(&root(of))?.get("security").cloned(), cx.docs.get(&root(nf))?.get("security").cloned());
    security(cx, "", o.as_ref(), n.as_ref(), true);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mirror {
    /// An ordinary operation: clients send requests, the provider responds.
    No,
    /// A webhook or callback: the provider sends the request and its subscriber responds.
    Webhook,
}

pub(crate) struct OpPair<'p> {
    pub old_item: &'p Loc,
    pub new_item: &'p Loc,
    pub old_path: &'p str,
    pub new_path: &'p str,
    pub method: &'p str,
}

/// An operation that disappeared (alone, or with its whole path).
fn removed(cx: &mut Cx, op: &Value, label: &str, whole_path: bool, callback: bool) {
    let (without, before, parse) = if whole_path {
        ("api-path-removed-without-deprecation", "api-path-removed-before-sunset", "api-path-sunset-parse")
    } else {
        ("api-removed-without-deprecation", "api-removed-before-sunset", "api-path-sunset-parse")
    };
    match stability(op) {
        Err(e) => return cx.push("api-invalid-stability-level", Severity::Err, label, "", e, vec![]),
        Ok(s) if s <= 1 => return,
        Ok(_) => {}
    }
    if callback {
        return cx.push("callback-removed", Severity::Err, label, "", "callback operation removed".into(), vec![]);
    }
    if !is_true(op, "deprecated") {
        let what = if whole_path { "path removed without deprecation" } else { "operation removed without deprecation" };
        return cx.push(without, Severity::Err, label, "", what.into(), vec![]);
    }
    match sunset(op) {
        Err(e) => cx.push(parse, Severity::Err, label, "", e, vec![]),
        Ok(Some(d)) if cx.today < d => cx.push(before, Severity::Err, label, "", format!("removed before its sunset date {d}"), vec![]),
        Ok(_) => {}
    }
}

/// Compare one operation present on both sides.
pub(crate) fn operation(cx: &mut Cx, pair: &OpPair, label: &str, mirror: Mirror) -> Result<()> {
    let (ol, nl) = (child(pair.old_item, &[pair.method]), child(pair.new_item, &[pair.method]));
    let (Some((ol, ov)), Some((nl, nv))) = (get(cx.docs, &ol)?, get(cx.docs, &nl)?) else { return Ok(()) };
    let (ov, nv) = (ov.clone(), nv.clone());
    // Stability: invalid levels are errors; a decrease is breaking; draft and alpha are not checked.
    let (os, ns) = (stability(&ov), stability(&nv));
    for e in [&os, &ns].into_iter().filter_map(|s| s.as_ref().err()) {
        cx.push("api-invalid-stability-level", Severity::Err, label, "", e.clone(), vec![]);
    }
    let (Ok(os), Ok(ns)) = (os, ns) else { return Ok(()) };
    if ns < os {
        cx.push(
            "api-stability-decreased",
            Severity::Err,
            label,
            "",
            format!("stability level decreased from {} to {}", STABILITY[os as usize], STABILITY[ns as usize]),
            vec![],
        );
    }
    if ns <= 1 {
        return Ok(());
    }
    // Deprecation and sunset dates.
    if is_true(&nv, "deprecated") {
        // Newly deprecated with a sunset date already past (no deprecation period is required by default).
        if !is_true(&ov, "deprecated")
            && let Ok(Some(d)) = sunset(&nv)
            && d < cx.today
        {
            cx.push("api-sunset-date-too-small", Severity::Err, label, "", format!("sunset date {d} is already past"), vec![]);
        }
        match (sunset(&ov), sunset(&nv)) {
            (_, Err(e)) => cx.push("api-deprecated-sunset-parse", Severity::Err, label, "", e, vec![]),
            (Ok(Some(o)), Ok(None)) if is_true(&ov, "deprecated") => {
                cx.push("sunset-deleted", Severity::Err, label, "", format!("sunset date {o} deleted, but deprecated: true kept"), vec![])
            }
            (Ok(Some(o)), Ok(Some(n))) if n < o => cx.push(
                "api-sunset-date-changed-too-small",
                Severity::Err,
                label,
                "",
                format!("sunset date changed to an earlier date, from {o} to {n}"),
                vec![],
            ),
            (Err(e), Ok(Some(_))) if is_true(&ov, "deprecated") => {
                cx.push("api-sunset-date-changed-too-small", Severity::Err, label, "", e, vec![])
            }
            _ => {}
        }
    }
    if mirror == Mirror::No {
        security(cx, label, ov.get("security"), nv.get("security"), false);
    }
    super::parameters::compare(cx, pair, &ol, &nl, label, mirror)?;
    super::bodies::request_body(cx, &ol, &nl, label, mirror)?;
    super::bodies::responses(cx, &ol, &nl, label, mirror)?;
    // Callbacks: the provider calls back; compared mirrored, like webhooks.
    if let Some(Value::Object(cbs)) = ov.get("callbacks") {
        for (name, _) in cbs {
            let (oc, nc) = (child(&ol, &["callbacks", name]), child(&nl, &["callbacks", name]));
            let Some((oc, ocv)) = get(cx.docs, &oc)? else { continue };
            let ocv = ocv.clone();
            let ncv = get(cx.docs, &nc)?.map(|(l, v)| (l, v.clone()));
            for (expr, _) in ocv.as_object().into_iter().flatten() {
                let Some((oi, oiv)) = get(cx.docs, &child(&oc, &[expr]))? else { continue };
                let oiv = oiv.clone();
                let ni = match &ncv {
                    Some((nc, _)) => get(cx.docs, &child(nc, &[expr]))?.map(|(l, v)| (l, v.clone())),
                    None => None,
                };
                for m in METHODS {
                    let Some(o) = oiv.get(m) else { continue };
                    let cl = format!("{label} callback {name} {} {expr}", m.to_uppercase());
                    match &ni {
                        Some((ni, nv)) if nv.get(m).is_some() => {
                            let p = OpPair { old_item: &oi, new_item: ni, old_path: "", new_path: "", method: m };
                            operation(cx, &p, &cl, Mirror::Webhook)?;
                        }
                        _ => removed(cx, o, &cl, false, true),
                    }
                }
            }
        }
    }
    Ok(())
}

/// Security requirements: a removed requirement or an added scope locks out clients.
fn security(cx: &mut Cx, label: &str, old: Option<&Value>, new: Option<&Value>, global: bool) {
    let reqs = |v: Option<&Value>| -> BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>> {
        let mut m = BTreeMap::new();
        for r in v.and_then(|v| v.as_array()).into_iter().flatten() {
            let Some(o) = r.as_object() else { continue };
            let scopes: BTreeMap<String, Vec<String>> = o
                .iter()
                .map(|(k, v)| (k.clone(), v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()))
                .collect();
            m.insert(scopes.keys().cloned().collect(), scopes);
        }
        m
    };
    if new.is_none() && !global {
        return;
    }
    let (o, n) = (reqs(old), reqs(new));
    let (rm, scope) = if global {
        ("api-global-security-removed", "api-global-security-scope-added")
    } else {
        ("api-security-removed", "api-security-scope-added")
    };
    for (k, os) in &o {
        match n.get(k) {
            None => {
                // `{}` is anonymous access: removing it locks out clients that send no credentials.
                let what = if k.is_empty() { "anonymous access ({})".to_string() } else { k.join(" + ") };
                cx.push(rm, Severity::Err, label, "security", format!("security requirement {what} removed"), vec![])
            }
            Some(ns) => {
                for (scheme, scopes) in ns {
                    for s in scopes.iter().filter(|s| !os.get(scheme).is_some_and(|o| o.contains(s))) {
                        cx.push(scope, Severity::Err, label, "security", format!("scope {s} added to security scheme {scheme}"), vec![]);
                    }
                }
            }
        }
    }
}
