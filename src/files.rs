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
}

impl Files {
    /// Read `rel` (repository-relative) once; later calls return the same bytes.
    /// `what` names the referring file and field for errors.
    pub fn read(&mut self, root: &Root, rel: &str, what: &str) -> Result<Arc<Vec<u8>>> {
        if let Some(b) = self.map.get(rel) {
            return Ok(b.clone());
        }
        let p = root.resolve(rel, what)?;
        let meta = std::fs::metadata(&p).with_context(|| format!("{what}: cannot read `{rel}`"))?;
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
