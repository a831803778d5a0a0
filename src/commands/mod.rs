//! One file per subcommand: thin orchestration over the library modules.

pub mod attest;
pub mod attestations;
pub mod build;
pub mod check;
pub mod copy;
pub mod diff;
pub mod history;
pub mod init;
pub mod inspect;
pub mod promote;
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
    let top = cli.registry;
    // The registry flags given before the command and after it, together.
    let t = |r: &RegistryOpts| transport(&top.merge(r));
    match cli.command {
        Command::Init { dir, force } => init::run(&dir, force),
        Command::Build {
            input,
            output,
            retag,
            push,
            sign,
            key,
            keyless: keyless_args,
            password_file,
            provenance,
            no_provenance,
            json,
            registry,
        } => {
            let keyless = keyless_args.get();
            if sign && key.is_none() && keyless.is_none() {
                anyhow::bail!("--sign needs --key FILE, or --keyless");
            }
            if !sign && (key.is_some() || keyless.is_some()) {
                anyhow::bail!("--key and --keyless sign only with --sign");
            }
            if provenance && !sign {
                anyhow::bail!("--provenance is attested by the release's signer: add --sign with --key FILE or --keyless");
            }
            // Provenance: asked for, or by default when signing in CI.
            let provenance = sign && !no_provenance && (provenance || crate::slsa::in_ci(&|v| std::env::var(v).ok()));
            let tlog = keyless_args.tlog()?;
            let signing = if sign { key.map(|k| (k, password_file, tlog)) } else { None };
            let how = build::Signing { key: signing, keyless, provenance };
            build::run(&input, output.as_deref(), push.as_deref(), how, retag, json, &t(&registry)?)
        }
        Command::Diff { a, b, format, signers, repo, registry } => diff::run(&a, &b, format, &signers, repo.as_deref(), &t(&registry)?),
        Command::Keygen { output_prefix, force, password_file } => sign::keygen(&output_prefix, force, password_file.as_deref()),
        Command::Sign { reference, key, keyless, password_file, identity, annotations, format, json, registry } => {
            let how = match (key, keyless.get()) {
                (Some(k), None) => sign::How::Key(k, password_file, keyless.tlog()?),
                (None, Some(k)) => sign::How::Keyless(k),
                _ => anyhow::bail!("give --key FILE or --keyless"),
            };
            sign::run(&reference, how, identity.as_deref(), &annotations, format, json, &t(&registry)?)
        }
        Command::Attest { reference, predicate, predicate_type, key, keyless, password_file, identity, format, json, registry } => {
            let how = match (key, keyless.get()) {
                (Some(k), None) => sign::How::Key(k, password_file, keyless.tlog()?),
                (None, Some(k)) => sign::How::Keyless(k),
                _ => anyhow::bail!("give --key FILE or --keyless"),
            };
            let claim = attest::Claim { predicate: &predicate, predicate_type: &predicate_type };
            attest::run(&reference, &claim, how, identity.as_deref(), format, json, &t(&registry)?)
        }
        Command::Attestations { reference, predicate_type, trust, json, registry } => {
            attestations::run(&reference, predicate_type.as_deref(), &trust, json, &t(&registry)?)
        }
        Command::Verify {
            reference,
            trust,
            check_images,
            values,
            map,
            policy,
            env,
            attest_result,
            attest_key,
            keyless,
            password_file,
            json,
            registry,
        } => {
            let gate = policy.zip(env);
            let attest = match (attest_result, attest_key, keyless.get()) {
                (false, _, Some(_)) => anyhow::bail!("--keyless signs the --attest-result summary: add --attest-result"),
                (false, ..) => None,
                (true, Some(k), None) => Some(sign::How::Key(k, password_file, None)),
                (true, None, Some(k)) => Some(sign::How::Keyless(k)),
                (true, ..) => anyhow::bail!("--attest-result needs a signer: --attest-key FILE, or --keyless"),
            };
            let checks = verify::Checks { check_images, values, map, attest };
            verify::run(&reference, &trust, checks, gate, json, &t(&registry)?)
        }
        Command::Check { input, output, push, json, registry } => {
            check::run(&input, output.as_deref(), push.as_deref(), json, &t(&registry)?)
        }
        Command::Inspect { reference, json, registry } => inspect::run(&reference, json, &t(&registry)?),
        Command::Push { source, destination, retag, json, registry } => push::run(&source, &destination, retag, json, &t(&registry)?),
        Command::Pull { reference, output, component, only, force, models, dvc_remote, trust, json, registry } => {
            let req = pull::Request {
                output: &output,
                component: component.as_deref(),
                only: &only,
                force,
                json,
                models,
                dvc_remote: dvc_remote.as_deref(),
            };
            pull::run(&reference, &req, &trust, &t(&registry)?)
        }
        Command::Values { reference, output, map, relocated, trust, env, policy, json, registry } => {
            let gate = values::Gate { env: env.as_deref(), policy: policy.as_deref() };
            values::run(&reference, output.as_deref(), map.as_deref(), relocated, &trust, gate, json, &t(&registry)?)
        }
        Command::Copy {
            source,
            destination,
            with_images,
            images_to,
            images_from,
            key,
            keyless,
            password_file,
            identity,
            format,
            retag,
            json,
            registry,
        } => {
            let req = copy::Request {
                with_images,
                images_to,
                images_from,
                key,
                keyless: keyless.get(),
                password_file,
                identity,
                format,
                retag,
                json,
            };
            copy::run(&source, &destination, req, &t(&registry)?)
        }
        Command::History { repository, signers, env, previous, json, registry } => match env {
            None => history::run(&repository, &signers, json, &t(&registry)?),
            Some(env) => history::run_env(&repository, &signers, &env, previous, json, &t(&registry)?),
        },
        Command::Promote { reference, to, evidence, signing_key, keyless, password_file, trust, format, json, registry } => {
            let how = match (signing_key, keyless.get()) {
                (Some(k), None) => sign::How::Key(k, password_file, None),
                (None, Some(k)) => sign::How::Keyless(k),
                _ => anyhow::bail!("give --key FILE or --keyless"),
            };
            let req = promote::Request { env: &to, evidence: &evidence, format, json };
            promote::run(&reference, how, &trust, &req, &t(&registry)?)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "bundle", &mut std::io::stdout());
            Ok(())
        }
    }
}

impl RegistryOpts {
    /// These flags and `other`'s together (lists joined, a later single value wins).
    pub fn merge(&self, other: &RegistryOpts) -> RegistryOpts {
        let mut ca_file = self.ca_file.clone();
        ca_file.extend(other.ca_file.iter().filter(|f| !self.ca_file.contains(f)).cloned());
        RegistryOpts {
            insecure_registry: self.insecure_registry.iter().chain(&other.insecure_registry).cloned().collect(),
            ca_file,
            username: other.username.clone().or_else(|| self.username.clone()),
            password_stdin: self.password_stdin || other.password_stdin,
            verbose: self.verbose || other.verbose,
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
        no_git: i.no_git,
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
        eprintln!("note: {}", crate::redact::text(n));
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

/// Verify options from the trust flags: the policy (distinct keys, `--min-signers`, the expected
/// identities: `--identity`, else the registry repository named by `r`; a layout needs `--identity`).
pub(crate) fn verify_options(r: &crate::store::StoreRef, trust: &crate::cli::Trust, t: &Transport) -> Result<crate::verify::Options> {
    Ok(crate::verify::Options {
        policy: crate::trust::Policy::from_flags(r, trust)?,
        check_images: false,
        values: None,
        values_map: None,
        rules: None,
        transport: t.clone(),
    })
}

/// Verify options from a release policy's environment (`--policy FILE --env ENV`): its signers
/// and threshold, its required attestations and rules; the trust flags still give the
/// identities, annotations and trusted root.
pub(crate) fn policy_options(
    r: &crate::store::StoreRef,
    trust: &crate::cli::Trust,
    file: &std::path::Path,
    env: &str,
    t: &Transport,
) -> Result<crate::verify::Options> {
    let loaded = crate::trust::policy_file::load(file, env)?;
    let mut p = crate::trust::Policy::of_keys(
        crate::trust::KeySet::load(&loaded.keys)?,
        crate::trust::policy::identities(r, &trust.signers.identity)?,
    );
    p.min_signers = loaded.threshold;
    p.annotations = crate::trust::policy::annotations(&trust.annotations)?;
    p.keyless = loaded.identities.clone();
    p.trusted_root = trust.signers.trusted_root.clone();
    Ok(crate::verify::Options { policy: p, check_images: false, values: None, values_map: None, rules: Some(loaded), transport: t.clone() })
}

/// What was found as the previous release, and whether its signatures were checked.
pub(crate) struct Previous {
    /// `REF (VERSION DIGEST)`.
    pub described: String,
    /// Who signed it, when verified with `--previous-key`; else why it is unverified.
    pub trust: std::result::Result<String, String>,
}

impl Previous {
    pub fn print(&self) {
        match &self.trust {
            Ok(signers) => eprintln!("previous release: {} (signed by {signers})", self.described),
            Err(why) => {
                eprintln!("warning: previous release: {} is UNVERIFIED ({why}); the version rules ran against it anyway", self.described)
            }
        }
    }
}

/// Version discipline against the previous release: `--previous`, else the highest semver tag
/// below this version among `candidates` (the push repository, the output layout; none without a
/// release version, though `--previous` is used even then: the per-prompt and per-API rules need no
/// release version). Its signatures are checked with `--previous-key` (or `signing_key`, the key
/// `build --sign` signs with) before it is trusted; an unverified baseline is still used, said, and
/// refused with `--require-signed-previous`. Fills `release.previous`; returns the findings and
/// what was found.
pub(crate) fn discipline(
    c: &mut crate::collect::Collected,
    input: &crate::cli::Input,
    candidates: &[crate::store::StoreRef],
    signing_key: Option<&str>,
    t: &Transport,
) -> Result<(Vec<crate::discipline::Finding>, Option<Previous>)> {
    let Some(r) = find_previous(c.version.as_ref(), input.previous.as_deref(), candidates, t)? else { return Ok((Vec::new(), None)) };
    let st = crate::store::open(&r, t)?;
    let desc = crate::store::resolve(st.store(), &r)?;
    let r = r.pinned(&desc.digest);
    let trust = previous_trust(&st, &r, &desc.digest, &c.release.name, input, signing_key)?;
    if let (Err(why), true) = (&trust, input.require_signed_previous) {
        return Err(crate::error::finding(format!(
            "the previous release {r} is not verified ({why}); --require-signed-previous refuses an unsigned baseline"
        )));
    }
    let prev = crate::diff::load(&st, &r, None)?;
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = std::collections::BTreeMap::new();
    for (p, b) in c.prompts.iter().chain(&c.contracts) {
        files.insert(p.clone(), b.to_vec());
    }
    let findings = crate::discipline::check(&prev, &c.release, &files, input.strict)?;
    c.release.previous = Some(crate::release::PreviousRecord { version: prev.side.version.clone(), digest: prev.side.digest.clone() });
    Ok((findings, Some(Previous { described: format!("{} ({} {})", r.base(), prev.side.version, prev.side.digest), trust })))
}

/// The previous release: `--previous`, else (with a release version) the highest semver tag below
/// `version` in the first candidate store that has one.
fn find_previous(
    version: Option<&semver::Version>,
    previous: Option<&str>,
    candidates: &[crate::store::StoreRef],
    t: &Transport,
) -> Result<Option<crate::store::StoreRef>> {
    match (previous, version) {
        (Some(p), _) => Ok(Some(crate::store::StoreRef::parse(p)?)),
        (None, Some(cur)) => highest_release(Some(cur), candidates, t),
        (None, None) => Ok(None),
    }
}

/// The highest semver tag (below `below`, if given) in the first candidate store that has one.
pub(crate) fn highest_release(
    below: Option<&semver::Version>,
    candidates: &[crate::store::StoreRef],
    t: &Transport,
) -> Result<Option<crate::store::StoreRef>> {
    use crate::store::StoreRef;
    for cand in candidates {
        let Ok(st) = crate::store::open(cand, t) else { continue };
        // A repository or layout that does not exist yet has no previous release.
        let Ok(tags) = st.store().tag_names() else { continue };
        let best = tags
            .into_iter()
            .filter_map(|tag| semver::Version::parse(tag.trim_start_matches('v')).ok().map(|v| (v, tag)))
            .filter(|(v, _)| below.is_none_or(|cur| v < cur))
            .max();
        if let Some((_, tag)) = best {
            let with_tag = match StoreRef::parse(&cand.base())? {
                StoreRef::Layout { dir, archive, .. } => StoreRef::Layout { dir, tag: Some(tag), digest: None, archive },
                StoreRef::Registry { registry, repository, .. } => {
                    StoreRef::Registry { registry, repository, tag: Some(tag), digest: None }
                }
            };
            return Ok(Some(with_tag));
        }
    }
    Ok(None)
}

/// Whether the previous release is signed by a trusted signer (`--previous-key`, a
/// `--previous-certificate-identity[-regexp]`, else the key `build --sign` signs with): Ok(signers)
/// or Err(why not). Its expected identity comes from the caller: the registry repository, or for a
/// layout the release name in our own bundle.yaml (what `build --sign` signs a layout as).
fn previous_trust(
    st: &crate::store::Opened,
    r: &crate::store::StoreRef,
    digest: &str,
    name: &str,
    input: &crate::cli::Input,
    signing_key: Option<&str>,
) -> Result<std::result::Result<String, String>> {
    let signers = input.previous_signers.signers();
    let identities = match r {
        crate::store::StoreRef::Layout { .. } => vec![name.to_string()],
        other => crate::trust::policy::identities(other, &[])?,
    };
    let mut policy = crate::trust::Policy::of_signers(&signers, identities)?;
    if !signers.given()
        && let Some(pem) = signing_key
    {
        policy.keys.add(crate::trust::TrustedKey::from_pem(pem, "the signing key")?);
    }
    if policy.keys.is_empty() && policy.keyless.is_empty() {
        return Ok(Err("no --previous-key or --previous-certificate-identity[-regexp] given to check its signatures".into()));
    }
    let o = crate::trust::verifier::check(st.store(), digest, &policy)?;
    if o.passes(&policy) {
        Ok(Ok(o.signers.iter().map(|s| s.short()).collect::<Vec<_>>().join(", ")))
    } else {
        Ok(Err(format!("no valid signature by the given signer(s): {}", o.failures.join("; "))))
    }
}

/// Where a release of `name` goes without `--output`: `oci:out/NAME` below the monorepo folder
/// `dir` (not the current directory), so the same commit finds the same previous release from
/// wherever it is built.
pub(crate) fn default_output(dir: &std::path::Path, name: &str) -> Result<crate::store::StoreRef> {
    crate::store::StoreRef::parse(&format!("oci:{}", dir.join("out").join(name).display()))
}

/// `--verify-images POLICY`: every component image must carry signatures (legacy or bundle format)
/// by the policy's image signers in its own registry, under its own repository as identity; who
/// signed is recorded in the release. A missing signature is a finding (exit 1), named.
pub(crate) fn verify_images(c: &mut crate::collect::Collected, input: &crate::cli::Input, t: &Transport) -> Result<()> {
    let Some(file) = &input.verify_images else { return Ok(()) };
    let rule = crate::trust::policy_file::load_images(file)?;
    let mut failures = Vec::new();
    // One policy (keys read once, the trusted root at most once); only the identity differs per image.
    let mut policy = crate::trust::Policy::of_keys(crate::trust::KeySet::load(&rule.keys)?, Vec::new());
    policy.min_signers = rule.threshold;
    policy.keyless = rule.identities.clone();
    for comp in &mut c.release.components {
        let img = &comp.image;
        let repo = format!("{}/{}", img.registry, img.repository);
        let r = crate::store::StoreRef::parse(&format!("{repo}@{}", img.digest))?;
        policy.identities = vec![repo.clone()];
        let st = crate::store::open(&r, t)?;
        let o = crate::trust::verifier::check(st.store(), &img.digest, &policy)?;
        if o.passes(&policy) {
            comp.image.signed_by = o.signers.iter().map(|s| s.short()).collect();
        } else {
            failures.push(format!(
                "component {}: image {repo}@{} has {} of the {} signer(s) the policy requires ({})",
                comp.name,
                img.digest,
                o.signers.len(),
                rule.threshold,
                o.failures.join("; ")
            ));
        }
    }
    if !failures.is_empty() {
        return Err(crate::error::finding(format!(
            "{} component image(s) are not signed as {} requires; nothing was written:\n  {}",
            failures.len(),
            file.display(),
            failures.join("\n  ")
        )));
    }
    Ok(())
}

/// Say which previous release the version rules ran against, or where none was found.
pub(crate) fn print_previous(p: Option<&Previous>, candidates: &[crate::store::StoreRef]) {
    match p {
        Some(p) => p.print(),
        None => eprintln!(
            "previous release: none found in {}; the version rules had nothing to compare with",
            candidates.iter().map(|c| c.base()).collect::<Vec<_>>().join(", ")
        ),
    }
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
