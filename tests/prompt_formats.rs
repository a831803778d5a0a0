//! Every prompt format of spec/prompt-formats.md end to end, on copies of fixtures/prompt-formats
//! (one hand-written file per format): `build` reads each with its id, version, variant and
//! format; the bump rules hold on each; `diff` shows each template's text diff; `init` finds them;
//! a malformed file of each format is exit 2 naming the file, line and field.

mod common;
use common::*;
use std::path::{Path, PathBuf};

struct Fx {
    t: tempfile::TempDir,
    repo: PathBuf,
    layout: String,
}

impl Fx {
    fn new() -> Fx {
        let t = tempfile::tempdir().unwrap();
        let repo = fixture_repo(t.path(), &["prompt-formats"]);
        Fx { layout: format!("oci:{}", t.path().join("layout").display()), t, repo }
    }
    fn d(&self) -> &Path {
        self.t.path()
    }
    fn dir(&self) -> PathBuf {
        self.repo.join("prompt-formats")
    }
    fn edit(&self, file: &str, from: &str, to: &str) {
        let p = self.dir().join("assistant/prompts").join(file);
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(s.contains(from), "{file} lacks {from:?}");
        std::fs::write(p, s.replacen(from, to, 1)).unwrap();
    }
    fn build(&self, version: &str) -> Run {
        run(bundle(self.d()).args(["build", "--offline", "--allow-dirty", "--version", version, "--output", &self.layout]).arg(self.dir()))
    }
    fn check(&self) -> Run {
        let prev = format!("{}:1.0.0", self.layout);
        run(bundle(self.d()).args(["check", "--offline", "--allow-dirty", "--version", "1.1.0", "--previous", &prev]).arg(self.dir()))
    }
}

#[test]
fn every_format_is_read_with_its_id_version_variant_and_format() {
    let fx = Fx::new();
    fx.build("1.0.0").ok();
    let rec: serde_json::Value =
        serde_json::from_str(&run(bundle(fx.d()).args(["inspect", "--json", &format!("{}:1.0.0", fx.layout)])).ok().stdout).unwrap();
    let got: Vec<String> = rec["components"][0]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {} {} {}", p["id"], p["variant"], p["version"], p["format"]))
        .collect();
    assert_eq!(
        got,
        [
            r#""greeting" null "2.1.0" "dotprompt""#,
            r#""greeting" "formal" "2.1.0" "dotprompt""#,
            r#""helpdesk.csat-question" null "7.0.0" "langfuse""#,
            r#""helpdesk.follow-up" null "1.1.0" "langchain""#,
            r#""helpdesk.support-answer" null "1.0.0" "prompty""#,
            r#""helpdesk.ticket-summary" null "0.4.0" "semantic-kernel""#,
            r#""helpdesk.triage" null "3.0.0" "langchain""#,
        ]
    );
    // The record follows its schema.
    let code = r#"
import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.loads(sys.argv[2]))
print("ok")
"#;
    py(code, &[repo_root().join("spec/release-record.schema.json").to_str().unwrap(), &rec.to_string()]).ok();
    let s = run(bundle(fx.d()).args(["inspect", &format!("{}:1.0.0", fx.layout)])).ok().stdout;
    assert!(s.contains("prompt   greeting@formal 2.1.0 assistant/prompts/greeting.formal.prompt"), "{s}");
}

/// Per format: a template text edit, a new required variable (declared where the format declares
/// variables), and the version field.
struct Case {
    file: &'static str,
    key: &'static str,
    text: (&'static str, &'static str),
    new_var: &'static [(&'static str, &'static str)],
    version: &'static str,
    patch: &'static str,
    major: &'static str,
}

const CASES: [Case; 6] = [
    Case {
        file: "support.prompty",
        key: "helpdesk.support-answer",
        text: ("name the\narticle you used.", "name the\narticle you used, with its title."),
        new_var: &[
            ("user:\n{{question}}", "user:\n{{question}} (order {{order_id}})"),
            ("inputs:\n", "inputs:\n  order_id:\n    type: string\n"),
        ],
        version: "version: 1.0.0",
        patch: "version: 1.0.1",
        major: "version: 2.0.0",
    },
    Case {
        file: "greeting.prompt",
        key: "greeting",
        text: ("in one or two sentences.", "in one or two warm sentences."),
        new_var: &[
            ("Greet {{customer}}", "Greet {{customer}} from {{company}}"),
            ("    customer: string\n", "    customer: string\n    company: string\n"),
        ],
        version: "version: 2.1.0",
        patch: "version: 2.1.1",
        major: "version: 3.0.0",
    },
    Case {
        file: "greeting.formal.prompt",
        key: "greeting@formal",
        text: ("in one sentence,", "in one short sentence,"),
        new_var: &[
            ("Greet {{customer}}", "Greet {{title}} {{customer}}"),
            ("    customer: string\n", "    customer: string\n    title: string\n"),
        ],
        version: "version: 2.1.0",
        patch: "version: 2.1.1",
        major: "version: 3.0.0",
    },
    Case {
        file: "summary.sk.yaml",
        key: "helpdesk.ticket-summary",
        text: ("You summarise support tickets", "You summarise customer support tickets"),
        new_var: &[
            ("Ticket {{$ticket_id}}:", "Ticket {{$ticket_id}} ({{$priority}}):"),
            ("input_variables:\n", "input_variables:\n  - name: priority\n    is_required: true\n"),
        ],
        version: "version: 0.4.0",
        patch: "version: 0.4.1",
        major: "version: 0.5.0",
    },
    Case {
        file: "triage.langchain.json",
        key: "helpdesk.triage",
        text: ("Answer with the queue name only.", "Answer with the queue name and nothing else."),
        new_var: &[
            ("Subject: {subject}", "Subject: {subject} (from {sender})"),
            (r#"["subject", "body"]"#, r#"["subject", "body", "sender"]"#),
        ],
        version: r#""version": "3.0.0""#,
        patch: r#""version": "3.0.1""#,
        major: r#""version": "4.0.0""#,
    },
    Case {
        file: "csat.langfuse.json",
        key: "helpdesk.csat-question",
        text: ("one short satisfaction question", "one short, friendly satisfaction question"),
        new_var: &[("ticket {{ticket_id}}.", "ticket {{ticket_id}} from {{agent_name}}.")],
        version: r#""version": 7,"#,
        patch: r#""version": 8,"#,
        major: r#""version": 9,"#,
    },
];

#[test]
fn bump_rules_and_diff_hold_on_every_format() {
    let fx = Fx::new();
    fx.build("1.0.0").ok();

    // A text change without a new version is an error in every format.
    for c in &CASES {
        fx.edit(c.file, c.text.0, c.text.1);
    }
    let r = fx.check().code(1);
    for c in &CASES {
        let v = if c.key == "helpdesk.csat-question" {
            "7.0.0".to_string()
        } else {
            c.version.rsplit(' ').next().unwrap().trim_matches(['"', ',']).to_string()
        };
        assert!(
            r.stderr.contains(&format!("error: prompt {}: content changed but the version did not ({v})", c.key)),
            "{}: {}",
            c.key,
            r.stderr
        );
    }
    // A patch bump (Langfuse: the next version number) is enough for a text change.
    for c in &CASES {
        fx.edit(c.file, c.version, c.patch);
    }
    let r = fx.check().ok();
    for c in &CASES {
        assert!(
            r.stderr.contains(&format!("info: prompt {}: ", c.key)) && r.stderr.contains("the template changed"),
            "{}: {}",
            c.key,
            r.stderr
        );
    }
    // A new required variable needs a major bump (minor while 0.x); Langfuse's numbers are all major.
    for c in &CASES {
        for (from, to) in c.new_var {
            fx.edit(c.file, from, to);
        }
    }
    let r = fx.check().code(1);
    for c in CASES.iter().filter(|c| c.key != "helpdesk.csat-question") {
        assert!(r.stderr.contains(&format!("error: prompt {}: ", c.key)) && r.stderr.contains("needs a"), "{}: {}", c.key, r.stderr);
    }
    assert!(r.stderr.contains("info: prompt helpdesk.csat-question: 7.0.0 → 8.0.0: variables changed"), "{}", r.stderr);
    for c in &CASES {
        fx.edit(c.file, c.patch, c.major);
    }
    fx.check().ok();
    // Langfuse: a lower version number is refused like any version going down.
    fx.edit("csat.langfuse.json", r#""version": 9,"#, r#""version": 6,"#);
    let r = fx.check().code(1);
    assert!(r.stderr.contains("error: prompt helpdesk.csat-question: version went down: 7.0.0 → 6.0.0"), "{}", r.stderr);
    fx.edit("csat.langfuse.json", r#""version": 6,"#, r#""version": 9,"#);

    // diff: each template's text diff.
    fx.build("1.1.0").ok();
    let d = run(bundle(fx.d()).args(["diff", &format!("{}:1.0.0", fx.layout), &format!("{}:1.1.0", fx.layout)])).code(1).stdout;
    for c in &CASES {
        assert!(d.contains(c.key), "{}: {d}", c.key);
        let added = c.text.1.lines().last().unwrap();
        assert!(d.lines().any(|l| l.trim_start().starts_with('+') && l.contains(added)), "{} lacks +{added:?}:\n{d}", c.key);
    }
}

#[test]
fn init_finds_every_format() {
    let fx = Fx::new();
    std::fs::remove_file(fx.dir().join("bundle.yaml")).unwrap();
    commit_all(&fx.repo, "no bundle.yaml");
    run(bundle(fx.d()).arg("init").arg(fx.dir())).ok();
    let y = std::fs::read_to_string(fx.dir().join("bundle.yaml")).unwrap();
    for g in ["prompts/**/*.yaml", "prompts/**/*.json", "prompts/**/*.prompty", "prompts/**/*.prompt"] {
        assert!(y.contains(&format!("      - {g}\n")), "{g}:\n{y}");
    }
    let pinned = y.replace("registry.example.com/prompt-formats/assistant", &format!("registry.example.com/helpdesk/assistant@{DIGEST_A}"));
    std::fs::write(fx.dir().join("bundle.yaml"), pinned).unwrap();
    commit_all(&fx.repo, "bundle.yaml from init");
    let r = run(bundle(fx.d()).args(["check", "--offline"]).arg(fx.dir())).ok();
    assert!(r.stdout.contains("7 prompts"), "{}", r.stdout);
}

#[test]
fn malformed_files_of_every_format_name_file_line_and_field() {
    let cases: [(&str, &str, &str, &str); 7] = [
        ("support.prompty", "version: 1.0.0", "version: one", "support.prompty:4: field `version`: `one` is not a semantic version"),
        (
            "support.prompty",
            "user:\n{{question}}",
            "user:\n{{question}} {{locale}}",
            "support.prompty:15: field `inputs`: the template uses `{{locale}}`",
        ),
        ("greeting.prompt", "version: 2.1.0\n", "", "greeting.prompt: no version: add `version: 1.0.0`"),
        (
            "greeting.prompt",
            "    customer: string\n",
            "    customer: string\n    bad name: string\n",
            "greeting.prompt:9: field `input.schema.bad name`",
        ),
        (
            "summary.sk.yaml",
            "template_format: semantic-kernel",
            "template_format: razor",
            "summary.sk.yaml:4: field `template_format`: `razor`",
        ),
        (
            "triage.langchain.json",
            r#""template_format": "f-string""#,
            r#""template_format": "python""#,
            "triage.langchain.json:7: field `template_format`",
        ),
        (
            "csat.langfuse.json",
            r#""version": 7,"#,
            r#""version": "7","#,
            "csat.langfuse.json:3: field `version`: text, expected Langfuse's whole version number",
        ),
    ];
    for (file, from, to, want) in cases {
        let fx = Fx::new();
        fx.edit(file, from, to);
        let r = fx.build("1.0.0").code(2);
        assert!(r.stderr.contains(want), "{file}: want {want:?}\n{}", r.stderr);
    }
}

#[test]
fn variants_and_splits_are_recorded_emitted_by_values_and_shown_by_diff() {
    let fx = Fx::new();
    fx.build("1.0.0").ok();
    let at = |v: &str| format!("{}:{v}", fx.layout);
    let rec: serde_json::Value = serde_json::from_str(&run(bundle(fx.d()).args(["inspect", "--json", &at("1.0.0")])).ok().stdout).unwrap();
    assert_eq!(rec["components"][0]["splits"], serde_json::json!({"greeting": {"default": 70, "formal": 30}}));
    let v = run(bundle(fx.d()).args(["values", &at("1.0.0")])).ok().stdout;
    assert!(v.contains("  promptSplits:\n  - prompt: greeting\n    variants:\n      default: 70\n      formal: 30\n"), "{v}");
    // Variants share an id: verify's record check keys prompts by id and variant.
    run(bundle(fx.d()).current_dir(fx.d()).env("COSIGN_PASSWORD", "pw").args(["keygen"])).ok();
    let key = |f: &str| fx.d().join(f).display().to_string();
    run(bundle(fx.d()).env("COSIGN_PASSWORD", "pw").args(["sign", &at("1.0.0"), "--key", &key("cosign.key")])).ok();
    let r = run(bundle(fx.d()).args(["verify", &at("1.0.0"), "--key", &key("cosign.pub"), "--identity", "helpdesk"])).ok();
    assert!(r.stdout.contains("7 prompt(s)"), "{}", r.stdout);

    // A new variant and a changed split.
    std::fs::write(
        fx.dir().join("assistant/prompts/greeting.casual.prompt"),
        "---\nversion: 1.0.0\ninput:\n  schema:\n    customer: string\n---\nSay hi to {{customer}}, casually.\n",
    )
    .unwrap();
    let bf = fx.dir().join("bundle.yaml");
    let y = std::fs::read_to_string(&bf).unwrap();
    std::fs::write(&bf, y.replace("{default: 70, formal: 30}", "{default: 50, formal: 25, casual: 25}")).unwrap();
    fx.build("1.1.0").ok();
    let d = run(bundle(fx.d()).args(["diff", &at("1.0.0"), &at("1.1.0")])).code(1).stdout;
    assert!(d.contains("split greeting: default 70%, formal 30% → casual 25%, default 50%, formal 25%"), "{d}");
    assert!(d.lines().next().unwrap().ends_with(", 1 prompt split changed"), "{d}");
    assert!(d.contains("prompt greeting@casual added: version - → 1.0.0"), "{d}");
    let j = run(bundle(fx.d()).args(["diff", "--format", "json", &at("1.0.0"), &at("1.1.0")])).code(1).stdout;
    let code = r#"
import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.loads(sys.argv[2]))
print("ok")
"#;
    py(code, &[repo_root().join("spec/diff.schema.json").to_str().unwrap(), &j]).ok();
    let v = run(bundle(fx.d()).args(["values", &at("1.1.0")])).ok().stdout;
    assert!(v.contains("      casual: 25\n"), "{v}");

    // Splits that do not add up, or name what is not there, are bad input.
    for (split, want) in [
        ("{default: 50, formal: 40}", "bundle.yaml:19: component `assistant` field `splits.greeting`: the percentages add up to 90"),
        (
            "{default: 50, loud: 50}",
            "field `splits.greeting.loud`: prompt `greeting` has no variant `loud` (variants: default, casual and formal)",
        ),
    ] {
        std::fs::write(&bf, y.replace("{default: 70, formal: 30}", split)).unwrap();
        let r = fx.build("1.2.0").code(2);
        assert!(r.stderr.contains(want), "{split}: {}", r.stderr);
    }
    std::fs::write(&bf, y.replace("      greeting: {default", "      greetings: {default")).unwrap();
    let r = fx.build("1.2.0").code(2);
    assert!(r.stderr.contains("field `splits.greetings`: the component has no prompt `greetings`"), "{}", r.stderr);
}

#[test]
fn check_enforces_the_template_size_limits() {
    let fx = Fx::new();
    let bf = fx.dir().join("bundle.yaml");
    let y = std::fs::read_to_string(&bf).unwrap();
    fx.edit("greeting.formal.prompt", "in one sentence,", &format!("in one sentence{},", " (really)".repeat(40)));
    std::fs::write(&bf, y.replace("maxChars: 2000", "maxChars: 170")).unwrap();
    let r = run(bundle(fx.d()).args(["check", "--offline", "--allow-dirty"]).arg(fx.dir())).code(1);
    assert!(r.stderr.contains("prompt templates over their size limit (bundle.yaml `promptLimits`):"), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "prompt `greeting` (assistant/prompts/greeting.formal.prompt): 505 characters, over the 400 of `promptLimits.byId.greeting`"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "prompt `helpdesk.support-answer` (assistant/prompts/support.prompty): 181 characters, over the 170 of `promptLimits.maxChars`"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("helpdesk.triage"), "under the limit: {}", r.stderr);
    // A limit for an id no prompt has is a typo, not a limit.
    std::fs::write(&bf, y.replace("    greeting: 400", "    greting: 400")).unwrap();
    let r = run(bundle(fx.d()).args(["check", "--offline", "--allow-dirty"]).arg(fx.dir())).code(2);
    assert!(r.stderr.contains("bundle.yaml:8: field `promptLimits.byId.greting`: no prompt has the id `greting`"), "{}", r.stderr);
}
