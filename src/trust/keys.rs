//! Trusted public keys, named by the file the user gave and identified by their key material.
//!
//! Two files holding the same key (a copy, re-wrapped PEM, CRLF endings, or the compressed form of
//! the same EC point) are one key: each key is normalised to its canonical SubjectPublicKeyInfo
//! (an uncompressed point for EC keys) and fingerprinted by the sha256 of that DER. A [`KeySet`]
//! holds each distinct key once and remembers which given files were duplicates, so no quorum
//! (`--min-signers`) can be met by naming one key twice.

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::encoding::AsDer;
use sigstore::crypto::{CosignVerificationKey, Signature};
use std::path::Path;

/// A public key to verify with.
pub struct TrustedKey {
    /// The path the user gave (for messages).
    pub name: String,
    /// `sha256:<hex>` of the canonical SubjectPublicKeyInfo DER.
    pub fingerprint: String,
    /// The canonical SubjectPublicKeyInfo DER (what a transparency-log entry names).
    pub der: Vec<u8>,
    key: CosignVerificationKey,
}

impl TrustedKey {
    /// Load a PEM `PUBLIC KEY` file.
    pub fn load(path: &Path) -> Result<TrustedKey> {
        let f = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("{f}: cannot read the public key"))?;
        TrustedKey::from_pem(&text, &f)
    }

    /// Parse a PEM `PUBLIC KEY`, named `name` in messages.
    pub fn from_pem(text: &str, name: &str) -> Result<TrustedKey> {
        let (label, der) = crate::signing::pem_block(text, name)?;
        if label != "PUBLIC KEY" {
            bail!("{name}: PEM label `{label}` is not a public key (expected PUBLIC KEY)");
        }
        let canonical = canonical_spki(&der);
        let key = CosignVerificationKey::try_from_der(&canonical).map_err(|e| anyhow!("{name}: not a usable public key: {e}"))?;
        Ok(TrustedKey { name: name.to_string(), fingerprint: crate::hashing::sha256_digest(&canonical), der: canonical, key })
    }

    /// Whether `signature_b64` (base64 DER) is this key's signature over `payload`.
    pub fn verifies(&self, payload: &[u8], signature_b64: &str) -> bool {
        self.key.verify_signature(Signature::Base64Encoded(signature_b64.as_bytes()), payload).is_ok()
    }

    /// Whether `signature` (raw DER, as a DSSE envelope carries it) is this key's over `payload`.
    pub fn verifies_raw(&self, payload: &[u8], signature: &[u8]) -> bool {
        self.key.verify_signature(Signature::Raw(signature), payload).is_ok()
    }

    /// The fingerprint's first 16 hex digits, for people.
    pub fn short_fingerprint(&self) -> &str {
        let hex = self.fingerprint.trim_start_matches("sha256:");
        &hex[..hex.len().min(16)]
    }

    /// How the key is named to people: its fingerprint and the file given.
    pub fn label(&self) -> String {
        format!("key {} ({})", self.short_fingerprint(), self.name)
    }
}

/// The canonical SubjectPublicKeyInfo of an SPKI DER: EC keys re-encoded with an uncompressed
/// point (the form cosign writes), others unchanged.
fn canonical_spki(der: &[u8]) -> Vec<u8> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ParsedPublicKey};
    for alg in [&ECDSA_P256_SHA256_ASN1, &ECDSA_P384_SHA384_ASN1] {
        if let Ok(k) = ParsedPublicKey::new(alg, der)
            && let Ok(out) = k.as_der()
        {
            return out.as_ref().to_vec();
        }
    }
    der.to_vec()
}

/// A duplicate given key: the file, and the file of the same key given first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Duplicate {
    pub key: String,
    #[serde(rename = "sameAs")]
    pub same_as: String,
}

/// The distinct keys among those given.
#[derive(Default)]
pub struct KeySet {
    pub keys: Vec<TrustedKey>,
    pub duplicates: Vec<Duplicate>,
}

impl KeySet {
    /// Load every file, keeping each distinct key once.
    pub fn load(paths: &[std::path::PathBuf]) -> Result<KeySet> {
        let mut set = KeySet::default();
        for p in paths {
            set.add(TrustedKey::load(p)?);
        }
        Ok(set)
    }

    pub fn add(&mut self, k: TrustedKey) {
        match self.keys.iter().find(|x| x.fingerprint == k.fingerprint) {
            Some(first) => self.duplicates.push(Duplicate { key: k.name, same_as: first.name.clone() }),
            None => self.keys.push(k),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The first key that made `signature_b64` over `payload` (a signature satisfies at most one key).
    pub fn signer_of(&self, payload: &[u8], signature_b64: &str) -> Option<usize> {
        self.keys.iter().position(|k| k.verifies(payload, signature_b64))
    }

    /// The first key that made the raw `signature` over `payload`.
    pub fn signer_of_raw(&self, payload: &[u8], signature: &[u8]) -> Option<usize> {
        self.keys.iter().position(|k| k.verifies_raw(payload, signature))
    }

    /// A note on the duplicates, for reports (empty when none).
    pub fn duplicate_note(&self) -> Option<String> {
        if self.duplicates.is_empty() {
            return None;
        }
        let each: Vec<String> = self.duplicates.iter().map(|d| format!("{} is the same key as {}", d.key, d.same_as)).collect();
        Some(format!("duplicate keys count once: {}", each.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn rewrapped_and_crlf_keys_are_one_key() {
        use sigstore::crypto::SigningScheme;
        let pem =
            SigningScheme::ECDSA_P256_SHA256_ASN1.create_signer().unwrap().to_sigstore_keypair().unwrap().public_key_to_pem().unwrap();
        let a = TrustedKey::from_pem(&pem, "a.pub").unwrap();
        let (_, der) = crate::signing::pem_block(&pem, "a.pub").unwrap();
        // The same point, compressed: 0x02/0x03 by the parity of y, then x.
        let point = &der[der.len() - 65..];
        let mut compressed = hex_decode("3039301306072a8648ce3d020106082a8648ce3d030107032200");
        compressed.push(2 + (point[64] & 1));
        compressed.extend_from_slice(&point[1..33]);
        let c = TrustedKey::from_pem(&pem_of(&compressed), "c.pub").unwrap();
        assert_eq!(a.fingerprint, c.fingerprint);
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let rewrapped = format!("-----BEGIN PUBLIC KEY-----\r\n{}\r\n{}\r\n-----END PUBLIC KEY-----\r\n", &body[..40], &body[40..]);
        let b = TrustedKey::from_pem(&rewrapped, "b.pub").unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        let mut set = KeySet::default();
        set.add(a);
        set.add(b);
        set.add(c);
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.duplicates.len(), 2);
        assert_eq!(set.duplicates[0].same_as, "a.pub");
    }

    fn hex_decode(h: &str) -> Vec<u8> {
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
    }

    fn pem_of(der: &[u8]) -> String {
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", base64::engine::general_purpose::STANDARD.encode(der))
    }
}
