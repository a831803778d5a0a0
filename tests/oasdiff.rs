//! oasdiff's breaking-change rules, table-driven (tests/oasdiff-cases.json): every rule both ways,
//! the breaking direction (its rule id must be reported at its level) and a harmless neighbour
//! (no ERR or WARN at all). Each case is a pair of contracts, written as a whole OpenAPI document
//! (`doc`), a JSON Schema contract (`schema`), or a fragment: the query parameters of `GET /items`
//! (`param`), the JSON request body of `POST /items` (`request`) or its 200 response (`response`).

use relbundle::compat::Docs;
use relbundle::oasdiff::{Severity, compare};
use serde_json::{Value, json};

fn wrap(kind: &str, v: &Value) -> Value {
    let doc = |paths: Value| json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1.0.0"}, "paths": paths});
    match kind {
        "doc" | "schema" => v.clone(),
        "param" => doc(json!({"/items": {"get": {"parameters": v, "responses": {"200": {"description": "ok"}}}}})),
        "request" => doc(json!({"/items": {"post": {
            "requestBody": {"content": {"application/json": {"schema": v}}},
            "responses": {"200": {"description": "ok"}}}}})),
        "response" => {
            doc(json!({"/items": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": v}}}}}}}))
        }
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn oasdiff_rule_table() {
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oasdiff-cases.json")).unwrap()).unwrap();
    let rules: std::collections::BTreeSet<&str> = cases.iter().filter_map(|c| c["rule"].as_str()).collect();
    assert!(cases.len() >= 300 && rules.len() >= 150, "{} cases, {} rules", cases.len(), rules.len());
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let kind = c["kind"].as_str().unwrap();
        let mut docs = Docs::default();
        docs.docs.insert("a/api.yaml".into(), wrap(kind, &c["old"]));
        docs.docs.insert("b/api.yaml".into(), wrap(kind, &c["new"]));
        let changes = compare(&docs, "a/api.yaml", "b/api.yaml").unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let reported: Vec<String> = changes
            .iter()
            .filter(|x| x.level != Severity::Info)
            .map(|x| format!("{} {} at {}", x.level.as_str(), x.id, x.place()))
            .collect();
        match c["rule"].as_str() {
            Some(rule) => {
                let level = c["level"].as_str().unwrap();
                if !changes.iter().any(|x| x.id == rule && x.level.as_str() == level) {
                    failures.push(format!("{name}: expected {level} {rule}, got {reported:?}"));
                }
            }
            None if !reported.is_empty() => failures.push(format!("{name}: expected nothing breaking, got {reported:?}")),
            None => {}
        }
    }
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn changes_name_operation_place_and_the_named_schema() {
    let old = json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/embed": {"post": {
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Chunk"}}}}}}}},
        "components": {"schemas": {"Chunk": {"type": "object", "required": ["char_start"], "properties": {"char_start": {"type": "integer"}}}}}});
    let mut new = old.clone();
    new["components"]["schemas"]["Chunk"] = json!({"type": "object", "properties": {}});
    let mut docs = Docs::default();
    docs.docs.insert("a/api/openapi.yaml".into(), old);
    docs.docs.insert("b/api/openapi.yaml".into(), new);
    let changes = compare(&docs, "a/api/openapi.yaml", "b/api/openapi.yaml").unwrap();
    let c = changes.iter().find(|c| c.id == "response-required-property-removed").unwrap_or_else(|| panic!("{changes:?}"));
    assert_eq!(c.operation, "POST /embed");
    assert_eq!(c.location, "response 200 Chunk.char_start");
    assert_eq!(c.schemas, vec!["api/openapi.yaml#/components/schemas/Chunk".to_string()]);
}

// ---- Through the CLI: `bundle check --previous` and `bundle diff` on copies of fixtures/docproc.

mod common;
use common::*;
use std::path::Path;

fn edit(path: &Path, from: &str, to: &str) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, s.replacen(from, to, 1)).unwrap();
}

const HEALTH: &str = "  /v1/health:\n    get:\n      responses:\n        \"200\":\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n                required: [status]\n                properties:\n                  status: {type: string}\n  /v1/cache:\n    delete:\n      deprecated: true\n      responses:\n        \"204\":\n          description: emptied\ncomponents:\n";

/// docproc with an extra embedding-api operation nobody declares, a deprecated one, and the
/// summarizer declaring the one operation it calls; built as release 1.0.0 into a layout.
fn previous(t: &Path) -> (std::path::PathBuf, String) {
    let repo = fixture_repo(t, &["docproc", "dvc-remote"]);
    let d = repo.join("docproc");
    edit(&d.join("components/embedding/api/openapi.yaml"), "components:\n", HEALTH);
    edit(
        &d.join("components/embedding/api/openapi.yaml"),
        "                pages:\n",
        "                lang: {type: string}\n                pages:\n",
    );
    edit(
        &d.join("bundle.yaml"),
        "      embedding-api: \">=2.1, <3\"",
        "      embedding-api:\n        version: \">=2.1, <3\"\n        operations: [\"post /v1/embed\"]",
    );
    commit_all(&repo, "previous");
    let layout = format!("oci:{}", t.join("layout").display());
    run(bundle(t).args(["build", "--version", "1.0.0", "--output", &layout]).arg(&d)).ok();
    (d, layout)
}

fn check(t: &Path, d: &Path, layout: &str, extra: &[&str]) -> Run {
    run(bundle(t).args(["check", "--allow-dirty", "--version", "1.1.0", "--previous", &format!("{layout}:1.0.0")]).args(extra).arg(d))
}

#[test]
fn check_previous_reports_rule_ids_and_the_consumers_each_break_hits() {
    let t = tempfile::tempdir().unwrap();
    let (d, layout) = previous(t.path());
    let api = d.join("components/embedding/api/openapi.yaml");
    edit(&api, "  version: 2.1.0", "  version: 2.2.0");
    // Chunk.char_start (which the summarizer's contract `$ref`s) is no longer returned…
    edit(&api, "required: [chunk_id, text, char_start, char_end, vector]", "required: [chunk_id, text, char_end, vector]");
    edit(&api, "        char_start:\n          type: integer\n          minimum: 0\n", "");
    // …and GET /v1/health's status became optional: nobody in the release calls it.
    edit(&api, "                required: [status]\n", "");
    let r = check(t.path(), &d, &layout, &[]).code(1);
    assert!(
        r.stderr.contains(
            "error: api embedding-api: POST /v1/embed response 200 Chunk.char_start: removed the required property \
             [ERR response-required-property-removed]; breaking for summarizer (POST /v1/embed, response 200 Chunk.char_start)"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("GET /v1/health response 200 status: became optional [ERR response-property-became-optional]; breaking, no consumer in this release uses it"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("error: api embedding-api: 2 breaking changes: ")
            && r.stderr.contains("they need a major bump, and 2.1.0 → 2.2.0 is a minor bump"),
        "{}",
        r.stderr
    );

    // The JSON report carries the rule, oasdiff's level, the place and the consumers, per its schema.
    let j = check(t.path(), &d, &layout, &["--json"]).code(1).stdout;
    let code = "import json, sys, jsonschema\njsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.loads(sys.argv[2]))\nprint('ok')";
    py(code, &[repo_root().join("spec/check-report.schema.json").to_str().unwrap(), &j]).ok();
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    let f = v["findings"].as_array().unwrap();
    let removed = f.iter().find(|f| f["rule"] == "response-required-property-removed").unwrap_or_else(|| panic!("{v}"));
    assert_eq!((removed["level"].as_str(), removed["oasdiffLevel"].as_str()), (Some("error"), Some("ERR")));
    assert_eq!(
        (removed["operation"].as_str(), removed["location"].as_str()),
        (Some("POST /v1/embed"), Some("response 200 Chunk.char_start"))
    );
    assert_eq!(removed["consumers"][0]["component"], "summarizer");
    assert!(removed["consumers"][0]["because"].as_str().unwrap().contains("#/components/schemas/Chunk"), "{removed}");
    let health = f.iter().find(|f| f["rule"] == "response-property-became-optional").unwrap_or_else(|| panic!("{v}"));
    assert_eq!(health["consumers"], serde_json::json!([]));
    assert_eq!(health["impact"], "breaking, no consumer in this release uses it");

    // Built anyway, `diff` shows each break with its consumers.
    run(bundle(t.path()).args(["build", "--allow-dirty", "--version", "1.1.0", "--output", &layout, "--allow-breaking", "test"]).arg(&d))
        .ok();
    let out = run(bundle(t.path()).args(["diff", &format!("{layout}:1.0.0"), &format!("{layout}:1.1.0")])).code(1).stdout;
    assert!(
        out.contains("[ERR response-required-property-removed]: breaking for summarizer (POST /v1/embed, response 200 Chunk.char_start)"),
        "{out}"
    );
    assert!(out.contains("[ERR response-property-became-optional]: breaking, no consumer in this release uses it"), "{out}");
    let dj: serde_json::Value = serde_json::from_str(
        &run(bundle(t.path()).args(["diff", "--format", "json", &format!("{layout}:1.0.0"), &format!("{layout}:1.1.0")])).code(1).stdout,
    )
    .unwrap();
    let code = "import json, sys, jsonschema\njsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.loads(sys.argv[2]))\nprint('ok')";
    py(code, &[repo_root().join("spec/diff.schema.json").to_str().unwrap(), &dj.to_string()]).ok();
    let contracts: Vec<&serde_json::Value> =
        dj["components"].as_array().unwrap().iter().flat_map(|c| c["contracts"].as_array().unwrap()).collect();
    assert!(
        contracts.iter().any(|c| c["id"] == "embedding-api" && c["breaking"] == true && c["changes"].as_array().unwrap().len() == 2),
        "{dj}"
    );

    // A malformed operation is refused, naming the file and field.
    edit(&d.join("bundle.yaml"), "operations: [\"post /v1/embed\"]", "operations: [\"embed\"]");
    let r = check(t.path(), &d, &layout, &[]).code(2);
    assert!(
        r.stderr.contains("bundle.yaml") && r.stderr.contains("operations") && r.stderr.contains("`embed` is not an operation"),
        "{}",
        r.stderr
    );
}

#[test]
fn warn_is_a_warning_unless_strict_and_a_deprecated_operation_may_go() {
    let t = tempfile::tempdir().unwrap();
    let (d, layout) = previous(t.path());
    let api = d.join("components/embedding/api/openapi.yaml");
    edit(&api, "  version: 2.1.0", "  version: 2.1.1");
    // Removing a request property is potentially breaking (WARN)…
    edit(&api, "                lang: {type: string}\n", "");
    // …removing a deprecated operation without a sunset date is allowed.
    edit(
        &api,
        "  /v1/cache:\n    delete:\n      deprecated: true\n      responses:\n        \"204\":\n          description: emptied\n",
        "",
    );
    let r = check(t.path(), &d, &layout, &[]).ok();
    assert!(
        r.stderr.contains(
            "warning: api embedding-api: POST /v1/embed request body lang: removed the request property [WARN request-property-removed]; \
             potentially breaking for summarizer (POST /v1/embed, request body lang) (an error with --strict)"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("api-removed") && !r.stderr.contains("error:"), "{}", r.stderr);
    let r = check(t.path(), &d, &layout, &["--strict"]).code(1);
    assert!(
        r.stderr.contains(
            "error: api embedding-api: 1 breaking change: request-property-removed at POST /v1/embed request body lang; \
             it would need a major bump, and 2.1.0 → 2.1.1 is a patch bump"
        ),
        "{}",
        r.stderr
    );
}

/// The scale goal (`check --previous` on 200 contracts within the build's 2 s): classifying 200
/// changed contracts of 50 operations each, over 20 shared and mutually recursive component
/// schemas of which one changed, stays well inside it (unchanged shared schemas are compared once
/// per contract). The bound is loose: debug builds on a shared machine.
#[test]
fn classifying_200_changed_contracts_of_50_operations_is_fast() {
    let contract = |variant: usize| {
        let mut paths = serde_json::Map::new();
        for i in 0..50 {
            let r = |n: usize| json!({"$ref": format!("#/components/schemas/S{}", n % 20)});
            paths.insert(
                format!("/v1/things{i}/{{id}}"),
                json!({"post": {
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                                   {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}}],
                    "requestBody": {"content": {"application/json": {"schema": r(i)}}},
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array", "items": r(i + 1)}}}}}}}),
            );
        }
        let mut schemas = serde_json::Map::new();
        for s in 0..20 {
            let mut props = serde_json::Map::new();
            for p in 0..10 {
                // One schema's property changes between the versions; the other 19 are the same.
                let max = if s == 7 && p == 3 { 10 + variant } else { 10 };
                props.insert(format!("p{p}"), json!({"type": "string", "maxLength": max}));
            }
            props.insert("next".into(), json!({"$ref": format!("#/components/schemas/S{}", (s + 1) % 20)}));
            schemas.insert(format!("S{s}"), json!({"type": "object", "required": ["p0", "p1"], "properties": props}));
        }
        json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1.0.0"}, "paths": paths, "components": {"schemas": schemas}})
    };
    let mut docs = Docs::default();
    for k in 0..200 {
        docs.docs.insert(format!("a/c{k}.yaml"), contract(0));
        docs.docs.insert(format!("b/c{k}.yaml"), contract(1));
    }
    let start = std::time::Instant::now();
    let mut n = 0;
    for k in 0..200 {
        n += compare(&docs, &format!("a/c{k}.yaml"), &format!("b/c{k}.yaml")).unwrap().len();
    }
    let took = start.elapsed();
    assert!(n > 0);
    eprintln!("classified 200 changed contracts in {took:?}");
    assert!(took < std::time::Duration::from_secs(45), "{took:?}");
}

/// A provider schema that only consumers `$ref` (no operation reaches it) is judged as what the
/// provider publishes; one an operation reaches is judged there only (a request-only schema stays
/// a request schema).
#[test]
fn schemas_consumers_ref_are_judged_even_when_no_operation_reaches_them() {
    let old = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/in": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}},
                                    "responses": {"204": {"description": "ok"}}}}},
        "components": {"schemas": {
            "In": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
            "Shared": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}});
    let mut new = old.clone();
    new["components"]["schemas"]["In"]["required"] = json!([]);
    new["components"]["schemas"]["Shared"] = json!({"type": "object", "properties": {}});
    let mut docs = Docs::default();
    docs.docs.insert("a/p/openapi.yaml".into(), old);
    docs.docs.insert("b/p/openapi.yaml".into(), new);
    let used = ["p/openapi.yaml#/components/schemas/Shared".to_string(), "p/openapi.yaml#/components/schemas/In".to_string()];
    let changes = relbundle::oasdiff::compare_with(&docs, "a/p/openapi.yaml", "b/p/openapi.yaml", &used).unwrap();
    let reported: Vec<&relbundle::oasdiff::Change> = changes.iter().filter(|c| c.level != Severity::Info).collect();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert_eq!((reported[0].id.as_str(), reported[0].location.as_str()), ("response-required-property-removed", "schema Shared id"));
    assert_eq!(reported[0].schemas, vec![used[0].clone()]);
    // Without the consumer's use, oasdiff's rules see no operation touching it.
    assert!(compare(&docs, "a/p/openapi.yaml", "b/p/openapi.yaml").unwrap().iter().all(|c| c.level == Severity::Info));
}
