//! Helm values that pin a release (the default, Bitnami-style layout: a digest overrides a tag).
//!
//! ```yaml
//! global:
//!   bundle: {ref: REGISTRY/REPO@sha256:…, digest: sha256:…, version: 1.5.0}
//! <component>:
//!   image: {registry: REGISTRY, repository: PATH/NAME, digest: sha256:…}
//! ```

use crate::release::Release;
use anyhow::{Context, Result};
use std::path::Path;

/// Compare a values file with a release; returns one message per mismatch.
pub fn check_values(path: &Path, r: &Release, digest: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--values {}: cannot read", path.display()))?;
    let v: serde_norway::Value = crate::yaml::from_str(&text, path)?;
    let get = |p: &[&str]| -> Option<String> {
        let mut cur = &v;
        for k in p {
            cur = cur.get(*k)?;
        }
        cur.as_str().map(String::from)
    };
    let f = path.display();
    let mut out = Vec::new();
    match get(&["global", "bundle", "digest"]) {
        Some(d) if d == digest => {}
        Some(d) => out.push(format!("{f}: global.bundle.digest is {d}, the release is {digest}")),
        None => out.push(format!("{f}: global.bundle.digest is missing")),
    }
    if let Some(rf) = get(&["global", "bundle", "ref"]) {
        if !rf.ends_with(&format!("@{digest}")) {
            out.push(format!("{f}: global.bundle.ref `{rf}` does not name {digest}"));
        }
    }
    for c in &r.components {
        for (field, want) in [("digest", &c.image.digest), ("registry", &c.image.registry), ("repository", &c.image.repository)] {
            match get(&[&c.name, "image", field]) {
                Some(got) if &got == want => {}
                Some(got) => out.push(format!("{f}: {}.image.{field} is {got}, the release pins {want}", c.name)),
                None => out.push(format!("{f}: {}.image.{field} is missing", c.name)),
            }
        }
    }
    Ok(out)
}
