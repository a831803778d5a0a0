//! Snapshots (insta) of the words users read most: `bundle --help` and the help of the deploy
//! commands, verify reports (passing and failing), and diff in text, markdown and JSON. Paths,
//! digests, key fingerprints and times are filtered, so a snapshot changes only when the words do.
//! Update them with `INSTA_UPDATE=always cargo test --test snapshots` and review the diff.

mod common;
use common::*;

/// Filters for what differs from run to run: temp folders, digests, fingerprints, commits, times.
fn settings(tmp: &std::path::Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(&regex_escape(&tmp.display().to_string()), "[TMP]");
    s.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    s.add_filter(r"sha256-[0-9a-f]{64}", "sha256-[DIGEST]");
    s.add_filter(r"key [0-9a-f]{16}", "key [FINGERPRINT]");
    s.add_filter(r"\b[0-9a-f]{40}\b", "[COMMIT]");
    s.add_filter(r"\b[0-9a-f]{12}\b", "[SHORT]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
    s.add_filter(r"127\.0\.0\.1:\d+", "[REGISTRY]");
    s
}

fn regex_escape(s: &str) -> String {
    s.chars().flat_map(|c| if "\\.+*?()|[]{}^$".contains(c) { vec!['\\', c] } else { vec![c] }).collect()
}

#[test]
fn help_text() {
    let t = tempfile::tempdir().unwrap();
    settings(t.path()).bind(|| {
        let top = run(bundle(t.path()).env("COLUMNS", "100").arg("--help")).ok().stdout;
        insta::assert_snapshot!("help", top);
        for cmd in ["verify", "diff", "values", "pull", "sign"] {
            let h = run(bundle(t.path()).env("COLUMNS", "100").args(["help", cmd])).ok().stdout;
            insta::assert_snapshot!(format!("help-{cmd}"), h);
        }
    });
}

#[test]
fn verify_and_diff_reports() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen"])).ok();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    let l = format!("oci:{}", d.join("l").display());
    let build = |v: &str| {
        run(bundle(d)
            .current_dir(d)
            .env("COSIGN_PASSWORD", "pw")
            .args(["build", "--version", v, "--output", &l, "--sign", "--key", "cosign.key"])
            .arg(&dir))
        .ok()
    };
    build("1.0.0");
    // 1.1.0: a reworded, bumped prompt and a new one.
    let p = dir.join("components/summarizer/prompts/summarize.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    let version = text.lines().find(|l| l.starts_with("version:")).unwrap().to_string();
    std::fs::write(&p, text.replace(&version, "version: 9.9.9").replace("Summarize", "Summarise")).unwrap();
    std::fs::write(dir.join("components/ocr/prompts/extra.yaml"), "id: ocr.extra\nversion: 1.0.0\nvariables: [t]\ntemplate: '{{t}}'\n")
        .unwrap();
    commit_all(&repo, "1.1.0");
    build("1.1.0");
    settings(d).bind(|| {
        let trust = ["--key", "cosign.pub", "--identity", "docproc"];
        let ok = run(bundle(d).current_dir(d).args([&["verify", &format!("{l}:1.1.0")][..], &trust[..]].concat())).ok();
        insta::assert_snapshot!("verify-pass", ok.stdout);
        run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", "other"])).ok();
        let bad =
            run(bundle(d).current_dir(d).args(["verify", &format!("{l}:1.1.0"), "--key", "other.pub", "--identity", "docproc"])).code(1);
        insta::assert_snapshot!("verify-unsigned", format!("{}\n{}", bad.stdout, bad.stderr));
        for (fmt, name) in [("text", "diff-text"), ("markdown", "diff-markdown"), ("json", "diff-json")] {
            let r = run(bundle(d).current_dir(d).args([
                "diff",
                &format!("{l}:1.0.0"),
                &format!("{l}:1.1.0"),
                "--format",
                fmt,
                "--key",
                "cosign.pub",
                "--identity",
                "docproc",
            ]))
            .code(1);
            insta::assert_snapshot!(name, r.stdout);
        }
    });
}
