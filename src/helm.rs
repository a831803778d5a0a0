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
    if let Some(rf) = get(&["global", "bundle", "ref"])
        && !rf.ends_with(&format!("@{digest}"))
    {
        out.push(format!("{f}: global.bundle.ref `{rf}` does not name {digest}"));
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
    let mut leaves: Vec<(Vec<String>, Value)> = Vec::new();
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
        match v {
            Value::Mapping(m) => {
                for (k, x) in m {
                    path.push(k.as_str().unwrap_or_default().to_string());
                    walk(x, path, out);
                    path.pop();
                }
            }
            other => out.push((path.clone(), other.clone())),
        }
    }
    walk(&values, &mut Vec::new(), &mut leaves);
    let known: std::collections::BTreeSet<String> = leaves.iter().map(|(p, _)| p.join(".")).collect();
    for src in map.keys() {
        if !known.contains(src) {
            anyhow::bail!("--map {}: `{src}` is not a value bundle writes (values: {})", map_file.display(), crate::error::list(&known));
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
