//! Helm values that pin a release (the default, Bitnami-style layout: a digest overrides a tag).
//!
//! ```yaml
//! global:
//!   bundle: {ref: REGISTRY/REPO@sha256:…, digest: sha256:…, version: 1.5.0}
//! <component>:
//!   image: {registry: REGISTRY, repository: PATH/NAME, digest: sha256:…}
//!   promptSplits: [{prompt: ID, variants: {default: 70, concise: 30}}]   # only with bundle.yaml `splits`
//! ```

use crate::release::Release;
use anyhow::{Context, Result};
use std::path::Path;

/// Check a values file against a release: every value `bundle values` writes for it (through
/// `map`, when the values were written with `--map`) must be there with that value; the bundle's
/// `ref` may name any repository but must pin this digest. Returns what differs.
pub fn check_values(path: &Path, r: &Release, digest: &str, bundle_ref: &str, map: Option<&Path>) -> Result<Vec<String>> {
    use serde_norway::Value;
    let text = std::fs::read_to_string(path).with_context(|| format!("--values {}: cannot read", path.display()))?;
    let actual: Value = crate::yaml::from_str(&text, path)?;
    // Validate the map the way `values --map` does, then follow it leaf by leaf.
    let map = match map {
        Some(m) => {
            remap(values(r, digest, bundle_ref), m)?;
            let text = std::fs::read_to_string(m).with_context(|| format!("--map {}: cannot read", m.display()))?;
            crate::yaml::from_str::<std::collections::BTreeMap<String, String>>(&text, m)?
        }
        None => Default::default(),
    };
    let f = path.display();
    let mut out = Vec::new();
    for (p, want) in leaves(&values(r, digest, bundle_ref)) {
        let source = p.join(".");
        let key = map.get(&source).cloned().unwrap_or(source.clone());
        let mut cur = Some(&actual);
        for k in key.split('.') {
            cur = cur.and_then(|c| c.get(k));
        }
        // The release's name and version are for people; only what pins content is required.
        let informational = source == "global.bundle.name" || source == "global.bundle.version";
        let want = want.as_str().unwrap_or_default();
        match cur.and_then(|c| c.as_str()) {
            Some(got) if want == bundle_ref && got.ends_with(&format!("@{digest}")) => {}
            Some(got) if got == want => {}
            Some(got) if want == bundle_ref => out.push(format!("{f}: {key} `{got}` does not name {digest}")),
            Some(got) => out.push(format!("{f}: {key} is {got}, the release pins {want}")),
            None if informational => {}
            None => out.push(format!("{f}: {key} is missing")),
        }
    }
    Ok(out)
}

/// Every leaf of a values tree with its key path.
fn leaves(v: &serde_norway::Value) -> Vec<(Vec<String>, serde_norway::Value)> {
    fn walk(v: &serde_norway::Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, serde_norway::Value)>) {
        match v {
            serde_norway::Value::Mapping(m) => {
                for (k, x) in m {
                    path.push(k.as_str().unwrap_or_default().to_string());
                    walk(x, path, out);
                    path.pop();
                }
            }
            other => out.push((path.clone(), other.clone())),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// The values for a release in the default layout (see the module docs), as a YAML mapping.
/// `bundle_ref` is the pullable reference of the bundle, by digest.
pub fn values(r: &Release, digest: &str, bundle_ref: &str) -> serde_norway::Value {
    use serde_norway::{Mapping, Value};
    let s = |v: &str| Value::String(v.to_string());
    let mut bundle = Mapping::new();
    bundle.insert(s("ref"), s(bundle_ref));
    bundle.insert(s("digest"), s(digest));
    bundle.insert(s("name"), s(&r.name));
    bundle.insert(s("version"), s(&r.version));
    let mut global = Mapping::new();
    global.insert(s("bundle"), Value::Mapping(bundle));
    let mut top = Mapping::new();
    top.insert(s("global"), Value::Mapping(global));
    for c in &r.components {
        let mut image = Mapping::new();
        image.insert(s("registry"), s(&c.image.registry));
        image.insert(s("repository"), s(&c.image.repository));
        image.insert(s("digest"), s(&c.image.digest));
        let mut comp = Mapping::new();
        comp.insert(s("image"), Value::Mapping(image));
        if !c.splits.is_empty() {
            comp.insert(s("promptSplits"), prompt_splits(&c.splits));
        }
        top.insert(s(&c.name), Value::Mapping(comp));
    }
    Value::Mapping(top)
}

/// A component's A/B splits as a list (a prompt id has dots, which a values path cannot hold):
/// `[{prompt: ID, variants: {VARIANT: PERCENT, …}}, …]`.
fn prompt_splits(splits: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>>) -> serde_norway::Value {
    use serde_norway::{Mapping, Value};
    let list = splits
        .iter()
        .map(|(id, weights)| {
            let mut m = Mapping::new();
            m.insert(Value::String("prompt".into()), Value::String(id.clone()));
            let v: Mapping = weights.iter().map(|(k, w)| (Value::String(k.clone()), Value::Number((*w).into()))).collect();
            m.insert(Value::String("variants".into()), Value::Mapping(v));
            Value::Mapping(m)
        })
        .collect();
    Value::Sequence(list)
}

/// Apply a `--map` file: YAML `SOURCE.PATH: TARGET.PATH` pairs (spec/values-map.md). Each mapped
/// leaf moves to its target path; unmapped leaves stay where they are.
pub fn remap(values: serde_norway::Value, map_file: &Path) -> Result<serde_norway::Value> {
    use serde_norway::{Mapping, Value};
    let text = std::fs::read_to_string(map_file).with_context(|| format!("--map {}: cannot read", map_file.display()))?;
    let map: std::collections::BTreeMap<String, String> = crate::yaml::from_str(&text, map_file)?;
    let leaves = leaves(&values);
    let known: std::collections::BTreeSet<String> = leaves.iter().map(|(p, _)| p.join(".")).collect();
    for src in map.keys() {
        if !known.contains(src) {
            anyhow::bail!("--map {}: `{src}` is not a value bundle writes (values: {})", map_file.display(), crate::yaml::list(&known, 5));
        }
    }
    let mut out = Value::Mapping(Mapping::new());
    for (path, v) in leaves {
        let key = path.join(".");
        let target = map.get(&key).cloned().unwrap_or(key);
        let parts: Vec<&str> = target.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            anyhow::bail!("--map {}: target `{target}` has an empty path component", map_file.display());
        }
        let mut cur = &mut out;
        for (i, p) in parts.iter().enumerate() {
            let m = match cur {
                Value::Mapping(m) => m,
                _ => anyhow::bail!("--map {}: target `{target}` runs through a value that is not a mapping", map_file.display()),
            };
            let k = Value::String(p.to_string());
            if i + 1 == parts.len() {
                if m.contains_key(&k) {
                    anyhow::bail!("--map {}: two values map to `{target}`", map_file.display());
                }
                m.insert(k, v.clone());
                break;
            }
            if !m.contains_key(&k) {
                m.insert(k.clone(), Value::Mapping(Mapping::new()));
            }
            cur = m.get_mut(&k).expect("just inserted");
        }
    }
    Ok(out)
}
