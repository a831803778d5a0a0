//! The sigstore-conformance bundle-verify cases in fixtures/sigstore-conformance, through the
//! conformance client's own entry point (`relbundle::trust::sigstore::conformance_main`, which
//! `examples/sigstore-conformance.rs` calls, and which calls the verifier `bundle verify` uses).
//! Every `_fail` case must fail and every other must pass, per the suite's rules (README there).

mod common;
use common::*;

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

#[test]
fn every_shared_conformance_case() {
    let root = repo_root().join("fixtures/sigstore-conformance/bundle-verify");
    let mut cases: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let read = |f: &str| std::fs::read_to_string(case.join(f)).ok().map(|s| s.trim().to_string());
        let artifact = if case.join("artifact").exists() { case.join("artifact") } else { root.join("a.txt") };
        let mut args = vec!["verify-bundle".to_string(), "--bundle".into(), case.join("bundle.sigstore.json").display().to_string()];
        if case.join("key.pub").exists() {
            args.extend(["--key".into(), case.join("key.pub").display().to_string()]);
        } else {
            args.extend(["--certificate-identity".into(), read("identity").unwrap_or(IDENTITY.into())]);
            args.extend(["--certificate-oidc-issuer".into(), read("issuer").unwrap_or(ISSUER.into())]);
        }
        if case.join("trusted_root.json").exists() {
            args.extend(["--trusted-root".into(), case.join("trusted_root.json").display().to_string()]);
        }
        args.push(artifact.display().to_string());
        let code = relbundle::trust::sigstore::conformance_main(&args);
        let want_fail = name.ends_with("_fail");
        eprintln!("{name}: exit {code}");
        if (code == 0) == want_fail {
            wrong.push(format!("{name}: exit {code}"));
        }
    }
    assert!(wrong.is_empty(), "conformance cases with the wrong verdict: {wrong:?}");
    // The same for a digest instead of the file, on a happy path.
    let case = root.join("happy-path-v0.3");
    let digest = relbundle::hashing::sha256_digest(&std::fs::read(root.join("a.txt")).unwrap());
    let args: Vec<String> = [
        "verify-bundle",
        "--bundle",
        &case.join("bundle.sigstore.json").display().to_string(),
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
        &digest,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(relbundle::trust::sigstore::conformance_main(&args), 0);
    let mut wrong_id = args.clone();
    wrong_id[4] = "https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main".into();
    assert_eq!(relbundle::trust::sigstore::conformance_main(&wrong_id), 1, "another identity must not verify");
}
