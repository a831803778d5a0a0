use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use crate::verify::{self, Options};
use anyhow::Result;
use std::path::PathBuf;

pub fn run(
    reference: &str,
    trust: &crate::cli::Trust,
    check_images: bool,
    values: Option<PathBuf>,
    values_map: Option<PathBuf>,
    policy: Option<(PathBuf, String)>,
    json: bool,
    t: &Transport,
) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let o = match policy {
        None => Options { check_images, values, values_map, ..super::verify_options(&r, trust, t)? },
        Some((file, env)) => Options { check_images, values, values_map, ..super::policy_options(&r, trust, &file, &env, t)? },
    };
    let st = store::open(&r, t)?;
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
