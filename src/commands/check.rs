use crate::cli::Input;
use anyhow::Result;

pub fn run(input: &Input, t: &crate::store::registry::Transport) -> Result<()> {
    let c = crate::collect::collect(&input.dir, &super::options(input, t))?;
    super::print_notes(&c.notes);
    let r = &c.release;
    let n = |f: fn(&crate::release::ComponentRecord) -> usize| r.components.iter().map(f).sum::<usize>();
    println!(
        "ok: {} {}: {} components, {} models, {} prompts, {} contracts",
        r.name,
        r.version,
        r.components.len(),
        n(|c| c.models.len()),
        n(|c| c.prompts.len()),
        n(|c| c.provides.len())
    );
    Ok(())
}
