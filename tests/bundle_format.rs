//! Sigstore bundle signatures (cosign v3's format) next to the legacy `.sig` tag, on a real
//! registry without the referrers API (distribution 2.8.2: the referrers tag `sha256-<hex>`) and
//! in layouts, checked against real cosign 2.5 both ways:
//! * `bundle verify --key` accepts cosign's `attest --new-bundle-format --type
//!   https://sigstore.dev/cosign/sign/v1` bundles as signatures, and not its SLSA provenance;
//! * cosign's legacy payload stored as a referrer (`--registry-referrers-mode=oci-1-1`) counts;
//! * cosign `verify-attestation --new-bundle-format` accepts what `bundle sign --format bundle`
//!   writes, and `cosign verify` what `--format legacy` writes.

mod common;
use common::proxy::Proxy;
use common::registry::Registry;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

fn cosign() -> PathBuf {
    let p = std::env::var_os("RELBUNDLE_COSIGN").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/cosign"));
    assert!(p.exists(), "{} is missing: run scripts/test (it runs scripts/install-cosign)", p.display());
    p
}

/// cosign, offline, against a plain-HTTP loopback registry.
fn cosign_run(d: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = Command::new(cosign());
    c.current_dir(d).env("COSIGN_PASSWORD", "pw").env("HOME", d).env("TUF_ROOT", d.join("tuf")).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c)
}

const REG: [&str; 2] = ["--allow-insecure-registry", "--allow-http-registry"];

/// `cosign attest --new-bundle-format` with a key, no transparency log.
fn cosign_attest(d: &Path, key: &str, kind: &str, predicate: &str, image: &str) {
    std::fs::write(d.join("predicate.json"), predicate).unwrap();
    let mut a = vec!["attest", "--new-bundle-format", "--type", kind, "--predicate", "predicate.json", "--key", key, "--tlog-upload=false"];
    a.extend(REG);
    a.push(image);
    cosign_run(d, &[], &a).ok();
}

/// `cosign verify-attestation --new-bundle-format` for the sign predicate, offline: a trusted
/// root with no entries is enough for a key.
fn cosign_verify_bundle(d: &Path, pubkey: &str, image: &str) -> Run {
    std::fs::write(d.join("empty-root.json"), r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#).unwrap();
    let mut a = vec![
        "verify-attestation",
        "--new-bundle-format",
        "--type",
        SIGN_PREDICATE,
        "--key",
        pubkey,
        "--trusted-root",
        "empty-root.json",
        "--insecure-ignore-tlog",
    ];
    a.extend(REG);
    a.push(image);
    cosign_run(d, &[], &a)
}

struct Lab {
    _t: tempfile::TempDir,
    d: PathBuf,
    reg: Registry,
    repo: String,
    digest: String,
}

impl Lab {
    fn new() -> Lab {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().to_path_buf();
        let fixtures = fixture_repo(&d, &["docproc", "dvc-remote"]);
        let reg = Registry::plain(&d.join("reg"));
        let repo = format!("{}/acme/docproc", reg.addr);
        let l = format!("oci:{}", d.join("l").display());
        let lab = Lab { _t: t, d: d.clone(), reg, repo: repo.clone(), digest: String::new() };
        let r = lab.b(&["build", "--version", "1.0.0", "--output", &l, "--push", &repo, fixtures.join("docproc").to_str().unwrap()]).ok();
        Lab { digest: built_digest(&r.stdout), ..lab }
    }

    fn b(&self, args: &[&str]) -> Run {
        run(bundle(&self.d).current_dir(&self.d).env("COSIGN_PASSWORD", "pw").args(args))
    }

    fn by_digest(&self) -> String {
        format!("{}@{}", self.repo, self.digest)
    }

    fn tagged(&self) -> String {
        format!("{}:1.0.0", self.repo)
    }

    fn verify_json(&self, reference: &str, extra: &[&str]) -> (i32, serde_json::Value) {
        let r = self.b(&[&["verify", reference, "--json"][..], extra].concat());
        let v = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
        (r.code, v)
    }

    /// The referrers tag's index, fetched with Python's requests (an independent reader).
    fn fallback_index(&self) -> serde_json::Value {
        self.manifest_at("acme/docproc", &format!("sha256-{}", self.digest.trim_start_matches("sha256:"))).unwrap()
    }

    /// A manifest or index of the registry by tag or digest, with Python's requests (None: 404).
    fn manifest_at(&self, repo: &str, reference: &str) -> Option<serde_json::Value> {
        let r = py(
            "import sys, requests\nr = requests.get(sys.argv[1], headers={'Accept': 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json'})\nprint(r.text if r.status_code == 200 else 'null')",
            &[&format!("http://{}/v2/{repo}/manifests/{reference}", self.reg.addr)],
        )
        .ok();
        serde_json::from_str::<Option<serde_json::Value>>(&r.stdout).unwrap()
    }
}

#[test]
fn cosign_bundles_are_signatures_and_other_predicates_are_not() {
    let lab = Lab::new();
    let d = &lab.d;
    cosign_run(d, &[], &["generate-key-pair", "--output-key-prefix", "signer"]).ok();
    cosign_run(d, &[], &["generate-key-pair", "--output-key-prefix", "builder"]).ok();
    cosign_run(d, &[], &["generate-key-pair", "--output-key-prefix", "refmode"]).ok();

    // Unsigned: no signature in any place.
    let (code, v) = lab.verify_json(&lab.tagged(), &["--key", "signer.pub"]);
    assert_eq!(code, 1);
    assert!(v["checks"][0]["failures"].to_string().contains("no signatures"), "{v}");

    // SLSA provenance by the builder key: an attestation, never a signature, nor a failed one
    // (its referrer, labelled with its predicate type, is skipped: still "no signatures").
    cosign_attest(d, "builder.key", "slsaprovenance", r#"{"buildType":"x","builder":{"id":"y"}}"#, &lab.by_digest());
    let (code, v) = lab.verify_json(&lab.tagged(), &["--key", "builder.pub"]);
    assert_eq!(code, 1, "{v}");
    let failures = v["checks"][0]["failures"].to_string();
    assert!(failures.contains("no signatures") && !failures.contains("attestation"), "{v}");

    // The sign predicate by the signer key: a signature, found through the referrers tag.
    cosign_attest(d, "signer.key", SIGN_PREDICATE, "{}", &lab.by_digest());
    let (code, v) = lab.verify_json(&lab.tagged(), &["--key", "signer.pub"]);
    assert_eq!(code, 0, "{v}");
    let s = &v["signers"][0];
    assert_eq!(s["format"], "bundle", "{v}");
    assert_eq!(s["identity"], lab.repo.as_str(), "{v}");
    assert!(s["source"].as_str().unwrap().contains(&format!("sha256-{} (referrers tag)", lab.digest.trim_start_matches("sha256:"))), "{v}");
    // The referrers tag is an index of both cosign referrers (cosign lists them as the empty type).
    let idx = lab.fallback_index();
    assert_eq!(idx["manifests"].as_array().unwrap().len(), 2, "{idx}");
    // The text report names format and place; history, pull and diff see the same signer.
    let r = lab.b(&["verify", &lab.tagged(), "--key", "signer.pub"]).ok();
    assert!(r.stdout.contains("bundle signature, referrer sha256:"), "{}", r.stdout);
    let h: serde_json::Value = serde_json::from_str(&lab.b(&["history", &lab.repo, "--key", "signer.pub", "--json"]).ok().stdout).unwrap();
    assert_eq!(h[0]["signers"].as_array().unwrap().len(), 1, "{h}");
    // One signature stored: the builder's provenance attestation is not one.
    assert_eq!(h[0]["signatures"], 1, "{h}");
    lab.b(&["pull", &lab.tagged(), "--key", "signer.pub", "-o", "pulled"]).ok();
    assert!(d.join("pulled").exists());
    lab.b(&["pull", &lab.tagged(), "--key", "builder.pub", "-o", "refused"]).code(1);
    assert!(!d.join("refused").exists());
    lab.b(&["values", &lab.tagged(), "--key", "signer.pub", "-o", "values.yaml"]).ok();
    lab.b(&["values", &lab.tagged(), "--key", "builder.pub", "-o", "refused.yaml"]).code(1);
    assert!(d.join("values.yaml").exists() && !d.join("refused.yaml").exists());
    let r = lab.b(&["diff", &lab.tagged(), &lab.by_digest(), "--key", "signer.pub", "--format", "json"]);
    assert!(r.stdout.contains("signer.pub"), "diff names no signer:\n{}\n{}", r.stdout, r.stderr);

    // A legacy payload stored as a referrer (cosign's experimental OCI 1.1 mode) counts as legacy.
    let mut a = vec!["sign", "--key", "refmode.key", "--tlog-upload=false", "--registry-referrers-mode=oci-1-1"];
    a.extend(REG);
    let img = lab.by_digest();
    a.push(&img);
    cosign_run(d, &[("COSIGN_EXPERIMENTAL", "1")], &a).ok();
    let (code, v) = lab.verify_json(&lab.tagged(), &["--key", "refmode.pub"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signers"][0]["format"], "legacy", "{v}");
    assert!(v["signers"][0]["source"].as_str().unwrap().starts_with("referrer sha256:"), "{v}");

    // Both keys, two formats: two distinct signers.
    let (code, v) = lab.verify_json(&lab.tagged(), &["--key", "signer.pub", "--key", "refmode.pub", "--min-signers", "2"]);
    assert_eq!(code, 0, "{v}");
    // The builder key still does not count toward a quorum.
    let (code, _) = lab.verify_json(&lab.tagged(), &["--key", "signer.pub", "--key", "builder.pub", "--min-signers", "2"]);
    assert_eq!(code, 1);
}

#[test]
fn bundle_signatures_we_write_are_read_by_cosign() {
    let lab = Lab::new();
    let d = &lab.d;
    lab.b(&["keygen", "--output-prefix", "ours"]).ok();
    lab.b(&["keygen", "--output-prefix", "second"]).ok();

    // Bundle only: cosign's verify-attestation accepts it, cosign's legacy verify finds nothing.
    let r = lab.b(&["sign", &lab.tagged(), "--key", "ours.key", "--format", "bundle", "-a", "team=ml", "--json"]).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["bundle"]["added"], true, "{out}");
    assert!(out.get("legacy").is_none(), "{out}");
    cosign_verify_bundle(d, "ours.pub", &lab.by_digest()).ok();
    let mut a = vec!["verify", "--key", "ours.pub", "--insecure-ignore-tlog"];
    a.extend(REG);
    let img = lab.by_digest();
    a.push(&img);
    assert_ne!(cosign_run(d, &[], &a).code, 0, "cosign verify found a legacy signature that was not written");
    // Ours reads it back, with its annotation.
    let (code, v) = lab.verify_json(&lab.tagged(), &["--key", "ours.pub", "-a", "team=ml"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signers"][0]["format"], "bundle");
    let (code, v) = lab.verify_json(&lab.tagged(), &["--key", "ours.pub", "-a", "team=search"]);
    assert_eq!(code, 1);
    assert!(v.to_string().contains("annotation team=search required; the statement has team=ml"), "{v}");
    // The referrer is the shape cosign v3 writes.
    let idx = lab.fallback_index();
    let entry = &idx["manifests"][0];
    assert_eq!(entry["artifactType"], "application/vnd.dev.sigstore.bundle.v0.3+json", "{idx}");
    assert_eq!(entry["annotations"]["dev.sigstore.bundle.predicateType"], SIGN_PREDICATE, "{idx}");
    // The bundle passes the protobuf-specs models (sigstore-models: strict, no unknown fields),
    // and its statement names the digest and the repository.
    let m = lab.manifest_at("acme/docproc", entry["digest"].as_str().unwrap()).unwrap();
    let r = py(
        "import sys, json, requests\nfrom sigstore_models.bundle.v1 import Bundle\nb = Bundle.from_json(requests.get(sys.argv[1]).content)\n\
         assert b.verification_material.public_key.hint and b.dsse_envelope.payload_type == 'application/vnd.in-toto+json'\n\
         s = json.loads(b.dsse_envelope.payload)\nprint(s['_type'], s['predicateType'], s['subject'][0]['name'], s['subject'][0]['digest']['sha256'])",
        &[&format!("http://{}/v2/acme/docproc/blobs/{}", lab.reg.addr, m["layers"][0]["digest"].as_str().unwrap())],
    )
    .ok();
    assert_eq!(
        r.stdout.trim(),
        format!("https://in-toto.io/Statement/v1 {SIGN_PREDICATE} {} {}", lab.repo, lab.digest.trim_start_matches("sha256:"))
    );

    // Re-signing with the same key is a no-op, by tag or by digest.
    for r in [lab.tagged(), lab.by_digest()] {
        let out = lab.b(&["sign", &r, "--key", "ours.key", "--format", "bundle", "--json"]).ok();
        assert!(out.stdout.contains("\"added\": false"), "{}", out.stdout);
    }
    assert_eq!(lab.fallback_index()["manifests"].as_array().unwrap().len(), 1);

    // A second signer appends to the referrers tag (read, append, write).
    lab.b(&["sign", &lab.tagged(), "--key", "second.key", "--format", "bundle"]).ok();
    assert_eq!(lab.fallback_index()["manifests"].as_array().unwrap().len(), 2);
    lab.b(&["verify", &lab.tagged(), "--key", "ours.pub", "--key", "second.pub", "--min-signers", "2"]).ok();
    cosign_verify_bundle(d, "second.pub", &lab.by_digest()).ok();
    cosign_verify_bundle(d, "ours.pub", &lab.by_digest()).ok();

    // Both formats (the default): cosign's legacy verify now passes too; one key is one signer.
    let out = lab.b(&["sign", &lab.tagged(), "--key", "ours.key", "--json"]).ok();
    let out: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(out["legacy"]["added"], true, "{out}");
    assert_eq!(out["bundle"]["added"], false, "{out}");
    cosign_run(d, &[], &a).ok();
    let (code, v) = lab.verify_json(&lab.tagged(), &["--key", "ours.pub"]);
    assert_eq!(code, 0);
    assert_eq!(v["signers"].as_array().unwrap().len(), 1, "{v}");
    let r = lab.b(&["verify", &lab.tagged(), "--key", "ours.pub", "--key", "ours.pub", "--min-signers", "2"]).code(1);
    assert!(r.stdout.contains("is the same key as"), "{}", r.stdout);
}

#[test]
fn layouts_hold_bundle_referrers_in_index_json() {
    let lab = Lab::new();
    lab.b(&["keygen", "--output-prefix", "ours"]).ok();
    let l = format!("oci:{}", lab.d.join("l").display());
    let tagged = format!("{l}:1.0.0");
    lab.b(&["sign", &tagged, "--key", "ours.key", "--format", "bundle", "--identity", "example.com/docproc"]).ok();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(lab.d.join("l/index.json")).unwrap()).unwrap();
    let referrers: Vec<&serde_json::Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json")
        .collect();
    assert_eq!(referrers.len(), 1, "{index}");
    assert!(referrers[0]["annotations"].get("org.opencontainers.image.ref.name").is_none(), "a referrer is not a tag: {index}");
    // The listed manifest names the release as its subject (read with Python, independently).
    let hex = referrers[0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let r = py(
        "import json,sys; print(json.load(open(sys.argv[1]))['subject']['digest'])",
        &[lab.d.join("l/blobs/sha256").join(&hex).to_str().unwrap()],
    )
    .ok();
    assert_eq!(r.stdout.trim(), lab.digest);
    let (code, v) = lab.verify_json(&tagged, &["--key", "ours.pub", "--identity", "example.com/docproc"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signers"][0]["format"], "bundle");
    assert!(v["signers"][0]["source"].as_str().unwrap().contains("(index.json)"), "{v}");
    // Our tags still work: one release in the layout, found without naming its tag.
    lab.b(&["verify", &l, "--key", "ours.pub", "--identity", "example.com/docproc"]).ok();
    // Re-signing is a no-op.
    let r = lab.b(&["sign", &tagged, "--key", "ours.key", "--format", "bundle", "--identity", "example.com/docproc", "--json"]).ok();
    assert!(r.stdout.contains("\"added\": false"), "{}", r.stdout);
}

#[test]
fn push_carries_every_attachment_and_merges() {
    let lab = Lab::new();
    let d = &lab.d;
    lab.b(&["keygen", "--output-prefix", "ours"]).ok();
    lab.b(&["keygen", "--output-prefix", "mirrorkey"]).ok();
    lab.b(&["keygen", "--output-prefix", "late"]).ok();
    cosign_run(d, &[], &["generate-key-pair", "--output-key-prefix", "builder"]).ok();
    // At the source: our signature in both formats, a legacy attestation (.att), a bundle
    // attestation (a referrer), and a legacy signature of that referrer.
    lab.b(&["sign", &lab.tagged(), "--key", "ours.key"]).ok();
    std::fs::write(d.join("slsa.json"), r#"{"buildType":"x","builder":{"id":"y"}}"#).unwrap();
    let mut a = vec!["attest", "--type", "slsaprovenance", "--predicate", "slsa.json", "--key", "builder.key", "--tlog-upload=false"];
    a.extend(REG);
    let img = lab.by_digest();
    a.push(&img);
    cosign_run(d, &[], &a).ok();
    cosign_attest(d, "builder.key", "slsaprovenance", r#"{"buildType":"x","builder":{"id":"y"}}"#, &lab.by_digest());
    let idx = lab.fallback_index();
    let entries = idx["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{idx}");
    let attestation = entries.iter().find(|e| e["annotations"]["dev.sigstore.bundle.predicateType"] != SIGN_PREDICATE).unwrap();
    let att_digest = attestation["digest"].as_str().unwrap().to_string();
    let mut a = vec!["sign", "--key", "builder.key", "--tlog-upload=false"];
    a.extend(REG);
    let att_ref = format!("{}@{att_digest}", lab.repo);
    a.push(&att_ref);
    cosign_run(d, &[], &a).ok();

    // Push to a mirror: everything arrives.
    let mirror = format!("{}/mirror/docproc", lab.reg.addr);
    let r = lab.b(&["push", &lab.tagged(), &mirror]).ok();
    // Two legacy signatures: ours, and the builder's of its attestation.
    assert!(r.stderr.contains("copied 2 legacy signature(s), 1 legacy attestation(s), 2 referrer(s)"), "{}", r.stderr);
    let hex = lab.digest.trim_start_matches("sha256:");
    let midx = lab.manifest_at("mirror/docproc", &format!("sha256-{hex}")).expect("the mirror has the referrers tag");
    assert_eq!(midx["manifests"].as_array().unwrap().len(), 2, "{midx}");
    assert!(lab.manifest_at("mirror/docproc", &format!("sha256-{hex}.att")).is_some(), "the .att tag was not copied");
    assert!(
        lab.manifest_at("mirror/docproc", &format!("sha256-{}.sig", att_digest.trim_start_matches("sha256:"))).is_some(),
        "the signature of the attestation was not copied"
    );
    let mirror_digest = format!("{mirror}@{}", lab.digest);
    cosign_verify_bundle(d, "ours.pub", &mirror_digest).ok();
    let mut v = vec!["verify-attestation", "--key", "builder.pub", "--type", "slsaprovenance", "--insecure-ignore-tlog"];
    v.extend(REG);
    v.push(&mirror_digest);
    cosign_run(d, &[], &v).ok();
    let (code, out) = lab.verify_json(&format!("{mirror}:1.0.0"), &["--key", "ours.pub", "--identity", &lab.repo]);
    assert_eq!(code, 0, "{out}");

    // The mirror gets its own signer; a later signature at the source merges in, keeping it.
    lab.b(&["sign", &format!("{mirror}:1.0.0"), "--key", "mirrorkey.key", "--format", "bundle"]).ok();
    lab.b(&["sign", &lab.tagged(), "--key", "late.key", "--format", "bundle"]).ok();
    let r = lab.b(&["push", &lab.tagged(), &mirror]).ok();
    assert!(r.stderr.contains("0 legacy attestation(s), 1 referrer(s)"), "{}", r.stderr);
    let midx = lab.manifest_at("mirror/docproc", &format!("sha256-{hex}")).unwrap();
    assert_eq!(midx["manifests"].as_array().unwrap().len(), 4, "{midx}");
    let three = [
        "--key",
        "ours.pub",
        "--key",
        "mirrorkey.pub",
        "--key",
        "late.pub",
        "--min-signers",
        "3",
        "--identity",
        &lab.repo,
        "--identity",
        &mirror,
    ];
    lab.b(&[&["verify", &format!("{mirror}:1.0.0")][..], &three[..]].concat()).ok();
    // Pushing again adds nothing.
    let r = lab.b(&["push", &lab.tagged(), &mirror]).ok();
    assert!(!r.stderr.contains("copied"), "{}", r.stderr);

    // To a layout: the referrers are index.json entries, the .att a tag; verify reads the bundle.
    let out = format!("oci:{}", d.join("airgap").display());
    lab.b(&["push", &format!("{mirror}:1.0.0"), &out]).ok();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("airgap/index.json")).unwrap()).unwrap();
    let untagged =
        index["manifests"].as_array().unwrap().iter().filter(|e| e["annotations"]["org.opencontainers.image.ref.name"].is_null()).count();
    assert_eq!(untagged, 4, "{index}");
    assert!(index.to_string().contains(&format!("sha256-{hex}.att")), "{index}");
    let (code, v) = lab.verify_json(&format!("{out}:1.0.0"), &["--key", "late.pub", "--identity", &lab.repo]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signers"][0]["format"], "bundle");
}

#[test]
fn a_registry_with_the_referrers_api_is_asked_once_and_errors_are_errors() {
    let lab = Lab::new();
    let d = &lab.d;
    lab.b(&["keygen", "--output-prefix", "ours"]).ok();
    // tests/common/proxy.rs in front of distribution 2.8.2: a registry with the referrers API.
    let api = Proxy::start(&lab.reg.addr);
    api.referrers_api();
    let repo = format!("{}/acme/docproc", api.addr);
    let r = lab.b(&["sign", &format!("{repo}:1.0.0"), "--key", "ours.key", "--format", "bundle", "--verbose"]).ok();
    assert!(r.stderr.contains("has the referrers API"), "{}", r.stderr);
    // The registry lists the referrer itself: no referrers tag is written.
    let hex = lab.digest.trim_start_matches("sha256:");
    assert!(lab.manifest_at("acme/docproc", &format!("sha256-{hex}")).is_none(), "a referrers tag was written");
    let (code, v) = lab.verify_json(&format!("{repo}:1.0.0"), &["--key", "ours.pub"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["signers"][0]["source"].as_str().unwrap().ends_with("(referrers API)"), "{v}");
    // The API is asked once per registry per process.
    api.plan(common::proxy::Plan::None);
    lab.b(&["verify", &format!("{repo}:1.0.0"), "--key", "ours.pub"]).ok();
    assert_eq!(api.requests().iter().filter(|l| l.contains("/referrers/")).count(), 1, "{:?}", api.requests());
    // cosign finds the bundle through the API too.
    cosign_verify_bundle(d, "ours.pub", &format!("{repo}@{}", lab.digest)).ok();
    // Re-signing is a no-op; a second signer is listed by the registry.
    let r = lab.b(&["sign", &format!("{repo}:1.0.0"), "--key", "ours.key", "--format", "bundle", "--json"]).ok();
    assert!(r.stdout.contains("\"added\": false"), "{}", r.stdout);

    // A registry error while looking is an error (exit 2), never "unsigned".
    api.fail(&format!("/v2/acme/docproc/referrers/{}", lab.digest), 500);
    let r =
        run(bundle(d).current_dir(d).env("RELBUNDLE_RETRY_BASE_MS", "1").args(["verify", &format!("{repo}:1.0.0"), "--key", "ours.pub"]));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("list referrers of") && r.stderr.contains("HTTP 500"), "{}", r.stderr);
    // The same for the referrers tag of a registry without the API.
    let plain = Proxy::start(&lab.reg.addr);
    plain.fail(&format!("/v2/acme/docproc/manifests/sha256-{hex}"), 500);
    let r = run(bundle(d).current_dir(d).env("RELBUNDLE_RETRY_BASE_MS", "1").args([
        "verify",
        &format!("{}/acme/docproc:1.0.0", plain.addr),
        "--key",
        "ours.pub",
    ]));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("no signatures"), "{}", r.stdout);
}

/// A hand-made bundle referrer in a layout: a statement signed by `key`, stored as cosign
/// writes it with `subject` as the manifest's subject. Returns its listing descriptor.
fn put_bundle(dir: &Path, subject: &relbundle::oci::Descriptor, statement: &[u8], key: &Path) -> relbundle::oci::Descriptor {
    use relbundle::oci::Descriptor;
    use relbundle::store::Store;
    use relbundle::trust::bundle;
    let l = relbundle::store::layout::Layout::new(dir.to_path_buf());
    let signer = relbundle::signing::load_private_key(key, b"pw").unwrap();
    let fp = relbundle::trust::TrustedKey::from_pem(&signer.public_pem, "k").unwrap().fingerprint;
    let json = bundle::bundle_json(statement, &signer.sign_raw(&bundle::pae(statement)).unwrap(), &fp).unwrap();
    let layer = Descriptor::new(bundle::BUNDLE_MEDIA_TYPE, &json);
    l.put_blob(&layer, &json).unwrap();
    l.put_blob(&Descriptor::new(bundle::EMPTY_MEDIA_TYPE, bundle::EMPTY_CONFIG), bundle::EMPTY_CONFIG).unwrap();
    let m = bundle::referrer_manifest(subject, &layer);
    let bytes = m.to_bytes();
    let desc = Descriptor::new(relbundle::spec::OCI_MANIFEST, &bytes);
    l.put_manifest(&desc, &bytes).unwrap();
    relbundle::signing::referrer_descriptor(&m, &desc)
}

/// Raw manifest bytes stored in a layout; returns their descriptor.
fn put_manifest_bytes(dir: &Path, bytes: &[u8]) -> relbundle::oci::Descriptor {
    use relbundle::store::Store;
    let desc = relbundle::oci::Descriptor::new(relbundle::spec::OCI_MANIFEST, bytes);
    relbundle::store::layout::Layout::new(dir.to_path_buf()).put_manifest(&desc, bytes).unwrap();
    desc
}

#[test]
fn bundle_tamper_matrix() {
    use relbundle::store::Store;
    use relbundle::store::layout::Layout;
    use relbundle::store::referrers::append_fallback;
    use relbundle::trust::bundle;
    let lab = Lab::new();
    let d = &lab.d;
    lab.b(&["keygen", "--output-prefix", "ours"]).ok();
    let key = d.join("ours.key");
    let id = "example.com/docproc";
    let release = Layout::new(d.join("l")).resolve(Some("1.0.0")).unwrap();
    let good = bundle::statement(id, &lab.digest, &Default::default());
    let fresh = |name: &str| {
        let to = d.join(name);
        sh(d, &format!("cp -a {} {}", d.join("l").display(), to.display())).ok();
        to
    };
    let verify = |dir: &Path| lab.verify_json(&format!("oci:{}:1.0.0", dir.display()), &["--key", "ours.pub", "--identity", id]);
    let rejected = |dir: &Path, reason: &str, case: &str| {
        let (code, v) = verify(dir);
        assert_eq!(code, 1, "case `{case}`: {v}");
        let failures = v["checks"][0]["failures"].to_string();
        assert!(failures.contains(reason), "case `{case}`: {reason:?} not named: {failures}");
    };

    // The untouched bundle verifies, listed in index.json or in the referrers tag.
    let dir = fresh("good");
    let r = put_bundle(&dir, &release, &good, &key);
    Layout::new(dir.clone()).add_referrer(&lab.digest, &r).unwrap();
    assert_eq!(verify(&dir).0, 0);

    // 1: a bundle for another digest, listed for this one (its manifest's subject is the other).
    let dir = fresh("other-subject");
    let mut other = release.clone();
    other.digest = DIGEST_B.into();
    let r = put_bundle(&dir, &other, &bundle::statement(id, DIGEST_B, &Default::default()), &key);
    append_fallback(&Layout::new(dir.clone()), &lab.digest, &r).unwrap();
    rejected(&dir, &format!("refers to {DIGEST_B}, not {}; ignored", lab.digest), "bundle for another digest");

    // 2: the manifest's subject is this release, the DSSE statement names another digest.
    let dir = fresh("statement-subject");
    let r = put_bundle(&dir, &release, &bundle::statement(id, DIGEST_A, &Default::default()), &key);
    Layout::new(dir.clone()).add_referrer(&lab.digest, &r).unwrap();
    rejected(&dir, &format!("the statement signs {DIGEST_A}, not {}", lab.digest), "DSSE subject names another digest");

    // 3: the referrers tag points at the subject itself (as GitLab resolves it).
    let dir = fresh("tag-is-subject");
    Layout::new(dir.clone()).tag(&format!("sha256-{}", lab.digest.trim_start_matches("sha256:")), &release, true).unwrap();
    rejected(&dir, "not an image index of referrers; it lists nothing", "referrers tag names the subject");

    // 4: an index entry whose manifest has no subject.
    let dir = fresh("no-subject");
    let r = put_bundle(&dir, &release, &good, &key);
    let l = Layout::new(dir.clone());
    let mut m: serde_json::Value = serde_json::from_slice(&l.blob(&r).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("subject");
    let mut no_subject = put_manifest_bytes(&dir, &serde_json::to_vec(&m).unwrap());
    no_subject.artifact_type = r.artifact_type.clone();
    append_fallback(&l, &lab.digest, &no_subject).unwrap();
    rejected(&dir, "has no subject; ignored", "entry without subject");

    // 5: a valid signature by the trusted key with another predicate.
    let dir = fresh("predicate");
    let slsa = String::from_utf8(good.clone()).unwrap().replace(SIGN_PREDICATE, "https://slsa.dev/provenance/v1").into_bytes();
    let r = put_bundle(&dir, &release, &slsa, &key);
    Layout::new(dir.clone()).add_referrer(&lab.digest, &r).unwrap();
    rejected(&dir, "an attestation (predicate https://slsa.dev/provenance/v1), not a signature", "another predicate");

    // 6: the same referrer listed twice (in the tag twice, and in index.json): one signature.
    let dir = fresh("duplicate");
    let r = put_bundle(&dir, &release, &good, &key);
    let l = Layout::new(dir.clone());
    l.add_referrer(&lab.digest, &r).unwrap();
    append_fallback(&l, &lab.digest, &r).unwrap();
    let mut idx: serde_json::Value = serde_json::from_slice(
        &l.blob(&l.resolve(Some(&format!("sha256-{}", lab.digest.trim_start_matches("sha256:")))).unwrap()).unwrap(),
    )
    .unwrap();
    let again = idx["manifests"][0].clone();
    idx["manifests"].as_array_mut().unwrap().push(again);
    let twice = serde_json::to_vec(&idx).unwrap();
    let td = relbundle::oci::Descriptor::new(relbundle::spec::OCI_INDEX, &twice);
    l.put_manifest(&td, &twice).unwrap();
    l.tag(&format!("sha256-{}", lab.digest.trim_start_matches("sha256:")), &td, true).unwrap();
    let (code, v) = verify(&dir);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signers"].as_array().unwrap().len(), 1);
    let h: serde_json::Value = serde_json::from_str(&lab.b(&["history", &format!("oci:{}", dir.display()), "--json"]).ok().stdout).unwrap();
    assert_eq!(h[0]["signatures"], 1, "a duplicate listing counted twice: {h}");

    // 7: the bundle's signature corrupted.
    let dir = fresh("corrupt");
    let r = put_bundle(&dir, &release, &good, &key);
    let l = Layout::new(dir.clone());
    let m = relbundle::oci::ImageManifest::from_bytes(&l.blob(&r).unwrap(), "m").unwrap();
    let mut b: serde_json::Value = serde_json::from_slice(&l.blob(&m.layers[0]).unwrap()).unwrap();
    let sig = b["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if sig.starts_with('M') { "N" } else { "M" }, &sig[1..]);
    b["dsseEnvelope"]["signatures"][0]["sig"] = flipped.into();
    let bytes = serde_json::to_vec(&b).unwrap();
    let layer = relbundle::oci::Descriptor::new(bundle::BUNDLE_MEDIA_TYPE, &bytes);
    l.put_blob(&layer, &bytes).unwrap();
    let mm = bundle::referrer_manifest(&release, &layer);
    let mb = mm.to_bytes();
    let md = put_manifest_bytes(&dir, &mb);
    l.add_referrer(&lab.digest, &relbundle::signing::referrer_descriptor(&mm, &md)).unwrap();
    rejected(&dir, "made by none of the given keys, or corrupted", "corrupted DSSE signature");
}

#[test]
fn layouts_written_by_cosign_save_are_read() {
    let lab = Lab::new();
    let d = &lab.d;
    cosign_run(d, &[], &["generate-key-pair", "--output-key-prefix", "theirs"]).ok();
    let img = lab.by_digest();
    let mut a = vec!["sign", "--key", "theirs.key", "--tlog-upload=false"];
    a.extend(REG);
    a.push(&img);
    cosign_run(d, &[], &a).ok();
    std::fs::write(d.join("slsa.json"), r#"{"buildType":"x","builder":{"id":"y"}}"#).unwrap();
    let mut a = vec!["attest", "--type", "slsaprovenance", "--predicate", "slsa.json", "--key", "theirs.key", "--tlog-upload=false"];
    a.extend(REG);
    a.push(&img);
    cosign_run(d, &[], &a).ok();
    let mut a = vec!["save", "--dir", "saved"];
    a.extend(REG);
    a.push(&img);
    cosign_run(d, &[], &a).ok();
    // cosign's layout names no tags: its one image and its .sig are found by cosign's `kind`.
    for r in ["oci:saved".to_string(), format!("oci:saved@{}", lab.digest)] {
        let (code, v) = lab.verify_json(&r, &["--key", "theirs.pub", "--identity", &lab.repo]);
        assert_eq!(code, 0, "{r}: {v}");
        assert_eq!(v["signers"][0]["format"], "legacy");
    }
    // push carries its signature and attestation to a registry, where cosign verifies both.
    let dst = format!("{}/from-save/docproc", lab.reg.addr);
    let r = lab.b(&["push", "oci:saved", &dst]).ok();
    assert!(r.stderr.contains("copied 1 legacy signature(s), 1 legacy attestation(s)"), "{}", r.stderr);
    let moved = format!("{dst}@{}", lab.digest);
    let mut v = vec!["verify", "--key", "theirs.pub", "--insecure-ignore-tlog"];
    v.extend(REG);
    v.push(&moved);
    cosign_run(d, &[], &v).ok();
    let mut v = vec!["verify-attestation", "--key", "theirs.pub", "--type", "slsaprovenance", "--insecure-ignore-tlog"];
    v.extend(REG);
    v.push(&moved);
    cosign_run(d, &[], &v).ok();

    // And the other way: cosign reads our layout (`verify --local-image`) and loads it into a
    // registry (`load`), where ours verifies what arrived.
    let ours = format!("oci:{}:1.0.0", d.join("l").display());
    lab.b(&["sign", &ours, "--key", "theirs.key", "--identity", &lab.repo]).ok();
    let l = d.join("l");
    cosign_run(d, &[], &["verify", "--local-image", "--key", "theirs.pub", "--insecure-ignore-tlog", l.to_str().unwrap()]).ok();
    let loaded = format!("{}/acme/loaded", lab.reg.addr);
    let mut a = vec!["load", "--dir", l.to_str().unwrap()];
    a.extend(REG);
    a.push(&loaded);
    cosign_run(d, &[], &a).ok();
    let (code, v) = lab.verify_json(&format!("{loaded}@{}", lab.digest), &["--key", "theirs.pub", "--identity", &lab.repo]);
    assert_eq!(code, 0, "{v}");
}
