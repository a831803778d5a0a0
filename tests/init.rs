//! `bundle init` → add only the image digests → `bundle build` → `bundle inspect`.

mod common;
use common::*;

#[test]
fn init_then_build_after_adding_only_digests() {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    std::fs::remove_file(dir.join("bundle.yaml")).unwrap();
    commit_all(&repo, "no bundle.yaml yet");

    let r = run(bundle(t.path()).arg("init").arg(&dir)).ok();
    assert!(r.stderr.contains("wrote"), "{}", r.stderr);
    let y = std::fs::read_to_string(dir.join("bundle.yaml")).unwrap();
    // Discovery: three components named after their folders, models (the dvc.yaml `type: model`
    // artifact first), prompts, contracts, and consumes from cross-component $refs.
    for needle in [
        "name: docproc",
        "  embedding:\n    path: components/embedding\n",
        "  ocr:\n    path: components/ocr\n",
        "  summarizer:\n    path: components/summarizer\n",
        "      - dvc: models/text-recognizer.onnx.dvc",
        "      - dvc: models/minilm-l6-v2.dvc",
        "    models:\n      - stage: train\n        out: models/summarizer-lora\n      - dvc: data/stopwords.txt.dvc\n      - dvc: data/train.jsonl.dvc\n",
        "      - prompts/**/*.yaml",
        "      - prompts/**/*.json",
        "      ocr-api:\n        contract: api/openapi.yaml\n",
        "    consumes:\n      ocr-api: \"^1.3\"",
        "    consumes:\n      embedding-api: \"^2.1\"",
    ] {
        assert!(y.contains(needle), "bundle.yaml lacks {needle:?}:\n{y}");
    }
    assert!(!y.contains("metrics/train.json"), "a cache: false output is not a model:\n{y}");

    // It refuses to overwrite without --force.
    let r = run(bundle(t.path()).arg("init").arg(&dir)).code(2);
    assert!(r.stderr.contains("already exists") && r.stderr.contains("--force"), "{}", r.stderr);
    run(bundle(t.path()).args(["init", "--force"]).arg(&dir)).ok();
    assert_eq!(std::fs::read_to_string(dir.join("bundle.yaml")).unwrap(), y, "init is deterministic");

    // Without digests, build says how to supply them.
    commit_all(&repo, "bundle.yaml from init");
    let out = format!("oci:{}", t.path().join("layout").display());
    let r = run(bundle(t.path()).args(["build", "--version", "0.1.0", "--output", &out]).arg(&dir)).code(2);
    assert!(r.stderr.contains("has no digest") && r.stderr.contains("--image"), "{}", r.stderr);

    // Add only the digests, as a user would, and build.
    let mut y2 = String::new();
    for (i, line) in y.lines().enumerate() {
        if let Some(pos) = line.find("image: ") {
            let rest = &line[pos + 7..];
            let repo_ref = rest.split_whitespace().next().unwrap();
            y2.push_str(&format!("{}image: {repo_ref}@sha256:{:064x}\n", &line[..pos], i + 1));
        } else {
            y2.push_str(line);
            y2.push('\n');
        }
    }
    std::fs::write(dir.join("bundle.yaml"), &y2).unwrap();
    commit_all(&repo, "pin images");
    let r = run(bundle(t.path()).args(["build", "--version", "0.1.0", "--output", &out]).arg(&dir)).ok();
    let digest = built_digest(&r.stdout);
    let s = run(bundle(t.path()).args(["inspect", &out])).ok().stdout;
    assert!(s.contains(&digest) && s.contains("docproc 0.1.0"), "{s}");
    assert!(s.contains("model    summarizer-lora components/summarizer/models/summarizer-lora"), "{s}");
    assert!(s.contains("consumes ocr-api ^1.3 from ocr 1.3.0"), "{s}");
}

#[test]
fn init_without_components_says_what_it_looks_for() {
    let t = tempfile::tempdir().unwrap();
    let r = run(bundle(t.path()).arg("init").arg(t.path())).code(2);
    assert!(r.stderr.contains("Dockerfile"), "{}", r.stderr);
    assert!(!t.path().join("bundle.yaml").exists());
}
