use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use crate::verify::{self, Options};
use anyhow::Result;
use std::path::PathBuf;

#[allow(clippy::too_many_arguments)]
pub fn run(
    reference: &str,
    keys: &[PathBuf],
    min_signers: usize,
    identity: Option<String>,
    check_images: bool,
    values: Option<PathBuf>,
    json: bool,
    t: &Transport,
) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    if min_signers == 0 || min_signers > keys.len() {
        anyhow::bail!("--min-signers {min_signers}: give a number from 1 to the number of --key files ({})", keys.len());
    }
    let keys = keys.iter().map(|k| crate::signing::load_public_key(k)).collect::<Result<Vec<_>>>()?;
    let st = store::open(&r, t)?;
    let o = Options { keys, min_signers, identity, check_images, values, transport: t.clone() };
    let report = verify::verify(&st, &r, &o)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", verify::render(&report));
    }
    if report.verified {
        Ok(())
    } else {
        let failed: Vec<&str> = report.checks.iter().filter(|c| c.status == "fail").map(|c| c.name).collect();
        Err(crate::error::finding(format!("{} is not verified: {} failed", report.digest, failed.join(", "))))
    }
}
