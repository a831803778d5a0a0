//! Placeholder syntaxes of the template languages prompt formats use, and the variable names a
//! template reads in each: the root name of every placeholder, less the names the template binds
//! itself (loop variables, `set`/`assign`, the items of a Handlebars `#each`).

use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Jinja2 (and our own format): `{{ x }}`, `{% for a in x %}`, `{% set y = … %}`, `{% if x %}`.
    Jinja,
    /// Liquid: Jinja's forms plus `{% assign y = … %}` and `{% capture y %}`.
    Liquid,
    /// Mustache and Handlebars: `{{x}}`, `{{{x}}}`, `{{#if x}}`, `{{#each xs}}…{{/each}}`,
    /// helpers with arguments (`{{media url=photo}}`, `{{role "system"}}`), `{{! comments }}`.
    Handlebars,
    /// Python format strings: `{x}`, `{x.attr}`, `{x[0]}`, `{x!r:>10}`; `{{`/`}}` are literal braces.
    FString,
    /// Semantic Kernel's own syntax: `{{$x}}`, and `$x` arguments of function calls.
    SemanticKernel,
}

impl Syntax {
    /// The variables `text` reads.
    pub fn variables(self, text: &str) -> BTreeSet<String> {
        match self {
            Syntax::Jinja | Syntax::Liquid => super::placeholders(text),
            Syntax::Handlebars => handlebars(text),
            Syntax::FString => fstring(text),
            Syntax::SemanticKernel => semantic_kernel(text),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Syntax::Jinja => "jinja2",
            Syntax::Liquid => "liquid",
            Syntax::Handlebars => "handlebars",
            Syntax::FString => "f-string",
            Syntax::SemanticKernel => "semantic-kernel",
        }
    }
}

/// The identifier at the start of `s` (letters, digits, `_`; not starting with a digit).
pub(crate) fn ident(s: &str) -> Option<String> {
    let name: String = s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
}

/// Handlebars/Mustache tags in order: the text between `{{` and `}}` (or `{{{`/`}}}`).
fn tags(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        rest = &rest[i + 2..];
        let triple = rest.starts_with('{');
        let body = if triple { &rest[1..] } else { rest };
        let Some(end) = body.find("}}") else { break };
        out.push(body[..end].trim_matches(['~', ' ', '\t', '\n', '\r']));
        rest = &body[end + 2..];
        if triple {
            rest = rest.strip_prefix('}').unwrap_or(rest);
        }
    }
    out
}

/// Handlebars and Mustache: every name read outside a `#each`/`#with` block (inside one, bare
/// names belong to the item), helper names excepted.
fn handlebars(text: &str) -> BTreeSet<String> {
    const SCOPED: [&str; 2] = ["each", "with"];
    let mut out = BTreeSet::new();
    // Open blocks: true when the block changes the context (each, with, a Mustache section on a list).
    let mut scoped: Vec<bool> = Vec::new();
    // How many open blocks change the context (kept, not recounted: a hostile template nests deep).
    let mut depth = 0usize;
    for tag in tags(text) {
        let inside = depth > 0;
        if tag.starts_with('!') || tag.starts_with('>') || tag == "else" || tag.starts_with("else ") {
            continue;
        }
        if let Some(_close) = tag.strip_prefix('/') {
            if scoped.pop() == Some(true) {
                depth -= 1;
            }
            continue;
        }
        let (open, body) = match tag.strip_prefix(['#', '^']) {
            Some(b) => (true, b),
            None => (false, tag.strip_prefix('&').unwrap_or(tag)),
        };
        let words: Vec<&str> = body.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        // A helper with arguments: the arguments (and `key=value` values) are what it reads.
        let (helper, args): (Option<&str>, Vec<&str>) = if words.len() > 1 || (open && matches!(*first, "if" | "unless" | "each" | "with"))
        {
            (Some(first), words[1..].to_vec())
        } else {
            (None, words)
        };
        if open {
            // A Mustache section `{{#items}}` scopes like `each`; `{{#if x}}` does not.
            let s = helper.is_none_or(|h| SCOPED.contains(&h));
            depth += usize::from(s);
            scoped.push(s);
        }
        if inside {
            // Only explicit roots are top-level inside a scoped block.
            for a in &args {
                if let Some(r) = a.strip_prefix("@root.") {
                    out.extend(ident(r));
                }
            }
            continue;
        }
        for a in args {
            let a = a.split_once('=').map(|(_, v)| v).unwrap_or(a);
            if a.starts_with(['"', '\'', '@', '(']) || a == "this" || a.starts_with("this.") || a.starts_with("../") {
                continue;
            }
            if let Some(n) = ident(a.strip_prefix("@root.").unwrap_or(a))
                && !matches!(n.as_str(), "true" | "false" | "null" | "undefined")
            {
                out.insert(n);
            }
        }
    }
    out
}

/// Python format-string fields.
fn fstring(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => i += 2,
            b'}' if b.get(i + 1) == Some(&b'}') => i += 2,
            b'{' => {
                out.extend(ident(&text[i + 1..]));
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Semantic Kernel: `$name` inside `{{ … }}`.
fn semantic_kernel(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for tag in tags(text) {
        for w in tag.split(|c: char| c.is_whitespace() || c == '=') {
            if let Some(v) = w.strip_prefix('$') {
                out.extend(ident(v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: Syntax, t: &str) -> Vec<String> {
        s.variables(t).into_iter().collect()
    }

    #[test]
    fn each_syntax() {
        assert_eq!(
            v(
                Syntax::Handlebars,
                "{{role \"system\"}}Hi {{name}}{{#if style}} in {{style}}{{/if}}{{#each docs}}{{title}} {{@index}}{{/each}}{{! c }}{{media url=photo}}{{{raw}}}"
            ),
            ["docs", "name", "photo", "raw", "style"]
        );
        assert_eq!(v(Syntax::Handlebars, "{{#items}}{{label}}{{/items}}{{^empty}}x{{/empty}}{{user.name}}"), ["empty", "items", "user"]);
        assert_eq!(v(Syntax::FString, "Tell a {adjective} joke about {content.topic!r}; {{literal}} {0}"), ["adjective", "content"]);
        assert_eq!(v(Syntax::SemanticKernel, "{{$topic}} {{ time.now }} {{search.find query=$q $input}}"), ["input", "q", "topic"]);
        assert_eq!(
            v(Syntax::Liquid, "{% for p in pages %}{{ p.text | upcase }}{% endfor %}{% assign n = 3 %}{{ n }}{{ lang }}"),
            ["lang", "pages"]
        );
    }
}
