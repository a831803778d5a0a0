//! The reference pipelines (.gitlab-ci.yml, examples/github-actions/release.yml) parse as YAML,
//! and every `bundle` command line in them is accepted by the CLI's own argument parser.
//! Nothing here contacts a cluster or a registry.

mod common;
use clap::Parser;
use common::*;

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
    let mut lines = Vec::new();
    scripts(&doc, false, &mut lines);
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
                "build --version --push --sign --key",
                "diff --format --key --repo",
                "values --key -o",
                "verify --key --check-images --values",
                "verify --key --key --min-signers --check-images --values",
                "history --json",
            ],
        ),
        (
            "examples/github-actions/release.yml",
            vec![
                "build --version --push --sign --key",
                "diff --format --key --repo",
                "values --key -o",
                "verify --key --check-images --values",
            ],
        ),
    ] {
        let cmds = bundle_commands(file);
        assert!(cmds.len() >= must.len(), "{file}: found only {cmds:?}");
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
