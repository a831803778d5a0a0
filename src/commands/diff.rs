use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use anyhow::Result;
use std::path::Path;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub fn run(a: &str, b: &str, format: Format, signers: &crate::cli::Signers, repo: Option<&Path>, t: &Transport) -> Result<()> {
    let (ra, rb) = (StoreRef::parse(a)?, StoreRef::parse(b)?);
    signers.check_named()?;
    // With signers named, each side is checked against identities the caller gave: its own
    // registry repository, and any --identity (which a layout needs); never against its own record.
    let policy = |r: &StoreRef| -> Result<Option<crate::trust::Policy>> {
        if !signers.given() {
            return Ok(None);
        }
        let mut identities = signers.identity.clone();
        if matches!(r, StoreRef::Registry { .. }) || identities.is_empty() {
            identities.extend(crate::trust::policy::identities(r, &[])?);
        }
        Ok(Some(crate::trust::Policy::of_signers(signers, identities)?))
    };
    let (pa, pb) = (policy(&ra)?, policy(&rb)?);
    let la = crate::diff::load(&store::open(&ra, t)?, &ra, pa.as_ref())?;
    let lb = crate::diff::load(&store::open(&rb, t)?, &rb, pb.as_ref())?;
    let d = crate::diff::diff(la, lb, repo);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&d)?),
        Format::Markdown => print!("{}", crate::diff::render(&d, true, false)),
        Format::Text => {
            use std::io::IsTerminal;
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", crate::diff::render(&d, false, color));
        }
    }
    if d.identical { Ok(()) } else { Err(crate::error::Quiet::new(1).into()) }
}
