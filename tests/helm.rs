//! Helm values through the real Helm engine (helm-python-sdk renders fixtures/chart/docproc
//! offline): every image pinned by the bundle's digests, a missing digest fails, a rollback moves
//! every component at once, `verify --values`, `--map`, and `pull --key` for the init container.

mod common;
use common::registry::Registry;
use common::*;

const RENDER: &str = r#"
import json, sys, yaml
from helm_python import Chart
chart, values, site = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
v = yaml.safe_load(open(values))
def merge(a, b):
    for k, x in b.items():
        if isinstance(x, dict) and isinstance(a.get(k), dict):
            merge(a[k], x)
        else:
            a[k] = x
merge(v, site)
out = Chart.load(chart).render(v, name="docproc")
res = {"images": {}, "init": {}, "checksum": set(), "all_images": [], "init_env": {}, "pull_secrets": {}}
for path, text in out.items():
    for doc in yaml.safe_load_all(text):
        if not doc or doc.get("kind") != "Deployment":
            continue
        name = doc["metadata"]["labels"]["app.kubernetes.io/name"]
        spec = doc["spec"]["template"]["spec"]
        for c in spec.get("containers", []):
            res["images"][name] = c["image"]
            res["all_images"].append(c["image"])
        res["pull_secrets"][name] = spec.get("imagePullSecrets")
        for c in spec.get("initContainers", []):
            res["init"][name] = c["args"]
            res["init_env"][name] = c.get("env", [])
            res["all_images"].append(c["image"])
        res["checksum"].add(doc["spec"]["template"]["metadata"]["annotations"]["checksum/bundle"])
res["checksum"] = sorted(res["checksum"])
print(json.dumps(res))
"#;

/// The site's own values, as a deploy pipeline adds them with `-f`: the bundle CLI image.
const SITE: &str = r#"{"bundleCli": {"image": "registry.example.com/platform/bundle@sha256:4444444444444444444444444444444444444444444444444444444444444444"}}"#;

fn render(values: &std::path::Path) -> Result<serde_json::Value, String> {
    render_with(values, SITE)
}

fn render_with(values: &std::path::Path, site: &str) -> Result<serde_json::Value, String> {
    let r = py(RENDER, &[repo_root().join("fixtures/chart/docproc").to_str().unwrap(), values.to_str().unwrap(), site]);
    if r.code != 0 {
        return Err(r.stderr);
    }
    Ok(serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap())
}

#[test]
fn values_render_pinned_and_roll_back_together() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let reg = Registry::plain(&d.join("reg"));
    run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen"])).ok();
    run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", "other"])).ok();
    let (key, pubk) = (d.join("cosign.key"), d.join("cosign.pub"));
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let dst = format!("{}/acme/docproc", reg.addr);
    let build = |v: &str, extra: &[&str]| {
        run(bundle(d)
            .env("COSIGN_PASSWORD", "pw")
            .args([
                "build",
                "--version",
                v,
                "--output",
                &format!("oci:{}", d.join(v).display()),
                "--push",
                &dst,
                "--sign",
                "--key",
                key.to_str().unwrap(),
            ])
            .args(extra)
            .arg(repo.join("docproc")))
        .ok()
    };
    let d10 = built_digest(&build("1.0.0", &[]).stdout);
    let new_images = [
        format!("ocr=registry.example.com/docproc/ocr:1.4.0@{DIGEST_A}"),
        format!("embedding=registry.example.com/docproc/embedding:2.2.0@{DIGEST_B}"),
        format!("summarizer=registry.example.com/docproc/summarizer:1.1.0@sha256:{}", "c".repeat(64)),
    ];
    let args: Vec<&str> = new_images.iter().flat_map(|i| ["--image", i.as_str()]).collect();
    let d11 = built_digest(&build("1.1.0", &args).stdout);

    // Values for 1.1.0, verified first.
    let v11 = d.join("values-1.1.0.yaml");
    let r = run(bundle(d).args(["values", &format!("{dst}:1.1.0"), "--key", pubk.to_str().unwrap(), "-o", v11.to_str().unwrap()])).ok();
    assert!(!r.stderr.contains("NOT verified"), "{}", r.stderr);
    let text = std::fs::read_to_string(&v11).unwrap();
    assert!(text.contains(&format!("ref: {dst}@{d11}")) && text.contains(&format!("digest: {d11}")), "{text}");
    let rec11: serde_json::Value =
        serde_json::from_str(&run(bundle(d).args(["inspect", "--json", &format!("{dst}:1.1.0")])).ok().stdout).unwrap();
    let rec10: serde_json::Value =
        serde_json::from_str(&run(bundle(d).args(["inspect", "--json", &format!("{dst}:1.0.0")])).ok().stdout).unwrap();
    let expected = |rec: &serde_json::Value| -> std::collections::BTreeMap<String, String> {
        rec["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let i = &c["image"];
                (
                    c["name"].as_str().unwrap().to_string(),
                    format!("{}/{}@{}", i["registry"].as_str().unwrap(), i["repository"].as_str().unwrap(), i["digest"].as_str().unwrap()),
                )
            })
            .collect()
    };

    // The real Helm engine: every component image is the bundle's, by digest.
    let out11 = render(&v11).unwrap();
    let images11: std::collections::BTreeMap<String, String> = serde_json::from_value(out11["images"].clone()).unwrap();
    assert_eq!(images11, expected(&rec11));
    for img in out11["all_images"].as_array().unwrap() {
        assert!(img.as_str().unwrap().contains("@sha256:"), "not pinned by digest: {img}");
    }
    // The init container pulls this bundle's prompts by digest and verifies them.
    let init = out11["init"]["summarizer"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(
        init,
        ["pull", &format!("{dst}@{d11}"), "--component", "summarizer", "--only", "prompts", "--key", "/keys/cosign.pub", "-o", "/prompts"]
    );
    // The chart names no bundle CLI image of its own: rendering says what to set.
    let e = render_with(&v11, "{}").unwrap_err();
    assert!(e.contains("bundleCli.image is required"), "{e}");
    // Registry credentials for `bundle pull`, and pull secrets for the pods.
    let creds = render_with(
        &v11,
        r#"{"bundleCli": {"image": "r.example.com/b@sha256:4444444444444444444444444444444444444444444444444444444444444444", "registryAuthSecret": "release-registry"}, "imagePullSecrets": [{"name": "release-registry"}]}"#,
    )
    .unwrap();
    assert_eq!(creds["init_env"]["ocr"], serde_json::json!([{"name": "REGISTRY_AUTH_FILE", "value": "/registry-auth/.dockerconfigjson"}]));
    assert_eq!(creds["pull_secrets"]["ocr"], serde_json::json!([{"name": "release-registry"}]));
    assert!(out11["pull_secrets"]["ocr"].is_null(), "{}", out11["pull_secrets"]);
    // …and the init container's args work with the real CLI (here against the test registry).
    let prompts = d.join("prompts");
    run(bundle(d).args([
        "pull",
        &format!("{dst}@{d11}"),
        "--component",
        "summarizer",
        "--only",
        "prompts",
        "--key",
        pubk.to_str().unwrap(),
        "-o",
        prompts.to_str().unwrap(),
    ]))
    .ok();
    assert!(prompts.join("components/summarizer/prompts/summarize.yaml").exists());
    let r = run(bundle(d).args([
        "pull",
        &format!("{dst}@{d11}"),
        "--key",
        d.join("other.pub").to_str().unwrap(),
        "-o",
        d.join("nope").to_str().unwrap(),
    ]))
    .code(1);
    assert!(r.stderr.contains("not verified") && !d.join("nope").exists(), "{}", r.stderr);

    // verify --values passes on generated values and fails when one digest is edited.
    run(bundle(d).args(["verify", &format!("{dst}:1.1.0"), "--key", pubk.to_str().unwrap(), "--values", v11.to_str().unwrap()])).ok();
    let edited = d.join("edited.yaml");
    std::fs::write(&edited, text.replace(DIGEST_A, DIGEST_B)).unwrap();
    let r = run(bundle(d).args(["verify", &format!("{dst}:1.1.0"), "--key", pubk.to_str().unwrap(), "--values", edited.to_str().unwrap()]))
        .code(1);
    assert!(r.stdout.contains("FAIL  values") && r.stdout.contains("ocr.image.digest"), "{}", r.stdout);

    // A missing digest fails to render.
    let missing = d.join("missing.yaml");
    std::fs::write(&missing, text.replacen(&format!("digest: {DIGEST_A}"), "other: x", 1)).unwrap();
    let err = render(&missing).unwrap_err();
    assert!(err.contains("ocr.image.digest is required"), "{err}");

    // Rollback to 1.0.0: the values of the earlier, verified bundle; every component moves at once.
    let v10 = d.join("values-1.0.0.yaml");
    run(bundle(d).args(["values", &format!("{dst}:1.0.0"), "--key", pubk.to_str().unwrap(), "-o", v10.to_str().unwrap()])).ok();
    let out10 = render(&v10).unwrap();
    let images10: std::collections::BTreeMap<String, String> = serde_json::from_value(out10["images"].clone()).unwrap();
    assert_eq!(images10, expected(&rec10));
    for (name, img) in &images10 {
        assert_ne!(Some(img), images11.get(name), "{name} did not move back");
    }
    assert_ne!(out10["checksum"], out11["checksum"], "pods must roll when the bundle changes");
    assert!(std::fs::read_to_string(&v10).unwrap().contains(&d10));

    // Without --key: a warning; with the wrong key: exit 1 and no file.
    let r = run(bundle(d).args(["values", &format!("{dst}:1.1.0")])).ok();
    assert!(r.stderr.contains("NOT verified") && r.stdout.contains(&d11), "{}", r.stderr);
    let nofile = d.join("no.yaml");
    run(bundle(d).args([
        "values",
        &format!("{dst}:1.1.0"),
        "--key",
        d.join("other.pub").to_str().unwrap(),
        "-o",
        nofile.to_str().unwrap(),
    ]))
    .code(1);
    assert!(!nofile.exists());

    // --map moves keys into a chart's own paths (spec/values-map.md).
    let map = d.join("map.yaml");
    std::fs::write(&map, "ocr.image.digest: services.ocr.imageDigest\nglobal.bundle.ref: bundleRef\n").unwrap();
    let r =
        run(bundle(d).args(["values", &format!("{dst}:1.1.0"), "--key", pubk.to_str().unwrap(), "--map", map.to_str().unwrap(), "--json"]))
            .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["services"]["ocr"]["imageDigest"], DIGEST_A);
    assert_eq!(v["bundleRef"], format!("{dst}@{d11}"));
    assert!(v["ocr"]["image"].get("digest").is_none() && v["ocr"]["image"]["registry"].is_string(), "{v}");
    std::fs::write(&map, "ocr.image.tag: x\n").unwrap();
    let r = run(bundle(d).args(["values", &format!("{dst}:1.1.0"), "--map", map.to_str().unwrap()])).code(2);
    assert!(r.stderr.contains("`ocr.image.tag` is not a value bundle writes"), "{}", r.stderr);
}
