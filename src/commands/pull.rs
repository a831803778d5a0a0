use crate::extract::{self, Limits, Only};
use crate::release::{ComponentRecord, Release};
use crate::spec::*;
use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use anyhow::{Result, anyhow, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn kind_of(title: &str) -> Option<Only> {
    match title {
        TITLE_PROMPTS => Some(Only::Prompts),
        TITLE_CONTRACTS => Some(Only::Contracts),
        TITLE_DVC => Some(Only::Dvc),
        _ => None,
    }
}

/// Every prompt and contract the record names must be in the layers, with the recorded sha256.
fn cross_check(record: &Release, files: &BTreeMap<String, Vec<u8>>, comp: Option<&ComponentRecord>, only: &BTreeSet<Only>) -> Result<()> {
    let comps: Vec<&ComponentRecord> = match comp {
        Some(c) => vec![c],
        None => record.components.iter().collect(),
    };
    let mut expected: Vec<(&str, &str)> = Vec::new();
    for c in comps {
        if only.is_empty() || only.contains(&Only::Prompts) {
            expected.extend(c.prompts.iter().map(|p| (p.path.as_str(), p.sha256.as_str())));
        }
        if only.is_empty() || only.contains(&Only::Contracts) {
            expected.extend(c.provides.iter().map(|p| (p.contract.as_str(), p.sha256.as_str())));
        }
    }
    for (path, sha) in expected {
        let Some(b) = files.get(path) else { bail!("the release record names `{path}`, but its layer does not hold it") };
        if crate::hashing::sha256_digest(b) != sha {
            bail!("`{path}` in the layer does not match the sha256 in the release record");
        }
    }
    Ok(())
}

/// What to pull and where: `pull`'s flags.
pub struct Request<'a> {
    pub output: &'a Path,
    pub component: Option<&'a str>,
    pub only: &'a [Only],
    /// Replace a non-empty output folder.
    pub force: bool,
    pub json: bool,
    /// Fetch model weights from their DVC remotes instead of the layers' files.
    pub models: bool,
    pub dvc_remote: Option<&'a str>,
}

pub fn run(reference: &str, req: &Request, trust: &crate::cli::Trust, t: &Transport) -> Result<()> {
    let Request { output, component, only, force, json, models, dvc_remote } = *req;
    let r = StoreRef::parse(reference)?;
    let st = store::open(&r, t)?;
    // Resolve once; with --key, verify that digest and pull exactly it.
    let desc = store::resolve(st.store(), &r)?;
    if trust.signers.given() {
        // Verify exactly this digest; the signatures must name the repository given (from `r`).
        let o = super::verify_options(&r, trust, t)?;
        super::require_verified(&st, &r.pinned(&desc.digest), o)?;
    }
    let (m, record) = crate::artifact::read(st.store(), &desc)?;
    let comp = match component {
        Some(n) => Some(record.components.iter().find(|c| c.name == n).ok_or_else(|| {
            anyhow!(
                "--component {n}: the release has no such component (components: {})",
                crate::yaml::list(record.components.iter().map(|c| c.name.as_str()), 5)
            )
        })?),
        None => None,
    };
    if models {
        let comps: Vec<&ComponentRecord> = match comp {
            Some(c) => vec![c],
            None => record.components.iter().collect(),
        };
        let s = crate::fetch::models(&record, &comps, output, dvc_remote)?;
        if json {
            let more = serde_json::json!({"models": s.models, "files": s.files, "fetched": s.fetched, "fetchedBytes": s.fetched_bytes, "kept": s.kept});
            print_json(&desc, &record, output, more)?;
        } else {
            println!(
                "{} model file(s) of {} {} ({}) in {}: {} fetched ({} bytes), {} already in place and verified",
                s.files.len(),
                record.name,
                record.version,
                desc.digest,
                output.display(),
                s.fetched,
                s.fetched_bytes,
                s.kept
            );
        }
        return Ok(());
    }
    let only: BTreeSet<Only> = only.iter().copied().collect();
    let allowed = comp.map(crate::artifact::component_paths);
    // Every file a layer holds must be one the record names (for some component).
    let named = crate::artifact::named_paths(&record);
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let limits = Limits::default();
    let wanted: Vec<&crate::oci::Descriptor> = m
        .layers
        .iter()
        .filter(|layer| {
            let title = layer.annotation(ANN_TITLE).unwrap_or("");
            match kind_of(title) {
                Some(k) => only.is_empty() || only.contains(&k),
                None => only.is_empty() && comp.is_none() && title == TITLE_BUNDLE_FILE,
            }
        })
        .collect();
    // Fetched together; digest and size are checked before anything is unpacked or written.
    let fetched = st.store().blobs(&wanted);
    for (layer, bytes) in wanted.into_iter().zip(fetched) {
        let bytes = bytes?;
        let title = layer.annotation(ANN_TITLE).unwrap_or("");
        let kind = kind_of(title);
        if kind.is_none() {
            files.insert(TITLE_BUNDLE_FILE.to_string(), bytes);
            continue;
        }
        for (path, b) in extract::entries(&bytes, &format!("{} layer {title}", st.store().describe()), &limits)? {
            crate::artifact::check_named(&named, &st.store().describe(), title, &path)?;
            if allowed.as_ref().is_some_and(|a| !a.contains(&path)) {
                continue;
            }
            files.insert(path, b);
        }
    }
    cross_check(&record, &files, comp, &only)?;
    extract::write_tree(output, &files, force)?;
    if json {
        print_json(&desc, &record, output, serde_json::json!({"files": files.keys().collect::<Vec<_>>()}))?;
    } else {
        println!("wrote {} file(s) of {} {} ({}) to {}", files.len(), record.name, record.version, desc.digest, output.display());
    }
    Ok(())
}

/// The `--json` report of a pull: which release went where, and what `more` says was written.
fn print_json(desc: &crate::oci::Descriptor, record: &Release, output: &Path, more: serde_json::Value) -> Result<()> {
    let mut v = serde_json::json!({
        "digest": desc.digest,
        "name": record.name,
        "version": record.version,
        "output": output.display().to_string(),
    });
    if let (Some(v), serde_json::Value::Object(m)) = (v.as_object_mut(), more) {
        v.extend(m);
    }
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
