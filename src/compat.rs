//! Structural compatibility of JSON schemas: does everything a producer may emit fit what a
//! consumer accepts (producer ⊆ consumer)? Used for a consumer's restated schemas within a release,
//! and for breaking-change classification against the previous release.
//!
//! Sound where it says "incompatible"; where a rule cannot be decided (two different regex
//! patterns, an `allOf` producer, an `anyOf` consumer that no single branch covers) it says
//! "cannot prove compatible" instead of guessing.

use crate::paths;
use anyhow::{Result, anyhow, bail};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Deepest `$ref` chain and schema nesting followed.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Incompatible,
    CannotProve,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    pub verdict: Verdict,
    /// `file#/pointer` in the producer's schema.
    pub producer: String,
    /// `file#/pointer` in the consumer's schema.
    pub consumer: String,
    /// The rule, in plain words.
    pub rule: String,
}

/// Loaded documents (repository-relative path → parsed document) and `$ref` resolution.
#[derive(Default)]
pub struct Docs {
    pub docs: BTreeMap<String, Value>,
}

/// A schema location: file and JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc {
    pub file: String,
    pub ptr: String,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.file, self.ptr)
    }
}

impl Loc {
    pub fn new(file: &str, ptr: &str) -> Loc {
        Loc { file: file.to_string(), ptr: ptr.to_string() }
    }
    fn child(&self, parts: &[&str]) -> Loc {
        let mut p = self.ptr.clone();
        for part in parts {
            p.push('/');
            p.push_str(&part.replace('~', "~0").replace('/', "~1"));
        }
        Loc { file: self.file.clone(), ptr: p }
    }
}

impl Docs {
    pub fn get(&self, l: &Loc) -> Result<&Value> {
        let doc = self.docs.get(&l.file).ok_or_else(|| anyhow!("{l}: file not loaded"))?;
        if l.ptr.is_empty() {
            return Ok(doc);
        }
        doc.pointer(&l.ptr).ok_or_else(|| anyhow!("{l}: `$ref` target does not exist"))
    }

    /// Where a `$ref` written in `at` points.
    pub fn target(&self, at: &Loc, r: &str) -> Result<Loc> {
        let (file, frag) = r.split_once('#').unwrap_or((r, ""));
        if file.contains("://") {
            bail!("{at}: `$ref: {r}` needs the network; copy the schema into the repository");
        }
        let file = if file.is_empty() {
            at.file.clone()
        } else {
            paths::join_inside(paths::parent(&at.file), file).map_err(|e| anyhow!("{at}: `$ref: {r}`: {e}"))?
        };
        if !self.docs.contains_key(&file) {
            bail!("{at}: `$ref: {r}`: {file} is not part of the release's contracts");
        }
        let ptr = percent_decode(frag);
        if !ptr.is_empty() && !ptr.starts_with('/') {
            bail!("{at}: `$ref: {r}`: only JSON-pointer fragments (#/…) are supported");
        }
        Ok(Loc { file, ptr })
    }

    /// Follow `$ref` chains from `l` to a schema that is not a bare reference. A chain that comes
    /// back to itself is a reference cycle; a dangling target is an error.
    pub fn resolve(&self, l: &Loc) -> Result<(Loc, &Value)> {
        let mut cur = l.clone();
        let mut seen = Vec::new();
        loop {
            let v = self.get(&cur)?;
            let Some(r) = v.get("$ref").and_then(|r| r.as_str()) else { return Ok((cur, v)) };
            if seen.contains(&cur) {
                bail!("reference cycle: {}", seen.iter().chain([&cur]).map(|l| l.to_string()).collect::<Vec<_>>().join(" -> "));
            }
            if seen.len() > MAX_DEPTH {
                bail!("{l}: `$ref` chain longer than {MAX_DEPTH}");
            }
            seen.push(cur.clone());
            cur = self.target(&cur, r)?;
        }
    }

    /// Check every `$ref` in a document: targets exist, and no chain is a cycle.
    pub fn check_refs(&self, file: &str) -> Result<()> {
        fn walk(d: &Docs, v: &Value, at: Loc) -> Result<()> {
            match v {
                Value::Object(m) => {
                    if m.contains_key("$ref") {
                        d.resolve(&at)?;
                    }
                    for (k, x) in m {
                        walk(d, x, at.child(&[k]))?;
                    }
                }
                Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        walk(d, x, at.child(&[&i.to_string()]))?;
                    }
                }
                _ => {}
            }
            Ok(())
        }
        let doc = self.docs.get(file).ok_or_else(|| anyhow!("{file}: not loaded"))?;
        walk(self, doc, Loc::new(file, ""))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON types a schema admits; None means any.
fn types(v: &Value) -> Option<BTreeSet<String>> {
    let mut t: BTreeSet<String> = match v.get("type") {
        Some(Value::String(s)) => [s.clone()].into(),
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => return None,
    };
    if v.get("nullable") == Some(&Value::Bool(true)) {
        t.insert("null".into());
    }
    Some(t)
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 { format!("{}", x as i64) } else { format!("{x}") }
}

/// Checks producer ⊆ consumer.
pub struct Checker<'a> {
    pub docs: &'a Docs,
    pub issues: Vec<Issue>,
    seen: HashSet<(Loc, Loc)>,
}

impl<'a> Checker<'a> {
    pub fn new(docs: &'a Docs) -> Checker<'a> {
        Checker { docs, issues: Vec::new(), seen: HashSet::new() }
    }

    fn issue(&mut self, verdict: Verdict, p: &Loc, c: &Loc, rule: String) {
        self.issues.push(Issue { verdict, producer: p.to_string(), consumer: c.to_string(), rule });
    }

    /// Check the schema at `p` against the one at `c`.
    pub fn check(&mut self, p: &Loc, c: &Loc) -> Result<()> {
        self.check_depth(p, c, 0)
    }

    fn check_depth(&mut self, p: &Loc, c: &Loc, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            bail!("{p}: schemas nested deeper than {MAX_DEPTH}");
        }
        let (pl, pv) = self.docs.resolve(p)?;
        let (cl, cv) = self.docs.resolve(c)?;
        // Recursive schemas: a pair already under comparison holds (coinduction).
        if !self.seen.insert((pl.clone(), cl.clone())) {
            return Ok(());
        }
        let (pv, cv) = (pv.clone(), cv.clone());
        if cv == Value::Bool(true) || cv.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(());
        }
        if pv == Value::Bool(false) {
            return Ok(());
        }
        if !pv.is_object() || !cv.is_object() {
            bail!("{}: a schema must be an object or a boolean", if pv.is_object() { &cl } else { &pl });
        }
        if self.combinators(&pl, &cl, &pv, &cv, depth)? {
            return Ok(());
        }
        self.fit_types(&pl, &cl, &pv, &cv);
        let p_values = self.fit_values(&pl, &cl, &pv, &cv);
        self.fit_ranges(&pl, &cl, &pv, &cv, p_values.is_some());
        self.fit_pattern(&pl, &cl, &pv, &cv, p_values.is_some());
        self.fit_objects(&pl, &cl, &pv, &cv, depth)?;
        self.fit_items(&pl, &cl, &pv, &cv, depth)
    }

    /// oneOf/anyOf/allOf on either side. True when they decided the pair (nothing else to check).
    fn combinators(&mut self, pl: &Loc, cl: &Loc, pv: &Value, cv: &Value, depth: usize) -> Result<bool> {
        if let Some(branches) = pv.get("oneOf").or(pv.get("anyOf")).and_then(|x| x.as_array()) {
            let kw = if pv.get("oneOf").is_some() { "oneOf" } else { "anyOf" };
            for i in 0..branches.len() {
                self.check_depth(&pl.child(&[kw, &i.to_string()]), cl, depth + 1)?;
            }
            return Ok(true);
        }
        if let Some(all) = cv.get("allOf").and_then(|x| x.as_array()) {
            for i in 0..all.len() {
                self.check_depth(pl, &cl.child(&["allOf", &i.to_string()]), depth + 1)?;
            }
        }
        if let Some(branches) = cv.get("oneOf").or(cv.get("anyOf")).and_then(|x| x.as_array()) {
            let kw = if cv.get("oneOf").is_some() { "oneOf" } else { "anyOf" };
            // Some consumer branch must take every producer value.
            let mut fits = false;
            for i in 0..branches.len() {
                let mut sub = Checker::new(self.docs);
                sub.seen = self.seen.clone();
                sub.check_depth(pl, &cl.child(&[kw, &i.to_string()]), depth + 1)?;
                if sub.issues.is_empty() {
                    fits = true;
                    break;
                }
            }
            if !fits {
                self.issue(
                    Verdict::CannotProve,
                    pl,
                    cl,
                    format!("no single `{kw}` branch of the consumer accepts everything the producer may emit"),
                );
            }
            if pv.get("allOf").is_none() {
                return Ok(true);
            }
        }
        if let Some(all) = pv.get("allOf").and_then(|x| x.as_array()) {
            // Sufficient: one producer branch already fits.
            let mut fits = false;
            for i in 0..all.len() {
                let mut sub = Checker::new(self.docs);
                sub.seen = self.seen.clone();
                sub.check_depth(&pl.child(&["allOf", &i.to_string()]), cl, depth + 1)?;
                if sub.issues.is_empty() {
                    fits = true;
                    break;
                }
            }
            if !fits && cv.get("allOf").is_none() {
                self.issue(Verdict::CannotProve, pl, cl, "the producer is an `allOf` and no single part of it fits the consumer".into());
            }
            return Ok(true);
        }

        Ok(false)
    }

    /// type (integer ⊂ number; null from `nullable` or `type: [..., "null"]`).
    fn fit_types(&mut self, pl: &Loc, cl: &Loc, pv: &Value, cv: &Value) {
        match (types(pv), types(cv)) {
            (_, None) => {}
            (None, Some(ct)) => {
                if pv.get("enum").is_none() && pv.get("const").is_none() {
                    self.issue(
                        Verdict::Incompatible,
                        pl,
                        cl,
                        format!("producer may emit any type, consumer accepts only {}", ct.iter().cloned().collect::<Vec<_>>().join("/")),
                    );
                }
            }
            (Some(pt), Some(ct)) => {
                for t in &pt {
                    let ok = ct.contains(t) || (t == "integer" && ct.contains("number"));
                    if !ok {
                        let rule = if t == "null" {
                            "producer may emit null, consumer does not accept null".to_string()
                        } else if t == "number" && ct.contains("integer") {
                            "producer may emit non-integer numbers, consumer accepts only integers".to_string()
                        } else {
                            format!(
                                "producer may emit type {t}, consumer accepts only {}",
                                ct.iter().cloned().collect::<Vec<_>>().join("/")
                            )
                        };
                        self.issue(Verdict::Incompatible, pl, cl, rule);
                    }
                }
            }
        }
    }

    /// enum and const: every producer value is a consumer value. Returns the producer's values.
    fn fit_values(&mut self, pl: &Loc, cl: &Loc, pv: &Value, cv: &Value) -> Option<Vec<Value>> {
        let p_values: Option<Vec<Value>> =
            pv.get("const").map(|c| vec![c.clone()]).or_else(|| pv.get("enum").and_then(|e| e.as_array().cloned()));
        let c_values: Option<Vec<Value>> =
            cv.get("const").map(|c| vec![c.clone()]).or_else(|| cv.get("enum").and_then(|e| e.as_array().cloned()));
        match (&p_values, &c_values) {
            (_, None) => {}
            (None, Some(_)) => {
                let kw = if cv.get("const").is_some() { "const" } else { "enum" };
                self.issue(
                    Verdict::Incompatible,
                    pl,
                    cl,
                    format!("consumer accepts only the values of its `{kw}`, producer may emit any value"),
                );
            }
            (Some(pvs), Some(cvs)) => {
                for x in pvs {
                    if !cvs.contains(x) {
                        self.issue(
                            Verdict::Incompatible,
                            pl,
                            cl,
                            format!("producer may emit {x}, which the consumer's enum/const does not accept"),
                        );
                    }
                }
            }
        }
        p_values
    }

    /// Ranges: the producer's range must lie within the consumer's.
    fn fit_ranges(&mut self, pl: &Loc, cl: &Loc, pv: &Value, cv: &Value, enumerated: bool) {
        for (lo, hi, what) in [
            ("minimum", "maximum", "value"),
            ("minItems", "maxItems", "item count"),
            ("minLength", "maxLength", "length"),
            ("minProperties", "maxProperties", "property count"),
        ] {
            if let Some(cmin) = num(cv, lo) {
                match num(pv, lo) {
                    Some(pmin) if pmin >= cmin => {}
                    Some(pmin) => self.issue(
                        Verdict::Incompatible,
                        pl,
                        cl,
                        format!("producer {what} may be as low as {}, consumer needs at least {}", fmt_num(pmin), fmt_num(cmin)),
                    ),
                    None if what == "value" && enumerated => {}
                    None => self.issue(
                        Verdict::Incompatible,
                        pl,
                        cl,
                        format!("producer sets no `{lo}`, consumer needs {what} ≥ {}", fmt_num(cmin)),
                    ),
                }
            }
            if let Some(cmax) = num(cv, hi) {
                match num(pv, hi) {
                    Some(pmax) if pmax <= cmax => {}
                    Some(pmax) => self.issue(
                        Verdict::Incompatible,
                        pl,
                        cl,
                        format!("producer {what} may be as high as {}, consumer allows at most {}", fmt_num(pmax), fmt_num(cmax)),
                    ),
                    None if what == "value" && enumerated => {}
                    None => self.issue(
                        Verdict::Incompatible,
                        pl,
                        cl,
                        format!("producer sets no `{hi}`, consumer allows {what} ≤ {}", fmt_num(cmax)),
                    ),
                }
            }
        }
    }

    /// pattern: equal, or the consumer sets none.
    fn fit_pattern(&mut self, pl: &Loc, cl: &Loc, pv: &Value, cv: &Value, enumerated: bool) {
        if let Some(cp) = cv.get("pattern").and_then(|x| x.as_str()) {
            match pv.get("pattern").and_then(|x| x.as_str()) {
                Some(pp) if pp == cp => {}
                Some(pp) => self.issue(Verdict::CannotProve, pl, cl, format!("producer pattern `{pp}` and consumer pattern `{cp}` differ")),
                None if enumerated => {}
                None => {
                    self.issue(Verdict::Incompatible, pl, cl, format!("consumer requires pattern `{cp}`, producer may emit any string"))
                }
            }
        }
    }

    /// Objects: required, properties, additionalProperties.
    fn fit_objects(&mut self, pl: &Loc, cl: &Loc, pv: &Value, cv: &Value, depth: usize) -> Result<()> {
        let preq: BTreeSet<&str> =
            pv.get("required").and_then(|r| r.as_array()).map(|a| a.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
        let creq: BTreeSet<&str> =
            cv.get("required").and_then(|r| r.as_array()).map(|a| a.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
        for r in creq.difference(&preq) {
            self.issue(
                Verdict::Incompatible,
                &pl.child(&["required"]),
                &cl.child(&["required"]),
                format!("producer may omit \"{r}\", consumer requires it"),
            );
        }
        let pprops = pv.get("properties").and_then(|x| x.as_object()).cloned().unwrap_or_default();
        let cprops = cv.get("properties").and_then(|x| x.as_object()).cloned().unwrap_or_default();
        let c_addl = cv.get("additionalProperties");
        for name in pprops.keys() {
            let pchild = pl.child(&["properties", name]);
            if cprops.contains_key(name) {
                self.check_depth(&pchild, &cl.child(&["properties", name]), depth + 1)?;
            } else {
                match c_addl {
                    Some(Value::Bool(false)) => self.issue(
                        Verdict::Incompatible,
                        &pchild,
                        cl,
                        format!("producer may emit \"{name}\", consumer forbids additional properties"),
                    ),
                    Some(Value::Object(_)) => self.check_depth(&pchild, &cl.child(&["additionalProperties"]), depth + 1)?,
                    _ => {}
                }
            }
        }
        match (pv.get("additionalProperties"), c_addl) {
            (Some(Value::Bool(false)), _) | (_, None) | (_, Some(Value::Bool(true))) => {}
            (Some(Value::Object(_)), Some(Value::Object(_))) => {
                self.check_depth(&pl.child(&["additionalProperties"]), &cl.child(&["additionalProperties"]), depth + 1)?
            }
            (_, Some(Value::Bool(false)))
                if types(pv).is_none_or(|t| t.contains("object")) && (pv.get("properties").is_some() || pv.get("type").is_some()) =>
            {
                self.issue(Verdict::Incompatible, pl, cl, "producer allows additional properties, consumer forbids them".into());
            }
            (_, Some(Value::Object(_))) if pv.get("properties").is_some() && pv.get("additionalProperties").is_none() => {
                self.issue(Verdict::CannotProve, pl, cl, "producer allows any additional properties, consumer constrains them".into());
            }
            _ => {}
        }
        Ok(())
    }

    /// Arrays: the producer's items fit the consumer's.
    fn fit_items(&mut self, pl: &Loc, cl: &Loc, pv: &Value, cv: &Value, depth: usize) -> Result<()> {
        if let Some(ci) = cv.get("items") {
            match pv.get("items") {
                Some(_) => self.check_depth(&pl.child(&["items"]), &cl.child(&["items"]), depth + 1)?,
                None if ci.as_object().is_some_and(|o| o.is_empty()) || ci == &Value::Bool(true) => {}
                None => self.issue(
                    Verdict::Incompatible,
                    pl,
                    &cl.child(&["items"]),
                    "producer's items are unconstrained, consumer constrains them".into(),
                ),
            }
        }
        Ok(())
    }
}

/// Convenience for tests and callers with single in-memory schemas.
pub fn check_values(producer: &Value, consumer: &Value) -> Result<Vec<Issue>> {
    let mut d = Docs::default();
    d.docs.insert("producer.json".into(), producer.clone());
    d.docs.insert("consumer.json".into(), consumer.clone());
    let mut c = Checker::new(&d);
    c.check(&Loc::new("producer.json", ""), &Loc::new("consumer.json", ""))?;
    Ok(c.issues)
}
