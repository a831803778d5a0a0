//! `bundle diff A B`: what changed between two releases, for auditors. Only the release records
//! and the prompt and contract layers are read; component images are never fetched.
//! JSON output: spec/diff.schema.json.

use crate::extract::{self, Limits};
use crate::release::{ComponentRecord, ModelRecord, Release};
use crate::spec::*;
use crate::store::{Opened, StoreRef};
use anyhow::{Result, bail};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Serialize)]
pub struct Side {
    pub reference: String,
    pub digest: String,
    pub name: String,
    pub version: String,
    pub created: String,
    pub commit: Option<String>,
    pub tag: Option<String>,
    /// With --key: the keys with a valid signature (empty: unsigned by those keys); else null.
    pub signers: Option<Vec<String>>,
    /// The `--allow-breaking` reason recorded in the release, if any.
    pub allow_breaking: Option<String>,
}

#[derive(Debug, Serialize, Default)]
pub struct Change<T: Serialize> {
    pub from: Option<T>,
    pub to: Option<T>,
}

#[derive(Debug, Serialize)]
pub struct ImageDiff {
    pub repository: Change<String>,
    pub tag: Change<String>,
    pub digest: Change<String>,
    pub platforms: Change<Vec<String>>,
}

#[derive(Debug, Serialize, Default)]
pub struct FileChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ModelDiff {
    pub name: String,
    pub path: String,
    /// added, removed or changed
    pub change: &'static str,
    pub hash: Change<String>,
    pub md5: Change<String>,
    pub sha256: Change<String>,
    pub size: Change<u64>,
    /// For directory models: the files inside, from the `.dir` listings.
    pub files: Option<FileChanges>,
}

#[derive(Debug, Serialize)]
pub struct TextDiff {
    pub id: String,
    pub path: Change<String>,
    pub change: &'static str,
    pub version: Change<String>,
    /// The content changed but the version did not.
    pub unbumped: bool,
    /// A unified diff of the file (null when a side's file is not available).
    pub diff: Option<String>,
    /// For contracts: whether a change is breaking (an oasdiff ERR rule fired); null when the
    /// contract could not be classified (a side's file is missing or does not parse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaking: Option<bool>,
    /// For contracts: the ERR and WARN changes, each with the consumers in B it hits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::discipline::Impacted>,
    /// Why the contract could not be classified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unclassified: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ComponentDiff {
    pub name: String,
    pub change: &'static str,
    pub image: Option<ImageDiff>,
    pub models: Vec<ModelDiff>,
    pub prompts: Vec<TextDiff>,
    pub contracts: Vec<TextDiff>,
    /// A/B splits of prompt variants that were added, removed or changed.
    pub splits: Vec<SplitDiff>,
}

/// One prompt's A/B split on each side: variant → percent (null: no split on that side).
#[derive(Debug, Serialize)]
pub struct SplitDiff {
    pub id: String,
    pub split: Change<BTreeMap<String, u32>>,
}

#[derive(Debug, Serialize)]
pub struct Counts {
    pub components: usize,
    pub images: usize,
    pub models: usize,
    pub prompts: usize,
    pub contracts: usize,
    pub unbumped: usize,
}

#[derive(Debug, Serialize)]
pub struct Diff {
    pub a: Side,
    pub b: Side,
    pub identical: bool,
    pub summary: String,
    pub counts: Counts,
    /// `git log --oneline A..B` when --repo is given and both commits are in it.
    pub commits: Option<Vec<String>>,
    pub components: Vec<ComponentDiff>,
    /// With --key: whether the set of signers differs.
    pub signers_changed: Option<bool>,
}

/// One side, read once: its record and the prompt/contract files.
pub struct Loaded {
    pub side: Side,
    pub record: Release,
    pub files: BTreeMap<String, Vec<u8>>,
}

pub fn load(st: &Opened, r: &StoreRef, policy: Option<&crate::trust::Policy>) -> Result<Loaded> {
    let s = st.store();
    let desc = crate::store::resolve(s, r)?;
    // Signatures first (against the digest alone): a side that fails them is not read further.
    let signers = match policy {
        None => None,
        Some(p) => {
            let sigs = crate::trust::verifier::check(s, &desc.digest, p)?;
            if sigs.signers.is_empty() && sigs.stored > 0 {
                bail!(
                    "{r}: signature check failed: none of the {} stored signature(s) verifies with the given keys ({})",
                    sigs.stored,
                    sigs.failures.join("; ")
                );
            }
            Some(sigs.signers.iter().map(|s| s.label()).collect())
        }
    };
    let (m, record) = crate::artifact::read(s, &desc)?;
    let mut files = BTreeMap::new();
    let named = crate::artifact::named_paths(&record);
    for l in &m.layers {
        let title = l.annotation(ANN_TITLE).unwrap_or("");
        if title == TITLE_PROMPTS || title == TITLE_CONTRACTS {
            let b = s.blob(l)?;
            for (path, bytes) in extract::entries(&b, &format!("{} layer {title}", s.describe()), &Limits::default())? {
                crate::artifact::check_named(&named, &s.describe(), title, &path)?;
                files.insert(path, bytes);
            }
        }
    }
    let side = Side {
        reference: r.to_string(),
        digest: desc.digest,
        name: record.name.clone(),
        version: record.version.clone(),
        created: record.created.clone(),
        commit: record.source.commit.clone(),
        tag: record.source.tag.clone(),
        signers,
        allow_breaking: record.allow_breaking.clone(),
    };
    Ok(Loaded { side, record, files })
}

fn change<T: Serialize + PartialEq + Clone>(a: Option<&T>, b: Option<&T>) -> Change<T> {
    Change { from: a.cloned(), to: b.cloned() }
}

fn unified(a: Option<&Vec<u8>>, b: Option<&Vec<u8>>, pa: &str, pb: &str) -> Option<String> {
    let ta = String::from_utf8_lossy(a?).to_string();
    let tb = String::from_utf8_lossy(b?).to_string();
    let d = similar::TextDiff::from_lines(&ta, &tb);
    Some(d.unified_diff().context_radius(3).header(&format!("a/{pa}"), &format!("b/{pb}")).to_string())
}

fn model_diff(a: Option<&ModelRecord>, b: Option<&ModelRecord>) -> Option<ModelDiff> {
    let (name, path) = match (a, b) {
        (_, Some(m)) | (Some(m), None) => (m.name.clone(), m.path.clone()),
        (None, None) => return None,
    };
    let changed = match (a, b) {
        (Some(x), Some(y)) => x.hash != y.hash || x.md5 != y.md5 || x.size != y.size || x.sha256 != y.sha256,
        _ => true,
    };
    if !changed {
        return None;
    }
    let files = match (a.and_then(|m| m.files.as_ref()), b.and_then(|m| m.files.as_ref())) {
        (Some(fa), Some(fb)) => {
            let ma: BTreeMap<&str, &str> = fa.iter().map(|f| (f.relpath.as_str(), f.md5.as_str())).collect();
            let mb: BTreeMap<&str, &str> = fb.iter().map(|f| (f.relpath.as_str(), f.md5.as_str())).collect();
            let mut c = FileChanges::default();
            for (p, h) in &mb {
                match ma.get(p) {
                    None => c.added.push(p.to_string()),
                    Some(o) if o != h => c.changed.push(p.to_string()),
                    _ => {}
                }
            }
            c.removed = ma.keys().filter(|p| !mb.contains_key(*p)).map(|p| p.to_string()).collect();
            Some(c)
        }
        _ => None,
    };
    Some(ModelDiff {
        name,
        path,
        change: match (a, b) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        },
        hash: change(a.map(|m| &m.hash), b.map(|m| &m.hash)),
        md5: change(a.map(|m| &m.md5), b.map(|m| &m.md5)),
        sha256: change(a.and_then(|m| m.sha256.as_ref()), b.and_then(|m| m.sha256.as_ref())),
        size: change(a.map(|m| &m.size), b.map(|m| &m.size)),
        files,
    })
}

/// Keyed text items (prompts by id, contracts by API) of one component on each side.
struct Item<'a> {
    version: &'a str,
    path: &'a str,
    sha256: &'a str,
}

fn text_diffs(
    a: &BTreeMap<String, Item>,
    b: &BTreeMap<String, Item>,
    fa: &BTreeMap<String, Vec<u8>>,
    fb: &BTreeMap<String, Vec<u8>>,
) -> Vec<TextDiff> {
    let keys: BTreeSet<&str> = a.keys().chain(b.keys()).map(|k| k.as_str()).collect();
    let empty = Vec::new();
    let mut out = Vec::new();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if let (Some(x), Some(y)) = (x, y)
            && x.sha256 == y.sha256
            && x.version == y.version
        {
            continue;
        }
        let unbumped = matches!((x, y), (Some(x), Some(y)) if x.sha256 != y.sha256 && x.version == y.version);
        out.push(TextDiff {
            id: k.to_string(),
            path: change(x.map(|i| i.path.to_string()).as_ref(), y.map(|i| i.path.to_string()).as_ref()),
            change: match (x, y) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "changed",
            },
            version: change(x.map(|i| i.version.to_string()).as_ref(), y.map(|i| i.version.to_string()).as_ref()),
            unbumped,
            // An added or removed file diffs against nothing; a side whose file is missing gives null.
            diff: unified(
                if x.is_some() { x.and_then(|i| fa.get(i.path)) } else { Some(&empty) },
                if y.is_some() { y.and_then(|i| fb.get(i.path)) } else { Some(&empty) },
                x.or(y).map(|i| i.path).unwrap_or(k),
                y.or(x).map(|i| i.path).unwrap_or(k),
            ),
            // Contracts are classified afterwards (`classify`), with both releases at hand.
            breaking: None,
            changes: Vec::new(),
            unclassified: None,
        });
    }
    out
}

fn prompt_items(c: Option<&ComponentRecord>) -> BTreeMap<String, Item<'_>> {
    c.map(|c| c.prompts.iter().map(|p| (p.key(), Item { version: &p.version, path: &p.path, sha256: &p.sha256 })).collect())
        .unwrap_or_default()
}

fn contract_items(c: Option<&ComponentRecord>) -> BTreeMap<String, Item<'_>> {
    c.map(|c| c.provides.iter().map(|p| (p.api.clone(), Item { version: &p.version, path: &p.contract, sha256: &p.sha256 })).collect())
        .unwrap_or_default()
}

fn component_diff(
    a: Option<&ComponentRecord>,
    b: Option<&ComponentRecord>,
    fa: &BTreeMap<String, Vec<u8>>,
    fb: &BTreeMap<String, Vec<u8>>,
) -> Option<ComponentDiff> {
    let name = a.or(b)?.name.clone();
    let image = {
        let (ia, ib) = (a.map(|c| &c.image), b.map(|c| &c.image));
        let same = matches!((ia, ib), (Some(x), Some(y)) if x.digest == y.digest && x.repository == y.repository && x.registry == y.registry && x.tag == y.tag);
        if same {
            None
        } else {
            let plat = |i: Option<&crate::release::ImageRecord>| {
                i.and_then(|i| i.platforms.as_ref()).map(|p| p.iter().map(|x| format!("{} {}", x.platform, x.digest)).collect::<Vec<_>>())
            };
            Some(ImageDiff {
                repository: change(
                    ia.map(|i| format!("{}/{}", i.registry, i.repository)).as_ref(),
                    ib.map(|i| format!("{}/{}", i.registry, i.repository)).as_ref(),
                ),
                tag: change(ia.and_then(|i| i.tag.as_ref()), ib.and_then(|i| i.tag.as_ref())),
                digest: change(ia.map(|i| &i.digest), ib.map(|i| &i.digest)),
                platforms: change(plat(ia).as_ref(), plat(ib).as_ref()),
            })
        }
    };
    let models_by = |c: Option<&ComponentRecord>| -> BTreeMap<String, ModelRecord> {
        c.map(|c| c.models.iter().map(|m| (m.path.clone(), m.clone())).collect()).unwrap_or_default()
    };
    let (ma, mb) = (models_by(a), models_by(b));
    let paths: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    let models: Vec<ModelDiff> = paths.into_iter().filter_map(|p| model_diff(ma.get(p), mb.get(p))).collect();
    let prompts = text_diffs(&prompt_items(a), &prompt_items(b), fa, fb);
    let contracts = text_diffs(&contract_items(a), &contract_items(b), fa, fb);
    let splits = split_diffs(a, b);
    let change = match (a, b) {
        (None, _) => "added",
        (_, None) => "removed",
        _ if image.is_none() && models.is_empty() && prompts.is_empty() && contracts.is_empty() && splits.is_empty() => return None,
        _ => "changed",
    };
    Some(ComponentDiff { name, change, image, models, prompts, contracts, splits })
}

fn split_diffs(a: Option<&ComponentRecord>, b: Option<&ComponentRecord>) -> Vec<SplitDiff> {
    let empty = BTreeMap::new();
    let (sa, sb) = (a.map(|c| &c.splits).unwrap_or(&empty), b.map(|c| &c.splits).unwrap_or(&empty));
    let ids: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
    ids.into_iter()
        .filter(|id| sa.get(*id) != sb.get(*id))
        .map(|id| SplitDiff { id: id.clone(), split: change(sa.get(id), sb.get(id)) })
        .collect()
}

/// `default 70, concise 30`.
fn split_text(s: &Option<BTreeMap<String, u32>>) -> String {
    match s {
        None => "none".into(),
        Some(m) => m.iter().map(|(v, w)| format!("{v} {w}%")).collect::<Vec<_>>().join(", "),
    }
}

/// oasdiff's classification of each changed contract, with the consumers in B each break hits.
fn classify(components: &mut [ComponentDiff], a: &Loaded, b: &Loaded) {
    let provides = |r: &Release| -> BTreeMap<String, crate::release::ProvideRecord> {
        r.components.iter().flat_map(|c| c.provides.iter().map(|p| (p.api.clone(), p.clone()))).collect()
    };
    let (pa, pb) = (provides(&a.record), provides(&b.record));
    let docs = crate::discipline::docs_of(&a.files, &b.files);
    for t in components.iter_mut().flat_map(|c| c.contracts.iter_mut()).filter(|t| t.change == "changed") {
        let (Some(old), Some(new)) = (pa.get(&t.id), pb.get(&t.id)) else { continue };
        let used: Vec<String> = crate::impact::consumers(&b.record, &t.id, &b.files).into_iter().flat_map(|c| c.refs).collect();
        match crate::discipline::api_changes(&docs, old, new, &used) {
            Ok(changes) => {
                t.breaking = Some(changes.iter().any(|c| c.level == crate::oasdiff::Severity::Err));
                t.changes = crate::discipline::impacted(&changes, &b.record, &t.id, &b.files);
            }
            Err(e) => t.unclassified = Some(format!("{e:#}")),
        }
    }
}

fn commits_between(repo: &std::path::Path, a: Option<&str>, b: Option<&str>) -> Option<Vec<String>> {
    let (a, b) = (a?, b?);
    let out = std::process::Command::new("git").arg("-C").arg(repo).args(["log", "--oneline", &format!("{a}..{b}")]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect())
}

pub fn diff(a: Loaded, b: Loaded, repo: Option<&std::path::Path>) -> Diff {
    let ca: BTreeMap<&str, &ComponentRecord> = a.record.components.iter().map(|c| (c.name.as_str(), c)).collect();
    let cb: BTreeMap<&str, &ComponentRecord> = b.record.components.iter().map(|c| (c.name.as_str(), c)).collect();
    let names: BTreeSet<&str> = ca.keys().chain(cb.keys()).copied().collect();
    let mut components: Vec<ComponentDiff> =
        names.into_iter().filter_map(|n| component_diff(ca.get(n).copied(), cb.get(n).copied(), &a.files, &b.files)).collect();
    classify(&mut components, &a, &b);
    let counts = Counts {
        components: components.len(),
        images: components.iter().filter(|c| c.image.is_some()).count(),
        models: components.iter().map(|c| c.models.len()).sum(),
        prompts: components.iter().map(|c| c.prompts.len()).sum(),
        contracts: components.iter().map(|c| c.contracts.len()).sum(),
        unbumped: components.iter().flat_map(|c| c.prompts.iter().chain(&c.contracts)).filter(|t| t.unbumped).count(),
    };
    let signers_changed = match (&a.side.signers, &b.side.signers) {
        (Some(x), Some(y)) => Some(x.iter().collect::<BTreeSet<_>>() != y.iter().collect::<BTreeSet<_>>()),
        _ => None,
    };
    let same_release = a.side.name == b.side.name && a.side.version == b.side.version;
    let identical = a.side.digest == b.side.digest || (components.is_empty() && same_release && signers_changed != Some(true));
    let commits = repo.and_then(|r| commits_between(r, a.side.commit.as_deref(), b.side.commit.as_deref()));
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let summary = if identical {
        format!("no differences: {} {} and {} {} have the same content", a.side.name, a.side.version, b.side.name, b.side.version)
    } else {
        let parts: Vec<String> =
            [(counts.images, "image"), (counts.models, "model"), (counts.prompts, "prompt"), (counts.contracts, "contract")]
                .into_iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, what)| plural(n, what))
                .collect();
        let mut s = format!("{} changed", plural(counts.components, "component"));
        if !parts.is_empty() {
            s.push_str(&format!(": {}", crate::yaml::list(&parts, parts.len())));
        }
        if counts.unbumped > 0 {
            s.push_str(&format!(", {} changed without a version bump", counts.unbumped));
        }
        let splits: usize = components.iter().map(|c| c.splits.len()).sum();
        if splits > 0 {
            s.push_str(&format!(", {} changed", plural(splits, "prompt split")));
        }
        if signers_changed == Some(true) {
            s.push_str(", signers changed");
        }
        s
    };
    Diff { a: a.side, b: b.side, identical, summary, counts, commits, components, signers_changed }
}

/// Who signed a side, in words: not checked (no --key), unsigned, or the keys.
fn signers_text(v: &Option<Vec<String>>) -> String {
    match v {
        None => "not checked".into(),
        Some(v) if v.is_empty() => "unsigned".into(),
        Some(v) => v.join(", "),
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

fn arrow<T: std::fmt::Display + Serialize>(c: &Change<T>) -> String {
    format!("{} → {}", opt(&c.from), opt(&c.to))
}

/// Text (optionally coloured) or markdown.
pub fn render(d: &Diff, markdown: bool, color: bool) -> String {
    use std::fmt::Write;
    let st = Style::new(markdown, color);
    let mut s = String::new();
    if markdown {
        let _ = writeln!(s, "# Release diff: {} {} → {} {}\n\n**{}**\n", d.a.name, d.a.version, d.b.name, d.b.version, d.summary);
    } else {
        let _ = writeln!(s, "{}{}{}", st.bold, d.summary, st.reset);
    }
    if d.identical {
        return s;
    }
    render_sides(&mut s, d, &st);
    for c in &d.components {
        render_component(&mut s, c, &st);
    }
    s
}

/// Colours (terminal only) and the list bullet of one rendering.
#[derive(Clone, Copy)]
struct Style {
    markdown: bool,
    red: &'static str,
    green: &'static str,
    yellow: &'static str,
    bold: &'static str,
    reset: &'static str,
    bullet: &'static str,
}

impl Style {
    fn new(markdown: bool, color: bool) -> Style {
        let (red, green, yellow, bold, reset) =
            if color && !markdown { ("\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[1m", "\x1b[0m") } else { ("", "", "", "", "") };
        Style { markdown, red, green, yellow, bold, reset, bullet: if markdown { "- " } else { "  " } }
    }
}

/// The two releases, the commits between them and a change of signers.
fn render_sides(s: &mut String, d: &Diff, st: &Style) {
    use std::fmt::Write;
    let Style { markdown, yellow, reset, .. } = *st;
    let side = |x: &Side| {
        format!(
            "{} {} {} (created {}, commit {}{}){}{}",
            x.reference,
            x.version,
            x.digest,
            x.created,
            x.commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("-"),
            x.tag.as_deref().map(|t| format!(", tag {t}")).unwrap_or_default(),
            match &x.signers {
                None => String::new(),
                Some(v) if v.is_empty() => ", UNSIGNED".to_string(),
                Some(v) => format!(", signed by {}", v.join(", ")),
            },
            x.allow_breaking.as_ref().map(|r| format!(", built with --allow-breaking {r:?}")).unwrap_or_default()
        )
    };
    if markdown {
        let _ = writeln!(s, "| side | release |\n|---|---|\n| A | {} |\n| B | {} |\n", side(&d.a), side(&d.b));
    } else {
        let _ = writeln!(s, "  A  {}\n  B  {}", side(&d.a), side(&d.b));
    }
    if let Some(c) = &d.commits {
        if markdown {
            let _ = writeln!(s, "## Commits\n");
            for l in c {
                let _ = writeln!(s, "- `{l}`");
            }
            s.push('\n');
        } else {
            let _ = writeln!(s, "commits ({}):", c.len());
            for l in c {
                let _ = writeln!(s, "  {l}");
            }
        }
    }
    if d.signers_changed == Some(true) {
        let _ = writeln!(
            s,
            "{}signers changed: {} → {}{}",
            if markdown { "**" } else { yellow },
            signers_text(&d.a.signers),
            signers_text(&d.b.signers),
            if markdown { "**" } else { reset }
        );
        if markdown {
            s.push('\n');
        }
    }
}

/// One component's changes: image, models, splits, prompts and contracts.
fn render_component(s: &mut String, c: &ComponentDiff, st: &Style) {
    use std::fmt::Write;
    let Style { markdown, red, green, yellow, reset, bullet, .. } = *st;
    if markdown {
        let _ = writeln!(s, "## Component `{}` ({})\n", c.name, c.change);
    } else {
        let col = match c.change {
            "added" => green,
            "removed" => red,
            _ => yellow,
        };
        let _ = writeln!(s, "{col}component {} ({}){reset}", c.name, c.change);
    }
    if let Some(i) = &c.image {
        let _ = writeln!(s, "{bullet}image {}: digest {}", opt(&i.repository.to.clone().or(i.repository.from.clone())), arrow(&i.digest));
        if i.tag.from != i.tag.to {
            let _ = writeln!(s, "{bullet}  tag {}", arrow(&i.tag));
        }
        if i.platforms.from != i.platforms.to {
            let _ = writeln!(
                s,
                "{bullet}  platforms {} → {}",
                opt(&i.platforms.from.as_ref().map(|p| p.join("; "))),
                opt(&i.platforms.to.as_ref().map(|p| p.join("; ")))
            );
        }
    }
    for m in &c.models {
        let _ = writeln!(s, "{bullet}model {} ({}) {}: md5 {}, size {}", m.name, m.path, m.change, arrow(&m.md5), arrow(&m.size));
        if m.sha256.from.is_some() || m.sha256.to.is_some() {
            let _ = writeln!(s, "{bullet}  sha256 {}", arrow(&m.sha256));
        }
        if let Some(f) = &m.files {
            for (k, v) in [("added", &f.added), ("removed", &f.removed), ("changed", &f.changed)] {
                for p in v {
                    let _ = writeln!(s, "{bullet}  {k} file {p}");
                }
            }
        }
    }
    for sp in &c.splits {
        let _ = writeln!(s, "{bullet}split {}: {} → {}", sp.id, split_text(&sp.split.from), split_text(&sp.split.to));
    }
    for (kind, items) in [("prompt", &c.prompts), ("contract", &c.contracts)] {
        for t in items {
            render_text(s, kind, t, st);
        }
    }
    if markdown {
        s.push('\n');
    }
}

/// A prompt or contract: its version change, oasdiff's findings and the text diff.
fn render_text(s: &mut String, kind: &str, t: &TextDiff, st: &Style) {
    use std::fmt::Write;
    let Style { markdown, red, green, reset, bullet, .. } = *st;
    let flag = if t.unbumped { " — CONTENT CHANGED WITHOUT A VERSION BUMP" } else { "" };
    let flag = if markdown && t.unbumped { format!(" **{}**", flag.trim_start_matches(" — ")) } else { format!("{red}{flag}{reset}") };
    let _ = writeln!(s, "{bullet}{kind} {} {}: version {}{flag}", t.id, t.change, arrow(&t.version));
    if let Some(why) = &t.unclassified {
        let _ = writeln!(s, "{bullet}  not classified: {why}");
    }
    if t.breaking == Some(false) && t.changes.is_empty() {
        let _ = writeln!(s, "{bullet}  no breaking change (oasdiff's rules)");
    }
    for c in &t.changes {
        let col = if c.oasdiff_level == crate::oasdiff::Severity::Err { red } else { "" };
        let _ = writeln!(s, "{bullet}  {col}{}{reset}: {}", c.text, c.impact);
    }
    if let Some(df) = &t.diff {
        if markdown {
            let _ = writeln!(s, "\n```diff\n{}```\n", df);
        } else {
            for l in df.lines() {
                let col = if l.starts_with('+') && !l.starts_with("+++") {
                    green
                } else if l.starts_with('-') && !l.starts_with("---") {
                    red
                } else {
                    ""
                };
                let _ = writeln!(s, "      {col}{l}{reset}");
            }
        }
    }
}
