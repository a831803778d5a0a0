//! Prompts: the files each component's globs match, parsed in any supported format, with the
//! bundle.yaml checks over them (`splits`, `promptLimits`).

use super::{Ctx, rel_join};
use crate::files;
use crate::release::*;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the prompt collector gathers across components: ids in use, template sizes (for
/// `promptLimits`) and the prompt layer's files.
#[derive(Default)]
pub(super) struct Gathered {
    ids: BTreeMap<String, String>,
    /// (prompt id, file, template characters).
    pub sizes: Vec<(String, String, u64)>,
    pub layer: Vec<(String, Arc<Vec<u8>>)>,
}

/// The prompts of a component: every file its globs match (git-ignored files skipped), parsed in
/// its format, versioned and hashed; a prompt id (and variant) is unique in the release.
pub(super) fn collect(cx: &mut Ctx, g: &mut Gathered, cpath: &str, globs: &[String], what: &str) -> Result<Vec<PromptRecord>> {
    let mut prompts = Vec::new();
    for rel in cx.prompt_files(cpath, globs, what)? {
        let bytes = cx.files.read(&cx.root, &rel, what)?;
        let p = crate::prompts::parse(files::text(&bytes, &rel)?, std::path::Path::new(&rel))?;
        g.sizes.push((p.id.clone(), rel.clone(), p.template_chars()));
        let record = PromptRecord {
            id: p.id,
            variant: p.variant,
            version: p.version.to_string(),
            format: p.format.record_name().map(String::from),
            path: rel.clone(),
            sha256: crate::hashing::sha256_digest(&bytes),
        };
        if let Some(other) = g.ids.insert(record.key(), rel.clone()) {
            let what = match &record.variant {
                Some(v) => format!("prompt id `{}` with variant `{v}`", record.id),
                None => format!("prompt id `{}`", record.id),
            };
            bail!("{rel}: field `id`: {what} is already used by {other}; a prompt id (and variant) must be unique in a release");
        }
        prompts.push(record);
        g.layer.push((rel, bytes));
    }
    prompts.sort_by(|a, b| (&a.id, &a.variant).cmp(&(&b.id, &b.variant)));
    Ok(prompts)
}

/// The `FILE:LINE` of a key below a component in bundle.yaml.
fn component_key_at(text: &str, file: &std::path::Path, component: &str, keys: &[&str]) -> String {
    let from = crate::yaml::line_of_key(text, component, crate::yaml::line_of_key(text, "components", 1));
    format!("{}:{}", file.display(), keys.iter().fold(from, |l, k| crate::yaml::line_of_key(text, k, l)))
}

/// Each split names prompts of its component and their variants (`default`: the file without one).
pub(super) fn check_splits(
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
pub(super) fn over_limits(
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

impl Ctx<'_> {
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
