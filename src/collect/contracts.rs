//! Contracts: the APIs each component provides (OpenAPI or JSON Schema, with every file they
//! `$ref`), which provider each `consumes` entry links to at which version, and whether a
//! consumer's restated schemas accept everything its provider may emit.

use super::Ctx;
use crate::bundlefile::{BundleFile, Provide};
use crate::release::*;
use anyhow::{Result, anyhow, bail};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the contract collector gathers across components: the contract layer's files and every
/// parsed document (for the `$ref` and compatibility checks).
#[derive(Default)]
pub(super) struct Gathered {
    pub layer: BTreeMap<String, Arc<Vec<u8>>>,
    docs: crate::compat::Docs,
}

/// The APIs a component provides: each contract loaded once (with what it references), its
/// version from the entry or the document (which must agree).
pub(super) fn provides(
    cx: &mut Ctx,
    g: &mut Gathered,
    cpath: &str,
    entries: &BTreeMap<String, Provide>,
    what: &str,
) -> Result<Vec<ProvideRecord>> {
    let mut provides = Vec::new();
    for (api, p) in entries {
        let fwhat = format!("{what} field `provides.{api}.contract`");
        let rel = crate::paths::join_inside(cpath, &p.contract).map_err(|e| anyhow!("{fwhat}: {e}"))?;
        let mut contract = crate::contracts::load(&cx.root, &mut cx.files, &rel, &fwhat)?;
        g.docs.docs.extend(std::mem::take(&mut contract.docs));
        let version = match (&p.version, &contract.version) {
            (Some(d), Some(i)) if d.to_string() != *i => {
                bail!("{what} field `provides.{api}.version`: declares {d} but {rel} says `info.version: {i}`; keep one of them")
            }
            (Some(d), _) => d.clone(),
            (None, Some(i)) => semver::Version::parse(i)
                .map_err(|e| anyhow!("{rel}: field `info.version`: `{i}` is not a semantic version ({e}); use MAJOR.MINOR.PATCH"))?,
            (None, None) => bail!("{what} field `provides.{api}`: {rel} has no `info.version`; add `version: X.Y.Z` to the entry"),
        };
        let bytes = cx.files.get(&rel).expect("loaded above").clone();
        for r in std::iter::once(&rel).chain(&contract.referenced) {
            g.layer.insert(r.clone(), cx.files.get(r).expect("loaded by contracts::load").clone());
        }
        provides.push(ProvideRecord {
            api: api.clone(),
            version: version.to_string(),
            format: contract.format.as_str().to_string(),
            contract: rel,
            sha256: crate::hashing::sha256_digest(&bytes),
            refs: contract.referenced,
        });
    }
    Ok(provides)
}

/// Link every `consumes` entry to the one component providing its API. Returns the requirements
/// the provider's version does not satisfy; an API without exactly one provider is an input error.
pub(super) fn link_consumers(
    bf: &BundleFile,
    bf_text: &str,
    bf_path: &std::path::Path,
    components: &mut [ComponentRecord],
) -> Result<Vec<String>> {
    let mut providers: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for c in components.iter() {
        for p in &c.provides {
            providers.entry(p.api.clone()).or_default().push((c.name.clone(), p.version.clone()));
        }
    }
    // An API has one provider: the release record, `values` and the version rules key APIs by name.
    if let Some((api, many)) = providers.iter().find(|(_, v)| v.len() > 1) {
        let second = &many[1].0;
        let line = crate::yaml::line_of_key(
            bf_text,
            api,
            crate::yaml::line_of_key(bf_text, second, crate::yaml::line_of_key(bf_text, "components", 1)),
        );
        bail!(
            "{}:{line}: component `{second}` field `provides.{api}`: `{api}` is provided by {}; an API has exactly one provider, so rename all but one",
            bf_path.display(),
            crate::yaml::list(many.iter().map(|(n, _)| format!("`{n}`")), 2)
        );
    }
    let mut unsatisfied = Vec::new();
    for ((name, c), comp) in bf.components.iter().zip(components.iter_mut()) {
        for (api, consume) in &c.consumes {
            let req = &consume.version;
            let what = format!("{}: component `{name}` field `consumes.{api}`", bf_path.display());
            let Some([(provider, ver)]) = providers.get(api.as_str()).map(|v| v.as_slice()) else {
                bail!(
                    "{what}: no component provides `{api}`; add `provides: {{{api}: {{contract: …}}}}` to the providing component, or remove this entry"
                );
            };
            if *provider == name.0 {
                bail!("{what}: `{name}` consumes its own API `{api}`; remove the entry");
            }
            let parsed = semver::Version::parse(ver).expect("validated when collected");
            if !req.matches(&parsed) {
                unsatisfied.push(format!("component `{name}` consumes `{api}` {req}, but `{provider}` provides {ver}"));
            }
            comp.consumes.push(ConsumeRecord {
                api: api.clone(),
                requirement: req.to_string(),
                provider: provider.clone(),
                version: ver.clone(),
                operations: consume.operations.clone(),
            });
        }
    }
    Ok(unsatisfied)
}

/// Every `$ref` resolves (no cycles), and a consumer that restates a provider's schema (same
/// name) accepts everything the provider may emit. Incompatibilities join `unsatisfied`; what
/// cannot be proven compatible is returned (an error only with `--strict`).
pub(super) fn check_fit(g: &Gathered, components: &[ComponentRecord], unsatisfied: &mut Vec<String>) -> Result<Vec<String>> {
    let docs = &g.docs;
    for path in g.layer.keys() {
        docs.check_refs(path).map_err(|e| anyhow!("{path}: {e:#}"))?;
    }
    let mut unproven = Vec::new();
    for c in components {
        for u in &c.consumes {
            let Some(prov) = components.iter().find(|p| p.name == u.provider) else { continue };
            for pc in prov.provides.iter().filter(|p| p.api == u.api) {
                for cc in &c.provides {
                    for (kind, name) in named_schemas(docs, &pc.contract) {
                        let ptr = format!("/{}/{}", kind, name.replace('~', "~0").replace('/', "~1"));
                        let Some(restated) = docs.docs.get(&cc.contract).and_then(|d| d.pointer(&ptr)) else { continue };
                        let cl = crate::compat::Loc::new(&cc.contract, &ptr);
                        // A `$ref` straight to the provider's schema is the same schema: nothing to prove.
                        if restated.get("$ref").is_some() && docs.resolve(&cl).map(|(l, _)| l.file == pc.contract).unwrap_or(false) {
                            continue;
                        }
                        let mut ck = crate::compat::Checker::new(docs);
                        ck.check(&crate::compat::Loc::new(&pc.contract, &ptr), &cl).map_err(|e| anyhow!("{e:#}"))?;
                        for i in ck.issues {
                            let line = format!("{} consumes {}: {} (producer {}): {}", c.name, u.api, i.consumer, i.producer, i.rule);
                            match i.verdict {
                                crate::compat::Verdict::Incompatible => unsatisfied.push(line),
                                crate::compat::Verdict::CannotProve => unproven.push(format!("cannot prove compatible: {line}")),
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(unproven)
}

/// Named schemas of a contract: OpenAPI `components/schemas/*`, JSON Schema `$defs/*` and `definitions/*`.
fn named_schemas(docs: &crate::compat::Docs, file: &str) -> Vec<(String, String)> {
    let Some(d) = docs.docs.get(file) else { return Vec::new() };
    let mut out = Vec::new();
    for (kind, ptr) in [("components/schemas", "/components/schemas"), ("$defs", "/$defs"), ("definitions", "/definitions")] {
        if let Some(m) = d.pointer(ptr).and_then(|v| v.as_object()) {
            out.extend(m.keys().map(|k| (kind.to_string(), k.clone())));
        }
    }
    out
}
