//! The promotion story, through the CLI, on a real registry (Debian's docker-registry): build,
//! sign and attest SLSA provenance → promote to staging → staging values → the evaluation attaches its metrics → two
//! approvers promote to production (with a change ticket as evidence) → the production policy
//! passes → history in promotion order and the rollback one-liner. Then each way a release must
//! be refused, with the rule named: a failing metric, a missing approval, a promotion by the
//! wrong key, a stale approval, and too short a soak in staging.

mod common;
use common::registry::Registry;
use common::standin::{GITLAB_ISSUER, GITLAB_SAN, gitlab_claims};
use common::*;
use std::path::Path;

const EVAL: &str = "https://acme.dev/eval/v1";
const PROMOTION: &str = "https://relbundle.dev/promotion/v1";

const POLICY: &str = r#"apiVersion: relbundle.dev/v1
kind: ReleasePolicy
environments:
  staging:
    signers: {keys: [release.pub]}
    attestations:
      - name: promoted to staging by CI
        type: https://relbundle.dev/promotion/v1
        signers: {keys: [ci.pub]}
  production:
    signers: {keys: [release.pub]}
    attestations:
      - name: promoted to production by two approvers
        type: https://relbundle.dev/promotion/v1
        signers: {threshold: 2, keys: [alice.pub, bob.pub]}
      - name: SLSA provenance by the release key
        type: https://slsa.dev/provenance/v1
        signers: {keys: [release.pub]}
        rules:
          - name: built by relbundle from a git commit
            condition: >-
              predicate.buildDefinition.buildType == "https://relbundle.dev/build/v1" &&
              predicate.buildDefinition.resolvedDependencies.exists(d, has(d.digest.gitCommit))
      - name: golden-set evaluation by CI
        type: https://acme.dev/eval/v1
        signers: {keys: [ci.pub]}
        rules:
          - name: accuracy at least 0.92
            condition: predicate.metrics.accuracy >= 0.92
    rules:
      - name: soaked in staging for an hour
        condition: promotion("staging").age > duration("1h")
      - name: production approval younger than a week
        condition: promotion("production").age < duration("168h")
      - name: not built with --allow-breaking
        condition: '!has(record.allowBreaking)'
      - name: evaluated on the golden set
        condition: attestations("https://acme.dev/eval/v1").exists(a, a.predicate.dataset == "golden-v3")
"#;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

struct Story<'a> {
    d: &'a Path,
    repo: std::path::PathBuf,
}

impl Story<'_> {
    /// `bundle ARGS` in the test folder (keys, evidence and the policy are there).
    fn b(&self, args: &[&str]) -> Run {
        run(bundle(self.d).current_dir(self.d).env("COSIGN_PASSWORD", "pw").args(args))
    }

    /// `bundle ARGS` with SOURCE_DATE_EPOCH: the promotion's recorded time.
    fn at(&self, epoch: i64, args: &[&str]) -> Run {
        run(bundle(self.d).current_dir(self.d).env("COSIGN_PASSWORD", "pw").env("SOURCE_DATE_EPOCH", epoch.to_string()).args(args))
    }

    /// Build, push and sign a version into `repo`; returns its digest.
    fn release(&self, repo: &str, version: &str) -> String {
        let push = format!("{repo}:{version}");
        let out = format!("oci:{}", self.d.join("out").join(version).display());
        let r = run(bundle(self.d)
            .current_dir(self.d)
            .env("COSIGN_PASSWORD", "pw")
            .args(["build", "--version", version, "--output", &out, "--push", &push, "--sign", "--key", "release.key", "--provenance"])
            .arg(self.repo.join("docproc")))
        .ok();
        built_digest(&r.stdout)
    }

    fn promote(&self, epoch: i64, reference: &str, env: &str, key: &str, extra: &[&str]) -> Run {
        let base = ["promote", reference, "--to", env, "--key", key, "--release-key", "release.pub"];
        self.at(epoch, &[&base[..], extra].concat())
    }

    fn eval(&self, reference: &str, accuracy: f64) {
        let file = format!("eval-{accuracy}.json");
        let body = serde_json::json!({"dataset": "golden-v3", "metrics": {"accuracy": accuracy, "f1": 0.9}, "run": "eval-42"});
        std::fs::write(self.d.join(&file), body.to_string()).unwrap();
        self.b(&["attest", reference, "--predicate", &file, "--type", EVAL, "--key", "ci.key"]).ok();
    }

    fn verify(&self, reference: &str, env: &[(&str, &str)]) -> Run {
        let mut c = bundle(self.d);
        c.current_dir(self.d).args(["verify", reference, "--policy", "policy.yaml", "--env", "production"]);
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    }
}

#[test]
fn promotion_story_and_every_refusal_names_its_rule() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let reg = Registry::plain(&d.join("reg"));
    for k in ["release", "ci", "alice", "bob", "mallory"] {
        run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", k])).ok();
    }
    std::fs::write(d.join("policy.yaml"), POLICY).unwrap();
    std::fs::write(d.join("CHG-1234.json"), r#"{"ticket": "CHG-1234", "approvedBy": "change board"}"#).unwrap();
    let s = Story { d, repo: fixture_repo(d, &["docproc", "dvc-remote"]) };
    let repo = format!("{}/acme/docproc", reg.addr);
    let h = 3600;
    let now = now();

    // 1.0.0 went to staging and production four days ago.
    let d100 = s.release(&repo, "1.0.0");
    let r100 = format!("{repo}@{d100}");
    s.promote(now - 100 * h, &r100, "staging", "ci.key", &[]).ok();
    s.promote(now - 96 * h, &r100, "production", "alice.key", &[]).ok();
    s.promote(now - 96 * h, &r100, "production", "bob.key", &[]).ok();

    // 1.1.0: built and signed; not in staging yet, so no staging values.
    let d110 = s.release(&repo, "1.1.0");
    let r110 = format!("{repo}:1.1.0");
    let staging_values = ["values", r110.as_str(), "--env", "staging", "--key", "release.pub", "--key", "ci.pub"];
    let r = s.b(&staging_values).code(1);
    assert!(r.stderr.contains("rule `promoted to staging` failed"), "{}", r.stderr);
    let r = s.b(&["values", &r110, "--env", "staging", "--policy", "policy.yaml"]).code(1);
    // The verify report goes to stderr when values refuse.
    assert!(r.stderr.contains("rule `promoted to staging by CI`") && r.stderr.contains("0 of the 1 required"), "{}", r.stderr);
    // Promoted to staging three hours ago by CI: staging values now.
    // (promote reads earlier promotions under the trust flags and the promoter's own key.)
    let r = s.promote(now - 3 * h, &r110, "staging", "ci.key", &[]).ok();
    assert!(r.stdout.contains("promoted docproc 1.1.0") && r.stdout.contains("supersedes 1.0.0"), "{}", r.stdout);
    let r = s.b(&staging_values).ok();
    assert!(r.stdout.contains(&d110) && r.stderr.contains("promoted to staging at"), "{}\n{}", r.stdout, r.stderr);
    s.b(&["values", &r110, "--env", "staging", "--policy", "policy.yaml", "-o", "staging.yaml"]).ok();
    assert!(std::fs::read_to_string(d.join("staging.yaml")).unwrap().contains(&d110));

    // The evaluation job attaches its metrics; before the approvals, production refuses.
    s.eval(&r110, 0.95);
    let r = s.verify(&r110, &[]).code(1);
    assert!(r.stdout.contains("promoted to production by two approvers") && r.stdout.contains("0 of the 2 required"), "{}", r.stdout);

    // Two approvers promote to production; Alice attaches the change ticket as evidence.
    let r = s.promote(now - 30 * 60, &r110, "production", "alice.key", &["--evidence", "CHG-1234.json", "--json"]).ok();
    let p: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(p["predicateType"], PROMOTION);
    assert_eq!(p["predicate"]["environment"], "production");
    assert_eq!(p["predicate"]["supersedes"]["digest"], d100.as_str());
    assert_eq!(p["predicate"]["release"]["digest"], d110.as_str());
    assert!(p["predicate"]["approver"]["key"].as_str().unwrap().starts_with("sha256:"), "{p}");
    let t0 = chrono_like(now - 30 * 60);
    assert_eq!(p["predicate"]["time"], t0.as_str());
    assert_eq!(p["predicate"]["evidence"][0]["predicateType"], "https://relbundle.dev/evidence/v1");
    let ticket = format!("sha256:{}", p["predicate"]["evidence"][0]["digest"]["sha256"].as_str().unwrap());
    // The predicate and the policy follow their schemas (Python's jsonschema).
    std::fs::write(d.join("promotion.json"), p["predicate"].to_string()).unwrap();
    let validate = "import json,sys,yaml,jsonschema; jsonschema.validate(yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])))";
    for (doc, schema) in [("promotion.json", "spec/promotion.schema.json"), ("policy.yaml", "spec/policy.schema.json")] {
        py(validate, &[d.join(doc).to_str().unwrap(), repo_root().join(schema).to_str().unwrap()]).ok();
    }
    // The evidence is its own attestation, verified like any other.
    let r = s.b(&["attestations", &r110, "--type", "https://relbundle.dev/evidence/v1", "--key", "alice.pub", "--json"]).ok();
    assert!(r.stdout.contains("CHG-1234"), "{}", r.stdout);
    assert_ne!(relbundle::hashing::sha256_digest(&std::fs::read(d.join("CHG-1234.json")).unwrap()), ticket, "the file's bytes differ");
    s.promote(now - 20 * 60, &r110, "production", "bob.key", &[]).ok();
    let cosign =
        std::env::var_os("RELBUNDLE_COSIGN").map(std::path::PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/cosign"));
    use base64::Engine as _;
    // The promotion's evidence digest is the sha256 of the evidence statement's DSSE payload, as
    // cosign 2.5 reads it (cosign's .att format) with Alice's key: byte for byte, no re-serialising.
    let c = run(std::process::Command::new(&cosign)
        .current_dir(d)
        .env("HOME", d)
        .env("TUF_ROOT", d.join("tuf"))
        .args(["verify-attestation", "--type", "https://relbundle.dev/evidence/v1", "--key", "alice.pub", "--insecure-ignore-tlog"])
        .args(["--allow-insecure-registry", "--allow-http-registry", &format!("{repo}@{d110}")]))
    .ok();
    let envelope: serde_json::Value = serde_json::from_str(c.stdout.lines().next().unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap();
    assert_eq!(relbundle::hashing::sha256_digest(&payload), ticket);
    // cosign 2.5 verifies the promotion (cosign's .att format) with Bob's key, and its predicate.
    let c = run(std::process::Command::new(&cosign)
        .current_dir(d)
        .env("HOME", d)
        .env("TUF_ROOT", d.join("tuf"))
        .args(["verify-attestation", "--type", PROMOTION, "--key", "bob.pub", "--insecure-ignore-tlog"])
        .args(["--allow-insecure-registry", "--allow-http-registry", &format!("{repo}@{d110}")]))
    .ok();
    let envelope: serde_json::Value = serde_json::from_str(c.stdout.lines().next().unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(st["predicateType"], PROMOTION);
    assert_eq!(st["predicate"]["environment"], "production");
    assert_eq!(st["subject"][0]["digest"]["sha256"], d110.trim_start_matches("sha256:"));

    // The production gate passes, every rule's outcome listed.
    let requests = || reg.count("GET", "/v2/") + reg.count("HEAD", "/v2/");
    let before = requests();
    s.b(&["verify", &r110, "--key", "release.pub"]).ok();
    let plain = requests() - before;
    let before = requests();
    let r = s.verify(&r110, &[]).ok();
    let gated = requests() - before;
    eprintln!("MEASURE requests: verify --key {plain}, verify --policy (4 attestation requirements, 4 rules) {gated}");
    // Every attestation is read once, whatever the number of requirements and functions that ask.
    assert!(gated <= plain + 30, "verify --policy made {gated} requests, verify --key {plain}");
    assert!(r.stdout.contains("PASS  policy: 9 rule(s) of policy.yaml for production hold"), "{}", r.stdout);
    let j = s.b(&["verify", &r110, "--policy", "policy.yaml", "--env", "production", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let rules = v["policy"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 9, "{v}");
    assert!(rules.iter().all(|r| r["passed"] == true), "{v}");
    s.b(&["values", &r110, "--env", "production", "--policy", "policy.yaml", "-o", "prod.yaml"]).ok();
    // Too short a soak: the same release judged at 30 minutes after its staging promotion.
    let soon = chrono_like(now - 3 * h + 30 * 60);
    let r = s.verify(&r110, &[("RELBUNDLE_NOW", soon.as_str())]).code(1);
    assert!(
        r.stdout.contains("rule `soaked in staging for an hour` (promotion(\"staging\").age > duration(\"1h\")): the condition is false"),
        "{}",
        r.stdout
    );

    // History: promotion order, who and when; --previous is the rollback target.
    let hist = ["history", repo.as_str(), "--env", "production", "--key", "alice.pub", "--key", "bob.pub"];
    let r = s.b(&[&hist[..], &["--json"]].concat()).ok();
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let versions: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["1.0.0", "1.1.0"], "{rows}");
    assert_eq!(rows[1]["current"], true);
    assert_eq!(rows[1]["promotions"].as_array().unwrap().len(), 2, "{rows}");
    let r = s.b(&hist).ok();
    assert!(r.stdout.contains("1.1.0") && r.stdout.contains("(current)") && r.stdout.contains(&t0), "{}", r.stdout);
    let prev = s.b(&[&hist[..], &["--previous"]].concat()).ok();
    assert_eq!(prev.stdout.trim(), r100);
    // The rollback one-liner of the README: values of the previous production release.
    let rollback = format!(
        "bundle values \"$(bundle history {repo} --env production --key alice.pub --key bob.pub --previous)\" --env production --key release.pub --key alice.pub -o rollback.yaml"
    );
    let r = run(std::process::Command::new("sh").arg("-ec").arg(&rollback).current_dir(d).env("RELBUNDLE_CACHE_DIR", d).env(
        "PATH",
        format!("{}:{}", Path::new(env!("CARGO_BIN_EXE_bundle")).parent().unwrap().display(), std::env::var("PATH").unwrap()),
    ))
    .ok();
    assert!(r.stderr.contains("promoted to production at"), "{}", r.stderr);
    assert!(std::fs::read_to_string(d.join("rollback.yaml")).unwrap().contains(&d100));
    // Only one release in staging under CI's key: no previous one.
    s.b(&["history", &repo, "--env", "staging", "--key", "ci.pub", "--previous"]).ok();
    s.b(&["history", &repo, "--env", "qa", "--key", "ci.pub", "--previous"]).code(1);

    // Refusals, each in a repository of its own: the rule named, and why.
    let bad = format!("{}/acme/rejects", reg.addr);
    let setup = |v: &str, accuracy: f64, approvers: &[&str], when: i64| {
        let dg = s.release(&bad, v);
        let r = format!("{bad}@{dg}");
        s.promote(when - 3 * h, &r, "staging", "ci.key", &[]).ok();
        s.eval(&r, accuracy);
        for a in approvers {
            s.promote(when, &r, "production", a, &[]).ok();
        }
        r
    };
    // A failing metric.
    let r = s.verify(&setup("2.0.0", 0.90, &["alice.key", "bob.key"], now - 60), &[]).code(1);
    assert!(
        r.stdout.contains("rule `accuracy at least 0.92` (predicate.metrics.accuracy >= 0.92): the attestation by key"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("FAIL  policy: 1 of 9 rule(s)"), "{}", r.stdout);
    // A missing approval.
    let r = s.verify(&setup("2.1.0", 0.95, &["alice.key"], now - 60), &[]).code(1);
    assert!(
        r.stdout.contains("rule `promoted to production by two approvers`") && r.stdout.contains("1 of the 2 required signer(s) attested"),
        "{}",
        r.stdout
    );
    // The second approval by a key the policy does not trust.
    let r = s.verify(&setup("2.2.0", 0.95, &["alice.key", "mallory.key"], now - 60), &[]).code(1);
    assert!(r.stdout.contains("1 of the 2 required signer(s) attested") && r.stdout.contains("not accepted"), "{}", r.stdout);
    // A stale approval: a month old.
    let r = s.verify(&setup("2.3.0", 0.95, &["alice.key", "bob.key"], now - 30 * 24 * h), &[]).code(1);
    assert!(
        r.stdout.contains("rule `production approval younger than a week`") && r.stdout.contains("the condition is false"),
        "{}",
        r.stdout
    );

    // promote reads CI's earlier staging promotions under CI's own (signing) key for `supersedes`,
    // without trusting that key for the release (readers check `supersedes` themselves).
    let r = s.promote(now, &format!("{bad}:2.3.0"), "staging", "ci.key", &["--json"]).ok();
    let p: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(["2.0.0", "2.1.0", "2.2.0"].contains(&p["predicate"]["supersedes"]["version"].as_str().unwrap()), "{p}");
    // ... and readers believe it: both staging promotions of 2.3.0 count.
    let staged = |v: &str| {
        let r = s.b(&["history", &bad, "--env", "staging", "--key", "ci.pub", "--json"]).ok();
        let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let row = rows.as_array().unwrap().iter().find(|r| r["version"] == v).unwrap().clone();
        row["promotions"].as_array().unwrap().len()
    };
    assert_eq!(staged("2.3.0"), 2);
    // Dated (SOURCE_DATE_EPOCH) before 2.0.0–2.2.0 reached staging: those are skipped, saying so,
    // and the `supersedes` is 2.3.0's month-old promotion, which readers accept.
    let r = s.promote(now - 10 * 24 * h, &format!("{bad}:2.2.0"), "staging", "ci.key", &["--json"]).ok();
    let p: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(p["predicate"]["supersedes"]["version"], "2.3.0", "{p}");
    assert!(r.stderr.contains("is after this one") && r.stderr.contains("2.0.0"), "{}", r.stderr);
    assert_eq!(staged("2.2.0"), 2);
    let then = chrono_like(now - 10 * 24 * h + 60);
    let r = run(bundle(d).current_dir(d).env("RELBUNDLE_NOW", &then).args([
        "values",
        &format!("{bad}:2.2.0"),
        "--env",
        "staging",
        "--key",
        "release.pub",
        "--key",
        "ci.pub",
    ]))
    .ok();
    assert!(r.stderr.contains(&format!("promoted to staging at {}", chrono_like(now - 10 * 24 * h))), "{}", r.stderr);
    assert!(!r.stderr.contains("cleared"), "{}", r.stderr);

    // A release signed only by the approver's key is not promoted: the approver's key is not a
    // --release-key, and the signing key is never trusted for the release.
    let out = format!("oci:{}", d.join("out").join("3.0.0").display());
    let push = format!("{bad}:3.0.0");
    s.b(&[
        "build",
        "--version",
        "3.0.0",
        "--output",
        &out,
        "--push",
        &push,
        "--sign",
        "--key",
        "alice.key",
        s.repo.join("docproc").to_str().unwrap(),
    ])
    .ok();
    let r = s.promote(now, &push, "production", "alice.key", &[]).code(1);
    assert!(r.stderr.contains("is not verified"), "{}", r.stderr);
    let r = s.b(&["values", &push, "--env", "production", "--key", "alice.pub"]).code(1);
    assert!(r.stderr.contains("no promotion attestation"), "{}", r.stderr);

    // promote refuses a release that does not verify, and writes nothing.
    let r =
        s.promote(now, &format!("{bad}:2.3.0"), "production", "alice.key", &["--release-key", "mallory.pub", "--min-signers", "2"]).code(1);
    assert!(r.stderr.contains("is not verified"), "{}", r.stderr);
    // Bad evidence is an input error, before anything is signed.
    std::fs::write(d.join("list.json"), "[1, 2]").unwrap();
    let r = s.promote(now, &r110, "production", "alice.key", &["--evidence", "list.json"]).code(2);
    assert!(r.stderr.contains("--evidence list.json: a JSON object is needed"), "{}", r.stderr);
}

/// RFC 3339 UTC of a Unix time, as promotions record it.
fn chrono_like(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Keyless promotion through the CLI (local Fulcio/Rekor/TSA stand-ins), in a layout: the approver
/// is the token's identity, `values --env` and `history --env` trust the pipeline's certificate
/// identity and nothing else. Then what a writer of the layout, or a careless signer, cannot do:
/// move a promotion to another release, name another release in a signed promotion, date one in
/// the future.
#[test]
fn keyless_promotions_count_and_forged_ones_do_not() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let sig = common::standin::Standin::start(&d.join("sigstore"), false);
    let token = d.join("token");
    let claims = gitlab_claims();
    std::fs::write(&token, sig.token(&claims)).unwrap();
    let (l, digests) = two_releases(d, &["release", "alice"]);
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    let (r100, r110) = (format!("{l}:1.0.0"), format!("{l}:1.1.0"));
    let root = sig.file("trusted_root.json");
    let config = sig.file("signing_config.json");
    let keyless = ["--keyless", "--identity-token", token.to_str().unwrap(), "--signing-config", config.to_str().unwrap()];
    let release = ["--release-key", "release.pub", "--identity", "docproc"];
    let r = b(&[&["promote", &r100, "--to", "staging", "--json"][..], &keyless[..], &release[..]].concat()).ok();
    let p: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(p["predicate"]["approver"]["issuer"], GITLAB_ISSUER, "{p}");
    assert_eq!(p["predicate"]["approver"]["subject"], claims["sub"], "{p}");

    // The pipeline's certificate identity is what counts.
    let pipeline =
        ["--certificate-identity", GITLAB_SAN, "--certificate-oidc-issuer", GITLAB_ISSUER, "--trusted-root", root.to_str().unwrap()];
    let trust = [&["--key", "release.pub", "--identity", "docproc"][..], &pipeline[..]].concat();
    let r = b(&[&["values", &r100, "--env", "staging"][..], &trust[..]].concat()).ok();
    assert!(
        r.stderr.contains(&format!("promoted to staging at {} by {GITLAB_SAN}", p["predicate"]["time"].as_str().unwrap())),
        "{}",
        r.stderr
    );
    let other = GITLAB_SAN.replace("acme", "evil");
    let wrong =
        ["--key", "release.pub", "--identity", "docproc", "--certificate-identity", &other, "--certificate-oidc-issuer", GITLAB_ISSUER];
    let r = b(&[&["values", &r100, "--env", "staging", "--trusted-root", root.to_str().unwrap()][..], &wrong[..]].concat()).code(1);
    assert!(r.stderr.contains("rule `promoted to staging` failed"), "{}", r.stderr);
    let h = b(&[&["history", &l, "--env", "staging", "--json"][..], &pipeline[..], &["--identity", "docproc"][..]].concat()).ok();
    let rows: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(rows[0]["promotions"][0]["approver"], GITLAB_SAN, "{rows}");
    assert_eq!(rows[0]["digest"], digests[0].as_str());

    // A writer of the layout moves Alice's promotion of 1.0.0 (cosign's .att tag) onto 1.1.0.
    let alice = ["--key", "release.pub", "--key", "alice.pub", "--identity", "docproc"];
    b(&[
        "promote",
        &r100,
        "--to",
        "production",
        "--key",
        "alice.key",
        "--release-key",
        "release.pub",
        "--identity",
        "docproc",
        "--format",
        "legacy",
    ])
    .ok();
    b(&[&["values", &r100, "--env", "production"][..], &alice[..]].concat()).ok();
    let att = |digest: &str| format!("{}.att", digest.replace(':', "-"));
    common::craft::edit_index(&d.join("l"), |v| {
        let list = v["manifests"].as_array_mut().unwrap();
        let from =
            list.iter().find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == att(&digests[0]).as_str()).unwrap().clone();
        let mut moved = from;
        moved["annotations"]["org.opencontainers.image.ref.name"] = serde_json::json!(att(&digests[1]));
        list.push(moved);
    });
    let r = b(&[&["values", &r110, "--env", "production"][..], &alice[..]].concat()).code(1);
    assert!(r.stderr.contains("rule `promoted to production` failed") && r.stderr.contains(&digests[0]), "{}", r.stderr);
    // A signed promotion (made with `attest`, not `promote`) whose predicate names another release.
    let mut forged = p["predicate"].clone();
    forged["environment"] = serde_json::json!("qa");
    std::fs::write(d.join("forged.json"), forged.to_string()).unwrap();
    b(&["attest", &r110, "--predicate", "forged.json", "--type", PROMOTION, "--key", "alice.key"]).ok();
    let r = b(&[&["values", &r110, "--env", "qa"][..], &alice[..]].concat()).code(1);
    assert!(r.stderr.contains(&format!("names release {}, not {}", digests[0], digests[1])), "{}", r.stderr);
    // Signed promotions (made with `attest` by Alice, a trusted key) that claim what they are not.
    let claim = |env: &str, extra: serde_json::Value| {
        let mut f = p["predicate"].clone();
        f["environment"] = env.into();
        f["release"] = serde_json::json!({"name": "docproc", "version": "1.1.0", "digest": digests[1]});
        for (k, v) in extra.as_object().unwrap() {
            f[k] = v.clone();
        }
        std::fs::write(d.join("claim.json"), f.to_string()).unwrap();
        b(&["attest", &r110, "--predicate", "claim.json", "--type", PROMOTION, "--key", "alice.key", "--identity", "docproc"]).ok();
    };
    // The approver it names (the pipeline's identity) is not believed: readers see Alice's key.
    claim("qa2", serde_json::json!({}));
    let policy = format!(
        "apiVersion: relbundle.dev/v1\nkind: ReleasePolicy\nenvironments:\n  qa2:\n    signers: {{keys: [release.pub]}}\n    attestations:\n      - name: promoted to qa2\n        type: {PROMOTION}\n        signers: {{keys: [alice.pub]}}\n        rules:\n          - name: approved by the pipeline\n            condition: predicate.approver.issuer == '{GITLAB_ISSUER}'\n    rules:\n      - name: no promotion claims the pipeline\n        condition: '!attestations(\"{PROMOTION}\").exists(a, has(a.predicate.approver.issuer))'\n      - name: approved by a key\n        condition: promotion(\"qa2\").approver.startsWith(\"key \")\n"
    );
    std::fs::write(d.join("qa2.yaml"), policy).unwrap();
    let r = b(&["verify", &r110, "--identity", "docproc", "--policy", "qa2.yaml", "--env", "qa2", "--json"]).code(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let outcome: Vec<(&str, bool)> =
        v["policy"]["rules"].as_array().unwrap().iter().map(|r| (r["name"].as_str().unwrap(), r["passed"].as_bool().unwrap())).collect();
    assert_eq!(
        outcome,
        [
            ("promoted to qa2", true),
            ("approved by the pipeline", false),
            ("no promotion claims the pipeline", true),
            ("approved by a key", true)
        ],
        "{v}"
    );
    // `supersedes` must name a release verifiably promoted to the same environment before.
    // Alice promotes `release` to `env` at the time `t` (SOURCE_DATE_EPOCH).
    let promote_at = |t: i64, release: &str, env: &str| {
        let args = ["promote", release, "--to", env, "--key", "alice.key", "--release-key", "release.pub", "--identity", "docproc"];
        run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").env("SOURCE_DATE_EPOCH", t.to_string()).args(args))
    };
    promote_at(now() - 7200, &r100, "qa3").ok();
    let sup = serde_json::json!({"supersedes": {"name": "docproc", "version": "1.0.0", "digest": digests[0]}});
    claim("qa3", sup.clone());
    b(&[&["values", &r110, "--env", "qa3"][..], &alice[..]].concat()).ok();
    // One that does not hold (e.g. the earlier approver's key was rotated out): the promotion
    // counts, with `supersedes` cleared and a note saying why.
    claim("qa4", sup);
    let r = b(&[&["values", &r110, "--env", "qa4"][..], &alice[..]].concat()).ok();
    assert!(
        r.stderr.contains(&format!(
            "claims to supersede docproc 1.0.0 ({}) in qa4, which has no verified promotion to qa4 before it: `supersedes` cleared",
            digests[0]
        )),
        "{}",
        r.stderr
    );

    // A promotion dated tomorrow has not happened yet.
    let tomorrow = now() + 86400;
    b(&["promote", &r110, "--to", "canary", "--key", "alice.key", "--release-key", "release.pub", "--identity", "docproc"]).ok();
    promote_at(tomorrow, &r110, "prod-eu").ok();
    b(&[&["values", &r110, "--env", "canary"][..], &alice[..]].concat()).ok();
    let r = b(&[&["values", &r110, "--env", "prod-eu"][..], &alice[..]].concat()).code(1);
    assert!(r.stderr.contains("after now"), "{}", r.stderr);
}

/// Readers check what a promotion names: each evidence entry needs a verified attestation of its
/// type by the same signer with that DSSE payload digest (else it is left out), a `supersedes`
/// that does not hold is cleared, and `attestations(promotion type)` applies the same checks.
#[test]
fn evidence_supersedes_and_attestations_are_checked_by_readers() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (l, digests) = two_releases(d, &["release", "alice", "bob"]);
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    let r110 = format!("{l}:1.1.0");
    std::fs::write(d.join("CHG-1234.json"), r#"{"ticket": "CHG-1234", "score": 0.1e1, "by": "Zoë"}"#).unwrap();
    let promote = ["promote", &r110, "--key", "alice.key", "--release-key", "release.pub", "--identity", "docproc"];
    let r = b(&[&promote[..], &["--to", "qa5", "--evidence", "CHG-1234.json", "--json"]].concat()).ok();
    let p: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // Signed promotions made with `attest`, each naming what it likes.
    let claim = |key: &str, env: &str, extra: serde_json::Value| {
        let mut f = p["predicate"].clone();
        f["environment"] = env.into();
        for (k, v) in extra.as_object().unwrap() {
            f[k] = v.clone();
        }
        std::fs::write(d.join("claim.json"), f.to_string()).unwrap();
        b(&["attest", &r110, "--predicate", "claim.json", "--type", PROMOTION, "--key", key, "--identity", "docproc"]).ok();
    };
    // Bob names Alice's evidence attestation; Alice names a digest no attestation has.
    claim("bob.key", "qa6", serde_json::json!({}));
    let mut tampered = p["predicate"]["evidence"].clone();
    tampered[0]["digest"]["sha256"] = serde_json::json!("0".repeat(64));
    claim("alice.key", "qa7", serde_json::json!({"evidence": tampered}));
    // A `supersedes` nothing backs; a promotion dated tomorrow; one naming another release.
    claim("alice.key", "qa8", serde_json::json!({"supersedes": {"name": "docproc", "version": "1.0.0", "digest": digests[0]}}));
    let tomorrow = chrono_like(now() + 86400);
    claim("alice.key", "qa9", serde_json::json!({"time": tomorrow}));
    claim("alice.key", "qa10", serde_json::json!({"release": {"name": "docproc", "version": "1.0.0", "digest": digests[0]}}));
    let has_evidence = |env: &str| format!("promotion(\"{env}\").evidence.exists(e, e.name == \"CHG-1234.json\")");
    let listed = |cond: &str| format!("attestations(\"{PROMOTION}\").exists(a, {cond})");
    let rules = [
        ("qa5 evidence", has_evidence("qa5")),
        ("qa6 evidence by another key", has_evidence("qa6")),
        ("qa7 evidence of another digest", has_evidence("qa7")),
        ("qa8 supersedes cleared", "promotion(\"qa8\").supersedes == null".to_string()),
        ("listed qa5 with evidence", listed("a.predicate.environment == \"qa5\" && a.predicate.evidence.size() == 1")),
        ("listed qa6 without evidence", listed("a.predicate.environment == \"qa6\" && a.predicate.evidence.size() == 0")),
        ("listed qa8 without supersedes", listed("a.predicate.environment == \"qa8\" && !has(a.predicate.supersedes)")),
        ("listed qa9 (tomorrow)", listed("a.predicate.environment == \"qa9\"")),
        ("listed qa10 (another release)", listed("a.predicate.environment == \"qa10\"")),
    ];
    let mut policy = "apiVersion: relbundle.dev/v1\nkind: ReleasePolicy\nenvironments:\n  check:\n    signers: {keys: [release.pub, alice.pub, bob.pub]}\n    rules:\n".to_string();
    for (name, cond) in &rules {
        policy.push_str(&format!("      - name: {name}\n        condition: '{cond}'\n"));
    }
    std::fs::write(d.join("check.yaml"), policy).unwrap();
    let r = b(&["verify", &r110, "--identity", "docproc", "--policy", "check.yaml", "--env", "check", "--json"]).code(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let outcome: Vec<(&str, bool)> =
        v["policy"]["rules"].as_array().unwrap().iter().map(|r| (r["name"].as_str().unwrap(), r["passed"].as_bool().unwrap())).collect();
    let expected = [true, false, false, true, true, true, true, false, false];
    assert_eq!(outcome, rules.iter().map(|r| r.0).zip(expected).collect::<Vec<_>>(), "{v}");
    // values says what it left out.
    let trust = ["--key", "release.pub", "--key", "alice.pub", "--key", "bob.pub", "--identity", "docproc"];
    let r = b(&[&["values", &r110, "--env", "qa6"][..], &trust[..]].concat()).ok();
    assert!(r.stderr.contains("evidence CHG-1234.json") && r.stderr.contains("by the same signer: left out"), "{}", r.stderr);
}

/// Key pairs `keys` in `d`, and releases 1.0.0 and 1.1.0 of the fixture built into the layout `l`
/// signed by `release.key`: (the layout, their digests).
fn two_releases(d: &Path, keys: &[&str]) -> (String, Vec<String>) {
    for k in keys {
        run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", k])).ok();
    }
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let l = format!("oci:{}", d.join("l").display());
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    let mut digests = Vec::new();
    for v in ["1.0.0", "1.1.0"] {
        let r =
            b(&["build", "--version", v, "--output", &l, "--sign", "--key", "release.key", repo.join("docproc").to_str().unwrap()]).ok();
        digests.push(built_digest(&r.stdout));
    }
    (l, digests)
}
