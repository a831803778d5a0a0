//! YAML/JSON parsing with errors that name the file, line and column.
//!
//! serde_norway (a maintained serde_yaml fork) bounds recursion depth and alias expansion, so a
//! "billion laughs" document fails with an error instead of exhausting memory.

use anyhow::{Result, anyhow};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Deserialize YAML (JSON is YAML too) and prefix errors with `FILE:LINE:COL`.
pub fn from_str<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T> {
    serde_norway::from_str(text).map_err(|e| located(file, &e))
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
