//! Container image references and where their digests come from.

use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;

pub use crate::reference::{ImageRef, is_sha256_digest, valid_tag};

/// Parse `--image NAME=REF@sha256:…`.
pub fn parse_image_flag(s: &str) -> Result<(String, ImageRef)> {
    let (name, r) = s.split_once('=').ok_or_else(|| anyhow!("--image `{s}`: expected NAME=REPOSITORY@sha256:DIGEST"))?;
    let img: ImageRef = r.parse().with_context(|| format!("--image {name}"))?;
    if img.digest.is_none() {
        bail!("--image {name}: `{r}` has no digest; give it as REPOSITORY[:TAG]@sha256:DIGEST");
    }
    Ok((name.to_string(), img))
}

/// Read a `docker buildx build --metadata-file` JSON file: either one build's metadata
/// (`containerimage.digest`, `image.name`), or a `buildx bake` map of target name → metadata.
/// Returns (target or "", image name if recorded, digest).
pub fn read_buildx_metadata(path: &Path) -> Result<Vec<(String, Option<String>, String)>> {
    let bytes = std::fs::read(path).with_context(|| format!("--buildx-metadata {}: cannot read", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| format!("--buildx-metadata {}: not JSON", path.display()))?;
    let one = |m: &serde_json::Value| -> Option<(Option<String>, String)> {
        let d = m.get("containerimage.digest")?.as_str()?.to_string();
        let name = m.get("image.name").and_then(|n| n.as_str()).map(|n| n.split(',').next().unwrap_or(n).to_string());
        Some((name, d))
    };
    let mut out = Vec::new();
    if let Some((name, d)) = one(&v) {
        out.push((String::new(), name, d));
    } else if let Some(map) = v.as_object() {
        for (target, m) in map {
            if let Some((name, d)) = one(m) {
                out.push((target.clone(), name, d));
            }
        }
    }
    if out.is_empty() {
        bail!(
            "--buildx-metadata {}: no `containerimage.digest` found; write it with `docker buildx build --metadata-file FILE`",
            path.display()
        );
    }
    for (t, _, d) in &out {
        if !is_sha256_digest(d) {
            bail!("--buildx-metadata {}: target `{t}`: `containerimage.digest` `{d}` is not a sha256 digest", path.display());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refs() {
        let r: ImageRef = "ghcr.io/acme/ocr:1.2@sha256:0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap();
        assert_eq!(r.registry, "ghcr.io");
        assert_eq!(r.repository, "acme/ocr");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        let r: ImageRef = "localhost:5000/x".parse().unwrap();
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()), ("localhost:5000", "x", None));
        let r: ImageRef = "busybox".parse().unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        assert!("Bad/Name".parse::<ImageRef>().is_err());
        assert!("x@sha256:abc".parse::<ImageRef>().is_err());
    }
}

/// What a registry says about an image reference.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub digest: String,
    /// For an image index / manifest list: (os/arch[/variant], manifest digest) per platform.
    pub platforms: Option<Vec<(String, String)>>,
}

/// Resolves image references for one command: one registry client per registry host, shared by
/// every repository on it (200 components on one registry make one client, not 200).
pub struct Resolver<'t> {
    t: &'t crate::store::registry::Transport,
    open: std::cell::RefCell<std::collections::HashMap<String, crate::store::registry::Registry>>,
}

impl<'t> Resolver<'t> {
    pub fn new(t: &'t crate::store::registry::Transport) -> Resolver<'t> {
        Resolver { t, open: Default::default() }
    }

    /// Resolve an image's tag to a digest (one HEAD, with OCI and Docker Accept types), or confirm
    /// a pinned digest exists; either way read the manifest once to record an index's platforms.
    pub fn resolve(&self, img: &ImageRef) -> Result<Resolved> {
        let reg = {
            let mut open = self.open.borrow_mut();
            match open.get(&img.registry) {
                Some(r) => r.sibling(&img.repository),
                None => {
                    let r = crate::store::registry::Registry::open(&img.registry, &img.repository, self.t)?;
                    let s = r.sibling(&img.repository);
                    open.insert(img.registry.clone(), r);
                    s
                }
            }
        };
        resolve_with(img, &reg)
    }
}

fn resolve_with(img: &ImageRef, reg: &crate::store::registry::Registry) -> Result<Resolved> {
    let d = reg
        .describe_ref(img.tag.as_deref(), img.digest.as_deref())?
        .ok_or_else(|| crate::error::finding(format!("image `{img}` does not exist in its registry")))?;
    if let Some(pinned) = &img.digest
        && &d.digest != pinned
    {
        bail!("image `{img}`: the registry serves {} for the pinned digest", d.digest);
    }
    let mut platforms = None;
    if d.media_type == crate::spec::OCI_INDEX || d.media_type == crate::spec::DOCKER_MANIFEST_LIST {
        use crate::store::Store;
        let bytes = reg.blob(&d)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| format!("image `{img}`: bad index"))?;
        let mut list = Vec::new();
        for m in v.get("manifests").and_then(|m| m.as_array()).into_iter().flatten() {
            let p = m.get("platform");
            let get = |k: &str| p.and_then(|p| p.get(k)).and_then(|x| x.as_str()).unwrap_or("");
            let mut name = format!("{}/{}", get("os"), get("architecture"));
            if !get("variant").is_empty() {
                name = format!("{name}/{}", get("variant"));
            }
            if let Some(dg) = m.get("digest").and_then(|x| x.as_str()) {
                list.push((name, dg.to_string()));
            }
        }
        list.sort();
        platforms = Some(list);
    }
    Ok(Resolved { digest: d.digest, platforms })
}
