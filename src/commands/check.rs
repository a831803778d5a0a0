use crate::cli::Input;
use crate::discipline::Level;
use anyhow::Result;

pub fn run(input: &Input, json: bool, t: &crate::store::registry::Transport) -> Result<()> {
    let mut c = crate::collect::collect(&input.dir, &super::options(input, t))?;
    super::print_notes(&c.notes);
    let (findings, previous) = super::discipline(&mut c, input.previous.as_deref(), &[], t)?;
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let r = &c.release;
    if json {
        let v = serde_json::json!({
            "name": r.name,
            "version": r.version,
            "previous": r.previous,
            "ok": errors == 0,
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        if let Some(p) = &previous {
            eprintln!("previous release: {p}");
        }
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
