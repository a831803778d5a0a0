//! `bundle verify`: everything a deploy pipeline must know before `helm upgrade`, about one digest.
//!
//! 1. The reference is resolved to a digest once; every later read names that digest.
//! 2. signatures: at least N of the given keys each have a valid signature whose payload names
//!    exactly this digest and this repository (or `--identity`).
//! 3. integrity: manifest, record and every layer match their digests and sizes; the record is
//!    valid (spec/release-record.schema.json) and every image is pinned by digest.
//! 4. record: the release's own checks hold again (API requirements, prompt and contract bytes).
//! 5. images (`--check-images`): every component image digest exists in its registry.
//! 6. values (`--values`): the Helm values pin exactly this release's digests.
//!
//! Nothing fails open: a content problem is a failed check (exit 1); a store or network error is
//! an error (exit 2), never "unsigned" and never "ok". The JSON report is spec/verify-report.schema.json.

use crate::error::Finding;
use crate::oci::ImageManifest;
use crate::release::Release;
use crate::signing::{self, PublicKey};
use crate::spec::*;
use crate::store::{self, Opened, StoreRef};
use anyhow::Result;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub struct Options {
    pub keys: Vec<PublicKey>,
    pub min_signers: usize,
    pub identity: Option<String>,
    pub check_images: bool,
    pub values: Option<PathBuf>,
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
pub struct SignerReport {
    pub key: String,
    pub identity: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub reference: String,
    pub digest: String,
    pub verified: bool,
    pub signers: Vec<SignerReport>,
    pub checks: Vec<Check>,
}

fn check(name: &'static str, summary: String, failures: Vec<String>) -> Check {
    Check { name, status: if failures.is_empty() { "pass" } else { "fail" }, summary, failures }
}

fn skipped(name: &'static str, why: &str) -> Check {
    Check { name, status: "skipped", summary: why.to_string(), failures: Vec::new() }
}

/// Run `f`; a Finding (content problem) becomes a failure message, anything else stays an error.
fn content<T>(r: Result<T>, failures: &mut Vec<String>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.chain().any(|c| c.is::<Finding>()) => {
            failures.push(format!("{e:#}"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The identity a signature must name when none is given: the repository (registry), or the
/// release name (layout).
pub fn default_identity(r: &StoreRef, record: Option<&Release>) -> String {
    match r {
        StoreRef::Registry { registry, repository, .. } => format!("{registry}/{repository}"),
        StoreRef::Layout { .. } => record.map(|r| r.name.clone()).unwrap_or_else(|| "<unreadable record>".into()),
    }
}

pub fn verify(st: &Opened, r: &StoreRef, o: &Options) -> Result<Report> {
    let s = st.store();
    // 1. Resolve once.
    let desc = store::resolve(s, r)?;
    let digest = desc.digest.clone();

    // 3. Integrity (read first: the record names the release, which layouts sign as their identity).
    let mut integ = Vec::new();
    let mut record: Option<Release> = None;
    let mut layers: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    // Size claims over the limits are failures here, found before any byte is fetched.
    let claim = |d: &crate::oci::Descriptor, integ: &mut Vec<String>| match crate::oci::check_claim(&s.describe(), d) {
        Ok(()) => true,
        Err(e) => {
            integ.push(format!("{e:#}"));
            false
        }
    };
    let mb = if claim(&desc, &mut integ) { content(s.blob(&desc), &mut integ)? } else { None };
    if let Some(mb) = mb {
        match ImageManifest::from_bytes(&mb, "manifest") {
            Err(e) => integ.push(format!("{e:#}")),
            Ok(m) => {
                let problems = crate::artifact::problems(&m);
                integ.extend(problems.iter().map(|p| format!("manifest: {p}")));
                // The record (unless over its limit) and, when the manifest is a well-formed
                // release, its four layers, in one round of concurrent requests. A malformed
                // manifest's layers are not fetched: it has failed already, and they could be
                // up to 1,024 blobs of 512 MiB.
                let want_record = m.config.size <= crate::artifact::MAX_RECORD;
                let want_layers: Vec<&crate::oci::Descriptor> = if problems.is_empty() { m.layers.iter().collect() } else { Vec::new() };
                let fetch: Vec<&crate::oci::Descriptor> =
                    want_record.then_some(&m.config).into_iter().chain(want_layers.iter().copied()).collect();
                let mut got = s.blobs(&fetch).into_iter();
                let cb = if want_record { content(got.next().expect("a result per blob"), &mut integ)? } else { None };
                if let Some(cb) = cb {
                    match Release::from_bytes(&cb) {
                        Ok(rec) => {
                            integ.extend(validate_record(&rec));
                            record = Some(rec);
                        }
                        Err(e) => integ.push(format!("{e:#}")),
                    }
                }
                for (l, r) in want_layers.iter().zip(got) {
                    if let Some(b) = content(r, &mut integ)? {
                        layers.insert(l.annotation(ANN_TITLE).unwrap_or("").to_string(), b);
                    }
                }
            }
        }
    }
    let summary = if integ.is_empty() {
        format!("manifest {digest}, the release record and {} layer(s) match their digests and sizes", layers.len())
    } else {
        format!("manifest {digest}: {} problem(s)", integ.len())
    };
    let integrity = check("integrity", summary, integ);

    // 2. Signatures.
    let identity = o.identity.clone().unwrap_or_else(|| default_identity(r, record.as_ref()));
    let Signatures { signers, satisfied, failures: sig_fail, .. } = check_signatures(s, &digest, &identity, &o.keys)?;
    let need = o.min_signers.max(1);
    let mut sig_failures = Vec::new();
    if satisfied.len() < need {
        sig_failures.push(format!("{} of the given key(s) signed this digest; {need} required", satisfied.len()));
        sig_failures.extend(sig_fail);
        for (n, k) in o.keys.iter().enumerate() {
            if !satisfied.contains(&n) {
                sig_failures.push(format!("no valid signature by {}", k.name));
            }
        }
    }
    let signatures = check(
        "signatures",
        format!("{} of {} key(s) signed {digest} as {identity} ({} required)", satisfied.len(), o.keys.len(), need),
        sig_failures,
    );

    // 4. The release's own checks.
    let record_check = match &record {
        None => check("record", "release record unreadable".into(), vec!["the release record could not be read (see integrity)".into()]),
        Some(rec) => {
            let f = record_checks(rec, &layers);
            let n = |f: fn(&crate::release::ComponentRecord) -> usize| rec.components.iter().map(f).sum::<usize>();
            let breaking = rec.allow_breaking.as_ref().map(|r| format!("; built with --allow-breaking {r:?}")).unwrap_or_default();
            check(
                "record",
                format!(
                    "{} components; {} API requirement(s) met; {} prompt(s) and {} contract(s) match their recorded sha256{breaking}",
                    rec.components.len(),
                    n(|c| c.consumes.len()),
                    n(|c| c.prompts.len()),
                    n(|c| c.provides.len())
                ),
                f,
            )
        }
    };

    // 5. Images.
    let images = if !o.check_images {
        skipped("images", "not checked (pass --check-images)")
    } else {
        let mut f = Vec::new();
        let resolver = crate::images::Resolver::new(&o.transport);
        for c in record.iter().flat_map(|r| &r.components) {
            let img: crate::images::ImageRef = match format!("{}/{}@{}", c.image.registry, c.image.repository, c.image.digest).parse() {
                Ok(i) => i,
                Err(e) => {
                    f.push(format!("component {}: {e:#}", c.name));
                    continue;
                }
            };
            content(resolver.resolve(&img).map(|_| ()), &mut f)?;
        }
        check("images", "every component image digest exists in its registry".into(), f)
    };

    // 6. Helm values.
    let values = match &o.values {
        None => skipped("values", "not checked (pass --values FILE)"),
        Some(p) => {
            let f = match &record {
                Some(rec) => crate::helm::check_values(p, rec, &digest)?,
                None => vec!["the release record could not be read (see integrity)".into()],
            };
            check("values", format!("{} pins exactly this release's digests", p.display()), f)
        }
    };

    let checks = vec![signatures, integrity, record_check, images, values];
    let verified = checks.iter().all(|c| c.status != "fail");
    Ok(Report { reference: r.to_string(), digest, verified, signers, checks })
}

/// What the signatures stored for a digest say, for the given keys.
pub struct Signatures {
    /// The keys (by name) with a valid signature for this digest and identity.
    pub signers: Vec<SignerReport>,
    /// Indexes into `keys` of those keys.
    pub satisfied: BTreeSet<usize>,
    /// Why signature layers were not accepted (and "no signatures" when there are none).
    pub failures: Vec<String>,
    /// How many signature layers are stored.
    pub stored: usize,
}

/// Check the stored signatures of `digest` against `keys` and the expected identity. Content
/// problems are failures; store errors are errors.
pub fn check_signatures(s: &dyn crate::store::Store, digest: &str, identity: &str, keys: &[PublicKey]) -> Result<Signatures> {
    let mut sig_fail = Vec::new();
    let mut signers: Vec<SignerReport> = Vec::new();
    let mut satisfied: BTreeSet<usize> = BTreeSet::new();
    let mut stored = 0;
    match content(signing::read_signatures(s, digest), &mut sig_fail)? {
        None => {}
        Some(None) => sig_fail.push(format!("no signatures: {} has no tag {}", s.describe(), signing::sig_tag(digest))),
        Some(Some((_, sigs))) => {
            stored = sigs.len();
            for (i, l) in sigs.iter().enumerate() {
                let why = |m: String| format!("signature {i}: {m}");
                if l.desc.media_type != signing::SIMPLESIGNING_MEDIA_TYPE {
                    sig_fail.push(why(format!("layer type {} is not {}", l.desc.media_type, signing::SIMPLESIGNING_MEDIA_TYPE)));
                    continue;
                }
                let claims = match signing::parse_payload(&l.payload) {
                    Ok(c) => c,
                    Err(e) => {
                        sig_fail.push(why(format!("{e:#}")));
                        continue;
                    }
                };
                let Some(sig) = &l.signature else {
                    sig_fail.push(why(format!("no {} annotation", signing::SIGNATURE_ANNOTATION)));
                    continue;
                };
                let matching: Vec<usize> = keys.iter().enumerate().filter(|(_, k)| k.verifies(&l.payload, sig)).map(|(n, _)| n).collect();
                if matching.is_empty() {
                    sig_fail.push(why("made by none of the given keys, or corrupted".into()));
                    continue;
                }
                if claims.kind != signing::PAYLOAD_TYPE {
                    sig_fail.push(why(format!("payload type `{}` is not `{}`", claims.kind, signing::PAYLOAD_TYPE)));
                    continue;
                }
                if claims.digest != digest {
                    sig_fail.push(why(format!("signs {}, not {digest}", claims.digest)));
                    continue;
                }
                if signing::repository_of(&claims.docker_reference) != signing::repository_of(identity) {
                    sig_fail.push(why(format!(
                        "identity `{}` is not `{}` (pass --identity REPO to accept a mirror)",
                        claims.docker_reference, identity
                    )));
                    continue;
                }
                for k in matching {
                    if satisfied.insert(k) {
                        signers.push(SignerReport { key: keys[k].name.clone(), identity: claims.docker_reference.clone() });
                    }
                }
            }
        }
    }
    Ok(Signatures { signers, satisfied, failures: sig_fail, stored })
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
fn record_checks(r: &Release, layers: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
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
            if !ids.insert(&p.id) {
                f.push(format!("prompt id {} appears twice", p.id));
            }
        }
    }
    // Prompt and contract files in the layers must be the bytes the record names.
    let limits = crate::extract::Limits::default();
    for (title, kind) in [(TITLE_PROMPTS, "prompt"), (TITLE_CONTRACTS, "contract")] {
        let Some(b) = layers.get(title) else {
            f.push(format!("the {kind} files were not checked: layer `{title}` was not read (see integrity)"));
            continue;
        };
        let files: BTreeMap<String, Vec<u8>> = match crate::extract::entries(b, title, &limits) {
            Ok(e) => e.into_iter().collect(),
            Err(e) => {
                f.push(format!("{e:#}"));
                continue;
            }
        };
        for c in &r.components {
            let named: Vec<(&str, &str)> = if kind == "prompt" {
                c.prompts.iter().map(|p| (p.path.as_str(), p.sha256.as_str())).collect()
            } else {
                c.provides.iter().map(|p| (p.contract.as_str(), p.sha256.as_str())).collect()
            };
            for (path, sha) in named {
                match files.get(path) {
                    None => f.push(format!("{kind} {path} is missing from {title}")),
                    Some(bytes) if crate::hashing::sha256_digest(bytes) != sha => {
                        f.push(format!("{kind} {path} does not match its recorded sha256"))
                    }
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
        for f in &c.failures {
            let _ = writeln!(s, "        - {f}");
        }
    }
    s.push_str(if r.verified { "verified\n" } else { "NOT VERIFIED\n" });
    s
}
