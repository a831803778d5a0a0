//! The synthetic monorepo generator behind the scale benchmark (examples/gen_monorepo.rs): what it
//! writes is real DVC data (real dvc fetches it from the generated remote and finds the workspace
//! up to date), bundle builds it with every model re-hashed, and a variant with changed prompts
//! diffs as changed. Timings are the benchmark's job (scripts/bench), not this test's.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The example binary, built by `cargo test` beside the test binaries.
fn generator() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().parent().unwrap().join("examples").join("gen_monorepo");
    assert!(p.exists(), "{} is missing: `cargo test` builds the examples", p.display());
    p
}

fn generate(dir: &Path, n: usize, p: usize, changed: Option<u32>) -> PathBuf {
    let mut c = Command::new(generator());
    c.arg(dir).arg(n.to_string()).arg(p.to_string());
    if let Some(k) = changed {
        c.args(["--changed-percent", &k.to_string()]);
    }
    let mono = PathBuf::from(run(&mut c).ok().stdout.trim());
    git(&mono, &["init", "-q"]);
    git(&mono, &["add", "-Af", "."]);
    git(&mono, &["commit", "-qm", "generated"]);
    mono
}

#[test]
fn generated_monorepos_are_real_dvc_data_and_build() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let mono = generate(&d.join("a"), 4, 6, None);

    // Real dvc 3.67: every object is in the generated remote, with the hashes we computed.
    let dvc = python().parent().unwrap().join("dvc");
    let home = d.join("home");
    let dvc_run = |args: &[&str]| run(Command::new(&dvc).args(args).current_dir(&mono).env("HOME", &home).env("DVC_NO_ANALYTICS", "1"));
    let f = dvc_run(&["fetch", "-q"]);
    assert_eq!(f.code, 0, "dvc fetch failed:\n{}{}", f.stdout, f.stderr);
    let s = dvc_run(&["status"]);
    assert!(s.code == 0 && s.stdout.to_lowercase().contains("up to date"), "dvc disagrees with our hashes:\n{}{}", s.stdout, s.stderr);

    // bundle builds it, re-hashing every model file, and the record holds every part.
    let out = format!("oci:{}", d.join("l").display());
    run(bundle(d).args(["build", "--version", "1.0.0", "--verify-models", "--output", &out]).arg(&mono)).ok();
    let rec: serde_json::Value =
        serde_json::from_str(&run(bundle(d).args(["inspect", "--json", &format!("{out}:1.0.0")])).ok().stdout).unwrap();
    let comps = rec["components"].as_array().unwrap();
    assert_eq!(comps.len(), 4);
    for c in comps {
        assert_eq!(c["prompts"].as_array().unwrap().len(), 6, "{c}");
        assert_eq!(c["provides"].as_array().unwrap().len(), 1, "{c}");
        assert_eq!(c["models"].as_array().unwrap().len(), 1, "{c}");
    }

    // The variant with half of its prompts rewritten (and bumped) diffs as changed, prompt by prompt.
    let b = generate(&d.join("b"), 4, 6, Some(50));
    let out_b = format!("oci:{}", d.join("lb").display());
    run(bundle(d).args(["build", "--version", "1.1.0", "--output", &out_b, "--previous", &format!("{out}:1.0.0")]).arg(&b)).ok();
    let r = run(bundle(d).args(["diff", &format!("{out}:1.0.0"), &format!("{out_b}:1.1.0"), "--format", "json"])).code(1);
    let diff: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let counts = &diff["counts"];
    let prompts = counts["prompts"].as_u64().unwrap();
    assert!(prompts > 0 && prompts < 24, "some, not all, prompts changed: {counts}");
    assert_eq!(
        (counts["models"].as_u64(), counts["contracts"].as_u64(), counts["unbumped"].as_u64()),
        (Some(0), Some(0), Some(0)),
        "{counts}"
    );
}
