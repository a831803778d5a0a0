//! Every monorepo file a release packs is read once, here, and kept for hashing and packing.

use crate::paths::Root;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest single file packed into a layer (prompts, contracts, DVC pointer files).
pub const MAX_FILE: u64 = 16 << 20;

#[derive(Default)]
pub struct Files {
    map: BTreeMap<String, Arc<Vec<u8>>>,
    /// The files git tracks (relative to the monorepo folder); None outside git (`--no-git`).
    tracked: Option<std::collections::HashSet<String>>,
    /// Accept untracked files (`--allow-dirty`); ignored files never are.
    allow_untracked: bool,
    /// An untracked file was read: the release is not what the commit holds.
    pub read_untracked: bool,
}

impl Files {
    /// Files that read only what git tracks: a release holds what a clean clone of the commit
    /// holds, never an ignored or untracked file (a local override, a token) that happens to lie
    /// in the working tree. With `allow_untracked`, untracked files are read (the tree is dirty
    /// and the release says so); ignored files never are.
    pub fn tracked(tracked: Option<std::collections::HashSet<String>>, allow_untracked: bool) -> Files {
        Files { map: BTreeMap::new(), tracked, allow_untracked, read_untracked: false }
    }

    /// Whether `rel` may be packed: Ok, or why not (untracked, ignored).
    pub fn admit(&self, root: &Root, rel: &str) -> std::result::Result<(), String> {
        let Some(t) = &self.tracked else { return Ok(()) };
        if t.contains(rel) {
            return Ok(());
        }
        if !crate::source::ignored(&root.dir, &[rel]).is_empty() {
            return Err(format!(
                "`{rel}` is ignored by git (see `git check-ignore -v {rel}`), so a clean clone of the commit does not have it; \
                 a release packs only tracked files: `git add -f` it if it belongs in the release"
            ));
        }
        if self.allow_untracked {
            return Ok(());
        }
        Err(format!(
            "`{rel}` is not tracked by git, so a clean clone of the commit does not have it; `git add` and commit it, or pass --allow-dirty (recorded)"
        ))
    }

    /// Whether git tracks `rel` (always true outside git).
    pub fn is_tracked(&self, rel: &str) -> bool {
        self.tracked.as_ref().is_none_or(|t| t.contains(rel))
    }

    /// Read `rel` (repository-relative) once; later calls return the same bytes.
    /// `what` names the referring file and field for errors.
    pub fn read(&mut self, root: &Root, rel: &str, what: &str) -> Result<Arc<Vec<u8>>> {
        if let Some(b) = self.map.get(rel) {
            return Ok(b.clone());
        }
        let p = root.resolve(rel, what)?;
        let meta = std::fs::metadata(&p).with_context(|| format!("{what}: cannot read `{rel}`"))?;
        if let Err(why) = self.admit(root, rel) {
            bail!("{what}: {why}");
        }
        if !self.is_tracked(rel) {
            self.read_untracked = true;
        }
        if !meta.is_file() {
            bail!("{what}: `{rel}` is not a regular file");
        }
        if meta.len() > MAX_FILE {
            bail!("{what}: `{rel}` is {} bytes, over the {} MiB limit for packed files", meta.len(), MAX_FILE >> 20);
        }
        let b = Arc::new(std::fs::read(&p).with_context(|| format!("{what}: cannot read `{rel}`"))?);
        self.map.insert(rel.to_string(), b.clone());
        Ok(b)
    }

    pub fn get(&self, rel: &str) -> Option<&Arc<Vec<u8>>> {
        self.map.get(rel)
    }
}

/// Bytes as UTF-8 text, with an error naming the file.
pub fn text<'a>(bytes: &'a [u8], rel: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).with_context(|| format!("{rel}: not UTF-8 text"))
}
