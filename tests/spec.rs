//! The code against spec/: constants, a real build's manifest and layers, and the JSON Schemas,
//! checked with Python's jsonschema, tarfile and gzip (independent of our own reader).

mod common;
use common::*;

fn spec() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(repo_root().join("spec/artifact.json")).unwrap()).unwrap()
}

/// The limits table in spec/README.md § 5 states the code's limits (every row, every number).
#[test]
fn limits_match_spec() {
    use relbundle::*;
    let text = std::fs::read_to_string(repo_root().join("spec/README.md")).unwrap();
    let table: Vec<&str> = text.split("## 5. Limits on untrusted input").nth(1).unwrap().lines().filter(|l| l.starts_with("| ")).collect();
    let row = |what: &str| {
        *table.iter().find(|l| l.starts_with(&format!("| {what} |"))).unwrap_or_else(|| panic!("spec § 5 has no row `{what}`"))
    };
    let mib = |n: u64| format!("{} MiB", n >> 20);
    let t = extract::Limits::default();
    let want: Vec<(&str, Vec<String>)> = vec![
        ("a manifest or `index.json`", vec![mib(oci::MAX_MANIFEST)]),
        ("layers in a manifest", vec![oci::MAX_LAYERS.to_string()]),
        ("a release record", vec![mib(artifact::MAX_RECORD)]),
        ("a blob (its descriptor's size claim)", vec![mib(oci::MAX_BLOB)]),
        ("signatures", vec![signing::MAX_SIGNATURES.to_string(), format!("{} KiB", signing::MAX_PAYLOAD >> 10)]),
        ("attestations", vec![signing::MAX_SIGNATURES.to_string(), mib(trust::attest::MAX_ATTESTATION)]),
        ("a layer's tar", vec![format!("{},{:03} entries", t.max_entries / 1000, t.max_entries % 1000), mib(t.max_file), "1 GiB".into()]),
        ("a file packed into a layer", vec![mib(files::MAX_FILE)]),
        ("`$ref` chains", vec![format!("{} deep", compat::MAX_DEPTH)]),
        ("files reached by one contract's `$ref`s", vec![contracts::MAX_REF_FILES.to_string()]),
    ];
    assert_eq!(t.max_total, 1 << 30);
    for (what, numbers) in want {
        let r = row(what);
        for n in numbers {
            assert!(r.contains(&n), "spec § 5 row `{what}` should say {n}: {r}");
        }
    }
}

#[test]
fn constants_match_spec() {
    use relbundle::spec::*;
    let s = spec();
    assert_eq!(s["artifactType"], ARTIFACT_TYPE);
    assert_eq!(s["manifestMediaType"], OCI_MANIFEST);
    assert_eq!(s["config"]["mediaType"], RECORD_MEDIA_TYPE);
    assert_eq!(s["config"]["recordSchemaVersion"], RECORD_SCHEMA_VERSION);
    let layers: Vec<(&str, &str)> =
        s["layers"].as_array().unwrap().iter().map(|l| (l["title"].as_str().unwrap(), l["mediaType"].as_str().unwrap())).collect();
    assert_eq!(
        layers,
        [
            (TITLE_BUNDLE_FILE, BUNDLE_FILE_MEDIA_TYPE),
            (TITLE_PROMPTS, PROMPTS_MEDIA_TYPE),
            (TITLE_CONTRACTS, CONTRACTS_MEDIA_TYPE),
            (TITLE_DVC, DVC_MEDIA_TYPE)
        ]
    );
    assert_eq!(s["gzip"]["level"], GZIP_LEVEL);
    assert_eq!(s["tar"]["mode"], format!("{TAR_FILE_MODE:04o}"));
    let req: Vec<&str> = s["manifestAnnotations"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(req, [ANN_VERSION, ANN_CREATED, ANN_TITLE, ANN_RELEASE_NAME]);
}

/// spec/artifact.json `attestations` (and spec/attestations.md, which names the same URIs) state
/// the code's attestation constants.
#[test]
fn attestation_constants_match_spec() {
    use relbundle::slsa;
    use relbundle::trust::{attest, bundle};
    let a = &spec()["attestations"];
    let doc = std::fs::read_to_string(repo_root().join("spec/attestations.md")).unwrap();
    let pairs = [
        (&a["statementType"], bundle::STATEMENT_V1),
        (&a["payloadType"], bundle::INTOTO_PAYLOAD_TYPE),
        (&a["legacyLayerMediaType"], attest::DSSE_MEDIA_TYPE),
        (&a["legacyPredicateAnnotation"], attest::ANN_PREDICATE_TYPE),
        (&a["bundlePredicateAnnotation"], bundle::ANN_PREDICATE),
        (&a["signaturePredicate"], bundle::SIGN_PREDICATE),
        (&a["provenance"]["predicateType"], slsa::PROVENANCE_V1),
        (&a["provenance"]["buildType"], slsa::BUILD_TYPE),
        (&a["provenance"]["localBuilderId"], slsa::LOCAL_BUILDER),
        (&a["verificationSummary"]["predicateType"], slsa::VSA_V1),
        (&a["verificationSummary"]["verifierId"], slsa::VERIFIER),
        (&a["verificationSummary"]["flagsPolicyUri"], slsa::VERIFY_POLICY),
        (&a["verificationSummary"]["policyFileUri"], slsa::POLICY_FILE),
    ];
    for (spec, code) in pairs {
        assert_eq!(spec, code);
        assert!(doc.contains(code), "spec/attestations.md does not name {code}");
    }
    assert_eq!(a["maxSizeMiB"], attest::MAX_ATTESTATION >> 20);
    let names: Vec<(String, String)> =
        a["cosignTypeNames"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    let code: Vec<(String, String)> = attest::SHORT_NAMES.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(names.len(), code.len());
    for (k, v) in &code {
        assert!(names.contains(&(k.clone(), v.clone())), "spec/artifact.json cosignTypeNames lacks {k} = {v}");
        assert!(doc.contains(&format!("`{k}`")), "spec/attestations.md does not name cosign's `{k}`");
        assert_eq!(&attest::predicate_type_uri(k).unwrap(), v);
    }
}

/// Build the docproc fixture into a layout; returns (tempdir, layout path, manifest digest).
fn built() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let layout = t.path().join("layout");
    let r = run(bundle(t.path())
        .args(["build", "--verify-models", "--version", "1.2.3", "--output", &format!("oci:{}", layout.display())])
        .args(["--source-url", "https://ci-bot:s3cr3t@gitlab.example.com/acme/docproc.git"])
        .arg(repo.join("docproc")))
    .ok();
    let d = built_digest(&r.stdout);
    (t, layout, d)
}

const CHECK_LAYOUT: &str = r#"
import gzip, hashlib, io, json, os, sys, tarfile
import jsonschema
layout, digest, spec_dir, repo = sys.argv[1:5]
def blob(d):
    data = open(os.path.join(layout, "blobs", "sha256", d.split(":")[1]), "rb").read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == d, d
    return data
spec = json.load(open(os.path.join(spec_dir, "artifact.json")))
idx = json.load(open(os.path.join(layout, "index.json")))
assert json.load(open(os.path.join(layout, "oci-layout"))) == {"imageLayoutVersion": "1.0.0"}
[entry] = idx["manifests"]
assert entry["digest"] == digest and entry["annotations"]["org.opencontainers.image.ref.name"] == "1.2.3", entry
raw = blob(digest)
m = json.loads(raw)
assert entry["size"] == len(raw)
assert m["mediaType"] == spec["manifestMediaType"] and m["artifactType"] == spec["artifactType"], m
assert m["config"]["mediaType"] == spec["config"]["mediaType"]
assert [(l["annotations"]["org.opencontainers.image.title"], l["mediaType"]) for l in m["layers"]] == \
       [(l["title"], l["mediaType"]) for l in spec["layers"]], m["layers"]
for k in spec["manifestAnnotations"]["required"] + spec["manifestAnnotations"]["whenKnown"]:
    assert k in m["annotations"], k
assert m["annotations"]["org.opencontainers.image.version"] == "1.2.3"
assert m["annotations"]["org.opencontainers.image.source"] == "https://gitlab.example.com/acme/docproc.git", m["annotations"]
for d in [m["config"]] + m["layers"]:
    assert len(blob(d["digest"])) == d["size"], d
# The record: valid against the schema, and in canonical form.
rec_bytes = blob(m["config"]["digest"])
rec = json.loads(rec_bytes)
schema = json.load(open(os.path.join(spec_dir, "release-record.schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(rec)
assert rec_bytes == json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(), "record is not canonical"
assert m["annotations"]["org.opencontainers.image.created"] == rec["created"]
# Layers: deterministic gzip and tar, contents equal to the repository files.
want = {"prompts.tar.gz": sorted(p["path"] for c in rec["components"] for p in c["prompts"]),
        "contracts.tar.gz": sorted({x for c in rec["components"] for p in c["provides"] for x in [p["contract"]] + p["refs"]})}
for l in m["layers"]:
    title = l["annotations"]["org.opencontainers.image.title"]
    data = blob(l["digest"])
    if title == "bundle.yaml":
        assert data == open(os.path.join(repo, "bundle.yaml"), "rb").read()
        continue
    assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0" and data[9] == 255, "gzip header not reproducible"
    assert not (data[3] & 0x08), "gzip header has a file name"
    t = tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)))
    names = []
    for ti in t.getmembers():
        assert ti.isreg(), ti.name
        assert (ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname, ti.mode) == (0, 0, 0, "", "", 0o644), (ti.name, ti.mtime, ti.uid, ti.mode)
        names.append(ti.name)
        body = t.extractfile(ti).read()
        if title != "dvc.tar.gz" or not ti.name.startswith(".dvc/cache/"):
            assert body == open(os.path.join(repo, ti.name), "rb").read(), ti.name
        else:
            assert hashlib.md5(body).hexdigest() == ti.name.split("/")[-2] + ti.name.split("/")[-1][:-4], ti.name
    assert names == sorted(names), names
    if title in want:
        assert names == want[title], (title, names)
    if title == "dvc.tar.gz":
        for n in ["components/summarizer/dvc.lock", "components/summarizer/dvc.yaml", "components/ocr/models/text-recognizer.onnx.dvc",
                  ".dvc/cache/files/md5/60/6586e835566f8b13710fbd6c3e257f.dir"]:
            assert n in names, (n, names)
print("layout ok")
"#;

#[test]
fn built_artifact_matches_spec_and_schemas() {
    let (t, layout, digest) = built();
    let repo = t.path().join("repo/docproc");
    let r = py(CHECK_LAYOUT, &[layout.to_str().unwrap(), &digest, repo_root().join("spec").to_str().unwrap(), repo.to_str().unwrap()]).ok();
    assert!(r.stdout.contains("layout ok"), "{}{}", r.stdout, r.stderr);
}

const CHECK_DOCS: &str = r#"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
expect = sys.argv[2]
for f in sys.argv[3:]:
    doc = yaml.safe_load(open(f))
    errs = list(v.iter_errors(doc))
    if expect == "valid" and errs:
        sys.exit(f"{f}: {errs[0].message}")
    if expect == "invalid" and not errs:
        sys.exit(f"{f}: schema accepted an invalid document")
print("ok", len(sys.argv) - 3)
"#;

#[test]
fn fixtures_validate_against_the_input_schemas() {
    let spec = repo_root().join("spec");
    let fx = repo_root().join("fixtures");
    let bundles = [fx.join("docproc/bundle.yaml"), fx.join("dvc-hashing/bundle.yaml"), fx.join("prompt-formats/bundle.yaml")];
    let mut a: Vec<String> = vec![spec.join("bundle.schema.json").display().to_string(), "valid".into()];
    a.extend(bundles.iter().map(|p| p.display().to_string()));
    py(CHECK_DOCS, &a.iter().map(|s| s.as_str()).collect::<Vec<_>>()).ok();

    let prompts: Vec<String> = [
        "docproc/components/ocr/prompts/extract-fields.yaml",
        "docproc/components/embedding/prompts/queries/query-instruction.json",
        "docproc/components/summarizer/prompts/summarize.yaml",
        "docproc/components/summarizer/prompts/critique.yaml",
    ]
    .iter()
    .map(|p| fx.join(p).display().to_string())
    .collect();
    let mut a = vec![spec.join("prompt.schema.json").display().to_string(), "valid".into()];
    a.extend(prompts);
    py(CHECK_DOCS, &a.iter().map(|s| s.as_str()).collect::<Vec<_>>()).ok();

    // Documents the code rejects, the schema rejects too.
    let t = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(fx.join("docproc/bundle.yaml")).unwrap();
    let bad = [
        base.replace("    path: components/ocr\n", "    path: components/ocr\n    imagee: x\n"),
        base.replace("apiVersion: relbundle.dev/v1", "apiVersion: v2"),
        base.replace("  ocr:\n", "  OCR:\n"),
        base.replace(
            "      - dvc: models/text-recognizer.onnx.dvc\n",
            "      - dvc: models/text-recognizer.onnx.dvc\n        stage: train\n",
        ),
        base.replace("@sha256:3b1d9b5a", "@sha256:XYZ"),
    ];
    let mut a = vec![spec.join("bundle.schema.json").display().to_string(), "invalid".into()];
    for (i, b) in bad.iter().enumerate() {
        let p = t.path().join(format!("bad{i}.yaml"));
        std::fs::write(&p, b).unwrap();
        a.push(p.display().to_string());
        // And the CLI agrees.
        let dir = t.path().join(format!("d{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bundle.yaml"), b).unwrap();
        run(bundle(t.path()).args(["check", "--allow-dirty", "--version", "1.0.0"]).arg(&dir)).code(2);
    }
    py(CHECK_DOCS, &a.iter().map(|s| s.as_str()).collect::<Vec<_>>()).ok();
}

/// spec/relocation.md and its schema name the code's relocation constants.
#[test]
fn relocation_constants_match_spec() {
    use relbundle::relocate::*;
    let text = std::fs::read_to_string(repo_root().join("spec/relocation.md")).unwrap();
    for c in [PREDICATE_TYPE, ARTIFACT_TYPE, STATEMENT_MEDIA_TYPE, ANN_IMAGE_REF, "dev.relbundle.relocation.destination"] {
        assert!(text.contains(c), "spec/relocation.md does not name {c}");
    }
    assert!(text.contains(&image_entry_name("sha256:<hex>")), "the layout entry name");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo_root().join("spec/relocation.schema.json")).unwrap()).unwrap();
    assert_eq!(schema["$id"], PREDICATE_TYPE);
    let sample = Relocation { source: "a/b".into(), destination: "c/d".into(), images: Vec::new(), relocated_at: None };
    let v = serde_json::to_value(&sample).unwrap();
    let props = schema["properties"].as_object().unwrap();
    for k in v.as_object().unwrap().keys() {
        assert!(props.contains_key(k), "the schema lacks `{k}`");
    }
}

/// spec/promotion.md and spec/promotion.schema.json name the predicate types the code writes.
#[test]
fn promotion_predicate_types_match_spec() {
    use relbundle::trust::promotion::{EVIDENCE_TYPE, PREDICATE_TYPE};
    let md = std::fs::read_to_string(repo_root().join("spec/promotion.md")).unwrap();
    for t in [PREDICATE_TYPE, EVIDENCE_TYPE] {
        assert!(md.contains(&format!("| `{t}` |")), "spec/promotion.md § 1 has no row for {t}");
    }
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo_root().join("spec/promotion.schema.json")).unwrap()).unwrap();
    assert!(schema["title"].as_str().unwrap().contains(PREDICATE_TYPE));
    let skew = format!("{} minutes of clock skew", relbundle::trust::promotion::CLOCK_SKEW_MINUTES);
    assert!(md.contains(&skew), "spec/promotion.md should say {skew}");
}
