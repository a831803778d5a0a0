//! Release policies: `verify --policy FILE --env ENV` takes the signers and a threshold from the
//! policy's environment, and runs its CEL rules over the verified release. Every rule's outcome is
//! reported (`--json` per spec/verify-report.schema.json, checked with Python's jsonschema), a
//! failed rule is named with its reason, and a policy that cannot be read is exit 2.

mod common;
use common::*;

const POLICY: &str = r#"apiVersion: relbundle.dev/v1
kind: ReleasePolicy
environments:
  staging:
    signers:
      keys: [trusted.pub]
    rules:
      - name: three components
        condition: record.components.size() == 3
      - name: no breaking release
        condition: '!has(record.allowBreaking)'
      - name: every image pinned
        condition: record.components.all(c, c.image.digest.startsWith('sha256:'))
  production:
    signers:
      threshold: 2
      keys: [trusted.pub, other.pub]
    rules:
      - name: a 2.x release
        condition: record.version.startsWith('2.')
      - name: signed by two
        condition: size(signers) >= 2
"#;

#[test]
fn policy_environments_name_signers_and_rules() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_, layout, _) = signed_fixture(d);
    std::fs::write(d.join("policy.yaml"), POLICY).unwrap();
    let lref = format!("oci:{}:1.0.0", layout.display());
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    let verify = |env: &str, extra: &[&str]| {
        b(&[&["verify", lref.as_str(), "--identity", "docproc", "--policy", "policy.yaml", "--env", env][..], extra].concat())
    };

    // Staging: one key, every rule holds.
    let r = verify("staging", &[]).ok();
    assert!(r.stdout.contains("PASS  policy: 3 rule(s) of policy.yaml for staging hold"), "{}", r.stdout);
    // Production: two signers are needed; with one, nothing of the release is read.
    let r = verify("production", &[]).code(1);
    assert!(r.stdout.contains("FAIL  signatures") && r.stdout.contains("SKIP  policy: not read: signatures failed"), "{}", r.stdout);
    b(&["sign", &lref, "--key", "other.key"]).ok();
    let r = verify("production", &[]).code(1);
    assert!(r.stdout.contains("PASS  signatures") && r.stdout.contains("FAIL  policy: 1 of 2 rule(s)"), "{}", r.stdout);
    assert!(r.stdout.contains("rule `a 2.x release` (record.version.startsWith('2.')): the condition is false"), "{}", r.stdout);
    let j = verify("production", &["--json"]).code(1);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["policy"]["environment"], "production");
    assert_eq!(v["policy"]["rules"][0]["passed"], false);
    assert_eq!(v["policy"]["rules"][1]["passed"], true, "{v}");
    let schema = repo_root().join("spec/verify-report.schema.json");
    let out = d.join("report.json");
    std::fs::write(&out, &j.stdout).unwrap();
    py(
        "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))",
        &[out.to_str().unwrap(), schema.to_str().unwrap()],
    )
    .ok();

    // The policy itself follows spec/policy.schema.json (Python's jsonschema).
    py(
        "import json,sys,yaml,jsonschema; jsonschema.validate(yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])))",
        &[d.join("policy.yaml").to_str().unwrap(), repo_root().join("spec/policy.schema.json").to_str().unwrap()],
    )
    .ok();
    // Input errors: an unknown environment, an expression that does not compile, --key with --policy.
    let r = verify("qa", &[]).code(2);
    assert!(r.stderr.contains("no environment `qa`") && r.stderr.contains("production and staging"), "{}", r.stderr);
    std::fs::write(d.join("bad.yaml"), POLICY.replace("record.components.size() == 3", "record.components.size( ==")).unwrap();
    let r = b(&["verify", &lref, "--identity", "docproc", "--policy", "bad.yaml", "--env", "staging"]).code(2);
    assert!(r.stderr.contains("environments.staging.rules[0].condition") && r.stderr.contains("not a CEL expression"), "{}", r.stderr);
    std::fs::write(d.join("bad2.yaml"), POLICY.replace("threshold: 2", "threshold: 3")).unwrap();
    let r = b(&["verify", &lref, "--identity", "docproc", "--policy", "bad2.yaml", "--env", "production"]).code(2);
    assert!(r.stderr.contains("threshold 3"), "{}", r.stderr);
    b(&["verify", &lref, "--identity", "docproc", "--policy", "policy.yaml", "--env", "staging", "--key", "trusted.pub"]).code(2);
    // A rule over a missing field fails with the reason, it does not pass.
    std::fs::write(d.join("missing.yaml"), POLICY.replace("record.components.size() == 3", "record.nosuchfield == 1")).unwrap();
    let r = b(&["verify", &lref, "--identity", "docproc", "--policy", "missing.yaml", "--env", "staging"]).code(1);
    assert!(r.stdout.contains("rule `three components`") && r.stdout.contains("cannot evaluate"), "{}", r.stdout);
}
