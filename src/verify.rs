//! `bundle verify`: everything a deploy pipeline must know before `helm upgrade`, about one digest.
//!
//! 1. The reference is resolved to a digest once; every later read names that digest.
//! 2. signatures: at least N distinct trusted keys each have a valid signature whose payload names
//!    exactly this digest and an expected identity ([`crate::trust`]). Checked against the digest
//!    alone, first: nothing else of a release whose signatures fail is read.
//! 3. integrity: manifest, record and every layer match their digests and sizes (layers are
//!    streamed: memory does not grow with them); the record is valid
//!    (spec/release-record.schema.json) and every image is pinned by digest.
//! 4. record: the release's own checks hold again (API requirements, prompt and contract bytes).
//! 5. images (`--check-images`): every component image digest exists in its registry.
//! 6. values (`--values`): the Helm values pin exactly this release's digests.
//!
//! Nothing fails open: a content problem is a failed check (exit 1); a store or network error is
//! an error (exit 2), never "unsigned" and never "ok". The JSON report is spec/verify-report.schema.json.

use crate::error::content;
use crate::oci::{Descriptor, ImageManifest};
use crate::release::Release;
use crate::spec::*;
use crate::store::{self, Opened, StoreRef};
use crate::trust::{Policy, keys::Duplicate};
use anyhow::Result;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;

pub struct Options {
    pub policy: Policy,
    pub check_images: bool,
    pub values: Option<PathBuf>,
    /// The values map the values were written with (`values --map`).
    pub values_map: Option<PathBuf>,
    /// One environment of a release policy (`--policy FILE --env ENV`): its rules run last.
    pub rules: Option<crate::trust::policy_file::Loaded>,
    pub transport: store::registry::Transport,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    /// `pass`, `fail` or `skipped`.
    pub status: &'static str,
    pub summary: String,
    pub failures: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub reference: String,
    pub digest: String,
    pub verified: bool,
    pub signers: Vec<crate::trust::Signer>,
    /// Given key files that hold a key given before (they count once).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicate_keys: Vec<Duplicate>,
    pub checks: Vec<Check>,
    /// With --policy: the file, the environment, and every rule's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyReport>,
}

#[derive(Debug, Serialize)]
pub struct PolicyReport {
    pub file: String,
    pub environment: String,
    pub rules: Vec<crate::trust::policy_file::RuleOutcome>,
}

fn check(name: &'static str, summary: String, failures: Vec<String>) -> Check {
    Check { name, status: if failures.is_empty() { "pass" } else { "fail" }, summary, failures }
}

fn skipped(name: &'static str, why: &str) -> Check {
    Check { name, status: "skipped", summary: why.to_string(), failures: Vec::new() }
}

pub fn verify(st: &Opened, r: &StoreRef, o: &Options) -> Result<Report> {
    let s = st.store();
    // 1. Resolve once.
    let desc = store::resolve(s, r)?;
    let digest = desc.digest.clone();
    // 2. Signatures, against the digest alone.
    let outcome = crate::trust::verifier::check(s, &digest, &o.policy)?;
    let passed = outcome.passes(&o.policy);
    let signers = outcome.signers.clone();
    let duplicate_keys = o.policy.keys.duplicates.clone();
    let signatures = signatures_check(outcome, &o.policy, &digest);
    if !passed {
        let why = "not read: signatures failed";
        let mut checks =
            vec![signatures, skipped("integrity", why), skipped("record", why), skipped("images", why), skipped("values", why)];
        let policy = o.rules.as_ref().map(|l| {
            checks.push(skipped("policy", why));
            PolicyReport { file: l.file.display().to_string(), environment: l.environment.clone(), rules: Vec::new() }
        });
        return Ok(Report { reference: r.to_string(), digest, verified: false, signers, duplicate_keys, checks, policy });
    }
    // 3, 4. What the release holds.
    let (integrity, record_check, record) = check_content(s, &desc)?;
    // 5, 6.
    let images = images_check(s, r, &digest, record.as_ref(), o)?;
    let values = values_check(record.as_ref(), &digest, r, o)?;
    let mut checks = vec![signatures, integrity, record_check, images, values];
    let policy = match o.rules.as_ref() {
        None => None,
        Some(l) => {
            let (check, report) = policy_check(l, record.as_ref(), &digest, r, &signers, s, &o.policy)?;
            checks.push(check);
            Some(report)
        }
    };
    let verified = checks.iter().all(|c| c.status != "fail");
    Ok(Report { reference: r.to_string(), digest, verified, signers, duplicate_keys, checks, policy })
}

/// The policy's attestation requirements and rules, in CEL, over the record, the digest, the
/// reference, the signers and the attestations stored for the digest (trust/gate.rs).
fn policy_check(
    l: &crate::trust::policy_file::Loaded,
    record: Option<&Release>,
    digest: &str,
    r: &StoreRef,
    signers: &[crate::trust::Signer],
    s: &dyn store::Store,
    p: &Policy,
) -> Result<(Check, PolicyReport)> {
    let mut report = PolicyReport { file: l.file.display().to_string(), environment: l.environment.clone(), rules: Vec::new() };
    let Some(rec) = record else {
        let c = check("policy", "the rules were not run".into(), vec!["the release record could not be read (see integrity)".into()]);
        return Ok((c, report));
    };
    let vars = serde_json::json!({
        "record": serde_json::to_value(rec).unwrap_or_default(),
        "digest": digest,
        "reference": r.to_string(),
        "signers": serde_json::to_value(signers).unwrap_or_default(),
    });
    // The requirements and functions read the same attestations: each once.
    let memo = crate::store::memo::Memo::new(s);
    let input = crate::trust::gate::Input {
        store: &memo,
        digest,
        identities: p.identities.clone(),
        trusted_root: p.trusted_root.clone(),
        vars,
        now: crate::trust::gate::now()?,
    };
    report.rules = crate::trust::gate::evaluate(l, &input)?;
    let failures: Vec<String> = report
        .rules
        .iter()
        .filter(|o| !o.passed)
        .map(|o| format!("rule `{}` ({}): {}", o.name, o.condition, o.why.clone().unwrap_or_default()))
        .collect();
    let summary = if failures.is_empty() {
        format!("{} rule(s) of {} for {} hold", report.rules.len(), l.file.display(), l.environment)
    } else {
        format!("{} of {} rule(s) of {} for {} failed", failures.len(), report.rules.len(), l.file.display(), l.environment)
    };
    Ok((check("policy", summary, failures), report))
}

fn signatures_check(o: crate::trust::Outcome, p: &Policy, digest: &str) -> Check {
    let need = p.min_signers;
    let given = p.keys.keys.len() + p.keyless.len();
    // Name what was given: keys, keyless identities, or both.
    let what = match (p.keys.keys.is_empty(), p.keyless.is_empty()) {
        (false, true) => "distinct key(s)",
        (true, false) => "keyless identit(y/ies)",
        _ => "distinct signer(s) (keys and keyless identities)",
    };
    let mut failures = Vec::new();
    if !o.passes(p) {
        let trusted = what.replacen("distinct ", "distinct trusted ", 1).replacen("keyless", "trusted keyless", 1);
        failures.push(format!("{} {trusted} signed this digest; {need} required", o.signers.len()));
        failures.extend(o.failures);
        for k in &p.keys.keys {
            if !o.signers.iter().any(|s| s.fingerprint == k.fingerprint) {
                failures.push(format!("no valid signature by {}", k.label()));
            }
        }
        for (i, id) in p.keyless.iter().enumerate() {
            if !o.signers.iter().any(|s| s.fingerprint == format!("keyless:{i}")) {
                failures.push(format!("no valid signature by {}", id.label()));
            }
        }
    }
    let dup = p.keys.duplicate_note().map(|n| format!("; {n}")).unwrap_or_default();
    let summary = if failures.is_empty() {
        format!("{} of {given} {what} signed {digest} as {} ({need} required){dup}", o.signers.len(), p.identity_list())
    } else {
        format!("fewer than {need} of {given} {what} signed {digest} as {}{dup}", p.identity_list())
    };
    check("signatures", summary, failures)
}

/// The integrity and record checks of a release (no signatures): `verify` runs them after the
/// signatures pass, `sign` before it signs. Returns the two checks and the record when readable.
pub fn check_content(s: &dyn store::Store, desc: &Descriptor) -> Result<(Check, Check, Option<Release>)> {
    let digest = &desc.digest;
    let mut integ = Vec::new();
    let got = read_content(s, desc, &mut integ)?;
    let summary = if integ.is_empty() {
        format!("manifest {digest}, the release record and {} layer(s) match their digests and sizes", got.layers_read)
    } else {
        format!("manifest {digest}: {} problem(s) with the manifest, record or layers", integ.len())
    };
    let integrity = check("integrity", summary, integ);
    let record_check = match &got.record {
        None => check(
            "record",
            "the release's own checks were not run".into(),
            vec!["the release record could not be read (see integrity)".into()],
        ),
        Some(rec) => {
            let f = record_checks(rec, &got.files);
            let n = |f: fn(&crate::release::ComponentRecord) -> usize| rec.components.iter().map(f).sum::<usize>();
            let breaking = rec.allow_breaking.as_ref().map(|r| format!("; built with --allow-breaking {r:?}")).unwrap_or_default();
            let summary = if f.is_empty() {
                format!(
                    "{} components; {} API requirement(s) met; {} prompt(s) and {} contract(s) match their recorded sha256{breaking}",
                    rec.components.len(),
                    n(|c| c.consumes.len()),
                    n(|c| c.prompts.len()),
                    n(|c| c.provides.len())
                )
            } else {
                format!("{} of the release's own checks failed{breaking}", f.len())
            };
            check("record", summary, f)
        }
    };
    Ok((integrity, record_check, got.record))
}

/// What was read of a release: the record, and the sha256 of each file in the prompt and
/// contract layers (by layer title, then path).
struct Content {
    record: Option<Release>,
    files: BTreeMap<String, BTreeMap<String, String>>,
    layers_read: usize,
}

fn read_content(s: &dyn store::Store, desc: &Descriptor, integ: &mut Vec<String>) -> Result<Content> {
    let mut got = Content { record: None, files: BTreeMap::new(), layers_read: 0 };
    // Size claims over the limits are failures here, found before any byte is fetched.
    if let Err(e) = crate::oci::check_claim(&s.describe(), desc) {
        integ.push(format!("{e:#}"));
        return Ok(got);
    }
    let Some(mb) = content(s.blob(desc), integ)? else { return Ok(got) };
    let m = match ImageManifest::from_bytes(&mb, "manifest") {
        Ok(m) => m,
        Err(e) => {
            integ.push(format!("{e:#}"));
            return Ok(got);
        }
    };
    let problems = crate::artifact::problems(&m);
    integ.extend(problems.iter().map(|p| format!("manifest: {p}")));
    // A malformed manifest's layers are not fetched: it has failed already, and they could be up
    // to 1,024 blobs of 512 MiB. A release's record and four layers are fetched concurrently, and
    // the layers streamed.
    let config_ok = m.config.size <= crate::artifact::MAX_RECORD;
    let mut wanted: Vec<&Descriptor> = if config_ok { vec![&m.config] } else { Vec::new() };
    if problems.is_empty() {
        wanted.extend(m.layers.iter());
    }
    let mut readers = s.blob_readers(&wanted).into_iter();
    if config_ok {
        let config = readers.next().expect("one reader per blob").and_then(|mut r| {
            let mut b = Vec::with_capacity(m.config.size as usize);
            r.read_to_end(&mut b).map_err(crate::oci::io_error)?;
            Ok(b)
        });
        if let Some(cb) = content(config, integ)? {
            match Release::from_bytes(&cb) {
                Ok(rec) => {
                    integ.extend(validate_record(&rec));
                    got.record = Some(rec);
                }
                Err(e) => integ.push(format!("{e:#}")),
            }
        }
    }
    if !problems.is_empty() {
        return Ok(got);
    }
    for (l, reader) in m.layers.iter().zip(readers) {
        let Some(mut reader) = content(reader, integ)? else { continue };
        let title = l.annotation(ANN_TITLE).unwrap_or("").to_string();
        if let Some(hashes) = read_layer(&mut reader, &title, &s.describe(), integ)? {
            got.files.insert(title, hashes);
            got.layers_read += 1;
        }
    }
    Ok(got)
}

/// Stream one layer to its end (where its digest and size are checked); for the prompt and
/// contract layers, hash each file. None when the layer failed (the failure is in `integ`).
fn read_layer(
    reader: &mut dyn std::io::Read,
    title: &str,
    store: &str,
    integ: &mut Vec<String>,
) -> Result<Option<BTreeMap<String, String>>> {
    let mut hashes = BTreeMap::new();
    let parsed = if title == TITLE_PROMPTS || title == TITLE_CONTRACTS {
        let what = format!("{store} layer {title}");
        crate::extract::for_each(&mut *reader, &what, &crate::extract::Limits::default(), |name, _, r| {
            hashes.insert(name.to_string(), crate::hashing::sha256_reader(r)?);
            Ok(())
        })
    } else {
        Ok(())
    };
    // Read to the end even after a parse failure: the digest check is the first thing to report.
    let drained = std::io::copy(reader, &mut std::io::sink()).map_err(crate::oci::io_error);
    if content(drained, integ)?.is_none() {
        return Ok(None);
    }
    if let Err(e) = parsed {
        integ.push(format!("{e:#}"));
        return Ok(None);
    }
    Ok(Some(hashes))
}

/// Every component image exists: at the places of the release's verified relocation record for
/// this store (`bundle copy --with-images`), when there is one; else in its original registry.
fn images_check(s: &dyn store::Store, r: &StoreRef, digest: &str, record: Option<&Release>, o: &Options) -> Result<Check> {
    if !o.check_images {
        return Ok(skipped("images", "not checked (pass --check-images)"));
    }
    let mut f = Vec::new();
    let mut no_record = Vec::new();
    let relocation = content(crate::relocate::record_for(s, r, digest, Some(&o.policy)), &mut no_record)?;
    let resolver = crate::images::Resolver::new(&o.transport);
    for c in record.iter().flat_map(|r| &r.components) {
        let place = relocation.as_ref().and_then(|rel| rel.find(&c.image)).map(String::from);
        let at = place.clone().unwrap_or_else(|| format!("{}/{}@{}", c.image.registry, c.image.repository, c.image.digest));
        if at.starts_with("oci:") || at.starts_with("oci-archive:") {
            if s.resolve_digest(&c.image.digest).is_err() {
                f.push(format!("component {}: image {} is not in {}", c.name, c.image.digest, s.describe()));
            }
            continue;
        }
        let img: crate::images::ImageRef = match at.parse() {
            Ok(i) => i,
            Err(e) => {
                f.push(format!("component {}: {e:#}", c.name));
                continue;
            }
        };
        if img.digest.as_deref() != Some(c.image.digest.as_str()) {
            f.push(format!("component {}: the relocation record maps its image to another digest ({at})", c.name));
            continue;
        }
        content(resolver.resolve(&img).map(|_| ()), &mut f)?;
    }
    let summary = match (f.is_empty(), relocation.is_some()) {
        (true, true) => "every component image digest exists at its relocated place (verified relocation record)",
        (true, false) => "every component image digest exists in its registry",
        (false, true) => "component images are missing or unreadable at their relocated places",
        (false, false) => "component images are missing or unreadable",
    };
    Ok(check("images", summary.into(), f))
}

fn values_check(record: Option<&Release>, digest: &str, r: &StoreRef, o: &Options) -> Result<Check> {
    let Some(p) = &o.values else { return Ok(skipped("values", "not checked (pass --values FILE)")) };
    let f = match record {
        Some(rec) => crate::helm::check_values(p, rec, digest, &r.pinned(digest).to_string(), o.values_map.as_deref())?,
        None => vec!["the release record could not be read (see integrity)".into()],
    };
    let summary = if f.is_empty() {
        format!("{} pins exactly this release's digests", p.display())
    } else {
        format!("{} does not pin this release's digests", p.display())
    };
    Ok(check("values", summary, f))
}

/// What the schema and the format require of a record beyond its shape.
pub fn validate_record(r: &Release) -> Vec<String> {
    let mut f = Vec::new();
    if semver::Version::parse(&r.version).is_err() {
        f.push(format!("release record: version `{}` is not semver", r.version));
    }
    for c in &r.components {
        if !crate::images::is_sha256_digest(&c.image.digest) {
            f.push(format!(
                "component {}: image {}/{} is not pinned by a sha256 digest (`{}`)",
                c.name, c.image.registry, c.image.repository, c.image.digest
            ));
        }
        for p in &c.prompts {
            if !crate::images::is_sha256_digest(&p.sha256) {
                f.push(format!("component {}: prompt {} has no sha256", c.name, p.id));
            }
        }
        for m in &c.models {
            let hex = m.md5.trim_end_matches(".dir");
            if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                f.push(format!("component {}: model {} has a malformed md5", c.name, m.name));
            }
        }
    }
    f
}

/// The release's own checks, re-run from the record and the layers.
fn record_checks(r: &Release, layers: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<String> {
    let mut f = Vec::new();
    let mut provided: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for c in &r.components {
        for p in &c.provides {
            if provided.insert(&p.api, (&c.name, &p.version)).is_some() {
                f.push(format!("API {} is provided twice", p.api));
            }
        }
    }
    let mut ids = BTreeSet::new();
    for c in &r.components {
        for u in &c.consumes {
            match (provided.get(u.api.as_str()), semver::VersionReq::parse(&u.requirement), semver::Version::parse(&u.version)) {
                (Some((prov, ver)), Ok(req), Ok(v)) if *prov == u.provider && *ver == u.version && req.matches(&v) => {}
                _ => f.push(format!("component {} consumes {} {}, which the release does not satisfy", c.name, u.api, u.requirement)),
            }
        }
        for p in &c.prompts {
            // A/B variants share an id: a prompt is its id and variant (`ID@VARIANT`).
            if !ids.insert(p.key()) {
                f.push(format!("prompt {} appears twice", p.key()));
            }
        }
    }
    // Prompt and contract files in the layers must be the bytes the record names.
    for (title, kind) in [(TITLE_PROMPTS, "prompt"), (TITLE_CONTRACTS, "contract")] {
        let Some(files) = layers.get(title) else {
            f.push(format!("the {kind} files were not checked: layer `{title}` was not read (see integrity)"));
            continue;
        };
        let named_anywhere = crate::artifact::named_paths(r);
        for path in files.keys().filter(|p| !named_anywhere.contains(*p)) {
            f.push(format!("{title} holds `{}`, which the release record does not name", crate::yaml::shorten(path)));
        }
        for c in &r.components {
            let named: Vec<(&str, &str)> = if kind == "prompt" {
                c.prompts.iter().map(|p| (p.path.as_str(), p.sha256.as_str())).collect()
            } else {
                c.provides.iter().map(|p| (p.contract.as_str(), p.sha256.as_str())).collect()
            };
            for (path, sha) in named {
                match files.get(path) {
                    None => f.push(format!("{kind} {path} is missing from {title}")),
                    Some(got) if got != sha => f.push(format!("{kind} {path} does not match its recorded sha256")),
                    Some(_) => {}
                }
            }
        }
    }
    f
}

/// The text report.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = format!("verify {}\n  digest  {}\n", r.reference, r.digest);
    for c in &r.checks {
        let tag = match c.status {
            "pass" => "PASS",
            "fail" => "FAIL",
            _ => "SKIP",
        };
        let _ = writeln!(s, "  {tag}  {}: {}", c.name, c.summary);
        if c.name == "signatures" {
            for g in &r.signers {
                let _ = writeln!(s, "        + {}: {} signature, {}", g.label(), g.format, g.source);
            }
        }
        for f in &c.failures {
            let _ = writeln!(s, "        - {f}");
        }
    }
    s.push_str(if r.verified { "verified\n" } else { "NOT VERIFIED\n" });
    s
}
