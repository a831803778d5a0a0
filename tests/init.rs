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
        "    models:\n      - stage: train\n        out: models/summarizer-lora\n      - dvc: data/stopwords.txt.dvc  # data, not weights: keep it if the service loads it\n",
        // Training data (an input of a dvc.yaml stage) is not released; init says so.
        "    # Not released (training data; add under models: if the service needs it):\n    #   data/train.jsonl.dvc (an input of stage `train`)\n",
        "      - prompts/**/*.yaml",
        "      - prompts/**/*.json",
        "      ocr-api:\n        contract: api/openapi.yaml\n",
        "    consumes:\n      ocr-api: \"^1.3\"",
        "    consumes:\n      embedding-api: \"^2.1\"",
    ] {
        assert!(y.contains(needle), "bundle.yaml lacks {needle:?}:\n{y}");
    }
    assert!(!y.contains("metrics/train.json"), "a cache: false output is not a model:\n{y}");
    assert!(!y.contains("- dvc: data/train.jsonl.dvc"), "training data listed as a model:\n{y}");
    // The default output folder is ignored, so a local build leaves the tree clean.
    assert!(r.stderr.contains("added /out/"), "{}", r.stderr);
    assert!(std::fs::read_to_string(dir.join(".gitignore")).unwrap().lines().any(|l| l == "/out/"));

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

/// Write `files` (path, text) below `dir` and commit them as one git repository.
fn repo_with(dir: &std::path::Path, files: &[(String, String)]) {
    for (p, text) in files {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(dir, &["init", "-q"]);
    commit_all(dir, "monorepo");
}

/// Pin every `image:` line of an init-written bundle.yaml by a made-up digest.
fn pin_images(y: &str) -> String {
    y.lines()
        .enumerate()
        .map(|(i, line)| match line.find("image: ") {
            Some(pos) => {
                let r = line[pos + 7..].split_whitespace().next().unwrap();
                format!("{}image: {r}@sha256:{:064x}\n", &line[..pos], i + 1)
            }
            None => format!("{line}\n"),
        })
        .collect()
}

#[test]
fn init_names_apis_uniquely_when_contract_files_share_a_name() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("mono");
    let schema = |extra: &str| format!("{{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\",{extra} \"type\": \"object\"}}");
    let mut files = Vec::new();
    for i in 0..200 {
        files.push((format!("services/svc{i:03}/Dockerfile"), "FROM scratch\n".to_string()));
        files.push((format!("services/svc{i:03}/api/output.schema.json"), schema("")));
    }
    // Two `output` schemas in one component; a schema named by its $id, one by its title.
    files.push(("services/svc000/api/v2/output.schema.json".into(), schema("")));
    files.push(("billing/Dockerfile".into(), "FROM scratch\n".into()));
    files.push(("billing/api/inv.schema.json".into(), schema(r#" "$id": "https://acme.example/schemas/invoice/v2","#)));
    files.push(("billing/api/entry.schema.json".into(), schema(r#" "title": "Ledger Entry","#)));
    repo_with(&dir, &files);

    run(bundle(t.path()).arg("init").arg(&dir)).ok();
    let y = std::fs::read_to_string(dir.join("bundle.yaml")).unwrap();
    for needle in [
        "      invoice:\n        contract: api/inv.schema.json\n",
        "      ledger-entry:\n        contract: api/entry.schema.json\n",
        "      svc000-output:\n        contract: api/output.schema.json\n",
        "      svc000-output-2:\n        contract: api/v2/output.schema.json\n",
        "      svc199-output:\n        contract: api/output.schema.json\n",
    ] {
        assert!(y.contains(needle), "bundle.yaml lacks {needle:?}:\n{y}");
    }
    assert!(!y.contains("      output:"), "{y}");
    // It builds once the images are pinned.
    std::fs::write(dir.join("bundle.yaml"), pin_images(&y)).unwrap();
    commit_all(&dir, "bundle.yaml");
    let out = format!("oci:{}", t.path().join("layout").display());
    run(bundle(t.path()).args(["build", "--offline", "--version", "1.0.0", "--output", &out]).arg(&dir)).ok();

    // A hand-written file where 200 components provide `output`: one short line names the problem.
    let mut hand = String::from("apiVersion: relbundle.dev/v1\nname: mono\ncomponents:\n");
    for i in 0..200 {
        hand.push_str(&format!(
            "  svc{i:03}:\n    path: services/svc{i:03}\n    image: r.example/svc@sha256:{i:064x}\n    provides:\n      output:\n        contract: api/output.schema.json\n        version: 1.0.0\n"
        ));
    }
    std::fs::write(dir.join("bundle.yaml"), hand).unwrap();
    commit_all(&dir, "hand-written");
    let r = run(bundle(t.path()).args(["check", "--offline", "--version", "1.0.0"]).arg(&dir)).code(2);
    assert!(
        r.stderr.contains(
            "bundle.yaml:15: component `svc001` field `provides.output`: `output` is provided by `svc000`, `svc001` and 198 more;"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.lines().all(|l| l.len() < 300), "{}", r.stderr);
}
