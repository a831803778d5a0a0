//! Command-line definitions. The doc comments are the help text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Immutable, signed, reproducible releases of multi-component AI systems.
///
/// One release pins every component's image digest, DVC model hashes, prompt template versions and
/// API contracts in one OCI artifact.
///
/// Exit codes: 0 success; 1 a check or verification found something; 2 usage or input error.
#[derive(Parser, Debug)]
#[command(name = "bundle", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a starting bundle.yaml by discovering components in a monorepo.
    ///
    /// A component is a folder with a Dockerfile (or Containerfile), named after the folder. Its
    /// models are the .dvc files and dvc.lock stage outputs below it; its prompts are
    /// prompts/**/*.{yaml,yml,json}; its contracts are api/openapi.{yaml,yml,json} and *.schema.json;
    /// `consumes` entries come from $refs into other components' contracts.
    ///
    /// Example:
    ///   bundle init . && $EDITOR bundle.yaml   # add the image digests, then: bundle build
    #[command(verbatim_doc_comment)]
    Init {
        /// The monorepo root.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Overwrite an existing bundle.yaml.
        #[arg(long)]
        force: bool,
    },
    /// Collect, check and pack a release into one OCI artifact.
    ///
    /// Examples:
    ///   bundle build fixtures/docproc --version 1.0.0 --output oci:out/docproc
    ///   bundle build . --image ocr=ghcr.io/acme/ocr@sha256:… --verify-models
    ///   git tag docproc-v1.4.0 && bundle build .      # version from the tag
    #[command(verbatim_doc_comment)]
    Build {
        #[command(flatten)]
        input: Input,
        /// Where to write: oci:DIR[:TAG]. The tag defaults to the version.
        #[arg(short, long, value_name = "oci:DIR[:TAG]")]
        output: Option<String>,
        /// Move an existing tag that names a different release (dangerous: deploys using the tag change).
        #[arg(long)]
        retag: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run every collection step and check of `build` without writing anything.
    ///
    /// Example:
    ///   bundle check . --image ocr=ghcr.io/acme/ocr@sha256:…
    #[command(verbatim_doc_comment)]
    Check {
        #[command(flatten)]
        input: Input,
    },
    /// Show a release: summary, or the release record with --json.
    ///
    /// Examples:
    ///   bundle inspect oci:out/docproc:1.0.0
    ///   bundle inspect oci:out/docproc@sha256:… --json | jq .components
    #[command(verbatim_doc_comment)]
    Inspect {
        /// oci:DIR[:TAG] or oci:DIR@sha256:…
        reference: String,
        /// Print the release record (canonical JSON).
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    ///
    /// Example:
    ///   bundle completions bash > /etc/bash_completion.d/bundle
    #[command(verbatim_doc_comment)]
    Completions { shell: clap_complete::Shell },
}

/// Inputs shared by `build` and `check`.
#[derive(Args, Debug, Clone)]
pub struct Input {
    /// The monorepo root (the folder holding bundle.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The release version; defaults to a tag at HEAD (v1.2.0, NAME-v1.2.0 or NAME/v1.2.0).
    #[arg(long = "version", value_name = "SEMVER")]
    pub release_version: Option<String>,
    /// Pin a component's image: NAME=REPOSITORY[:TAG]@sha256:DIGEST (repeatable).
    #[arg(long, value_name = "NAME=REF@DIGEST")]
    pub image: Vec<String>,
    /// Take image digests from `docker buildx build --metadata-file` output: [NAME=]FILE (repeatable).
    /// Without NAME, a bake file's target names are matched to component names.
    #[arg(long, value_name = "[NAME=]FILE")]
    pub buildx_metadata: Vec<String>,
    /// Build from a working tree with uncommitted changes (recorded in the release).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Re-hash workspace model files by DVC's rules, compare them with the pins, and record sha256.
    #[arg(long)]
    pub verify_models: bool,
    /// Fail when a model's presence cannot be checked (its DVC remote is not a local path).
    #[arg(long)]
    pub require_model_check: bool,
    /// Record this URL as the source repository instead of git's `origin` (credentials are removed).
    #[arg(long, value_name = "URL")]
    pub source_url: Option<String>,
}
