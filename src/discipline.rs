//! Release discipline against the previous release: API semver (oasdiff's breaking-change rules,
//! src/oasdiff/, with each break's consumers in this release), prompt versions, and model changes.
//! Findings JSON: spec/check-report.schema.json.

use crate::compat::Docs;
use crate::oasdiff::{Change, Severity};
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
    /// For an API change: oasdiff's rule id and level, its place, and the consumers it hits.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub change: Option<Impacted>,
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

/// The previous (`a/…`) and current (`b/…`) releases' contract files, parsed, for the classifier.
pub fn docs_of(prev: &BTreeMap<String, Vec<u8>>, cur: &BTreeMap<String, Vec<u8>>) -> Docs {
    let mut docs = Docs::default();
    for (side, files) in [("a", prev), ("b", cur)] {
        for (p, b) in files {
            if let Ok(v) = crate::contracts::parse_doc(b, p) {
                docs.docs.insert(format!("{side}/{p}"), v);
            }
        }
    }
    docs
}

/// oasdiff's classification of an API's change from `old` (previous release) to `new`.
/// `used`: the schemas of the provider that consumers in the release `$ref` (`file#/pointer`),
/// judged even when no operation reaches them.
pub fn api_changes(
    docs: &Docs,
    old: &crate::release::ProvideRecord,
    new: &crate::release::ProvideRecord,
    used: &[String],
) -> Result<Vec<Change>> {
    crate::oasdiff::compare_with(docs, &format!("a/{}", old.contract), &format!("b/{}", new.contract), used)
        .map_err(|e| anyhow!("api {}: comparing {} with the previous release: {e:#}", new.api, new.contract))
}

/// One classified change with its consumer impact, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct Impacted {
    pub rule: String,
    #[serde(rename = "oasdiffLevel")]
    pub oasdiff_level: Severity,
    pub operation: String,
    pub location: String,
    /// The release's components it hits (empty: none uses it).
    pub consumers: Vec<crate::impact::Hit>,
    /// `breaking for summarizer (POST /embed, response 200 Chunk.char_start)` or
    /// `breaking, no consumer in this release uses it`.
    pub impact: String,
    /// `POST /embed response 200 Chunk.char_start: removed the required property [ERR response-required-property-removed]`.
    #[serde(rename = "change")]
    pub text: String,
}

/// The ERR and WARN changes of `changes`, each with the consumers in `release` it hits.
pub fn impacted(changes: &[Change], release: &Release, api: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<Impacted> {
    let consumers = crate::impact::consumers(release, api, files);
    changes
        .iter()
        .filter(|c| c.level != Severity::Info)
        .map(|c| {
            let hits = crate::impact::hits(c, &consumers);
            let what = if c.level == Severity::Err { "breaking" } else { "potentially breaking" };
            Impacted {
                rule: c.id.clone(),
                oasdiff_level: c.level,
                operation: c.operation.clone(),
                location: c.location.clone(),
                impact: crate::impact::describe(what, c, &hits),
                consumers: hits,
                text: format!("{}: {} [{} {}]", c.place(), c.message, c.level.as_str(), c.id),
            }
        })
        .collect()
}

/// Compare the current release (record and files) with the previous one. With `strict`, oasdiff's
/// WARN changes ("potentially breaking") count as breaking.
pub fn check(prev: &crate::diff::Loaded, cur: &Release, files: &BTreeMap<String, Vec<u8>>, strict: bool) -> Result<Vec<Finding>> {
    let mut out = api_findings(prev, cur, files, strict)?;
    out.extend(prompt_findings(prev, cur, files)?);
    out.extend(model_findings(prev, cur));
    out.sort_by(|a, b| a.level.cmp(&b.level).then(a.kind.cmp(b.kind)).then(a.subject.cmp(&b.subject)));
    Ok(out)
}

/// What the API checks of one release pair share.
#[derive(Clone, Copy)]
struct ApiCtx<'a> {
    docs: &'a Docs,
    cur: &'a Release,
    files: &'a BTreeMap<String, Vec<u8>>,
    strict: bool,
}

/// Each provided API whose contract changed: was its version bumped enough for its changes?
fn api_findings(prev: &crate::diff::Loaded, cur: &Release, files: &BTreeMap<String, Vec<u8>>, strict: bool) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let docs = docs_of(&prev.files, files);
    let ctx = ApiCtx { docs: &docs, cur, files, strict };
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
        if changed {
            api_changed(ctx, api, op, np, &mut out)?;
        }
    }
    for api in oa.keys().filter(|a| !na.contains_key(*a)) {
        out.push(Finding {
            level: Level::Warning,
            kind: "api",
            subject: api.clone(),
            message: "no longer provided by any component".into(),
            change: None,
        });
    }
    Ok(out)
}

/// One API whose contract changed between `op` and `np`.
fn api_changed(
    ctx: ApiCtx,
    api: &str,
    op: &crate::release::ProvideRecord,
    np: &crate::release::ProvideRecord,
    out: &mut Vec<Finding>,
) -> Result<()> {
    let ApiCtx { docs, cur, files, strict } = ctx;
    let (ov, nv) = (semver::Version::parse(&op.version)?, semver::Version::parse(&np.version)?);
    let got = bump(&ov, &nv);
    let f = |level, message: String| Finding { level, kind: "api", subject: api.to_string(), message, change: None };
    let used: Vec<String> = crate::impact::consumers(cur, api, files).into_iter().flat_map(|c| c.refs).collect();
    let changes = api_changes(docs, op, np, &used)?;
    let breaks_at = |c: &Change| c.level == Severity::Err || (strict && c.level == Severity::Warn);
    let breaks: Vec<String> = changes.iter().filter(|c| breaks_at(c)).map(|c| format!("{} at {}", c.id, c.place())).collect();
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
    let short = got.is_none_or(|g| g < need);
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
                format!("breaking ({} change(s), listed below)", breaks.len())
            } else if !adds.is_empty() {
                format!("additive: {}", adds.join("; "))
            } else {
                "changed".into()
            };
            out.push(f(Level::Info, format!("{ov} → {nv}, {what}")));
        }
    }
    // Each ERR and WARN change, with the consumers in this release it hits.
    for (c, i) in changes.iter().filter(|c| c.level != Severity::Info).zip(impacted(&changes, cur, api, files)) {
        let level = if breaks_at(c) && short {
            Level::Error
        } else if c.level == Severity::Warn {
            Level::Warning
        } else {
            Level::Info
        };
        let strict_note = if c.level == Severity::Warn && !strict { " (an error with --strict)" } else { "" };
        out.push(Finding {
            level,
            kind: "api",
            subject: api.to_string(),
            message: format!("{}; {}{strict_note}", i.text, i.impact),
            change: Some(i),
        });
    }
    Ok(())
}

/// Prompts whose content changed: were their versions bumped enough for their variables?
fn prompt_findings(prev: &crate::diff::Loaded, cur: &Release, files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let prompts = |r: &Release| -> BTreeMap<String, crate::release::PromptRecord> {
        r.components.iter().flat_map(|c| c.prompts.iter().map(|p| (p.key(), p.clone()))).collect()
    };
    let (opr, npr) = (prompts(&prev.record), prompts(cur));
    for (id, np) in &npr {
        let Some(op) = opr.get(id) else { continue };
        if op.sha256 == np.sha256 && op.version == np.version {
            continue;
        }
        let f = |level, message: String| Finding { level, kind: "prompt", subject: id.clone(), message, change: None };
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
        out.push(Finding {
            level: Level::Warning,
            kind: "prompt",
            subject: id.clone(),
            message: "disappeared from the release".into(),
            change: None,
        });
    }
    Ok(out)
}

/// Models: reported, never errors.
fn model_findings(prev: &crate::diff::Loaded, cur: &Release) -> Vec<Finding> {
    let mut out = Vec::new();
    let models = |r: &Release| -> BTreeMap<String, String> {
        r.components.iter().flat_map(|c| c.models.iter().map(|m| (m.path.clone(), m.md5.clone()))).collect()
    };
    let (om, nm) = (models(&prev.record), models(cur));
    for (path, md5) in &nm {
        match om.get(path) {
            Some(o) if o != md5 => out.push(Finding {
                level: Level::Info,
                kind: "model",
                subject: path.clone(),
                message: format!("md5 {o} → {md5}"),
                change: None,
            }),
            None => {
                out.push(Finding { level: Level::Info, kind: "model", subject: path.clone(), message: "new model".into(), change: None })
            }
            _ => {}
        }
    }
    out
}

/// `1 breaking change`, `3 additions`.
fn plural_of(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}
