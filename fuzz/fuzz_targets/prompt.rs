#![no_main]
// Prompt files of every format (spec/prompt-formats.md): the first byte picks the file name, so one
// input reaches our YAML/JSON format, Semantic Kernel, LangChain and Langfuse (detected by keys),
// Prompty (.prompty), Dotprompt (.prompt, also as a NAME.VARIANT.prompt variant); then every
// placeholder syntax.
use relbundle::prompts::{Syntax, parse, placeholders};

const NAMES: [&str; 4] = ["p.yaml", "p.prompty", "p.prompt", "p.formal.prompt"];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    if let Ok(text) = std::str::from_utf8(rest) {
        let _ = parse(text, std::path::Path::new(NAMES[pick as usize % NAMES.len()]));
        let _ = placeholders(text);
        for s in [Syntax::Jinja, Syntax::Liquid, Syntax::Handlebars, Syntax::FString, Syntax::SemanticKernel] {
            let _ = s.variables(text);
        }
    }
});
