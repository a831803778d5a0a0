//! `bundle init`: discover components in a monorepo and write a starting bundle.yaml.

use crate::bundlefile::{self, valid_name};
use crate::contracts;
use crate::dvc;
use crate::paths;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

const MARKERS: [&str; 2] = ["Dockerfile", "Containerfile"];

/// Make a valid name from a folder name (`My_Service` → `my-service`).
pub fn slug(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-').to_string();
    let out = if out.starts_with(|c: char| c.is_ascii_lowercase()) { out } else { format!("c-{out}") };
    out.chars().take(63).collect::<String>().trim_end_matches('-').to_string()
}

struct Found {
    name: String,
    path: String,
    models: Vec<String>,
    /// DVC outputs that only feed a training stage: not released, listed in a comment.
    training: Vec<String>,
    prompts: Vec<String>,
    /// (api, contract path relative to the component, version if found)
    provides: Vec<(String, String, Option<String>)>,
    /// repository-relative paths referenced by the component's contracts
    refs: Vec<String>,
}

fn skip_dir(name: &str) -> bool {
    name.starts_with('.') || name == "node_modules" || name == "target"
}

/// Walk the monorepo; a folder with a marker file is a component (and is not searched for more).
fn components(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut it = walkdir::WalkDir::new(root).sort_by_file_name().into_iter();
    while let Some(e) = it.next() {
        let e = e.with_context(|| format!("{}: cannot walk", root.display()))?;
        if !e.file_type().is_dir() {
            continue;
        }
        if e.depth() > 0 && skip_dir(&e.file_name().to_string_lossy()) {
            it.skip_current_dir();
            continue;
        }
        if MARKERS.iter().any(|m| e.path().join(m).is_file()) {
            let rel = e.path().strip_prefix(root).expect("below root").to_string_lossy().replace('\\', "/");
            out.push(if rel.is_empty() { ".".to_string() } else { rel });
            if e.depth() > 0 {
                it.skip_current_dir();
            }
        }
    }
    Ok(out)
}

fn files_below(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let mut it = walkdir::WalkDir::new(dir).sort_by_file_name().into_iter();
    while let Some(Ok(e)) = it.next() {
        if e.file_type().is_dir() && e.depth() > 0 && skip_dir(&e.file_name().to_string_lossy()) {
            it.skip_current_dir();
            continue;
        }
        if e.file_type().is_file()
            && let Ok(r) = e.path().strip_prefix(dir)
        {
            v.push(r.to_string_lossy().replace('\\', "/"));
        }
    }
    v
}

pub fn generate(root: &Path) -> Result<String> {
    let root_name = root.canonicalize().ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string())).unwrap_or_default();
    let release = slug(if root_name.is_empty() { "release" } else { &root_name });
    let mut found = Vec::new();
    for cpath in components(root)? {
        found.push(component(root, &release, cpath)?);
    }
    unique_api_names(&mut found);
    if found.is_empty() {
        anyhow::bail!("{}: no component found (a folder with a Dockerfile or Containerfile)", root.display());
    }
    Ok(declaration(&release, &found))
}

/// What one component folder holds: models, prompts and the contracts it provides.
fn component(root: &Path, release: &str, cpath: String) -> Result<Found> {
    let cdir = root.join(&cpath);
    let files = files_below(&cdir);
    let base = if cpath == "." { String::new() } else { cpath.clone() };
    let name = slug(if cpath == "." { release } else { cpath.rsplit('/').next().unwrap_or(&cpath) });
    let (models, training) = models_of(&cdir, &files)?;
    // Every prompt format (spec/prompt-formats.md): ours, Semantic Kernel, LangChain and Langfuse
    // in YAML/JSON, Prompty and Dotprompt by extension.
    let prompts: Vec<String> = ["yaml", "yml", "json", "prompty", "prompt"]
        .iter()
        .filter(|ext| files.iter().any(|f| f.starts_with("prompts/") && f.ends_with(&format!(".{ext}"))))
        .map(|ext| format!("prompts/**/*.{ext}"))
        .collect();
    let mut provides = Vec::new();
    let mut refs = Vec::new();
    for f in files
        .iter()
        .filter(|f| matches!(f.as_str(), "api/openapi.yaml" | "api/openapi.yml" | "api/openapi.json") || f.ends_with(".schema.json"))
    {
        let rel = if base.is_empty() { f.clone() } else { format!("{base}/{f}") };
        let bytes = std::fs::read(root.join(&rel))?;
        let doc = contracts::parse_doc(&bytes, &rel)?;
        let (fmt, ver) = contracts::detect(&doc, &rel)?;
        let api = if fmt == contracts::Format::JsonSchema { schema_api_name(&doc, f) } else { format!("{name}-api") };
        let mut r = std::collections::BTreeSet::new();
        contracts::external_refs(&doc, &mut r);
        for t in r {
            if let Ok(p) = paths::join_inside(paths::parent(&rel), &t) {
                refs.push(p);
            }
        }
        provides.push((api, f.clone(), ver));
    }
    Ok(Found { name, path: cpath, models, training, prompts, provides, refs })
}

/// Models: dvc.lock stage outputs (type: model artifacts first), then .dvc files; and the .dvc
/// files that are training inputs (not released).
fn models_of(cdir: &Path, files: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    let mut models: Vec<(bool, String)> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(cdir.join("dvc.lock")) {
        let lock = dvc::parse_lock_file(&text, &cdir.join("dvc.lock"))?;
        let pipeline = std::fs::read_to_string(cdir.join("dvc.yaml"))
            .ok()
            .map(|t| dvc::parse_pipeline_file(&t, &cdir.join("dvc.yaml")))
            .transpose()?
            .unwrap_or_default();
        for (stage, ls) in &lock.stages {
            let uncached = pipeline.stages.get(stage).map(|s| s.uncached()).unwrap_or_default();
            for o in &ls.outs {
                if uncached.contains(&o.path) {
                    continue;
                }
                let is_model = pipeline.artifacts.values().any(|a| a.path == o.path && a.kind.as_deref() == Some("model"));
                let note = if is_model { "" } else { "  # not marked `type: model` in dvc.yaml artifacts" };
                models.push((is_model, format!("- stage: {stage}\n        out: {}{note}", yaml_str(&o.path))));
            }
        }
    }
    let pipeline = read_pipeline(cdir)?;
    let mut training = Vec::new();
    for f in files.iter().filter(|f| f.ends_with(".dvc")) {
        let out = f.trim_end_matches(".dvc");
        match classify(out, &pipeline) {
            Kind::Model => models.push((true, format!("- dvc: {}", yaml_str(f)))),
            Kind::RuntimeData => {
                models.push((true, format!("- dvc: {}  # data, not weights: keep it if the service loads it", yaml_str(f))))
            }
            Kind::TrainingInput(stage) => training.push(format!("{f} (an input of stage `{stage}`)")),
        }
    }
    models.sort_by_key(|(m, _)| !*m);
    Ok((models.into_iter().map(|(_, m)| m).collect(), training))
}

/// The bundle.yaml text for the components found.
fn declaration(release: &str, found: &[Found]) -> String {
    // contract path → (api, version), for consumes.
    let mut by_contract: BTreeMap<String, (String, Option<String>, String)> = BTreeMap::new();
    for c in found {
        for (api, f, v) in &c.provides {
            let rel = if c.path == "." { f.clone() } else { format!("{}/{f}", c.path) };
            by_contract.insert(rel, (api.clone(), v.clone(), c.name.clone()));
        }
    }

    let mut y = String::new();
    let _ = writeln!(y, "# Release declaration for relbundle. Schema: spec/bundle.schema.json");
    let _ = writeln!(y, "# Written by `bundle init`; pin each image by digest (REPOSITORY@sha256:…) before `bundle build`.");
    let _ = writeln!(y, "apiVersion: {}", bundlefile::API_VERSION);
    let _ = writeln!(y, "name: {release}");
    let _ = writeln!(y, "components:");
    for c in found {
        debug_assert!(valid_name(&c.name));
        let _ = writeln!(y, "  {}:", c.name);
        let _ = writeln!(y, "    path: {}", yaml_str(&c.path));
        let _ =
            writeln!(y, "    image: registry.example.com/{release}/{}  # add @sha256:… (or pass --image {}=REF@sha256:…)", c.name, c.name);
        if !c.models.is_empty() {
            let _ = writeln!(y, "    models:");
            for m in &c.models {
                let _ = writeln!(y, "      {m}");
            }
        }
        if !c.training.is_empty() {
            let _ = writeln!(y, "    # Not released (training data; add under models: if the service needs it):");
            for t in &c.training {
                let _ = writeln!(y, "    #   {t}");
            }
        }
        if !c.prompts.is_empty() {
            let _ = writeln!(y, "    prompts:");
            for p in &c.prompts {
                let _ = writeln!(y, "      - {}", yaml_str(p));
            }
        }
        if !c.provides.is_empty() {
            let _ = writeln!(y, "    provides:");
            for (api, f, v) in &c.provides {
                let _ = writeln!(y, "      {api}:");
                let _ = writeln!(y, "        contract: {}", yaml_str(f));
                if v.as_deref().and_then(|v| semver::Version::parse(v).ok()).is_none() {
                    let _ = writeln!(y, "        version: 0.1.0  # the contract states no version; set the API's version here");
                }
            }
        }
        let mut consumes = BTreeMap::new();
        for r in &c.refs {
            if let Some((api, v, owner)) = by_contract.get(r)
                && *owner != c.name
            {
                let req = v.as_deref().and_then(|v| semver::Version::parse(v).ok()).map(|v| format!("^{}.{}", v.major, v.minor));
                consumes.insert(api.clone(), req.unwrap_or_else(|| "^0.1".into()));
            }
        }
        if !consumes.is_empty() {
            let _ = writeln!(y, "    consumes:");
            for (api, req) in consumes {
                let _ = writeln!(y, "      {api}: \"{req}\"");
            }
        }
    }
    y
}

/// The API name of a JSON Schema contract, before [`unique_api_names`]: the last segment of its
/// `$id` that is not a version (`v2`, `1.0`), else its `title`, else its file name; without
/// `.schema.json` / `.json`, made a valid name by [`slug`].
fn schema_api_name(doc: &serde_json::Value, file: &str) -> String {
    let is_version = |s: &str| s.trim_start_matches(['v', 'V']).chars().all(|c| c.is_ascii_digit() || c == '.');
    let from_id = doc.get("$id").and_then(|v| v.as_str()).and_then(|id| {
        let id = id.split(['#', '?']).next().unwrap_or(id);
        id.rsplit(['/', ':']).find(|s| !s.is_empty() && !is_version(s)).map(String::from)
    });
    let title = doc.get("title").and_then(|v| v.as_str()).filter(|t| !t.trim().is_empty()).map(String::from);
    let raw = from_id.or(title).unwrap_or_else(|| file.rsplit('/').next().unwrap_or(file).to_string());
    slug(raw.trim_end_matches(".json").trim_end_matches(".schema"))
}

/// Make every API name unique across the monorepo: a name that more than one contract would get
/// becomes `<component>-<name>` for each of them; a name still shared (two such contracts in one
/// component) gets `-2`, `-3`, … in the order the contracts were found (component path, file path).
fn unique_api_names(found: &mut [Found]) {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for p in found.iter().flat_map(|c| &c.provides) {
        *count.entry(p.0.clone()).or_default() += 1;
    }
    for c in found.iter_mut() {
        for p in c.provides.iter_mut().filter(|p| count[&p.0] > 1) {
            p.0 = slug(&format!("{}-{}", c.name, p.0));
        }
    }
    let mut taken: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let all: Vec<String> = found.iter().flat_map(|c| c.provides.iter().map(|p| p.0.clone())).collect();
    for (p, name) in found.iter_mut().flat_map(|c| c.provides.iter_mut()).zip(all.iter()) {
        let mut k = 1;
        while taken.contains(&p.0) || (k > 1 && all.contains(&p.0)) {
            k += 1;
            let stem: String = name.chars().take(60).collect();
            p.0 = format!("{}-{k}", stem.trim_end_matches('-'));
        }
        taken.insert(p.0.clone());
    }
}

/// What a DVC-tracked output is, for `init`.
enum Kind {
    Model,
    /// Data that is not a stage's input (a stop-word list, a vocabulary): released, said.
    RuntimeData,
    /// An input of a dvc.yaml stage that is not itself a declared model: training data.
    TrainingInput(String),
}

/// Classify a `.dvc` output by what dvc.yaml says, then by its path: a `type: model` artifact is
/// a model; an input (`deps`) of a stage is training data; an output under `data/` or
/// `datasets/`, or with a data extension, is runtime data; anything else is a model.
fn classify(out: &str, pipeline: &dvc::PipelineFile) -> Kind {
    let declared =
        |kinds: &[&str]| pipeline.artifacts.values().any(|a| a.path == out && a.kind.as_deref().is_some_and(|k| kinds.contains(&k)));
    if declared(&["model"]) {
        return Kind::Model;
    }
    let dep_of =
        pipeline.stages.iter().find(|(_, st)| st.deps.iter().any(|d| d.as_str().is_some_and(|p| p.trim_start_matches("./") == out)));
    if let Some((stage, _)) = dep_of {
        return Kind::TrainingInput(stage.clone());
    }
    let data_dir = out.split('/').any(|p| matches!(p, "data" | "datasets" | "dataset"));
    let data_ext = [".jsonl", ".csv", ".tsv", ".parquet", ".txt", ".json", ".arrow"].iter().any(|e| out.ends_with(e));
    if declared(&["data", "dataset"]) || data_dir || data_ext { Kind::RuntimeData } else { Kind::Model }
}

/// The component's dvc.yaml, or an empty one.
fn read_pipeline(cdir: &Path) -> Result<dvc::PipelineFile> {
    let p = cdir.join("dvc.yaml");
    match std::fs::read_to_string(&p) {
        Ok(t) => dvc::parse_pipeline_file(&t, &p),
        Err(_) => Ok(Default::default()),
    }
}

fn yaml_str(s: &str) -> String {
    let plain =
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-*".contains(c)) && !s.starts_with('*') && !s.starts_with('-');
    if plain { s.to_string() } else { serde_json::to_string(s).expect("a string serialises") }
}
