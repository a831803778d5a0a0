//! Parity with real cosign 2.5 (Debian 13's package, installed by scripts/install-cosign), both
//! directions, on a real registry: cosign verifies what `bundle sign` writes (with `-a`
//! annotations), `bundle verify` verifies what `cosign sign` writes, each reads the other's keys,
//! re-signing adds nothing, one key given twice is one signer, and `--identity` is repeatable.

mod common;
use common::registry::Registry;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cosign() -> PathBuf {
    let p = std::env::var_os("RELBUNDLE_COSIGN").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/cosign"));
    assert!(p.exists(), "{} is missing: run scripts/test (it runs scripts/install-cosign)", p.display());
    p
}

/// cosign, offline, against a plain-HTTP loopback registry.
fn cosign_run(d: &Path, args: &[&str]) -> Run {
    run(Command::new(cosign()).current_dir(d).env("COSIGN_PASSWORD", "pw").env("HOME", d).env("TUF_ROOT", d.join("tuf")).args(args))
}

fn cosign_verify(d: &Path, key: &Path, image: &str, extra: &[&str]) -> Run {
    let mut args =
        vec!["verify", "--key", key.to_str().unwrap(), "--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry"];
    args.extend(extra);
    args.push(image);
    cosign_run(d, &args)
}

#[test]
fn cosign_and_bundle_verify_each_others_signatures() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    b(&["keygen", "--output-prefix", "ours"]).ok();
    cosign_run(d, &["generate-key-pair", "--output-key-prefix", "theirs"]).ok();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let reg = Registry::plain(&d.join("reg"));
    let dst = format!("{}/acme/docproc", reg.addr);
    let r = b(&[
        "build",
        "--version",
        "1.0.0",
        "--output",
        &format!("oci:{}", d.join("l").display()),
        "--push",
        &dst,
        repo.join("docproc").to_str().unwrap(),
    ])
    .ok();
    let digest = built_digest(&r.stdout);
    let by_digest = format!("{dst}@{digest}");
    let (ours, theirs) = (d.join("ours.pub"), d.join("theirs.pub"));

    // Ours, with annotations: cosign verifies it, with and without -a, and refuses a wrong -a.
    b(&["sign", &format!("{dst}:1.0.0"), "--key", "ours.key", "-a", "team=ml", "-a", "stage=release"]).ok();
    let r = cosign_verify(d, &ours, &by_digest, &[]).ok();
    assert!(r.stdout.contains("\"team\":\"ml\""), "{}", r.stdout);
    cosign_verify(d, &ours, &by_digest, &["-a", "team=ml", "-a", "stage=release"]).ok();
    assert_ne!(cosign_verify(d, &ours, &by_digest, &["-a", "team=search"]).code, 0, "cosign accepted a wrong annotation");
    // And ours requires them the same way.
    b(&["verify", &format!("{dst}:1.0.0"), "--key", "ours.pub", "-a", "team=ml"]).ok();
    let r = b(&["verify", &format!("{dst}:1.0.0"), "--key", "ours.pub", "-a", "team=search"]).code(1);
    assert!(r.stdout.contains("annotation team=search required; the payload has team=ml"), "{}", r.stdout);

    // Theirs, with an annotation: ours verifies it (and cosign's own key file loads in bundle).
    cosign_run(
        d,
        &[
            "sign",
            "--key",
            "theirs.key",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            "--allow-http-registry",
            "-a",
            "env=prod",
            &by_digest,
        ],
    )
    .ok();
    b(&["verify", &format!("{dst}:1.0.0"), "--key", theirs.to_str().unwrap(), "-a", "env=prod"]).ok();
    b(&["verify", &format!("{dst}:1.0.0"), "--key", "ours.pub", "--key", theirs.to_str().unwrap(), "--min-signers", "2"]).ok();
    b(&["verify", &format!("{dst}:1.0.0"), "--key", theirs.to_str().unwrap(), "-a", "env=dev"]).code(1);
    // bundle signs with cosign's key file (here a no-op in the legacy format: that key signed this
    // repository already).
    let r = b(&["sign", &format!("{dst}:1.0.0"), "--key", "theirs.key", "--format", "legacy", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["added"], false, "{v}");

    // Re-signing with the same key, by tag or by digest, adds no layer.
    let count = || {
        let h: serde_json::Value = serde_json::from_str(&b(&["history", &dst, "--json"]).ok().stdout).unwrap();
        h[0]["signatures"].as_u64().unwrap()
    };
    // Ours in both formats (the default) and theirs in the legacy one: three stored signatures.
    let before = count();
    assert_eq!(before, 3);
    for r in [format!("{dst}:1.0.0"), by_digest.clone()] {
        let out = b(&["sign", &r, "--key", "ours.key", "--json"]).ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["added"], false, "{v}");
    }
    assert_eq!(count(), before, "re-signing added a layer");
    cosign_verify(d, &theirs, &by_digest, &[]).ok();

    // Two copies of one key are one signer.
    std::fs::copy(&ours, d.join("copy.pub")).unwrap();
    let r = b(&["verify", &format!("{dst}:1.0.0"), "--key", "ours.pub", "--key", "copy.pub", "--min-signers", "2"]).code(1);
    assert!(r.stdout.contains("copy.pub is the same key as ours.pub"), "{}", r.stdout);

    // A mirror signed by a second key: --identity is repeatable, each signer counts under its own.
    let mirror = format!("{}/mirror/docproc", reg.addr);
    b(&["push", &format!("{dst}:1.0.0"), &mirror]).ok();
    b(&["keygen", "--output-prefix", "mirror"]).ok();
    b(&["sign", &format!("{mirror}:1.0.0"), "--key", "mirror.key"]).ok();
    let two = ["--key", "ours.pub", "--key", "mirror.pub", "--min-signers", "2"];
    let r = b(&[&["verify", &format!("{mirror}:1.0.0")][..], &two[..]].concat()).code(1);
    assert!(r.stdout.contains("1 distinct trusted key(s) signed"), "{}", r.stdout);
    b(&[&["verify", &format!("{mirror}:1.0.0")][..], &two[..], &["--identity", &dst, "--identity", &mirror]].concat()).ok();
    cosign_verify(d, &d.join("mirror.pub"), &format!("{mirror}@{digest}"), &[]).ok();
    // cosign signs with a key file bundle wrote (scrypt N = 65536).
    b(&["keygen", "--output-prefix", "fresh"]).ok();
    cosign_run(
        d,
        &[
            "sign",
            "--key",
            "fresh.key",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            "--allow-http-registry",
            &format!("{mirror}@{digest}"),
        ],
    )
    .ok();
    b(&["verify", &format!("{mirror}:1.0.0"), "--key", "fresh.pub"]).ok();
}
