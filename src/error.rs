//! Error classification and exit codes.
//!
//! * exit 2: usage or input error (the default for every error);
//! * exit 1: a check, verification or diff that found something ([`Finding`]);
//! * exit 0: success.

use std::fmt;

/// An error that means "a check ran and found something", as opposed to bad input.
/// Commands return it (wrapped in `anyhow::Error`) to make the process exit with 1.
#[derive(Debug)]
pub struct Finding(pub String);

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Finding {}

/// Build a [`Finding`] error.
pub fn finding(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Finding(msg.into()))
}

/// An exit status with nothing more to say (the command already printed its result), as
/// `diff` exits 1 when its inputs differ.
#[derive(Debug)]
pub struct Quiet(pub i32);

impl Quiet {
    pub fn new(code: i32) -> Quiet {
        Quiet(code)
    }
}

impl fmt::Display for Quiet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Quiet {}

/// The process exit code for an error.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(q) = err.downcast_ref::<Quiet>() {
        return q.0;
    }
    if err.chain().any(|e| e.is::<Finding>()) { 1 } else { 2 }
}

/// Shorthand: an input error whose message says what is wrong and what to do.
#[macro_export]
macro_rules! input_err {
    ($($arg:tt)*) => { anyhow::anyhow!($($arg)*) };
}

/// Lists of up to this many items are written out in full in messages; longer ones are cut.
pub const LIST_FULL: usize = 4;
/// How many items a cut list still names.
const LIST_NAMED: usize = 2;

/// Items for one line of a message: `a`, `a and b`, `a, b, c and d`, and past [`LIST_FULL`] items
/// `a, b and 198 more`, so that an error about 200 components stays one readable line. Every
/// message that lists names of unbounded number goes through this or [`lines`].
pub fn list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    match v.len() {
        0 => String::new(),
        n if n > LIST_FULL => format!("{} and {} more", v[..LIST_NAMED].join(", "), n - LIST_NAMED),
        n => match v.split_last() {
            Some((last, rest)) if n > 1 => format!("{} and {last}", rest.join(", ")),
            _ => v[0].clone(),
        },
    }
}

/// Lines of a message, each indented by two spaces after a newline; past [`LINES_FULL`] lines the
/// first ones and `… and N more`.
pub fn lines<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    let shown = if v.len() > LINES_FULL { LINES_NAMED } else { v.len() };
    let mut out: String = v[..shown].iter().map(|l| format!("\n  {l}")).collect();
    if shown < v.len() {
        out.push_str(&format!("\n  … and {} more", v.len() - shown));
    }
    out
}

/// Line lists of up to this many lines are written out in full.
pub const LINES_FULL: usize = 12;
const LINES_NAMED: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_cut_past_four_items() {
        assert_eq!(list(["a"]), "a");
        assert_eq!(list(["a", "b"]), "a and b");
        assert_eq!(list(["a", "b", "c", "d"]), "a, b, c and d");
        let many: Vec<String> = (0..200).map(|i| format!("svc{i:03}")).collect();
        assert_eq!(list(&many), "svc000, svc001 and 198 more");
        assert_eq!(lines(["x", "y"]), "\n  x\n  y");
        let l = lines(&many);
        assert_eq!(l.lines().count(), 12, "{l}");
        assert!(l.ends_with("\n  svc009\n  … and 190 more"), "{l}");
    }
}
