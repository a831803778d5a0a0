//! Attestations (`bundle attest`, `bundle attestations`, `build --provenance`, `verify
//! --attest-result`) proven by independent tools, on Debian's registry (distribution 2.8.2, no
//! referrers API) and in layouts:
//! * cosign 2.5 `verify-attestation` accepts what we write: the legacy `.att` tag with `--key`,
//!   the bundle referrer with `--new-bundle-format` (an empty trusted root; no log, as
//!   `--insecure-ignore-tlog`), including SLSA provenance and the verification summary;
//! * `bundle attestations` verifies what cosign `attest` writes in both formats, and never lists
//!   another key's as verified;
//! * the statements, the SLSA provenance v1 and the VSA are valid against JSON Schemas of the
//!   in-toto and SLSA specs (fixtures/attestation-schemas, Python's jsonschema) and parse strictly
//!   into the protobuf types of the `in-toto-attestation` package;
//! * attacker cases: a statement naming another digest, a tampered `.att` payload, a signature
//!   (sign/v1) asked for as an attestation, an untrusted key;
//! * keyless: an attestation signed through the Sigstore stand-ins, listed for its certificate
//!   identity, verified by sigstore-python.

mod common;
use common::registry::Registry;
use common::standin::{GITHUB_ISSUER as ISSUER, GITHUB_SAN as SAN, Standin};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const EVAL: &str = "https://acme.example/eval/v1";
const PROVENANCE: &str = "https://slsa.dev/provenance/v1";
const VSA: &str = "https://slsa.dev/verification_summary/v1";
const REG: [&str; 2] = ["--allow-insecure-registry", "--allow-http-registry"];
const GITLAB_CI: [(&str, &str); 7] = [
    ("CI", "true"),
    ("CI_SERVER_URL", "https://gitlab.example.com"),
    ("CI_PROJECT_PATH", "acme/docproc"),
    ("CI_COMMIT_TAG", "docproc-v1.0.0"),
    ("CI_COMMIT_REF_NAME", "docproc-v1.0.0"),
    ("CI_PIPELINE_ID", "812"),
    ("CI_JOB_URL", "https://gitlab.example.com/acme/docproc/-/jobs/4242"),
];

fn cosign() -> PathBuf {
    let p = std::env::var_os("RELBUNDLE_COSIGN").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/cosign"));
    assert!(p.exists(), "{} is missing: run scripts/test (it runs scripts/install-cosign)", p.display());
    p
}

fn cosign_run(d: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(cosign());
    c.current_dir(d).env("COSIGN_PASSWORD", "pw").env("HOME", d).env("TUF_ROOT", d.join("tuf"));
    run(c.args(args))
}

/// cosign 2.5 `verify-attestation --type T --key K`, offline; `bundle`: the new bundle format with
/// an empty trusted root. Returns the statements cosign printed (decoded from its envelopes).
fn cosign_verify(d: &Path, key: &str, kind: &str, image: &str, bundle: bool) -> (Run, Vec<serde_json::Value>) {
    let mut a = vec!["verify-attestation", "--type", kind, "--key", key, "--insecure-ignore-tlog"];
    if bundle {
        std::fs::write(d.join("empty-root.json"), r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#).unwrap();
        a.extend(["--new-bundle-format", "--trusted-root", "empty-root.json"]);
    }
    a.push(image);
    a.extend(REG);
    let r = cosign_run(d, &a);
    let statements = r
        .stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let env: serde_json::Value = serde_json::from_str(l).unwrap();
            let payload = env["payload"].as_str().or(env["dsseEnvelope"]["payload"].as_str()).unwrap();
            use base64::Engine;
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(payload).unwrap()).unwrap()
        })
        .collect();
    (r, statements)
}

/// Validate statements with the JSON Schemas of fixtures/attestation-schemas (the statement, and
/// the SLSA predicate by its type) and parse them strictly into in-toto-attestation's protobufs
/// (the Statement, SLSA provenance v1, each ResourceDescriptor validated).
fn validate(statements: &[serde_json::Value]) {
    assert!(!statements.is_empty(), "no statement to validate");
    let code = r#"
import json, sys, pathlib
import jsonschema, referencing
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
d = pathlib.Path(sys.argv[1])
schemas = {p.name: json.loads(p.read_text()) for p in d.glob("*.schema.json")}
reg = referencing.Registry().with_resources(
    [(s["$id"], referencing.Resource.from_contents(s)) for s in schemas.values()])
def check(name, value):
    jsonschema.Draft202012Validator(schemas[name], registry=reg, format_checker=jsonschema.FormatChecker()).validate(value)
for st in json.loads(sys.argv[2]):
  try:
    check("in-toto-statement-v1.schema.json", st)
    Statement.copy_from_pb(json_format.ParseDict(st, statement_pb2.Statement())).validate()
    p = st["predicate"]
    if st["predicateType"] == "https://slsa.dev/provenance/v1":
      check("slsa-provenance-v1.schema.json", p)
      pb = json_format.ParseDict(p, provenance_pb2.Provenance())
      for rd in pb.build_definition.resolved_dependencies:
        ResourceDescriptor.copy_from_pb(rd).validate()
    elif st["predicateType"] == "https://slsa.dev/verification_summary/v1":
      # Not parsed into in_toto_attestation 0.9.3's vsa/v1 proto: it predates the SLSA 1.0 VSA
      # (a single string verified_levels, no verifier.version), so the JSON Schema decides.
      check("slsa-vsa-v1.schema.json", p)
  except Exception:
    print(json.dumps(st, indent=1)[:3000], file=sys.stderr)
    raise
print("valid", len(json.loads(sys.argv[2])))
"#;
    let schemas = repo_root().join("fixtures/attestation-schemas");
    let r = py(code, &[schemas.to_str().unwrap(), &serde_json::to_string(statements).unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

struct Lab {
    _t: tempfile::TempDir,
    d: PathBuf,
    repo: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().to_path_buf();
        let repo = fixture_repo(&d, &["docproc", "dvc-remote"]);
        let lab = Lab { _t: t, d, repo };
        lab.b(&["keygen", "--output-prefix", "ours"]).ok();
        lab.b(&["keygen", "--output-prefix", "other"]).ok();
        std::fs::write(lab.d.join("eval.json"), r#"{"dataset":"golden-2026-11","metrics":{"accuracy":0.93}}"#).unwrap();
        lab
    }

    fn b(&self, args: &[&str]) -> Run {
        self.b_env(args, &[])
    }

    fn b_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = bundle(&self.d);
        c.current_dir(&self.d).env("COSIGN_PASSWORD", "pw");
        for (k, v) in env {
            c.env(k, v);
        }
        run(c.args(args))
    }

    fn source(&self) -> String {
        self.repo.join("docproc").display().to_string()
    }

    /// `attestations … --json`: (exit code, report), the report checked against
    /// spec/attestations-report.schema.json.
    fn listed(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let r = self.b(&[&["attestations", "--json"][..], args].concat());
        let v = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
        let code = "import json, sys, pathlib, jsonschema, referencing\n\
            d = pathlib.Path(sys.argv[1])\n\
            s = {p.name: json.loads(p.read_text()) for p in d.glob('*.schema.json')}\n\
            reg = referencing.Registry().with_resources([(x['$id'], referencing.Resource.from_contents(x)) for x in s.values()])\n\
            jsonschema.Draft202012Validator(s['attestations-report.schema.json'], registry=reg).validate(json.loads(sys.argv[2]))";
        let check = py(code, &[repo_root().join("spec").to_str().unwrap(), &r.stdout]);
        assert_eq!(check.code, 0, "attestations --json against its schema: {}", check.stderr);
        (r.code, v)
    }
}

fn statements_of(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["attestations"].as_array().unwrap().clone()
}

#[test]
fn cosign_and_bundle_read_each_others_attestations() {
    let lab = Lab::new();
    let d = &lab.d;
    let reg = Registry::plain(&d.join("reg"));
    let repo = format!("{}/acme/docproc", reg.addr);
    cosign_run(d, &["generate-key-pair", "--output-key-prefix", "theirs"]).ok();

    // A signed build in a GitLab tag pipeline: provenance is attested by default (CI=true), in the
    // layout and in the registry; the same build again gives the same provenance.
    let l = format!("oci:{}", d.join("l").display());
    let r = lab
        .b_env(&["build", "--version", "1.0.0", "--output", &l, "--push", &repo, "--sign", "--key", "ours.key", &lab.source()], &GITLAB_CI)
        .ok();
    assert!(r.stderr.contains("attested SLSA provenance v1"), "{}", r.stderr);
    let digest = built_digest(&r.stdout);
    let image = format!("{repo}@{digest}");
    let l2 = format!("oci:{}", d.join("l2").display());
    lab.b_env(&["build", "--version", "1.0.0", "--output", &l2, "--sign", "--key", "ours.key", &lab.source()], &GITLAB_CI).ok();
    let (_, first) = lab.listed(&[&l, "--identity", "docproc", "--key", "ours.pub", "--type", PROVENANCE]);
    let (_, again) = lab.listed(&[&l2, "--identity", "docproc", "--key", "ours.pub", "--type", PROVENANCE]);
    assert_eq!(first["attestations"][0]["predicate"], again["attestations"][0]["predicate"], "provenance is not reproducible");
    // Outside CI, signing attests no provenance unless asked; --no-provenance wins in CI.
    let l3 = format!("oci:{}", d.join("l3").display());
    lab.b(&["build", "--version", "1.0.0", "--output", &l3, "--sign", "--key", "ours.key", &lab.source()]).ok();
    assert_eq!(lab.listed(&[&l3, "--identity", "docproc", "--key", "ours.pub", "--type", PROVENANCE]).0, 1);
    let l4 = format!("oci:{}", d.join("l4").display());
    lab.b_env(
        &["build", "--version", "1.0.0", "--output", &l4, "--sign", "--key", "ours.key", "--no-provenance", &lab.source()],
        &GITLAB_CI,
    )
    .ok();
    assert_eq!(lab.listed(&[&l4, "--identity", "docproc", "--key", "ours.pub", "--type", PROVENANCE]).0, 1);
    lab.b(&["build", "--version", "1.0.0", "--output", &l3, "--provenance", &lab.source()]).code(2);

    // push carries the attestations (the .att tag and the bundle referrers) to another repository.
    let mirror = format!("{}/acme/mirror", reg.addr);
    let r = lab.b(&["push", &format!("{l}:1.0.0"), &mirror]).ok();
    assert!(r.stderr.contains("1 legacy attestation(s)"), "{}", r.stderr);
    let (code, v) = lab.listed(&[&format!("{mirror}:1.0.0"), "--key", "ours.pub", "--identity", "docproc", "--type", PROVENANCE]);
    assert_eq!((code, statements_of(&v).len()), (0, 2), "{v}");
    assert_eq!(v["digest"], digest.as_str(), "the mirror's tag names the same release");
    assert_eq!(cosign_verify(d, "ours.pub", "slsaprovenance1", &format!("{mirror}@{digest}"), false).0.code, 0);
    // history counts signatures, not attestations: legacy and bundle, in the layout.
    let h: serde_json::Value = serde_json::from_str(&lab.b(&["history", &l, "--json"]).ok().stdout).unwrap();
    assert_eq!(h[0]["signatures"], 2, "{h}");

    // cosign verifies our provenance in both formats; the statements are valid in-toto / SLSA.
    let (r, legacy) = cosign_verify(d, "ours.pub", "slsaprovenance1", &image, false);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (r, bundled) = cosign_verify(d, "ours.pub", PROVENANCE, &image, true);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!((legacy.len(), bundled.len()), (1, 1), "one provenance in each format");
    assert_eq!(bundled[0]["subject"], legacy[0]["subject"]);
    assert_eq!(bundled[0]["predicate"], legacy[0]["predicate"]);
    let p = &legacy[0]["predicate"];
    assert_eq!(legacy[0]["subject"][0]["name"], repo);
    assert_eq!(legacy[0]["subject"][0]["digest"]["sha256"], digest.trim_start_matches("sha256:"));
    assert_eq!(p["buildDefinition"]["buildType"], "https://relbundle.dev/build/v1");
    assert_eq!(p["runDetails"]["builder"]["id"], "https://gitlab.example.com/acme/docproc//.gitlab-ci.yml@refs/tags/docproc-v1.0.0");
    assert_eq!(p["runDetails"]["metadata"]["invocationId"], "https://gitlab.example.com/acme/docproc/-/jobs/4242");
    assert_eq!(p["buildDefinition"]["externalParameters"]["version"], "1.0.0");
    let deps = p["buildDefinition"]["resolvedDependencies"].as_array().unwrap();
    assert!(deps.iter().any(|x| x["digest"]["gitCommit"].is_string()), "{p}");
    for kind in ["/image", "/models/", "/prompts/", "/contracts/"] {
        assert!(deps.iter().any(|x| x["name"].as_str().unwrap().contains(kind)), "no {kind} dependency: {p}");
    }
    validate(&[&legacy[..], &bundled[..]].concat());

    // Our attestation of an evaluation, in both formats: cosign verifies each; again is a no-op.
    let r = lab.b(&["attest", &format!("{repo}:1.0.0"), "--predicate", "eval.json", "--type", EVAL, "--key", "ours.key"]).ok();
    assert!(r.stdout.contains("(bundle)") && r.stdout.contains("(legacy)"), "{}", r.stdout);
    let r = lab.b(&["attest", &image, "--predicate", "eval.json", "--type", EVAL, "--key", "ours.key", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (v["added"].as_bool(), v["bundle"]["added"].as_bool(), v["legacy"]["added"].as_bool()),
        (Some(false), Some(false), Some(false))
    );
    for bundle in [false, true] {
        let (r, st) = cosign_verify(d, "ours.pub", EVAL, &image, bundle);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert_eq!(st.len(), 1, "re-attesting added one: {st:?}");
        assert_eq!(st[0]["predicate"]["metrics"]["accuracy"], 0.93);
        validate(&st);
    }

    // cosign's attestations (legacy, appended to the same .att; and a bundle): ours verifies them.
    std::fs::write(d.join("slsa.json"), r#"{"buildDefinition":{"buildType":"https://example.com/t","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/b"}}}"#).unwrap();
    std::fs::write(d.join("vuln.json"), r#"{"scanner":{"uri":"https://example.com/scanner","result":[]}}"#).unwrap();
    let attest = ["attest", "--key", "theirs.key", "--tlog-upload=false", "--yes", "--allow-insecure-registry", "--allow-http-registry"];
    cosign_run(d, &[&attest[..], &["--type", "slsaprovenance1", "--predicate", "slsa.json", &image]].concat()).ok();
    cosign_run(d, &[&attest[..], &["--new-bundle-format", "--type", "vuln", "--predicate", "vuln.json", &image]].concat()).ok();
    let (code, v) = lab.listed(&[&format!("{repo}:1.0.0"), "--key", "theirs.pub", "--type", "slsaprovenance1"]);
    assert_eq!(code, 0, "{v}");
    let theirs = statements_of(&v);
    assert_eq!(theirs.len(), 1, "{v}");
    assert_eq!((theirs[0]["signer"]["format"].as_str(), theirs[0]["signer"]["key"].as_str()), (Some("legacy"), Some("theirs.pub")));
    assert_eq!(theirs[0]["predicate"]["runDetails"]["builder"]["id"], "https://example.com/b");
    let (code, v) = lab.listed(&[&format!("{repo}:1.0.0"), "--key", "theirs.pub", "--type", "vuln"]);
    assert_eq!((code, v["attestations"][0]["signer"]["format"].as_str()), (0, Some("bundle")), "{v}");
    assert_eq!(v["attestations"][0]["predicateType"], "https://cosign.sigstore.dev/attestation/vuln/v1");
    // Our key: our provenance only (both formats); cosign's is a failure, never verified.
    let (code, v) = lab.listed(&[&format!("{repo}:1.0.0"), "--key", "ours.pub", "--type", PROVENANCE]);
    assert_eq!(code, 0);
    assert!(statements_of(&v).iter().all(|a| a["signer"]["key"] == "ours.pub"), "{v}");
    assert_eq!(statements_of(&v).len(), 2, "{v}");
    assert!(v["failures"].to_string().contains("made by none of the given keys"), "{v}");
    let r = lab.b(&["attestations", &format!("{repo}:1.0.0"), "--key", "ours.pub", "--type", "vuln"]).code(1);
    assert!(r.stdout.contains("0 verified") && r.stdout.contains("not verified (1)"), "{}", r.stdout);
    // After cosign appended to the .att tag, cosign still verifies ours there.
    assert_eq!(cosign_verify(d, "ours.pub", EVAL, &image, false).0.code, 0);

    // verify --attest-result: a VSA after a passing verify (cosign reads it); none after a failure.
    let r = lab.b(&["verify", &format!("{repo}:1.0.0"), "--key", "ours.pub", "--attest-result", "--attest-key", "ours.key"]).ok();
    assert!(r.stderr.contains("SLSA_BUILD_LEVEL_1"), "{}", r.stderr);
    let (r, vsa) = cosign_verify(d, "ours.pub", VSA, &image, false);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let p = &vsa[0]["predicate"];
    assert_eq!(p["verificationResult"], "PASSED");
    assert_eq!(p["resourceUri"], format!("oci://{repo}@{digest}"));
    assert_eq!(p["verifiedLevels"], serde_json::json!(["SLSA_BUILD_LEVEL_1"]));
    assert!(p["inputAttestations"].as_array().unwrap().len() >= 3, "signatures and provenance: {p}");
    let (r, bundled_vsa) = cosign_verify(d, "ours.pub", VSA, &image, true);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(bundled_vsa.len(), 1, "{bundled_vsa:?}");
    assert_eq!(bundled_vsa[0]["predicate"]["verificationResult"], "PASSED");
    assert_eq!(bundled_vsa[0]["subject"], vsa[0]["subject"]);
    validate(&[&vsa[..], &bundled_vsa[..]].concat());
    let before = statements_of(&lab.listed(&[&format!("{repo}:1.0.0"), "--key", "ours.pub", "--type", VSA]).1).len();
    lab.b(&["verify", &format!("{repo}:1.0.0"), "--key", "other.pub", "--attest-result", "--attest-key", "ours.key"]).code(1);
    let after = statements_of(&lab.listed(&[&format!("{repo}:1.0.0"), "--key", "ours.pub", "--type", VSA]).1).len();
    assert_eq!((before, after), (2, 2), "a failed verify attested its result");
    lab.b(&["verify", &format!("{repo}:1.0.0"), "--key", "ours.pub", "--attest-result"]).code(2);
}

/// The `.att` manifest of `digest` in a layout: (its index.json entry position, manifest JSON).
fn att_manifest(dir: &Path, digest: &str) -> (usize, serde_json::Value) {
    let idx: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let tag = format!("{}.att", digest.replace(':', "-"));
    let i = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag.as_str())
        .unwrap_or_else(|| panic!("no {tag}"));
    let md = idx["manifests"][i]["digest"].as_str().unwrap();
    (i, serde_json::from_slice(&std::fs::read(craft::blob_path(dir, md)).unwrap()).unwrap())
}

fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let digest = relbundle::hashing::sha256_digest(bytes);
    std::fs::write(craft::blob_path(dir, &digest), bytes).unwrap();
    digest
}

#[test]
fn attacker_cases_and_bad_input_in_a_layout() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let lab = Lab::new();
    let d = &lab.d;
    let dir = d.join("l");
    let l = format!("oci:{}", dir.display());
    let a =
        built_digest(&lab.b(&["build", "--version", "1.0.0", "--output", &l, "--sign", "--key", "ours.key", &lab.source()]).ok().stdout);
    let b =
        built_digest(&lab.b(&["build", "--version", "1.0.1", "--output", &l, "--sign", "--key", "ours.key", &lab.source()]).ok().stdout);
    let trust = ["--key", "ours.pub", "--identity", "docproc"];
    let a_ref = format!("{l}:1.0.0");
    let b_ref = format!("{l}:1.0.1");

    // Signatures (sign/v1, both formats) are not attestations: nothing listed, nothing failed.
    let (code, v) = lab.listed(&[&[&b_ref[..]][..], &trust[..]].concat());
    assert_eq!((code, statements_of(&v).len(), v["failures"].as_array().unwrap().len()), (0, 0, 0), "{v}");
    let (code, _) = lab.listed(&[&[&b_ref[..], "--type", "https://sigstore.dev/cosign/sign/v1"][..], &trust[..]].concat());
    assert_eq!(code, 1);

    // A layout needs --identity; the statement names the release as given.
    lab.b(&[
        "attest",
        &a_ref,
        "--predicate",
        "eval.json",
        "--type",
        EVAL,
        "--key",
        "ours.key",
        "--format",
        "legacy",
        "--identity",
        "docproc",
    ])
    .ok();
    lab.b(&["attestations", &a_ref, "--key", "ours.pub", "--type", EVAL]).code(2);
    let (code, v) = lab.listed(&[&[&a_ref[..], "--type", EVAL][..], &trust[..]].concat());
    assert_eq!((code, statements_of(&v).len()), (0, 1), "{v}");
    let (code, v) = lab.listed(&[&a_ref, "--type", EVAL, "--key", "ours.pub", "--identity", "registry.example.com/other"]);
    assert_eq!(code, 1);
    assert!(v["failures"].to_string().contains("identity `docproc` is not `registry.example.com/other`"), "{v}");

    // An attestation by an untrusted key is listed as a failure, never as verified.
    lab.b(&["attest", &a_ref, "--predicate", "eval.json", "--type", EVAL, "--key", "other.key", "--identity", "docproc"]).ok();
    let (code, v) = lab.listed(&[&[&a_ref[..], "--type", EVAL][..], &trust[..]].concat());
    assert_eq!((code, statements_of(&v).len()), (0, 1), "{v}");
    assert_eq!(v["failures"].as_array().unwrap().len(), 2, "other's legacy and bundle attestations: {v}");

    // A's attestations moved to B (the .att tag of B names A's manifest): the statement is A's.
    let (i, _) = att_manifest(&dir, &a);
    craft::edit_index(&dir, |idx| {
        let mut e = idx["manifests"][i].clone();
        e["annotations"]["org.opencontainers.image.ref.name"] = format!("{}.att", b.replace(':', "-")).into();
        idx["manifests"].as_array_mut().unwrap().push(e);
    });
    let (code, v) = lab.listed(&[&[&b_ref[..], "--type", EVAL][..], &trust[..]].concat());
    assert_eq!(code, 1, "{v}");
    assert!(v["failures"].to_string().contains(&format!("the statement signs {a}, not {b}")), "{v}");

    // A tampered payload in A's .att layer (the accuracy raised, the signature kept): refused.
    let (i, mut m) = att_manifest(&dir, &a);
    let layer = m["layers"][0].clone();
    let mut env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(craft::blob_path(&dir, layer["digest"].as_str().unwrap())).unwrap()).unwrap();
    let mut st: serde_json::Value = serde_json::from_slice(&b64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    st["predicate"]["metrics"]["accuracy"] = 0.99.into();
    env["payload"] = b64.encode(serde_json::to_vec(&st).unwrap()).into();
    let bytes = serde_json::to_vec(&env).unwrap();
    m["layers"][0]["digest"] = put_blob(&dir, &bytes).into();
    m["layers"][0]["size"] = bytes.len().into();
    let mb = serde_json::to_vec(&m).unwrap();
    let md = put_blob(&dir, &mb);
    craft::edit_index(&dir, |idx| {
        idx["manifests"][i]["digest"] = md.clone().into();
        idx["manifests"][i]["size"] = mb.len().into();
    });
    let (code, v) = lab.listed(&[&[&a_ref[..], "--type", EVAL][..], &trust[..]].concat());
    assert_eq!(code, 1, "{v}");
    assert!(
        v["failures"][0]
            .as_str()
            .unwrap()
            .contains(&format!("layer {}: made by none of the given keys, or corrupted", m["layers"][0]["digest"].as_str().unwrap())),
        "{v}"
    );
    // Trusting both keys: other's two verify, our tampered one still does not.
    let (code, v) = lab.listed(&[&[&a_ref[..], "--type", EVAL, "--key", "other.pub"][..], &trust[..]].concat());
    assert_eq!((code, statements_of(&v).len()), (0, 2), "{v}");
    assert!(statements_of(&v).iter().all(|a| a["signer"]["key"] == "other.pub"), "{v}");

    // verify --policy FILE --env ENV --attest-result: the summary names the policy file's digest.
    let policy = "apiVersion: relbundle.dev/v1\nkind: ReleasePolicy\nenvironments:\n  staging:\n    signers:\n      keys: [ours.pub]\n    rules:\n      - name: three components\n        condition: record.components.size() == 3\n";
    std::fs::write(d.join("policy.yaml"), policy).unwrap();
    let gate = [
        "verify",
        &b_ref,
        "--identity",
        "docproc",
        "--policy",
        "policy.yaml",
        "--env",
        "staging",
        "--attest-result",
        "--attest-key",
        "ours.key",
    ];
    lab.b(&gate).ok();
    let (code, v) = lab.listed(&[&[&b_ref[..], "--type", VSA][..], &trust[..]].concat());
    assert_eq!((code, statements_of(&v).len()), (0, 2), "{v}");
    let p = &v["attestations"][0]["predicate"];
    assert_eq!(p["policy"]["uri"], "https://relbundle.dev/policy/v1#staging");
    assert_eq!(
        format!("sha256:{}", p["policy"]["digest"]["sha256"].as_str().unwrap()),
        relbundle::hashing::sha256_digest(policy.as_bytes())
    );
    assert_eq!(p["verifiedLevels"], serde_json::json!(["SLSA_BUILD_LEVEL_0"]), "no provenance: {p}");
    assert_eq!(p["resourceUri"], format!("{l}@{b}"));
    validate(&[serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "docproc", "digest": {"sha256": b.trim_start_matches("sha256:")}}],
        "predicateType": VSA, "predicate": p,
    })]);

    // The signature check concerns signatures only: B now has its signature and attestations
    // (the VSA, in both formats, by the same key); a verify that wants a second signer fails
    // naming only the missing signer, never an attestation as a failed signature.
    let r = lab.b(&["verify", &b_ref, "--key", "ours.pub", "--key", "other.pub", "--min-signers", "2", "--identity", "docproc", "--json"]);
    let r = r.code(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let sigs = v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "signatures").unwrap();
    let failures: Vec<&str> = sigs["failures"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(failures.len(), 2, "{v}");
    assert!(failures[0].starts_with("1 distinct trusted key(s) signed this digest; 2 required"), "{v}");
    assert!(failures[1].starts_with("no valid signature by") && failures[1].contains("other.pub"), "{v}");
    let r = lab.b(&["verify", &b_ref, "--key", "ours.pub", "--identity", "docproc"]).ok();
    assert!(!r.stdout.contains("attestation") && !r.stdout.contains("FAIL"), "{}", r.stdout);

    // Bad input: exit 2, naming what is wrong; nothing written.
    let before = snapshot(&dir);
    let attest = |extra: &[&str]| lab.b(&[&["attest", &a_ref, "--identity", "docproc"][..], extra].concat());
    let r = attest(&["--predicate", "eval.json", "--type", "accuracy", "--key", "ours.key"]).code(2);
    assert!(r.stderr.contains("--type `accuracy`") && r.stderr.contains("slsaprovenance1"), "{}", r.stderr);
    std::fs::write(d.join("list.json"), "[1, 2]").unwrap();
    let r = attest(&["--predicate", "list.json", "--type", EVAL, "--key", "ours.key"]).code(2);
    assert!(r.stderr.contains("--predicate list.json") && r.stderr.contains("JSON object"), "{}", r.stderr);
    let r = attest(&["--predicate", "missing.json", "--type", EVAL, "--key", "ours.key"]).code(2);
    assert!(r.stderr.contains("--predicate missing.json"), "{}", r.stderr);
    let r = attest(&["--predicate", "eval.json", "--type", "https://sigstore.dev/cosign/sign/v1", "--key", "ours.key"]).code(2);
    assert!(r.stderr.contains("bundle sign"), "{}", r.stderr);
    attest(&["--predicate", "eval.json", "--type", EVAL, "--keyless", "--format", "legacy"]).code(2);
    attest(&["--predicate", "eval.json", "--type", EVAL]).code(2);
    assert!(snapshot(&dir) == before, "a refused attest wrote something");
}

#[test]
fn keyless_attestation_round_trip_and_sigstore_python() {
    let lab = Lab::new();
    let d = &lab.d;
    let s = Standin::start(&d.join("sigstore"), false);
    let claims = common::standin::github_claims("release.yml");
    let token = d.join("token");
    let config = s.file("signing_config.json");
    let root = s.file("trusted_root.json");
    let keyless = ["--keyless", "--identity-token", token.to_str().unwrap(), "--signing-config", config.to_str().unwrap()];
    let dir = d.join("l");
    let l = format!("oci:{}", dir.display());
    let digest = built_digest(&lab.b(&["build", "--version", "1.0.0", "--output", &l, &lab.source()]).ok().stdout);

    std::fs::write(&token, s.token(&claims)).unwrap();
    let r = lab
        .b(&[&["attest", &format!("{l}:1.0.0"), "--predicate", "eval.json", "--type", EVAL, "--identity", "docproc"][..], &keyless[..]]
            .concat())
        .ok();
    assert!(r.stdout.contains(&format!("keyless: {SAN} from {ISSUER}")), "{}", r.stdout);
    let pin = ["--identity", "docproc", "--trusted-root", root.to_str().unwrap(), "--certificate-oidc-issuer", ISSUER];
    let (code, v) = lab.listed(&[&[&format!("{l}:1.0.0")[..], "--type", EVAL, "--certificate-identity", SAN][..], &pin[..]].concat());
    assert_eq!(code, 0, "{v}");
    let a = &v["attestations"][0];
    assert_eq!((a["signer"]["certificate"]["identity"].as_str(), a["signer"]["format"].as_str()), (Some(SAN), Some("bundle")), "{v}");
    assert_eq!(a["predicate"]["metrics"]["accuracy"], 0.93);
    // Another workflow's identity: not verified.
    let other = SAN.replace("release.yml", "pr.yml");
    let (code, v) = lab.listed(&[&[&format!("{l}:1.0.0")[..], "--type", EVAL, "--certificate-identity", &other][..], &pin[..]].concat());
    assert_eq!(code, 1, "{v}");
    assert!(v["failures"].to_string().contains(SAN), "refused for its SAN: {v}");

    // sigstore-python verifies the stored bundle for the release digest and the CI identity.
    let idx: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let entry = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["dev.sigstore.bundle.predicateType"] == EVAL)
        .unwrap_or_else(|| panic!("no referrer with the predicate type annotation: {idx}"));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(craft::blob_path(&dir, entry["digest"].as_str().unwrap())).unwrap()).unwrap();
    let bundle_file = d.join("attestation.sigstore.json");
    std::fs::copy(craft::blob_path(&dir, m["layers"][0]["digest"].as_str().unwrap()), &bundle_file).unwrap();
    let r = run(Command::new(python())
        .args(["-m", "sigstore", "--trust-config"])
        .arg(s.file("trust_config.json"))
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(&bundle_file)
        .args(["--cert-identity", SAN, "--cert-oidc-issuer", ISSUER])
        .arg(&digest));
    assert_eq!(r.code, 0, "sigstore-python: {}\n{}", r.stdout, r.stderr);

    // build --sign --keyless --provenance: provenance attested keylessly, listed for the identity.
    std::fs::write(&token, s.token(&claims)).unwrap();
    let l2 = format!("oci:{}", d.join("l2").display());
    lab.b(&[&["build", "--version", "1.0.0", "--output", &l2, "--sign", "--provenance"][..], &keyless[..], &[&lab.source()[..]]].concat())
        .ok();
    let (code, v) =
        lab.listed(&[&[&format!("{l2}:1.0.0")[..], "--type", "slsaprovenance1", "--certificate-identity", SAN][..], &pin[..]].concat());
    assert_eq!((code, statements_of(&v).len()), (0, 1), "{v}");
    validate(&[serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "docproc", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": PROVENANCE,
        "predicate": v["attestations"][0]["predicate"],
    })]);
}

#[test]
fn provenance_names_the_github_run_or_a_local_builder_and_is_reproducible() {
    let lab = Lab::new();
    let d = &lab.d;
    let github = [
        ("CI", "true"),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/docproc"),
        ("GITHUB_WORKFLOW_REF", "acme/docproc/.github/workflows/release.yml@refs/tags/docproc-v1.0.0"),
        ("GITHUB_REF", "refs/tags/docproc-v1.0.0"),
        ("GITHUB_RUN_ID", "9001"),
        ("GITHUB_RUN_ATTEMPT", "2"),
    ];
    let provenance = |name: &str, env: &[(&str, &str)], extra: &[&str]| {
        let l = format!("oci:{}", d.join(name).display());
        lab.b_env(
            &[&["build", "--version", "1.0.0", "--output", &l, "--sign", "--key", "ours.key"][..], extra, &[&lab.source()[..]]].concat(),
            env,
        )
        .ok();
        let (code, v) = lab.listed(&[&l, "--identity", "docproc", "--key", "ours.pub", "--type", PROVENANCE]);
        assert_eq!((code, statements_of(&v).len()), (0, 2), "{v}");
        let p = v["attestations"][0]["predicate"].clone();
        assert_eq!(p, v["attestations"][1]["predicate"], "the legacy and bundle provenance differ");
        p
    };
    let gh = provenance("gh", &github, &[]);
    assert_eq!(gh["runDetails"]["builder"]["id"], "https://github.com/acme/docproc/.github/workflows/release.yml@refs/tags/docproc-v1.0.0");
    assert_eq!(gh["runDetails"]["metadata"]["invocationId"], "https://github.com/acme/docproc/actions/runs/9001/attempts/2");
    assert_eq!(gh["buildDefinition"]["internalParameters"]["ci"], "github-actions");
    // Another run of the same commit: only the invocation differs.
    let mut rerun = github;
    rerun[6] = ("GITHUB_RUN_ID", "9002");
    let mut gh2 = provenance("gh2", &rerun, &[]);
    assert_ne!(gh2, gh);
    gh2["runDetails"]["metadata"]["invocationId"] = gh["runDetails"]["metadata"]["invocationId"].clone();
    assert_eq!(gh2, gh, "provenance holds more than the CI variables' differences");
    // Outside CI, asked for: the local builder, no invocation, no timestamp; the same twice.
    let local = provenance("local", &[], &["--provenance"]);
    assert_eq!(local["runDetails"]["builder"]["id"], "https://relbundle.dev/builder/local/v1");
    assert!(local["runDetails"].get("metadata").is_none(), "{local}");
    assert_eq!(
        provenance("local2", &[("SOURCE_DATE_EPOCH", "1767225600")], &["--provenance"])["buildDefinition"],
        local["buildDefinition"]
    );
    assert_eq!(local["buildDefinition"]["externalParameters"]["source"]["path"], "docproc");
}
