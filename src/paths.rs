//! Path rules: every path a release names is relative, uses `/`, and stays inside the monorepo,
//! also after following symlinks.

use anyhow::{Context, Result, bail};
use std::path::{Component, Path, PathBuf};

/// Check a relative POSIX path from an untrusted document (a bundle file, a `.dir` listing, a tar
/// entry): no absolute path, no `..`, no `.`-only or empty components, no NUL or backslash.
pub fn check_relative(p: &str) -> Result<()> {
    if p.is_empty() {
        bail!("empty path");
    }
    if p.starts_with('/') {
        bail!("`{p}` is absolute; use a path relative to the repository");
    }
    if p.contains('\0') {
        bail!("`{p}` contains a NUL byte");
    }
    for c in p.split('/') {
        if c == ".." {
            bail!("`{p}` contains `..`");
        }
        if c.is_empty() || c == "." {
            bail!("`{p}` has an empty or `.` component");
        }
    }
    Ok(())
}

/// Join `rel` (which may contain `..`) onto the repository-relative folder `base`, lexically,
/// and refuse a result outside the repository. Returns the normalised repository-relative path.
pub fn join_inside(base: &str, rel: &str) -> Result<String> {
    if rel.starts_with('/') || Path::new(rel).is_absolute() {
        bail!("`{rel}` is absolute; paths must be relative and stay inside the repository");
    }
    let mut parts: Vec<&str> = base.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    bail!("`{rel}` (from `{}`) escapes the repository", if base.is_empty() { "." } else { base });
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        bail!("`{rel}` names the repository root itself");
    }
    Ok(parts.join("/"))
}

/// The parent folder of a repository-relative path ("" at the top).
pub fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// A monorepo root, canonicalised, that resolves repository-relative paths and refuses symlinks
/// that lead outside it.
#[derive(Debug, Clone)]
pub struct Root {
    pub dir: PathBuf,
}

impl Root {
    pub fn new(dir: &Path) -> Result<Root> {
        let dir = dir.canonicalize().with_context(|| format!("{}: cannot open the monorepo folder", dir.display()))?;
        Ok(Root { dir })
    }

    /// The absolute path of a repository-relative path, after checking that (following every symlink)
    /// it stays inside the root. `what` names the referring file and field for errors.
    pub fn resolve(&self, rel: &str, what: &str) -> Result<PathBuf> {
        let p = self.dir.join(rel);
        let real = p.canonicalize().with_context(|| format!("{what}: `{rel}` does not exist"))?;
        if !real.starts_with(&self.dir) {
            bail!("{what}: `{rel}` is a symlink to {} outside the repository; copy the file into the repository instead", real.display());
        }
        Ok(p)
    }

    /// The repository-relative form of an absolute path below the root.
    pub fn rel(&self, abs: &Path) -> Option<String> {
        let r = abs.strip_prefix(&self.dir).ok()?;
        let mut out = Vec::new();
        for c in r.components() {
            match c {
                Component::Normal(s) => out.push(s.to_str()?.to_string()),
                _ => return None,
            }
        }
        Some(out.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_rules() {
        assert_eq!(join_inside("components/ocr", "models/x.dvc").unwrap(), "components/ocr/models/x.dvc");
        assert_eq!(join_inside("components/ocr", "../shared/a").unwrap(), "components/shared/a");
        assert!(join_inside("components/ocr", "../../../etc/passwd").is_err());
        assert!(join_inside("a", "/etc/passwd").is_err());
        assert!(check_relative("a/../b").is_err());
        assert!(check_relative("a/./b").is_err());
        assert!(check_relative("a/b").is_ok());
    }
}
