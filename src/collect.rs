//! Collect every fact of a release from the monorepo: one pass that reads each file once,
//! checks it, and returns the release record plus the bytes of every file to pack.

use crate::bundlefile::{self, BundleFile, ModelSpec};
use crate::contracts;
use crate::dvc::{self, Project, Remote};
use crate::error::finding;
use crate::files::{self, Files};
use crate::hashing::{HashCache, Md5Kind};
use crate::images::{self, ImageRef};
use crate::paths::{self, Root};
use crate::prompts;
use crate::release::*;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::{BTreeMap, BTreeSet};
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

    let (version, tag) = match crate::source::release_version(opts.version.as_deref(), &bf.name.0, &git.tags)? {
        Some((v, tag)) => (Some(v), tag),
        None if opts.version_optional => (None, None),
        None => bail!("{}", crate::source::no_version(&bf.name.0)),
    };
    let created_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s.trim().parse::<i64>().map_err(|_| anyhow!("SOURCE_DATE_EPOCH `{s}` is not a whole number of seconds"))?,
        Err(_) => match git.commit_time {
            Some(t) => t,
            None => time::OffsetDateTime::now_utc().unix_timestamp(),
        },
    };
    let rel_path = git
        .toplevel
        .as_ref()
        .and_then(|t| t.canonicalize().ok())
        .and_then(|t| root.dir.strip_prefix(&t).ok().map(|p| p.to_string_lossy().replace('\\', "/")))
        .unwrap_or_default();

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
    };

    let image_overrides = image_overrides(opts, &bf)?;
    let mut components = Vec::new();
    let mut prompt_ids: BTreeMap<String, String> = BTreeMap::new();
    // (prompt id, file, template characters), for bundle.yaml `promptLimits`.
    let mut prompt_sizes: Vec<(String, String, u64)> = Vec::new();
    let bf_text = String::from_utf8_lossy(&bf_bytes).into_owned();
    let mut prompts_layer = Vec::new();
    let mut contracts_layer: BTreeMap<String, Arc<Vec<u8>>> = BTreeMap::new();
    // Parsed once by contracts::load, for the compatibility checks below.
    let mut docs = crate::compat::Docs::default();

    let resolver = opts.registry.as_ref().map(images::Resolver::new);
    for (name, c) in &bf.components {
        let what = format!("{}: component `{name}`", bf_path.display());
        // The component folder, repository-relative; "" is the monorepo root (`path: .`).
        let cpath = match c.path.trim_end_matches('/') {
            "." => String::new(),
            p => p.to_string(),
        };
        let cabs = if cpath.is_empty() { cx.root.dir.clone() } else { cx.root.resolve(&cpath, &format!("{what} field `path`"))? };
        if !cabs.is_dir() {
            bail!("{what} field `path`: `{cpath}` is not a folder");
        }
        let image = resolve_image(name.0.as_str(), &c.image, &image_overrides, &what, opts.check_images, resolver.as_ref())?;

        // dvc.yaml artifacts in the component folder name models.
        let pipeline_rel = rel_join(&cpath, "dvc.yaml");
        if cx.root.dir.join(&pipeline_rel).is_file() {
            cx.read_pipeline(&pipeline_rel)?;
        }
        let mut models = Vec::new();
        for (i, m) in c.models.iter().enumerate() {
            models.extend(cx.model(&cpath, m, &format!("{what} field `models[{i}]`"))?);
        }

        let mut prompts = Vec::new();
        for rel in cx.prompt_files(&cpath, &c.prompts, &what)? {
            let bytes = cx.files.read(&cx.root, &rel, &what)?;
            let p = prompts::parse(files::text(&bytes, &rel)?, std::path::Path::new(&rel))?;
            prompt_sizes.push((p.id.clone(), rel.clone(), p.template_chars()));
            let record = PromptRecord {
                id: p.id,
                variant: p.variant,
                version: p.version.to_string(),
                format: p.format.record_name().map(String::from),
                path: rel.clone(),
                sha256: crate::hashing::sha256_digest(&bytes),
            };
            if let Some(other) = prompt_ids.insert(record.key(), rel.clone()) {
                let what = match &record.variant {
                    Some(v) => format!("prompt id `{}` with variant `{v}`", record.id),
                    None => format!("prompt id `{}`", record.id),
                };
                bail!("{rel}: field `id`: {what} is already used by {other}; a prompt id (and variant) must be unique in a release");
            }
            prompts.push(record);
            prompts_layer.push((rel, bytes));
        }
        prompts.sort_by(|a, b| (&a.id, &a.variant).cmp(&(&b.id, &b.variant)));
        check_splits(&bf_text, &bf_path, &name.0, &c.splits, &prompts)?;

        let mut provides = Vec::new();
        for (api, p) in &c.provides {
            let fwhat = format!("{what} field `provides.{api}.contract`");
            let rel = paths::join_inside(&cpath, &p.contract).map_err(|e| anyhow!("{fwhat}: {e}"))?;
            let mut contract = contracts::load(&cx.root, &mut cx.files, &rel, &fwhat)?;
            docs.docs.extend(std::mem::take(&mut contract.docs));
            let version = match (&p.version, &contract.version) {
                (Some(d), Some(i)) if d.to_string() != *i => {
                    bail!("{what} field `provides.{api}.version`: declares {d} but {rel} says `info.version: {i}`; keep one of them")
                }
                (Some(d), _) => d.clone(),
                (None, Some(i)) => semver::Version::parse(i)
                    .map_err(|e| anyhow!("{rel}: field `info.version`: `{i}` is not a semantic version ({e}); use MAJOR.MINOR.PATCH"))?,
                (None, None) => bail!("{what} field `provides.{api}`: {rel} has no `info.version`; add `version: X.Y.Z` to the entry"),
            };
            let bytes = cx.files.get(&rel).expect("loaded above").clone();
            for r in std::iter::once(&rel).chain(&contract.referenced) {
                contracts_layer.insert(r.clone(), cx.files.get(r).expect("loaded by contracts::load").clone());
            }
            provides.push(ProvideRecord {
                api: api.clone(),
                version: version.to_string(),
                format: contract.format.as_str().to_string(),
                contract: rel,
                sha256: crate::hashing::sha256_digest(&bytes),
                refs: contract.referenced,
            });
        }
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

    // Every `consumes` needs exactly one provider whose version satisfies the requirement.
    let mut providers: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for c in &components {
        for p in &c.provides {
            providers.entry(p.api.as_str()).or_default().push((c.name.as_str(), p.version.as_str()));
        }
    }
    // An API has one provider: the release record, `values` and the version rules key APIs by name.
    if let Some((api, many)) = providers.iter().find(|(_, v)| v.len() > 1) {
        let text = String::from_utf8_lossy(&bf_bytes);
        let second = many[1].0;
        let line =
            crate::yaml::line_of_key(&text, api, crate::yaml::line_of_key(&text, second, crate::yaml::line_of_key(&text, "components", 1)));
        bail!(
            "{}:{line}: component `{second}` field `provides.{api}`: `{api}` is provided by {}; an API has exactly one provider, so rename all but one",
            bf_path.display(),
            crate::yaml::list(many.iter().map(|(n, _)| format!("`{n}`")), 2)
        );
    }
    let mut consumes_by: Vec<Vec<ConsumeRecord>> = Vec::new();
    let mut unsatisfied = Vec::new();
    for (name, c) in &bf.components {
        let mut v = Vec::new();
        for (api, consume) in &c.consumes {
            let req = &consume.version;
            let what = format!("{}: component `{name}` field `consumes.{api}`", bf_path.display());
            let (provider, ver) = match providers.get(api.as_str()).map(|v| v.as_slice()) {
                None | Some([]) => bail!(
                    "{what}: no component provides `{api}`; add `provides: {{{api}: {{contract: …}}}}` to the providing component, or remove this entry"
                ),
                Some([one]) => *one,
                Some(many) => bail!(
                    "{what}: `{api}` is provided by {}; exactly one component may provide an API",
                    crate::yaml::list(many.iter().map(|(n, _)| format!("`{n}`")), 2)
                ),
            };
            if provider == name.0 {
                bail!("{what}: `{name}` consumes its own API `{api}`; remove the entry");
            }
            let parsed = semver::Version::parse(ver).expect("validated when collected");
            if !req.matches(&parsed) {
                unsatisfied.push(format!("component `{name}` consumes `{api}` {req}, but `{provider}` provides {ver}"));
            }
            v.push(ConsumeRecord {
                api: api.clone(),
                requirement: req.to_string(),
                provider: provider.to_string(),
                version: ver.to_string(),
                operations: consume.operations.clone(),
            });
        }
        consumes_by.push(v);
    }
    for (c, v) in components.iter_mut().zip(consumes_by) {
        c.consumes = v;
    }

    // Contracts: every `$ref` resolves (no cycles), and a consumer that restates a provider's
    // schema (same name) accepts everything the provider may emit.
    for path in contracts_layer.keys() {
        docs.check_refs(path).map_err(|e| anyhow!("{path}: {e:#}"))?;
    }
    let mut unproven = Vec::new();
    for c in &components {
        for u in &c.consumes {
            let Some(prov) = components.iter().find(|p| p.name == u.provider) else { continue };
            for pc in prov.provides.iter().filter(|p| p.api == u.api) {
                for cc in &c.provides {
                    for (kind, name) in named_schemas(&docs, &pc.contract) {
                        let ptr = format!("/{}/{}", kind, name.replace('~', "~0").replace('/', "~1"));
                        let Some(restated) = docs.docs.get(&cc.contract).and_then(|d| d.pointer(&ptr)) else { continue };
                        let cl = crate::compat::Loc::new(&cc.contract, &ptr);
                        // A `$ref` straight to the provider's schema is the same schema: nothing to prove.
                        if restated.get("$ref").is_some() && docs.resolve(&cl).map(|(l, _)| l.file == pc.contract).unwrap_or(false) {
                            continue;
                        }
                        let mut ck = crate::compat::Checker::new(&docs);
                        ck.check(&crate::compat::Loc::new(&pc.contract, &ptr), &cl).map_err(|e| anyhow!("{e:#}"))?;
                        for i in ck.issues {
                            let line = format!("{} consumes {}: {} (producer {}): {}", c.name, u.api, i.consumer, i.producer, i.rule);
                            match i.verdict {
                                crate::compat::Verdict::Incompatible => unsatisfied.push(line),
                                crate::compat::Verdict::CannotProve => unproven.push(format!("cannot prove compatible: {line}")),
                            }
                        }
                    }
                }
            }
        }
    }
    if opts.strict {
        unsatisfied.extend(unproven);
    } else {
        for u in unproven {
            cx.notes.push(format!("{u} (an error with --strict)"));
        }
    }

    if let Some(b) = cx.bar.take() {
        b.finish_and_clear();
    }
    if !opts.verify_models && !components.is_empty() {
        let (checked, files) = cx.size_checked;
        cx.notes.push(format!(
            "models: pins present in the DVC cache or remote; workspace not re-hashed ({checked} of {files} single-file model(s) size-checked, \
             directory models not compared): pass --verify-models to re-hash every workspace file"
        ));
    }
    cx.cache.save();
    let mut problems = Vec::new();
    let too_long = prompt_limits(&bf_text, &bf_path, &bf.prompt_limits, &prompt_sizes)?;
    if !too_long.is_empty() {
        problems.push(format!(
            "prompt templates over their size limit (bundle.yaml `promptLimits`):{}",
            crate::yaml::list_lines(&too_long, 10)
        ));
    }
    if !cx.missing.is_empty() {
        problems.push(format!(
            "DVC objects missing from the cache and the local remote (run `dvc push`, or `dvc fetch` to fill the cache):{}",
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
        problems.push(format!("API requirements not met:{}", crate::yaml::list_lines(&unsatisfied, 10)));
    }
    if !problems.is_empty() {
        return Err(finding(problems.join("\n")));
    }

    let release = Release {
        schema_version: crate::spec::RECORD_SCHEMA_VERSION,
        name: bf.name.0.clone(),
        version: version.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        created: rfc3339(created_epoch)?,
        tool: Tool { name: "relbundle".into(), version: env!("CARGO_PKG_VERSION").into() },
        source: Source {
            repository: opts.source_url.clone().map(|u| crate::source::strip_credentials(&u)).or(git.remote),
            commit: git.commit,
            tag,
            path: rel_path,
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
        prompts: prompts_layer,
        contracts: contracts_layer.into_iter().collect(),
        dvc: cx.dvc_layer.into_iter().collect(),
        notes: cx.notes,
        version,
    })
}

/// Named schemas of a contract: OpenAPI `components/schemas/*`, JSON Schema `$defs/*` and `definitions/*`.
fn named_schemas(docs: &crate::compat::Docs, file: &str) -> Vec<(String, String)> {
    let Some(d) = docs.docs.get(file) else { return Vec::new() };
    let mut out = Vec::new();
    for (kind, ptr) in [("components/schemas", "/components/schemas"), ("$defs", "/$defs"), ("definitions", "/definitions")] {
        if let Some(m) = d.pointer(ptr).and_then(|v| v.as_object()) {
            out.extend(m.keys().map(|k| (kind.to_string(), k.clone())));
        }
    }
    out
}

/// The `FILE:LINE` of a key below a component in bundle.yaml.
fn component_key_at(text: &str, file: &std::path::Path, component: &str, keys: &[&str]) -> String {
    let from = crate::yaml::line_of_key(text, component, crate::yaml::line_of_key(text, "components", 1));
    format!("{}:{}", file.display(), keys.iter().fold(from, |l, k| crate::yaml::line_of_key(text, k, l)))
}

/// Each split names prompts of its component and their variants (`default`: the file without one).
fn check_splits(
    text: &str,
    file: &std::path::Path,
    component: &str,
    splits: &BTreeMap<String, BTreeMap<String, u32>>,
    prompts: &[PromptRecord],
) -> Result<()> {
    for (id, weights) in splits {
        let at = component_key_at(text, file, component, &["splits", id]);
        let variants: Vec<&str> =
            prompts.iter().filter(|p| &p.id == id).map(|p| p.variant.as_deref().unwrap_or(crate::bundlefile::DEFAULT_VARIANT)).collect();
        if variants.is_empty() {
            bail!("{at}: component `{component}` field `splits.{id}`: the component has no prompt `{id}`");
        }
        for v in weights.keys() {
            if !variants.contains(&v.as_str()) {
                bail!(
                    "{at}: component `{component}` field `splits.{id}.{v}`: prompt `{id}` has no variant `{v}` (variants: {})",
                    crate::yaml::list(&variants, 5)
                );
            }
        }
    }
    Ok(())
}

/// Prompts whose template is longer than bundle.yaml `promptLimits` allows, one line each.
fn prompt_limits(
    text: &str,
    file: &std::path::Path,
    limits: &crate::bundlefile::PromptLimits,
    sizes: &[(String, String, u64)],
) -> Result<Vec<String>> {
    for id in limits.by_id.keys() {
        if !sizes.iter().any(|(i, _, _)| i == id) {
            let line = crate::yaml::line_of_key(text, id, crate::yaml::line_of_key(text, "promptLimits", 1));
            bail!("{}:{line}: field `promptLimits.byId.{id}`: no prompt has the id `{id}`", file.display());
        }
    }
    Ok(sizes
        .iter()
        .filter_map(|(id, rel, n)| {
            let (max, from) = match limits.by_id.get(id) {
                Some(m) => (*m, format!("byId.{id}")),
                None => (limits.max_chars?, "maxChars".to_string()),
            };
            (*n > max).then(|| format!("prompt `{id}` ({rel}): {n} characters, over the {max} of `promptLimits.{from}`"))
        })
        .collect())
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
fn rel_join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
}

/// Digests given on the command line: component name → image.
fn image_overrides(opts: &Options, bf: &BundleFile) -> Result<BTreeMap<String, (ImageRef, &'static str)>> {
    let mut out = BTreeMap::new();
    for s in &opts.buildx_metadata {
        let (want, file) = match s.split_once('=') {
            Some((n, f)) => (Some(n.to_string()), f),
            None => (None, s.as_str()),
        };
        for (target, name, digest) in images::read_buildx_metadata(std::path::Path::new(file))? {
            let comp = want.clone().unwrap_or(target.clone());
            let Some(c) = bf.components.iter().find(|(n, _)| n.0 == comp).map(|(_, c)| c) else {
                bail!(
                    "--buildx-metadata {file}: `{comp}` is not a component of bundle.yaml; write NAME=FILE to say which component it built"
                );
            };
            let mut img = match name {
                Some(n) => n.parse::<ImageRef>().with_context(|| format!("--buildx-metadata {file}: `image.name`"))?,
                None => c.image.clone(),
            };
            img.digest = Some(digest);
            out.insert(comp, (img, "buildx-metadata"));
        }
    }
    for s in &opts.images {
        let (name, img) = images::parse_image_flag(s)?;
        if !bf.components.keys().any(|n| n.0 == name) {
            bail!(
                "--image {name}: no component `{name}` in bundle.yaml (components: {})",
                crate::yaml::list(bf.components.keys().map(|k| k.0.as_str()), 5)
            );
        }
        out.insert(name, (img, "--image"));
    }
    Ok(out)
}

fn resolve_image(
    name: &str,
    declared: &ImageRef,
    overrides: &BTreeMap<String, (ImageRef, &'static str)>,
    what: &str,
    check_images: bool,
    resolver: Option<&images::Resolver>,
) -> Result<ImageRecord> {
    let (img, mut from) = match overrides.get(name) {
        Some((i, f)) => (i.clone(), *f),
        None => (declared.clone(), "bundle.yaml"),
    };
    let how = format!(
        "pin it in bundle.yaml as REPOSITORY@sha256:…, or pass --image {name}=REPOSITORY@sha256:…, or --buildx-metadata {name}=FILE from `docker buildx build --metadata-file FILE`"
    );
    let mut platforms = None;
    let digest = match (&img.digest, resolver) {
        (Some(d), Some(res)) if check_images => {
            let r = res.resolve(&img).map_err(|e| crate::error::finding(format!("{what} field `image`: {e:#}")))?;
            platforms = r.platforms;
            d.clone()
        }
        (Some(d), _) => d.clone(),
        (None, None) => bail!("{what} field `image`: `{img}` has no digest, and --offline forbids resolving its tag; {how}"),
        (None, Some(res)) => {
            // Resolve the tag once; the digest is what the release pins from here on.
            let r = res
                .resolve(&img)
                .map_err(|e| anyhow!("{what} field `image`: `{img}` has no digest, and its tag could not be resolved: {e:#}; {how}"))?;
            from = "registry";
            platforms = r.platforms;
            r.digest
        }
    };
    let platforms = platforms.map(|p| p.into_iter().map(|(platform, digest)| PlatformRecord { platform, digest }).collect());
    Ok(ImageRecord {
        registry: img.registry,
        repository: img.repository,
        tag: img.tag,
        digest,
        from: from.to_string(),
        platforms,
        signed_by: Vec::new(),
    })
}

impl Ctx<'_> {
    fn read_pipeline(&mut self, rel: &str) -> Result<dvc::PipelineFile> {
        let b = self.files.read(&self.root, rel, rel)?;
        let p = dvc::parse_pipeline_file(files::text(&b, rel)?, std::path::Path::new(rel))?;
        let dir = paths::parent(rel);
        for (name, a) in &p.artifacts {
            if let Ok(path) = paths::join_inside(dir, &a.path) {
                self.artifacts.insert(path, (name.clone(), a.clone()));
            }
        }
        self.dvc_layer.insert(rel.to_string(), b);
        Ok(p)
    }

    fn model(&mut self, cpath: &str, m: &ModelSpec, what: &str) -> Result<Vec<ModelRecord>> {
        // (entry, out path relative to the repo, the pointer file, origin)
        let mut outs: Vec<(dvc::Entry, String, String, ModelOrigin)> = Vec::new();
        if let Some(f) = &m.dvc {
            let rel = paths::join_inside(cpath, f).map_err(|e| anyhow!("{what} `dvc`: {e}"))?;
            let b = self.files.read(&self.root, &rel, &format!("{what} `dvc`"))?;
            let df = dvc::parse_dvc_file(files::text(&b, &rel)?, std::path::Path::new(&rel))?;
            self.dvc_layer.insert(rel.clone(), b);
            let base = match &df.wdir {
                Some(w) => paths::join_inside(paths::parent(&rel), w).map_err(|e| anyhow!("{rel}: field `wdir`: {e}"))?,
                None => paths::parent(&rel).to_string(),
            };
            let dep = df.deps.first();
            for o in df.outs {
                let path = paths::join_inside(&base, &o.path).map_err(|e| anyhow!("{rel}: output `path`: {e}"))?;
                let origin = ModelOrigin {
                    file: rel.clone(),
                    stage: None,
                    import_url: dep.map(|d| {
                        d.repo
                            .as_ref()
                            .map(|r| crate::source::strip_credentials(&r.url))
                            .unwrap_or_else(|| crate::source::strip_credentials(&d.path))
                    }),
                    import_path: dep.filter(|d| d.repo.is_some()).map(|d| d.path.clone()),
                    rev_lock: dep.and_then(|d| d.repo.as_ref()).and_then(|r| r.rev_lock.clone()),
                };
                outs.push((o, path, rel.clone(), origin));
            }
        } else {
            let stage = m.stage.as_deref().expect("validated: dvc or stage");
            let lock_rel = paths::join_inside(cpath, m.lock.as_deref().unwrap_or("dvc.lock")).map_err(|e| anyhow!("{what} `lock`: {e}"))?;
            let b = self.files.read(&self.root, &lock_rel, &format!("{what} `lock`"))?;
            let lock = dvc::parse_lock_file(files::text(&b, &lock_rel)?, std::path::Path::new(&lock_rel))?;
            self.dvc_layer.insert(lock_rel.clone(), b);
            let dir = paths::parent(&lock_rel).to_string();
            let pipeline_rel = if dir.is_empty() { "dvc.yaml".to_string() } else { format!("{dir}/dvc.yaml") };
            let pipeline =
                if self.root.dir.join(&pipeline_rel).is_file() { self.read_pipeline(&pipeline_rel)? } else { Default::default() };
            let Some(ls) = lock.stages.get(stage) else {
                bail!("{what}: {lock_rel} has no stage `{stage}` (stages: {})", crate::yaml::list(lock.stages.keys(), 5));
            };
            let ps = pipeline.stages.get(stage).cloned().unwrap_or_default();
            let base = match &ps.wdir {
                Some(w) => paths::join_inside(&dir, w).map_err(|e| anyhow!("{pipeline_rel}: stage `{stage}` field `wdir`: {e}"))?,
                None => dir.clone(),
            };
            let uncached = ps.uncached();
            let wanted: Vec<&dvc::Entry> = match &m.out {
                Some(o) => match ls.outs.iter().find(|e| &e.path == o) {
                    Some(e) => vec![e],
                    None => bail!(
                        "{what} `out`: stage `{stage}` in {lock_rel} has no output `{o}` (outputs: {})",
                        crate::yaml::list(ls.outs.iter().map(|e| e.path.as_str()), 5)
                    ),
                },
                None => ls.outs.iter().collect(),
            };
            for e in wanted {
                let mut e = e.clone();
                if uncached.contains(&e.path) {
                    e.cache = false;
                }
                let path =
                    paths::join_inside(&base, &e.path).map_err(|er| anyhow!("{lock_rel}: stage `{stage}` output `{}`: {er}", e.path))?;
                let origin = ModelOrigin {
                    file: lock_rel.clone(),
                    stage: Some(stage.to_string()),
                    import_url: None,
                    import_path: None,
                    rev_lock: None,
                };
                outs.push((e, path, lock_rel.clone(), origin));
            }
        }
        let single = outs.len() == 1;
        outs.into_iter().map(|(e, path, file, origin)| self.pin(e, path, &file, origin, m.name.as_deref().filter(|_| single))).collect()
    }

    fn pin(&mut self, e: dvc::Entry, path: String, file: &str, origin: ModelOrigin, name: Option<&str>) -> Result<ModelRecord> {
        let fpath = std::path::Path::new(file);
        let kind = e.md5_kind(fpath)?;
        let (md5, is_dir) = e.checked_md5(fpath)?;
        let size = e.size.ok_or_else(|| anyhow!("{file}: output `{}` has no `size`; re-run `dvc add`/`dvc repro`", e.path))?;
        if is_dir && e.nfiles.is_none() {
            bail!("{file}: directory output `{}` has no `nfiles`; re-run `dvc add`/`dvc repro`", e.path);
        }
        let artifact = self.artifacts.get(&path).cloned();
        // Name: bundle.yaml's `name`, else the dvc.yaml artifact name, else the output's file name.
        let name = name
            .map(String::from)
            .or_else(|| artifact.as_ref().map(|(n, _)| n.clone()))
            .unwrap_or_else(|| path.rsplit('/').next().unwrap_or(&path).to_string());
        let artifact = artifact.map(|(_, a)| a);
        let project_dir = self.root.dir.join(paths::parent(file));
        let project = Project::find(&project_dir, &self.root.dir);
        let project_root = project.as_ref().map(|p| p.root.clone()).unwrap_or_else(|| self.root.dir.clone());
        let mut files_list: Option<Vec<ModelFile>> = None;
        let hex = md5.trim_end_matches(".dir");
        if let Some(project) = &project {
            // The .dir listing, when we can find it, goes into the record and the DVC layer.
            if is_dir && let Some((_, p)) = project.locate(&md5, kind) {
                let bytes = std::fs::read(&p).with_context(|| format!("{}: cannot read", p.display()))?;
                let listing = dvc::parse_dir_listing(&bytes, &p.display().to_string())?;
                if crate::hashing::md5_hex(&bytes) != hex {
                    bail!(
                        "{}: the `.dir` object does not hash to its name {md5}; the DVC cache is damaged (`dvc cache` / re-fetch)",
                        p.display()
                    );
                }
                files_list = Some(
                    listing
                        .iter()
                        .map(|d| ModelFile { relpath: d.relpath.clone(), md5: d.md5.clone(), sha256: None, size: None })
                        .collect(),
                );
                let cache_rel = Project::object_path(std::path::Path::new(".dvc/cache"), &md5, kind);
                self.dvc_layer.insert(cache_rel.to_string_lossy().into_owned(), Arc::new(bytes));
            }
            if e.cache {
                self.check_presence(project, &path, &md5, kind, files_list.as_deref())?;
            }
        } else if e.cache {
            bail!(
                "{file}: output `{}`: no DVC project (a `.dvc` folder) found between {} and the monorepo root",
                e.path,
                paths::parent(file)
            );
        }
        let mut sha256 = None;
        if !self.opts.verify_models && !is_dir {
            // Without --verify-models, a file's size is checked against its pin (a stat, no read).
            self.size_check(&path, &md5, size, file);
        }
        if self.opts.verify_models {
            let abs = self.root.dir.join(&path);
            let bar = self.bar(size);
            let r = dvc::rehash(&abs, kind, &project_root, &self.cache, &|n| {
                if let Some(b) = &bar {
                    b.inc(n)
                }
            })?;
            if r.md5 != md5 || r.size != size || r.nfiles != e.nfiles.filter(|_| is_dir) {
                self.mismatched.push(format!(
                    "{path} ({}): pinned {md5} ({size} bytes) in {file}, workspace has {} ({} bytes)",
                    kind.as_str(),
                    r.md5,
                    r.size
                ));
            }
            if is_dir {
                files_list = Some(
                    r.files
                        .iter()
                        .map(|(rel, d)| ModelFile {
                            relpath: rel.clone(),
                            md5: d.md5.clone(),
                            sha256: Some(format!("sha256:{}", d.sha256)),
                            size: Some(d.size),
                        })
                        .collect(),
                );
            } else {
                sha256 = r.files.first().map(|(_, d)| format!("sha256:{}", d.sha256));
            }
        }
        Ok(ModelRecord {
            name,
            path,
            hash: kind.as_str().to_string(),
            md5,
            size,
            nfiles: if is_dir { e.nfiles } else { None },
            sha256,
            cache: e.cache,
            origin,
            artifact,
            files: files_list,
        })
    }

    /// Compare a single-file model's workspace size with its pin (a missing file is not checked).
    fn size_check(&mut self, path: &str, md5: &str, size: u64, file: &str) {
        self.size_checked.1 += 1;
        let Ok(meta) = std::fs::metadata(self.root.dir.join(path)) else { return };
        self.size_checked.0 += 1;
        if meta.len() != size {
            self.mismatched.push(format!(
                "{path}: pinned {md5} ({size} bytes) in {file}, the workspace file has {} bytes (sizes differ; `dvc status` says more)",
                meta.len()
            ));
        }
    }

    fn bar(&mut self, add: u64) -> Option<indicatif::ProgressBar> {
        if !self.opts.progress {
            return None;
        }
        let b = self.bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} verifying models {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                    .expect("valid template"),
            );
            b
        });
        b.inc_length(add);
        Some(b.clone())
    }

    fn check_presence(&mut self, project: &Project, path: &str, md5: &str, kind: Md5Kind, listing: Option<&[ModelFile]>) -> Result<()> {
        let remote_note = |p: &Project| match &p.remote {
            Remote::Other(n, u) => Some(format!("remote `{n}` ({})", crate::redact::url(u))),
            _ => None,
        };
        let mut absent = Vec::new();
        if project.locate(md5, kind).is_none() {
            absent.push(md5.to_string());
        }
        for f in listing.unwrap_or_default() {
            if project.locate(&f.md5, kind).is_none() {
                absent.push(format!("{} ({})", f.md5, f.relpath));
            }
        }
        if absent.is_empty() {
            return Ok(());
        }
        match remote_note(project) {
            Some(r) if !self.opts.require_model_check => {
                self.notes.push(format!(
                    "{path}: {} object(s) not in the local cache; {r} not checked (pass --require-model-check to fail instead)",
                    absent.len()
                ));
            }
            Some(r) => {
                self.missing.push(format!("{path}: {} object(s) not in the local cache, and {r} cannot be checked here", absent.len()))
            }
            None => {
                let place = match &project.remote {
                    Remote::Local(n, p) => {
                        format!("looked in the cache {} and remote `{n}` at {}", project.cache_dir.display(), p.display())
                    }
                    _ => format!("looked in the cache {}; no DVC remote is configured", project.cache_dir.display()),
                };
                for a in absent {
                    self.missing.push(format!("{path}: {a} ({place})"));
                }
            }
        }
        Ok(())
    }

    fn prompt_files(&mut self, cpath: &str, globs: &[String], what: &str) -> Result<Vec<String>> {
        if globs.is_empty() {
            return Ok(Vec::new());
        }
        let mut sets = Vec::new();
        for g in globs {
            let glob = globset::GlobBuilder::new(g).literal_separator(true).build().map_err(|e| anyhow!("{what} field `prompts`: {e}"))?;
            sets.push((g, glob.compile_matcher()));
        }
        let base = self.root.dir.join(cpath);
        let mut found = BTreeSet::new();
        let mut hit = vec![false; sets.len()];
        let walker = walkdir::WalkDir::new(&base).sort_by_file_name().into_iter().filter_entry(|e| {
            !(e.file_type().is_dir() && matches!(e.file_name().to_str(), Some(".git") | Some(".dvc") | Some("node_modules")))
        });
        for ent in walker {
            let ent = ent.with_context(|| format!("{what}: cannot walk {cpath}"))?;
            if ent.file_type().is_dir() {
                continue;
            }
            let rel = ent.path().strip_prefix(&base).expect("below base");
            let Some(rel) = rel.to_str() else { continue };
            for (i, (_, m)) in sets.iter().enumerate() {
                if m.is_match(rel) {
                    hit[i] = true;
                    found.insert(rel_join(cpath, rel));
                }
            }
        }
        if let Some(i) = hit.iter().position(|h| !h) {
            bail!("{what} field `prompts`: `{}` matches no file below {cpath}; fix the glob or remove it", sets[i].0);
        }
        // Files git ignores are not part of the commit (local overrides, secrets): skipped, and said.
        let untracked: Vec<&str> = found.iter().map(|p| p.as_str()).filter(|p| !self.files.is_tracked(p)).collect();
        if !untracked.is_empty() {
            let ignored = crate::source::ignored(&self.root.dir, &untracked);
            if !ignored.is_empty() {
                let mut names: Vec<&String> = ignored.iter().collect();
                names.sort();
                self.notes.push(format!("{what}: skipped {} file(s) git ignores: {}", names.len(), crate::yaml::list(&names, 5)));
                found.retain(|p| !ignored.contains(p));
            }
        }
        Ok(found.into_iter().collect())
    }
}
