//! Images: each component's image pinned by digest, from bundle.yaml, `--image` or
//! `--buildx-metadata`, resolved once when only a tag is given.

use super::Options;
use crate::bundlefile::BundleFile;
use crate::images::{self, ImageRef};
use crate::release::*;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;

/// Digests given on the command line: component name → image.
pub(super) fn overrides(opts: &Options, bf: &BundleFile) -> Result<BTreeMap<String, (ImageRef, &'static str)>> {
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

/// A component's image record: the override or bundle.yaml's reference, its digest pinned (a tag is
/// resolved once), and with `--check-images` its digest confirmed and its platforms recorded.
pub(super) fn resolve(
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
