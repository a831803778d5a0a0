//! Models: DVC pins (`.dvc` files, `dvc.lock` outputs, dvc.yaml artifacts), the workspace
//! compared with them, and every object's presence in the cache, a local remote or a cloud
//! remote (batched per remote until every component is pinned).

use super::Ctx;
use crate::bundlefile::ModelSpec;
use crate::dvc::{self, Project, Remote};
use crate::files;
use crate::hashing::Md5Kind;
use crate::paths;
use crate::release::*;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeSet;
use std::sync::Arc;

/// One cloud remote's presence check: the objects to ask about, and what became of opening it.
pub(super) struct CloudCheck {
    config: crate::remotes::RemoteConfig,
    remote: Option<std::result::Result<crate::remotes::Remote, crate::remotes::Failure>>,
    /// (object key, "model path: md5 (relpath)") per object.
    pending: Vec<(String, String)>,
    models: BTreeSet<String>,
}

/// A model's pin, as its pointer file states it.
struct Pinned<'a> {
    path: &'a str,
    file: &'a str,
    md5: &'a str,
    kind: Md5Kind,
    size: u64,
    /// Files in a directory model (None for a file).
    nfiles: Option<u64>,
}

impl Ctx<'_> {
    /// The models of a component: its dvc.yaml `artifacts:` name them, then each bundle.yaml entry is pinned.
    pub(super) fn models(&mut self, cpath: &str, specs: &[ModelSpec], what: &str) -> Result<Vec<ModelRecord>> {
        let pipeline_rel = super::rel_join(cpath, "dvc.yaml");
        if self.root.dir.join(&pipeline_rel).is_file() {
            self.read_pipeline(&pipeline_rel)?;
        }
        let mut models = Vec::new();
        for (i, m) in specs.iter().enumerate() {
            models.extend(self.model(cpath, m, &format!("{what} field `models[{i}]`"))?);
        }
        Ok(models)
    }

    /// After every component: the batched cloud presence checks, what was not re-hashed, and the
    /// hash cache saved.
    pub(super) fn finish_models(&mut self, components: &[ComponentRecord]) -> Result<()> {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        self.check_cloud()?;
        if !self.opts.verify_models && !components.is_empty() {
            let (checked, files) = self.size_checked;
            self.notes.push(format!(
                "models: pins present in the DVC cache or remote; workspace not re-hashed ({checked} of {files} single-file model(s) size-checked, \
                 directory models not compared): pass --verify-models to re-hash every workspace file"
            ));
        }
        self.cache.save();
        Ok(())
    }

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
                if e.remote.is_none() {
                    e.remote = ps.out_remote(&e.path);
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
        let mut model_remote = None;
        if let Some(project) = &project {
            let remote = if e.cache {
                project.remote_for(e.remote.as_deref()).map_err(|m| anyhow!("{file}: output `{}` field `remote`: {m}", e.path))?
            } else {
                Remote::None
            };
            let cloud = match &remote {
                Remote::Other(n, _) => Some(project.config.remotes[n].clone()),
                _ => None,
            };
            if is_dir {
                files_list = self.dir_listing(project, &md5, kind, &remote, cloud.as_ref())?;
            }
            if let (true, Some(rc)) = (e.cache, &cloud) {
                model_remote = Some(rc.record());
                self.cloud_queue(project, rc, &path, &md5, kind, files_list.as_deref());
            } else if e.cache {
                self.check_presence(project, &remote, &path, &md5, kind, files_list.as_deref())?;
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
            let pinned = Pinned { path: &path, file, md5: &md5, kind, size, nfiles: e.nfiles.filter(|_| is_dir) };
            let r = self.rehash(&pinned, &project_root)?;
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
            remote: model_remote,
        })
    }

    /// A directory model's `.dir` listing, when it can be found (the cache, the local remote, else
    /// the cloud remote): checked against its name, and added to the DVC layer.
    fn dir_listing(
        &mut self,
        project: &Project,
        md5: &str,
        kind: Md5Kind,
        remote: &Remote,
        cloud: Option<&crate::remotes::RemoteConfig>,
    ) -> Result<Option<Vec<ModelFile>>> {
        let found = match (project.locate_in(md5, kind, remote), cloud) {
            (Some((_, p)), _) => {
                Some((std::fs::read(&p).with_context(|| format!("{}: cannot read", p.display()))?, p.display().to_string()))
            }
            (None, Some(rc)) => self.cloud_get(project, rc, &crate::remotes::object_key(md5, kind))?,
            (None, None) => None,
        };
        let Some((bytes, from)) = found else { return Ok(None) };
        let listing = dvc::parse_dir_listing(&bytes, &from)?;
        if crate::hashing::md5_hex(&bytes) != md5.trim_end_matches(".dir") {
            bail!("{from}: the `.dir` object does not hash to its name {md5}; the DVC cache or remote is damaged (re-push or re-fetch it)");
        }
        let cache_rel = Project::object_path(std::path::Path::new(".dvc/cache"), md5, kind);
        self.dvc_layer.insert(cache_rel.to_string_lossy().into_owned(), Arc::new(bytes));
        Ok(Some(listing.iter().map(|d| ModelFile { relpath: d.relpath.clone(), md5: d.md5.clone(), sha256: None, size: None }).collect()))
    }

    /// `--verify-models`: re-hash a model's workspace copy (md5 and sha256 in one read); a copy
    /// that differs from its pin is listed as mismatched.
    fn rehash(&mut self, pin: &Pinned, project_root: &std::path::Path) -> Result<dvc::Rehash> {
        let abs = self.root.dir.join(pin.path);
        let bar = self.bar(pin.size);
        let r = dvc::rehash(&abs, pin.kind, project_root, &self.cache, &|n| {
            if let Some(b) = &bar {
                b.inc(n)
            }
        })?;
        if r.md5 != pin.md5 || r.size != pin.size || r.nfiles != pin.nfiles {
            self.mismatched.push(format!(
                "{} ({}): pinned {} ({} bytes) in {}, workspace has {} ({} bytes)",
                pin.path,
                pin.kind.as_str(),
                pin.md5,
                pin.size,
                pin.file,
                r.md5,
                r.size
            ));
        }
        Ok(r)
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

    fn check_presence(
        &mut self,
        project: &Project,
        remote: &Remote,
        path: &str,
        md5: &str,
        kind: Md5Kind,
        listing: Option<&[ModelFile]>,
    ) -> Result<()> {
        let mut absent = Vec::new();
        if project.locate_in(md5, kind, remote).is_none() {
            absent.push(md5.to_string());
        }
        for f in listing.unwrap_or_default() {
            if project.locate_in(&f.md5, kind, remote).is_none() {
                absent.push(format!("{} ({})", f.md5, f.relpath));
            }
        }
        let place = match remote {
            Remote::Local(n, p) => format!("looked in the cache {} and remote `{n}` at {}", project.cache_dir.display(), p.display()),
            _ => format!("looked in the cache {}; no DVC remote is configured", project.cache_dir.display()),
        };
        for a in absent {
            self.missing.push(format!("{path}: {a} ({place})"));
        }
        Ok(())
    }

    fn runtime(&mut self) -> Result<&tokio::runtime::Runtime> {
        if self.rt.is_none() {
            self.rt = Some(crate::remotes::runtime()?);
        }
        Ok(self.rt.as_ref().expect("set above"))
    }

    fn cloud_entry(&mut self, project: &Project, rc: &crate::remotes::RemoteConfig) -> &mut CloudCheck {
        let key = format!("{}\0{}", project.root.display(), rc.name);
        self.cloud.entry(key).or_insert_with(|| CloudCheck {
            config: rc.clone(),
            remote: None,
            pending: Vec::new(),
            models: BTreeSet::new(),
        })
    }

    /// A small object from a cloud remote (a `.dir` listing): `None` if it is not there or the
    /// remote cannot be asked (then the presence check reports that).
    fn cloud_get(&mut self, project: &Project, rc: &crate::remotes::RemoteConfig, key: &str) -> Result<Option<(Vec<u8>, String)>> {
        self.runtime()?;
        let rt = self.rt.take().expect("made above");
        let entry = self.cloud_entry(project, rc);
        let remote = entry.remote.get_or_insert_with(|| crate::remotes::Remote::open(rc, crate::remotes::Patience::check()));
        let got = match remote {
            Ok(r) => match rt.block_on(r.get(key)) {
                Ok(b) => b.map(|b| (b, format!("{} object {key}", r.describe()))),
                Err(f) => {
                    entry.remote = Some(Err(f));
                    None
                }
            },
            Err(_) => None,
        };
        self.rt = Some(rt);
        Ok(got)
    }

    fn cloud_queue(
        &mut self,
        project: &Project,
        rc: &crate::remotes::RemoteConfig,
        path: &str,
        md5: &str,
        kind: Md5Kind,
        listing: Option<&[ModelFile]>,
    ) {
        let entry = self.cloud_entry(project, rc);
        entry.models.insert(path.to_string());
        entry.pending.push((crate::remotes::object_key(md5, kind), format!("{path}: {md5}")));
        for f in listing.unwrap_or_default() {
            entry.pending.push((crate::remotes::object_key(&f.md5, kind), format!("{path}: {} ({})", f.md5, f.relpath)));
        }
    }

    /// Ask every cloud remote about its objects, all at once per remote. A remote that cannot be
    /// asked is an input error with --require-model-check, else a note.
    fn check_cloud(&mut self) -> Result<()> {
        if self.cloud.is_empty() {
            return Ok(());
        }
        self.runtime()?;
        let rt = self.rt.take().expect("made above");
        let checks = std::mem::take(&mut self.cloud);
        for (_, mut c) in checks {
            let remote = c.remote.take().unwrap_or_else(|| crate::remotes::Remote::open(&c.config, crate::remotes::Patience::check()));
            let keys: Vec<String> = c.pending.iter().map(|(k, _)| k.clone()).collect();
            let result = remote.and_then(|r| rt.block_on(r.exists(&keys)));
            match result {
                Ok(found) => {
                    for ((_, what), ok) in c.pending.iter().zip(found) {
                        if !ok {
                            self.missing.push(format!("{what} (not on {})", c.config.describe()));
                        }
                    }
                }
                Err(f) if self.opts.require_model_check => {
                    bail!("{f}; --require-model-check needs every model's objects confirmed on their remote");
                }
                Err(f) => {
                    self.notes.push(format!(
                        "{} object(s) of {} not checked on {}: {f} (pass --require-model-check to fail instead)",
                        c.pending.len(),
                        crate::yaml::list(&c.models, 3),
                        c.config.describe()
                    ));
                }
            }
        }
        self.rt = Some(rt);
        Ok(())
    }
}
