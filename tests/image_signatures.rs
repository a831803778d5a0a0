//! `build --verify-images POLICY`: every component image must carry, in its own registry, the
//! signatures the policy's `images:` section requires, before anything is built; who signed is
//! recorded. Images here are signed by real cosign 2.5 (`--tlog-upload=false`).

mod common;
use common::registry::Registry;
use common::*;
use std::path::PathBuf;
use std::process::Command;

fn cosign() -> PathBuf {
    let p = std::env::var_os("RELBUNDLE_COSIGN").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/cosign"));
    assert!(p.exists(), "{} is missing: run scripts/test (it runs scripts/install-cosign)", p.display());
    p
}

#[test]
fn component_images_are_signed_as_the_policy_requires() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    let cosign_sign = |key: &str, image: &str| {
        run(Command::new(cosign()).current_dir(d).env("COSIGN_PASSWORD", "pw").env("HOME", d).args([
            "sign",
            "--key",
            key,
            "--tlog-upload=false",
            "--allow-insecure-registry",
            "--allow-http-registry",
            image,
        ]))
        .ok();
    };
    b(&["keygen", "--output-prefix", "ci"]).ok();
    b(&["keygen", "--output-prefix", "stranger"]).ok();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let reg = Registry::plain(&d.join("reg"));
    // Stand-in "images": one artifact pushed to a repository per component.
    let l = format!("oci:{}", d.join("img").display());
    let digest = built_digest(&b(&["build", "--version", "0.0.1", "--output", &l, repo.join("docproc").to_str().unwrap()]).ok().stdout);
    let image = |c: &str| format!("{}/img/{c}", reg.addr);
    for c in ["ocr", "embedding", "summarizer"] {
        b(&["push", &format!("{l}:0.0.1"), &image(c)]).ok();
    }
    cosign_sign("ci.key", &format!("{}@{digest}", image("ocr")));
    cosign_sign("ci.key", &format!("{}@{digest}", image("embedding")));
    cosign_sign("stranger.key", &format!("{}@{digest}", image("summarizer")));
    std::fs::write(d.join("policy.yaml"), "apiVersion: relbundle.dev/v1\nkind: ReleasePolicy\nimages:\n  signers:\n    keys: [ci.pub]\n")
        .unwrap();
    let out = d.join("out");
    let mut args: Vec<String> =
        ["build", "--version", "1.0.0", "--verify-images", "policy.yaml", "--output"].iter().map(|s| s.to_string()).collect();
    args.push(format!("oci:{}", out.display()));
    for c in ["ocr", "embedding", "summarizer"] {
        args.extend(["--image".to_string(), format!("{c}={}@{digest}", image(c))]);
    }
    args.push(repo.join("docproc").display().to_string());
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    // The summarizer image is signed by a key the policy does not trust: nothing is built.
    let r = b(&a).code(1);
    assert!(r.stderr.contains("1 component image(s) are not signed as policy.yaml requires"), "{}", r.stderr);
    assert!(r.stderr.contains("component summarizer") && !r.stderr.contains("component ocr:"), "{}", r.stderr);
    assert!(!out.exists());
    // check says the same.
    let mut c = a.clone();
    c[0] = "check";
    let r = b(&c).code(1);
    assert!(r.stderr.contains("component summarizer"), "{}", r.stderr);
    // Signed by the trusted key too: built, and the record says who signed each image.
    cosign_sign("ci.key", &format!("{}@{digest}", image("summarizer")));
    b(&a).ok();
    let rec: serde_json::Value =
        serde_json::from_str(&b(&["inspect", "--json", &format!("oci:{}:1.0.0", out.display())]).ok().stdout).unwrap();
    for comp in rec["components"].as_array().unwrap() {
        let signed = comp["image"]["signedBy"].as_array().unwrap();
        assert_eq!(signed.len(), 1, "{comp}");
        assert!(signed[0].as_str().unwrap().starts_with("key "), "{comp}");
    }
    // A policy without an images section is an input error.
    std::fs::write(d.join("no-images.yaml"), "apiVersion: relbundle.dev/v1\nkind: ReleasePolicy\nenvironments: {}\n").unwrap();
    let mut n = a.clone();
    n[4] = "no-images.yaml";
    let r = b(&n).code(2);
    assert!(r.stderr.contains("no `images:` section"), "{}", r.stderr);
}
