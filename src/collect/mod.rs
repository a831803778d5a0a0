//! Collect every fact of a release from the monorepo: one pass that reads each file once,
//! checks it, and returns the release record plus the bytes of every file to pack.
//!
//! One collector per fact, each in its own file: [`images`] (pins and digests), [`models`] (DVC
//! pins, workspace and remote presence), [`prompts`] and [`contracts`] (including how consumers
//! link to providers and whether their schemas fit). [`collect`] runs them per component, then
//! the checks that span components, and reports every problem at once.

mod contracts;
mod images;
mod models;
mod prompts;

use crate::bundlefile::{self, BundleFile};
use crate::dvc;
use crate::error::finding;
use crate::files::{self, Files};
use crate::hashing::HashCache;
use crate::paths::Root;
use crate::release::*;
use anyhow::{Result, anyhow, bail};
use models::CloudCheck;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--image NAME=REF@sha256:…`
    pub images: Vec<String>,
    /// `--buildx-metadata [NAME=]FILE`
    pub buildx_metadata: Vec<String>,
    pub version: Option<String>,
    /// Go on without a release version (`check` in a merge request, before anyone tags): the
    /// record's version is then empty and [`Collected::version`] is `None`.
    pub version_optional: bool,
    pub allow_dirty: bool,
    /// Accept a folder outside git (`--no-git`): no source commit is recorded.
    pub no_git: bool,
    pub verify_models: bool,
    /// Fail when a model's presence cannot be checked (a non-local DVC remote).
    pub require_model_check: bool,
    /// Overrides the git remote URL recorded as the source repository.
    pub source_url: Option<String>,
    /// Hash cache location for `--verify-models` (`None`: in memory only).
    pub hash_cache: Option<PathBuf>,
    /// Show a progress bar (the caller decides: stderr is a TTY).
    pub progress: bool,
    /// Confirm pinned image digests exist (and record index platforms).
    pub check_images: bool,
    /// "Cannot prove compatible" is an error instead of a warning.
    pub strict: bool,
    /// How to reach registries; `None` means offline (no tag is resolved).
    pub registry: Option<crate::store::registry::Transport>,
}

/// Everything `build` needs to pack, and `check` needs to report.
pub struct Collected {
    pub release: Release,
    pub bundle_file: Arc<Vec<u8>>,
    /// Layer contents: (path in the layer, bytes), per layer, unsorted.
    pub prompts: Vec<(String, Arc<Vec<u8>>)>,
    pub contracts: Vec<(String, Arc<Vec<u8>>)>,
    pub dvc: Vec<(String, Arc<Vec<u8>>)>,
    /// Things worth telling the user that are not errors.
    pub notes: Vec<String>,
    /// The release version; `None` only with [`Options::version_optional`].
    pub version: Option<semver::Version>,
}

struct Ctx<'a> {
    root: Root,
    files: Files,
    opts: &'a Options,
    notes: Vec<String>,
    missing: Vec<String>,
    mismatched: Vec<String>,
    dvc_layer: BTreeMap<String, Arc<Vec<u8>>>,
    /// Single-file models whose workspace size was compared with the pin, of those looked at.
    size_checked: (usize, usize),
    /// dvc.yaml `artifacts:` by output path: (artifact name, artifact).
    artifacts: BTreeMap<String, (String, dvc::Artifact)>,
    cache: HashCache,
    bar: Option<indicatif::ProgressBar>,
    /// Objects to ask each cloud remote about, batched until every model is pinned.
    cloud: BTreeMap<String, CloudCheck>,
    rt: Option<tokio::runtime::Runtime>,
}

pub fn collect(dir: &std::path::Path, opts: &Options) -> Result<Collected> {
    let root = Root::new(dir)?;
    if !root.dir.join(bundlefile::FILE_NAME).is_file() {
        bail!("{}: no {} here; run `bundle init {}` to write one", dir.display(), bundlefile::FILE_NAME, dir.display());
    }
    // Source first: no repository, or a dirty tree, stops the build before any work.
    let git = crate::source::inspect(&root.dir);
    check_source(dir, &git, opts)?;
    let tracked = if git.toplevel.is_some() { crate::source::tracked_files(&root.dir) } else { None };
    let mut files = Files::tracked(tracked, opts.allow_dirty);
    let bf_bytes = files.read(&root, bundlefile::FILE_NAME, &root.dir.display().to_string())?;
    let bf_path = dir.join(bundlefile::FILE_NAME);
    let bf = BundleFile::parse(files::text(&bf_bytes, &bf_path.display().to_string())?, &bf_path)?;
    let bf_text = String::from_utf8_lossy(&bf_bytes).into_owned();

    let (version, tag) = match crate::source::release_version(opts.version.as_deref(), &bf.name.0, &git.tags)? {
        Some((v, tag)) => (Some(v), tag),
        None if opts.version_optional => (None, None),
        None => bail!("{}", crate::source::no_version(&bf.name.0)),
    };
    let cache = match &opts.hash_cache {
        Some(p) if opts.verify_models => HashCache::load(p.clone()),
        _ => HashCache::in_memory(),
    };
    let mut cx = Ctx {
        root,
        files,
        opts,
        notes: Vec::new(),
        missing: Vec::new(),
        mismatched: Vec::new(),
        dvc_layer: BTreeMap::new(),
        size_checked: (0, 0),
        artifacts: BTreeMap::new(),
        cache,
        bar: None,
        cloud: BTreeMap::new(),
        rt: None,
    };

    // Per component: each fact by its collector.
    let overrides = images::overrides(opts, &bf)?;
    let resolver = opts.registry.as_ref().map(crate::images::Resolver::new);
    let mut gathered_prompts = prompts::Gathered::default();
    let mut gathered_contracts = contracts::Gathered::default();
    let mut components = Vec::new();
    for (name, c) in &bf.components {
        let what = format!("{}: component `{name}`", bf_path.display());
        let cpath = cx.component_path(&c.path, &what)?;
        let image = images::resolve(name.0.as_str(), &c.image, &overrides, &what, opts.check_images, resolver.as_ref())?;
        let models = cx.models(&cpath, &c.models, &what)?;
        let prompts = prompts::collect(&mut cx, &mut gathered_prompts, &cpath, &c.prompts, &what)?;
        prompts::check_splits(&bf_text, &bf_path, &name.0, &c.splits, &prompts)?;
        let provides = contracts::provides(&mut cx, &mut gathered_contracts, &cpath, &c.provides, &what)?;
        components.push(ComponentRecord {
            name: name.0.clone(),
            path: cpath,
            image,
            models,
            prompts,
            provides,
            consumes: Vec::new(),
            splits: c.splits.clone(),
        });
    }

    // Across components: who consumes what, and whether the contracts fit.
    let mut unsatisfied = contracts::link_consumers(&bf, &bf_text, &bf_path, &mut components)?;
    let unproven = contracts::check_fit(&gathered_contracts, &components, &mut unsatisfied)?;
    if opts.strict {
        unsatisfied.extend(unproven);
    } else {
        cx.notes.extend(unproven.into_iter().map(|u| format!("{u} (an error with --strict)")));
    }
    cx.finish_models(&components)?;
    let too_long = prompts::over_limits(&bf_text, &bf_path, &bf.prompt_limits, &gathered_prompts.sizes)?;
    report_problems(&cx, &too_long, &unsatisfied)?;

    let release = Release {
        schema_version: crate::spec::RECORD_SCHEMA_VERSION,
        name: bf.name.0.clone(),
        version: version.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        created: rfc3339(created_epoch(&git)?)?,
        tool: Tool { name: "relbundle".into(), version: env!("CARGO_PKG_VERSION").into() },
        source: Source {
            repository: opts.source_url.clone().map(|u| crate::source::strip_credentials(&u)).or(git.remote.clone()),
            commit: git.commit.clone(),
            tag,
            path: path_in_repository(&git, &cx.root),
            dirty: git.dirty || cx.files.read_untracked,
        },
        build: BuildFlags { allow_dirty: opts.allow_dirty, verified_models: opts.verify_models },
        components,
        previous: None,
        allow_breaking: None,
    };
    Ok(Collected {
        release,
        bundle_file: bf_bytes,
        prompts: gathered_prompts.layer,
        contracts: gathered_contracts.layer.into_iter().collect(),
        dvc: cx.dvc_layer.into_iter().collect(),
        notes: cx.notes,
        version,
    })
}

/// The release's creation time: SOURCE_DATE_EPOCH, else the commit's time, else now.
fn created_epoch(git: &crate::source::GitInfo) -> Result<i64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s.trim().parse::<i64>().map_err(|_| anyhow!("SOURCE_DATE_EPOCH `{s}` is not a whole number of seconds")),
        Err(_) => Ok(git.commit_time.unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp())),
    }
}

/// The monorepo's folder relative to the git top level ("" at the top or outside git).
fn path_in_repository(git: &crate::source::GitInfo, root: &Root) -> String {
    git.toplevel
        .as_ref()
        .and_then(|t| t.canonicalize().ok())
        .and_then(|t| root.dir.strip_prefix(&t).ok().map(|p| p.to_string_lossy().replace('\\', "/")))
        .unwrap_or_default()
}

/// Every problem found by the collectors, reported at once (exit 1); nothing when there is none.
fn report_problems(cx: &Ctx, too_long: &[String], unsatisfied: &[String]) -> Result<()> {
    let mut problems = Vec::new();
    if !too_long.is_empty() {
        problems
            .push(format!("prompt templates over their size limit (bundle.yaml `promptLimits`):{}", crate::yaml::list_lines(too_long, 10)));
    }
    if !cx.missing.is_empty() {
        problems.push(format!(
            "DVC objects missing from their remote (run `dvc push` to upload them, or `dvc fetch` to fill the local cache):{}",
            crate::yaml::list_lines(&cx.missing, 10)
        ));
    }
    if !cx.mismatched.is_empty() {
        problems.push(format!(
            "workspace files differ from their DVC pins (run `dvc status`; `dvc add`/`dvc repro` and commit, or `dvc checkout`):{}",
            crate::yaml::list_lines(&cx.mismatched, 10)
        ));
    }
    if !unsatisfied.is_empty() {
        problems.push(format!("API requirements not met:{}", crate::yaml::list_lines(unsatisfied, 10)));
    }
    if problems.is_empty() { Ok(()) } else { Err(finding(problems.join("\n"))) }
}

impl Ctx<'_> {
    /// A component's folder, repository-relative ("" is the monorepo root, `path: .`).
    fn component_path(&self, path: &str, what: &str) -> Result<String> {
        let cpath = match path.trim_end_matches('/') {
            "." => String::new(),
            p => p.to_string(),
        };
        let cabs = if cpath.is_empty() { self.root.dir.clone() } else { self.root.resolve(&cpath, &format!("{what} field `path`"))? };
        if !cabs.is_dir() {
            bail!("{what} field `path`: `{cpath}` is not a folder");
        }
        Ok(cpath)
    }
}

/// A release needs a source: a git repository (unless `--no-git`) whose tree is clean (unless
/// `--allow-dirty`, recorded in the release). The error names what makes the tree dirty.
fn check_source(dir: &std::path::Path, git: &crate::source::GitInfo, opts: &Options) -> Result<()> {
    if git.toplevel.is_none() {
        if opts.no_git {
            return Ok(());
        }
        bail!(
            "{}: not in a git repository, so the release would record no source commit and pack whatever files lie here; \
             build from a git checkout, or pass --no-git if a release without a source is intended",
            dir.display()
        );
    }
    if !git.dirty || opts.allow_dirty {
        return Ok(());
    }
    if git.commit.is_none() {
        bail!("{}: the git repository has no commit yet, so the release has no source; commit it, or pass --allow-dirty", dir.display());
    }
    let paths = crate::yaml::list(&git.dirty_paths, 8);
    bail!(
        "{}: the working tree has uncommitted changes ({paths}); commit them, add build outputs to .gitignore, or pass --allow-dirty (recorded in the release)",
        dir.display()
    )
}

/// `dir/name`, or `name` at the top.
pub(crate) fn rel_join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
}
