use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use anyhow::Result;
use std::path::Path;

pub fn run(reference: &str, output: Option<&Path>, map: Option<&Path>, trust: &crate::cli::Trust, json: bool, t: &Transport) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let st = store::open(&r, t)?;
    // Resolve once: the values pin this digest, whatever the tag does later.
    let desc = store::resolve(st.store(), &r)?;
    let pinned = r.pinned(&desc.digest);
    if !trust.signers.given() {
        eprintln!("warning: the values were NOT verified (no --key): they come from an unchecked release record");
    } else {
        // The identity to check is the repository named (from `r`), even though we verify by digest.
        let o = super::verify_options(&r, trust, t)?;
        super::require_verified(&st, &pinned, o)?;
    }
    let (_, record) = crate::artifact::read(st.store(), &desc)?;
    let mut v = crate::helm::values(&record, &desc.digest, &pinned.to_string());
    if let Some(m) = map {
        v = crate::helm::remap(v, m)?;
    }
    let text = if json {
        format!("{}\n", serde_json::to_string_pretty(&v)?)
    } else {
        format!(
            "# Helm values pinning {} {} ({}), written by bundle values\n{}",
            record.name,
            record.version,
            desc.digest,
            serde_norway::to_string(&v)?
        )
    };
    match output {
        None => print!("{text}"),
        Some(p) => {
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            std::io::Write::write_all(&mut tmp, text.as_bytes())?;
            tmp.persist(p).map_err(|e| anyhow::anyhow!("{}: cannot write: {}", p.display(), e.error))?;
            eprintln!("wrote {} for {} {} ({})", p.display(), record.name, record.version, desc.digest);
        }
    }
    Ok(())
}
