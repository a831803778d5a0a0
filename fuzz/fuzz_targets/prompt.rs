#![no_main]
// Prompt files: shapes, variables, Jinja placeholders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = relbundle::prompts::parse(text, std::path::Path::new("p.yaml"));
        let _ = relbundle::prompts::placeholders(text);
    }
});
