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
    Ok(())
}
