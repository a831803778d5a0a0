//! `bundle check`: every collection step and check of `build`, nothing written. It runs before
//! anyone tags (merge-request pipelines), so a missing release version is not an error: what could
//! not be checked without one is said instead.

use crate::cli::Input;
use crate::collect::Collected;
use crate::discipline::Level;
use crate::store::StoreRef;
use crate::store::registry::Transport;
use anyhow::Result;

/// `output` and `push` are where `build` would write: the previous release is looked for there,
/// exactly as `build` looks (the default output folder when neither is given).
pub fn run(input: &Input, output: Option<&str>, push: Option<&str>, json: bool, t: &Transport) -> Result<()> {
    let output = output.map(StoreRef::parse).transpose()?;
    let push = push.map(StoreRef::parse).transpose()?;
    let opts = crate::collect::Options { version_optional: true, ..super::options(input, t) };
    let mut c = crate::collect::collect(&input.dir, &opts)?;
    super::print_notes(&c.notes);
    super::verify_images(&mut c, input, t)?;
    let out = match output {
        Some(o) => o,
        None => super::default_output(&input.dir, &c.release.name)?,
    };
    let candidates: Vec<StoreRef> = push.into_iter().chain(std::iter::once(out)).collect();
    let (findings, previous) = super::discipline(&mut c, input, &candidates, None, t)?;
    let not_checked = not_checked(&c, input, previous.is_some(), &candidates, t)?;
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let r = &c.release;
    if json {
        let v = serde_json::json!({
            "name": r.name,
            "version": c.version.as_ref().map(|v| v.to_string()),
            "previous": r.previous,
            "previousVerified": previous.as_ref().map(|p| p.trust.is_ok()),
            "previousLookedIn": candidates.iter().map(|c| c.base()).collect::<Vec<_>>(),
            "ok": errors == 0,
            "notChecked": not_checked,
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        if not_checked.is_empty() {
            super::print_previous(previous.as_ref(), &candidates);
        }
        for n in &not_checked {
            eprintln!("not checked: {n}");
        }
        super::print_findings(&findings);
        let n = |f: fn(&crate::release::ComponentRecord) -> usize| r.components.iter().map(f).sum::<usize>();
        if errors == 0 {
            println!(
                "ok: {} {}: {} components, {} models, {} prompts, {} contracts",
                r.name,
                c.version.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "(no release version)".into()),
                r.components.len(),
                n(|c| c.models.len()),
                n(|c| c.prompts.len()),
                n(|c| c.provides.len())
            );
        }
    }
    if errors > 0 {
        return Err(crate::error::finding(format!("{errors} error-level finding(s) against the previous release")));
    }
    Ok(())
}

/// The checks that did not run, each with why and how to run it. Without a release version (and
/// without `--previous`) the version bump rules do not run: the previous release is the highest one
/// below this version. What they would run against is the latest release where `build` writes,
/// else the last release tag in the git history.
fn not_checked(c: &Collected, input: &Input, has_previous: bool, candidates: &[StoreRef], t: &Transport) -> Result<Vec<String>> {
    if has_previous || c.version.is_some() {
        return Ok(Vec::new());
    }
    let name = &c.release.name;
    let why = crate::source::no_version(name);
    let against = match (super::highest_release(None, candidates, t)?, crate::source::last_release_tag(&input.dir, name)) {
        (Some(r), _) => format!(
            "they would run against {r}, the latest release there (if this release's version is above it); pass --version, or --previous {r}, to run them now"
        ),
        (None, Some((v, tag))) => format!(
            "they would run against release {v}, the last release tag in the git history (`{tag}`), but no release was found in {}; pass --previous with its artifact to run them now",
            crate::yaml::list(candidates.iter().map(|c| c.base()), 3)
        ),
        (None, None) => format!(
            "no previous release was found in {} nor a release tag in the git history, so there is nothing to run them against",
            crate::yaml::list(candidates.iter().map(|c| c.base()), 3)
        ),
    };
    Ok(vec![format!("version bump rules (prompt and API versions against the previous release): {why}; {against}")])
}
