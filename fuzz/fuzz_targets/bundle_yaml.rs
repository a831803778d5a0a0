#![no_main]
// bundle.yaml: YAML parsing (aliases, nesting) and every validation rule.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = relbundle::bundlefile::BundleFile::parse(text, std::path::Path::new("bundle.yaml"));
    }
});
