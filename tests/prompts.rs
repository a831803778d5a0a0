//! Prompt files in every accepted shape, end to end on copies of fixtures/docproc: `build`
//! accepts them, `diff` shows the template's text diff, and the version bump rules apply.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// The chat-map prompt from issue 17, as teams write it.
const POST_CORRECTION: &str = r#"id: ocr.post-correction
version: 1.4.0
description: Fix OCR errors without changing the meaning.
variables: [{name: language, required: false, default: en}, {name: page_text, required: true}]
template:
  system: |
    You correct OCR output. Fix misrecognised characters only. The text is in language "{{language}}".
  user: |
    {{page_text}}
"#;

/// A chat list inside `template`, one item in the `{ROLE: text}` short form.
const TABLE_CHECK: &str = r#"id: ocr.table-check
version: 0.3.0
input_variables: [table]
template:
  - role: system
    content: You check that a recognised table has the same number of cells in every row.
  - user: "{{ table }}"
"#;

struct Fx {
    t: tempfile::TempDir,
    repo: PathBuf,
    layout: String,
}

impl Fx {
    /// docproc with extra prompt files in components/ocr/prompts, committed.
    fn new(files: &[(&str, &str)]) -> Fx {
        let t = tempfile::tempdir().unwrap();
        let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
        let fx = Fx { layout: format!("oci:{}", t.path().join("layout").display()), t, repo };
        for (name, text) in files {
            fx.write(name, text);
        }
        commit_all(&fx.repo, "prompts");
        fx
    }
    fn d(&self) -> &Path {
        self.t.path()
    }
    fn dir(&self) -> PathBuf {
        self.repo.join("docproc")
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir().join("components/ocr/prompts").join(name), text).unwrap();
    }
    fn edit(&self, name: &str, from: &str, to: &str) {
        let p = self.dir().join("components/ocr/prompts").join(name);
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(s.contains(from), "{name} lacks {from:?}");
        std::fs::write(p, s.replacen(from, to, 1)).unwrap();
    }
    fn build(&self, version: &str) -> Run {
        run(bundle(self.d()).args(["build", "--allow-dirty", "--version", version, "--output", &self.layout]).arg(self.dir()))
    }
    fn check(&self, version: &str) -> Run {
        let prev = format!("{}:1.0.0", self.layout);
        run(bundle(self.d()).args(["check", "--allow-dirty", "--version", version, "--previous", &prev]).arg(self.dir()))
    }
    fn diff(&self, a: &str, b: &str) -> Run {
        run(bundle(self.d()).args(["diff", &format!("{}:{a}", self.layout), &format!("{}:{b}", self.layout)]))
    }
}

#[test]
fn chat_map_and_list_templates_build_diff_and_follow_the_bump_rules() {
    let fx = Fx::new(&[("post-correction.yaml", POST_CORRECTION), ("table-check.yaml", TABLE_CHECK)]);
    fx.build("1.0.0").ok();
    let s = run(bundle(fx.d()).args(["inspect", &format!("{}:1.0.0", fx.layout)])).ok().stdout;
    assert!(s.contains("prompt   ocr.post-correction 1.4.0 components/ocr/prompts/post-correction.yaml"), "{s}");
    assert!(s.contains("prompt   ocr.table-check 0.3.0"), "{s}");

    // A new required variable in the user message needs a major bump.
    fx.edit("post-correction.yaml", "{name: page_text, required: true}]", "{name: page_text, required: true}, page_number]");
    fx.edit("post-correction.yaml", "    {{page_text}}\n", "    Page {{ page_number }}:\n    {{page_text}}\n");
    let r = fx.check("1.1.0").code(1);
    assert!(r.stderr.contains("error: prompt ocr.post-correction: content changed but the version did not (1.4.0)"), "{}", r.stderr);
    fx.edit("post-correction.yaml", "version: 1.4.0", "version: 1.5.0");
    let r = fx.check("1.1.0").code(1);
    assert!(
        r.stderr.contains("variables changed")
            && r.stderr.contains("that needs a major bump, and 1.4.0 → 1.5.0 is a minor bump")
            && r.stderr.contains("page_number"),
        "{}",
        r.stderr
    );
    fx.edit("post-correction.yaml", "version: 1.5.0", "version: 2.0.0");
    // A text change in a list item is a patch.
    fx.edit("table-check.yaml", "every row.", "every row and column.");
    fx.edit("table-check.yaml", "version: 0.3.0", "version: 0.3.1");
    let r = fx.check("1.1.0").ok();
    assert!(r.stderr.contains("info: prompt ocr.post-correction: 1.4.0 → 2.0.0"), "{}", r.stderr);
    assert!(r.stderr.contains("info: prompt ocr.table-check: 0.3.0 → 0.3.1: the template changed"), "{}", r.stderr);
    fx.build("1.1.0").ok();

    // diff shows the template's text diff.
    let d = fx.diff("1.0.0", "1.1.0").code(1).stdout;
    assert!(d.contains("ocr.post-correction") && d.contains("1.4.0 → 2.0.0"), "{d}");
    assert!(d.contains("+    Page {{ page_number }}:"), "{d}");
    assert!(d.contains("-    content: You check that a recognised table has the same number of cells in every row."), "{d}");
}

#[test]
fn bad_chat_templates_are_input_errors_naming_file_line_and_field() {
    let bad = POST_CORRECTION.replace("  user: |", "  narrator: |");
    let fx = Fx::new(&[("post-correction.yaml", &bad)]);
    let r = fx.build("1.0.0").code(2);
    assert!(r.stderr.contains("components/ocr/prompts/post-correction.yaml:8: field `template.narrator`: unknown role"), "{}", r.stderr);
    fx.write("post-correction.yaml", &POST_CORRECTION.replace("    {{page_text}}\n", "    {{page_text}} {{ page_count }}\n"));
    let r = fx.build("1.0.0").code(2);
    assert!(r.stderr.contains("post-correction.yaml:4: field `variables`: the template uses `{{page_count}}`"), "{}", r.stderr);
}
