//! The one signature verifier: the signed entities stored for a digest, checked against a
//! [`Policy`]. Content problems (a bad payload, a signature by no trusted key) are failures listed
//! in the [`Outcome`]; store errors stay errors (a registry fault is never read as "unsigned").

use super::Policy;
use super::legacy::{self, SigLayer};
use super::{bundle, referrers};
use crate::error::content;
use crate::signing;
use anyhow::Result;
use serde::Serialize;

/// A trusted key with a valid signature for the digest.
#[derive(Debug, Clone, Serialize)]
pub struct Signer {
    /// The key file given, and its fingerprint.
    pub key: String,
    pub fingerprint: String,
    /// The identity the signature names (a legacy payload's docker-reference, a bundle
    /// statement's subject name).
    pub identity: String,
    /// The signature format: `legacy` (cosign simple signing) or `bundle` (Sigstore bundle).
    pub format: &'static str,
    /// Where the signature was found: the `.sig` tag, or the referrer manifest and where it was listed.
    pub source: String,
    /// A keyless signature: the certificate's identity and issuer, the log index, the signing time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<super::sigstore::Verified>,
    /// `sha256:` of what was signed as stored: the bundle JSON, the DSSE envelope, or the legacy
    /// payload (a verification summary's `inputAttestations`).
    #[serde(skip)]
    pub signed_digest: String,
}

/// What the stored signatures of one digest say under a policy.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One entry per distinct key with a valid signature (whatever its format).
    pub signers: Vec<Signer>,
    /// Why stored signatures were not accepted ("no signatures" when there are none).
    pub failures: Vec<String>,
    /// Signatures stored: legacy layers and signature referrers (bundles, legacy payloads).
    pub stored: usize,
}

impl Signer {
    /// The signer a valid signature names: a trusted key (by its index in the policy) or a trusted
    /// keyless identity (by its index, with the verified certificate's facts).
    pub fn of(p: &Policy, by: bundle::By, identity: String, format: &'static str, source: &str, signed_digest: &str) -> Signer {
        let (key, fingerprint, certificate) = match by {
            bundle::By::Key(k) => (p.keys.keys[k].name.clone(), p.keys.keys[k].fingerprint.clone(), None),
            bundle::By::Identity(i, v) => (p.keyless[i].label(), format!("keyless:{i}"), Some(v)),
        };
        Signer { key, fingerprint, identity, format, source: source.to_string(), certificate, signed_digest: signed_digest.to_string() }
    }

    /// How the signer is named to people: `key <fingerprint> (<file>)`, or the keyless identity
    /// with the certificate's SAN.
    pub fn label(&self) -> String {
        match self.fingerprint.strip_prefix("sha256:") {
            Some(hex) => format!("key {} ({})", &hex[..hex.len().min(16)], self.key),
            None => match &self.certificate {
                Some(c) => format!("{} (certificate for `{}`)", self.key, c.identity.as_deref().unwrap_or("?")),
                None => self.key.clone(),
            },
        }
    }

    /// The short form recorded for a signer: `key <fingerprint>`, or the certificate's SAN.
    pub fn short(&self) -> String {
        match self.fingerprint.strip_prefix("sha256:") {
            Some(hex) => format!("key {}", &hex[..hex.len().min(16)]),
            None => self.certificate.as_ref().and_then(|c| c.identity.clone()).unwrap_or_else(|| self.key.clone()),
        }
    }
}

impl Outcome {
    pub fn passes(&self, p: &Policy) -> bool {
        self.signers.len() >= p.min_signers
    }

    fn take(&mut self, p: &Policy, r: std::result::Result<(bundle::By, String), String>, at: (&'static str, &str, &str, &str)) {
        let (format, source, what, signed_digest) = at;
        let (by, identity) = match r {
            Ok(v) => v,
            Err(why) => return self.failures.push(format!("{what}: {why}")),
        };
        // One signer per distinct key, and per distinct trusted identity.
        let s = Signer::of(p, by, identity, format, source, signed_digest);
        if !self.signers.iter().any(|x| x.fingerprint == s.fingerprint) {
            self.signers.push(s);
        }
    }
}

/// Check every signature stored for `digest` against the policy, in every place: the legacy
/// `sha256-<hex>.sig` tag, then the referrers (the store's listing and the referrers tag), whose
/// Sigstore bundles and legacy payloads count; one valid signature per distinct key.
pub fn check(s: &dyn crate::store::Store, digest: &str, p: &Policy) -> Result<Outcome> {
    let mut o = Outcome::default();
    // The places are asked at once (each is a chain of round trips to a registry); their
    // answers are taken in this order, so reports and errors do not depend on timing.
    let (legacy_found, referrers_found) = std::thread::scope(|sc| {
        let legacy = sc.spawn(|| legacy::read_signatures(s, digest));
        let found = referrers::find(s, digest);
        (legacy.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), found)
    });
    // 1. The legacy tag.
    if let Some(Some((_, layers))) = content(legacy_found, &mut o.failures)? {
        o.stored += layers.len();
        let source = format!("{}:{}", s.describe(), signing::sig_tag(digest));
        for (i, l) in layers.iter().enumerate() {
            let r = accept(l, digest, p).map(|(k, id)| (bundle::By::Key(k), id));
            o.take(p, r, ("legacy", &source, &format!("signature {i}"), &l.desc.digest));
        }
    }
    // 2. Referrers. Their bundles are fetched together (concurrently), then checked in order.
    let found = referrers_found?;
    o.failures.extend(found.notes);
    // Bundles labelled as attestations (another predicate type) are not signatures: not fetched.
    let referrers: Vec<&referrers::Referrer> = found.referrers.iter().filter(|r| !labelled_attestation(&r.manifest)).collect();
    let layers: Vec<Option<&crate::oci::Descriptor>> =
        referrers.iter().map(|r| if bundle::is_bundle(&r.manifest) { bundle::bundle_layer(&r.manifest).ok() } else { None }).collect();
    let wanted: Vec<&crate::oci::Descriptor> = layers.iter().flatten().copied().collect();
    let mut fetched = s.blobs(&wanted).into_iter();
    for (r, layer) in referrers.iter().zip(&layers) {
        let source = format!("referrer {} in {}", r.desc.digest, r.place);
        if bundle::is_bundle(&r.manifest) {
            let Some(layer) = layer else {
                o.stored += 1;
                let why = bundle::bundle_layer(&r.manifest).err().unwrap_or_default();
                o.failures.push(format!("bundle {source}: {why}"));
                continue;
            };
            let bytes = fetched.next().expect("one fetch per bundle layer");
            let Some(bytes) = content(bytes, &mut o.failures)? else {
                o.stored += 1;
                continue;
            };
            // An unlabelled bundle whose statement has another predicate is an attestation.
            if bundle::labelled_predicate(&r.manifest).is_none()
                && bundle::statement_predicate(&bytes).is_some_and(|t| t != bundle::SIGN_PREDICATE)
            {
                continue;
            }
            o.stored += 1;
            o.take(p, bundle::check(&bytes, digest, p), ("bundle", &source, &format!("bundle {source}"), &layer.digest));
        } else if !r.manifest.layers.is_empty() && r.manifest.layers.iter().all(|l| l.media_type == signing::SIMPLESIGNING_MEDIA_TYPE) {
            // A legacy payload stored as a referrer (cosign --registry-referrers-mode=oci-1-1).
            if r.manifest.layers.len() > signing::MAX_SIGNATURES {
                o.failures.push(format!("{source}: {} signature layers, over the limit", r.manifest.layers.len()));
                continue;
            }
            for (i, l) in r.manifest.layers.iter().enumerate() {
                o.stored += 1;
                if l.size > signing::MAX_PAYLOAD {
                    o.failures.push(format!("{source}: signature {i}: payload over the limit"));
                    continue;
                }
                let Some(payload) = content(s.blob(l), &mut o.failures)? else { continue };
                let sl = SigLayer { desc: l.clone(), payload, signature: l.annotation(signing::SIGNATURE_ANNOTATION).map(String::from) };
                let r = accept(&sl, digest, p).map(|(k, id)| (bundle::By::Key(k), id));
                o.take(p, r, ("legacy", &source, &format!("{source}: signature {i}"), &l.digest));
            }
        }
        // Other referrers (SBOMs, attestations in other formats) are not signatures.
    }
    if o.stored == 0 {
        o.failures.push(format!(
            "no signatures: {} has no tag {} and no signature referrer of {digest}",
            s.describe(),
            signing::sig_tag(digest)
        ));
    }
    Ok(o)
}

/// How many signatures are stored for `digest` in every place (without checking them); bundles
/// labelled as attestations (another predicate type) are not counted.
pub fn stored(s: &dyn crate::store::Store, digest: &str) -> Result<usize> {
    let mut n = legacy::read_signatures(s, digest)?.map(|(_, l)| l.len()).unwrap_or(0);
    let found = referrers::find(s, digest)?;
    for r in found.referrers.iter().filter(|r| !labelled_attestation(&r.manifest)) {
        if bundle::is_bundle(&r.manifest) {
            n += 1;
        } else if r.manifest.layers.iter().all(|l| l.media_type == signing::SIMPLESIGNING_MEDIA_TYPE) {
            n += r.manifest.layers.len();
        }
    }
    Ok(n)
}

/// Whether a referrer is a bundle labelled with a predicate other than the signature's: an
/// attestation, never a signature (a label can only make a bundle skipped, never trusted).
fn labelled_attestation(m: &crate::oci::ImageManifest) -> bool {
    bundle::is_bundle(m) && bundle::labelled_predicate(m).is_some_and(|t| t != bundle::SIGN_PREDICATE)
}

/// Whether one signature layer is a valid signature of `digest` under the policy: the index of
/// the (one) key that made it, and the identity it names; else why not.
fn accept(l: &SigLayer, digest: &str, p: &Policy) -> std::result::Result<(usize, String), String> {
    if l.desc.media_type != signing::SIMPLESIGNING_MEDIA_TYPE {
        return Err(format!("layer type {} is not {}", l.desc.media_type, signing::SIMPLESIGNING_MEDIA_TYPE));
    }
    let claims = legacy::parse_payload(&l.payload).map_err(|e| format!("{e:#}"))?;
    let sig = l.signature.as_deref().ok_or_else(|| format!("no {} annotation", signing::SIGNATURE_ANNOTATION))?;
    let k = p.keys.signer_of(&l.payload, sig).ok_or("made by none of the given keys, or corrupted")?;
    // No log entry is required of a key signature; one it carries (`sign --tlog-upload`, cosign's
    // default) must verify against the trusted root.
    if let Some(entry) = l.desc.annotation(crate::trust::keyless::COSIGN_BUNDLE_ANNOTATION) {
        super::sigstore::verify_cosign_entry(entry, &l.payload, sig, &p.keys.keys[k].der, p.root()?).map_err(|e| {
            format!("its transparency-log entry ({}) does not verify: {e:#}", crate::trust::keyless::COSIGN_BUNDLE_ANNOTATION)
        })?;
    }
    if claims.kind != signing::PAYLOAD_TYPE {
        return Err(format!("payload type `{}` is not `{}`", claims.kind, signing::PAYLOAD_TYPE));
    }
    if claims.digest != digest {
        return Err(format!("signs {}, not {digest}", claims.digest));
    }
    if !p.identity_matches(&claims.docker_reference) {
        return Err(format!(
            "identity `{}` is not {} (pass --identity REPO to accept a mirror)",
            claims.docker_reference,
            p.identity_list()
        ));
    }
    for (k, want) in &p.annotations {
        let got = claims.optional.get(k).map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()));
        if got.as_deref() != Some(want.as_str()) {
            return Err(format!(
                "annotation {k}={want} required; the payload has {}",
                got.map(|g| format!("{k}={g}")).unwrap_or("none".into())
            ));
        }
    }
    Ok((k, claims.docker_reference))
}
