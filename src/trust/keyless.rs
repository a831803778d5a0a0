//! Keyless signing (Sigstore): an OIDC identity token from the CI job, an ephemeral key, a
//! short-lived Fulcio certificate naming the job, a Rekor entry, an RFC 3161 timestamp when the
//! signing config lists a TSA, all in one Sigstore bundle v0.3 around a DSSE envelope. Also the
//! transparency-log upload of key signatures (`--tlog-upload`, never by default): a DSSE bundle's
//! envelope ([`tlog_upload`]), a legacy simple-signing payload as cosign 2 logs it
//! ([`tlog_upload_legacy`]), and a legacy attestation's DSSE envelope as cosign 2 `attest` logs it
//! ([`tlog_upload_intoto`]).
//!
//! The protocol is sigstore-rust's signer (`sigstore-sign`, same family and version as the verifier
//! in [`super::sigstore`]): its `Signer::sign_raw_statement` makes the key, asks Fulcio
//! (`/api/v2/signingCert`, proof of possession over the token's email or subject), signs the DSSE
//! PAE, uploads a `dsse` 0.0.1 entry to a Rekor v1 log (`/api/v1/log/entries`; a `hashedrekord`
//! 0.0.2 entry on a Rekor v2 log), asks the TSA, and assembles the bundle from Rekor's answer
//! (inclusion proof, checkpoint, SET). What it does not do, and this module does:
//! * find the token: a file, `SIGSTORE_ID_TOKEN`, or GitHub Actions' token request
//!   ([`identity_token`]); its ambient detection needs `GITHUB_ACTIONS=true`/`GITLAB_CI=true`;
//! * sign with a signing config without a TSA (`SigningServices::from_signing_config` requires one;
//!   we then name Fulcio and Rekor ourselves, and the bundle's time is Rekor's integrated time);
//! * upload a DSSE envelope signed by a managed key: its `DsseEntry::new` takes a certificate only,
//!   so the request names the public key through the same type, read from JSON.
//!
//! Only the in-toto payload type is signed: `sign_raw_statement` fixes it, and a Sigstore verifier
//! matches the artifact through the statement's subject digest, which no other payload type has.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use sigstore_sign::oidc::IdentityToken;
use sigstore_sign::rekor::{DsseEntry, HashedRekord, RekorClient};
use sigstore_sign::reqwest;
use sigstore_sign::trust_root::SigningConfig;
use sigstore_sign::types::{Bundle, DerCertificate, KindVersion};
use sigstore_sign::{SigningContext, SigningServices};
use std::path::Path;

/// The only payload type signed: an in-toto Statement (the bundle format's, [`super::bundle`]).
pub use super::bundle::INTOTO_PAYLOAD_TYPE;
/// The audience Fulcio expects in identity tokens (GitLab `id_tokens: {aud: sigstore}`).
pub const AUDIENCE: &str = "sigstore";

/// A signing config: `--signing-config FILE`, else the embedded public-good one.
pub fn signing_config(file: Option<&Path>) -> Result<SigningConfig> {
    match file {
        None => {
            SigningConfig::from_json(super::sigstore::PUBLIC_GOOD_SIGNING_CONFIG).map_err(|e| anyhow!("the embedded signing config: {e}"))
        }
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("--signing-config {}: cannot read", p.display()))?;
            crate::yaml::check_depth(&text, p)?;
            SigningConfig::from_json(&text).map_err(|e| anyhow!("--signing-config {}: not a Sigstore signing config: {e}", p.display()))
        }
    }
}

/// The services a signing config names: Fulcio, the highest Rekor API version offered, and the TSA
/// when one is listed (Rekor v2 requires one: without a TSA, Rekor v1 when offered). Service URLs must use https, or http to a loopback
/// address (local stand-ins).
pub fn services(config: &SigningConfig) -> Result<SigningServices> {
    let services = if config.tsa_url().is_some() {
        SigningServices::from_signing_config(config).map_err(|e| anyhow!("the signing config: {e}"))?
    } else {
        let fulcio = config.fulcio_url().ok_or_else(|| anyhow!("the signing config names no valid Fulcio (caUrls)"))?;
        // Without a TSA only Rekor v1 attests the time: it, when offered; else (v2 only) the
        // check below says a TSA is needed.
        let rekor = config
            .rekor_url(Some(1))
            .or_else(|| config.rekor_url(None))
            .ok_or_else(|| anyhow!("the signing config names no valid Rekor (rekorTlogUrls)"))?;
        let version = sigstore_sign::rekor::RekorApiVersion::from_major(rekor.major_api_version).ok_or_else(|| {
            anyhow!("the signing config's Rekor {} speaks API v{}, not 1 or 2", crate::redact::url(&rekor.url), rekor.major_api_version)
        })?;
        SigningServices::new(&fulcio.url, &rekor.url).with_rekor(&rekor.url, version)
    };
    services.validate().map_err(|e| anyhow!("the signing config: {e}"))?;
    for url in [Some(services.fulcio_url()), Some(services.rekor_url()), services.tsa_url()].into_iter().flatten() {
        check_url(url)?;
    }
    Ok(services)
}

fn check_url(url: &str) -> Result<()> {
    let ok = reqwest::Url::parse(url)
        .is_ok_and(|u| u.scheme() == "https" || (u.scheme() == "http" && u.host_str().is_some_and(crate::store::registry::is_loopback)));
    if !ok {
        bail!(
            "signing service {}: only https (or http to 127.0.0.1) is used, as the identity token is sent there",
            crate::redact::url(url)
        );
    }
    Ok(())
}

/// Where the identity token comes from, in this order: the file given (`--identity-token FILE`),
/// `SIGSTORE_ID_TOKEN` (GitLab CI `id_tokens`, or any CI that sets it), GitHub Actions' token
/// request (`ACTIONS_ID_TOKEN_REQUEST_URL` with bearer `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience
/// `sigstore`; the workflow needs `permissions: id-token: write`). `env` reads the environment
/// (`std::env::var` in the CLI).
pub fn identity_token(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<IdentityToken> {
    let (jwt, source) = if let Some(f) = file {
        let t = std::fs::read_to_string(f).with_context(|| format!("--identity-token {}: cannot read", f.display()))?;
        (t, format!("--identity-token {}", f.display()))
    } else if let Some(t) = env("SIGSTORE_ID_TOKEN").filter(|t| !t.trim().is_empty()) {
        (t, "SIGSTORE_ID_TOKEN".to_string())
    } else if let (Some(url), Some(bearer)) = (env("ACTIONS_ID_TOKEN_REQUEST_URL"), env("ACTIONS_ID_TOKEN_REQUEST_TOKEN")) {
        (github_token(&url, &bearer)?, "GitHub Actions' token request".to_string())
    } else {
        bail!(
            "keyless signing needs an OIDC identity token: pass --identity-token FILE, set SIGSTORE_ID_TOKEN (GitLab: `id_tokens: {{SIGSTORE_ID_TOKEN: {{aud: sigstore}}}}`), or run in GitHub Actions with `permissions: id-token: write`"
        )
    };
    let token = IdentityToken::from_jwt(jwt.trim()).map_err(|e| anyhow!("{source}: not an identity token (JWT): {e}"))?;
    if !token.claims().aud.contains(AUDIENCE) {
        bail!("{source}: the token's audience is not `{AUDIENCE}`, which Fulcio requires (GitLab: `aud: sigstore` in id_tokens)");
    }
    if token.is_expired() {
        bail!("{source}: the identity token expired at {}", token.expiration());
    }
    Ok(token)
}

fn github_token(url: &str, bearer: &str) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        value: String,
    }
    check_url(url).context("ACTIONS_ID_TOKEN_REQUEST_URL")?;
    runtime()?.block_on(async {
        let answer = http()?
            .get(url)
            .bearer_auth(bearer)
            .query(&[("audience", AUDIENCE)])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| anyhow!("GitHub Actions' token request failed: {e}"))?
            .json::<Answer>()
            .await
            .map_err(|e| anyhow!("GitHub Actions' token request: unexpected answer: {e}"))?;
        Ok(answer.value)
    })
}

fn http() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("relbundle/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow!("cannot make an HTTP client: {e}"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

/// A keyless signature, made.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The Sigstore bundle v0.3 (JSON): DSSE envelope, Fulcio leaf certificate, Rekor entry with
    /// inclusion proof, checkpoint and SET, and the RFC 3161 timestamp if a TSA was asked.
    pub bundle: Vec<u8>,
    /// The certificate's SAN (the CI job's identity) and OIDC issuer, as Fulcio wrote them.
    pub identity: String,
    pub issuer: String,
    pub log_index: u64,
    /// The Rekor log written to (userinfo and secret query values redacted: printed and recorded).
    pub rekor_url: String,
    /// The Rekor API version of that log (1, or 2: a `hashedrekord` 0.0.2 entry, no SET).
    pub rekor_version: u32,
    pub timestamped: bool,
}

impl Signed {
    /// Where the signature was logged, for people: `Rekor v2 http://… at index 7`.
    pub fn logged(&self) -> String {
        format!("Rekor v{} {} at index {}", self.rekor_version, self.rekor_url, self.log_index)
    }
}

/// Sign a DSSE payload keylessly: `payload` is an in-toto Statement of `payload_type`
/// [`INTOTO_PAYLOAD_TYPE`], `token` from [`identity_token`], the services from [`services`].
/// Nothing is kept of the ephemeral key.
pub fn sign_keyless(payload: &[u8], payload_type: &str, token: IdentityToken, services: SigningServices) -> Result<Signed> {
    if payload_type != INTOTO_PAYLOAD_TYPE {
        bail!("keyless signing signs in-toto statements ({INTOTO_PAYLOAD_TYPE}), not `{payload_type}`");
    }
    // Printed and recorded: without userinfo or secret query values.
    let rekor_url = crate::redact::url(services.rekor_url());
    let rekor_version = services.rekor_api_version().major();
    let timestamped = services.tsa_url().is_some();
    let signer = SigningContext::new(services).with_http_client(http()?).signer(token);
    let bundle = runtime()?.block_on(signer.sign_raw_statement(payload)).map_err(|e| anyhow!("keyless signing failed: {e}"))?;
    let cert = bundle.signing_certificate().ok_or_else(|| anyhow!("keyless signing made a bundle without a certificate"))?;
    let (identity, issuer) = certificate_identity(cert)?;
    let log_index =
        bundle.verification_material.tlog_entries.first().map(|e| e.log_index.get()).ok_or_else(|| anyhow!("Rekor returned no entry"))?;
    let json = bundle.to_json().map_err(|e| anyhow!("cannot write the bundle: {e}"))?;
    Ok(Signed { bundle: json.into_bytes(), identity, issuer, log_index, rekor_url, rekor_version, timestamped })
}

/// The SAN and OIDC issuer of a Fulcio certificate.
pub fn certificate_identity(cert: &DerCertificate) -> Result<(String, String)> {
    let info = sigstore_sign::crypto::x509::parse_certificate_info(cert).map_err(|e| anyhow!("the signing certificate: {e}"))?;
    let identity = info.identity.map(|i| i.as_str().to_string()).ok_or_else(|| anyhow!("the signing certificate names no identity"))?;
    let issuer = info.issuer.ok_or_else(|| anyhow!("the signing certificate names no OIDC issuer"))?;
    Ok((identity, issuer))
}

/// `--tlog-upload` for a key-signed DSSE bundle: upload the envelope to the signing config's Rekor
/// v1 log as a `dsse` 0.0.1 entry whose verifier is the public key (`public_key_pem`, SPKI), and
/// return the bundle with the entry (inclusion proof, checkpoint, SET) added. The entry is what a
/// verifier that requires a log entry for a key (`Expected::Key { require_tlog: true }`) checks.
pub fn tlog_upload(bundle_json: &[u8], public_key_pem: &str, config: &SigningConfig) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(bundle_json).context("the bundle is not UTF-8")?;
    let mut bundle = Bundle::from_json(text).map_err(|e| anyhow!("not a Sigstore bundle: {e}"))?;
    let envelope = match &bundle.content {
        sigstore_sign::types::SignatureContent::DsseEnvelope(e) => e.clone(),
        _ => bail!("--tlog-upload uploads DSSE bundles; this bundle holds a message signature"),
    };
    let request: DsseEntry = serde_json::from_value(serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {
            "envelope": serde_json::to_string(&envelope)?,
            "verifiers": [base64::engine::general_purpose::STANDARD.encode(public_key_pem.replace("\r\n", "\n"))],
        }},
    }))
    .context("the Rekor dsse request")?;
    let client = rekor_client(config)?;
    let entry = runtime()?
        .block_on(client.create_dsse_entry(request))
        .map_err(|e| anyhow!("the transparency-log upload to {} failed: {e}", client.url()))?;
    let entry = entry.to_bundle_entry(KindVersion::DsseV001).map_err(|e| anyhow!("Rekor's answer: {e}"))?;
    bundle.verification_material.tlog_entries.push(entry);
    Ok(bundle.to_json().map_err(|e| anyhow!("cannot write the bundle: {e}"))?.into_bytes())
}

/// A client of the signing config's Rekor v1 log (https, or http to the loopback).
fn rekor_client(config: &SigningConfig) -> Result<RekorClient> {
    let rekor = config.rekor_url(Some(1)).ok_or_else(|| anyhow!("the signing config names no valid Rekor v1 log (rekorTlogUrls)"))?;
    check_url(&rekor.url)?;
    RekorClient::builder(&rekor.url).with_http_client(http()?).build().map_err(|e| anyhow!("Rekor client: {e}"))
}

/// The annotation cosign puts on a legacy signature layer for its transparency-log entry.
pub const COSIGN_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// `--tlog-upload` for a legacy (simple-signing) signature, as cosign 2 does: a `hashedrekord`
/// 0.0.1 entry (the payload's sha256, the signature `signature_b64`, the public key) in the
/// signing config's Rekor v1 log. Returns the value of the layer's [`COSIGN_BUNDLE_ANNOTATION`]:
/// `{"SignedEntryTimestamp", "Payload": {"body", "integratedTime", "logIndex", "logID"}}`.
pub fn tlog_upload_legacy(payload: &[u8], signature_b64: &str, public_key_pem: &str, config: &SigningConfig) -> Result<String> {
    use sha2::Digest;
    let b64 = base64::engine::general_purpose::STANDARD;
    let request: HashedRekord = serde_json::from_value(serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": crate::hashing::hex(&sha2::Sha256::digest(payload))}},
            "signature": {"content": signature_b64, "publicKey": {"content": b64.encode(public_key_pem.replace("\r\n", "\n"))}},
        },
    }))
    .context("the Rekor hashedrekord request")?;
    let client = rekor_client(config)?;
    let entry = runtime()?
        .block_on(client.create_entry(request))
        .map_err(|e| anyhow!("the transparency-log upload to {} failed: {e}", client.url()))?;
    Ok(cosign_bundle(&entry, KindVersion::HashedRekordV001)?.0)
}

/// `--tlog-upload` for a legacy attestation (the DSSE envelope JSON of a `.att` layer, byte for
/// byte as stored), as cosign 2 `attest` logs it: an `intoto` 0.0.2 entry in the signing config's
/// Rekor v1 log. Rekor's request sends the envelope's payload and each signature base64-encoded
/// once more, each signature with the public key (PEM) that verifies it, and the sha256 of the
/// envelope JSON (what cosign's verifier compares with the layer). Returns the value of the
/// layer's [`COSIGN_BUNDLE_ANNOTATION`] and the entry's log index.
pub fn tlog_upload_intoto(envelope_json: &[u8], public_key_pem: &str, config: &SigningConfig) -> Result<(String, u64)> {
    use sha2::Digest;
    let b64 = base64::engine::general_purpose::STANDARD;
    let env: serde_json::Value = serde_json::from_slice(envelope_json).context("not a DSSE envelope")?;
    let text = |v: &serde_json::Value, what: &str| v.as_str().map(String::from).ok_or_else(|| anyhow!("the DSSE envelope has no {what}"));
    let key = b64.encode(public_key_pem.replace("\r\n", "\n"));
    let mut sigs = Vec::new();
    for s in env["signatures"].as_array().into_iter().flatten() {
        let mut sig = serde_json::json!({"sig": b64.encode(text(&s["sig"], "signature")?), "publicKey": key});
        if let Some(id) = s["keyid"].as_str().filter(|id| !id.is_empty()) {
            sig["keyid"] = id.into();
        }
        sigs.push(sig);
    }
    if sigs.is_empty() {
        bail!("the DSSE envelope has no signature");
    }
    let (payload, payload_type) = (text(&env["payload"], "payload")?, text(&env["payloadType"], "payloadType")?);
    let request = serde_json::json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {"content": {
            "envelope": {"payload": b64.encode(payload), "payloadType": payload_type, "signatures": sigs},
            "hash": {"algorithm": "sha256", "value": crate::hashing::hex(&sha2::Sha256::digest(envelope_json))},
        }},
    });
    let (url, entry) = post_entry(config, &request)?;
    cosign_bundle(&entry, KindVersion::IntotoV002).with_context(|| format!("the transparency log {url}"))
}

/// POST a proposed entry to the signing config's Rekor v1 log (for the kinds its client has no
/// call for); Rekor's answer is `{uuid: entry}`.
fn post_entry(config: &SigningConfig, request: &serde_json::Value) -> Result<(String, sigstore_sign::rekor::LogEntry)> {
    let rekor = config.rekor_url(Some(1)).ok_or_else(|| anyhow!("the signing config names no valid Rekor v1 log (rekorTlogUrls)"))?;
    check_url(&rekor.url)?;
    let url = format!("{}/api/v1/log/entries", rekor.url.trim_end_matches('/'));
    let client = http()?;
    let (status, body) = runtime()?
        .block_on(async {
            let r = client.post(&url).json(request).send().await?;
            let status = r.status();
            Ok::<_, reqwest::Error>((status, r.bytes().await?))
        })
        .map_err(|e| anyhow!("the transparency-log upload to {url} failed: {e}"))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
        bail!("the transparency-log upload to {url} failed: {status}: {text}");
    }
    let entries: std::collections::BTreeMap<String, sigstore_sign::rekor::LogEntry> =
        serde_json::from_slice(&body).map_err(|e| anyhow!("the transparency log {url}: unexpected answer: {e}"))?;
    let entry = entries.into_values().next().ok_or_else(|| anyhow!("the transparency log {url} returned no entry"))?;
    Ok((url, entry))
}

/// A Rekor v1 entry as cosign keeps it in a layer's [`COSIGN_BUNDLE_ANNOTATION`]:
/// `{"SignedEntryTimestamp", "Payload": {"body", "integratedTime", "logIndex", "logID"}}`; and
/// its log index.
fn cosign_bundle(entry: &sigstore_sign::rekor::LogEntry, kind: KindVersion) -> Result<(String, u64)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let e = serde_json::to_value(entry.to_bundle_entry(kind).map_err(|e| anyhow!("Rekor's answer: {e}"))?)?;
    let int = |p: &str| e.pointer(p).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
    let log_id =
        e.pointer("/logId/keyId").and_then(|v| b64.decode(v.as_str()?).ok()).ok_or_else(|| anyhow!("Rekor's answer has no log id"))?;
    let index = int("/logIndex").ok_or_else(|| anyhow!("Rekor's answer has no log index"))?;
    let v = serde_json::json!({
        "SignedEntryTimestamp": e.pointer("/inclusionPromise/signedEntryTimestamp").ok_or_else(|| anyhow!("Rekor's answer has no SET"))?,
        "Payload": {
            "body": e["canonicalizedBody"],
            "integratedTime": int("/integratedTime").ok_or_else(|| anyhow!("Rekor's answer has no integrated time"))?,
            "logIndex": index,
            "logID": crate::hashing::hex(&log_id),
        },
    });
    Ok((v.to_string(), u64::try_from(index).context("Rekor's answer has a negative log index")?))
}
