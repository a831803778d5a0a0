//! Schema keywords, compared with a direction: in a request the new schema must accept whatever the
//! old one accepted (narrowing breaks clients); in a response the new schema must not produce
//! anything the old one excluded (widening breaks clients). `readOnly` properties exist only in
//! responses and `writeOnly` ones only in requests. Covers OpenAPI 3.0 (`nullable`, boolean
//! schemas aside) and the JSON Schema 2019-09/2020-12 keywords OpenAPI 3.1 allows.

use super::{Cx, Severity, child, is_true, unsided};
use crate::compat::{Docs, Loc, MAX_DEPTH};
use anyhow::{Result, bail};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dir {
    Request,
    Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    /// A request or response body (or a whole JSON Schema contract).
    Body,
    /// A request parameter's schema.
    Param { header: bool },
}

/// A change found directly in a named schema pair (not in the named pairs it reaches).
#[derive(Debug, Clone)]
pub(crate) struct Tmpl {
    id: String,
    level: Severity,
    disp: String,
    msg: String,
}

/// A named schema pair compared once per contract and rule context.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    names: Vec<String>,
    local: Vec<Tmpl>,
    children: Vec<(Loc, Loc, u8)>,
}

pub(crate) struct Walk<'c, 'a> {
    cx: &'c mut Cx<'a>,
    docs: &'a Docs,
    dir: Dir,
    area: Area,
    op: String,
    place: String,
    /// Pairs compared (or being compared) in this walk.
    seen: HashSet<(Loc, Loc)>,
    /// Pairs being compared, outermost first, each with the lowest stack index a cycle inside it
    /// returned to (usize::MAX: none): a pair whose subtree cut back to an ancestor is not known clean.
    stack: Vec<((Loc, Loc), usize)>,
    /// Named pairs being compared, innermost last, collecting their own changes and children.
    frames: Vec<((Loc, Loc, u8), Node)>,
    /// Named schemas (`file#/pointer`) the walk is inside, outermost first.
    named: Vec<String>,
    depth: usize,
}

fn types(v: &Value) -> Option<BTreeSet<String>> {
    let t: BTreeSet<String> = match v.get("type") {
        Some(Value::String(s)) => [s.clone()].into(),
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => {
            // Untyped, but clearly an object or an array.
            if v.get("properties").is_some() || v.get("additionalProperties").is_some() {
                return Some(["object".to_string()].into());
            }
            if v.get("items").is_some() {
                return Some(["array".to_string()].into());
            }
            return None;
        }
    };
    let t: BTreeSet<String> = t.into_iter().filter(|x| x != "null").collect();
    if t.is_empty() { None } else { Some(t) }
}

fn nullable(v: &Value) -> bool {
    is_true(v, "nullable")
        || match v.get("type") {
            Some(Value::String(s)) => s == "null",
            Some(Value::Array(a)) => a.iter().any(|x| x == "null"),
            _ => false,
        }
}

fn multi(v: &Value) -> bool {
    v.get("type").and_then(|t| t.as_array()).is_some_and(|a| a.iter().filter(|x| *x != "null").count() > 1)
}

/// Every type in `b` is accepted by `a` (integer ⊂ number).
fn covers(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    b.iter().all(|t| a.contains(t) || (t == "integer" && a.contains("number")))
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

fn fmt(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { format!("{x}") }
}

fn contains_ref(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("$ref") || m.values().any(contains_ref),
        Value::Array(a) => a.iter().any(contains_ref),
        _ => false,
    }
}

/// A named schema: `#/components/schemas/X`, `#/$defs/X`, `#/definitions/X`, or a whole file.
fn schema_name(l: &Loc) -> Option<String> {
    let segs: Vec<&str> = l.ptr.split('/').collect();
    let name = match segs.as_slice() {
        [""] => l.file.rsplit('/').next().map(|f| f.split('.').next().unwrap_or(f).to_string()),
        ["", "components", "schemas", x] | ["", "$defs", x] | ["", "definitions", x] => Some(x.to_string()),
        _ => None,
    }?;
    Some(name.replace("~1", "/").replace("~0", "~"))
}

/// A schema that only annotates (adding it to an `allOf` constrains nothing).
fn annotation_only(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.keys().all(|k| {
            k.starts_with("x-")
                || [
                    "description",
                    "title",
                    "example",
                    "examples",
                    "deprecated",
                    "externalDocs",
                    "readOnly",
                    "writeOnly",
                    "default",
                    "$comment",
                ]
                .contains(&k.as_str())
        })
    })
}

/// A pattern that matches everything.
fn universal(p: &str) -> bool {
    matches!(p, ".*" | "^.*$" | "^.*" | ".*$" | "(.*)" | "^(.*)$" | "[\\s\\S]*" | "^[\\s\\S]*$")
}

impl<'c, 'a> Walk<'c, 'a> {
    pub fn new(cx: &'c mut Cx<'a>, dir: Dir, area: Area, op: &str, place: &str) -> Walk<'c, 'a> {
        let docs = cx.docs;
        Walk {
            cx,
            docs,
            dir,
            area,
            op: op.to_string(),
            place: place.to_string(),
            seen: HashSet::new(),
            stack: Vec::new(),
            frames: Vec::new(),
            named: Vec::new(),
            depth: 0,
        }
    }

    /// Start inside the named schema `named` (`file#/pointer`), for a walk that begins at it.
    pub fn inside(&mut self, named: &str) {
        self.named.push(named.to_string());
    }

    /// oasdiff's id for `what` at this place: `request-body-…`, `request-property-…`,
    /// `response-body-…`, `response-property-…`, `request-parameter-…` or `request-parameter-property-…`.
    fn id(&self, top: bool, what: &str) -> String {
        match (self.area, self.dir, top) {
            (Area::Param { .. }, _, true) => format!("request-parameter-{what}"),
            (Area::Param { .. }, _, false) => format!("request-parameter-property-{what}"),
            (Area::Body, Dir::Request, true) => format!("request-body-{what}"),
            (Area::Body, Dir::Request, false) => format!("request-property-{what}"),
            (Area::Body, Dir::Response, true) => format!("response-body-{what}"),
            (Area::Body, Dir::Response, false) => format!("response-property-{what}"),
        }
    }

    fn emit(&mut self, id: String, sev: Severity, disp: &str, msg: String) {
        let location = if disp.is_empty() { self.place.clone() } else { format!("{} {disp}", self.place) };
        let named = self.named.clone();
        if let Some((_, f)) = self.frames.last_mut() {
            f.local.push(Tmpl { id: id.clone(), level: sev, disp: disp.to_string(), msg: msg.clone() });
        }
        self.cx.push(id, sev, &self.op.clone(), &location, msg, named);
    }

    /// Report a named pair compared before (for another operation) and every named pair it
    /// reaches, each once per walk, as if compared here.
    fn replay(&mut self, key: (Loc, Loc, u8)) {
        let mut todo = vec![(key, self.named.clone())];
        while let Some((k, path)) = todo.pop() {
            if !self.seen.insert((k.0.clone(), k.1.clone())) {
                continue;
            }
            let Some(node) = self.cx.nodes.get(&k).cloned() else { continue };
            let mut path = path;
            path.extend(node.names.iter().cloned());
            for t in node.local {
                let location = if t.disp.is_empty() { self.place.clone() } else { format!("{} {}", self.place, t.disp) };
                let op = self.op.clone();
                self.cx.push(t.id, t.level, &op, &location, t.msg, path.clone());
            }
            for c in node.children.into_iter().rev() {
                todo.push((c, path.clone()));
            }
        }
    }

    /// What decides which rules apply: direction, area, and whether at the top of the body.
    fn context(&self, top: bool) -> u8 {
        let area = match self.area {
            Area::Body => 0,
            Area::Param { header: false } => 1,
            Area::Param { header: true } => 2,
        };
        (self.dir == Dir::Request) as u8 * 8 + area * 2 + top as u8
    }

    fn req(&self) -> bool {
        self.dir == Dir::Request
    }

    fn param(&self) -> bool {
        matches!(self.area, Area::Param { .. })
    }

    /// Compare the schema at `o` (old) with the one at `n` (new). `prop` is the property path
    /// from the body (empty at its top), `disp` the same for display, from the nearest named schema.
    pub fn schema(&mut self, o: &Loc, n: &Loc, prop: &str, disp: &str) -> Result<()> {
        if self.depth > MAX_DEPTH {
            bail!("{o}: schemas nested deeper than {MAX_DEPTH}");
        }
        let docs = self.docs;
        // A broken `$ref` is reported by the release's reference checks; compare what resolves.
        let (Ok((ol, ov)), Ok((nl, nv))) = (docs.resolve(o), docs.resolve(n)) else { return Ok(()) };
        // Shared schemas are compared once per contract when nothing in them changed.
        let key = (ol.clone(), nl.clone(), self.context(prop.is_empty()));
        if self.cx.clean.contains(&key) {
            return Ok(());
        }
        let pushed = (ol != *o || nl != *n) && schema_name(&nl).is_some();
        if pushed {
            if let Some((_, f)) = self.frames.last_mut() {
                f.children.push(key.clone());
            }
            if self.cx.nodes.contains_key(&key) {
                self.replay(key);
                return Ok(());
            }
        }
        let pair = (ol.clone(), nl.clone());
        if !self.seen.insert(pair.clone()) {
            // A cycle back to a pair in progress, or one compared earlier in this walk (whose
            // changes, if any, were reported there).
            let cut = self.stack.iter().position(|(p, _)| *p == pair).unwrap_or(0);
            if let Some(top) = self.stack.last_mut() {
                top.1 = top.1.min(cut);
            }
            return Ok(());
        }
        if ov == nv && !contains_ref(ov) {
            self.cx.clean.insert(key);
            return Ok(());
        }
        if !ov.is_object() || !nv.is_object() {
            return Ok(());
        }
        let mut disp = disp.to_string();
        if pushed {
            if let Some(name) = schema_name(&nl) {
                disp = name;
            }
            self.named.push(unsided(&nl));
            if unsided(&ol) != unsided(&nl) {
                self.named.push(unsided(&ol));
            }
        }
        let before = self.named.len();
        self.depth += 1;
        let (at, emitted) = (self.stack.len(), self.cx.out.len());
        self.stack.push((pair, usize::MAX));
        if pushed {
            let mut names = vec![unsided(&nl)];
            if unsided(&ol) != unsided(&nl) {
                names.push(unsided(&ol));
            }
            self.frames.push((key.clone(), Node { names, ..Default::default() }));
        }
        let r = self.keywords(o, &ol, ov, &nl, nv, prop, &disp);
        if pushed {
            let (k, node) = self.frames.pop().expect("pushed above");
            if r.is_ok() {
                self.cx.nodes.insert(k, node);
            }
        }
        let (_, cut) = self.stack.pop().expect("pushed above");
        if r.is_ok() && self.cx.out.len() == emitted && cut >= at {
            self.cx.clean.insert(key);
        }
        if let Some(parent) = self.stack.last_mut() {
            parent.1 = parent.1.min(cut);
        }
        self.depth -= 1;
        if pushed {
            self.named.truncate(before - if unsided(&ol) != unsided(&nl) { 2 } else { 1 });
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn keywords(&mut self, raw_o: &Loc, ol: &Loc, ov: &'a Value, nl: &Loc, nv: &'a Value, prop: &str, disp: &str) -> Result<()> {
        let top = prop.is_empty();
        let req = self.req();
        // A schema wrapped into (or unwrapped from) an anyOf/oneOf, e.g. `oneOf: [X, {type: "null"}]`.
        let wrap = |v: &Value| ["anyOf", "oneOf"].into_iter().find(|k| v.get(*k).and_then(|a| a.as_array()).is_some_and(|a| !a.is_empty()));
        let own = |v: &Value| v.get("properties").is_some() || v.get("items").is_some() || v.get("type").is_some();
        match (wrap(ov), wrap(nv)) {
            (None, Some(kw)) if !own(nv) => return self.rewrapped(raw_o, ol, ov, nl, nv, kw, false, prop, disp),
            (Some(kw), None) if !own(ov) => return self.rewrapped(raw_o, ol, ov, nl, nv, kw, true, prop, disp),
            _ => {}
        }
        self.types(ov, nv, top, disp);
        // Nullability.
        let (on, nn) = (nullable(ov), nullable(nv));
        if req && on && !nn {
            self.emit(self.id(top, "became-not-nullable"), Severity::Err, disp, "became not nullable".into());
        }
        if !req && !on && nn {
            self.emit(self.id(top, "became-nullable"), Severity::Err, disp, "became nullable".into());
        }
        self.values(ov, nv, top, disp);
        if !self.param() || top {
            self.bounds(ov, nv, top, disp);
            self.pattern(ov, nv, top, disp);
        }
        self.composition(raw_o, ol, ov, nl, nv, prop, disp)?;
        self.json_schema(ol, ov, nl, nv, prop, disp)?;
        self.objects(ol, ov, nl, nv, prop, disp)?;
        if ov.get("items").is_some_and(|i| i.is_object()) && nv.get("items").is_some_and(|i| i.is_object()) {
            let p = if top { "items".to_string() } else { format!("{prop}/items") };
            self.schema(&child(ol, &["items"]), &child(nl, &["items"]), &p, &format!("{disp}[]"))?;
        }
        Ok(())
    }

    /// One side is a plain schema, the other an anyOf/oneOf (`kw`) around alternatives: a nullable
    /// wrap (`[X, {type: "null"}]`) compares X with the plain side and counts as a nullability
    /// change; a wrap into several alternatives is judged by the alternatives gained or lost.
    #[allow(clippy::too_many_arguments)]
    fn rewrapped(
        &mut self,
        raw_o: &Loc,
        ol: &Loc,
        ov: &'a Value,
        nl: &Loc,
        nv: &'a Value,
        kw: &str,
        old_wraps: bool,
        prop: &str,
        disp: &str,
    ) -> Result<()> {
        let docs = self.docs;
        let top = prop.is_empty();
        let req = self.req();
        let (wl, wv, plain) = if old_wraps { (ol, ov, nv) } else { (nl, nv, ov) };
        let alts = wv[kw].as_array().map(|a| a.len()).unwrap_or(0);
        let resolved: Vec<Option<&Value>> =
            (0..alts).map(|i| docs.resolve(&child(wl, &[kw, &i.to_string()])).ok().map(|(_, v)| v)).collect();
        let is_null = |v: &Value| match v.get("type") {
            Some(Value::String(t)) => t == "null",
            Some(Value::Array(a)) => a.iter().all(|t| t == "null"),
            _ => v.get("const") == Some(&Value::Null),
        };
        let non_null: Vec<usize> = (0..alts).filter(|&i| !resolved[i].is_some_and(is_null)).collect();
        let had_null = non_null.len() < alts;
        if non_null.len() == 1 {
            let alt = child(wl, &[kw, &non_null[0].to_string()]);
            if had_null && !old_wraps && !req {
                self.emit(self.id(top, "became-nullable"), Severity::Err, disp, format!("became nullable (wrapped in `{kw}` with null)"));
            }
            if had_null && old_wraps && req {
                self.emit(
                    self.id(top, "became-not-nullable"),
                    Severity::Err,
                    disp,
                    format!("became not nullable (unwrapped from `{kw}` with null)"),
                );
            }
            return if old_wraps { self.schema(&alt, nl, prop, disp) } else { self.schema(ol, &alt, prop, disp) };
        }
        if self.param() {
            return Ok(());
        }
        let raw_plain = if old_wraps { docs.get(nl).ok() } else { docs.get(raw_o).ok() };
        let same = |i: usize| {
            resolved[i] == Some(plain)
                || raw_plain.is_some_and(|r| r.get("$ref").is_some() && wv[kw].get(i).is_some_and(|a| a.get("$ref") == r.get("$ref")))
        };
        let preserved = (0..alts).any(same);
        let short = if kw == "oneOf" { "one-of" } else { "any-of" };
        if !old_wraps {
            if top && kw == "oneOf" {
                let side = if req { "request" } else { "response" };
                let (id, sev) = if preserved {
                    (format!("{side}-body-wrapped-in-one-of-original-preserved"), Severity::Warn)
                } else {
                    (format!("{side}-body-wrapped-in-one-of"), Severity::Err)
                };
                self.emit(id, sev, disp, "the body was restructured into a oneOf".into());
            } else if !req {
                for i in (0..alts).filter(|&i| !same(i)) {
                    self.emit(self.id(top, &format!("{short}-added")), Severity::Err, disp, format!("added #{i} to `{kw}`"));
                }
            }
        } else if req {
            for i in (0..alts).filter(|&i| !same(i)) {
                self.emit(self.id(top, &format!("{short}-removed")), Severity::Err, disp, format!("removed #{i} from `{kw}`"));
            }
        }
        Ok(())
    }

    fn types(&mut self, ov: &Value, nv: &Value, top: bool, disp: &str) {
        let req = self.req();
        match (types(ov), types(nv)) {
            (Some(ot), Some(nt)) if ot != nt => {
                let show = |t: &BTreeSet<String>| t.iter().cloned().collect::<Vec<_>>().join("/");
                let msg = format!("type changed from {} to {}", show(&ot), show(&nt));
                let (widened, narrowed) = (covers(&nt, &ot), covers(&ot, &nt));
                let list = multi(ov) || multi(nv);
                if req {
                    if widened {
                    } else if list && narrowed {
                        self.emit(self.id(top, "list-of-types-narrowed"), Severity::Err, disp, msg);
                    } else if self.param() && !top {
                        // Parameter values travel as text: string → number/boolean only narrows.
                        let scalar: BTreeSet<String> = ["string", "number", "integer", "boolean"].iter().map(|s| s.to_string()).collect();
                        if ot.contains("string") && nt.is_subset(&scalar) {
                            self.emit("request-parameter-property-type-specialized".into(), Severity::Err, disp, msg);
                        } else {
                            self.emit("request-parameter-property-type-changed".into(), Severity::Warn, disp, msg);
                        }
                    } else {
                        self.emit(self.id(top, "type-changed"), Severity::Err, disp, msg);
                    }
                } else if narrowed {
                } else if list && widened {
                    self.emit(self.id(top, "list-of-types-widened"), Severity::Err, disp, msg);
                } else if widened {
                    self.emit(self.id(top, "type-generalized"), Severity::Err, disp, msg);
                } else {
                    self.emit(self.id(top, "type-changed"), Severity::Err, disp, msg);
                }
            }
            (Some(_), Some(_)) => {
                let (of, nf) = (ov.get("format").and_then(|f| f.as_str()), nv.get("format").and_then(|f| f.as_str()));
                if of == nf {
                    return;
                }
                let widening = |a: &str, b: &str| matches!((a, b), ("int32", "int64") | ("float", "double"));
                let msg = format!("format changed from {} to {}", of.unwrap_or("none"), nf.unwrap_or("none"));
                if req {
                    match (of, nf) {
                        (_, None) => {}
                        (Some(a), Some(b)) if widening(a, b) => {}
                        _ if self.param() && !top => self.emit("request-parameter-property-type-changed".into(), Severity::Warn, disp, msg),
                        _ => self.emit(self.id(top, "type-changed"), Severity::Err, disp, msg),
                    }
                } else {
                    match (of, nf) {
                        (None, Some(_)) => {}
                        (Some(a), Some(b)) if widening(b, a) => {}
                        (Some(_), None) => self.emit(self.id(top, "type-generalized"), Severity::Err, disp, msg),
                        (Some(a), Some(b)) if widening(a, b) => self.emit(self.id(top, "type-generalized"), Severity::Err, disp, msg),
                        _ => self.emit(self.id(top, "type-changed"), Severity::Err, disp, msg),
                    }
                }
            }
            _ => {}
        }
    }

    /// enum, x-extensible-enum, const.
    fn values(&mut self, ov: &Value, nv: &Value, top: bool, disp: &str) {
        let req = self.req();
        let arr = |v: &Value, k: &str| v.get(k).and_then(|e| e.as_array()).cloned();
        match (arr(ov, "enum"), arr(nv, "enum")) {
            (None, Some(_)) if req && ov.get("const").is_none() => {
                let id = match (self.area, top) {
                    (Area::Param { header: true }, false) => Some("request-header-property-became-enum".to_string()),
                    (Area::Param { .. }, false) => None,
                    _ => Some(self.id(top, "became-enum")),
                };
                if let Some(id) = id {
                    self.emit(id, Severity::Err, disp, "was restricted to a list of enum values".into());
                }
            }
            (Some(a), Some(b)) => {
                if req {
                    for v in a.iter().filter(|v| !b.contains(v)) {
                        self.emit(self.id(top, "enum-value-removed"), Severity::Err, disp, format!("enum value {v} removed"));
                    }
                } else {
                    for v in b.iter().filter(|v| !a.contains(v)) {
                        self.emit("response-property-enum-value-added".into(), Severity::Warn, disp, format!("enum value {v} added"));
                    }
                }
            }
            _ => {}
        }
        if req && let (Some(a), Some(b)) = (arr(ov, "x-extensible-enum"), arr(nv, "x-extensible-enum")) {
            let id = if self.param() {
                "request-parameter-x-extensible-enum-value-removed"
            } else {
                "request-property-x-extensible-enum-value-removed"
            };
            for v in a.iter().filter(|v| !b.contains(v)) {
                self.emit(id.into(), Severity::Err, disp, format!("x-extensible-enum value {v} removed"));
            }
        }
        if self.param() {
            return;
        }
        match (ov.get("const"), nv.get("const")) {
            (None, Some(c)) if req => self.emit(self.id(top, "const-added"), Severity::Err, disp, format!("const {c} set")),
            (Some(a), Some(b)) if a != b => {
                self.emit(self.id(top, "const-changed"), Severity::Err, disp, format!("const changed from {a} to {b}"))
            }
            (Some(a), None) if !req => self.emit(self.id(top, "const-removed"), Severity::Err, disp, format!("const {a} removed")),
            _ => {}
        }
    }

    /// An upper bound (`maximum`, `maxLength`…): a request may not lower or set it, a response may
    /// not raise it (or drop it, where oasdiff has that rule).
    #[allow(clippy::too_many_arguments)]
    fn upper(&mut self, ov: &Value, nv: &Value, kw: &str, short: &str, top: bool, disp: &str, set_rule: bool, unset_rule: bool) {
        let (a, b) = (num(ov, kw), num(nv, kw));
        if self.req() {
            match (a, b) {
                (None, Some(y)) if set_rule => {
                    self.emit(self.id(top, &format!("{short}-set")), Severity::Err, disp, format!("{kw} set to {}", fmt(y)))
                }
                (Some(x), Some(y)) if y < x => self.emit(
                    self.id(top, &format!("{short}-decreased")),
                    Severity::Err,
                    disp,
                    format!("{kw} decreased from {} to {}", fmt(x), fmt(y)),
                ),
                _ => {}
            }
        } else {
            match (a, b) {
                (Some(x), Some(y)) if y > x => self.emit(
                    self.id(top, &format!("{short}-increased")),
                    Severity::Err,
                    disp,
                    format!("{kw} increased from {} to {}", fmt(x), fmt(y)),
                ),
                (Some(x), None) if unset_rule => {
                    self.emit(self.id(top, &format!("{short}-unset")), Severity::Err, disp, format!("{kw} {} unset", fmt(x)))
                }
                _ => {}
            }
        }
    }

    /// A lower bound (`minimum`, `minItems`…); `zero`: absent means 0 (lengths and counts).
    #[allow(clippy::too_many_arguments)]
    fn lower(
        &mut self,
        ov: &Value,
        nv: &Value,
        kw: &str,
        short: &str,
        top: bool,
        disp: &str,
        zero: bool,
        set_rule: bool,
        unset_rule: bool,
    ) {
        let dflt = if zero { Some(0.0) } else { None };
        let (a, b) = (num(ov, kw).or(dflt), num(nv, kw).or(dflt));
        if self.req() {
            match (a, b) {
                (None, Some(y)) if set_rule => {
                    self.emit(self.id(top, &format!("{short}-set")), Severity::Err, disp, format!("{kw} set to {}", fmt(y)))
                }
                (Some(x), Some(y)) if y > x => {
                    let what = if x == 0.0 && zero && set_rule { "set" } else { "increased" };
                    self.emit(
                        self.id(top, &format!("{short}-{what}")),
                        Severity::Err,
                        disp,
                        format!("{kw} increased from {} to {}", fmt(x), fmt(y)),
                    )
                }
                _ => {}
            }
        } else if let (Some(x), Some(y)) = (a, b)
            && y < x
        {
            let what = if y == 0.0 && zero && unset_rule { "unset" } else { "decreased" };
            self.emit(
                self.id(top, &format!("{short}-{what}")),
                Severity::Err,
                disp,
                format!("{kw} decreased from {} to {}", fmt(x), fmt(y)),
            )
        }
    }

    fn bounds(&mut self, ov: &Value, nv: &Value, top: bool, disp: &str) {
        let body = !self.param();
        self.upper(ov, nv, "maximum", "max", top, disp, true, false);
        self.upper(ov, nv, "exclusiveMaximum", "exclusive-max", top, disp, true, false);
        self.upper(ov, nv, "maxLength", "max-length", top, disp, true, true);
        self.upper(ov, nv, "maxItems", "max-items", top, disp, body, false);
        self.lower(ov, nv, "minimum", "min", top, disp, false, true, false);
        self.lower(ov, nv, "exclusiveMinimum", "exclusive-min", top, disp, false, true, false);
        self.lower(ov, nv, "minLength", "min-length", top, disp, true, false, false);
        self.lower(ov, nv, "minItems", "min-items", top, disp, true, true, true);
        if !body {
            return;
        }
        self.upper(ov, nv, "maxProperties", "max-properties", top, disp, true, false);
        self.lower(ov, nv, "minProperties", "min-properties", top, disp, true, false, false);
        let req = self.req();
        match (num(ov, "multipleOf"), num(nv, "multipleOf")) {
            (None, Some(y)) if req => {
                self.emit(self.id(top, "multiple-of-set"), Severity::Err, disp, format!("multipleOf set to {}", fmt(y)))
            }
            (Some(x), None) if !req => {
                self.emit(self.id(top, "multiple-of-unset"), Severity::Err, disp, format!("multipleOf {} unset", fmt(x)))
            }
            (Some(x), Some(y)) if x != y => {
                let divides = |a: f64, b: f64| b != 0.0 && ((a / b) - (a / b).round()).abs() < 1e-9;
                // Request: every old multiple must stay a multiple (x is a multiple of y).
                let fine = if req { divides(x, y) } else { divides(y, x) };
                if !fine {
                    self.emit(
                        self.id(top, "multiple-of-changed"),
                        Severity::Err,
                        disp,
                        format!("multipleOf changed from {} to {}", fmt(x), fmt(y)),
                    );
                }
            }
            _ => {}
        }
        match (is_true(ov, "uniqueItems"), is_true(nv, "uniqueItems")) {
            (false, true) if req => self.emit(self.id(top, "unique-items-set"), Severity::Err, disp, "uniqueItems set".into()),
            (true, false) if !req => self.emit(self.id(top, "unique-items-unset"), Severity::Err, disp, "uniqueItems unset".into()),
            _ => {}
        }
    }

    fn pattern(&mut self, ov: &Value, nv: &Value, _top: bool, disp: &str) {
        let (a, b) = (ov.get("pattern").and_then(|p| p.as_str()), nv.get("pattern").and_then(|p| p.as_str()));
        let req = self.req();
        let (added, changed) = if self.param() {
            ("request-parameter-pattern-added", "request-parameter-pattern-changed")
        } else if req {
            ("request-property-pattern-added", "request-property-pattern-changed")
        } else {
            ("", "response-property-pattern-changed")
        };
        match (a, b) {
            (None, Some(p)) if req && !universal(p) => self.emit(added.into(), Severity::Err, disp, format!("pattern `{p}` added")),
            (Some(x), Some(y)) if x != y && !(req && universal(y)) && (req || !universal(x)) => {
                self.emit(changed.into(), Severity::Warn, disp, format!("pattern changed from `{x}` to `{y}`"))
            }
            (Some(x), None) if !req => {
                self.emit("response-property-pattern-removed".into(), Severity::Err, disp, format!("pattern `{x}` removed"))
            }
            _ => {}
        }
    }

    /// allOf, anyOf, oneOf: alternatives matched by `$ref` target or equal content.
    #[allow(clippy::too_many_arguments)]
    fn composition(&mut self, raw_o: &Loc, ol: &Loc, ov: &'a Value, nl: &Loc, nv: &'a Value, prop: &str, disp: &str) -> Result<()> {
        let req = self.req();
        let top = prop.is_empty();
        for kw in ["allOf", "anyOf", "oneOf"] {
            let empty = Vec::new();
            let oa = ov.get(kw).and_then(|x| x.as_array()).unwrap_or(&empty);
            let na = nv.get(kw).and_then(|x| x.as_array()).unwrap_or(&empty);
            if oa.is_empty() && na.is_empty() {
                continue;
            }
            if kw == "oneOf"
                && oa.is_empty()
                && top
                && !self.param()
                && ov.get("anyOf").is_none()
                && (ov.get("properties").is_some() || ov.get("type").is_some() || ov.get("allOf").is_some())
            {
                // The body was wrapped in a oneOf: previously valid payloads may now match none (or two).
                let raw = self.docs.get(raw_o).ok();
                let preserved = na.iter().any(|alt| alt == ov || raw.is_some_and(|r| r.get("$ref").is_some() && alt == r));
                let side = if req { "request" } else { "response" };
                let (id, sev) = if preserved {
                    (format!("{side}-body-wrapped-in-one-of-original-preserved"), Severity::Warn)
                } else {
                    (format!("{side}-body-wrapped-in-one-of"), Severity::Err)
                };
                self.emit(id, sev, disp, "the body was restructured into a oneOf".into());
                continue;
            }
            let key = |v: &Value| -> (bool, String) {
                match v.get("$ref").and_then(|r| r.as_str()) {
                    Some(r) => (true, r.rsplit('/').next().unwrap_or(r).to_string()),
                    None => (false, v.to_string()),
                }
            };
            let ok: Vec<(bool, String)> = oa.iter().map(key).collect();
            let nk: Vec<(bool, String)> = na.iter().map(key).collect();
            let mut used = vec![false; na.len()];
            let mut pairs = Vec::new();
            let mut lone_old = Vec::new();
            for (i, k) in ok.iter().enumerate() {
                match (0..na.len()).find(|&j| !used[j] && nk[j] == *k) {
                    Some(j) => {
                        used[j] = true;
                        pairs.push((i, j));
                    }
                    None => lone_old.push(i),
                }
            }
            // Inline alternatives that changed: paired in order and compared.
            let mut lone_new: Vec<usize> = (0..na.len()).filter(|&j| !used[j]).collect();
            let mut rest_old = Vec::new();
            for i in lone_old {
                if !ok[i].0
                    && let Some(pos) = lone_new.iter().position(|&j| !nk[j].0)
                {
                    pairs.push((i, lone_new.remove(pos)));
                } else {
                    rest_old.push(i);
                }
            }
            let short = match kw {
                "allOf" => "all-of",
                "anyOf" => "any-of",
                _ => "one-of",
            };
            let name = |v: &Value, i: usize| -> String {
                v.get("$ref").and_then(|r| r.as_str()).map(|r| r.rsplit('/').next().unwrap_or(r).to_string()).unwrap_or(format!("#{i}"))
            };
            if !self.param() {
                for &i in &rest_old {
                    if (kw != "allOf" && req) || (kw == "allOf" && !req) {
                        self.emit(
                            self.id(top, &format!("{short}-removed")),
                            Severity::Err,
                            disp,
                            format!("removed {} from `{kw}`", name(&oa[i], i)),
                        );
                    }
                }
                for &j in &lone_new {
                    let resolved = self.docs.resolve(&child(nl, &[kw, &j.to_string()])).map(|(_, v)| v).unwrap_or(&na[j]);
                    if (kw == "allOf" && req && !annotation_only(resolved)) || (kw != "allOf" && !req) {
                        self.emit(
                            self.id(top, &format!("{short}-added")),
                            Severity::Err,
                            disp,
                            format!("added {} to `{kw}`", name(&na[j], j)),
                        );
                    }
                }
            }
            for (i, j) in pairs {
                self.schema(&child(ol, &[kw, &i.to_string()]), &child(nl, &[kw, &j.to_string()]), prop, disp)?;
            }
        }
        Ok(())
    }

    /// JSON Schema 2019-09/2020-12 keywords.
    fn json_schema(&mut self, ol: &Loc, ov: &'a Value, nl: &Loc, nv: &'a Value, prop: &str, disp: &str) -> Result<()> {
        if self.param() {
            return Ok(());
        }
        self.js_presence(ol, ov, nl, nv, prop, disp)?;
        self.js_contains(ov, nv, prop, disp);
        self.js_dependent_required(ov, nv, prop, disp);
        self.js_subschema_maps(ol, ov, nl, nv, prop, disp)?;
        self.js_prefix_items(ol, ov, nl, nv, prop, disp)?;
        Ok(())
    }

    /// Keywords whose presence constrains (adding one narrows a request, removing one widens a
    /// response), and changes of contentMediaType/contentEncoding.
    fn js_presence(&mut self, ol: &Loc, ov: &'a Value, nl: &Loc, nv: &'a Value, prop: &str, disp: &str) -> Result<()> {
        let req = self.req();
        let top = prop.is_empty();
        let sub = |s: &str| if top { s.to_string() } else { format!("{prop}/{s}") };
        for (kw, short) in [
            ("if", "if"),
            ("then", "then"),
            ("else", "else"),
            ("contains", "contains"),
            ("propertyNames", "property-names"),
            ("unevaluatedItems", "unevaluated-items"),
            ("unevaluatedProperties", "unevaluated-properties"),
            ("contentSchema", "content-schema"),
            ("not", "not"),
        ] {
            let present = |v: &Value| v.get(kw).is_some_and(|x| x != &Value::Bool(true));
            let (a, b) = (present(ov), present(nv));
            if req && !a && b {
                self.emit(self.id(top, &format!("{short}-added")), Severity::Err, disp, format!("`{kw}` added"));
            } else if !req && a && !b {
                self.emit(self.id(top, &format!("{short}-removed")), Severity::Err, disp, format!("`{kw}` removed"));
            } else if a && b && kw != "if" && kw != "not" && ov[kw].is_object() && nv[kw].is_object() {
                self.schema(&child(ol, &[kw]), &child(nl, &[kw]), &sub(kw), disp)?;
            }
        }
        for kw in ["contentMediaType", "contentEncoding"] {
            if ov.get(kw) != nv.get(kw) {
                let short = if kw == "contentMediaType" { "content-media-type-changed" } else { "content-encoding-changed" };
                let show = |v: Option<&Value>| v.map(|x| x.to_string()).unwrap_or("none".into());
                self.emit(
                    self.id(top, short),
                    Severity::Err,
                    disp,
                    format!("`{kw}` changed from {} to {}", show(ov.get(kw)), show(nv.get(kw))),
                );
            }
        }
        Ok(())
    }

    /// minContains/maxContains of a `contains` on both sides.
    fn js_contains(&mut self, ov: &Value, nv: &Value, prop: &str, disp: &str) {
        let req = self.req();
        let top = prop.is_empty();
        if ov.get("contains").is_some() && nv.get("contains").is_some() {
            let (a, b) = (num(ov, "minContains").unwrap_or(1.0), num(nv, "minContains").unwrap_or(1.0));
            if req && b > a {
                self.emit(
                    self.id(top, "min-contains-increased"),
                    Severity::Err,
                    disp,
                    format!("minContains increased from {} to {}", fmt(a), fmt(b)),
                );
            }
            if !req && b < a {
                self.emit(
                    self.id(top, "min-contains-decreased"),
                    Severity::Err,
                    disp,
                    format!("minContains decreased from {} to {}", fmt(a), fmt(b)),
                );
            }
            let (a, b) = (num(ov, "maxContains").unwrap_or(f64::INFINITY), num(nv, "maxContains").unwrap_or(f64::INFINITY));
            if req && b < a {
                self.emit(self.id(top, "max-contains-decreased"), Severity::Err, disp, format!("maxContains decreased to {}", fmt(b)));
            }
            if !req && b > a {
                self.emit(self.id(top, "max-contains-increased"), Severity::Err, disp, format!("maxContains increased from {}", fmt(a)));
            }
        }
    }

    /// dependentRequired: property → the properties it requires.
    fn js_dependent_required(&mut self, ov: &Value, nv: &Value, prop: &str, disp: &str) {
        let req = self.req();
        let top = prop.is_empty();
        let dr = |v: &Value| -> std::collections::BTreeMap<String, BTreeSet<String>> {
            v.get("dependentRequired")
                .and_then(|d| d.as_object())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (k.clone(), v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect())
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (odr, ndr) = (dr(ov), dr(nv));
        for (k, names) in &ndr {
            match odr.get(k) {
                None if req => self.emit(
                    self.id(top, "dependent-required-added"),
                    Severity::Err,
                    disp,
                    format!("dependentRequired {k} → {names:?} added"),
                ),
                Some(o) if req && !names.is_subset(o) => self.emit(
                    self.id(top, "dependent-required-changed"),
                    Severity::Err,
                    disp,
                    format!("dependentRequired {k} changed from {o:?} to {names:?}"),
                ),
                Some(o) if !req && !o.is_subset(names) => self.emit(
                    self.id(top, "dependent-required-changed"),
                    Severity::Err,
                    disp,
                    format!("dependentRequired {k} changed from {o:?} to {names:?}"),
                ),
                _ => {}
            }
        }
        for k in odr.keys().filter(|k| !ndr.contains_key(*k)) {
            if !req {
                self.emit(self.id(top, "dependent-required-removed"), Severity::Err, disp, format!("dependentRequired {k} removed"));
            }
        }
    }

    /// Maps of subschemas: dependentSchemas, patternProperties.
    fn js_subschema_maps(&mut self, ol: &Loc, ov: &'a Value, nl: &Loc, nv: &'a Value, prop: &str, disp: &str) -> Result<()> {
        let req = self.req();
        let top = prop.is_empty();
        let sub = |s: &str| if top { s.to_string() } else { format!("{prop}/{s}") };
        for (kw, short) in [("dependentSchemas", "dependent-schema"), ("patternProperties", "pattern-property")] {
            let empty = serde_json::Map::new();
            let om = ov.get(kw).and_then(|m| m.as_object()).unwrap_or(&empty);
            let nm = nv.get(kw).and_then(|m| m.as_object()).unwrap_or(&empty);
            for k in nm.keys().filter(|k| !om.contains_key(*k)) {
                if req {
                    self.emit(self.id(top, &format!("{short}-added")), Severity::Err, disp, format!("{kw} `{k}` added"));
                }
            }
            for k in om.keys() {
                if nm.contains_key(k) {
                    self.schema(&child(ol, &[kw, k]), &child(nl, &[kw, k]), &sub(k), disp)?;
                } else if !req {
                    self.emit(self.id(top, &format!("{short}-removed")), Severity::Err, disp, format!("{kw} `{k}` removed"));
                }
            }
        }
        Ok(())
    }

    /// prefixItems: tuple positions.
    fn js_prefix_items(&mut self, ol: &Loc, ov: &'a Value, nl: &Loc, nv: &'a Value, prop: &str, disp: &str) -> Result<()> {
        let req = self.req();
        let top = prop.is_empty();
        let sub = |s: &str| if top { s.to_string() } else { format!("{prop}/{s}") };
        let empty = Vec::new();
        let op = ov.get("prefixItems").and_then(|p| p.as_array()).unwrap_or(&empty);
        let np = nv.get("prefixItems").and_then(|p| p.as_array()).unwrap_or(&empty);
        if req && np.len() < op.len() {
            self.emit(
                self.id(top, "prefix-items-removed"),
                Severity::Err,
                disp,
                format!("prefixItems shortened from {} to {}", op.len(), np.len()),
            );
        }
        if !req && np.len() > op.len() {
            self.emit(
                self.id(top, "prefix-items-added"),
                Severity::Err,
                disp,
                format!("prefixItems lengthened from {} to {}", op.len(), np.len()),
            );
        }
        for i in 0..op.len().min(np.len()) {
            let s = i.to_string();
            self.schema(&child(ol, &["prefixItems", &s]), &child(nl, &["prefixItems", &s]), &sub(&s), &format!("{disp}[{i}]"))?;
        }
        Ok(())
    }

    /// properties, required, readOnly/writeOnly, additionalProperties.
    fn objects(&mut self, ol: &Loc, ov: &'a Value, nl: &Loc, nv: &'a Value, prop: &str, disp: &str) -> Result<()> {
        let docs = self.docs;
        let req = self.req();
        let set = |v: &Value| -> BTreeSet<String> {
            v.get("required").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
        };
        let (oreq, nreq) = (set(ov), set(nv));
        let empty = serde_json::Map::new();
        let oprops = ov.get("properties").and_then(|p| p.as_object()).unwrap_or(&empty);
        let nprops = nv.get("properties").and_then(|p| p.as_object()).unwrap_or(&empty);
        let header = matches!(self.area, Area::Param { header: true });
        let resolve = |l: &Loc| docs.resolve(l).map(|(_, v)| v).ok();
        let path = |name: &str| if prop.is_empty() { name.to_string() } else { format!("{prop}/{name}") };
        let shown = |name: &str| if disp.is_empty() { name.to_string() } else { format!("{disp}.{name}") };
        for name in oprops.keys() {
            let (opl, npl) = (child(ol, &["properties", name]), child(nl, &["properties", name]));
            let Some(opv) = resolve(&opl) else { continue };
            let npv = if nprops.contains_key(name) { resolve(&npl) } else { None };
            // A read-only property is never sent; a write-only one is never returned.
            if req && (is_true(opv, "readOnly") || npv.is_some_and(|v| is_true(v, "readOnly"))) {
                continue;
            }
            if !req
                && let Some(npv) = npv
                && is_true(opv, "writeOnly")
                && !is_true(npv, "writeOnly")
                && oreq.contains(name)
                && nreq.contains(name)
            {
                self.emit(
                    "response-required-property-became-not-write-only".into(),
                    Severity::Warn,
                    &shown(name),
                    "became not write-only".into(),
                );
            }
            if !req && is_true(opv, "writeOnly") {
                continue;
            }
            let Some(npv) = npv else {
                if self.param() {
                } else if req {
                    self.emit("request-property-removed".into(), Severity::Warn, &shown(name), "removed the request property".into());
                } else if oreq.contains(name) {
                    self.emit(
                        "response-required-property-removed".into(),
                        Severity::Err,
                        &shown(name),
                        "removed the required property".into(),
                    );
                } else {
                    // Clients must tolerate an optional property's absence: INFO in oasdiff.
                    self.emit(
                        "response-optional-property-removed".into(),
                        Severity::Info,
                        &shown(name),
                        "removed the optional property".into(),
                    );
                }
                continue;
            };
            if req && nreq.contains(name) && !oreq.contains(name) {
                // A default is the server's fallback; it does not make omitting a required property valid.
                let id = match self.area {
                    Area::Param { header: true } => Some("request-header-property-became-required"),
                    Area::Param { .. } => None,
                    Area::Body if npv.get("default").is_some() => Some("request-property-became-required-with-default"),
                    Area::Body => Some("request-property-became-required"),
                };
                if let Some(id) = id {
                    self.emit(id.into(), Severity::Err, &shown(name), "became required".into());
                }
            }
            if !req && oreq.contains(name) && !nreq.contains(name) && !is_true(npv, "writeOnly") {
                self.emit("response-property-became-optional".into(), Severity::Err, &shown(name), "became optional".into());
            }
            if !self.param() {
                let side = if req { "request" } else { "response" };
                // A property's own stability level may not drop (stable → beta → alpha → draft).
                if let (Ok(a), Ok(b)) = (super::stability(opv), super::stability(npv))
                    && b < a
                {
                    self.emit(
                        format!("{side}-property-stability-decreased"),
                        Severity::Err,
                        &shown(name),
                        format!("stability level decreased from {} to {}", super::STABILITY[a as usize], super::STABILITY[b as usize]),
                    );
                }
                // Newly deprecated with a sunset date that is not a date.
                if is_true(npv, "deprecated")
                    && !is_true(opv, "deprecated")
                    && let Err(e) = super::sunset(npv)
                {
                    self.emit(format!("{side}-property-deprecated-sunset-invalid"), Severity::Err, &shown(name), e);
                }
            }
            self.schema(&opl, &npl, &path(name), &shown(name))?;
        }
        if req {
            for name in nprops.keys().filter(|k| !oprops.contains_key(*k) && nreq.contains(*k)) {
                let Some(npv) = resolve(&child(nl, &["properties", name])) else { continue };
                if is_true(npv, "readOnly") {
                    continue;
                }
                let id = match self.area {
                    Area::Param { .. } if header => Some("new-required-request-header-property"),
                    Area::Param { .. } => None,
                    Area::Body if npv.get("default").is_some() => Some("new-required-request-property-with-default"),
                    Area::Body => Some("new-required-request-property"),
                };
                if let Some(id) = id {
                    self.emit(id.into(), Severity::Err, &shown(name), "added the new required property".into());
                }
            }
        }
        if ov.get("additionalProperties").is_some_and(|a| a.is_object()) && nv.get("additionalProperties").is_some_and(|a| a.is_object()) {
            self.schema(
                &child(ol, &["additionalProperties"]),
                &child(nl, &["additionalProperties"]),
                &path("additionalProperties"),
                &format!("{disp}[*]"),
            )?;
        }
        Ok(())
    }
}
