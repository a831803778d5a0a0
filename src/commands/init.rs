use anyhow::{Result, bail};
use std::path::Path;

pub fn run(dir: &Path, force: bool) -> Result<()> {
    let target = dir.join(crate::bundlefile::FILE_NAME);
    if target.exists() && !force {
        bail!("{}: already exists; pass --force to overwrite it", target.display());
    }
    let text = crate::discover::generate(dir)?;
    // Check what we wrote parses, so init never hands the user a broken file.
    crate::bundlefile::BundleFile::parse(&text, &target)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(&target).map_err(|e| anyhow::anyhow!("{}: cannot write: {}", target.display(), e.error))?;
    eprintln!("wrote {}; pin each image by digest, then run `bundle build {}`", target.display(), dir.display());
    if ignore_output(dir)? {
        eprintln!("added /out/ (where `bundle build` writes by default) to {}", dir.join(".gitignore").display());
    }
    Ok(())
}

/// Add `/out/`, the default output folder, to the monorepo folder's .gitignore (unless an entry
/// covers it already), so a local build leaves the working tree as git found it.
fn ignore_output(dir: &Path) -> Result<bool> {
    let p = dir.join(".gitignore");
    let text = std::fs::read_to_string(&p).unwrap_or_default();
    if text.lines().any(|l| matches!(l.trim(), "/out/" | "/out" | "out/" | "out")) {
        return Ok(false);
    }
    let sep = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, format!("{text}{sep}# bundle build's default output\n/out/\n").as_bytes())?;
    tmp.persist(&p).map_err(|e| anyhow::anyhow!("{}: cannot write: {}", p.display(), e.error))?;
    Ok(true)
}
