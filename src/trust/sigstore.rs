//! Sigstore bundles (v0.1, v0.2, v0.3), verified offline by sigstore-rust's verifier
//! (`sigstore-verify`, which passes the sigstore-conformance suite): the Fulcio chain to a CA of
//! the trusted root valid at the signing time with the code-signing EKU, SCTs against the CT log
//! keys, Rekor v1 (SET, inclusion proof and signed checkpoint) and v2 entries, RFC 3161
//! timestamps, and that the entry matches the signature, certificate and digest. What is expected
//! of the signer comes from the caller: a key, or an identity (certificate SAN and OIDC issuer,
//! exact or as a regular expression, and optional Fulcio CI claims).

use anyhow::{Context, Result, anyhow, bail};
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{Artifact, ArtifactDigest, Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, Verifier};
use std::path::Path;

/// The Sigstore public-good instance's trusted root, pinned (sigstore/root-signing `targets/`).
pub const PUBLIC_GOOD_TRUSTED_ROOT: &str = include_str!("trusted_root.public-good.json");
/// The public-good signing config (service URLs for keyless signing), pinned likewise.
pub const PUBLIC_GOOD_SIGNING_CONFIG: &str = include_str!("signing_config.public-good.json");

/// A trusted root: `--trusted-root FILE` for a private Sigstore, else the pinned public-good one.
pub fn trusted_root(file: Option<&Path>) -> Result<TrustedRoot> {
    match file {
        None => TrustedRoot::from_json(PUBLIC_GOOD_TRUSTED_ROOT).map_err(|e| anyhow!("the embedded trusted root: {e}")),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("--trusted-root {}: cannot read", p.display()))?;
            crate::yaml::check_depth(&text, p)?;
            TrustedRoot::from_json(&text).map_err(|e| anyhow!("--trusted-root {}: not a Sigstore trusted root: {e}", p.display()))
        }
    }
}

/// A text to match: exactly, or by a regular expression (anchored, as cosign anchors them).
#[derive(Debug, Clone)]
pub enum Text {
    Exact(String),
    Regex(regex::Regex),
}

impl Text {
    pub fn regex(pattern: &str, flag: &str) -> Result<Text> {
        let anchored = format!("^(?:{pattern})$");
        Ok(Text::Regex(regex::Regex::new(&anchored).map_err(|e| anyhow!("{flag} `{pattern}`: not a regular expression: {e}"))?))
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            Text::Exact(x) => x == s,
            Text::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Text::Exact(x) => write!(f, "`{x}`"),
            Text::Regex(r) => write!(f, "/{}/", r.as_str().trim_start_matches("^(?:").trim_end_matches(")$")),
        }
    }
}

/// A keyless signer the caller trusts: the certificate's SAN and OIDC issuer, and any Fulcio CI
/// claims that must hold (extension name, e.g. `source-repository-ref`, → value).
#[derive(Debug, Clone)]
pub struct Identity {
    pub san: Text,
    pub issuer: Text,
    pub claims: Vec<(String, Text)>,
}

impl Identity {
    pub fn label(&self) -> String {
        format!("identity {} from issuer {}", self.san, self.issuer)
    }
}

/// Who must have made the signature.
pub enum Expected<'a> {
    /// A managed key (DER SPKI). Without `require_tlog`, the verifier is told to skip the log, but
    /// sigstore-verify still refuses a v0.3 bundle without an inclusion proof; release signatures
    /// made offline with a key are therefore checked in `trust::bundle` over the DSSE PAE, and this
    /// path serves bundles that carry their log entry (the conformance client).
    Key {
        der: &'a [u8],
        require_tlog: bool,
    },
    Identity(&'a Identity),
}

/// What was signed: the bytes, or their sha256.
pub enum Subject<'a> {
    Bytes(&'a [u8]),
    Sha256(&'a str),
}

/// What a verified bundle says.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Rekor's integrated time or a verified RFC 3161 time, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<i64>,
    /// The log entry's kind and version (`dsse/0.0.1`, `hashedrekord/0.0.1`: Rekor v1, with a SET;
    /// `hashedrekord/0.0.2`: Rekor v2, a checkpoint and no time of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_entry: Option<String>,
    /// The Rekor API version of the log the entry is in (1 or 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rekor_version: Option<u8>,
    /// Whether a transparency-log entry was verified.
    pub tlog: bool,
}

/// Parse a Sigstore bundle (any of its versions and media-type spellings).
pub fn parse_bundle(json: &str, what: &str) -> Result<Bundle> {
    crate::yaml::check_depth(json, Path::new(what))?;
    Bundle::from_json(json).map_err(|e| crate::error::finding(format!("{what}: not a valid Sigstore bundle: {e}")))
}

/// Verify one bundle for `subject` against what the caller expects and the trusted root. A bundle
/// that does not verify is a [`crate::error::Finding`] naming the reason.
pub fn verify(bundle: &Bundle, subject: Subject, expected: &Expected, root: &TrustedRoot) -> Result<Verified> {
    let verifier = Verifier::new(root).map_err(|e| anyhow!("the trusted root cannot be used: {e}"))?;
    let artifact: Artifact = match subject {
        Subject::Bytes(b) => Artifact::Blob(b),
        Subject::Sha256(d) => {
            let hex = d.strip_prefix("sha256:").unwrap_or(d);
            let h = Sha256Hash::from_hex(hex).map_err(|e| anyhow!("`{d}` is not a sha256 digest: {e}"))?;
            Artifact::Digest(ArtifactDigest::from(h))
        }
    };
    let fail = |e: sigstore_verify::Error| crate::error::finding(format!("{e}"));
    let result = match expected {
        Expected::Key { der, require_tlog } => {
            let mut policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(der.to_vec()));
            if !require_tlog && bundle.verification_material.tlog_entries.is_empty() {
                policy = policy.skip_tlog_unsafe();
            }
            verifier.verify(artifact, bundle, &policy).map_err(fail)?
        }
        Expected::Identity(id) => {
            let mut policy = VerificationPolicy::any_identity();
            if let Text::Exact(san) = &id.san {
                policy = policy.require_identity(san.as_str());
            }
            if let Text::Exact(issuer) = &id.issuer {
                policy = policy.require_issuer(issuer.as_str());
            }
            let r = verifier.verify(artifact, bundle, &policy).map_err(fail)?;
            check_identity(&r, id)?;
            r
        }
    };
    let entry = bundle.verification_material.tlog_entries.first();
    Ok(Verified {
        identity: result.identity().map(|i| i.as_str().to_string()),
        issuer: result.issuer().map(String::from),
        signed_at: result.integrated_time().or_else(|| result.verified_timestamps().first().copied()).map(|t| t.to_string()),
        log_index: entry.map(|e| e.log_index.get() as i64),
        log_entry: entry.map(|e| format!("{}/{}", e.kind_version.kind(), e.kind_version.version())),
        // Rekor v2 writes the 0.0.2 entry kinds only (hashedrekord, dsse); v1 never does.
        rekor_version: entry.map(|e| if e.kind_version.version() == "0.0.2" { 2 } else { 1 }),
        tlog: result.tlog_verified(),
    })
}

/// A legacy signature's transparency-log entry (cosign's `dev.sigstore.cosign/bundle` annotation:
/// the SET and the `hashedrekord` entry it signs), checked as the v0.1 Sigstore bundle it amounts
/// to: a message signature over `payload` by the key `der`, with its inclusion promise, against
/// the trusted root (the log key by log id, valid at the integrated time; the entry's hash,
/// signature and key those of this signature).
pub fn verify_cosign_entry(annotation: &str, payload: &[u8], signature_b64: &str, der: &[u8], root: &TrustedRoot) -> Result<Verified> {
    use base64::Engine;
    use sha2::Digest;
    let b64 = base64::engine::general_purpose::STANDARD;
    let a: serde_json::Value = serde_json::from_str(annotation).map_err(|e| crate::error::finding(format!("not JSON: {e}")))?;
    let p = &a["Payload"];
    let log_id = p["logID"].as_str().filter(|h| h.len() % 2 == 0 && h.bytes().all(|c| c.is_ascii_hexdigit()));
    let log_id: Vec<u8> = log_id
        .map(|h| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or_default()).collect())
        .ok_or_else(|| crate::error::finding("no hex Payload.logID"))?;
    let (Some(index), Some(time)) = (p["logIndex"].as_i64(), p["integratedTime"].as_i64()) else {
        return Err(crate::error::finding("no Payload.logIndex or Payload.integratedTime"));
    };
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "publicKey": {"hint": ""},
            "tlogEntries": [{
                "logIndex": index.to_string(),
                "logId": {"keyId": b64.encode(log_id)},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": time.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": a["SignedEntryTimestamp"]},
                "canonicalizedBody": p["body"],
            }],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64.encode(sha2::Sha256::digest(payload))},
            "signature": signature_b64,
        },
    });
    let b = parse_bundle(&bundle.to_string(), COSIGN_ENTRY)?;
    verify(&b, Subject::Bytes(payload), &Expected::Key { der, require_tlog: true }, root)
}

const COSIGN_ENTRY: &str = "the dev.sigstore.cosign/bundle annotation";

/// A keyless (certificate) bundle over `digest`, against each trusted identity in turn: the index
/// of the first it satisfies and what it says, or why none matched (the last reason).
pub fn check_keyless(
    bundle: &Bundle,
    digest: &str,
    identities: &[Identity],
    root: &TrustedRoot,
) -> std::result::Result<(usize, Verified), String> {
    let mut why = String::from("no keyless identity is trusted (pass --certificate-identity and --certificate-oidc-issuer)");
    for (i, id) in identities.iter().enumerate() {
        match verify(bundle, Subject::Sha256(digest), &Expected::Identity(id), root) {
            Ok(v) => return Ok((i, v)),
            Err(e) => why = format!("{e:#}"),
        }
    }
    Err(why)
}

/// The certificate's SAN, issuer and CI claims against an identity rule (regular expressions are
/// matched here; exact values were required of the verifier already, and are checked again).
fn check_identity(r: &sigstore_verify::VerificationResult, id: &Identity) -> Result<()> {
    let san = r.identity().map(|i| i.as_str()).unwrap_or("");
    if !id.san.matches(san) {
        return Err(crate::error::finding(format!("the certificate names `{san}`, not {}", id.san)));
    }
    let issuer = r.issuer().unwrap_or("");
    if !id.issuer.matches(issuer) {
        return Err(crate::error::finding(format!("the certificate's OIDC issuer is `{issuer}`, not {}", id.issuer)));
    }
    let claims = r.certificate().map(|c| &c.ci_claims);
    for (name, want) in &id.claims {
        let got = claims.and_then(|c| claim(c, name)).unwrap_or_default();
        if !want.matches(&got) {
            return Err(crate::error::finding(format!("the certificate's {name} is `{got}`, not {want}")));
        }
    }
    Ok(())
}

/// The Fulcio CI claims a policy may require, by the names Fulcio's documentation gives them.
pub const CLAIMS: [&str; 8] = [
    "source-repository-uri",
    "source-repository-ref",
    "source-repository-digest",
    "build-signer-uri",
    "build-config-uri",
    "build-trigger",
    "runner-environment",
    "run-invocation-uri",
];

fn claim(c: &sigstore_verify::crypto::x509::FulcioCiClaims, name: &str) -> Option<String> {
    match name {
        "source-repository-uri" => c.source_repository_uri.clone(),
        "source-repository-ref" => c.source_repository_ref.clone(),
        "source-repository-digest" => c.source_repository_digest.clone(),
        "build-signer-uri" => c.build_signer_uri.clone(),
        "build-config-uri" => c.build_config_uri.clone(),
        "build-trigger" => c.build_trigger.clone(),
        "runner-environment" => c.runner_environment.clone(),
        "run-invocation-uri" => c.run_invocation_uri.clone(),
        _ => None,
    }
}

/// The sigstore-conformance client protocol for verification (`examples/sigstore-conformance.rs`
/// is this function): `verify-bundle --bundle FILE (--certificate-identity ID
/// --certificate-oidc-issuer URL | --key PUB.pem) [--trusted-root FILE] FILE_OR_DIGEST`. Returns
/// the exit code: 0 only when verified.
pub fn conformance_main(args: &[String]) -> i32 {
    match conformance(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("not verified: {e:#}");
            1
        }
    }
}

fn conformance(args: &[String]) -> Result<()> {
    let mut it = args.iter();
    if it.next().map(String::as_str) != Some("verify-bundle") {
        bail!(
            "usage: verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key PUB) [--trusted-root FILE] FILE_OR_DIGEST"
        );
    }
    let (mut bundle, mut identity, mut issuer, mut key, mut root, mut subject) = (None, None, None, None, None, None);
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| anyhow!("{a} needs a value"));
        match a.as_str() {
            "--bundle" => bundle = Some(value()?),
            "--certificate-identity" => identity = Some(value()?),
            "--certificate-oidc-issuer" => issuer = Some(value()?),
            "--key" => key = Some(value()?),
            "--trusted-root" => root = Some(value()?),
            other if other.starts_with("--") => bail!("unknown flag {other}"),
            other => subject = Some(other.to_string()),
        }
    }
    let bundle_file = bundle.ok_or_else(|| anyhow!("--bundle is required"))?;
    let json = std::fs::read_to_string(&bundle_file).with_context(|| format!("{bundle_file}: cannot read"))?;
    let b = parse_bundle(&json, &bundle_file)?;
    let root = trusted_root(root.as_deref().map(Path::new))?;
    let subject = subject.ok_or_else(|| anyhow!("name the artifact: FILE or sha256:DIGEST"))?;
    let bytes;
    let subj = if subject.starts_with("sha256:") {
        Subject::Sha256(&subject)
    } else {
        bytes = std::fs::read(&subject).with_context(|| format!("{subject}: cannot read"))?;
        Subject::Bytes(&bytes)
    };
    match (key, identity, issuer) {
        (Some(k), None, None) => {
            let pem = std::fs::read_to_string(&k).with_context(|| format!("{k}: cannot read"))?;
            let der = DerPublicKey::from_pem(&pem).map_err(|e| anyhow!("{k}: not a PEM public key: {e}"))?;
            verify(&b, subj, &Expected::Key { der: der.as_bytes(), require_tlog: true }, &root)?;
        }
        (None, Some(san), Some(iss)) => {
            let id = Identity { san: Text::Exact(san), issuer: Text::Exact(iss), claims: Vec::new() };
            verify(&b, subj, &Expected::Identity(&id), &root)?;
        }
        _ => bail!("give --key, or --certificate-identity with --certificate-oidc-issuer"),
    }
    Ok(())
}
