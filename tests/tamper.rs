//! The tamper matrix: a signed release altered in every way we could think of. Each case must be
//! rejected by `bundle verify`, with the right check failing and the reason named.

mod common;
use common::craft::*;
use common::registry::Registry;
use common::*;
use relbundle::oci::ImageManifest;
use relbundle::signing;
use relbundle::store::Store;
use relbundle::store::layout::Layout;
use std::path::{Path, PathBuf};

struct Fx {
    t: tempfile::TempDir,
    base: PathBuf,
    key: PathBuf,
    pubk: PathBuf,
    other_key: PathBuf,
    digest: String,
    repo: PathBuf,
}

fn setup() -> Fx {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().to_path_buf();
    let (repo, base, digest) = signed_fixture(&d);
    // The legacy cases below edit the `.sig` signatures; the bundle ones are in tests/bundle_format.rs.
    drop_referrers(&base);
    Fx { base, key: d.join("trusted.key"), pubk: d.join("trusted.pub"), other_key: d.join("other.key"), digest, repo, t }
}

impl Fx {
    fn dir(&self) -> &Path {
        self.t.path()
    }
    /// A fresh copy of the signed layout.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.dir().join(name);
        sh(self.dir(), &format!("cp -a {} {}", self.base.display(), to.display())).ok();
        to
    }
    fn verify(&self, dir: &Path, reference_suffix: &str, extra: &[&str]) -> Run {
        let mut args =
            vec!["verify".to_string(), format!("oci:{}{reference_suffix}", dir.display()), "--key".into(), self.pubk.display().to_string()];
        args.extend(["--identity".to_string(), "docproc".to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        run(bundle(self.dir()).args(&args))
    }
    fn sign(&self, dir: &Path, key: &Path, extra: &[&str]) {
        run(bundle(self.dir())
            .env("COSIGN_PASSWORD", "pw")
            .args(["sign", &format!("oci:{}:1.0.0", dir.display()), "--key", key.to_str().unwrap()])
            .args(extra))
        .ok();
    }
}

#[track_caller]
fn rejected(r: Run, check: &str, reason: &str, case: &str) {
    assert_eq!(r.code, 1, "case `{case}`: expected exit 1\n{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("FAIL  {check}")), "case `{case}`: check `{check}` did not fail:\n{}", r.stdout);
    assert!(r.stdout.contains(reason), "case `{case}`: reason {reason:?} not named:\n{}", r.stdout);
    assert!(r.stdout.contains("NOT VERIFIED") && r.stderr.contains("is not verified"), "case `{case}`");
}

#[test]
fn tamper_matrix() {
    let fx = setup();
    let mut cases = 0;
    // The untouched release verifies, by tag and by digest.
    fx.verify(&fx.base, ":1.0.0", &[]).ok();
    fx.verify(&fx.base, &format!("@{}", fx.digest), &[]).ok();

    // 1-6: a byte flipped in each blob kind (manifest, record, and each layer).
    let l = Layout::new(fx.base.clone());
    let (_, m) = manifest(&l, "1.0.0");
    let mut blobs: Vec<(String, String)> = vec![("manifest".into(), fx.digest.clone()), ("record".into(), m.config.digest.clone())];
    for layer in &m.layers {
        blobs.push((layer.annotation(relbundle::spec::ANN_TITLE).unwrap().to_string(), layer.digest.clone()));
    }
    for (name, digest) in &blobs {
        let dir = fx.copy(&format!("flip-{name}"));
        flip(&blob_path(&dir, digest));
        rejected(fx.verify(&dir, ":1.0.0", &[]), "integrity", "is corrupt", &format!("byte flipped in {name}"));
        cases += 1;
    }

    // 7: a size changed in index.json.
    let dir = fx.copy("size-index");
    edit_index(&dir, |v| {
        let m = v["manifests"].as_array_mut().unwrap().iter_mut().find(|m| m["digest"] == fx.digest.as_str()).unwrap();
        m["size"] = (m["size"].as_u64().unwrap() + 1).into();
    });
    rejected(fx.verify(&dir, ":1.0.0", &[]), "integrity", "its descriptor says", "size changed in index.json");
    cases += 1;

    // 8: a layer size changed in the manifest (a new, unsigned manifest).
    let dir = fx.copy("size-layer");
    craft(&dir, |_| {}, |m| m.layers[1].size += 1);
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "no signatures", "layer size changed");
    cases += 1;

    // 9: the manifest edited (an annotation) and the tag moved to it.
    let dir = fx.copy("manifest-edit");
    craft(
        &dir,
        |_| {},
        |m| {
            m.annotations.as_mut().unwrap().insert("org.opencontainers.image.version".into(), "9.9.9".into());
        },
    );
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "no signatures", "manifest edited");
    cases += 1;

    // 10: signed by another key only.
    let dir = fx.copy("other-key");
    edit_index(&dir, |v| {
        v["manifests"]
            .as_array_mut()
            .unwrap()
            .retain(|m| !m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap().ends_with(".sig"))
    });
    fx.sign(&dir, &fx.other_key, &[]);
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "made by none of the given keys", "another key");
    cases += 1;

    // 11: a payload for another digest, signed by the trusted key.
    let pw = zeroize::Zeroizing::new(b"pw".to_vec());
    let signer = signing::load_private_key(&fx.key, &pw).unwrap();
    let dir = fx.copy("other-digest");
    let p = signing::payload("docproc:1.0.0", DIGEST_A, &Default::default());
    put_sigs(&dir, &fx.digest, vec![(signing::SIMPLESIGNING_MEDIA_TYPE, p.clone(), Some(signer.sign(&p).unwrap()))]);
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", &format!("signs {DIGEST_A}, not {}", fx.digest), "payload for another digest");
    cases += 1;

    // 12: the signature annotation corrupted.
    let dir = fx.copy("sig-corrupt");
    let p = signing::payload("docproc:1.0.0", &fx.digest, &Default::default());
    let mut sig = signer.sign(&p).unwrap();
    sig.replace_range(10..12, if &sig[10..12] == "AA" { "BB" } else { "AA" });
    put_sigs(&dir, &fx.digest, vec![(signing::SIMPLESIGNING_MEDIA_TYPE, p.clone(), Some(sig))]);
    rejected(
        fx.verify(&dir, ":1.0.0", &[]),
        "signatures",
        "made by none of the given keys, or corrupted",
        "signature annotation corrupted",
    );
    cases += 1;

    // 13: the signature annotation missing.
    let dir = fx.copy("sig-missing-annotation");
    put_sigs(&dir, &fx.digest, vec![(signing::SIMPLESIGNING_MEDIA_TYPE, p.clone(), None)]);
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "no dev.cosignproject.cosign/signature annotation", "annotation missing");
    cases += 1;

    // 14: the `.sig` tag pointing at another release's signatures.
    let dir = fx.copy("sig-elsewhere");
    let other = dir.join("elsewhere-build");
    let img = format!("ocr=registry.example.com/docproc/ocr@{DIGEST_A}");
    let r = run(bundle(fx.dir())
        .env("COSIGN_PASSWORD", "pw")
        .args([
            "build",
            "--version",
            "1.0.0",
            "--image",
            &img,
            "--sign",
            "--key",
            fx.key.to_str().unwrap(),
            "--output",
            &format!("oci:{}", other.display()),
        ])
        .arg(fx.repo.join("docproc")))
    .ok();
    let other_digest = built_digest(&r.stdout);
    let ol = Layout::new(other.clone());
    let osig = ol.resolve(Some(&signing::sig_tag(&other_digest))).unwrap();
    let sl = ImageManifest::from_bytes(&ol.blob(&osig).unwrap(), "s").unwrap();
    let l2 = Layout::new(dir.clone());
    for b in std::iter::once(&sl.config).chain(&sl.layers) {
        l2.put_blob(b, &ol.blob(b).unwrap()).unwrap();
    }
    l2.put_blob(&osig, &ol.blob(&osig).unwrap()).unwrap();
    l2.tag(&signing::sig_tag(&fx.digest), &osig, true).unwrap();
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", &format!("signs {other_digest}"), ".sig tag elsewhere");
    cases += 1;

    // 15: the release tag moved after signing (to an unsigned release); the old digest still verifies.
    let dir = fx.copy("tag-moved");
    run(bundle(fx.dir())
        .args(["build", "--version", "1.0.0", "--image", &img, "--retag", "--output", &format!("oci:{}", dir.display())])
        .arg(fx.repo.join("docproc")))
    .ok();
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "no signatures", "tag moved after signing");
    fx.verify(&dir, &format!("@{}", fx.digest), &[]).ok();
    cases += 1;

    // 16: the signature missing.
    let dir = fx.copy("unsigned");
    edit_index(&dir, |v| {
        v["manifests"]
            .as_array_mut()
            .unwrap()
            .retain(|m| !m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap().ends_with(".sig"))
    });
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "no signatures", "missing signature");
    cases += 1;

    // 17: the wrong repository identity.
    let dir = fx.copy("identity");
    edit_index(&dir, |v| {
        v["manifests"]
            .as_array_mut()
            .unwrap()
            .retain(|m| !m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap().ends_with(".sig"))
    });
    fx.sign(&dir, &fx.key, &["--identity", "registry.example.com/evil/docproc"]);
    rejected(
        fx.verify(&dir, ":1.0.0", &[]),
        "signatures",
        "identity `registry.example.com/evil/docproc` is not `docproc`",
        "wrong identity",
    );
    fx.verify(&dir, ":1.0.0", &["--identity", "registry.example.com/evil/docproc"]).ok();
    cases += 1;

    // 18: a wrong payload type, signed.
    let dir = fx.copy("payload-type");
    let bad = String::from_utf8(p.clone()).unwrap().replace("cosign container image signature", "something else").into_bytes();
    put_sigs(&dir, &fx.digest, vec![(signing::SIMPLESIGNING_MEDIA_TYPE, bad.clone(), Some(signer.sign(&bad).unwrap()))]);
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "payload type `something else`", "payload type");
    cases += 1;

    // 19: a signature layer of the wrong media type.
    let dir = fx.copy("layer-type");
    put_sigs(&dir, &fx.digest, vec![("application/octet-stream", p.clone(), Some(signer.sign(&p).unwrap()))]);
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "layer type application/octet-stream", "signature layer type");
    cases += 1;

    // 20: the payload blob corrupted on disk.
    let dir = fx.copy("payload-flip");
    let sl = Layout::new(dir.clone());
    let sd = sl.resolve(Some(&signing::sig_tag(&fx.digest))).unwrap();
    let sm = ImageManifest::from_bytes(&sl.blob(&sd).unwrap(), "s").unwrap();
    flip(&blob_path(&dir, &sm.layers[0].digest));
    rejected(fx.verify(&dir, ":1.0.0", &[]), "signatures", "is corrupt", "payload blob corrupted");
    cases += 1;

    // 21-26: crafted releases, each signed by the trusted key, that break the record's rules.
    let crafted: Vec<(&str, Box<dyn Fn(&mut serde_json::Value)>, Box<dyn Fn(&mut ImageManifest)>, &str, &str)> = vec![
        (
            "unpinned image",
            Box::new(|r| r["components"][0]["image"]["digest"] = "latest".into()),
            Box::new(|_| {}),
            "integrity",
            "is not pinned by a sha256 digest",
        ),
        (
            "prompt sha256 changed",
            Box::new(|r| r["components"][0]["prompts"][0]["sha256"] = DIGEST_B.into()),
            Box::new(|_| {}),
            "record",
            "does not match its recorded sha256",
        ),
        (
            "requirement not met",
            Box::new(|r| r["components"][0]["consumes"][0]["requirement"] = "^9.0".into()),
            Box::new(|_| {}),
            "record",
            "which the release does not satisfy",
        ),
        ("unknown record field", Box::new(|r| r["extra"] = true.into()), Box::new(|_| {}), "integrity", "unknown field `extra`"),
        (
            "wrong artifact type",
            Box::new(|_| {}),
            Box::new(|m| m.artifact_type = Some("application/vnd.example.other".into())),
            "integrity",
            "not a relbundle release",
        ),
        (
            "a layer removed",
            Box::new(|_| {}),
            Box::new(|m| {
                m.layers.pop();
            }),
            "integrity",
            "3 layers; a release has exactly 4",
        ),
    ];
    for (i, (name, er, em, check, reason)) in crafted.into_iter().enumerate() {
        let dir = fx.copy(&format!("crafted-{i}"));
        let digest = craft(&dir, er, em);
        // `bundle sign` refuses to sign an invalid release; an attacker holding the key would not.
        signing::attach(&Layout::new(dir.clone()), &digest, "docproc:1.0.0", &Default::default(), &signer, None).unwrap();
        rejected(fx.verify(&dir, ":1.0.0", &[]), check, reason, name);
        cases += 1;
    }

    // 27: two signers required, one present.
    rejected(
        fx.verify(&fx.base, ":1.0.0", &["--key", fx.dir().join("other.pub").to_str().unwrap(), "--min-signers", "2"]),
        "signatures",
        "2 required",
        "min-signers",
    );
    cases += 1;

    // 28: a Helm values file with one digest changed (and the honest one passes).
    let rec: serde_json::Value =
        serde_json::from_str(&run(bundle(fx.dir()).args(["inspect", "--json", &format!("oci:{}:1.0.0", fx.base.display())])).ok().stdout)
            .unwrap();
    let mut values =
        format!("global:\n  bundle:\n    ref: registry.example.com/acme/docproc@{0}\n    digest: {0}\n    version: 1.0.0\n", fx.digest);
    for c in rec["components"].as_array().unwrap() {
        values.push_str(&format!(
            "{}:\n  image:\n    registry: {}\n    repository: {}\n    digest: {}\n",
            c["name"].as_str().unwrap(),
            c["image"]["registry"].as_str().unwrap(),
            c["image"]["repository"].as_str().unwrap(),
            c["image"]["digest"].as_str().unwrap()
        ));
    }
    let vf = fx.dir().join("values.yaml");
    std::fs::write(&vf, &values).unwrap();
    fx.verify(&fx.base, ":1.0.0", &["--values", vf.to_str().unwrap()]).ok();
    let ocr =
        rec["components"].as_array().unwrap().iter().find(|c| c["name"] == "ocr").unwrap()["image"]["digest"].as_str().unwrap().to_string();
    std::fs::write(&vf, values.replace(&ocr, DIGEST_B)).unwrap();
    rejected(
        fx.verify(&fx.base, ":1.0.0", &["--values", vf.to_str().unwrap()]),
        "values",
        &format!("ocr.image.digest is {DIGEST_B}"),
        "values file edited",
    );
    cases += 1;

    // A truncated public key is bad input (exit 2), naming the file.
    let k = std::fs::read_to_string(&fx.pubk).unwrap();
    let tk = fx.dir().join("trunc.pub");
    std::fs::write(&tk, &k[..k.len() / 2]).unwrap();
    let r = run(bundle(fx.dir()).args(["verify", &format!("oci:{}:1.0.0", fx.base.display()), "--key", tk.to_str().unwrap()])).code(2);
    assert!(r.stderr.contains("trunc.pub") && r.stderr.contains("truncated"), "{}", r.stderr);
    cases += 1;

    // The JSON report, for a verified and a failed run, matches spec/verify-report.schema.json.
    let ok = fx.verify(&fx.base, ":1.0.0", &["--json"]).ok().stdout;
    let bad = fx
        .verify(&fx.base, ":1.0.0", &["--json", "--key", fx.dir().join("other.pub").to_str().unwrap(), "--min-signers", "2"])
        .code(1)
        .stdout;
    let code = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
for doc in sys.argv[2:]:
    r = json.loads(doc)
    jsonschema.Draft202012Validator(schema).validate(r)
    assert r["verified"] == all(c["status"] != "fail" for c in r["checks"])
print("ok")
"#;
    py(code, &[repo_root().join("spec/verify-report.schema.json").to_str().unwrap(), &ok, &bad]).ok();

    assert!(cases >= 20, "{cases}");
    eprintln!("tamper matrix: {cases} cases rejected");
}

#[test]
fn registry_serving_corrupt_bytes_fails_integrity_not_open() {
    let fx = setup();
    let reg = Registry::plain(&fx.dir().join("reg"));
    let dst = format!("{}/acme/docproc", reg.addr);
    run(bundle(fx.dir()).args(["push", &format!("oci:{}:1.0.0", fx.base.display()), &dst])).ok();
    run(bundle(fx.dir()).env("COSIGN_PASSWORD", "pw").args(["sign", &format!("{dst}:1.0.0"), "--key", fx.key.to_str().unwrap()])).ok();
    verify_ok(&fx, &dst);
    // Corrupt the prompts layer inside the registry's own storage.
    let l = Layout::new(fx.base.clone());
    let (_, m) = manifest(&l, "1.0.0");
    let hex = m.layers[1].digest.trim_start_matches("sha256:").to_string();
    let data = reg.dir.join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(&hex).join("data");
    flip(&data);
    let r = run(bundle(fx.dir()).env("RELBUNDLE_RETRY_BASE_MS", "1").args([
        "verify",
        &format!("{dst}:1.0.0"),
        "--key",
        fx.pubk.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verified"], false);
    let integrity = v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "integrity").unwrap();
    assert_eq!(integrity["status"], "fail", "{v}");
    // An unreachable registry is an error (exit 2), never "unsigned" and never "ok".
    drop(reg);
    let r = run(bundle(fx.dir()).env("RELBUNDLE_RETRY_BASE_MS", "1").args([
        "verify",
        &format!("{dst}:1.0.0"),
        "--key",
        fx.pubk.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("verified"), "{}", r.stdout);
}

fn verify_ok(fx: &Fx, dst: &str) {
    run(bundle(fx.dir()).args(["verify", &format!("{dst}:1.0.0"), "--key", fx.pubk.to_str().unwrap()])).ok();
}
