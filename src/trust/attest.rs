//! Attestations: in-toto Statements v1 about a release's manifest digest with any predicate (SLSA
//! provenance, a verification summary, evaluation results, an SBOM), signed as DSSE by a key or
//! keylessly, stored next to the release, and found again with each one verified.
//!
//! * Statement: subject = the manifest digest named by its repository (the identity, as for
//!   signatures), `predicateType` and `predicate` as given; serialised with sorted keys, so the same
//!   inputs give the same bytes.
//! * Bundle format: a Sigstore bundle v0.3 stored as a referrer of the release, exactly as
//!   signatures are ([`crate::signing::store_bundle`]), with the annotation
//!   `dev.sigstore.bundle.predicateType` = the type (what `cosign attest --new-bundle-format` writes).
//! * Legacy format: cosign's `sha256-<hex>.att` tag, as `cosign attest --key` (cosign 2.x) writes
//!   it: one layer per attestation, media type [`DSSE_MEDIA_TYPE`], the DSSE envelope JSON as the
//!   blob, annotations `predicateType` and an empty `dev.cosignproject.cosign/signature`; layers
//!   are appended. Keys only: a keyless attestation is written in the bundle format (cosign's
//!   keyless `.att` layers carry a Rekor SET this module neither writes nor reads).
//! * `--tlog-upload` (a key, never by default; [`SignWith::Key`] with a signing config): the
//!   bundle's envelope is logged as a `dsse` 0.0.1 entry kept in the bundle
//!   ([`super::keyless::tlog_upload`]); the `.att` envelope as an `intoto` 0.0.2 entry, cosign 2
//!   `attest`'s kind, its SET in the layer's `dev.sigstore.cosign/bundle` annotation
//!   ([`super::keyless::tlog_upload_intoto`]). An existing attestation counts as "there already"
//!   only with its entry, when one is asked for.
//!
//! Verification is the signatures' own ([`super::bundle::check_signed`] for bundles,
//! [`super::bundle::check_envelope`] for `.att` envelopes): a trusted key or keyless identity, a
//! statement whose subject is the digest, a subject name the policy accepts. What a listing, a
//! manifest annotation or a layer annotation says about the predicate type is used only to skip
//! what was not asked for; what is reported is what the verified statement says. A statement
//! with the signature predicate (`https://sigstore.dev/cosign/sign/v1`) is a signature and never
//! listed as an attestation; the policy's `-a` annotations are a signature rule and not applied.
//!
//! API as in the brief (attest-api.md), plus: [`Attached`] = {bundle, legacy: per format
//! `Some(true)` stored / `Some(false)` there already / `None` not asked; keyless: the certificate's
//! SAN and issuer; statement_digest}; [`predicate_type_uri`] (cosign's short names), [`att_tag`],
//! [`MAX_ATTESTATION`]. `Attestation::signer` is the verifier's `Signer`, which gained
//! `signed_digest` (not serialised) and `Signer::of` (one constructor for signatures and
//! attestations). The predicates relbundle writes are built in [`crate::slsa`].
//!
//! Counting: [`Found::unique`] is the one rule for "the same statement by the same signer stored
//! twice counts once"; [`Found::narrowed`] takes, from what was found and verified once under
//! every signer a policy environment names, what one requirement's signers accept (trust/gate.rs).
//! [`find`] asks the `.att` tag and the referrers at once and fetches the bundles together, as
//! the signature verifier does: the same round-trip depth as a signature lookup.

use super::bundle::{self, SIGN_PREDICATE, Signed};
use super::legacy;
use super::legacy::SigLayer;
use super::{Policy, Signer, referrers};
use crate::error::content;
use crate::oci::Descriptor;
use crate::signing::{self, Format, SIGNATURE_ANNOTATION};
use crate::store::Store;
use anyhow::{Result, bail};
use serde::Serialize;
use sigstore_sign::trust_root::SigningConfig;
use std::collections::BTreeMap;

/// The layer media type of a DSSE envelope in cosign's `.att` manifest.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The `.att` layer annotation naming the predicate type (cosign's).
pub const ANN_PREDICATE_TYPE: &str = "predicateType";
/// Largest attestation we read (a DSSE envelope, or a bundle around one): provenance of a large
/// release or an SBOM is far bigger than a signature.
pub const MAX_ATTESTATION: u64 = 4 << 20;

/// cosign's short names for predicate types (`cosign attest --type`), and their URIs.
pub const SHORT_NAMES: &[(&str, &str)] = &[
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("link", "https://in-toto.io/Link/v1"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
];

/// A predicate type as users write it: one of cosign's short names, or a URI.
pub fn predicate_type_uri(t: &str) -> Result<String> {
    if let Some((_, uri)) = SHORT_NAMES.iter().find(|(n, _)| *n == t) {
        return Ok(uri.to_string());
    }
    if t.is_empty() || t.chars().any(char::is_whitespace) || !t.contains(':') {
        let names: Vec<&str> = SHORT_NAMES.iter().map(|(n, _)| *n).collect();
        bail!(
            "--type `{t}`: write a predicate type URI (e.g. https://slsa.dev/provenance/v1) or one of cosign's names: {}",
            names.join(", ")
        );
    }
    Ok(t.to_string())
}

/// cosign's tag for the attestations of a manifest digest: `sha256-<hex>.att`.
pub fn att_tag(digest: &str) -> String {
    format!("{}.att", digest.replace(':', "-"))
}

/// An in-toto Statement v1 for `digest` (subject name = the repository `identity`), any predicate.
pub fn statement(identity: &str, digest: &str, predicate_type: &str, predicate: &serde_json::Value) -> Vec<u8> {
    let v = serde_json::json!({
        "_type": bundle::STATEMENT_V1,
        "subject": [{"name": identity, "digest": {"sha256": digest.strip_prefix("sha256:").unwrap_or(digest)}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    serde_json::to_vec(&v).expect("a statement always serialises")
}

/// How an attestation is signed. A key with a signing config (`--tlog-upload`) also logs the
/// attestation in its Rekor v1 log: the bundle's envelope as a `dsse` 0.0.1 entry kept in the
/// bundle; the `.att` envelope as an `intoto` 0.0.2 entry in the layer's
/// `dev.sigstore.cosign/bundle` annotation, as cosign 2 `attest` does.
pub enum SignWith<'a> {
    Key(&'a signing::Signer, Option<&'a SigningConfig>),
    Keyless(&'a signing::Keyless),
}

/// What [`attach`] did, per format: `Some(true)` stored, `Some(false)` the same statement by the
/// same key was there already, `None` not asked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attached {
    pub bundle: Option<bool>,
    pub legacy: Option<bool>,
    /// A keyless attestation: the certificate's identity (SAN) and OIDC issuer.
    pub keyless: Option<(String, String)>,
    /// `sha256:` of the statement signed.
    pub statement_digest: String,
    /// The log index of each entry made (`--tlog-upload`): the bundle's, the `.att` layer's.
    pub bundle_log_index: Option<u64>,
    pub legacy_log_index: Option<u64>,
}

/// Sign a statement as DSSE and store it for `subject`: bundle format = a referrer manifest
/// (artifactType = the bundle media type, annotation dev.sigstore.bundle.predicateType = the type);
/// legacy format = cosign's `sha256-<hex>.att` tag (layers `application/vnd.dsse.envelope.v1+json`,
/// appended). Appends, never replaces; the identical statement by the same key is a no-op.
pub fn attach(
    st: &dyn Store,
    subject: &Descriptor,
    identity: &str,
    predicate_type: &str,
    predicate: &serde_json::Value,
    with: SignWith,
    format: Format,
) -> Result<Attached> {
    if predicate_type == SIGN_PREDICATE {
        bail!("{SIGN_PREDICATE} is the signature predicate: use `bundle sign` to sign a release");
    }
    let repository = signing::repository_of(identity);
    let payload = statement(repository, &subject.digest, predicate_type, predicate);
    let mut out = Attached { statement_digest: crate::hashing::sha256_digest(&payload), ..Default::default() };
    match with {
        SignWith::Keyless(k) => {
            if !format.bundle() {
                bail!("--keyless attests in the bundle format; --format legacy is for keys");
            }
            out.keyless = Some(attach_keyless(st, subject, &payload, predicate_type, k)?);
            out.bundle = Some(true);
        }
        SignWith::Key(signer, tlog) => {
            let mine = super::TrustedKey::from_pem(&signer.public_pem, "the signing key")?;
            let fingerprint = mine.fingerprint.clone();
            let mut keys = super::KeySet::default();
            keys.add(mine);
            let only_mine = Policy::of_keys(keys, vec![repository.to_string()]);
            let _lock = st.lock()?;
            let by = Mine { signer, fingerprint: &fingerprint, only_mine: &only_mine, tlog };
            // Both formats signed (and logged) before either is written: a refused upload writes nothing.
            let bundle = format.bundle().then(|| new_bundle(st, &subject.digest, &payload, &by)).transpose()?;
            let legacy = format.legacy().then(|| new_layer(st, &subject.digest, &payload, predicate_type, &by)).transpose()?;
            if let Some(b) = bundle {
                out.bundle = Some(b.is_some());
                if let Some((json, index)) = b {
                    signing::store_bundle(st, subject, &json, predicate_type)?;
                    out.bundle_log_index = index;
                }
            }
            if let Some(l) = legacy {
                out.legacy = Some(l.is_some());
                if let Some((layers, index)) = l {
                    signing::write_tagged(st, &att_tag(&subject.digest), &layers)?;
                    out.legacy_log_index = index;
                }
            }
        }
    }
    Ok(out)
}

/// Sign `payload` keylessly and store the bundle as a referrer; returns the certificate's SAN and
/// issuer. Every keyless signature is new (a new certificate and log entry): it always appends.
fn attach_keyless(
    st: &dyn Store,
    subject: &Descriptor,
    payload: &[u8],
    predicate_type: &str,
    k: &signing::Keyless,
) -> Result<(String, String)> {
    use super::keyless;
    let config = keyless::signing_config(k.config.as_deref())?;
    let services = keyless::services(&config)?;
    let token = keyless::identity_token(k.token.as_deref(), &|v| std::env::var(v).ok())?;
    let signed = keyless::sign_keyless(payload, bundle::INTOTO_PAYLOAD_TYPE, token, services)?;
    let _lock = st.lock()?;
    signing::store_bundle(st, subject, &signed.bundle, predicate_type)?;
    Ok((signed.identity, signed.issuer))
}

/// Whether a verified statement is `payload` (compared as JSON, whatever its byte layout).
fn same_statement(s: &Signed, payload: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(payload).is_ok_and(|v| v == s.statement)
}

/// A key attesting: the signer, its fingerprint, the policy trusting it alone (what is "there
/// already"), and the signing config of `--tlog-upload`.
struct Mine<'a> {
    signer: &'a signing::Signer,
    fingerprint: &'a str,
    only_mine: &'a Policy,
    tlog: Option<&'a SigningConfig>,
}

/// The bundle to store for the statement (signed, and logged when asked), with its log index;
/// None when this key's bundle of it is there (with a log entry, when one is asked for: the
/// entry's trusted root is the verifier's to name, so only its presence counts here).
fn new_bundle(st: &dyn Store, digest: &str, payload: &[u8], by: &Mine) -> Result<Option<(Vec<u8>, Option<u64>)>> {
    let found = referrers::find(st, digest)?;
    for r in found.referrers.iter().filter(|r| bundle::is_bundle(&r.manifest)) {
        if let [layer] = r.manifest.layers.as_slice()
            && layer.size <= MAX_ATTESTATION
            && let Ok(bytes) = st.blob(layer)
            && let Some((offline, logged)) = signing::without_tlog(&bytes)
            && (logged || by.tlog.is_none())
            && bundle::check_signed(&offline, digest, by.only_mine).is_ok_and(|s| same_statement(&s, payload))
        {
            // Listed where this store lists referrers? (A copy may have left it only in one place.)
            st.add_referrer(digest, &signing::referrer_descriptor(&r.manifest, &r.desc))?;
            return Ok(None);
        }
    }
    let signature = by.signer.sign_raw(&bundle::pae(payload))?;
    let mut json = bundle::bundle_json(payload, &signature, by.fingerprint)?;
    let mut index = None;
    if let Some(config) = by.tlog {
        json = super::keyless::tlog_upload(&json, &by.signer.public_pem, config)?;
        index = signing::log_index(&json);
    }
    Ok(Some((json, index)))
}

/// The `.att` layers with the statement's envelope appended (signed, and logged when asked), with
/// its log index; None when this key's envelope of it is there (with cosign's log-entry
/// annotation, when one is asked for).
fn new_layer(
    st: &dyn Store,
    digest: &str,
    payload: &[u8],
    predicate_type: &str,
    by: &Mine,
) -> Result<Option<(Vec<SigLayer>, Option<u64>)>> {
    use super::keyless::COSIGN_BUNDLE_ANNOTATION;
    let tag = att_tag(digest);
    let mut layers = legacy::read_tagged(st, &tag, MAX_ATTESTATION, &|_| true)?.map(|(_, l)| l).unwrap_or_default();
    if layers.iter().any(|l| {
        (by.tlog.is_none() || l.desc.annotation(COSIGN_BUNDLE_ANNOTATION).is_some())
            && bundle::check_envelope(&l.payload, digest, by.only_mine).is_ok_and(|s| same_statement(&s, payload))
    }) {
        return Ok(None);
    }
    let envelope = bundle::envelope_json(payload, &by.signer.sign_raw(&bundle::pae(payload))?);
    let mut desc = Descriptor::new(DSSE_MEDIA_TYPE, &envelope);
    let mut ann =
        BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), String::new()), (ANN_PREDICATE_TYPE.to_string(), predicate_type.to_string())]);
    let mut index = None;
    if let Some(config) = by.tlog {
        let (entry, i) = super::keyless::tlog_upload_intoto(&envelope, &by.signer.public_pem, config)?;
        ann.insert(COSIGN_BUNDLE_ANNOTATION.to_string(), entry);
        index = Some(i);
    }
    desc.annotations = Some(ann);
    layers.push(SigLayer { desc, payload: envelope, signature: Some(String::new()) });
    Ok(Some((layers, index)))
}

/// One verified attestation of a digest.
#[derive(Debug, Clone, Serialize)]
pub struct Attestation {
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
    /// Who signed it (key or keyless identity), the identity it names, its format and where it was found.
    pub signer: Signer,
    /// `sha256:` of the DSSE envelope (legacy) or bundle JSON (bundle): a stable id.
    #[serde(rename = "envelopeDigest")]
    pub envelope_digest: String,
    /// `sha256:` of the DSSE payload bytes: what a promotion's evidence digest names.
    #[serde(skip)]
    pub payload_digest: String,
}

/// The verified attestations of a digest, and why others were not accepted.
#[derive(Debug, Default, Clone)]
pub struct Found {
    pub attestations: Vec<Attestation>,
    pub failures: Vec<String>,
    /// In step with `failures`: the predicate type the failed entry was labelled with
    /// (unverified; None when unlabelled or not about one entry), to narrow failures by type.
    labels: Vec<Option<String>>,
}

/// Whether an entry whose (unverified) label says `label` may be of the type asked for.
fn wanted(label: Option<&str>, asked: Option<&str>) -> bool {
    label != Some(SIGN_PREDICATE) && asked.is_none_or(|t| label.is_none_or(|l| l == t))
}

impl Found {
    fn take(&mut self, p: &Policy, r: std::result::Result<Signed, String>, asked: Option<&str>, at: (&'static str, &str, &str, &str)) {
        let (format, source, what, envelope_digest) = at;
        let s = match r {
            Ok(s) => s,
            Err(why) => return self.failures.push(format!("{what}: {why}")),
        };
        // A signature is not an attestation; another type is not what was asked for.
        if s.predicate_type == SIGN_PREDICATE || asked.is_some_and(|t| t != s.predicate_type) {
            return;
        }
        let predicate = s.statement.get("predicate").cloned().unwrap_or(serde_json::Value::Null);
        let signer = Signer::of(p, s.by, s.identity, format, source, envelope_digest);
        let a = Attestation {
            predicate_type: s.predicate_type,
            predicate,
            signer,
            envelope_digest: envelope_digest.to_string(),
            payload_digest: s.payload_digest,
        };
        // The same envelope listed in two places is one stored attestation.
        if !self.attestations.iter().any(|o| o.envelope_digest == a.envelope_digest) {
            self.attestations.push(a);
        }
    }

    /// Label the failures added since the last call as about entries labelled `label`.
    fn label(&mut self, label: Option<&str>) {
        let n = self.failures.len().saturating_sub(self.labels.len());
        self.labels.extend(std::iter::repeat_n(label.map(String::from), n));
    }

    /// The attestations of `predicate_type` among these (found once under a wider policy) whose
    /// signer `narrow` names as one of a narrower policy's (re-labelled as that policy names it),
    /// and the failures that may concern the type; an attestation of the type by a signer
    /// `narrow` does not know is a failure here. What a narrower policy would find, without
    /// fetching or verifying anything again.
    pub fn narrowed(&self, predicate_type: &str, narrow: &dyn Fn(&Signer) -> Option<Signer>) -> Found {
        let mut out = Found::default();
        for (w, l) in self.failures.iter().zip(&self.labels) {
            if wanted(l.as_deref(), Some(predicate_type)) {
                out.failures.push(w.clone());
            }
        }
        for a in self.attestations.iter().filter(|a| a.predicate_type == predicate_type) {
            match narrow(&a.signer) {
                Some(signer) => out.attestations.push(Attestation { signer, ..a.clone() }),
                None => out.failures.push(format!("{}: signed by {}, not a signer this rule trusts", a.signer.source, a.signer.label())),
            }
        }
        out.label(Some(predicate_type));
        out
    }

    /// One of each statement: the same predicate by the same signer stored in both formats (a
    /// bundle referrer and the `.att` tag) counts once (the first found). The one rule every
    /// reader that counts or evaluates attestations applies (promotions, policy requirements and
    /// `attestations(type)`); `bundle attestations` lists every stored copy.
    pub fn unique(mut self) -> Found {
        let mut out: Vec<Attestation> = Vec::new();
        for a in self.attestations {
            let same = |o: &Attestation| {
                o.signer.fingerprint == a.signer.fingerprint && o.predicate_type == a.predicate_type && o.predicate == a.predicate
            };
            if !out.iter().any(same) {
                out.push(a);
            }
        }
        self.attestations = out;
        self
    }
}

/// Every attestation stored for `digest` (bundle referrers, the `.att` tag) whose signature the policy
/// trusts and whose statement names `digest` and an accepted identity, optionally only of one predicate
/// type; plus why others were not accepted. Store errors stay errors.
pub fn find(st: &dyn Store, digest: &str, p: &Policy, predicate_type: Option<&str>) -> Result<Found> {
    let mut f = Found::default();
    let tag = att_tag(digest);
    // Layers labelled with another type are not even fetched.
    let keep = |d: &Descriptor| wanted(d.annotation(ANN_PREDICATE_TYPE), predicate_type);
    // Both places at once, as for signatures ([`super::verifier::check`]); answers taken in
    // this order, so reports and errors do not depend on timing.
    let (legacy_found, referrers_found) = std::thread::scope(|sc| {
        let legacy = sc.spawn(|| legacy::read_tagged(st, &tag, MAX_ATTESTATION, &keep));
        let found = referrers::find(st, digest);
        (legacy.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), found)
    });
    let legacy_found = content(legacy_found, &mut f.failures)?;
    f.label(None);
    if let Some(Some((_, layers))) = legacy_found {
        let source = format!("{}:{tag}", st.describe());
        for l in &layers {
            let r = if l.desc.media_type == DSSE_MEDIA_TYPE {
                bundle::check_envelope(&l.payload, digest, p)
            } else {
                Err(format!("layer type {} is not {DSSE_MEDIA_TYPE}", l.desc.media_type))
            };
            f.take(p, r, predicate_type, ("legacy", &source, &format!("{source}: layer {}", l.desc.digest), &l.desc.digest));
            f.label(l.desc.annotation(ANN_PREDICATE_TYPE));
        }
    }
    let found = referrers_found?;
    f.failures.extend(found.notes);
    f.label(None);
    // The bundles asked for, each with its one layer (or why not); the layers fetched together.
    let mut asked: Vec<(String, &Descriptor, Option<&str>)> = Vec::new();
    for r in found.referrers.iter().filter(|r| bundle::is_bundle(&r.manifest)) {
        let label = bundle::labelled_predicate(&r.manifest);
        if !wanted(label, predicate_type) {
            continue;
        }
        let source = format!("referrer {} in {}", r.desc.digest, r.place);
        match r.manifest.layers.as_slice() {
            [l] if l.size <= MAX_ATTESTATION => asked.push((source, l, label)),
            [l] => f.failures.push(format!("bundle {source}: the layer is {} bytes, over the {} KiB limit", l.size, MAX_ATTESTATION >> 10)),
            ls => f.failures.push(format!("bundle {source}: {} layers; a bundle manifest has exactly one", ls.len())),
        }
        f.label(label);
    }
    let layers: Vec<&Descriptor> = asked.iter().map(|(_, l, _)| *l).collect();
    for ((source, layer, label), bytes) in asked.iter().zip(st.blobs(&layers)) {
        if let Some(bytes) = content(bytes, &mut f.failures)? {
            let r = bundle::check_signed(&bytes, digest, p);
            f.take(p, r, predicate_type, ("bundle", source, &format!("bundle {source}"), &layer.digest));
        }
        f.label(*label);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::layout::Layout;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn statement_bytes_are_sorted_and_stable() {
        let s = statement("r.io/x", "sha256:ab", "https://example.com/p/v1", &serde_json::json!({"b": 1, "a": [true]}));
        assert_eq!(
            String::from_utf8(s).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","predicate":{"a":[true],"b":1},"predicateType":"https://example.com/p/v1","subject":[{"digest":{"sha256":"ab"},"name":"r.io/x"}]}"#
        );
    }

    #[test]
    fn cosign_short_names() {
        assert_eq!(predicate_type_uri("slsaprovenance1").unwrap(), "https://slsa.dev/provenance/v1");
        assert_eq!(predicate_type_uri("spdxjson").unwrap(), "https://spdx.dev/Document");
        assert_eq!(predicate_type_uri("https://x.dev/p").unwrap(), "https://x.dev/p");
        assert!(predicate_type_uri("provenance").unwrap_err().to_string().contains("slsaprovenance1"));
        assert_eq!(att_tag("sha256:ab"), "sha256-ab.att");
    }

    fn key(dir: &std::path::Path, name: &str) -> (signing::Signer, Policy) {
        let prefix = dir.join(name);
        let (k, public) = signing::keygen(prefix.to_str().unwrap(), b"", false).unwrap();
        let signer = signing::load_private_key(&k, b"").unwrap();
        let keys = super::super::KeySet::load(&[public]).unwrap();
        (signer, Policy::of_keys(keys, vec!["r.io/lab/app".into()]))
    }

    fn subject(l: &Layout) -> Descriptor {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
        let d = Descriptor::new(crate::spec::OCI_MANIFEST, m);
        l.put_blob(&Descriptor::new(bundle::EMPTY_MEDIA_TYPE, bundle::EMPTY_CONFIG), bundle::EMPTY_CONFIG).unwrap();
        l.put_manifest(&d, m).unwrap();
        d
    }

    #[test]
    fn attach_find_round_trip_both_formats_and_no_op() {
        let tmp = tempfile::tempdir().unwrap();
        let l = Layout::new(tmp.path().join("layout"));
        let s = subject(&l);
        let (ours, policy) = key(tmp.path(), "ours");
        let (_, theirs) = key(tmp.path(), "theirs");
        let t = "https://example.com/eval/v1";
        let pred = serde_json::json!({"accuracy": 0.93});
        let a = attach(&l, &s, "r.io/lab/app:1.0", t, &pred, SignWith::Key(&ours, None), Format::Both).unwrap();
        assert_eq!((a.bundle, a.legacy), (Some(true), Some(true)));
        let again = attach(&l, &s, "r.io/lab/app", t, &pred, SignWith::Key(&ours, None), Format::Both).unwrap();
        assert_eq!((again.bundle, again.legacy), (Some(false), Some(false)), "re-attesting is a no-op");
        let f = find(&l, &s.digest, &policy, Some(t)).unwrap();
        assert_eq!(f.attestations.len(), 2, "{:?}", f.failures);
        assert!(f.failures.is_empty(), "{:?}", f.failures);
        let formats: Vec<&str> = f.attestations.iter().map(|a| a.signer.format).collect();
        assert_eq!(formats, ["legacy", "bundle"]);
        assert!(f.attestations.iter().all(|a| a.predicate == pred && a.predicate_type == t && a.signer.identity == "r.io/lab/app"));
        // Another type asked: nothing, and nothing failed.
        let f = find(&l, &s.digest, &policy, Some("https://slsa.dev/provenance/v1")).unwrap();
        assert!(f.attestations.is_empty() && f.failures.is_empty(), "{:?}", f.failures);
        // Another key trusted: none verified, both listed as failures.
        let f = find(&l, &s.digest, &theirs, None).unwrap();
        assert!(f.attestations.is_empty());
        assert_eq!(f.failures.len(), 2, "{:?}", f.failures);
        assert!(f.failures.iter().all(|w| w.contains("made by none of the given keys")), "{:?}", f.failures);
        // Another digest: nothing stored for it.
        assert!(find(&l, DIGEST, &policy, None).unwrap().attestations.is_empty());
        // Appends: a second predicate adds a layer and a referrer.
        let b = attach(&l, &s, "r.io/lab/app", t, &serde_json::json!({"accuracy": 0.5}), SignWith::Key(&ours, None), Format::Both).unwrap();
        assert_eq!((b.bundle, b.legacy), (Some(true), Some(true)));
        assert_eq!(find(&l, &s.digest, &policy, Some(t)).unwrap().attestations.len(), 4);
    }

    #[test]
    fn found_once_narrowed_per_signer_and_deduplicated() {
        let tmp = tempfile::tempdir().unwrap();
        let l = Layout::new(tmp.path().join("layout"));
        let s = subject(&l);
        let (ours, mine) = key(tmp.path(), "ours");
        let (theirs, _) = key(tmp.path(), "theirs");
        let (t, u) = ("https://example.com/eval/v1", "https://example.com/other/v1");
        let pred = serde_json::json!({"accuracy": 0.9});
        for (k, ty) in [(&ours, t), (&theirs, t), (&theirs, u)] {
            attach(&l, &s, "r.io/lab/app", ty, &pred, SignWith::Key(k, None), Format::Both).unwrap();
        }
        // Found once under both keys (every type), then narrowed to ours for one type.
        let both = crate::trust::KeySet::load(&[tmp.path().join("ours.pub"), tmp.path().join("theirs.pub")]).unwrap();
        let wide = find(&l, &s.digest, &Policy::of_keys(both, vec!["r.io/lab/app".into()]), None).unwrap();
        assert_eq!((wide.attestations.len(), wide.failures.len()), (6, 0), "{:?}", wide.failures);
        let fp = mine.keys.keys[0].fingerprint.clone();
        let narrow = |x: &Signer| (x.fingerprint == fp).then(|| Signer { key: "ours".into(), ..x.clone() });
        let n = wide.narrowed(t, &narrow);
        assert_eq!(n.attestations.len(), 2);
        assert!(n.attestations.iter().all(|a| a.signer.key == "ours" && a.predicate_type == t));
        assert_eq!(n.failures.len(), 2, "theirs, both formats: {:?}", n.failures);
        assert!(n.failures.iter().all(|w| w.contains("not a signer this rule trusts")), "{:?}", n.failures);
        // The same statement by the same signer in both formats counts once.
        assert_eq!(n.unique().attestations.len(), 1);
        assert_eq!(wide.unique().attestations.len(), 3);
    }

    #[test]
    fn signature_predicate_and_other_subjects_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let l = Layout::new(tmp.path().join("layout"));
        let s = subject(&l);
        let (ours, policy) = key(tmp.path(), "ours");
        let e = attach(&l, &s, "r.io/lab/app", SIGN_PREDICATE, &serde_json::json!({}), SignWith::Key(&ours, None), Format::Bundle);
        assert!(e.unwrap_err().to_string().contains("bundle sign"));
        // A signature (sign/v1) is not listed as an attestation.
        signing::attach_bundle(&l, &s, "r.io/lab/app", &Default::default(), &ours, None).unwrap();
        let f = find(&l, &s.digest, &policy, None).unwrap();
        assert!(f.attestations.is_empty() && f.failures.is_empty(), "{:?}", f.failures);
        // An envelope whose statement names another digest, in the .att tag of this one.
        let st = statement("r.io/lab/app", DIGEST, "https://example.com/p", &serde_json::json!({}));
        let env = bundle::envelope_json(&st, &ours.sign_raw(&bundle::pae(&st)).unwrap());
        let mut desc = Descriptor::new(DSSE_MEDIA_TYPE, &env);
        desc.annotations = Some(BTreeMap::from([(ANN_PREDICATE_TYPE.to_string(), "https://example.com/p".to_string())]));
        signing::write_tagged(&l, &att_tag(&s.digest), &[SigLayer { desc, payload: env, signature: None }]).unwrap();
        let f = find(&l, &s.digest, &policy, None).unwrap();
        assert!(f.attestations.is_empty());
        assert!(f.failures[0].contains(&format!("the statement signs {DIGEST}, not {}", s.digest)), "{:?}", f.failures);
    }
}
