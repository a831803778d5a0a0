use crate::release::Release;
use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use anyhow::Result;

pub fn run(reference: &str, json: bool, t: &Transport) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let st = store::open(&r, t)?;
    let desc = store::resolve(st.store(), &r)?;
    let (manifest, record) = crate::artifact::read(st.store(), &desc)?;
    if json {
        let bytes = st.store().blob(&manifest.config)?;
        println!("{}", String::from_utf8_lossy(&bytes));
        return Ok(());
    }
    print!("{}", summary(&record, &desc.digest));
    Ok(())
}

pub fn summary(r: &Release, digest: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "{} {}", r.name, r.version);
    let _ = writeln!(s, "  digest:   {digest}");
    let _ = writeln!(s, "  created:  {}", r.created);
    let src = &r.source;
    let _ = writeln!(
        s,
        "  source:   {}{}{}{}",
        src.repository.as_deref().unwrap_or("(no remote)"),
        src.commit.as_deref().map(|c| format!(" @ {}", &c[..c.len().min(12)])).unwrap_or_default(),
        src.tag.as_deref().map(|t| format!(" (tag {t})")).unwrap_or_default(),
        if src.dirty { " DIRTY" } else { "" }
    );
    let _ = writeln!(s, "  tool:     {} {}", r.tool.name, r.tool.version);
    for c in &r.components {
        let _ = writeln!(s, "component {} ({})", c.name, c.path);
        let _ = writeln!(s, "  image    {}", c.image.pinned());
        for p in c.image.platforms.iter().flatten() {
            let _ = writeln!(s, "    {:<14} {}", p.platform, p.digest);
        }
        for m in &c.models {
            let kind = if m.nfiles.is_some() { format!("{} files", m.nfiles.unwrap_or(0)) } else { "file".into() };
            let _ = writeln!(s, "  model    {} {} {}:{} ({}, {} bytes)", m.name, m.path, m.hash, m.md5, kind, m.size);
        }
        for p in &c.prompts {
            let _ = writeln!(s, "  prompt   {} {} {}", p.key(), p.version, p.path);
        }
        for p in &c.provides {
            let _ = writeln!(s, "  provides {} {} {} ({})", p.api, p.version, p.contract, p.format);
        }
        for p in &c.consumes {
            let _ = writeln!(s, "  consumes {} {} from {} {}", p.api, p.requirement, p.provider, p.version);
        }
    }
    s
}
