//! Cosign-format keys and signatures, checked with independent implementations: skopeo 1.18
//! (containers-image, sigstoreSigned policies), openssl, and Python (PyNaCl, cryptography); plus a
//! tamper matrix in which every case is rejected with the right failure named.

mod common;
use common::registry::Registry;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn skopeo118() -> PathBuf {
    let p =
        std::env::var_os("RELBUNDLE_SKOPEO_SIGSTORE").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/skopeo-sigstore"));
    assert!(p.exists(), "{} is missing: run scripts/test (it runs scripts/install-skopeo-sigstore)", p.display());
    p
}

fn keygen(dir: &Path, prefix: &str, password: &str) -> (PathBuf, PathBuf) {
    run(bundle(dir).current_dir(dir).env("COSIGN_PASSWORD", password).args(["keygen", "--output-prefix", prefix])).ok();
    (dir.join(format!("{prefix}.key")), dir.join(format!("{prefix}.pub")))
}

/// skopeo 1.18 with a sigstoreSigned policy for `key`: Ok when it accepts the image.
fn skopeo_accepts(d: &Path, reg: &str, image: &str, key: &Path) -> Run {
    let rd = d.join("registries.d");
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(rd.join("local.yaml"), format!("docker:\n  {reg}:\n    use-sigstore-attachments: true\n")).unwrap();
    let policy = d.join("policy-verify.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{reg}":[{{"type":"sigstoreSigned","keyPath":"{}"}}]}}}}}}"#,
            key.display()
        ),
    )
    .unwrap();
    let out = d.join(format!("skopeo-out-{}", fastrand_name()));
    run(Command::new(skopeo118()).arg("--policy").arg(&policy).arg("--registries.d").arg(&rd).args([
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{image}"),
        &format!("dir:{}", out.display()),
    ]))
}

fn fastrand_name() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

fn verify(d: &Path, reference: &str, extra: &[&str]) -> Run {
    run(bundle(d).args(["verify", reference]).args(extra))
}

#[test]
fn keys_are_cosign_format_and_load_from_other_tools() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (key, pubk) = keygen(d, "cosign", "pa$$w0rd");
    let k = std::fs::read_to_string(&key).unwrap();
    assert!(k.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n") && !k.contains('\r'), "{k}");
    let p = std::fs::read_to_string(&pubk).unwrap();
    assert!(p.starts_with("-----BEGIN PUBLIC KEY-----\n") && !p.contains('\r'));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    // No overwrite without --force.
    let r = run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "x").args(["keygen"])).code(2);
    assert!(r.stderr.contains("already exists") && r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), k);
    run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "x").args(["keygen", "--force", "--output-prefix", "other"])).ok();

    // Python decrypts it independently (scrypt + nacl secretbox), and the key matches cosign.pub.
    let code = r#"
import base64, hashlib, json, sys, nacl.secret
from cryptography.hazmat.primitives import serialization
key, pub, pw = sys.argv[1], sys.argv[2], sys.argv[3].encode()
body = "".join(l for l in open(key).read().splitlines() if not l.startswith("-----"))
d = json.loads(base64.b64decode(body))
p = d["kdf"]["params"]
k = hashlib.scrypt(pw, salt=base64.b64decode(d["kdf"]["salt"]), n=p["N"], r=p["r"], p=p["p"], dklen=32, maxmem=256 << 20)
der = nacl.secret.SecretBox(k).decrypt(base64.b64decode(d["ciphertext"]), base64.b64decode(d["cipher"]["nonce"]))
priv = serialization.load_der_private_key(der, None)
mine = priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
assert mine == open(pub, "rb").read(), "public key differs"
print("N=%d curve=%s" % (p["N"], priv.curve.name))
"#;
    let r = py(code, &[key.to_str().unwrap(), pubk.to_str().unwrap(), "pa$$w0rd"]).ok();
    assert!(r.stdout.contains("curve=secp256r1") && r.stdout.contains("N=65536"), "keys are sealed as cosign seals them: {}", r.stdout);

    // Keys from skopeo 1.18 (ENCRYPTED COSIGN PRIVATE KEY, scrypt N=65536) and an empty password.
    std::fs::write(d.join("pass.txt"), "skopeo-pass\n").unwrap();
    run(Command::new(skopeo118()).current_dir(d).args(["generate-sigstore-key", "--output-prefix", "sk", "--passphrase-file", "pass.txt"]))
        .ok();
    assert!(std::fs::read_to_string(d.join("sk.private")).unwrap().contains("ENCRYPTED COSIGN PRIVATE KEY"));
    let (ek, _) = keygen(d, "empty", "");
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let layout = format!("oci:{}", d.join("l").display());
    run(bundle(d).args(["build", "--version", "1.0.0", "--output", &layout]).arg(repo.join("docproc"))).ok();
    let pf = d.join("pass.txt");
    run(bundle(d).args([
        "sign",
        &format!("{layout}:1.0.0"),
        "--key",
        d.join("sk.private").to_str().unwrap(),
        "--password-file",
        pf.to_str().unwrap(),
    ]))
    .ok();
    run(bundle(d).env("COSIGN_PASSWORD", "").args(["sign", &format!("{layout}:1.0.0"), "--key", ek.to_str().unwrap()])).ok();
    verify(
        d,
        &format!("{layout}:1.0.0"),
        &[
            "--key",
            d.join("sk.pub").to_str().unwrap(),
            "--key",
            d.join("empty.pub").to_str().unwrap(),
            "--min-signers",
            "2",
            "--identity",
            "docproc",
        ],
    )
    .ok();

    // A wrong password says so, naming the key; a truncated key says what is wrong.
    let r =
        run(bundle(d).env("COSIGN_PASSWORD", "nope").args(["sign", &format!("{layout}:1.0.0"), "--key", key.to_str().unwrap()])).code(2);
    assert!(r.stderr.contains(&format!("wrong password for {}", key.display())), "{}", r.stderr);
    let half = &k[..k.len() / 2];
    std::fs::write(d.join("trunc.key"), half).unwrap();
    let r = run(bundle(d).env("COSIGN_PASSWORD", "pa$$w0rd").args([
        "sign",
        &format!("{layout}:1.0.0"),
        "--key",
        d.join("trunc.key").to_str().unwrap(),
    ]))
    .code(2);
    assert!(r.stderr.contains("trunc.key") && r.stderr.contains("truncated"), "{}", r.stderr);
    let r = run(bundle(d).env_remove("COSIGN_PASSWORD").args(["sign", &format!("{layout}:1.0.0"), "--key", key.to_str().unwrap()])).code(2);
    assert!(r.stderr.contains("--password-file") && r.stderr.contains("COSIGN_PASSWORD"), "{}", r.stderr);
}

#[test]
fn skopeo_and_openssl_accept_our_signatures_and_we_accept_skopeos() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let reg = Registry::plain(&d.join("reg"));
    let (key, pubk) = keygen(d, "cosign", "pw");
    let (okey, opub) = keygen(d, "other", "pw");
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let dst = format!("{}/acme/docproc", reg.addr);
    let layout = format!("oci:{}", d.join("l").display());
    let r = run(bundle(d)
        .env("COSIGN_PASSWORD", "pw")
        .args(["build", "--version", "1.0.0", "--output", &layout, "--push", &dst, "--sign", "--key", key.to_str().unwrap()])
        .arg(repo.join("docproc")))
    .ok();
    let digest = built_digest(&r.stdout);
    // The same release from an unsigned layout (push carries signatures along, so the signed
    // layout would not do): unsigned, and signed by another key.
    let plain = format!("oci:{}", d.join("plain").display());
    run(bundle(d).args(["build", "--version", "1.0.0", "--output", &plain]).arg(repo.join("docproc"))).ok();
    run(bundle(d).args(["push", &format!("{plain}:1.0.0"), &format!("{}/acme/unsigned", reg.addr)])).ok();
    run(bundle(d).args(["push", &format!("{plain}:1.0.0"), &format!("{}/acme/otherkey:1.0.0", reg.addr)])).ok();
    run(bundle(d).env("COSIGN_PASSWORD", "pw").args([
        "sign",
        &format!("{}/acme/otherkey:1.0.0", reg.addr),
        "--key",
        okey.to_str().unwrap(),
    ]))
    .ok();

    // skopeo 1.18 (containers-image): accepts ours, rejects unsigned and other-key.
    skopeo_accepts(d, &reg.addr, &format!("{dst}:1.0.0"), &pubk).ok();
    skopeo_accepts(d, &reg.addr, &format!("{dst}@{digest}"), &pubk).ok();
    let r = skopeo_accepts(d, &reg.addr, &format!("{}/acme/unsigned:1.0.0", reg.addr), &pubk).code(1);
    assert!(r.stderr.contains("no signature exists"), "{}", r.stderr);
    let r = skopeo_accepts(d, &reg.addr, &format!("{}/acme/otherkey:1.0.0", reg.addr), &pubk).code(1);
    assert!(r.stderr.contains("signature verification failed"), "{}", r.stderr);
    skopeo_accepts(d, &reg.addr, &format!("{}/acme/otherkey:1.0.0", reg.addr), &opub).ok();

    // openssl checks the raw ECDSA signature over the payload bytes.
    let code = r#"
import base64, json, sys, urllib.request
reg, repo, digest, out = sys.argv[1:5]
def get(path, accept=None):
    req = urllib.request.Request(f"http://{reg}/v2/{repo}/{path}", headers={"Accept": accept} if accept else {})
    return urllib.request.urlopen(req).read()
m = json.loads(get("manifests/" + digest.replace(":", "-") + ".sig", "application/vnd.oci.image.manifest.v1+json"))
layer = m["layers"][0]
open(out + "/payload.json", "wb").write(get("blobs/" + layer["digest"]))
open(out + "/sig.der", "wb").write(base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"]))
print(json.loads(open(out + "/payload.json").read())["critical"]["image"]["docker-manifest-digest"])
"#;
    let r = py(code, &[&reg.addr, "acme/docproc", &digest, d.to_str().unwrap()]).ok();
    assert_eq!(r.stdout.trim(), digest);
    let r = sh(d, &format!("openssl dgst -sha256 -verify {} -signature sig.der payload.json", pubk.display())).ok();
    assert!(r.stdout.contains("Verified OK"));
    sh(d, &format!("! openssl dgst -sha256 -verify {} -signature sig.der payload.json", opub.display())).ok();

    // skopeo signs (its own key format) → bundle verify accepts.
    std::fs::write(d.join("sp.txt"), "skopass\n").unwrap();
    run(Command::new(skopeo118()).current_dir(d).args(["generate-sigstore-key", "--output-prefix", "sk", "--passphrase-file", "sp.txt"]))
        .ok();
    std::fs::write(d.join("push.json"), r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    run(Command::new(skopeo118()).current_dir(d).args([
        "--policy",
        "push.json",
        "--registries.d",
        "registries.d",
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--sign-by-sigstore-private-key",
        "sk.private",
        "--sign-passphrase-file",
        "sp.txt",
        &format!("oci:{}:1.0.0", d.join("plain").display()),
        &format!("docker://{}/acme/by-skopeo:1.0.0", reg.addr),
    ]))
    .ok();
    let sk = d.join("sk.pub");
    verify(d, &format!("{}/acme/by-skopeo:1.0.0", reg.addr), &["--key", sk.to_str().unwrap()]).ok();
    verify(d, &format!("{}/acme/by-skopeo@{digest}", reg.addr), &["--key", sk.to_str().unwrap()]).ok();
    let r = verify(d, &format!("{}/acme/by-skopeo:1.0.0", reg.addr), &["--key", pubk.to_str().unwrap()]).code(1);
    assert!(r.stdout.contains("FAIL  signatures"), "{}", r.stdout);

    // A second signer appends: both keys verify, and skopeo still accepts each key.
    run(bundle(d).env("COSIGN_PASSWORD", "pw").args(["sign", &format!("{dst}:1.0.0"), "--key", okey.to_str().unwrap()])).ok();
    let r = verify(
        d,
        &format!("{dst}:1.0.0"),
        &["--key", pubk.to_str().unwrap(), "--key", opub.to_str().unwrap(), "--min-signers", "2", "--json"],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["signers"].as_array().unwrap().len(), 2, "{v}");
    skopeo_accepts(d, &reg.addr, &format!("{dst}:1.0.0"), &pubk).ok();
    skopeo_accepts(d, &reg.addr, &format!("{dst}:1.0.0"), &opub).ok();
    // history counts the signatures and, given keys, names the signers.
    let h = run(bundle(d).args(["history", &dst, "--json", "--key", pubk.to_str().unwrap(), "--key", sk.to_str().unwrap()])).ok();
    let hv: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    // Two signers, each in both formats (the default): four stored signatures.
    assert_eq!(hv[0]["signatures"], 4, "{hv}");
    let signers = hv[0]["signers"].as_array().unwrap();
    assert!(signers.len() == 1 && signers[0].as_str().unwrap().ends_with(&format!("({})", pubk.display())), "{hv}");
    // Signing again with the same key changes nothing.
    let r =
        run(bundle(d).env("COSIGN_PASSWORD", "pw").args(["sign", &format!("{dst}:1.0.0"), "--key", key.to_str().unwrap(), "--json"])).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["added"], false, "{v}");

    // A mirror: push copies the signatures; verify needs --identity for the original repository.
    run(bundle(d).args(["push", &format!("{dst}:1.0.0"), &format!("{}/mirror/docproc", reg.addr)])).ok();
    let r = verify(d, &format!("{}/mirror/docproc:1.0.0", reg.addr), &["--key", pubk.to_str().unwrap()]).code(1);
    assert!(r.stdout.contains("is not `"), "{}", r.stdout);
    verify(d, &format!("{}/mirror/docproc:1.0.0", reg.addr), &["--key", pubk.to_str().unwrap(), "--identity", &dst]).ok();
    // pull and values take the same trust flags: from the mirror with --identity, and two signers.
    let mirror = format!("{}/mirror/docproc:1.0.0", reg.addr);
    let (k1, k2) = (pubk.to_str().unwrap(), opub.to_str().unwrap());
    let out = d.join("mirror-pull");
    let r = run(bundle(d).args(["pull", &mirror, "-o", out.to_str().unwrap(), "--key", k1])).code(1);
    assert!(r.stderr.contains("is not `") && !out.exists(), "{}", r.stderr);
    run(bundle(d).args(["pull", &mirror, "-o", out.to_str().unwrap(), "--key", k1, "--key", k2, "--min-signers", "2", "--identity", &dst]))
        .ok();
    assert!(out.join("bundle.yaml").exists());
    let r = run(bundle(d).args(["values", &mirror, "--key", k1, "--min-signers", "3"])).code(2);
    assert!(r.stderr.contains("--min-signers 3"), "{}", r.stderr);
    run(bundle(d).args(["values", &mirror, "--key", k1, "--key", k2, "--min-signers", "2", "--identity", &dst])).ok();
    // The layout was signed too (identity: the release name).
    verify(d, &format!("{layout}:1.0.0"), &["--key", pubk.to_str().unwrap(), "--identity", "docproc"]).ok();
}
