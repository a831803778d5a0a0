//! `bundle check` before anyone tags (a merge-request pipeline): no release version, and so no
//! previous release to find by version. Everything else is checked; what was not is said, with
//! the release it would run against; `build` still needs a version.

mod common;
use common::*;

const CHECK_REPORT: &str = r#"
import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.loads(sys.argv[2]))
print("ok")
"#;

#[test]
fn check_without_a_version_checks_the_rest_and_names_the_release_it_would_compare_with() {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    let d = t.path();

    // No tag anywhere: exit 0, and it says what it did not check and why.
    let r = run(bundle(d).arg("check").arg(&dir)).ok();
    assert!(r.stdout.starts_with("ok: docproc (no release version): 3 components"), "{}", r.stdout);
    assert!(r.stderr.contains("not checked: version bump rules (prompt and API versions against the previous release): no release version: HEAD has no tag like v1.2.0 or docproc-v1.2.0"), "{}", r.stderr);
    assert!(
        r.stderr.contains("no previous release was found in oci:") && r.stderr.contains("nor a release tag in the git history"),
        "{}",
        r.stderr
    );
    // build still needs one.
    let layout = format!("oci:{}", d.join("layout").display());
    let r = run(bundle(d).args(["build", "--output", &layout]).arg(&dir)).code(2);
    assert!(r.stderr.contains("no release version") && r.stderr.contains("--version"), "{}", r.stderr);

    // Release 1.0.0 from a tag, then a new commit with a prompt changed but not bumped.
    git(&repo, &["tag", "docproc-v1.0.0"]);
    run(bundle(d).args(["build", "--output", &layout]).arg(&dir)).ok();
    let p = dir.join("components/ocr/prompts/extract-fields.yaml");
    std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replace("Answer with one JSON", "Answer with exactly one JSON")).unwrap();
    commit_all(&repo, "reword");
    let r = run(bundle(d).arg("check").arg(&dir)).ok();
    assert!(
        r.stderr.contains("they would run against release 1.0.0, the last release tag in the git history (`docproc-v1.0.0`)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("pass --previous"), "{}", r.stderr);
    // Where build writes, the latest release there is what they would run against.
    let r = run(bundle(d).args(["check", "--output", &layout]).arg(&dir)).ok();
    assert!(r.stderr.contains(&format!("they would run against {layout}:1.0.0, the latest release there")), "{}", r.stderr);
    let j = run(bundle(d).args(["check", "--json"]).arg(&dir)).ok().stdout;
    py(CHECK_REPORT, &[repo_root().join("spec/check-report.schema.json").to_str().unwrap(), &j]).ok();
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["version"], serde_json::Value::Null);
    assert_eq!(v["ok"], true);
    assert!(v["notChecked"][0].as_str().unwrap().contains("docproc-v1.0.0"), "{v}");

    // With --previous the bump rules need no release version: the unbumped prompt is found.
    let r = run(bundle(d).args(["check", "--previous", &format!("{layout}:1.0.0")]).arg(&dir)).code(1);
    assert!(r.stderr.contains("error: prompt ocr.extract-fields: content changed but the version did not (1.2.0)"), "{}", r.stderr);
    assert!(!r.stderr.contains("not checked"), "{}", r.stderr);
    let j = run(bundle(d).args(["check", "--json", "--previous", &format!("{layout}:1.0.0")]).arg(&dir)).code(1).stdout;
    py(CHECK_REPORT, &[repo_root().join("spec/check-report.schema.json").to_str().unwrap(), &j]).ok();

    // Anything else wrong still fails without a version.
    std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replace("{{ fields }}", "{{ fields }} {{ locale }}")).unwrap();
    commit_all(&repo, "undeclared variable");
    let r = run(bundle(d).arg("check").arg(&dir)).code(2);
    assert!(r.stderr.contains("extract-fields.yaml") && r.stderr.contains("`{{locale}}`"), "{}", r.stderr);
}
