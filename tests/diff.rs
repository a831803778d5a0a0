//! `bundle diff`: two releases of a fixture copy with one image, one file of a directory model,
//! two prompts (with and without a version bump) and one contract field changed. Every change
//! must appear in text, markdown and JSON (validated against spec/diff.schema.json by Python's
//! jsonschema); layout against registry; signed against unsigned; errors exit 2.

mod common;
use common::registry::Registry;
use common::*;
use relbundle::dvc::{DirEntry, dir_md5};
use std::path::Path;

fn edit(path: &Path, from: &str, to: &str) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, s.replacen(from, to, 1)).unwrap();
}

/// Change one file of the embedding directory model the way `dvc add` + `dvc push` would:
/// new object and `.dir` listing in the remote, new md5/size in the `.dvc` file.
fn change_model_file(repo: &Path) {
    let model = repo.join("docproc/components/embedding/models/minilm-l6-v2");
    let remote = repo.join("dvc-remote/files/md5");
    let new = b"{\"hidden_size\": 384, \"num_hidden_layers\": 12, \"model_type\": \"bert\"}\n".to_vec();
    std::fs::write(model.join("config.json"), &new).unwrap();
    let mut entries = Vec::new();
    let mut size = 0u64;
    for rel in ["1_Pooling/config.json", "config.json", "model.safetensors", "modules.json", "tokenizer.json"] {
        let b = std::fs::read(model.join(rel)).unwrap();
        size += b.len() as u64;
        let md5 = relbundle::hashing::md5_hex(&b);
        let obj = remote.join(&md5[..2]).join(&md5[2..]);
        std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
        std::fs::write(obj, &b).unwrap();
        entries.push(DirEntry { md5, relpath: rel.into() });
    }
    let (md5, bytes) = dir_md5(&mut entries);
    let hex = md5.trim_end_matches(".dir");
    std::fs::create_dir_all(remote.join(&hex[..2])).unwrap();
    std::fs::write(remote.join(&hex[..2]).join(format!("{}.dir", &hex[2..])), bytes).unwrap();
    std::fs::write(
        repo.join("docproc/components/embedding/models/minilm-l6-v2.dvc"),
        format!("outs:\n- md5: {md5}\n  size: {size}\n  nfiles: 5\n  hash: md5\n  path: minilm-l6-v2\n"),
    )
    .unwrap();
}

#[test]
fn diff_shows_every_change_in_every_format() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let reg = Registry::plain(&d.join("reg"));
    run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen"])).ok();
    let key = d.join("cosign.key");
    let pubk = d.join("cosign.pub");
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let la = format!("oci:{}", d.join("a").display());
    run(bundle(d)
        .env("COSIGN_PASSWORD", "pw")
        .args(["build", "--version", "1.0.0", "--output", &la, "--sign", "--key", key.to_str().unwrap()])
        .arg(repo.join("docproc")))
    .ok();
    let first_commit = git(&repo, &["rev-parse", "HEAD"]).stdout.trim().to_string();

    // The changes.
    let dp = repo.join("docproc");
    edit(&dp.join("bundle.yaml"), "@sha256:3b1d9b5a0cfb7e43f4d5c7e3a1ef1bd2bb7de8c0b0c4f4c36a9d1fc1c0d35b0e", &format!("@{DIGEST_A}"));
    change_model_file(&repo);
    edit(&dp.join("components/summarizer/prompts/summarize.yaml"), "version: 2.0.0", "version: 2.1.0");
    edit(
        &dp.join("components/summarizer/prompts/summarize.yaml"),
        "Use only the given chunks",
        "Use only the given chunks, never outside knowledge,",
    );
    edit(&dp.join("components/summarizer/prompts/critique.yaml"), "List every unsupported claim", "List each unsupported claim");
    edit(&dp.join("components/embedding/api/openapi.yaml"), "  version: 2.1.0", "  version: 2.2.0");
    edit(
        &dp.join("components/embedding/api/openapi.yaml"),
        "        char_end:\n",
        "        page_number:\n          type: integer\n        char_end:\n",
    );
    commit_all(&repo, "release 1.1.0: new ocr image, bigger embedding config, prompt tweaks, page_number");
    let lb = format!("oci:{}", d.join("b").display());
    run(bundle(d)
        .args(["build", "--version", "1.1.0", "--output", &lb, "--push", &format!("{}/acme/docproc", reg.addr)])
        .arg(repo.join("docproc")))
    .ok();
    let rb = format!("{}/acme/docproc:1.1.0", reg.addr);

    // Layout (A, signed) against registry (B, unsigned), in three formats.
    let a = format!("{la}:1.0.0");
    let text =
        run(bundle(d).args(["diff", &a, &rb, "--key", pubk.to_str().unwrap(), "--identity", "docproc", "--repo", repo.to_str().unwrap()]))
            .code(1)
            .stdout;
    let md = run(bundle(d).args(["diff", &a, &rb, "--format", "markdown", "--key", pubk.to_str().unwrap(), "--identity", "docproc"]))
        .code(1)
        .stdout;
    let js = run(bundle(d).args([
        "diff",
        &a,
        &rb,
        "--format",
        "json",
        "--key",
        pubk.to_str().unwrap(),
        "--identity",
        "docproc",
        "--repo",
        repo.to_str().unwrap(),
    ]))
    .code(1)
    .stdout;
    let first = text.lines().next().unwrap();
    assert_eq!(
        first, "3 components changed: 1 image, 1 model, 2 prompts and 1 contract, 1 changed without a version bump, signers changed",
        "{text}"
    );
    // Signers are named by key fingerprint and file; an unsigned side says so; bold is closed.
    let line = md.lines().find(|l| l.contains("signers changed:")).unwrap();
    assert!(line.starts_with("**signers changed: key ") && line.ends_with(" → unsigned**"), "{line}");
    assert!(line.contains(&format!("({})", pubk.display())), "{line}");
    for (fmt, out) in [("text", &text), ("markdown", &md), ("json", &js)] {
        for needle in [
            DIGEST_A,                                                                  // the new ocr image
            "sha256:3b1d9b5a0cfb7e43f4d5c7e3a1ef1bd2bb7de8c0b0c4f4c36a9d1fc1c0d35b0e", // the old one
            "606586e835566f8b13710fbd6c3e257f.dir",                                    // the old directory model hash
            "config.json",                                                             // the file inside it that changed
            "summarizer.summarize",
            "2.1.0",                   // its bump
            "never outside knowledge", // the prompt diff
            "summarizer.critique",
            "List each unsupported claim",
            "embedding-api",
            "2.2.0",
            "page_number", // the contract field
        ] {
            assert!(out.contains(needle), "{fmt} lacks {needle:?}:\n{out}");
        }
    }
    assert!(text.contains("CONTENT CHANGED WITHOUT A VERSION BUMP") && md.contains("**CONTENT CHANGED WITHOUT A VERSION BUMP**"));
    assert!(text.contains("UNSIGNED") && text.contains("signed by"), "{text}");
    assert!(text.contains("release 1.1.0: new ocr image"), "commits from --repo: {text}");
    assert!(md.starts_with("# Release diff: docproc 1.0.0 → docproc 1.1.0") && md.contains("```diff"), "{md}");
    assert!(!text.contains('\x1b'), "no colour when stdout is not a TTY");

    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    assert_eq!(v["counts"]["unbumped"], 1);
    assert_eq!(v["signers_changed"], true);
    assert_eq!(v["a"]["signers"].as_array().unwrap().len(), 1);
    assert_eq!(v["b"]["signers"].as_array().unwrap().len(), 0);
    let emb = v["components"].as_array().unwrap().iter().find(|c| c["name"] == "embedding").unwrap();
    assert_eq!(emb["models"][0]["files"]["changed"], serde_json::json!(["config.json"]));
    assert_eq!(v["commits"].as_array().unwrap().len(), 1);
    let code = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.Draft202012Validator(schema).validate(json.loads(sys.argv[2]))
print("ok")
"#;
    py(code, &[repo_root().join("spec/diff.schema.json").to_str().unwrap(), &js]).ok();
    let _ = first_commit;

    // A release against itself: only the summary line, exit 0.
    let same = run(bundle(d).args(["diff", &a, &a])).ok().stdout;
    assert_eq!(same.lines().count(), 1, "{same}");
    // Errors: a missing reference, and a tampered signature with --key.
    let r = run(bundle(d).args(["diff", &a, &format!("{}/acme/none:9.9.9", reg.addr)])).code(2);
    assert!(r.stderr.contains("no tag `9.9.9`"), "{}", r.stderr);
    run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", "other"])).ok();
    let r = run(bundle(d).args(["diff", &a, &rb, "--key", d.join("other.pub").to_str().unwrap(), "--identity", "docproc"])).code(2);
    assert!(r.stderr.contains("signature check failed"), "{}", r.stderr);
    // Only the record and the prompt/contract layers are read: the registry never served B's DVC
    // or bundle.yaml layers to any of the diffs above.
    use relbundle::store::Store;
    let lbs = relbundle::store::layout::Layout::new(d.join("b"));
    let m = relbundle::oci::ImageManifest::from_bytes(&lbs.blob(&lbs.resolve(Some("1.1.0")).unwrap()).unwrap(), "b").unwrap();
    for l in &m.layers {
        let title = l.annotation(relbundle::spec::ANN_TITLE).unwrap();
        let gets = reg.count("GET", &format!("/blobs/{}", l.digest));
        match title {
            "dvc.tar.gz" | "bundle.yaml" => assert_eq!(gets, 0, "diff fetched {title}"),
            _ => assert!(gets > 0, "diff did not fetch {title}"),
        }
    }
}
