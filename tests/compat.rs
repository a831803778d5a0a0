//! The structural compatibility rules, table-driven (tests/compat-cases.json): each case is a
//! producer schema, a consumer schema and the expected verdict, covering every rule both ways.

use relbundle::compat::{Verdict, check_values};

#[test]
fn compatibility_table() {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat-cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let issues = check_values(&c["producer"], &c["consumer"]).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let verdict = if issues.iter().any(|i| i.verdict == Verdict::Incompatible) {
            "incompatible"
        } else if issues.iter().any(|i| i.verdict == Verdict::CannotProve) {
            "cannot-prove"
        } else {
            "compatible"
        };
        let rule = c["rule"].as_str().unwrap();
        let named = rule.is_empty() || issues.iter().any(|i| i.rule.contains(rule));
        if verdict != c["expect"].as_str().unwrap() || !named {
            failures.push(format!("{name}: expected {} ({rule:?}), got {verdict}: {issues:?}", c["expect"]));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn reference_cycles_and_dangling_refs_are_errors() {
    let cyc = serde_json::json!({"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}});
    let e = check_values(&cyc, &serde_json::json!({})).unwrap_err().to_string();
    assert!(e.contains("reference cycle"), "{e}");
    let dangling = serde_json::json!({"$ref": "#/$defs/Nope"});
    let e = check_values(&dangling, &serde_json::json!({"type": "string"})).unwrap_err().to_string();
    assert!(e.contains("does not exist"), "{e}");
}
