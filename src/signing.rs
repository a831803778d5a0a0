//! Keys and signatures in cosign's formats, so cosign, skopeo/containers-image, Kyverno and Flux
//! read what we write and we read what they write.
//!
//! * Private key: PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (or `ENCRYPTED COSIGN PRIVATE KEY`), whose body
//!   is JSON `{kdf: scrypt{N,r,p,salt}, cipher: nacl/secretbox{nonce}, ciphertext}` sealing a PKCS#8
//!   ECDSA P-256 key. We decrypt it ourselves (any sane scrypt N, an empty password, and a "wrong
//!   password" that is reported as such), then hand the key to the sigstore crate.
//! * Public key: SPKI `PUBLIC KEY` PEM.
//! * Payload: cosign's "simple signing" JSON naming the manifest digest; the signature is ASN.1 DER
//!   ECDSA-P256-SHA256 over the payload bytes, base64, in the `dev.cosignproject.cosign/signature`
//!   annotation of one layer per signature in a manifest tagged `sha256-<hex>.sig`.

use crate::trust::legacy::{SigLayer, read_signatures};
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{SigStoreSigner, SigningScheme};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const SIG_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
/// Largest payload we read (cosign payloads are a few hundred bytes).
pub const MAX_PAYLOAD: u64 = 64 << 10;
/// Most signature layers we look at in one `.sig` manifest.
pub const MAX_SIGNATURES: usize = 256;
const LABELS: [&str; 2] = ["ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"];
/// scrypt N above this would let a key file ask for gigabytes of memory.
const MAX_SCRYPT_LOG_N: u8 = 20;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The cosign tag of the signature manifest for a manifest digest.
pub fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// Where a password comes from: `--password-file`, else `COSIGN_PASSWORD` (empty allowed), else a
/// prompt when standard input is a terminal.
pub fn password(file: Option<&Path>, key: &Path, confirm: bool) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(f) = file {
        let b = std::fs::read(f).with_context(|| format!("--password-file {}: cannot read", f.display()))?;
        let mut s = b.as_slice();
        s = s.strip_suffix(b"\n").unwrap_or(s);
        s = s.strip_suffix(b"\r").unwrap_or(s);
        return Ok(Zeroizing::new(s.to_vec()));
    }
    if let Ok(p) = std::env::var("COSIGN_PASSWORD") {
        return Ok(Zeroizing::new(p.into_bytes()));
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password(format!("Password for {}: ", key.display())).context("cannot read the password")?;
        if confirm {
            let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
            if again != p {
                bail!("the passwords differ");
            }
        }
        return Ok(Zeroizing::new(p.into_bytes()));
    }
    bail!("{}: no password: pass --password-file FILE or set COSIGN_PASSWORD (empty for a key without one)", key.display())
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::Builder::new().prefix(".bundle-key-").tempfile_in(dir).with_context(|| format!("{}: cannot write", dir.display()))?;
    tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| anyhow!("{}: cannot write: {}", path.display(), e.error))?;
    Ok(())
}

/// Write `PREFIX.key` (mode 0600) and `PREFIX.pub`, with LF line endings as cosign writes them.
pub fn keygen(prefix: &str, password: &[u8], force: bool) -> Result<(PathBuf, PathBuf)> {
    let key = PathBuf::from(format!("{prefix}.key"));
    let pubk = PathBuf::from(format!("{prefix}.pub"));
    for p in [&key, &pubk] {
        if p.exists() && !force {
            bail!("{}: already exists; pass --force to overwrite it", p.display());
        }
    }
    let kp = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .and_then(|s| s.to_sigstore_keypair())
        .map_err(|e| anyhow!("key generation failed: {e}"))?;
    let der = kp.private_key_to_der().map_err(|e| anyhow!("cannot export the key: {e}"))?;
    let enc = encrypt_key(&der, password)?;
    let public = kp.public_key_to_pem().map_err(|e| anyhow!("cannot export the public key: {e}"))?;
    write_file(&key, &enc.replace("\r\n", "\n"), 0o600)?;
    write_file(&pubk, &public.replace("\r\n", "\n"), 0o644)?;
    Ok((key, pubk))
}

/// cosign's scrypt cost for new keys (`N`; r = 8, p = 1): what `cosign generate-key-pair` writes.
pub const SCRYPT_LOG_N: u8 = 16;

/// Seal a PKCS#8 private key the way cosign does: scrypt (N = 65536, r = 8, p = 1, 32-byte salt)
/// derives a nacl/secretbox key; the PEM body is the JSON cosign writes, labelled
/// `ENCRYPTED SIGSTORE PRIVATE KEY`.
pub fn encrypt_key(pkcs8_der: &[u8], password: &[u8]) -> Result<String> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| anyhow!("no randomness for the key's salt"))?;
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| anyhow!("no randomness for the key's nonce"))?;
    let params = scrypt::Params::new(SCRYPT_LOG_N, 8, 1).map_err(|e| anyhow!("scrypt parameters: {e}"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &params, key.as_mut()).map_err(|e| anyhow!("scrypt: {e}"))?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(key.as_ref()).map_err(|_| anyhow!("bad key length"))?;
    #[allow(deprecated)]
    let ct = cipher.encrypt(crypto_secretbox::Nonce::from_slice(&nonce), pkcs8_der).map_err(|_| anyhow!("cannot seal the key"))?;
    let body = serde_json::json!({
        "kdf": {"name": "scrypt", "params": {"N": 1u32 << SCRYPT_LOG_N, "r": 8, "p": 1}, "salt": b64().encode(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64().encode(nonce)},
        "ciphertext": b64().encode(ct),
    });
    let b = b64().encode(serde_json::to_vec(&body)?);
    let mut pem = String::from("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
    for line in b.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
    Ok(pem)
}

/// One PEM block: (label, body bytes). Accepts CRLF and LF.
pub fn pem_block(text: &str, what: &str) -> Result<(String, Vec<u8>)> {
    let begin = text.find("-----BEGIN ").ok_or_else(|| anyhow!("{what}: not a PEM file (no -----BEGIN line)"))?;
    let rest = &text[begin + 11..];
    let label_end = rest.find("-----").ok_or_else(|| anyhow!("{what}: malformed PEM header"))?;
    let label = rest[..label_end].to_string();
    let end_marker = format!("-----END {label}-----");
    let body_start = label_end + 5;
    let end = rest.find(&end_marker).ok_or_else(|| anyhow!("{what}: the PEM block `{label}` has no END line (truncated?)"))?;
    let body: String = rest[body_start..end].chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = b64().decode(body).map_err(|_| anyhow!("{what}: the PEM body is not base64 (truncated?)"))?;
    Ok((label, bytes))
}

#[derive(serde::Deserialize)]
struct EncryptedKey {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}
#[derive(serde::Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}
#[derive(serde::Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}
#[derive(serde::Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// A private key, ready to sign.
pub struct Signer {
    signer: SigStoreSigner,
    pub public_pem: String,
}

impl Signer {
    /// An ASN.1 DER ECDSA signature over `payload`, base64 (the legacy annotation's form).
    pub fn sign(&self, payload: &[u8]) -> Result<String> {
        Ok(b64().encode(self.sign_raw(payload)?))
    }

    /// An ASN.1 DER ECDSA signature over `payload` (a DSSE envelope's form, before base64).
    pub fn sign_raw(&self, payload: &[u8]) -> Result<Vec<u8>> {
        self.signer.sign(payload).map_err(|e| anyhow!("signing failed: {e}"))
    }
}

/// Load a cosign-format encrypted private key.
pub fn load_private_key(path: &Path, password: &[u8]) -> Result<Signer> {
    let f = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("{f}: cannot read the key"))?;
    let (label, body) = pem_block(&text, &f.to_string())?;
    if !LABELS.contains(&label.as_str()) {
        bail!(
            "{f}: PEM label `{label}` is not a cosign private key (expected ENCRYPTED SIGSTORE PRIVATE KEY or ENCRYPTED COSIGN PRIVATE KEY)"
        );
    }
    let k: EncryptedKey =
        serde_json::from_slice(&body).with_context(|| format!("{f}: not a cosign encrypted key (bad JSON inside the PEM)"))?;
    if k.kdf.name != "scrypt" || k.cipher.name != "nacl/secretbox" {
        bail!("{f}: unsupported key encryption {}/{} (expected scrypt + nacl/secretbox)", k.kdf.name, k.cipher.name);
    }
    let n = k.kdf.params.n;
    if !n.is_power_of_two()
        || n < 2
        || n.trailing_zeros() as u8 > MAX_SCRYPT_LOG_N
        || k.kdf.params.r == 0
        || k.kdf.params.r > 32
        || k.kdf.params.p == 0
        || k.kdf.params.p > 16
    {
        bail!("{f}: scrypt parameters N={n} r={} p={} are out of range", k.kdf.params.r, k.kdf.params.p);
    }
    let salt = b64().decode(&k.kdf.salt).with_context(|| format!("{f}: bad salt"))?;
    let nonce = b64().decode(&k.cipher.nonce).with_context(|| format!("{f}: bad nonce"))?;
    let ct = b64().decode(&k.ciphertext).with_context(|| format!("{f}: bad ciphertext"))?;
    if nonce.len() != 24 {
        bail!("{f}: the secretbox nonce must be 24 bytes");
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, k.kdf.params.r, k.kdf.params.p)
        .map_err(|e| anyhow!("{f}: scrypt parameters: {e}"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &params, key.as_mut()).map_err(|e| anyhow!("{f}: scrypt: {e}"))?;
    use crypto_secretbox::aead::{Aead, KeyInit};
    let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(key.as_ref()).map_err(|_| anyhow!("{f}: bad key length"))?;
    #[allow(deprecated)]
    let nonce = crypto_secretbox::Nonce::from_slice(&nonce);
    let der = Zeroizing::new(cipher.decrypt(nonce, ct.as_slice()).map_err(|_| anyhow!("wrong password for {f}"))?);
    let kp = SigStoreKeyPair::from_der(&der).map_err(|e| anyhow!("{f}: the decrypted key is not a PKCS#8 private key: {e}"))?;
    let signer = kp.to_sigstore_signer(&SigningScheme::ECDSA_P256_SHA256_ASN1).map_err(|e| anyhow!("{f}: not an ECDSA P-256 key: {e}"))?;
    let public_pem = kp.public_key_to_pem().map_err(|e| anyhow!("{f}: {e}"))?.replace("\r\n", "\n");
    Ok(Signer { signer, public_pem })
}

/// cosign's simple-signing payload, byte for byte as cosign writes it: `optional` holds the
/// annotations (`-a KEY=VALUE`), or is null without any.
pub fn payload(docker_reference: &str, digest: &str, annotations: &std::collections::BTreeMap<String, String>) -> Vec<u8> {
    let optional = if annotations.is_empty() { serde_json::Value::Null } else { serde_json::json!(annotations) };
    let v = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": optional,
    });
    serde_json::to_vec(&v).expect("a payload always serialises")
}

pub use crate::reference::repository_of;

/// The config blob cosign writes for a signature manifest (verifiers ignore it).
pub fn sig_config(layer_digests: &[String]) -> Vec<u8> {
    let v = serde_json::json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": layer_digests},
    });
    serde_json::to_vec(&v).expect("config serialises")
}

/// Write a `.sig` manifest holding `layers` (payload blobs first, then config, manifest, tag).
fn write_signatures(st: &dyn crate::store::Store, digest: &str, layers: &[SigLayer]) -> Result<()> {
    write_tagged(st, &sig_tag(digest), layers)
}

/// Write a cosign tag-based attachment manifest (`.sig`, `.att`) holding `layers`: their blobs
/// first, then cosign's config, the manifest, and the tag last.
pub fn write_tagged(st: &dyn crate::store::Store, tag: &str, layers: &[SigLayer]) -> Result<()> {
    use crate::oci::{Descriptor, ImageManifest};
    for l in layers {
        if !st.has_blob(&l.desc)? {
            st.put_blob(&l.desc, &l.payload)?;
        }
    }
    let config = sig_config(&layers.iter().map(|l| l.desc.digest.clone()).collect::<Vec<_>>());
    let cd = Descriptor::new(SIG_CONFIG_MEDIA_TYPE, &config);
    if !st.has_blob(&cd)? {
        st.put_blob(&cd, &config)?;
    }
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(crate::spec::OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: cd,
        layers: layers.iter().map(|l| l.desc.clone()).collect(),
        subject: None,
        annotations: None,
    }
    .to_bytes();
    let md = Descriptor::new(crate::spec::OCI_MANIFEST, &m);
    st.put_manifest(&md, &m)?;
    // The tag is mutable by design: every new signer moves it to a manifest with one more layer.
    st.tag(tag, &md, true)?;
    Ok(())
}

/// Sign a stored manifest and append the signature to its `.sig` manifest (never replacing
/// another signer's). With `tlog` (`--tlog-upload`) the signature is logged in the signing
/// config's Rekor and the layer carries the entry as cosign does (`dev.sigstore.cosign/bundle`). Returns false when this key has a valid signature of this digest in this
/// repository already (whatever its tag or annotations): re-signing is a no-op, by tag or by
/// digest. A signature naming another repository (a layout's name, a mirror) does not count.
pub fn attach(
    st: &dyn crate::store::Store,
    digest: &str,
    identity: &str,
    annotations: &std::collections::BTreeMap<String, String>,
    signer: &Signer,
    tlog: Option<&sigstore_sign::trust_root::SigningConfig>,
) -> Result<bool> {
    use crate::trust::keyless::COSIGN_BUNDLE_ANNOTATION;
    let payload = payload(identity, digest, annotations);
    let mine = crate::trust::TrustedKey::from_pem(&signer.public_pem, "the signing key")?;
    // Read, append and write back under the store's lock: a parallel signer waits, not overwrites.
    let _lock = st.lock()?;
    let mut layers = read_signatures(st, digest)?.map(|(_, l)| l).unwrap_or_default();
    let signed_already = layers.iter().any(|l| {
        (tlog.is_none() || l.desc.annotation(COSIGN_BUNDLE_ANNOTATION).is_some())
            && l.signature.as_deref().is_some_and(|sig| mine.verifies(&l.payload, sig))
            && crate::trust::legacy::parse_payload(&l.payload)
                .is_ok_and(|c| c.digest == digest && repository_of(&c.docker_reference) == repository_of(identity))
    });
    if signed_already {
        return Ok(false);
    }
    let sig = signer.sign(&payload)?;
    let mut desc = crate::oci::Descriptor::new(SIMPLESIGNING_MEDIA_TYPE, &payload);
    let mut ann = std::collections::BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), sig.clone())]);
    if let Some(config) = tlog {
        ann.insert(
            COSIGN_BUNDLE_ANNOTATION.to_string(),
            crate::trust::keyless::tlog_upload_legacy(&payload, &sig, &signer.public_pem, config)?,
        );
    }
    desc.annotations = Some(ann);
    layers.push(SigLayer { desc, payload, signature: Some(sig) });
    write_signatures(st, digest, &layers)?;
    Ok(true)
}

/// Which signature formats `sign` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A Sigstore bundle stored as an OCI 1.1 referrer (cosign v3's default; Kyverno,
    /// policy-controller and Flux read it; cosign 2.x only with `verify-attestation`).
    Bundle,
    /// cosign's `sha256-<hex>.sig` tag (cosign 2.x `verify`, skopeo/podman policies).
    Legacy,
    /// Both, so every verifier in use finds a signature.
    Both,
}

/// The default of `sign --format` and of `build --sign`: both formats. cosign v3 signs bundles
/// and Kyverno, policy-controller and Flux read them, while cosign 2.x `verify` and
/// skopeo/podman policies read only the `.sig` tag; with both, every verifier in use finds a
/// signature (one per key counts once).
pub const DEFAULT_FORMAT: Format = Format::Both;

impl Format {
    pub fn legacy(self) -> bool {
        matches!(self, Format::Legacy | Format::Both)
    }
    pub fn bundle(self) -> bool {
        matches!(self, Format::Bundle | Format::Both)
    }
}

/// Sign a stored manifest in the Sigstore bundle format and list the bundle as a referrer of it
/// (a registry's referrers API, else the referrers tag; a layout's index.json). With `tlog` (the
/// signing config of `--tlog-upload`) the DSSE envelope is first logged in its Rekor, and the
/// bundle keeps the entry. Returns None when this key has a valid bundle signature of this digest
/// naming this repository already (with a log entry, if one is asked for); else the log index.
pub fn attach_bundle(
    st: &dyn crate::store::Store,
    subject: &crate::oci::Descriptor,
    identity: &str,
    annotations: &std::collections::BTreeMap<String, String>,
    signer: &Signer,
    tlog: Option<&sigstore_sign::trust_root::SigningConfig>,
) -> Result<Option<Option<u64>>> {
    use crate::trust::bundle;
    let digest = &subject.digest;
    let repository = repository_of(identity);
    let mine = crate::trust::TrustedKey::from_pem(&signer.public_pem, "the signing key")?;
    let fingerprint = mine.fingerprint.clone();
    let mut keys = crate::trust::KeySet::default();
    keys.add(mine);
    let only_mine = crate::trust::Policy::of_keys(keys, vec![repository.to_string()]);
    let _lock = st.lock()?;
    // Re-signing is a no-op: a valid bundle by this key for this digest and repository exists.
    let found = crate::trust::referrers::find(st, digest)?;
    for r in found.referrers.iter().filter(|r| bundle::is_bundle(&r.manifest)) {
        // The signature is what is compared; its log entry (whose trusted root is the
        // verifier's to name) only has to be there when one is asked for.
        if let Ok(layer) = bundle::bundle_layer(&r.manifest)
            && let Ok(bytes) = st.blob(layer)
            && let Some((offline, logged)) = without_tlog(&bytes)
            && (logged || tlog.is_none())
            && bundle::check(&offline, digest, &only_mine).is_ok()
        {
            // Listed where this store lists referrers? (A copy may have left it only in one place.)
            st.add_referrer(digest, &referrer_descriptor(&r.manifest, &r.desc))?;
            return Ok(None);
        }
    }
    let payload = bundle::statement(repository, digest, annotations);
    let signature = signer.sign_raw(&bundle::pae(&payload))?;
    let mut json = bundle::bundle_json(&payload, &signature, &fingerprint)?;
    let mut index = None;
    if let Some(config) = tlog {
        json = crate::trust::keyless::tlog_upload(&json, &signer.public_pem, config)?;
        index = without_tlog(&json).and(log_index(&json));
    }
    store_bundle(st, subject, &json, bundle::SIGN_PREDICATE)?;
    Ok(Some(index))
}

/// Bundle JSON without its transparency-log entries, and whether it had any.
pub fn without_tlog(bytes: &[u8]) -> Option<(Vec<u8>, bool)> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let vm = v.get_mut("verificationMaterial")?.as_object_mut()?;
    let had = vm.remove("tlogEntries").is_some_and(|e| e.as_array().is_some_and(|a| !a.is_empty()));
    Some((serde_json::to_vec(&v).ok()?, had))
}

/// The log index of a bundle's first transparency-log entry.
pub fn log_index(bytes: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let i = v.pointer("/verificationMaterial/tlogEntries/0/logIndex")?;
    i.as_u64().or_else(|| i.as_str()?.parse().ok())
}

/// Where a keyless signature's OIDC token and Sigstore services come from.
#[derive(Debug, Clone, Default)]
pub struct Keyless {
    /// `--identity-token FILE`; else SIGSTORE_ID_TOKEN, else GitHub Actions' token request.
    pub token: Option<std::path::PathBuf>,
    /// `--signing-config FILE`; else the embedded public-good one.
    pub config: Option<std::path::PathBuf>,
}

/// Sign a stored manifest keylessly (an ephemeral key, a Fulcio certificate for the OIDC token's
/// identity, a Rekor entry, an RFC 3161 timestamp when the signing config lists a TSA) in the
/// bundle format, and list the bundle as a referrer. Returns what was signed: the certificate's
/// identity and issuer, the log entry.
pub fn attach_keyless(
    st: &dyn crate::store::Store,
    subject: &crate::oci::Descriptor,
    identity: &str,
    annotations: &std::collections::BTreeMap<String, String>,
    k: &Keyless,
) -> Result<crate::trust::keyless::Signed> {
    use crate::trust::{bundle, keyless};
    let config = keyless::signing_config(k.config.as_deref())?;
    let services = keyless::services(&config)?;
    let token = keyless::identity_token(k.token.as_deref(), &|v| std::env::var(v).ok())?;
    let payload = bundle::statement(repository_of(identity), &subject.digest, annotations);
    let signed = keyless::sign_keyless(&payload, bundle::INTOTO_PAYLOAD_TYPE, token, services)?;
    let _lock = st.lock()?;
    store_bundle(st, subject, &signed.bundle, bundle::SIGN_PREDICATE)?;
    Ok(signed)
}

/// Store bundle JSON (whose statement has `predicate_type`) as a referrer of `subject`: the empty
/// config and the bundle layer, the manifest by digest (no tag), then its listing (the referrers
/// API, the referrers tag, or a layout's index.json).
pub fn store_bundle(st: &dyn crate::store::Store, subject: &crate::oci::Descriptor, json: &[u8], predicate_type: &str) -> Result<()> {
    use crate::oci::Descriptor;
    use crate::trust::bundle;
    let digest = &subject.digest;
    let layer = Descriptor::new(bundle::BUNDLE_MEDIA_TYPE, json);
    let config = Descriptor::new(bundle::EMPTY_MEDIA_TYPE, bundle::EMPTY_CONFIG);
    for (d, b) in [(&config, bundle::EMPTY_CONFIG), (&layer, json)] {
        if !st.has_blob(d)? {
            st.put_blob(d, b)?;
        }
    }
    let m = bundle::referrer_manifest_for(subject, &layer, predicate_type);
    let bytes = m.to_bytes();
    let desc = Descriptor::new(crate::spec::OCI_MANIFEST, &bytes);
    // By digest, no tag: the referrer is found from its subject.
    st.put_manifest(&desc, &bytes)?;
    st.add_referrer(digest, &referrer_descriptor(&m, &desc))?;
    Ok(())
}

/// A referrer's listing descriptor: its digest and size, with the manifest's artifactType and
/// annotations.
pub fn referrer_descriptor(m: &crate::oci::ImageManifest, d: &crate::oci::Descriptor) -> crate::oci::Descriptor {
    let mut out = crate::store::referrers::listing_entry(d);
    out.artifact_type = m.artifact_type.clone().or_else(|| Some(m.config.media_type.clone()));
    out.annotations = m.annotations.clone();
    out
}

/// Copy the signatures of `digest` from one store to another, merged with any the destination
/// already has. Returns how many were added.
pub fn copy_signatures(src: &dyn crate::store::Store, dst: &dyn crate::store::Store, digest: &str) -> Result<usize> {
    let Some((_, from)) = read_signatures(src, digest)? else { return Ok(0) };
    let _lock = dst.lock()?;
    let mut layers = read_signatures(dst, digest)?.map(|(_, l)| l).unwrap_or_default();
    let before = layers.len();
    for l in from {
        if !layers.iter().any(|x| x.same_as(&l)) {
            layers.push(l);
        }
    }
    if layers.len() > before {
        write_signatures(dst, digest, &layers)?;
    }
    Ok(layers.len() - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_parts() {
        assert_eq!(repository_of("localhost:5000/lab/x:1.0"), "localhost:5000/lab/x");
        assert_eq!(repository_of("localhost:5000/lab/x"), "localhost:5000/lab/x");
        assert_eq!(repository_of("r.io/x@sha256:aa"), "r.io/x");
        assert_eq!(sig_tag("sha256:abc"), "sha256-abc.sig");
    }

    #[test]
    fn payload_bytes_match_cosign() {
        let p = payload("localhost:5000/lab/release", "sha256:acad39", &Default::default());
        assert_eq!(
            String::from_utf8(p).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"localhost:5000/lab/release"},"image":{"docker-manifest-digest":"sha256:acad39"},"type":"cosign container image signature"},"optional":null}"#
        );
        let a = std::collections::BTreeMap::from([("team".to_string(), "ml".to_string()), ("env".to_string(), "prod".to_string())]);
        let p = String::from_utf8(payload("r.io/x", "sha256:ab", &a)).unwrap();
        assert!(p.ends_with(r#""optional":{"env":"prod","team":"ml"}}"#), "{p}");
    }
}
