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

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{CosignVerificationKey, SigStoreSigner, Signature, SigningScheme};
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
    let enc = kp.private_key_to_encrypted_pem(password).map_err(|e| anyhow!("cannot encrypt the key: {e}"))?;
    let public = kp.public_key_to_pem().map_err(|e| anyhow!("cannot export the public key: {e}"))?;
    write_file(&key, &enc.replace("\r\n", "\n"), 0o600)?;
    write_file(&pubk, &public.replace("\r\n", "\n"), 0o644)?;
    Ok((key, pubk))
}

/// One PEM block: (label, body bytes). Accepts CRLF and LF.
fn pem_block(text: &str, what: &str) -> Result<(String, Vec<u8>)> {
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
    pub fn sign(&self, payload: &[u8]) -> Result<String> {
        let der = self.signer.sign(payload).map_err(|e| anyhow!("signing failed: {e}"))?;
        Ok(b64().encode(der))
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

/// A public key to verify with, named by its file.
pub struct PublicKey {
    pub name: String,
    key: CosignVerificationKey,
}

pub fn load_public_key(path: &Path) -> Result<PublicKey> {
    let f = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("{f}: cannot read the public key"))?;
    let (label, _) = pem_block(&text, &f)?;
    if label != "PUBLIC KEY" {
        bail!("{f}: PEM label `{label}` is not a public key (expected PUBLIC KEY)");
    }
    let key = CosignVerificationKey::try_from_pem(text.as_bytes()).map_err(|e| anyhow!("{f}: not a usable public key: {e}"))?;
    Ok(PublicKey { name: f, key })
}

impl PublicKey {
    pub fn verifies(&self, payload: &[u8], signature_b64: &str) -> bool {
        self.key.verify_signature(Signature::Base64Encoded(signature_b64.as_bytes()), payload).is_ok()
    }
}

/// cosign's simple-signing payload, byte for byte as cosign writes it.
pub fn payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    let v = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    });
    serde_json::to_vec(&v).expect("a payload always serialises")
}

/// The parts of a simple-signing payload a verifier checks.
#[derive(Debug, Clone)]
pub struct Claims {
    pub docker_reference: String,
    pub digest: String,
    pub kind: String,
}

pub fn parse_payload(b: &[u8]) -> Result<Claims> {
    let v: serde_json::Value = serde_json::from_slice(b).map_err(|e| anyhow!("payload is not JSON: {e}"))?;
    let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(String::from);
    Ok(Claims {
        docker_reference: s("/critical/identity/docker-reference")
            .ok_or_else(|| anyhow!("payload lacks critical.identity.docker-reference"))?,
        digest: s("/critical/image/docker-manifest-digest")
            .ok_or_else(|| anyhow!("payload lacks critical.image.docker-manifest-digest"))?,
        kind: s("/critical/type").ok_or_else(|| anyhow!("payload lacks critical.type"))?,
    })
}

/// The repository part of a docker reference: without `:tag` and `@digest`.
pub fn repository_of(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i + 1..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

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

/// One layer of a `.sig` manifest: its descriptor, payload bytes and signature annotation.
#[derive(Debug, Clone)]
pub struct SigLayer {
    pub desc: crate::oci::Descriptor,
    pub payload: Vec<u8>,
    pub signature: Option<String>,
}

impl SigLayer {
    fn same_as(&self, other: &SigLayer) -> bool {
        self.desc.digest == other.desc.digest && self.signature == other.signature
    }
}

/// The signatures stored for a manifest digest: None when there is no `.sig` tag. Store errors
/// stay errors (a registry fault is never read as "unsigned"); payloads are digest-checked. A
/// malformed signature manifest is a finding: whoever wrote it, it signs nothing.
pub fn read_signatures(st: &dyn crate::store::Store, digest: &str) -> Result<Option<(crate::oci::Descriptor, Vec<SigLayer>)>> {
    let Some(d) = st.find_tag(&sig_tag(digest))? else { return Ok(None) };
    let what = format!("{}:{}", st.describe(), sig_tag(digest));
    let m = crate::oci::ImageManifest::from_bytes(&st.blob(&d)?, &what).map_err(|e| crate::error::finding(format!("{e:#}")))?;
    if m.layers.len() > MAX_SIGNATURES {
        return Err(crate::error::finding(format!("{what}: {} signature layers, over the limit of {MAX_SIGNATURES}", m.layers.len())));
    }
    let mut out: Vec<SigLayer> = Vec::new();
    for l in m.layers {
        // Signers of the same identity share a payload: fetch each payload blob once.
        if let Some(prev) = out.iter().find(|p| p.desc.digest == l.digest && p.desc.size == l.size) {
            let payload = prev.payload.clone();
            let signature = l.annotation(SIGNATURE_ANNOTATION).map(String::from);
            out.push(SigLayer { desc: l, payload, signature });
            continue;
        }
        if l.size > MAX_PAYLOAD {
            return Err(crate::error::finding(format!(
                "{what}: a signature payload is {} bytes, over the {} KiB limit",
                l.size,
                MAX_PAYLOAD >> 10
            )));
        }
        let payload = st.blob(&l)?;
        let signature = l.annotation(SIGNATURE_ANNOTATION).map(String::from);
        out.push(SigLayer { desc: l, payload, signature });
    }
    Ok(Some((d, out)))
}

/// Write a `.sig` manifest holding `layers` (payload blobs first, then config, manifest, tag).
fn write_signatures(st: &dyn crate::store::Store, digest: &str, layers: &[SigLayer]) -> Result<()> {
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
    // The `.sig` tag is mutable by design: every new signer moves it to a manifest with one more layer.
    st.tag(&sig_tag(digest), &md, true)?;
    Ok(())
}

/// Sign a stored manifest and append the signature to its `.sig` manifest (never replacing
/// another signer's). Returns false when this key had already signed this payload.
pub fn attach(st: &dyn crate::store::Store, digest: &str, identity: &str, signer: &Signer) -> Result<bool> {
    let payload = payload(identity, digest);
    let mine = PublicKey {
        name: "signing key".into(),
        key: CosignVerificationKey::try_from_pem(signer.public_pem.as_bytes()).map_err(|e| anyhow!("{e}"))?,
    };
    // Read, append and write back under the store's lock: a parallel signer waits, not overwrites.
    let _lock = st.lock()?;
    let mut layers = read_signatures(st, digest)?.map(|(_, l)| l).unwrap_or_default();
    let pd = crate::oci::Descriptor::new(SIMPLESIGNING_MEDIA_TYPE, &payload);
    if layers.iter().any(|l| l.desc.digest == pd.digest && l.signature.as_deref().is_some_and(|sig| mine.verifies(&payload, sig))) {
        return Ok(false);
    }
    let sig = signer.sign(&payload)?;
    let mut desc = pd;
    desc.annotations = Some(std::collections::BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), sig.clone())]));
    layers.push(SigLayer { desc, payload, signature: Some(sig) });
    write_signatures(st, digest, &layers)?;
    Ok(true)
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
        let p = payload("localhost:5000/lab/release", "sha256:acad39");
        assert_eq!(
            String::from_utf8(p).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"localhost:5000/lab/release"},"image":{"docker-manifest-digest":"sha256:acad39"},"type":"cosign container image signature"},"optional":null}"#
        );
    }
}
