//! One file per subcommand: thin orchestration over the library modules.

pub mod build;
pub mod check;
pub mod init;
pub mod inspect;

use crate::cli::{Cli, Command, Input};
use crate::collect::Options;
use anyhow::Result;
use std::io::IsTerminal;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init { dir, force } => init::run(&dir, force),
        Command::Build {
            input,
            output,
            retag,
            json,
        } => build::run(&input, output.as_deref(), retag, json),
        Command::Check { input } => check::run(&input),
        Command::Inspect { reference, json } => inspect::run(&reference, json),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "bundle", &mut std::io::stdout());
            Ok(())
        }
    }
}

pub(crate) fn options(i: &Input) -> Options {
    Options {
        images: i.image.clone(),
        buildx_metadata: i.buildx_metadata.clone(),
        version: i.release_version.clone(),
        allow_dirty: i.allow_dirty,
        verify_models: i.verify_models,
        require_model_check: i.require_model_check,
        source_url: i.source_url.clone(),
        hash_cache: crate::hashing::HashCache::default_path(),
        progress: std::io::stderr().is_terminal(),
    }
}

pub(crate) fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("note: {n}");
    }
}
