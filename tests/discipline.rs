//! Contracts and release discipline end to end, on copies of fixtures/docproc: requirements,
//! restated schemas, breaking changes without the bump they need, prompt versions, broken and
//! cyclic `$ref`s, bad contract files, and `--allow-breaking` recorded in the artifact.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn edit(path: &Path, from: &str, to: &str) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, s.replacen(from, to, 1)).unwrap();
}

struct Fx {
    t: tempfile::TempDir,
    repo: PathBuf,
    layout: String,
}

/// A repo with release 1.0.0 built into a layout (the "previous release").
fn setup() -> Fx {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let layout = format!("oci:{}", t.path().join("layout").display());
    run(bundle(t.path()).args(["build", "--version", "1.0.0", "--output", &layout]).arg(repo.join("docproc"))).ok();
    Fx { t, repo, layout }
}

impl Fx {
    fn d(&self) -> &Path {
        self.t.path()
    }
    fn file(&self, rel: &str) -> PathBuf {
        self.repo.join("docproc").join(rel)
    }
    fn build(&self, version: &str, extra: &[&str]) -> Run {
        run(bundle(self.d())
            .args(["build", "--allow-dirty", "--version", version, "--output", &self.layout])
            .args(extra)
            .arg(self.repo.join("docproc")))
    }
    fn check(&self, extra: &[&str]) -> Run {
        let prev = format!("{}:1.0.0", self.layout);
        run(bundle(self.d())
            .args(["check", "--allow-dirty", "--version", "1.1.0", "--previous", &prev])
            .args(extra)
            .arg(self.repo.join("docproc")))
    }
}

#[test]
fn breaking_change_without_major_bump_is_refused_then_recorded_with_allow_breaking() {
    let fx = setup();
    // Remove a required response field of ocr-api (Page.text), bump only the minor version.
    let api = fx.file("components/ocr/api/openapi.yaml");
    edit(&api, "  version: 1.3.0", "  version: 1.4.0");
    edit(&api, "      required: [page_number, text, blocks]", "      required: [page_number, blocks]");
    edit(&api, "        text:\n          type: string\n        language:", "        language:");
    let before = snapshot(&fx.d().join("layout"));
    let r = fx.build("1.1.0", &[]).code(1);
    assert!(r.stderr.contains("previous release: oci:") && r.stderr.contains("1.0.0"), "auto-detected previous: {}", r.stderr);
    assert!(
        r.stderr.contains("error: api ocr-api: 1 breaking change: ")
            && r.stderr.contains("; it would need a major bump, and 1.3.0 → 1.4.0 is a minor bump"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("error: api ocr-api: POST /v1/ocr response 200 Page.text: removed the required property [ERR response-required-property-removed]"),
        "{}",
        r.stderr
    );
    // The embedding component consumes ocr-api and its contract `$ref`s Page: it is hit.
    assert!(r.stderr.contains("breaking for embedding (POST /v1/ocr, response 200 Page.text)"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was written"), "{}", r.stderr);
    assert_eq!(snapshot(&fx.d().join("layout")), before, "a refused build changed the layout");
    // The JSON report follows its schema.
    let j = fx.check(&["--json"]).code(1).stdout;
    let code = r#"
import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.loads(sys.argv[2]))
print("ok")
"#;
    py(code, &[repo_root().join("spec/check-report.schema.json").to_str().unwrap(), &j]).ok();
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["level"] == "error" && f["subject"] == "ocr-api"), "{v}");
    // --allow-breaking builds it and records the reason; verify and diff show it.
    let r = fx.build("1.1.0", &["--allow-breaking", "OCR text moved to blocks; all consumers migrated"]).ok();
    assert!(r.stderr.contains("warning: building despite"), "{}", r.stderr);
    let rec: serde_json::Value =
        serde_json::from_str(&run(bundle(fx.d()).args(["inspect", "--json", &format!("{}:1.1.0", fx.layout)])).ok().stdout).unwrap();
    assert_eq!(rec["allowBreaking"], "OCR text moved to blocks; all consumers migrated");
    assert_eq!(rec["previous"]["version"], "1.0.0");
    let d = run(bundle(fx.d()).args(["diff", &format!("{}:1.0.0", fx.layout), &format!("{}:1.1.0", fx.layout)])).code(1).stdout;
    assert!(d.contains("built with --allow-breaking"), "{d}");
    run(bundle(fx.d()).current_dir(fx.d()).env("COSIGN_PASSWORD", "pw").args(["keygen"])).ok();
    run(bundle(fx.d()).env("COSIGN_PASSWORD", "pw").args([
        "sign",
        &format!("{}:1.1.0", fx.layout),
        "--key",
        fx.d().join("cosign.key").to_str().unwrap(),
    ]))
    .ok();
    let v = run(bundle(fx.d()).args([
        "verify",
        &format!("{}:1.1.0", fx.layout),
        "--key",
        fx.d().join("cosign.pub").to_str().unwrap(),
        "--identity",
        "docproc",
    ]))
    .ok()
    .stdout;
    assert!(v.contains("built with --allow-breaking"), "{v}");
}

#[test]
fn additive_change_with_minor_bump_passes_and_without_bump_fails() {
    let fx = setup();
    let api = fx.file("components/embedding/api/openapi.yaml");
    edit(&api, "        char_end:\n", "        page_number:\n          type: integer\n        char_end:\n");
    // Bytes changed, version did not: an error.
    let r = fx.check(&[]).code(1);
    assert!(r.stderr.contains("error: api embedding-api: the contract changed but its version did not (2.1.0)"), "{}", r.stderr);
    // A patch bump is not enough for an addition.
    edit(&api, "  version: 2.1.0", "  version: 2.1.1");
    let r = fx.check(&[]).code(1);
    assert!(
        r.stderr.contains("addition")
            && r.stderr.contains("need a minor bump, and")
            && r.stderr.contains("is a patch bump")
            && r.stderr.contains("page_number"),
        "{}",
        r.stderr
    );
    // A minor bump is.
    edit(&api, "  version: 2.1.1", "  version: 2.2.0");
    let r = fx.check(&[]).ok();
    assert!(r.stderr.contains("info: api embedding-api: 2.1.0 → 2.2.0, additive"), "{}", r.stderr);
    assert!(r.stdout.starts_with("ok: docproc 1.1.0"), "{}", r.stdout);
}

#[test]
fn prompt_discipline() {
    let fx = setup();
    let p = fx.file("components/summarizer/prompts/critique.yaml");
    edit(&p, "List every unsupported claim", "List each unsupported claim");
    let r = fx.check(&[]).code(1);
    assert!(r.stderr.contains("error: prompt summarizer.critique: content changed but the version did not (1.1.0)"), "{}", r.stderr);
    edit(&p, "version: 1.1.0", "version: 1.1.1");
    fx.check(&[]).ok();
    // A new required variable with only a minor bump.
    let s = fx.file("components/summarizer/prompts/summarize.yaml");
    edit(&s, "version: 2.0.0", "version: 2.1.0");
    edit(&s, "  - name: audience\n", "  - name: tone\n    required: true\n  - name: audience\n");
    edit(&s, "for the {{ audience }}.", "for the {{ audience }} in a {{ tone }} tone.");
    let r = fx.check(&[]).code(1);
    assert!(
        r.stderr.contains("error: prompt summarizer.summarize: variables changed")
            && r.stderr.contains("that needs a major bump, and 2.0.0 → 2.1.0 is a minor bump"),
        "{}",
        r.stderr
    );
    edit(&s, "version: 2.1.0", "version: 3.0.0");
    fx.check(&[]).ok();
    // A prompt that disappears is reported.
    std::fs::remove_file(&p).unwrap();
    let r = fx.check(&[]).ok();
    assert!(r.stderr.contains("warning: prompt summarizer.critique: disappeared"), "{}", r.stderr);
    // Model changes are reported, not errors.
    assert!(!r.stderr.contains("error:"), "{}", r.stderr);
}

#[test]
fn requirements_restated_schemas_refs_and_bad_contracts() {
    let fx = setup();
    let by = |f: &dyn Fn(&Fx), expect_code: i32, needles: &[&str]| {
        let copy = tempfile::tempdir().unwrap();
        sh(copy.path(), &format!("cp -a {}/. {}/", fx.repo.display(), copy.path().display())).ok();
        let sub = Fx { t: tempfile::tempdir().unwrap(), repo: copy.path().to_path_buf(), layout: fx.layout.clone() };
        f(&sub);
        let r = run(bundle(fx.d()).args(["check", "--allow-dirty", "--version", "1.1.0"]).arg(sub.repo.join("docproc"))).code(expect_code);
        for n in needles {
            assert!(r.stderr.contains(n), "stderr lacks {n:?}:\n{}", r.stderr);
        }
    };
    // A consumer needing ^2 of a provider at 1.x.
    by(
        &|f| edit(&f.file("bundle.yaml"), "ocr-api: ^1.3", "ocr-api: ^2"),
        1,
        &["component `embedding` consumes `ocr-api` ^2, but `ocr` provides 1.3.0"],
    );
    // The summarizer restates the embedding Chunk, requiring a field the producer may omit.
    by(
        &|f| {
            let api = f.file("components/summarizer/api/openapi.yaml");
            let mut s = std::fs::read_to_string(&api).unwrap();
            s.push_str("components:\n  schemas:\n    Chunk:\n      type: object\n      required: [chunk_id, text, score]\n      properties:\n        chunk_id: {type: string}\n        text: {type: string}\n        score: {type: number}\n");
            std::fs::write(api, s).unwrap();
        },
        1,
        &[
            "summarizer consumes embedding-api: components/summarizer/api/openapi.yaml#/components/schemas/Chunk/required (producer components/embedding/api/openapi.yaml#/components/schemas/Chunk/required): producer may omit \"score\", consumer requires it",
        ],
    );
    // A broken cross-file $ref.
    by(
        &|f| {
            edit(
                &f.file("components/embedding/api/openapi.yaml"),
                "openapi.yaml#/components/schemas/Page",
                "openapi.yaml#/components/schemas/Pgae",
            )
        },
        2,
        &["components/embedding/api/openapi.yaml", "does not exist"],
    );
    // A $ref cycle.
    by(
        &|f| {
            let api = f.file("components/ocr/api/openapi.yaml");
            edit(
                &api,
                "    Block:\n      type: object",
                "    Loop1:\n      $ref: \"#/components/schemas/Loop2\"\n    Loop2:\n      $ref: \"#/components/schemas/Loop1\"\n    Block:\n      type: object",
            );
        },
        2,
        &["reference cycle", "Loop1"],
    );
    // A $ref escaping the repository.
    by(
        &|f| edit(&f.file("components/embedding/api/openapi.yaml"), "../../ocr/api/openapi.yaml#", "../../../../../../ocr.yaml#"),
        2,
        &["escapes the repository"],
    );
    // Bad contract files: invalid YAML, a document that is not an object.
    by(
        &|f| std::fs::write(f.file("components/ocr/api/openapi.yaml"), "openapi: 3.1.0\ninfo: [unclosed\n").unwrap(),
        2,
        &["components/ocr/api/openapi.yaml:"],
    );
    by(
        &|f| std::fs::write(f.file("components/ocr/api/openapi.yaml"), "- just\n- a list\n").unwrap(),
        2,
        &["components/ocr/api/openapi.yaml", "not an OpenAPI 3.x document"],
    );
}
