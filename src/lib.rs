//! relbundle: immutable, signed, reproducible releases of multi-component AI systems.
//!
//! The library behind the `bundle` command. Modules, in the order data flows:
//! facts ([`bundlefile`], [`dvc`], [`prompts`], [`images`], [`contracts`], [`source`]) →
//! [`collect`] → the [`release`] record → [`artifact`] packing → a [`store`].

pub mod artifact;
pub mod bundlefile;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod compat;
pub mod contracts;
pub mod diff;
pub mod discipline;
pub mod discover;
pub mod dvc;
pub mod error;
pub mod extract;
pub mod fetch;
pub mod files;
pub mod hashing;
pub mod helm;
pub mod images;
pub mod impact;
pub mod oasdiff;
pub mod oci;
pub mod paths;
pub mod prompts;
pub mod redact;
pub mod reference;
pub mod release;
pub mod relocate;
pub mod remotes;
pub mod signing;
pub mod slsa;
pub mod source;
pub mod spec;
pub mod store;
pub mod trust;
pub mod verify;
pub mod yaml;

/// Run the CLI and return the process exit code.
pub fn main() -> i32 {
    use clap::Parser;
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    // A command that ends well must have saved every archive it wrote to.
    match commands::run(cli).and_then(|()| store::archive::check_saved()) {
        Ok(()) => 0,
        Err(e) if e.is::<error::Quiet>() => error::exit_code(&e),
        Err(e) => {
            let code = error::exit_code(&e);
            let mut msg = format!("{e}");
            for cause in e.chain().skip(1) {
                msg.push_str(&format!(": {cause}"));
            }
            eprintln!("{}: {}", if code == 1 { "failed" } else { "error" }, redact::text(&msg));
            code
        }
    }
}
