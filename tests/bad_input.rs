//! Bad input: every case exits 2, names the file (and line or field), says what to do, and leaves
//! an existing layout byte-for-byte unchanged.

mod common;
use common::*;
use std::path::Path;

struct Case {
    name: &'static str,
    /// Edit the monorepo copy (`docproc/` inside `repo`).
    edit: fn(&Path),
    /// Extra arguments for `bundle build`.
    args: &'static [&'static str],
    /// Every string must appear in stderr.
    expect: &'static [&'static str],
}

fn edit_yaml(dir: &Path, from: &str, to: &str) {
    let f = dir.join("bundle.yaml");
    let s = std::fs::read_to_string(&f).unwrap();
    assert!(s.contains(from), "fixture bundle.yaml lacks {from:?}");
    std::fs::write(&f, s.replacen(from, to, 1)).unwrap();
}

fn edit_file(dir: &Path, rel: &str, from: &str, to: &str) {
    let f = dir.join(rel);
    let s = std::fs::read_to_string(&f).unwrap();
    assert!(s.contains(from), "{rel} lacks {from:?}");
    std::fs::write(&f, s.replacen(from, to, 1)).unwrap();
}

const CASES: &[Case] = &[
    Case {
        name: "malformed YAML",
        edit: |d| edit_yaml(d, "    path: components/ocr\n", "\tpath: components/ocr\n"),
        args: &[],
        expect: &["bundle.yaml:8:", "cannot start any token"],
    },
    Case {
        name: "YAML of the wrong shape",
        edit: |d| edit_yaml(d, "components:\n  ocr:\n", "components:\n  ocr: [\n"),
        args: &[],
        expect: &["bundle.yaml:7:8", "components.ocr: invalid type: sequence"],
    },
    Case {
        name: "unknown field",
        edit: |d| edit_yaml(d, "    path: components/ocr\n", "    path: components/ocr\n    imagee: x\n"),
        args: &[],
        expect: &["bundle.yaml:", "unknown field `imagee`"],
    },
    Case {
        name: "wrong apiVersion",
        edit: |d| edit_yaml(d, "apiVersion: relbundle.dev/v1", "apiVersion: relbundle.dev/v9"),
        args: &[],
        expect: &["bundle.yaml:", "field `apiVersion`", "relbundle.dev/v1"],
    },
    Case {
        name: "unterminated quote (long value is shortened)",
        edit: |d| edit_yaml(d, "name: docproc", "name: \"docproc"),
        args: &[],
        expect: &["bundle.yaml:3:1", "invalid name `docproc description: Document pr…`"],
    },
    Case {
        name: "invalid component name",
        edit: |d| edit_yaml(d, "  ocr:\n", "  OCR:\n"),
        args: &[],
        expect: &["bundle.yaml:", "invalid name `OCR`"],
    },
    Case {
        name: "missing .dvc file",
        edit: |d| std::fs::remove_file(d.join("components/ocr/models/text-recognizer.onnx.dvc")).unwrap(),
        args: &[],
        expect: &["component `ocr` field `models[0]`", "components/ocr/models/text-recognizer.onnx.dvc", "does not exist"],
    },
    Case {
        name: "DVC out path escapes the repository",
        edit: |d| {
            edit_file(d, "components/ocr/models/text-recognizer.onnx.dvc", "path: text-recognizer.onnx", "path: ../../../../../etc/passwd")
        },
        args: &[],
        expect: &["components/ocr/models/text-recognizer.onnx.dvc", "output `path`", "escapes the repository"],
    },
    Case {
        name: "symlink escaping the repository",
        edit: |d| {
            let p = d.join("components/ocr/prompts/extract-fields.yaml");
            std::fs::remove_file(&p).unwrap();
            std::os::unix::fs::symlink("/etc/hostname", &p).unwrap();
        },
        args: &[],
        expect: &["components/ocr/prompts/extract-fields.yaml", "symlink", "outside the repository"],
    },
    Case {
        name: "duplicate prompt id",
        edit: |d| edit_file(d, "components/summarizer/prompts/critique.yaml", "id: summarizer.critique", "id: summarizer.summarize"),
        args: &[],
        expect: &["field `id`", "summarizer.summarize", "already used by", "summarize.yaml"],
    },
    Case {
        name: "bad semver in a prompt",
        edit: |d| edit_file(d, "components/ocr/prompts/extract-fields.yaml", "version: 1.2.0", "version: 1.2"),
        args: &[],
        expect: &["components/ocr/prompts/extract-fields.yaml:", "version"],
    },
    Case {
        name: "bad semver requirement",
        edit: |d| edit_yaml(d, "ocr-api: ^1.3", "ocr-api: ^one"),
        args: &[],
        expect: &["bundle.yaml:", "consumes"],
    },
    Case {
        name: "consumes without a provider",
        edit: |d| edit_yaml(d, "      ocr-api: ^1.3", "      ocr-api: ^1.3\n      translate-api: ^1.0"),
        args: &[],
        expect: &["component `embedding` field `consumes.translate-api`", "no component provides `translate-api`"],
    },
    Case {
        name: "missing image digest",
        edit: |d| edit_yaml(d, "ocr:1.3.0@sha256:3b1d9b5a0cfb7e43f4d5c7e3a1ef1bd2bb7de8c0b0c4f4c36a9d1fc1c0d35b0e", "ocr:1.3.0"),
        args: &[],
        expect: &["component `ocr` field `image`", "has no digest", "--image ocr="],
    },
    Case {
        name: "malformed image digest",
        edit: |d| edit_yaml(d, "@sha256:3b1d9b5a", "@sha256:XYZ"),
        args: &[],
        expect: &["bundle.yaml:", "not a sha256 digest"],
    },
    Case {
        name: "undeclared prompt variable",
        edit: |d| edit_file(d, "components/ocr/prompts/extract-fields.yaml", "{{ fields }}", "{{ fields }} {{ locale }}"),
        args: &[],
        expect: &["components/ocr/prompts/extract-fields.yaml", "field `variables`", "`{{locale}}`"],
    },
    Case {
        name: "contract $ref needs the network",
        edit: |d| edit_file(d, "components/embedding/api/openapi.yaml", "../../ocr/api/openapi.yaml#", "https://example.com/ocr.yaml#"),
        args: &[],
        expect: &["components/embedding/api/openapi.yaml", "needs the network"],
    },
    Case {
        name: "contract $ref leaves the repository",
        edit: |d| edit_file(d, "components/embedding/api/openapi.yaml", "../../ocr/api/openapi.yaml#", "../../../../../ocr.yaml#"),
        args: &[],
        expect: &["components/embedding/api/openapi.yaml", "escapes the repository"],
    },
    Case {
        name: "unknown dvc.lock stage",
        edit: |d| edit_yaml(d, "- stage: train", "- stage: tain"),
        args: &[],
        expect: &["component `summarizer` field `models[0]`", "no stage `tain`", "stages: train"],
    },
    Case {
        name: "model entry with both dvc and stage",
        edit: |d| {
            edit_yaml(
                d,
                "      - dvc: models/text-recognizer.onnx.dvc",
                "      - dvc: models/text-recognizer.onnx.dvc\n        stage: train",
            )
        },
        args: &[],
        expect: &["bundle.yaml:", "field `models[0]`", "either `dvc"],
    },
    Case {
        name: "dvc.lock from DVC 1.x",
        edit: |d| edit_file(d, "components/summarizer/dvc.lock", "schema: '2.0'\n", ""),
        args: &[],
        expect: &["components/summarizer/dvc.lock", "field `schema`"],
    },
    Case {
        name: "unsupported DVC hash",
        edit: |d| edit_file(d, "components/ocr/models/text-recognizer.onnx.dvc", "hash: md5", "hash: sha1"),
        args: &[],
        expect: &["components/ocr/models/text-recognizer.onnx.dvc", "unsupported hash `sha1`"],
    },
    Case {
        name: "prompt glob matching nothing",
        edit: |d| edit_yaml(d, "      - prompts/**/*.json", "      - prompt/**/*.json"),
        args: &[],
        expect: &["component `embedding` field `prompts`", "prompt/**/*.json", "matches no file"],
    },
    Case { name: "bad --version", edit: |_| {}, args: &["--version", "1.0"], expect: &["--version", "not a semantic version"] },
    Case {
        name: "--image for an unknown component",
        edit: |_| {},
        args: &["--image", "ocrx=registry.example.com/x@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        expect: &["--image ocrx", "no component `ocrx`"],
    },
    Case {
        name: "contract without a version",
        edit: |d| edit_file(d, "components/ocr/api/openapi.yaml", "  version: 1.3.0\n", ""),
        args: &[],
        expect: &["component `ocr` field `provides.ocr-api`", "no `info.version`", "version: X.Y.Z"],
    },
];

#[test]
fn bad_input_exits_2_names_the_problem_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let base = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let layout = t.path().join("layout");
    let out = format!("oci:{}", layout.display());
    run(bundle(t.path()).args(["build", "--version", "1.0.0", "--output", &out]).arg(base.join("docproc"))).ok();
    let before = snapshot(&layout);
    assert!(CASES.len() >= 15);
    for (i, case) in CASES.iter().enumerate() {
        // A fresh copy per case, so cases cannot mask each other.
        let root = t.path().join(format!("case{i}"));
        sh(t.path(), &format!("cp -a {} {}", base.display(), root.display())).ok();
        let dir = root.join("docproc");
        (case.edit)(&dir);
        let mut args: Vec<&str> = vec!["build", "--allow-dirty", "--output", &out];
        if !case.args.contains(&"--version") {
            args.extend(["--version", "1.0.0"]);
        }
        args.extend(case.args);
        let r = run(bundle(t.path()).args(&args).arg(&dir));
        assert_eq!(r.code, 2, "case `{}`: expected exit 2, got {}\nstderr: {}", case.name, r.code, r.stderr);
        for e in case.expect {
            assert!(r.stderr.contains(e), "case `{}`: stderr lacks {e:?}:\n{}", case.name, r.stderr);
        }
        assert!(r.stderr.starts_with("error: "), "case `{}`: {}", case.name, r.stderr);
        assert_eq!(snapshot(&layout), before, "case `{}` changed the layout", case.name);
    }
}

#[test]
fn usage_errors_exit_2() {
    let t = tempfile::tempdir().unwrap();
    run(bundle(t.path()).args(["build", "--no-such-flag"])).code(2);
    let r = run(bundle(t.path()).args(["build", "--output", "oci:x:bad tag!"]).arg(t.path())).code(2);
    assert!(r.stderr.contains("not a valid tag"), "{}", r.stderr);
    let r = run(bundle(t.path()).args(["inspect", "x:1"])).code(2);
    assert!(r.stderr.contains("oci:DIR") && r.stderr.contains("name the registry host"), "{}", r.stderr);
    let r = run(bundle(t.path()).args(["inspect", "no-such-host.invalid/x:1"])).code(2);
    assert!(r.stderr.contains("cannot resolve the host name no-such-host.invalid"), "{}", r.stderr);
    let r = run(bundle(t.path()).args(["build", "--version", "1.0.0"]).arg(t.path())).code(2);
    assert!(r.stderr.contains("no bundle.yaml") && r.stderr.contains("bundle init"), "{}", r.stderr);
    let r = run(bundle(t.path()).args(["inspect", &format!("oci:{}", t.path().join("nothing").display())])).code(2);
    assert!(r.stderr.contains("holds no release"), "{}", r.stderr);
}
