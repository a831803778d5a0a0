//! `bundle check`: every collection step and check of `build`, nothing written. It runs before
//! anyone tags (merge-request pipelines), so a missing release version is not an error: what could
//! not be checked without one is said instead.

use crate::cli::Input;
use crate::collect::Collected;
use crate::discipline::Level;
use anyhow::Result;

pub fn run(input: &Input, json: bool, t: &crate::store::registry::Transport) -> Result<()> {
    let opts = crate::collect::Options { version_optional: true, ..super::options(input, t) };
    let mut c = crate::collect::collect(&input.dir, &opts)?;
    super::print_notes(&c.notes);
    let (findings, previous) = super::discipline(&mut c, input.previous.as_deref(), &[], t)?;
    let not_checked = not_checked(&c, input, previous.is_some());
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let r = &c.release;
    if json {
        let v = serde_json::json!({
            "name": r.name,
            "version": c.version.as_ref().map(|v| v.to_string()),
            "previous": r.previous,
            "ok": errors == 0,
            "notChecked": not_checked,
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        if let Some(p) = &previous {
            eprintln!("previous release: {p}");
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

/// The checks that did not run, each with why and how to run it. The version bump rules (prompt
/// and API versions against the previous release) need a previous release: `--previous`. Without
/// one, the last release tag in the git history says which release they would run against.
fn not_checked(c: &Collected, input: &Input, has_previous: bool) -> Vec<String> {
    if has_previous {
        return Vec::new();
    }
    let name = &c.release.name;
    let why = match &c.version {
        None => crate::source::no_version(name),
        Some(_) => "no previous release: pass --previous REF".to_string(),
    };
    let against = match crate::source::last_release_tag(&input.dir, name) {
        Some((v, tag)) => format!(
            "they would run against release {v}, the last release tag in the git history (`{tag}`); pass --previous with its artifact (REGISTRY/REPO:{v} or oci:DIR:{v}) to run them now"
        ),
        None => "no earlier release tag was found in the git history, so there is no previous release to run them against".to_string(),
    };
    vec![format!("version bump rules (prompt and API versions against the previous release): {why}; {against}")]
}
