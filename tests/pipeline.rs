//! The reference pipelines (.gitlab-ci.yml, examples/github-actions/release.yml) and the GitLab
//! CI/CD components (templates/*.yml) parse as YAML, every `bundle` command line in them (the
//! components rendered with the inputs .gitlab-ci.yml gives them, else their defaults) is accepted
//! by the CLI's own argument parser, every `$[[ inputs.NAME ]]` names a declared input, and every
//! `include: component:` names a template and gives it only inputs it declares, and all it needs.
//! Nothing here contacts a cluster or a registry.

mod common;
use clap::Parser;
use common::*;
use serde::Deserialize as _;

/// Every string in the document that is (part of) a shell script.
fn scripts(v: &serde_norway::Value, in_script: bool, out: &mut Vec<String>) {
    match v {
        serde_norway::Value::Mapping(m) => {
            for (k, x) in m {
                let key = k.as_str().unwrap_or_default();
                scripts(x, in_script || matches!(key, "script" | "before_script" | "after_script" | "run"), out);
            }
        }
        serde_norway::Value::Sequence(s) => s.iter().for_each(|x| scripts(x, in_script, out)),
        serde_norway::Value::String(s) if in_script => out.push(s.clone()),
        _ => {}
    }
}

/// Split a shell line into words (single and double quotes), dropping redirections.
fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in cmd.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    // Redirections: `> file`, `2>&1`, `>> file`.
    let mut clean = Vec::new();
    let mut skip = false;
    for w in out {
        if skip {
            skip = false;
            continue;
        }
        if w == ">" || w == ">>" || w == "<" {
            skip = true;
            continue;
        }
        if w.starts_with('>') || w.starts_with("2>") {
            continue;
        }
        clean.push(w);
    }
    clean
}

/// Replace `$VAR`, `${VAR}`, `${VAR#prefix}` and `${{ expr }}` with a plausible value.
fn substitute(s: &str) -> String {
    let mut out = String::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '$' && i + 1 < b.len() && (b[i + 1] == '{' || b[i + 1].is_ascii_alphabetic() || b[i + 1] == '_') {
            if b[i + 1] == '{' {
                let close = if b.get(i + 2) == Some(&'{') { "}}" } else { "}" };
                let rest: String = b[i..].iter().collect();
                let end = rest.find(close).map(|e| e + close.len()).unwrap_or(rest.len());
                let name = &rest[..end];
                out.push_str(&value_for(name));
                i += name.chars().count();
            } else {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == '_') {
                    j += 1;
                }
                out.push_str(&value_for(&b[i..j].iter().collect::<String>()));
                i = j;
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn value_for(var: &str) -> String {
    let v = var.to_ascii_uppercase();
    if v.contains("RELEASE_REPO") || v.contains("REGISTRY_IMAGE") {
        "registry.example.com/group/project/release".into()
    } else if v.contains("VERSION")
        || v.contains("ROLLBACK")
        || v.contains("PREVIOUS")
        || v.contains("REF_NAME")
        || v.contains("COMMIT_TAG")
    {
        "1.2.3".into()
    } else {
        "value".into()
    }
}

fn bundle_commands(file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
    let mut cmds = commands_in(&doc);
    // The components it includes, rendered with the inputs it gives them.
    for (name, inputs) in components(&doc) {
        let (spec, _) = template(&name);
        for k in inputs.keys() {
            assert!(spec.contains_key(k), "{file}: component {name}: input `{k}` is not declared in templates/{name}.yml");
        }
        for (k, default) in &spec {
            assert!(default.is_some() || inputs.contains_key(k), "{file}: component {name}: required input `{k}` is not given");
        }
        cmds.extend(commands_in(&render(&name, &inputs)));
    }
    cmds
}

/// The `include: component:` entries of a pipeline: (template name, inputs).
fn components(doc: &serde_norway::Value) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
    let Some(list) = doc.get("include").and_then(|i| i.as_sequence()) else { return Vec::new() };
    let mut out = Vec::new();
    for inc in list {
        let Some(c) = inc.get("component").and_then(|c| c.as_str()) else { continue };
        let name = c.rsplit('/').next().unwrap().split('@').next().unwrap().to_string();
        assert!(c.contains('@'), "component {c}: pin a version, commit or ~latest with @");
        let mut inputs = std::collections::BTreeMap::new();
        if let Some(m) = inc.get("inputs").and_then(|i| i.as_mapping()) {
            for (k, v) in m {
                let v = v.as_str().map(String::from).unwrap_or_else(|| serde_norway::to_string(v).unwrap().trim().to_string());
                inputs.insert(k.as_str().unwrap().to_string(), v);
            }
        }
        out.push((name, inputs));
    }
    out
}

/// A component: its declared inputs (name → default) and its text after the `---`.
fn template(name: &str) -> (Inputs, String) {
    let path = repo_root().join("templates").join(format!("{name}.yml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = serde_norway::Deserializer::from_str(&text);
    let header = serde_norway::Value::deserialize(docs.next().expect("a spec document")).unwrap();
    let spec = header.get("spec").and_then(|s| s.get("inputs")).and_then(|i| i.as_mapping());
    let spec = spec.unwrap_or_else(|| panic!("templates/{name}.yml: the first document must be `spec: inputs:`"));
    let inputs = spec
        .iter()
        .map(|(k, v)| {
            let d = v
                .get("default")
                .map(|d| d.as_str().map(String::from).unwrap_or_else(|| serde_norway::to_string(d).unwrap().trim().to_string()));
            assert!(v.get("description").is_some(), "templates/{name}.yml: input {k:?} has no description");
            (k.as_str().unwrap().to_string(), d)
        })
        .collect();
    let body = text.split("\n---\n").nth(1).unwrap_or_else(|| panic!("templates/{name}.yml: no `---` before the jobs")).to_string();
    (inputs, body)
}

/// The jobs of a component with `$[[ inputs.NAME ]]` replaced by the input given, else its
/// default, else a plausible value; an undeclared name fails.
fn render(name: &str, given: &std::collections::BTreeMap<String, String>) -> serde_norway::Value {
    let (spec, body) = template(name);
    let out = interpolate(name, &spec, &body, given);
    serde_norway::from_str(&out).unwrap_or_else(|e| panic!("templates/{name}.yml rendered is not valid YAML: {e}\n{out}"))
}

type Inputs = std::collections::BTreeMap<String, Option<String>>;

fn interpolate(name: &str, spec: &Inputs, body: &str, given: &std::collections::BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(i) = rest.find("$[[") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("]]").unwrap_or_else(|| panic!("templates/{name}.yml: unclosed $[[")) + i;
        let expr = rest[i + 3..end].trim();
        let input = expr.strip_prefix("inputs.").unwrap_or_else(|| panic!("templates/{name}.yml: `{expr}` is not inputs.NAME"));
        let input = input.split('|').next().unwrap().trim();
        let default =
            spec.get(input).unwrap_or_else(|| panic!("templates/{name}.yml: $[[ inputs.{input} ]] is not declared in spec.inputs"));
        out.push_str(&given.get(input).cloned().or_else(|| default.clone()).unwrap_or_else(|| value_for(input)));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Every `bundle` command line in a pipeline document's scripts.
fn commands_in(doc: &serde_norway::Value) -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    scripts(doc, false, &mut lines);
    let mut cmds = Vec::new();
    for script in lines {
        for line in script.lines() {
            // Command segments: split on pipes, `&&`, `||`, `;`, `$(`, and `then`/`else`.
            let line = line.replace("$(", ";").replace(')', ";");
            for seg in line.split(['|', ';', '&']) {
                let seg = seg.trim();
                let seg = seg.strip_prefix("then ").or_else(|| seg.strip_prefix("else ")).unwrap_or(seg).trim();
                if let Some(rest) = seg.strip_prefix("bundle ") {
                    let mut w = vec!["bundle".to_string()];
                    w.extend(words(&substitute(rest)));
                    cmds.push(w);
                }
            }
        }
    }
    cmds
}

#[test]
fn every_bundle_command_in_the_pipelines_parses() {
    for (file, must) in [
        (
            ".gitlab-ci.yml",
            vec![
                "build --version --push --sign --key --provenance",
                "diff --format --key --repo",
                "values --key -o",
                "history --json",
                "attest --predicate --type --keyless",
                "promote --to --keyless --certificate-identity-regexp --certificate-oidc-issuer",
                "promote --to --key --evidence",
                "values --env --policy -o",
                "verify --policy --env --check-images --values",
                "history --env --key --previous",
                "values --env --key --certificate-identity-regexp --certificate-oidc-issuer -o",
            ],
        ),
        (
            "examples/github-actions/release.yml",
            vec![
                "build --version --push --sign --key --provenance",
                "diff --format --key --repo",
                "values --key -o",
                "promote --to --keyless",
                "attest --predicate --type --keyless",
                "promote --to --key --release-key",
                "values --env --policy -o",
                "verify --policy --env --check-images --values",
                "history --env --key --previous",
                "values --env --key --key -o",
            ],
        ),
    ] {
        let cmds = bundle_commands(file);
        assert!(cmds.len() >= must.len(), "{file}: found only {cmds:?}");
        if file == ".gitlab-ci.yml" {
            // Its deploy, promote and rollback jobs are components: they must be found and rendered.
            let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
            let names: Vec<String> = components(&serde_norway::from_str(&text).unwrap()).into_iter().map(|c| c.0).collect();
            assert!(["promote", "deploy", "rollback"].iter().all(|n| names.iter().any(|x| x == n)), "{file}: components {names:?}");
        }
        for c in &cmds {
            if let Err(e) = relbundle::cli::Cli::try_parse_from(c) {
                panic!("{file}: `{}` is rejected by the CLI parser:\n{e}", c.join(" "));
            }
        }
        // The flows the pipeline promises are there.
        for m in must {
            let parts: Vec<&str> = m.split(' ').collect();
            let found = cmds.iter().any(|c| {
                c[1] == parts[0]
                    && parts[1..].iter().all(|f| c.iter().filter(|w| w == f).count() >= parts[1..].iter().filter(|x| x == &f).count())
            });
            assert!(found, "{file}: no `bundle {m}` command in {cmds:?}");
        }
    }
}

#[test]
fn a_broken_command_line_would_be_caught() {
    // The check above can fail: an unknown flag is rejected by the same parser.
    assert!(relbundle::cli::Cli::try_parse_from(["bundle", "verify", "r.example.com/x:1", "--key", "k", "--no-such-flag"]).is_err());
    assert!(relbundle::cli::Cli::try_parse_from(["bundle", "verify", "r.example.com/x:1"]).is_err(), "--key is required");
}

#[test]
fn every_component_renders_with_its_defaults_and_parses() {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".yml").map(String::from))
        .collect();
    names.sort();
    assert_eq!(names, ["deploy", "promote", "release", "rollback"]);
    for name in &names {
        let cmds = commands_in(&render(name, &Default::default()));
        assert!(!cmds.is_empty(), "templates/{name}.yml has no bundle command");
        for c in &cmds {
            if let Err(e) = relbundle::cli::Cli::try_parse_from(c) {
                panic!("templates/{name}.yml: `{}` is rejected by the CLI parser:\n{e}", c.join(" "));
            }
        }
    }
    // A misspelt input is caught.
    let (spec, _) = template("deploy");
    let typo = std::panic::catch_unwind(|| interpolate("deploy", &spec, "x: $[[ inputs.enviroment ]]", &Default::default()));
    assert!(typo.is_err(), "an undeclared input must fail");
    assert_eq!(interpolate("deploy", &spec, "x: $[[ inputs.policy ]]", &Default::default()), "x: release-policy.yaml");
}

#[test]
fn the_example_policy_loads_for_every_environment() {
    // Every CEL condition compiles and every field is known (policy_file::load), and the file
    // follows spec/policy.schema.json (Python's jsonschema).
    let file = repo_root().join("examples/release-policy.yaml");
    for env in ["staging", "production"] {
        let l = relbundle::trust::policy_file::load(&file, env).unwrap_or_else(|e| panic!("{env}: {e:#}"));
        assert!(l.attestations.iter().any(|a| a.predicate_type == relbundle::trust::promotion::PREDICATE_TYPE), "{env}");
    }
    py(
        "import json,sys,yaml,jsonschema; jsonschema.validate(yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])))",
        &[file.to_str().unwrap(), repo_root().join("spec/policy.schema.json").to_str().unwrap()],
    )
    .ok();
}
