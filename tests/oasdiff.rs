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
