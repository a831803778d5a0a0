//! Release discipline against the previous release: API semver (oasdiff's breaking-change rules,
//! decided with the structural checker), prompt versions, and model changes.
//! Findings JSON: spec/check-report.schema.json.

use crate::compat::{Checker, Docs, Loc, Verdict};
use crate::release::Release;
use anyhow::{Result, anyhow};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub level: Level,
    /// `api`, `prompt` or `model`
    pub kind: &'static str,
    /// The API name, prompt id or model path.
    pub subject: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

fn bump(old: &semver::Version, new: &semver::Version) -> Option<Bump> {
    if new < old {
        return None;
    }
    Some(if new.major > old.major {
        Bump::Major
    } else if new.minor > old.minor {
        Bump::Minor
    } else if new.patch > old.patch || new != old {
        Bump::Patch
    } else {
        Bump::None
    })
}

/// The bump a breaking change needs: major, or minor while the major version is 0.
fn breaking_bump(old: &semver::Version) -> Bump {
    if old.major == 0 { Bump::Minor } else { Bump::Major }
}

fn name(b: Bump) -> &'static str {
    match b {
        Bump::None => "no",
        Bump::Patch => "a patch",
        Bump::Minor => "a minor",
        Bump::Major => "a major",
    }
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/// Keys added from `old` to `new` under `properties`, `paths`, `responses`, and enum values.
fn additions(old: &Value, new: &Value, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) => additions(ov, nv, &format!("{at}/{k}"), out),
                    None => {
                        if at.ends_with("/properties")
                            || at.ends_with("/responses")
                            || at == "/paths"
                            || at.starts_with("/paths/") && METHODS.contains(&k.as_str())
                        {
                            out.push(format!("{at}/{k}"));
                        }
                    }
                }
            }
        }
        (Value::Array(o), Value::Array(n)) if at.ends_with("/enum") => {
            for v in n {
                if !o.contains(v) {
                    out.push(format!("{at}: {v}"));
                }
            }
        }
        _ => {}
    }
}

/// Enum values removed at the same place of two response schemas.
fn removed_enums(old: &Value, new: &Value, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            if let (Some(Value::Array(oe)), Some(Value::Array(ne))) = (o.get("enum"), n.get("enum")) {
                for v in oe {
                    if !ne.contains(v) {
                        out.push(format!("{at}: enum value {v} removed from a response"));
                    }
                }
            }
            for (k, ov) in o {
                if let Some(nv) = n.get(k) {
                    removed_enums(ov, nv, &format!("{at}/{k}"), out);
                }
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            for (i, (a, b)) in o.iter().zip(n).enumerate() {
                removed_enums(a, b, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn json_content(v: &Value) -> Option<(&str, &Value)> {
    let c = v.get("content")?.as_object()?;
    c.iter().find(|(k, _)| k.contains("json")).map(|(k, v)| (k.as_str(), v)).filter(|(_, v)| v.get("schema").is_some())
}

fn esc(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn run(ck: &mut Checker, p: Loc, c: Loc, what: &str, breaks: &mut Vec<String>, unproven: &mut Vec<String>) -> Result<()> {
    ck.check(&p, &c)?;
    for i in ck.issues.drain(..) {
        let line = format!("{what}: {}", i.rule);
        match i.verdict {
            Verdict::Incompatible => breaks.push(line),
            Verdict::CannotProve => unproven.push(line),
        }
    }
    Ok(())
}

/// Breaking changes from the `old` contract (file `of`, in docs under "a/") to the `new` (under "b/").
fn breaking(docs: &Docs, of: &str, nf: &str) -> Result<(Vec<String>, Vec<String>)> {
    let (old, new) =
        (docs.docs.get(of).ok_or_else(|| anyhow!("{of}: not loaded"))?, docs.docs.get(nf).ok_or_else(|| anyhow!("{nf}: not loaded"))?);
    let mut breaks = Vec::new();
    let mut unproven = Vec::new();
    let mut ck = Checker::new(docs);
    if old.get("openapi").is_some() {
        let empty = serde_json::Map::new();
        let opaths = old.get("paths").and_then(|p| p.as_object()).unwrap_or(&empty);
        let npaths = new.get("paths").and_then(|p| p.as_object()).unwrap_or(&empty);
        for (path, ops) in opaths {
            let Some(nops) = npaths.get(path) else {
                breaks.push(format!("path {path} removed"));
                continue;
            };
            for m in METHODS {
                let Some(op) = ops.get(m) else { continue };
                let Some(nop) = nops.get(m) else {
                    breaks.push(format!("operation {} {path} removed", m.to_uppercase()));
                    continue;
                };
                let base = format!("/paths/{}/{m}", esc(path));
                let label = format!("{} {path}", m.to_uppercase());
                // Requests: everything old clients sent must still be accepted (old ⊆ new).
                match (op.get("requestBody").and_then(json_content), nop.get("requestBody").and_then(json_content)) {
                    (Some((ct, _)), Some((nct, _))) => run(
                        &mut ck,
                        Loc::new(of, &format!("{base}/requestBody/content/{}/schema", esc(ct))),
                        Loc::new(nf, &format!("{base}/requestBody/content/{}/schema", esc(nct))),
                        &format!("{label} request"),
                        &mut breaks,
                        &mut unproven,
                    )?,
                    (None, Some(_)) if nop.pointer("/requestBody/required") == Some(&Value::Bool(true)) => {
                        breaks.push(format!("{label}: a required request body was added"))
                    }
                    _ => {}
                }
                // New required parameters break old clients.
                let params = |o: &Value| -> BTreeSet<(String, String)> {
                    o.get("parameters")
                        .and_then(|p| p.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|p| Some((p.get("in")?.as_str()?.to_string(), p.get("name")?.as_str()?.to_string())))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let oldp = params(op);
                for p in nop.get("parameters").and_then(|p| p.as_array()).into_iter().flatten() {
                    let key = (
                        p.get("in").and_then(|x| x.as_str()).unwrap_or("").to_string(),
                        p.get("name").and_then(|x| x.as_str()).unwrap_or("").to_string(),
                    );
                    if p.get("required") == Some(&Value::Bool(true)) && !oldp.contains(&key) {
                        breaks.push(format!("{label}: new required {} parameter `{}`", key.0, key.1));
                    }
                }
                // Responses: everything the new server sends must fit old clients (new ⊆ old).
                for (status, resp) in op.get("responses").and_then(|r| r.as_object()).unwrap_or(&empty) {
                    let Some(nresp) = nop.pointer(&format!("/responses/{}", esc(status))) else {
                        breaks.push(format!("{label}: response {status} removed"));
                        continue;
                    };
                    if let (Some((ct, os)), Some((nct, ns))) = (json_content(resp), json_content(nresp)) {
                        run(
                            &mut ck,
                            Loc::new(nf, &format!("{base}/responses/{}/content/{}/schema", esc(status), esc(nct))),
                            Loc::new(of, &format!("{base}/responses/{}/content/{}/schema", esc(status), esc(ct))),
                            &format!("{label} response {status}"),
                            &mut breaks,
                            &mut unproven,
                        )?;
                        let mut removed = Vec::new();
                        removed_enums(
                            os.get("schema").unwrap_or(&Value::Null),
                            ns.get("schema").unwrap_or(&Value::Null),
                            &format!("{label} response {status}"),
                            &mut removed,
                        );
                        breaks.extend(removed);
                    }
                }
            }
        }
        // Named schemas shared by both versions: a response schema must not narrow what old
        // clients accept, e.g. a removed required field or a changed type.
        if let (Some(os), Some(ns)) =
            (old.pointer("/components/schemas").and_then(|x| x.as_object()), new.pointer("/components/schemas").and_then(|x| x.as_object()))
        {
            for k in os.keys().filter(|k| ns.contains_key(*k)) {
                let ptr = format!("/components/schemas/{}", esc(k));
                run(&mut ck, Loc::new(nf, &ptr), Loc::new(of, &ptr), &format!("schema {k}"), &mut breaks, &mut unproven)?;
                let mut removed = Vec::new();
                removed_enums(&os[k], &ns[k], &format!("schema {k}"), &mut removed);
                breaks.extend(removed);
            }
        }
    } else {
        // A JSON Schema contract is what the provider emits: new ⊆ old.
        run(&mut ck, Loc::new(nf, ""), Loc::new(of, ""), "schema", &mut breaks, &mut unproven)?;
        let mut removed = Vec::new();
        removed_enums(old, new, "schema", &mut removed);
        breaks.extend(removed);
    }
    breaks.sort();
    breaks.dedup();
    unproven.sort();
    unproven.dedup();
    Ok((breaks, unproven))
}

/// Compare the current release (record and files) with the previous one.
pub fn check(prev: &crate::diff::Loaded, cur: &Release, files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let mut docs = Docs::default();
    for (p, b) in &prev.files {
        if let Ok(v) = crate::contracts::parse_doc(b, p) {
            docs.docs.insert(format!("a/{p}"), v);
        }
    }
    for (p, b) in files {
        if let Ok(v) = crate::contracts::parse_doc(b, p) {
            docs.docs.insert(format!("b/{p}"), v);
        }
    }
    let apis = |r: &Release| -> BTreeMap<String, crate::release::ProvideRecord> {
        r.components.iter().flat_map(|c| c.provides.iter().map(|p| (p.api.clone(), p.clone()))).collect()
    };
    let (oa, na) = (apis(&prev.record), apis(cur));
    // Another API's contract that a contract `$ref`s is judged under that API, not this one.
    let contracts: BTreeSet<&str> = na.values().chain(oa.values()).map(|p| p.contract.as_str()).collect();
    for (api, np) in &na {
        let Some(op) = oa.get(api) else { continue };
        let changed = op.sha256 != np.sha256
            || op.refs.iter().chain(&np.refs).filter(|r| !contracts.contains(r.as_str())).any(|r| prev.files.get(r) != files.get(r));
        if !changed {
            continue;
        }
        let (ov, nv) = (semver::Version::parse(&op.version)?, semver::Version::parse(&np.version)?);
        let got = bump(&ov, &nv);
        let f = |level, message: String| Finding { level, kind: "api", subject: api.clone(), message };
        let (breaks, unproven) = breaking(&docs, &format!("a/{}", op.contract), &format!("b/{}", np.contract))?;
        let mut adds = Vec::new();
        if let (Some(o), Some(n)) = (docs.docs.get(&format!("a/{}", op.contract)), docs.docs.get(&format!("b/{}", np.contract))) {
            additions(o, n, "", &mut adds);
        }
        let need = if !breaks.is_empty() {
            breaking_bump(&ov)
        } else if !adds.is_empty() {
            Bump::Minor
        } else {
            Bump::Patch
        };
        match got {
            None => out.push(f(Level::Error, format!("version went down: {ov} → {nv}"))),
            Some(Bump::None) => out.push(f(Level::Error, format!("the contract changed but its version did not ({ov}); bump it"))),
            Some(g) if g < need => {
                // The changes first, then the rule they break.
                let (list, what) = if !breaks.is_empty() { (&breaks, "breaking change") } else { (&adds, "addition") };
                out.push(f(
                    Level::Error,
                    format!(
                        "{}: {}; {} need {} bump, and {ov} → {nv} is {} bump",
                        plural_of(list.len(), what),
                        list.join("; "),
                        if list.len() == 1 { "it would" } else { "they" },
                        name(need),
                        name(g)
                    ),
                ));
            }
            Some(_) => {
                let what = if !breaks.is_empty() {
                    format!("breaking: {}", breaks.join("; "))
                } else if !adds.is_empty() {
                    format!("additive: {}", adds.join("; "))
                } else {
                    "changed".into()
                };
                out.push(f(Level::Info, format!("{ov} → {nv}, {what}")));
            }
        }
        for u in unproven {
            out.push(f(Level::Warning, format!("cannot prove compatible: {u}")));
        }
    }
    for api in oa.keys().filter(|a| !na.contains_key(*a)) {
        out.push(Finding {
            level: Level::Warning,
            kind: "api",
            subject: api.clone(),
            message: "no longer provided by any component".into(),
        });
    }
    // Prompts.
    let prompts = |r: &Release| -> BTreeMap<String, crate::release::PromptRecord> {
        r.components.iter().flat_map(|c| c.prompts.iter().map(|p| (p.key(), p.clone()))).collect()
    };
    let (opr, npr) = (prompts(&prev.record), prompts(cur));
    for (id, np) in &npr {
        let Some(op) = opr.get(id) else { continue };
        if op.sha256 == np.sha256 && op.version == np.version {
            continue;
        }
        let f = |level, message: String| Finding { level, kind: "prompt", subject: id.clone(), message };
        let (ov, nv) = (semver::Version::parse(&op.version)?, semver::Version::parse(&np.version)?);
        let parse = |files: &BTreeMap<String, Vec<u8>>, path: &str| -> Option<crate::prompts::Prompt> {
            crate::prompts::parse(std::str::from_utf8(files.get(path)?).ok()?, std::path::Path::new(path)).ok()
        };
        let (old, new) = (parse(&prev.files, &op.path), parse(files, &np.path));
        let need = match (&old, &new) {
            (Some(o), Some(n)) => {
                let added_required: Vec<&String> = n.required.iter().filter(|v| !o.required.contains(*v)).collect();
                let removed: Vec<&String> = o.variables.iter().filter(|v| !n.variables.contains(v)).collect();
                if !added_required.is_empty() || !removed.is_empty() {
                    (breaking_bump(&ov), format!("variables changed (new required: {:?}, removed: {:?})", added_required, removed))
                } else {
                    (Bump::Patch, "the template changed".into())
                }
            }
            _ => (Bump::Patch, "the file changed".into()),
        };
        match bump(&ov, &nv) {
            None => out.push(f(Level::Error, format!("version went down: {ov} → {nv}"))),
            Some(Bump::None) => out.push(f(Level::Error, format!("content changed but the version did not ({ov}): {}", need.1))),
            Some(g) if g < need.0 => {
                out.push(f(Level::Error, format!("{}; that needs {} bump, and {ov} → {nv} is {} bump", need.1, name(need.0), name(g))))
            }
            Some(_) => out.push(f(Level::Info, format!("{ov} → {nv}: {}", need.1))),
        }
    }
    for id in opr.keys().filter(|i| !npr.contains_key(*i)) {
        out.push(Finding { level: Level::Warning, kind: "prompt", subject: id.clone(), message: "disappeared from the release".into() });
    }
    // Models: reported, never errors.
    let models = |r: &Release| -> BTreeMap<String, String> {
        r.components.iter().flat_map(|c| c.models.iter().map(|m| (m.path.clone(), m.md5.clone()))).collect()
    };
    let (om, nm) = (models(&prev.record), models(cur));
    for (path, md5) in &nm {
        match om.get(path) {
            Some(o) if o != md5 => {
                out.push(Finding { level: Level::Info, kind: "model", subject: path.clone(), message: format!("md5 {o} → {md5}") })
            }
            None => out.push(Finding { level: Level::Info, kind: "model", subject: path.clone(), message: "new model".into() }),
            _ => {}
        }
    }
    out.sort_by(|a, b| a.level.cmp(&b.level).then(a.kind.cmp(b.kind)).then(a.subject.cmp(&b.subject)));
    Ok(out)
}

/// `1 breaking change`, `3 additions`.
fn plural_of(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}
