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
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string())
}

/// Remove `user:password@` from a URL so credentials never reach a record or a log.
pub fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (auth_host, path) = rest.split_once('/').map(|(a, p)| (a, Some(p))).unwrap_or((rest, None));
        let host = auth_host.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth_host);
        match path {
            Some(p) => format!("{scheme}://{host}/{p}"),
            None => format!("{scheme}://{host}"),
        }
    } else {
        url.to_string()
    }
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
    let dirty = git(dir, &["status", "--porcelain", "--untracked-files=normal", "--", "."]).is_none_or(|s| !s.is_empty());
    GitInfo { toplevel: Some(top.into()), commit, commit_time, tags, remote, dirty }
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
