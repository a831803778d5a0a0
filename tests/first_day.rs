//! The first day with `bundle`, as a new user lives it: every check that claims to run does, and
//! the natural workflow (build twice, push a signed layout, pipe into head) works.

mod common;
use common::registry::Registry;
use common::*;
use std::process::{Command, Stdio};

fn b(d: &std::path::Path) -> Command {
    let mut c = bundle(d);
    c.current_dir(d).env("COSIGN_PASSWORD", "pw");
    c
}

#[test]
fn check_looks_for_the_previous_release_where_build_does() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    // The first release, built with the default output (below the monorepo, not the cwd).
    run(b(d).args(["build", "--version", "1.0.0"]).arg(&dir)).ok();
    assert!(dir.join("out/docproc/index.json").exists(), "the default output lives below the monorepo");
    // A breaking contract change with only a minor bump: build refuses, and so does check.
    let api = dir.join("components/ocr/api/openapi.yaml");
    let text = std::fs::read_to_string(&api).unwrap();
    let edited = text
        .replace("  version: 1.3.0", "  version: 1.4.0")
        .replace("      required: [page_number, text, blocks]", "      required: [page_number, blocks]")
        .replace("        text:\n          type: string\n        language:", "        language:");
    assert_ne!(edited, text);
    std::fs::write(&api, edited).unwrap();
    commit_all(&repo, "breaking");
    let r = run(b(d).args(["check", "--version", "1.1.0"]).arg(&dir));
    let build = run(b(d).args(["build", "--version", "1.1.0"]).arg(&dir));
    assert_eq!(r.code, build.code, "check and build disagree:\ncheck: {}\nbuild: {}", r.stderr, build.stderr);
    let j = run(b(d).args(["check", "--version", "1.1.0", "--json"]).arg(&dir));
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["previous"]["version"], "1.0.0", "{v}");
    assert!(v["previousLookedIn"][0].as_str().unwrap().ends_with("docproc/out/docproc"), "{v}");
    assert!(r.stderr.contains("previous release: ") && r.stderr.contains("out/docproc"), "{}", r.stderr);
}

#[test]
fn the_same_commit_gives_one_digest_from_any_directory_and_builds_twice() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    let elsewhere = d.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let one = run(bundle(d).current_dir(&dir).args(["build", "--version", "1.0.0", "."])).ok();
    let two = run(bundle(d).current_dir(&elsewhere).args(["build", "--version", "1.0.0"]).arg(&dir)).ok();
    assert_eq!(built_digest(&one.stdout), built_digest(&two.stdout));
    assert!(two.stdout.contains("(unchanged)"), "the second build found the first one's layout: {}", two.stdout);
    assert!(!elsewhere.join("out").exists(), "the output went below the current directory");
    // The README's example, twice in a row, with a release in between: out/ does not make the
    // tree dirty (untracked files are never packed).
    run(bundle(d).current_dir(&dir).args(["build", "--version", "1.0.1", "--output", "oci:out/docproc", "."])).ok();
    std::fs::write(dir.join("components/ocr/prompts/extra.yaml"), "id: ocr.extra\nversion: 1.0.0\nvariables: [t]\ntemplate: '{{t}}'\n")
        .unwrap();
    git(&repo, &["add", "docproc/components/ocr/prompts/extra.yaml"]);
    git(&repo, &["commit", "-qm", "a new prompt"]);
    let r = run(bundle(d).current_dir(&dir).args(["build", "--version", "1.1.0", "--output", "oci:out/docproc", "."])).ok();
    assert!(r.stderr.contains("previous release: ") && r.stderr.contains("1.0.1"), "{}", r.stderr);
    // A tracked change is named.
    std::fs::write(dir.join("components/ocr/prompts/extra.yaml"), "id: ocr.extra\nversion: 1.0.1\nvariables: [t]\ntemplate: '{{t}}!'\n")
        .unwrap();
    let r = run(bundle(d).current_dir(&dir).args(["build", "--version", "1.2.0", "."])).code(2);
    assert!(r.stderr.contains("uncommitted changes (docproc/components/ocr/prompts/extra.yaml)"), "{}", r.stderr);
}

#[test]
fn a_folder_outside_git_needs_no_git() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    run(Command::new("cp").arg("-a").arg(repo_root().join("fixtures/docproc")).arg(d.join("docproc"))).ok();
    run(Command::new("cp").arg("-a").arg(repo_root().join("fixtures/dvc-remote")).arg(d.join("dvc-remote"))).ok();
    let out = format!("oci:{}", d.join("o").display());
    let r = run(b(d).args(["build", "--version", "1.0.0", "--output", &out]).arg(d.join("docproc"))).code(2);
    assert!(r.stderr.contains("not in a git repository") && r.stderr.contains("--no-git"), "{}", r.stderr);
    assert!(!d.join("o").exists());
    run(b(d)
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .args(["build", "--no-git", "--version", "1.0.0", "--output", &out])
        .arg(d.join("docproc")))
    .ok();
    let rec: serde_json::Value = serde_json::from_str(&run(b(d).args(["inspect", "--json", &format!("{out}:1.0.0")])).ok().stdout).unwrap();
    assert!(rec["source"].get("commit").is_none() || rec["source"]["commit"].is_null(), "{}", rec["source"]);
    assert_eq!(rec["created"], "2026-01-01T00:00:00Z");
}

#[test]
fn a_grown_model_file_fails_check_without_verify_models() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    let r = run(b(d).args(["check", "--version", "1.0.0"]).arg(&dir)).ok();
    assert!(r.stderr.contains("workspace not re-hashed") && r.stderr.contains("pass --verify-models"), "{}", r.stderr);
    let model = dir.join("components/ocr/models/text-recognizer.onnx");
    let mut bytes = std::fs::read(&model).unwrap();
    bytes.push(0);
    std::fs::write(&model, bytes).unwrap();
    commit_all(&repo, "one more byte");
    let r = run(b(d).args(["check", "--version", "1.0.0"]).arg(&dir)).code(1);
    assert!(r.stderr.contains("components/ocr/models/text-recognizer.onnx") && r.stderr.contains("sizes differ"), "{}", r.stderr);
}

#[test]
fn push_says_how_to_verify_a_release_signed_in_a_layout() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    run(b(d).args(["keygen"])).ok();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let l = format!("oci:{}", d.join("l").display());
    run(b(d).args(["build", "--version", "1.5.0", "--output", &l, "--sign", "--key", "cosign.key"]).arg(repo.join("docproc"))).ok();
    let reg = Registry::plain(&d.join("reg"));
    let dst = format!("{}/acme/docproc", reg.addr);
    let r = run(b(d).args(["push", &format!("{l}:1.5.0"), &dst])).ok();
    assert!(r.stderr.contains("the signatures here name `docproc`"), "{}", r.stderr);
    let hint = format!("bundle verify {dst}:1.5.0 --key PUB --identity docproc");
    assert!(r.stderr.contains(&hint), "{}", r.stderr);
    // The hint works as printed (with the key filled in); so does signing again in the registry.
    run(b(d).args(["verify", &format!("{dst}:1.5.0"), "--key", "cosign.pub", "--identity", "docproc"])).ok();
    run(b(d).args(["verify", &format!("{dst}:1.5.0"), "--key", "cosign.pub"])).code(1);
    run(b(d).args(["sign", &format!("{dst}:1.5.0"), "--key", "cosign.key"])).ok();
    run(b(d).args(["verify", &format!("{dst}:1.5.0"), "--key", "cosign.pub"])).ok();
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let t = tempfile::tempdir().unwrap();
    for args in [vec!["completions", "bash"], vec!["completions", "zsh"], vec!["--help"]] {
        let mut child = bundle(t.path()).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Close the reading end before bundle writes: its first write meets a closed pipe.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(o.status.success() || o.status.signal() == Some(13), "{args:?}: {:?}", o.status);
    }
    let r = sh(t.path(), &format!("{} completions bash | head -1", env!("CARGO_BIN_EXE_bundle"))).ok();
    assert_eq!(r.stdout.lines().count(), 1);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn verify_checks_values_written_through_a_map() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    run(b(d).args(["keygen"])).ok();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let l = format!("oci:{}", d.join("l").display());
    run(b(d).args(["build", "--version", "1.0.0", "--output", &l, "--sign", "--key", "cosign.key"]).arg(repo.join("docproc"))).ok();
    std::fs::write(d.join("map.yaml"), "ocr.image.digest: ocr.imageDigest\nglobal.bundle.digest: bundle.digest\n").unwrap();
    let trust = ["--key", "cosign.pub", "--identity", "docproc"];
    run(b(d).args([&["values", &format!("{l}:1.0.0"), "--map", "map.yaml", "-o", "v.yaml"][..], &trust[..]].concat())).ok();
    let lref = format!("{l}:1.0.0");
    let v = [&["verify", lref.as_str(), "--values", "v.yaml"][..], &trust[..]].concat();
    let r = run(b(d).args(&v)).code(1);
    assert!(r.stdout.contains("FAIL  values") && r.stdout.contains("global.bundle.digest is missing"), "{}", r.stdout);
    run(b(d).args([&v[..], &["--map", "map.yaml"]].concat())).ok();
    let text = std::fs::read_to_string(d.join("v.yaml")).unwrap();
    std::fs::write(d.join("v.yaml"), text.replace("imageDigest: sha256:3b1d", "imageDigest: sha256:3b1e")).unwrap();
    let r = run(b(d).args([&v[..], &["--map", "map.yaml"]].concat())).code(1);
    assert!(r.stdout.contains("ocr.imageDigest is sha256:3b1e"), "{}", r.stdout);
    assert!(r.stdout.contains("FAIL  values: v.yaml does not pin this release's digests"), "{}", r.stdout);
}

#[test]
fn help_reads_cleanly() {
    let t = tempfile::tempdir().unwrap();
    for cols in ["100", "200"] {
        let top = run(bundle(t.path()).env("COLUMNS", cols).arg("--help")).ok().stdout;
        let commands: Vec<&str> = top.split("Commands:").nth(1).unwrap().split("Options:").next().unwrap().lines().collect();
        for l in commands.iter().filter(|l| !l.trim().is_empty()) {
            // One line per command: a summary never wraps onto a line of its own.
            assert!(l.starts_with("  ") && !l.starts_with("    "), "COLUMNS={cols}: a command summary wrapped: {l:?}\n{top}");
        }
        for cmd in ["verify", "pull", "diff", "values", "sign", "push", "build", "promote", "history", "copy"] {
            let h = run(bundle(t.path()).env("COLUMNS", cols).args(["help", cmd])).ok().stdout;
            let examples = h.split("Examples:").nth(1).unwrap().split("Usage:").next().unwrap();
            for l in examples.lines().filter(|l| !l.trim().is_empty()) {
                // Every example line is a command, or a continuation after a trailing backslash.
                assert!(l.starts_with("  bundle ") || l.starts_with("      ") || l.starts_with("  git "), "{cmd}: {l:?}\n{h}");
            }
        }
    }
    for cmd in ["init", "keygen", "completions"] {
        let h = run(bundle(t.path()).args(["help", cmd])).ok().stdout;
        assert!(!h.contains("--insecure-registry") && !h.contains("--ca-file"), "{cmd} lists registry flags:\n{h}");
    }
    let h = run(bundle(t.path()).args(["help", "verify"])).ok().stdout;
    assert!(h.contains("Registry options:") && h.contains("--insecure-registry"));
    let h = run(bundle(t.path()).args(["help", "keygen"])).ok().stdout;
    assert!(h.contains("--password-file <FILE>\n          Read the key's password"), "{h}");
}

#[test]
fn errors_say_where_they_looked_and_what_works() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // A copied monorepo whose relative DVC remote is not there: the error names both places.
    let repo = fixture_repo(d, &["docproc"]);
    let dir = repo.join("docproc");
    let _ = std::fs::remove_dir_all(dir.join(".dvc/cache"));
    let r = run(b(d).args(["check", "--version", "1.0.0"]).arg(&dir)).code(1);
    assert!(r.stderr.contains("DVC objects missing"), "{}", r.stderr);
    assert!(r.stderr.contains("looked in the cache") && r.stderr.contains(".dvc/cache and remote `local` at"), "{}", r.stderr);
    assert!(r.stderr.contains("dvc-remote"), "the remote's path is named: {}", r.stderr);
    // A missing layout tag suggests a command that lists the tags, and that command works.
    let repo2 = fixture_repo(&d.join("two"), &["docproc", "dvc-remote"]);
    let l = format!("oci:{}", d.join("l").display());
    run(b(d).args(["build", "--version", "1.0.0", "--output", &l]).arg(repo2.join("docproc"))).ok();
    let r = run(b(d).args(["inspect", &format!("{l}:9.9.9")])).code(2);
    let hint = format!("bundle history {l}");
    assert!(r.stderr.contains(&hint), "{}", r.stderr);
    let h = run(b(d).args(["history", &l])).ok();
    assert!(h.stdout.contains("1.0.0"), "{}", h.stdout);
}
