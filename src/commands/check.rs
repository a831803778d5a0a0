use crate::cli::Input;
use crate::discipline::Level;
use anyhow::Result;

/// `output` and `push` are where `build` would write: the previous release is looked for there,
/// exactly as `build` looks (the default output folder when neither is given).
pub fn run(input: &Input, output: Option<&str>, push: Option<&str>, json: bool, t: &crate::store::registry::Transport) -> Result<()> {
    let output = output.map(crate::store::StoreRef::parse).transpose()?;
    let push = push.map(crate::store::StoreRef::parse).transpose()?;
    let mut c = crate::collect::collect(&input.dir, &super::options(input, t))?;
    super::print_notes(&c.notes);
    let out = match output {
        Some(o) => o,
        None => super::default_output(&input.dir, &c.release.name)?,
    };
    let candidates: Vec<crate::store::StoreRef> = push.into_iter().chain(std::iter::once(out)).collect();
    let (findings, previous) = super::discipline(&mut c, input, &candidates, None, t)?;
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let r = &c.release;
    if json {
        let v = serde_json::json!({
            "name": r.name,
            "version": r.version,
            "previous": r.previous,
            "previousVerified": previous.as_ref().map(|p| p.trust.is_ok()),
            "previousLookedIn": candidates.iter().map(|c| c.base()).collect::<Vec<_>>(),
            "ok": errors == 0,
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        super::print_previous(previous.as_ref(), &candidates);
        super::print_findings(&findings);
        let n = |f: fn(&crate::release::ComponentRecord) -> usize| r.components.iter().map(f).sum::<usize>();
        if errors == 0 {
            println!(
                "ok: {} {}: {} components, {} models, {} prompts, {} contracts",
                r.name,
                r.version,
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
