#![no_main]
// Contracts: YAML/JSON loading, format detection, `$ref` resolution (cycles, depth) and the
// structural checker run on the document against itself and against every named schema.
use relbundle::compat::{Checker, Docs, Loc};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(doc) = relbundle::contracts::parse_doc(data, "a/api.yaml") else { return };
    let _ = relbundle::contracts::detect(&doc, "a/api.yaml");
    let mut refs = std::collections::BTreeSet::new();
    relbundle::contracts::external_refs(&doc, &mut refs);
    let mut docs = Docs::default();
    docs.docs.insert("a/api.yaml".into(), doc.clone());
    let _ = docs.check_refs("a/api.yaml");
    let root = Loc::new("a/api.yaml", "");
    let _ = Checker::new(&docs).check(&root, &root);
    if let Some(m) = doc.pointer("/components/schemas").and_then(|m| m.as_object()) {
        for k in m.keys().take(8) {
            let l = Loc::new("a/api.yaml", &format!("/components/schemas/{}", k.replace('~', "~0").replace('/', "~1")));
            let _ = Checker::new(&docs).check(&l, &root);
            let _ = Checker::new(&docs).check(&root, &l);
        }
    }
});
