//! One file per subcommand: thin orchestration over the library modules.

pub mod build;
pub mod check;
pub mod diff;
pub mod history;
pub mod init;
pub mod inspect;
pub mod pull;
pub mod push;
pub mod sign;
pub mod values;
pub mod verify;

use crate::cli::{Cli, Command, Input, RegistryOpts};
use crate::collect::Options;
use crate::store::registry::Transport;
use anyhow::Result;
use std::io::IsTerminal;

pub fn run(cli: Cli) -> Result<()> {
    let t = || transport(&cli.registry);
    match cli.command {
        Command::Init { dir, force } => init::run(&dir, force),
        Command::Build { input, output, retag, push, sign, key, password_file, json } => {
            let signing = if sign { key.map(|k| (k, password_file)) } else { None };
            build::run(&input, output.as_deref(), push.as_deref(), signing, retag, json, &t()?)
        }
        Command::Diff { a, b, format, keys, repo } => diff::run(&a, &b, format, &keys, repo.as_deref(), &t()?),
        Command::Keygen { output_prefix, force, password_file } => sign::keygen(&output_prefix, force, password_file.as_deref()),
        Command::Sign { reference, key, password_file, identity, json } => {
            sign::run(&reference, &key, password_file.as_deref(), identity.as_deref(), json, &t()?)
        }
        Command::Verify { reference, trust, check_images, values, json } => {
            verify::run(&reference, &trust, check_images, values, json, &t()?)
        }
        Command::Check { input, json } => check::run(&input, json, &t()?),
        Command::Inspect { reference, json } => inspect::run(&reference, json, &t()?),
        Command::Push { source, destination, retag, json } => push::run(&source, &destination, retag, json, &t()?),
        Command::Pull { reference, output, component, only, trust, json } => {
            pull::run(&reference, &output, component.as_deref(), &only, &trust, json, &t()?)
        }
        Command::Values { reference, output, map, trust, json } => {
            values::run(&reference, output.as_deref(), map.as_deref(), &trust, json, &t()?)
        }
        Command::History { repository, keys, json } => history::run(&repository, &keys, json, &t()?),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "bundle", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Registry transport settings from the global flags.
pub(crate) fn transport(r: &RegistryOpts) -> anyhow::Result<Transport> {
    Ok(Transport {
        insecure: r.insecure_registry.clone(),
        ca_files: r.ca_file.clone(),
        explicit: crate::store::auth::Explicit::from_flags(r.username.as_deref(), r.password_stdin)?,
        timeout: std::env::var("RELBUNDLE_HTTP_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).map(std::time::Duration::from_secs),
        verbose: r.verbose,
    })
}

pub(crate) fn options(i: &Input, t: &Transport) -> Options {
    Options {
        images: i.image.clone(),
        buildx_metadata: i.buildx_metadata.clone(),
        version: i.release_version.clone(),
        version_optional: false,
        allow_dirty: i.allow_dirty,
        verify_models: i.verify_models,
        require_model_check: i.require_model_check,
        source_url: i.source_url.clone(),
        hash_cache: crate::hashing::HashCache::default_path(),
        progress: std::io::stderr().is_terminal(),
        check_images: i.check_images,
        strict: i.strict,
        registry: if i.offline { None } else { Some(t.clone()) },
    }
}

pub(crate) fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("note: {n}");
    }
}

pub(crate) fn warn_moved(r: &crate::store::CopyReport) {
    if let Some(old) = &r.moved_from {
        eprintln!(
            "warning: moved tag `{}` from {old} to {}: anything that deploys by this tag now gets a different release; deploy by digest",
            r.tag, r.digest
        );
    }
}

/// Verify a resolved release with `keys` (signatures, integrity, its own checks) before a command
/// acts on it. The verify report goes to stderr when it fails.
pub(crate) fn require_verified(st: &crate::store::Opened, r: &crate::store::StoreRef, o: crate::verify::Options) -> Result<String> {
    let report = crate::verify::verify(st, r, &o)?;
    if !report.verified {
        eprint!("{}", crate::verify::render(&report));
        return Err(crate::error::finding(format!("{} is not verified; refusing to use it", report.digest)));
    }
    Ok(report.digest)
}

/// Verify options from the trust flags: the keys loaded, `--min-signers` checked against them, and
/// the identity defaulting to the repository named (`r` may be pinned to a digest already).
pub(crate) fn verify_options(r: &crate::store::StoreRef, trust: &crate::cli::Trust, t: &Transport) -> Result<crate::verify::Options> {
    let n = trust.min_signers;
    if n == 0 || n > trust.keys.len() {
        anyhow::bail!("--min-signers {n}: give a number from 1 to the number of --key files ({})", trust.keys.len());
    }
    let keys = trust.keys.iter().map(|k| crate::signing::load_public_key(k)).collect::<Result<Vec<_>>>()?;
    let identity = trust
        .identity
        .clone()
        .or_else(|| matches!(r, crate::store::StoreRef::Registry { .. }).then(|| crate::verify::default_identity(r, None)));
    Ok(crate::verify::Options { keys, min_signers: n, identity, check_images: false, values: None, transport: t.clone() })
}

/// Version discipline against the previous release: `--previous`, else the highest semver tag
/// below this version among `candidates` (the push repository, the output layout; none without a
/// release version). The per-prompt and per-API rules need no release version. Fills
/// `release.previous`; returns the findings and the reference used.
pub(crate) fn discipline(
    c: &mut crate::collect::Collected,
    previous: Option<&str>,
    candidates: &[crate::store::StoreRef],
    t: &Transport,
) -> Result<(Vec<crate::discipline::Finding>, Option<String>)> {
    use crate::store::StoreRef;
    let chosen: Option<StoreRef> = match (previous, &c.version) {
        (Some(p), _) => Some(StoreRef::parse(p)?),
        // Without a version there is no "below this version" to look for.
        (None, None) => None,
        (None, Some(cur)) => {
            let mut best: Option<(semver::Version, StoreRef)> = None;
            for cand in candidates {
                let st = match crate::store::open(cand, t) {
                    Ok(s) => s,
                    Err(_) => continue,
                };
                // A repository or layout that does not exist yet has no previous release.
                let Ok(tags) = st.store().tag_names() else { continue };
                for tag in tags {
                    let Ok(v) = semver::Version::parse(tag.trim_start_matches('v')) else { continue };
                    if v < *cur && best.as_ref().is_none_or(|(b, _)| v > *b) {
                        let base = StoreRef::parse(&cand.base())?;
                        let with_tag = match base {
                            StoreRef::Layout { dir, .. } => StoreRef::Layout { dir, tag: Some(tag.clone()), digest: None },
                            StoreRef::Registry { registry, repository, .. } => {
                                StoreRef::Registry { registry, repository, tag: Some(tag.clone()), digest: None }
                            }
                        };
                        best = Some((v, with_tag));
                    }
                }
                if best.is_some() {
                    break;
                }
            }
            best.map(|(_, r)| r)
        }
    };
    let Some(r) = chosen else { return Ok((Vec::new(), None)) };
    let st = crate::store::open(&r, t)?;
    let prev = crate::diff::load(&st, &r, None)?;
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = std::collections::BTreeMap::new();
    for (p, b) in c.prompts.iter().chain(&c.contracts) {
        files.insert(p.clone(), b.to_vec());
    }
    let findings = crate::discipline::check(&prev, &c.release, &files)?;
    c.release.previous = Some(crate::release::PreviousRecord { version: prev.side.version.clone(), digest: prev.side.digest.clone() });
    Ok((findings, Some(format!("{} ({} {})", r, prev.side.version, prev.side.digest))))
}

pub(crate) fn print_findings(findings: &[crate::discipline::Finding]) {
    for f in findings {
        let level = match f.level {
            crate::discipline::Level::Error => "error",
            crate::discipline::Level::Warning => "warning",
            crate::discipline::Level::Info => "info",
        };
        eprintln!("{level}: {} {}: {}", f.kind, f.subject, f.message);
    }
}
