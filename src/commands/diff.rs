use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use anyhow::Result;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub fn run(a: &str, b: &str, format: Format, keys: &[PathBuf], repo: Option<&Path>, t: &Transport) -> Result<()> {
    let (ra, rb) = (StoreRef::parse(a)?, StoreRef::parse(b)?);
    let keys = keys.iter().map(|k| crate::signing::load_public_key(k)).collect::<Result<Vec<_>>>()?;
    let keys = if keys.is_empty() { None } else { Some(keys.as_slice()) };
    let la = crate::diff::load(&store::open(&ra, t)?, &ra, keys)?;
    let lb = crate::diff::load(&store::open(&rb, t)?, &rb, keys)?;
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
