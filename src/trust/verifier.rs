//! The one signature verifier: the signed entities stored for a digest, checked against a
//! [`Policy`]. Content problems (a bad payload, a signature by no trusted key) are failures listed
//! in the [`Outcome`]; store errors stay errors (a registry fault is never read as "unsigned").

use super::Policy;
use super::legacy::{self, SigLayer};
use crate::error::Finding;
use crate::signing;
use anyhow::Result;
use serde::Serialize;

/// A trusted key with a valid signature for the digest.
#[derive(Debug, Clone, Serialize)]
pub struct Signer {
    /// The key file given, and its fingerprint.
    pub key: String,
    pub fingerprint: String,
    /// The identity (docker-reference) the signature names.
    pub identity: String,
    /// Where the signature was found.
    pub source: String,
}

/// What the stored signatures of one digest say under a policy.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One entry per distinct key with a valid signature.
    pub signers: Vec<Signer>,
    /// Why stored signatures were not accepted ("no signatures" when there are none).
    pub failures: Vec<String>,
    /// Signature layers stored.
    pub stored: usize,
}

impl Outcome {
    pub fn passes(&self, p: &Policy) -> bool {
        self.signers.len() >= p.min_signers
    }
}

/// Check every signature stored for `digest` against the policy.
pub fn check(s: &dyn crate::store::Store, digest: &str, p: &Policy) -> Result<Outcome> {
    let mut o = Outcome::default();
    let sigs = match legacy::read_signatures(s, digest) {
        Ok(v) => v,
        Err(e) if e.chain().any(|c| c.is::<Finding>()) => {
            o.failures.push(format!("{e:#}"));
            return Ok(o);
        }
        Err(e) => return Err(e),
    };
    let Some((_, layers)) = sigs else {
        o.failures.push(format!("no signatures: {} has no tag {}", s.describe(), signing::sig_tag(digest)));
        return Ok(o);
    };
    o.stored = layers.len();
    let source = format!("{}:{}", s.describe(), signing::sig_tag(digest));
    for (i, l) in layers.iter().enumerate() {
        match accept(l, digest, p) {
            Ok((k, identity)) => {
                let key = &p.keys.keys[k];
                if !o.signers.iter().any(|x| x.fingerprint == key.fingerprint) {
                    o.signers.push(Signer {
                        key: key.name.clone(),
                        fingerprint: key.fingerprint.clone(),
                        identity,
                        source: source.clone(),
                    });
                }
            }
            Err(why) => o.failures.push(format!("signature {i}: {why}")),
        }
    }
    Ok(o)
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
