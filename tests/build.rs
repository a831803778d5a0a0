//! `bundle build` / `inspect` / `check` through the CLI, checked with independent tools.

mod common;
use common::*;
use std::path::Path;

fn build(cache: &Path, dir: &Path, out: &str, extra: &[&str]) -> Run {
    let mut c = bundle(cache);
    c.arg("build").arg(dir).args(["--output", out]).args(extra);
    run(&mut c)
}

#[test]
fn build_inspect_and_skopeo_reads_the_layout() {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let out = t.path().join("layout");
    let r = build(t.path(), &repo.join("docproc"), &format!("oci:{}", out.display()), &["--version", "1.4.0"]).ok();
    let digest = built_digest(&r.stdout);
    assert!(r.stdout.contains(":1.4.0@sha256:"), "default tag is the version: {}", r.stdout);

    // Our summary names every component, model, prompt and contract.
    let s = run(bundle(t.path()).args(["inspect", &format!("oci:{}:1.4.0", out.display())])).ok().stdout;
    for needle in [
        "docproc 1.4.0",
        &digest,
        "registry.example.com/docproc/ocr@sha256:3b1d9b5a",
        "minilm-l6-v2",
        "606586e835566f8b13710fbd6c3e257f.dir (5 files",
        "summarizer-lora",
        "md5-dos2unix:5d8e85e8495f69dabb5b265ca015845d",
        "summarizer.summarize 2.0.0",
        "consumes embedding-api >=2.1, <3 from embedding 2.1.0",
    ] {
        assert!(s.contains(needle), "inspect output lacks {needle}:\n{s}");
    }

    // skopeo (an independent OCI implementation) copies the layout by tag, keeping the digest.
    let dir_out = t.path().join("skopeo-dir");
    let r = run(std::process::Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:1.4.0", out.display()))
        .arg(format!("dir:{}", dir_out.display())));
    let r = r.ok();
    let _ = r;
    let manifest = std::fs::read(dir_out.join("manifest.json")).unwrap();
    assert_eq!(relbundle::hashing::sha256_digest(&manifest), digest, "skopeo saw a different manifest");
    // …and skopeo's copy back into a fresh layout is byte-identical, so our reader accepts it.
    let back = t.path().join("back");
    run(std::process::Command::new("skopeo")
        .arg("copy")
        .arg(format!("dir:{}", dir_out.display()))
        .arg(format!("oci:{}:again", back.display())))
    .ok();
    let j = run(bundle(t.path()).args(["inspect", "--json", &format!("oci:{}:again", back.display())])).ok().stdout;
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["version"], "1.4.0");
    // By digest, too.
    run(bundle(t.path()).args(["inspect", &format!("oci:{}@{digest}", out.display())])).ok();
}

#[test]
fn reproducible_across_paths_umask_and_mtimes() {
    let t = tempfile::tempdir().unwrap();
    let src = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let a = t.path().join("checkouts/a");
    let b = t.path().join("elsewhere/deeper/b");
    sh(t.path(), &format!("umask 022; git clone -q {} {}", src.display(), a.display())).ok();
    sh(t.path(), &format!("umask 077; git clone -q {} {}", src.display(), b.display())).ok();
    // Different mtimes on every file of one checkout.
    sh(&b, "find . -path ./.git -prune -o -type f -exec touch -d '2001-02-03 04:05:06' {} +").ok();
    let mut digests = Vec::new();
    for (i, co) in [&a, &b].iter().enumerate() {
        let out = t.path().join(format!("out{i}"));
        let r = build(&t.path().join(format!("cache{i}")), &co.join("docproc"), &format!("oci:{}", out.display()), &["--version", "2.0.0"])
            .ok();
        digests.push(built_digest(&r.stdout));
    }
    assert_eq!(digests[0], digests[1], "same commit, different checkouts: digests differ");
    // The created time is the commit time.
    let j = run(bundle(t.path()).args(["inspect", "--json", &format!("oci:{}", t.path().join("out0").display())])).ok().stdout;
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["created"], "2026-03-01T12:00:00Z");
    assert_eq!(v["source"]["path"], "docproc");
    assert_eq!(v["source"]["dirty"], false);
    // SOURCE_DATE_EPOCH wins over the commit time.
    let out = t.path().join("out-epoch");
    let r = run(bundle(t.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["build", "--version", "2.0.0", "--output", &format!("oci:{}", out.display())])
        .arg(a.join("docproc")))
    .ok();
    assert_ne!(built_digest(&r.stdout), digests[0]);
    let j = run(bundle(t.path()).args(["inspect", "--json", &format!("oci:{}", out.display())])).ok().stdout;
    assert!(j.contains("\"created\":\"2023-11-14T22:13:20Z\""), "{j}");
}

#[test]
fn release_tags_are_immutable() {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    let out = format!("oci:{}", t.path().join("layout").display());
    let first = built_digest(&build(t.path(), &dir, &out, &["--version", "1.0.0"]).ok().stdout);
    // Same content again: a no-op.
    let r = build(t.path(), &dir, &out, &["--version", "1.0.0", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["tagUpdate"], "unchanged");
    assert_eq!(v["digest"], first.as_str());
    // Different content under the same tag: refused with both digests, layout untouched.
    let before = snapshot(&t.path().join("layout"));
    let img = format!("ocr=registry.example.com/docproc/ocr@{DIGEST_A}");
    let r = build(t.path(), &dir, &out, &["--version", "1.0.0", "--image", &img]).code(1);
    assert!(r.stderr.contains(&first) && r.stderr.contains("tag `1.0.0` already names"), "{}", r.stderr);
    assert!(r.stderr.contains("--retag"), "{}", r.stderr);
    let after = snapshot(&t.path().join("layout"));
    let idx = |s: &Vec<(std::path::PathBuf, Vec<u8>)>| s.iter().find(|(p, _)| p.ends_with("index.json")).unwrap().1.clone();
    assert_eq!(idx(&before), idx(&after), "index.json changed on a refused retag");
    // --retag moves it, with a warning.
    let r = build(t.path(), &dir, &out, &["--version", "1.0.0", "--image", &img, "--retag"]).ok();
    assert!(r.stderr.contains("warning: moved tag `1.0.0`"), "{}", r.stderr);
    assert_ne!(built_digest(&r.stdout), first);
    // A second release in the same layout: inspect without a tag must ask which one.
    build(t.path(), &dir, &out, &["--version", "1.1.0"]).ok();
    let r = run(bundle(t.path()).args(["inspect", &out])).code(2);
    assert!(r.stderr.contains("1.0.0") && r.stderr.contains("1.1.0"), "{}", r.stderr);
}

#[test]
fn version_from_tag_dirty_tree_and_image_sources() {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    let out = format!("oci:{}", t.path().join("layout").display());
    // No tag and no --version: a clear error.
    let r = build(t.path(), &dir, &out, &[]).code(2);
    assert!(r.stderr.contains("--version"), "{}", r.stderr);
    git(&repo, &["tag", "docproc-v3.1.4"]);
    let r = build(t.path(), &dir, &out, &["--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["version"], "3.1.4");
    assert_eq!(v["tag"], "3.1.4");
    let rec: serde_json::Value = serde_json::from_str(&run(bundle(t.path()).args(["inspect", "--json", &out])).ok().stdout).unwrap();
    assert_eq!(rec["source"]["tag"], "docproc-v3.1.4");

    // An untracked file is never packed, so it does not make the tree dirty.
    std::fs::write(dir.join("components/ocr/NOTES.md"), "wip\n").unwrap();
    build(t.path(), &dir, &format!("oci:{}", t.path().join("untracked").display()), &["--version", "3.1.5"]).ok();
    std::fs::remove_file(dir.join("components/ocr/NOTES.md")).unwrap();
    // A changed tracked file is refused (named), then built with --allow-dirty, which is recorded.
    let dockerfile = dir.join("components/ocr/Dockerfile");
    let original = std::fs::read_to_string(&dockerfile).unwrap();
    std::fs::write(&dockerfile, format!("{original}# wip\n")).unwrap();
    let r = build(t.path(), &dir, &out, &["--version", "3.1.5"]).code(2);
    assert!(
        r.stderr.contains("uncommitted changes (docproc/components/ocr/Dockerfile)") && r.stderr.contains("--allow-dirty"),
        "{}",
        r.stderr
    );
    let out2 = format!("oci:{}", t.path().join("dirty").display());
    build(t.path(), &dir, &out2, &["--version", "3.1.5", "--allow-dirty"]).ok();
    let rec: serde_json::Value = serde_json::from_str(&run(bundle(t.path()).args(["inspect", "--json", &out2])).ok().stdout).unwrap();
    assert_eq!(rec["source"]["dirty"], true);
    assert_eq!(rec["build"]["allowDirty"], true);
    std::fs::write(&dockerfile, original).unwrap();

    // Image digests from --image and from buildx metadata (single build and bake map).
    let meta = t.path().join("ocr-meta.json");
    std::fs::write(&meta, format!(r#"{{"containerimage.digest":"{DIGEST_A}","image.name":"ghcr.io/acme/ocr:9.9.9"}}"#)).unwrap();
    let bake = t.path().join("bake.json");
    std::fs::write(&bake, format!(r#"{{"embedding":{{"containerimage.digest":"{DIGEST_B}"}},"summarizer":{{"buildx.build.ref":"x"}}}}"#))
        .unwrap();
    let out3 = format!("oci:{}", t.path().join("imgs").display());
    build(
        t.path(),
        &dir,
        &out3,
        &[
            "--version",
            "3.2.0",
            "--buildx-metadata",
            &format!("ocr={}", meta.display()),
            "--buildx-metadata",
            &bake.display().to_string(),
            "--image",
            &format!("summarizer=registry.example.com/docproc/summarizer:1.0.1@{DIGEST_B}"),
        ],
    )
    .ok();
    let rec: serde_json::Value = serde_json::from_str(&run(bundle(t.path()).args(["inspect", "--json", &out3])).ok().stdout).unwrap();
    let img = |name: &str| rec["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["image"].clone();
    assert_eq!(img("ocr")["digest"], DIGEST_A);
    assert_eq!(img("ocr")["registry"], "ghcr.io");
    assert_eq!(img("ocr")["from"], "buildx-metadata");
    assert_eq!(img("embedding")["digest"], DIGEST_B);
    assert_eq!(img("summarizer")["tag"], "1.0.1");
    assert_eq!(img("summarizer")["from"], "--image");
}

#[test]
fn check_writes_nothing_and_reports() {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let r = run(bundle(t.path()).current_dir(&repo).args(["check", "docproc", "--version", "1.0.0"])).ok();
    assert!(r.stdout.contains("3 components, 4 models, 4 prompts, 3 contracts"), "{}", r.stdout);
    assert!(!repo.join("out").exists());
    // A provider version outside the requirement is a check finding: exit 1.
    let f = repo.join("docproc/bundle.yaml");
    let y = std::fs::read_to_string(&f).unwrap().replace("ocr-api: ^1.3", "ocr-api: ^2.0");
    std::fs::write(&f, y).unwrap();
    let r = run(bundle(t.path()).args(["check", "--allow-dirty", "--version", "1.0.0"]).arg(repo.join("docproc"))).code(1);
    assert!(r.stderr.contains("component `embedding` consumes `ocr-api` ^2.0, but `ocr` provides 1.3.0"), "{}", r.stderr);
}
