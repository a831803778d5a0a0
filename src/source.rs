//! Source facts from git: commit, tag, commit time, remote URL (without credentials), dirty flag.

use anyhow::{Result, bail};
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, Default)]
pub struct GitInfo {
    pub toplevel: Option<std::path::PathBuf>,
    pub commit: Option<String>,
    pub commit_time: Option<i64>,
    /// Tags pointing at HEAD.
    pub tags: Vec<String>,
    pub remote: Option<String>,
    pub dirty: bool,
    /// What makes the tree dirty (tracked files that differ from the commit, relative to the
    /// repository top), at most 20.
    pub dirty_paths: Vec<String>,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string())
}

/// Remove credentials from a URL (userinfo, secret query values) so they never reach a record or
/// a log ([`crate::redact::url`]).
pub fn strip_credentials(url: &str) -> String {
    crate::redact::url(url)
}

/// Read git facts for the monorepo folder `dir`. The dirty flag covers only files below `dir`.
pub fn inspect(dir: &Path) -> GitInfo {
    let Some(top) = git(dir, &["rev-parse", "--show-toplevel"]) else {
        return GitInfo::default();
    };
    let commit = git(dir, &["rev-parse", "--verify", "-q", "HEAD"]);
    let commit_time = commit.as_ref().and_then(|_| git(dir, &["log", "-1", "--format=%ct"])).and_then(|t| t.parse().ok());
    let tags = commit
        .as_ref()
        .and_then(|_| git(dir, &["tag", "--points-at", "HEAD"]))
        .map(|t| t.lines().map(String::from).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    let remote = git(dir, &["config", "--get", "remote.origin.url"]).map(|u| strip_credentials(&u));
    // Tracked files that differ from the commit. Submodules count whatever their `ignore =`
    // setting says (their files are packed too). Untracked files are not packed (see
    // `files::Files::admit`), so build outputs such as out/ never make the tree dirty.
    let status = git(dir, &["status", "--porcelain", "-z", "--untracked-files=no", "--ignore-submodules=none", "--", "."]);
    let dirty = status.as_ref().is_none_or(|s| !s.is_empty());
    let dirty_paths = status.as_deref().map(status_paths).unwrap_or_default();
    GitInfo { toplevel: Some(top.into()), commit, commit_time, tags, remote, dirty, dirty_paths }
}

/// The paths of `git status --porcelain -z` (a rename's source entry is skipped), at most 20.
fn status_paths(z: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = z.split('\0').filter(|e| !e.is_empty());
    while let Some(e) = it.next() {
        if e.len() > 3 {
            out.push(e[3..].to_string());
        }
        if e.starts_with('R') || e.starts_with('C') {
            it.next();
        }
    }
    out.truncate(20);
    out
}

/// The files git tracks below `dir` (relative to `dir`), submodules included: what a clean clone
/// of the commit holds. None when git cannot say.
pub fn tracked_files(dir: &Path) -> Option<std::collections::HashSet<String>> {
    let out = Command::new("git").arg("-C").arg(dir).args(["ls-files", "-z", "--cached", "--recurse-submodules"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()).map(|p| String::from_utf8_lossy(p).into_owned()).collect())
}

/// Which of `paths` (relative to `dir`) git ignores (.gitignore, info/exclude, core.excludesFile).
pub fn ignored(dir: &Path, paths: &[&str]) -> std::collections::HashSet<String> {
    use std::io::Write;
    let child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["check-ignore", "--stdin", "-z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return Default::default() };
    let input: Vec<u8> = paths.iter().flat_map(|p| p.bytes().chain(std::iter::once(0))).collect();
    // Written from a thread: git answers as it reads, so a long list must not fill both pipes.
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().map(|o| o.stdout).unwrap_or_default();
    let _ = writer.join();
    out.split(|b| *b == 0).filter(|p| !p.is_empty()).map(|p| String::from_utf8_lossy(p).into_owned()).collect()
}

/// The release version: `--version`, else a tag at HEAD named `vX.Y.Z`, `X.Y.Z`, `NAME-vX.Y.Z` or
/// `NAME/vX.Y.Z`; `None` when there is neither. Returns the tag that gave it too.
pub fn release_version(flag: Option<&str>, name: &str, tags: &[String]) -> Result<Option<(semver::Version, Option<String>)>> {
    if let Some(v) = flag {
        let v = v.strip_prefix('v').unwrap_or(v);
        return match semver::Version::parse(v) {
            Ok(ver) => Ok(Some((ver, tags.iter().find(|t| version_of_tag(t, name).is_some()).cloned()))),
            Err(e) => bail!("--version `{v}`: not a semantic version ({e}); use MAJOR.MINOR.PATCH, e.g. 1.4.0"),
        };
    }
    let mut found: Vec<(semver::Version, &String)> = tags.iter().filter_map(|t| version_of_tag(t, name).map(|v| (v, t))).collect();
    found.sort();
    Ok(found.pop().map(|(v, t)| (v, Some(t.clone()))))
}

/// Why there is no release version, and how to give one.
pub fn no_version(name: &str) -> String {
    format!("no release version: HEAD has no tag like v1.2.0 or {name}-v1.2.0; tag the release commit or pass --version 1.2.0")
}

/// The highest release tag (named as [`release_version`] reads them) on a commit before HEAD: the
/// last release of this history, if any.
pub fn last_release_tag(dir: &Path, name: &str) -> Option<(semver::Version, String)> {
    let merged = git(dir, &["tag", "--merged", "HEAD"])?;
    let at_head = git(dir, &["tag", "--points-at", "HEAD"]).unwrap_or_default();
    let at_head: Vec<&str> = at_head.lines().collect();
    merged.lines().filter(|t| !at_head.contains(t)).filter_map(|t| version_of_tag(t, name).map(|v| (v, t.to_string()))).max()
}

fn version_of_tag(tag: &str, name: &str) -> Option<semver::Version> {
    let t = tag.strip_prefix(&format!("{name}-")).or_else(|| tag.strip_prefix(&format!("{name}/"))).unwrap_or(tag);
    semver::Version::parse(t.strip_prefix('v').unwrap_or(t)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(strip_credentials("https://u:p@gitlab.com/a/b.git"), "https://gitlab.com/a/b.git");
        assert_eq!(strip_credentials("git@github.com:a/b.git"), "git@github.com:a/b.git");
    }

    #[test]
    fn versions_from_tags() {
        let tags = vec!["docproc-v1.2.0".to_string(), "other".to_string()];
        assert_eq!(release_version(None, "docproc", &tags).unwrap().unwrap().0.to_string(), "1.2.0");
        assert!(release_version(None, "docproc", &["x".into()]).unwrap().is_none());
        assert!(release_version(Some("1.2"), "docproc", &[]).is_err());
        assert_eq!(release_version(Some("v2.0.0"), "d", &[]).unwrap().unwrap().0.to_string(), "2.0.0");
    }
}
