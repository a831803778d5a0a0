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

/// A content problem ([`Finding`]) becomes a message in `found` and `None`; any other error (a
/// store or network fault) stays an error, so it is never read as "unsigned" or "ok".
pub fn content<T>(r: anyhow::Result<T>, found: &mut Vec<String>) -> anyhow::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.chain().any(|c| c.is::<Finding>()) => {
            found.push(format!("{e:#}"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
