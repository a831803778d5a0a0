//! YAML/JSON parsing with errors that name the file, line and column.
//!
//! serde_norway (a maintained serde_yaml fork) bounds recursion depth and alias expansion, so a
//! "billion laughs" document fails with an error instead of exhausting memory. Its parser, though,
//! reads the whole document before that depth check, and costs time quadratic in the depth of
//! flow collections (`[[[[…`, and every JSON document is one): [`check_depth`] refuses a document
//! nested deeper than [`MAX_DEPTH`] in one linear pass, before the parser sees it.

use anyhow::{Result, anyhow};
use serde::de::DeserializeOwned;
use std::path::Path;

/// The deepest nesting of collections we parse (YAML and JSON alike).
pub const MAX_DEPTH: usize = 128;

/// Deserialize YAML (JSON is YAML too) and prefix errors with `FILE:LINE:COL`.
pub fn from_str<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T> {
    check_depth(text, file)?;
    serde_norway::from_str(text).map_err(|e| located(file, &e))
}

/// Refuse a document whose collections nest deeper than [`MAX_DEPTH`], in one pass over the
/// bytes. Flow collections (`[`, `{`) are counted outside quoted scalars, comments and block
/// scalars; block collections by their indentation levels. It may over-count only in contrived
/// documents (a plain scalar starting with `[` on many open lines), never under-count.
pub fn check_depth(text: &str, file: &Path) -> Result<()> {
    match depth_error(text.as_bytes()) {
        None => Ok(()),
        Some(line) => Err(anyhow!("{}:{line}: nested more than {MAX_DEPTH} levels deep; refusing to parse it", file.display())),
    }
}

/// The 1-based line where nesting first exceeds [`MAX_DEPTH`], if it does.
fn depth_error(b: &[u8]) -> Option<usize> {
    let (mut flow, mut line) = (0usize, 1usize);
    // Indentation of the open block collections, innermost last.
    let mut indents: Vec<usize> = Vec::new();
    let mut i = 0;
    // The indentation of a line that opened a block scalar (`|`, `>`), whose content is skipped.
    let mut block_scalar: Option<usize> = None;
    while i < b.len() {
        // At a line start: measure the indentation; skip block-scalar content and blank lines.
        let indent = b[i..].iter().take_while(|c| **c == b' ').count();
        let rest = &b[i + indent..];
        let blank = rest.first().is_none_or(|c| matches!(c, b'\n' | b'\r' | b'#'));
        let end = i + b[i..].iter().position(|c| *c == b'\n').map_or(b.len() - i, |p| p + 1);
        if let Some(bi) = block_scalar {
            if blank || indent > bi {
                (i, line) = (end, line + 1);
                continue;
            }
            block_scalar = None;
        }
        if flow == 0 && !blank {
            while indents.last().is_some_and(|top| *top > indent) {
                indents.pop();
            }
            if indents.last().is_none_or(|top| *top < indent) {
                indents.push(indent);
            }
            // `- - - x` opens a sequence per dash on one line.
            let dashes = rest.chunks(2).take_while(|c| c == b"- ").count();
            if indents.len() + dashes > MAX_DEPTH {
                return Some(line);
            }
        }
        let Some((f, opens_block)) = scan_line(&b[i + indent..end], flow, indents.len()) else { return Some(line) };
        if f > MAX_DEPTH {
            return Some(line);
        }
        flow = f;
        if opens_block && flow == 0 {
            block_scalar = Some(indent);
        }
        (i, line) = (end, line + 1);
    }
    None
}

/// Scan one line's content for flow brackets: the flow depth after it (None: over the limit), and
/// whether it ends by opening a block scalar (`key: |`, `- >-`).
fn scan_line(l: &[u8], mut flow: usize, block_depth: usize) -> Option<(usize, bool)> {
    let mut quote: Option<u8> = None;
    let mut prev = b' ';
    let mut last_token = 0u8;
    let mut j = 0;
    while j < l.len() {
        let c = l[j];
        if let Some(q) = quote {
            if q == b'"' && c == b'\\' {
                j += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            j += 1;
            continue;
        }
        // A value starts at the line start, after `: `, `- `, `? `, or inside flow after `[{,:`.
        let value_start = prev == b' ' && (j == 0 || matches!(last_token, b':' | b'-' | b'?' | b'[' | b'{' | b','));
        match c {
            b'#' if prev == b' ' || prev == b'\t' => break,
            b'"' | b'\'' if value_start || flow > 0 && matches!(last_token, b'[' | b'{' | b',' | b':') => quote = Some(c),
            b'[' | b'{' if flow > 0 || value_start => {
                flow += 1;
                if flow + block_depth > MAX_DEPTH {
                    return None;
                }
            }
            b']' | b'}' if flow > 0 => flow -= 1,
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            last_token = c;
        }
        prev = if c == b'\t' { b' ' } else { c };
        j += 1;
    }
    Some((flow, quote.is_none() && opens_block_scalar(l)))
}

/// Whether a line ends with a block scalar indicator as its own token: `key: |`, `- >-`, `? |2`.
fn opens_block_scalar(l: &[u8]) -> bool {
    let text = String::from_utf8_lossy(l);
    let core = text.split(" #").next().unwrap_or("").trim_end();
    let body = core.trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    if core.len() - body.len() > 2 {
        return false;
    }
    let Some(before) = body.strip_suffix('|').or_else(|| body.strip_suffix('>')) else { return false };
    let Some(before) = before.strip_suffix(' ') else { return before.is_empty() };
    let before = before.trim_end();
    before.ends_with(':') || before == "-" || before == "?" || before.ends_with(" -") || before.ends_with(" ?")
}

pub fn located(file: &Path, e: &serde_norway::Error) -> anyhow::Error {
    let mut msg = e.to_string();
    // The parser's limits, said in the user's terms.
    if msg.starts_with("repetition limit exceeded") {
        msg = "YAML aliases (*name) expand to too many values (a \"billion laughs\" document?); repetition limit exceeded".into();
    } else if msg.starts_with("recursion limit exceeded") {
        msg = msg.replacen("recursion limit exceeded", "nested too deeply (recursion limit exceeded)", 1);
    }
    match e.location() {
        Some(loc) => {
            // The library appends " at line L column C"; we put the location first instead.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            anyhow!("{}:{}:{}: {}", file.display(), loc.line(), loc.column(), msg)
        }
        None => anyhow!("{}: {}", file.display(), msg),
    }
}

/// The 1-based line of the first occurrence of `key:` (or JSON's `"key":`) at the start of a line
/// (after indentation, `- ` or `{`) at or after line `from`, for errors found after parsing. Falls
/// back to `from`.
pub fn line_of_key(text: &str, key: &str, from: usize) -> usize {
    for (i, l) in text.lines().enumerate().skip(from.saturating_sub(1)) {
        let t = l.trim_start().trim_start_matches(['-', '{', ' ']);
        let quoted = t.strip_prefix('"').and_then(|t| t.strip_prefix(key)).and_then(|r| r.strip_prefix('"'));
        if let Some(rest) = quoted.or_else(|| t.strip_prefix(key))
            && rest.trim_start().starts_with(':')
        {
            return i + 1;
        }
    }
    from.max(1)
}

/// A list for a message: `a, b and c`, or `a, b and 198 more` past `most` items (one item past
/// `most` is written out rather than "and 1 more"). Every message that lists names of unbounded
/// number goes through this or [`list_lines`], so an error about 200 components stays one line.
pub fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, most: usize) -> String {
    let (shown, rest) = cut(items, most);
    match (shown.len(), rest) {
        (0, _) => String::new(),
        (1, 0) => shown[0].clone(),
        (n, 0) => format!("{} and {}", shown[..n - 1].join(", "), shown[n - 1]),
        (_, r) => format!("{} and {r} more", shown.join(", ")),
    }
}

/// [`list`] as lines, each after a newline and two spaces, past `most` lines `… and N more`.
pub fn list_lines<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, most: usize) -> String {
    let (shown, rest) = cut(items, most);
    let mut out: String = shown.iter().map(|l| format!("\n  {l}")).collect();
    if rest > 0 {
        out.push_str(&format!("\n  … and {rest} more"));
    }
    out
}

/// The items to show (at most `most`, or all of `most + 1`) and how many are left out.
fn cut<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, most: usize) -> (Vec<String>, usize) {
    let all: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    let most = most.max(1);
    let n = if all.len() <= most + 1 { all.len() } else { most };
    let rest = all.len() - n;
    (all.into_iter().take(n).collect(), rest)
}

/// A value quoted in an error message, cut to 32 characters so a runaway scalar stays readable.
/// Control characters are escaped, so a hostile value cannot drive the terminal.
pub fn shorten(s: &str) -> String {
    let one_line: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect();
    if one_line.chars().count() <= 32 { one_line } else { format!("{}…", one_line.chars().take(32).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_cut() {
        assert_eq!(list(["a"], 2), "a");
        assert_eq!(list(["a", "b", "c"], 2), "a, b and c");
        assert_eq!(list(["a", "b", "c", "d"], 2), "a, b and 2 more");
        let many: Vec<String> = (0..200).map(|i| format!("svc{i:03}")).collect();
        assert_eq!(list(&many, 2), "svc000, svc001 and 198 more");
        assert_eq!(list_lines(["x", "y"], 10), "\n  x\n  y");
        let l = list_lines(&many, 10);
        assert_eq!(l.lines().count(), 12, "{l}");
        assert!(l.ends_with("\n  svc009\n  … and 190 more"), "{l}");
    }

    fn deep(open: &str, close: &str, n: usize) -> String {
        format!("x: {}1{}\n", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn nesting_is_refused_before_parsing() {
        assert!(depth_error(deep("[", "]", 100).as_bytes()).is_none());
        assert_eq!(depth_error(deep("[", "]", 200).as_bytes()), Some(1));
        assert_eq!(depth_error(deep("{a: ", "}", 200).as_bytes()), Some(1));
        let json = format!("{{\"a\": {}{}}}", "[".repeat(129), "]".repeat(129));
        assert!(depth_error(json.as_bytes()).is_some());
        // Brackets inside quotes, comments, plain scalars and block scalars do not nest.
        let text = format!(
            "a: \"{b}\"\nb: '{b}'\nc: it's {b}\n# {b}\nd: |\n  {b}\n  more {b}\ne: >-\n  {b}\nf: [1, [2, {{g: h}}]]\n",
            b = "[".repeat(300)
        );
        assert!(depth_error(text.as_bytes()).is_none(), "{text}");
        // Block nesting by indentation.
        let mut block = String::new();
        for d in 0..200 {
            block.push_str(&format!("{}k{d}:\n", " ".repeat(d)));
        }
        assert!(depth_error(block.as_bytes()).is_some());
        assert!(depth_error(format!("{}x\n", "- ".repeat(200)).as_bytes()).is_some());
    }
}
