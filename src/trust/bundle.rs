//! The Sigstore bundle format (what cosign v3 signs by default), read and written.
//!
//! * Signed content: a DSSE envelope (payloadType `application/vnd.in-toto+json`) over an in-toto
//!   Statement (v1; cosign 2.5 labels it v0.1) whose subject is the manifest digest, named by its
//!   repository, with the `-a` annotations; predicateType [`SIGN_PREDICATE`], predicate `{}`.
//! * Wrapper: a Sigstore bundle (v0.1, v0.2 or v0.3 JSON read; v0.3 written). Key-based:
//!   `verificationMaterial.publicKey.hint` = base64(sha256(DER SPKI)); a transparency-log entry is
//!   not required (as with cosign `--insecure-ignore-tlog`), but one that is present
//!   (`sign --tlog-upload`) must verify against the trusted root; a certificate (keyless) bundle
//!   is not accepted by a key.
//! * Storage: an image manifest with `artifactType` = the bundle media type, the empty config, one
//!   layer holding the bundle JSON, `subject` = the signed manifest, and the annotations
//!   `dev.sigstore.bundle.content` / `dev.sigstore.bundle.predicateType`; found as a referrer.
//!
//! Only predicateType [`SIGN_PREDICATE`] makes a signature: any other predicate (SLSA provenance,
//! an SBOM), even validly signed by a trusted key, is an attestation and vouches for nothing here.
//!
//! Types, DSSE PAE and base64 come from `sigstore-types` (sigstore-rust); the signature check is
//! the same ECDSA verification as the legacy format's ([`super::keys`]).

use super::Policy;
use crate::oci::{Descriptor, ImageManifest};
use sigstore_types::bundle::{MediaType, PublicKeyIdentifier, SignatureContent, VerificationMaterial, VerificationMaterialContent};
use sigstore_types::{Bundle, DsseEnvelope, DsseSignature, KeyId, PayloadBytes, SignatureBytes};

/// The bundle media type we write (and cosign v3 writes).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Every bundle media type starts so (v0.1/v0.2 are `application/vnd.dev.sigstore.bundle+json;version=…`).
const BUNDLE_MEDIA_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The predicate that makes a statement an image signature (cosign v3's `sign`).
pub const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG: &[u8] = b"{}";
pub const ANN_CONTENT: &str = "dev.sigstore.bundle.content";
pub const ANN_PREDICATE: &str = "dev.sigstore.bundle.predicateType";
/// Largest bundle we read (a key-based one is under 2 KiB; a keyless one with its log entry a few).
pub const MAX_BUNDLE: u64 = 256 << 10;

/// Whether a referrer manifest holds a Sigstore bundle: by its own `artifactType` or its one
/// layer's type (never by what a listing says about it).
pub fn is_bundle(m: &ImageManifest) -> bool {
    m.artifact_type.as_deref().is_some_and(|t| t.starts_with(BUNDLE_MEDIA_PREFIX))
        || (m.layers.len() == 1 && m.layers[0].media_type.starts_with(BUNDLE_MEDIA_PREFIX))
}

/// The predicate type a bundle referrer's manifest says it holds (an unverified label: good for
/// counting and skipping, never for trusting).
pub fn labelled_predicate(m: &ImageManifest) -> Option<&str> {
    m.annotations.as_ref().and_then(|a| a.get(ANN_PREDICATE)).map(String::as_str)
}

/// The layer holding the bundle JSON.
pub fn bundle_layer(m: &ImageManifest) -> Result<&Descriptor, String> {
    match m.layers.as_slice() {
        [l] if l.size <= MAX_BUNDLE => Ok(l),
        [l] => Err(format!("the bundle layer is {} bytes, over the {} KiB limit", l.size, MAX_BUNDLE >> 10)),
        ls => Err(format!("{} layers; a bundle manifest has exactly one", ls.len())),
    }
}

/// The predicate type of the in-toto statement a bundle's DSSE envelope carries, unverified (to
/// tell an attestation from a signature before checking it, never to trust it); None when the
/// bytes are not a DSSE bundle over a statement.
pub fn statement_predicate(bytes: &[u8]) -> Option<String> {
    let bundle = Bundle::from_json(std::str::from_utf8(bytes).ok()?).ok()?;
    let SignatureContent::DsseEnvelope(env) = &bundle.content else { return None };
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(env.payload.as_bytes()).ok()?;
    v.get("predicateType")?.as_str().map(String::from)
}

/// Who made a valid signature: a trusted key (its index), or a trusted keyless identity (its
/// index, and what its verified certificate and log entry say).
#[derive(Debug, Clone)]
pub enum By {
    Key(usize),
    Identity(usize, super::sigstore::Verified),
}

/// What a valid bundle signature says: who made it, and the identity (the subject's name) it names.
pub type Accepted = (By, String);

/// A validly signed in-toto statement about a digest, whatever its predicate: who signed it, the
/// identity (subject name) it names, its predicate type, and the statement itself.
#[derive(Debug, Clone)]
pub struct Signed {
    pub by: By,
    pub identity: String,
    pub predicate_type: String,
    /// The statement (JSON), as signed.
    pub statement: serde_json::Value,
    /// The annotations of the subject that names the digest (cosign `-a`).
    pub annotations: serde_json::Map<String, serde_json::Value>,
    /// `sha256:` of the DSSE payload bytes (the statement exactly as signed).
    pub payload_digest: String,
}

/// Whether bundle JSON is a valid signature of `digest` under the policy; else why not. A
/// validly signed statement with another predicate is an attestation, not a signature.
pub fn check(bytes: &[u8], digest: &str, p: &Policy) -> Result<Accepted, String> {
    let s = check_signed(bytes, digest, p)?;
    if s.predicate_type != SIGN_PREDICATE {
        return Err(format!("an attestation (predicate {}), not a signature (predicate {SIGN_PREDICATE})", s.predicate_type));
    }
    for (key, want) in &p.annotations {
        let got = s.annotations.get(key).map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()));
        if got.as_deref() != Some(want.as_str()) {
            return Err(format!(
                "annotation {key}={want} required; the statement has {}",
                got.map(|g| format!("{key}={g}")).unwrap_or("none".into())
            ));
        }
    }
    Ok((s.by, s.identity))
}

/// Whether bundle JSON holds an in-toto statement about `digest`, signed by a key or keyless
/// identity the policy trusts, naming an accepted identity (any predicate); else why not. The one
/// check behind signatures ([`check`]) and attestations ([`super::attest`]).
pub fn check_signed(bytes: &[u8], digest: &str, p: &Policy) -> Result<Signed, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the bundle is not UTF-8 JSON".to_string())?;
    let bundle = Bundle::from_json(text).map_err(|e| format!("not a Sigstore bundle: {e}"))?;
    let SignatureContent::DsseEnvelope(env) = &bundle.content else {
        return Err("a message-signature bundle signs a blob, not an image manifest".into());
    };
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(format!("DSSE payloadType `{}` is not `{INTOTO_PAYLOAD_TYPE}`", env.payload_type));
    }
    let by = if matches!(bundle.verification_material.content, VerificationMaterialContent::PublicKey(_)) {
        let k = key_index(env, p)?;
        // A key signature needs no log entry; one it carries (`sign --tlog-upload`) must verify:
        // the entry names this key and envelope, its SET and inclusion proof, by a log of the
        // trusted root valid at the entry's time.
        if !bundle.verification_material.tlog_entries.is_empty() {
            let key = super::sigstore::Expected::Key { der: &p.keys.keys[k].der, require_tlog: true };
            super::sigstore::verify(&bundle, super::sigstore::Subject::Sha256(digest), &key, p.root()?)
                .map_err(|e| format!("its transparency-log entry does not verify: {e:#}"))?;
        }
        By::Key(k)
    } else {
        // Keyless: the certificate chain, SCT, log entry and timestamps, offline, by sigstore-rust's
        // verifier against the trusted root, then the identities the caller trusts.
        if p.keyless.is_empty() {
            return Err("a keyless (certificate) bundle, and no --certificate-identity is trusted".into());
        }
        let (i, v) = super::sigstore::check_keyless(&bundle, digest, &p.keyless, p.root()?)?;
        By::Identity(i, v)
    };
    signed_statement(by, env.payload.as_bytes(), digest, p)
}

/// Whether a bare DSSE envelope (JSON, as cosign's `.att` layers hold it) is an in-toto statement
/// about `digest` signed by a trusted key, naming an accepted identity; else why not.
pub fn check_envelope(bytes: &[u8], digest: &str, p: &Policy) -> Result<Signed, String> {
    let env: DsseEnvelope = serde_json::from_slice(bytes).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(format!("DSSE payloadType `{}` is not `{INTOTO_PAYLOAD_TYPE}`", env.payload_type));
    }
    let by = By::Key(key_index(&env, p)?);
    signed_statement(by, env.payload.as_bytes(), digest, p)
}

/// The trusted key whose signature over the envelope's PAE is valid (an envelope holds one).
fn key_index(env: &DsseEnvelope, p: &Policy) -> Result<usize, String> {
    let pae = sigstore_types::pae(&env.payload_type, env.payload.as_bytes());
    Ok(p.keys.signer_of_raw(&pae, env.signature.sig.as_bytes()).ok_or("made by none of the given keys, or corrupted")?)
}

/// A bare DSSE envelope (JSON) over an in-toto `payload` with one DER `signature`, byte for byte
/// as cosign writes it in a `.att` layer (empty `keyid`).
pub fn envelope_json(payload: &[u8], signature: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD;
    let q = |s: &str| serde_json::to_string(s).expect("a string serialises");
    format!(
        r#"{{"payloadType":{},"payload":{},"signatures":[{{"keyid":"","sig":{}}}]}}"#,
        q(INTOTO_PAYLOAD_TYPE),
        q(&b.encode(payload)),
        q(&b.encode(signature))
    )
    .into_bytes()
}

fn signed_statement(by: By, payload: &[u8], digest: &str, p: &Policy) -> Result<Signed, String> {
    let (identity, predicate_type, statement, annotations) = statement_claims(payload, digest)?;
    if !p.identity_matches(&identity) {
        return Err(format!("identity `{identity}` is not {} (pass --identity REPO to accept a mirror)", p.identity_list()));
    }
    let payload_digest = crate::hashing::sha256_digest(payload);
    Ok(Signed { by, identity, predicate_type, statement, annotations, payload_digest })
}

type Claims = (String, String, serde_json::Value, serde_json::Map<String, serde_json::Value>);

/// The subject name, predicate type, statement and subject annotations of a statement about
/// `digest`; else why it is not one.
fn statement_claims(payload: &[u8], digest: &str) -> Result<Claims, String> {
    let v: serde_json::Value = serde_json::from_slice(payload).map_err(|e| format!("the DSSE payload is not JSON: {e}"))?;
    let st: sigstore_types::Statement =
        serde_json::from_value(v.clone()).map_err(|e| format!("the DSSE payload is not an in-toto statement: {e}"))?;
    if st.type_ != STATEMENT_V1 && st.type_ != STATEMENT_V01 {
        return Err(format!("statement type `{}` is not {STATEMENT_V1}", st.type_));
    }
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let Some(i) = st.subject.iter().position(|s| s.digest.sha256.as_ref().is_some_and(|h| h.to_hex() == hex)) else {
        let named: Vec<String> =
            st.subject.iter().filter_map(|s| s.digest.sha256.as_ref().map(|h| format!("sha256:{}", h.to_hex()))).collect();
        return Err(format!(
            "the statement signs {}, not {digest}",
            if named.is_empty() { "no sha256 digest".into() } else { named.join(", ") }
        ));
    };
    let name = st.subject[i].name.clone();
    if name.is_empty() {
        return Err("the statement's subject has no name (the repository it was signed in)".into());
    }
    let annotations = v.pointer(&format!("/subject/{i}/annotations")).and_then(|a| a.as_object()).cloned().unwrap_or_default();
    Ok((name, st.predicate_type, v, annotations))
}

/// The in-toto statement we sign: the manifest digest named by its repository (`identity`),
/// with the `-a` annotations, predicate [`SIGN_PREDICATE`] `{}`.
pub fn statement(identity: &str, digest: &str, annotations: &std::collections::BTreeMap<String, String>) -> Vec<u8> {
    let mut subject = serde_json::json!({"name": identity, "digest": {"sha256": digest.strip_prefix("sha256:").unwrap_or(digest)}});
    if !annotations.is_empty() {
        subject["annotations"] = serde_json::json!(annotations);
    }
    let v = serde_json::json!({"_type": STATEMENT_V1, "subject": [subject], "predicateType": SIGN_PREDICATE, "predicate": {}});
    serde_json::to_vec(&v).expect("a statement always serialises")
}

/// The DSSE pre-authentication encoding of an in-toto payload: the bytes a signer signs.
pub fn pae(payload: &[u8]) -> Vec<u8> {
    sigstore_types::pae(INTOTO_PAYLOAD_TYPE, payload)
}

/// A v0.3 key-based bundle: the DSSE envelope of `payload` with its raw DER `signature`, and the
/// key hint (base64 of the sha256 of the DER SubjectPublicKeyInfo, `fingerprint` `sha256:<hex>`).
pub fn bundle_json(payload: &[u8], signature: &[u8], fingerprint: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let hex = fingerprint.strip_prefix("sha256:").unwrap_or(fingerprint);
    let raw: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16)).collect::<Result<_, _>>()?;
    let hint = base64::engine::general_purpose::STANDARD.encode(raw);
    let env = DsseEnvelope::new(
        INTOTO_PAYLOAD_TYPE,
        PayloadBytes::from_bytes(payload),
        DsseSignature::new(SignatureBytes::from_bytes(signature), KeyId::default()),
    );
    let b = Bundle::new(
        MediaType::Bundle0_3,
        VerificationMaterial::new(VerificationMaterialContent::PublicKey(PublicKeyIdentifier::new(hint))),
        SignatureContent::DsseEnvelope(env),
    );
    Ok(b.to_json()?.into_bytes())
}

/// The referrer manifest that stores a signature bundle for `subject`, as cosign v3 writes it
/// (without a creation time, so one signature is one manifest).
pub fn referrer_manifest(subject: &Descriptor, bundle: &Descriptor) -> ImageManifest {
    referrer_manifest_for(subject, bundle, SIGN_PREDICATE)
}

/// The referrer manifest that stores a bundle whose statement has `predicate_type` (named in the
/// `dev.sigstore.bundle.predicateType` annotation, as cosign v3 does for `attest`).
pub fn referrer_manifest_for(subject: &Descriptor, bundle: &Descriptor, predicate_type: &str) -> ImageManifest {
    ImageManifest {
        schema_version: 2,
        media_type: Some(crate::spec::OCI_MANIFEST.to_string()),
        artifact_type: Some(BUNDLE_MEDIA_TYPE.to_string()),
        config: Descriptor::new(EMPTY_MEDIA_TYPE, EMPTY_CONFIG),
        layers: vec![bundle.clone()],
        subject: Some(Descriptor {
            media_type: subject.media_type.clone(),
            digest: subject.digest.clone(),
            size: subject.size,
            artifact_type: None,
            annotations: None,
            platform: None,
        }),
        annotations: Some(std::collections::BTreeMap::from([
            (ANN_CONTENT.to_string(), "dsse-envelope".to_string()),
            (ANN_PREDICATE.to_string(), predicate_type.to_string()),
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_bytes() {
        let a = std::collections::BTreeMap::from([("team".to_string(), "ml".to_string())]);
        let s = String::from_utf8(statement("r.io/x", "sha256:ab", &a)).unwrap();
        assert_eq!(
            s,
            r#"{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"https://sigstore.dev/cosign/sign/v1","subject":[{"annotations":{"team":"ml"},"digest":{"sha256":"ab"},"name":"r.io/x"}]}"#
        );
    }
}
