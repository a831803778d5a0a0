//! Keyless signing (`relbundle::trust::keyless`) against local stand-ins for Fulcio, Rekor (v1, v2) and
//! an RFC 3161 TSA (scripts/sigstore-standin.py, 127.0.0.1 only, test keys), proven by an
//! independent verifier: sigstore-python (`sigstore verify identity --offline` with the stand-ins'
//! trust config), and by our own `trust::sigstore::verify`. Then what each must refuse.

mod common;
use common::standin::{GITHUB_ISSUER, GITHUB_SAN, GITLAB_ISSUER, GITLAB_SAN, SHA, Standin, github_claims, gitlab_claims};
use common::*;
use relbundle::trust::keyless;
use relbundle::trust::sigstore::{self as ss, Expected, Identity, Subject, Text};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a release signature signs: the bundle format's in-toto statement naming the manifest digest.
fn statement(digest_hex: &str) -> Vec<u8> {
    relbundle::trust::bundle::statement("registry.example/acme/docproc", digest_hex, &Default::default())
}

fn digest_of(s: &str) -> String {
    relbundle::hashing::sha256_digest(s.as_bytes()).trim_start_matches("sha256:").to_string()
}

/// Sign keylessly with a token given as a file.
fn sign(s: &Standin, tmp: &Path, claims: &serde_json::Value, config: &str, digest_hex: &str) -> keyless::Signed {
    let tok = tmp.join(format!("token-{}", fastrand::u64(..)));
    std::fs::write(&tok, s.token(claims)).unwrap();
    let token = keyless::identity_token(Some(&tok), &|_| None).unwrap();
    let services = keyless::services(&keyless::signing_config(Some(&s.file(config))).unwrap()).unwrap();
    keyless::sign_keyless(&statement(digest_hex), keyless::INTOTO_PAYLOAD_TYPE, token, services).unwrap()
}

fn identity(san: &str, issuer: &str) -> Identity {
    Identity { san: Text::Exact(san.into()), issuer: Text::Exact(issuer.into()), claims: Vec::new() }
}

/// Our verifier, with the stand-ins' trusted root.
fn ours(s: &Standin, bundle: &[u8], digest_hex: &str, id: &Identity) -> anyhow::Result<ss::Verified> {
    ours_with(&s.file("trusted_root.json"), bundle, digest_hex, id)
}

/// Our verifier, with the trusted root `root`.
fn ours_with(root: &Path, bundle: &[u8], digest_hex: &str, id: &Identity) -> anyhow::Result<ss::Verified> {
    let b = ss::parse_bundle(std::str::from_utf8(bundle).unwrap(), "bundle")?;
    let root = ss::trusted_root(Some(root))?;
    ss::verify(&b, Subject::Sha256(&format!("sha256:{digest_hex}")), &Expected::Identity(id), &root)
}

/// sigstore-python 4.x: `sigstore --trust-config TC verify identity --offline`.
fn sigstore_python(s: &Standin, tmp: &Path, bundle: &[u8], digest_hex: &str, san: &str, issuer: &str) -> Run {
    sigstore_python_with(&s.file("trust_config.json"), tmp, bundle, digest_hex, san, issuer)
}

/// sigstore-python with the trust config `tc` (a trusted root and a signing config).
fn sigstore_python_with(tc: &Path, tmp: &Path, bundle: &[u8], digest_hex: &str, san: &str, issuer: &str) -> Run {
    let b = tmp.join(format!("b-{}.sigstore.json", fastrand::u64(..)));
    std::fs::write(&b, bundle).unwrap();
    run(Command::new(python())
        .args(["-m", "sigstore", "--trust-config"])
        .arg(tc)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(&b)
        .args(["--cert-identity", san, "--cert-oidc-issuer", issuer])
        .arg(format!("sha256:{digest_hex}")))
}

#[test]
fn github_keyless_bundle_is_verified_by_sigstore_python_and_by_us() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Standin::start(&tmp.path().join("sigstore"), false);
    let digest = digest_of("release manifest 1");
    let signed = sign(&s, tmp.path(), &github_claims("release.yml"), "signing_config.json", &digest);
    assert_eq!((signed.identity.as_str(), signed.issuer.as_str()), (GITHUB_SAN, GITHUB_ISSUER));
    assert!(signed.timestamped);
    assert_eq!(signed.rekor_url, s.url);

    // What the bundle holds: v0.3, the DSSE envelope, the leaf certificate, the Rekor entry with its
    // proof, checkpoint and SET, and the TSA's timestamp.
    let b: serde_json::Value = serde_json::from_slice(&signed.bundle).unwrap();
    assert_eq!(b["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert_eq!(b["dsseEnvelope"]["payloadType"], "application/vnd.in-toto+json");
    assert_eq!(b["dsseEnvelope"]["signatures"].as_array().unwrap().len(), 1);
    let vm = &b["verificationMaterial"];
    assert!(vm["certificate"]["rawBytes"].is_string(), "{vm}");
    let entry = &vm["tlogEntries"][0];
    assert_eq!(entry["kindVersion"], serde_json::json!({"kind": "dsse", "version": "0.0.1"}));
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(entry["inclusionProof"]["checkpoint"]["envelope"].as_str().unwrap().contains("\n\n\u{2014} rekor.relbundle.test "));
    assert_eq!(vm["timestampVerificationData"]["rfc3161Timestamps"].as_array().unwrap().len(), 1);

    let py = sigstore_python(&s, tmp.path(), &signed.bundle, &digest, GITHUB_SAN, GITHUB_ISSUER);
    assert_eq!(py.code, 0, "sigstore-python refused our bundle:\n{}{}", py.stdout, py.stderr);
    // For a DSSE bundle it prints the verified statement, and `OK: SHA2_256:<hex>`.
    assert!(format!("{}{}", py.stdout, py.stderr).contains(&format!("OK: SHA2_256:{digest}")), "{}{}", py.stdout, py.stderr);
    assert!(py.stdout.contains(&digest), "{}", py.stdout);

    let v = ours(&s, &signed.bundle, &digest, &identity(GITHUB_SAN, GITHUB_ISSUER)).unwrap();
    assert_eq!(v.identity.as_deref(), Some(GITHUB_SAN));
    assert_eq!(v.log_index, Some(signed.log_index as i64));
    assert!(v.tlog);
    // A policy pinning the workflow on any v* tag of the repository, with Fulcio's CI claims.
    let pinned = Identity {
        san: Text::regex(
            r"https://github\.com/acme/docproc/\.github/workflows/release\.yml@refs/tags/v.*",
            "--certificate-identity-regexp",
        )
        .unwrap(),
        issuer: Text::Exact(GITHUB_ISSUER.into()),
        claims: vec![
            ("source-repository-uri".into(), Text::Exact("https://github.com/acme/docproc".into())),
            ("source-repository-ref".into(), Text::regex("refs/tags/v.*", "claim").unwrap()),
            ("source-repository-digest".into(), Text::Exact(SHA.into())),
            ("build-trigger".into(), Text::Exact("push".into())),
        ],
    };
    ours(&s, &signed.bundle, &digest, &pinned).unwrap();
    let branch = Identity { claims: vec![("build-trigger".into(), Text::Exact("workflow_dispatch".into()))], ..pinned };
    let e = ours(&s, &signed.bundle, &digest, &branch).unwrap_err();
    assert!(format!("{e:#}").contains("build-trigger is `push`"), "{e:#}");

    // Another subject digest: refused by both.
    let other = digest_of("another manifest");
    assert!(ours(&s, &signed.bundle, &other, &identity(GITHUB_SAN, GITHUB_ISSUER)).is_err());
    assert_ne!(sigstore_python(&s, tmp.path(), &signed.bundle, &other, GITHUB_SAN, GITHUB_ISSUER).code, 0);
}

#[test]
fn gitlab_token_from_sigstore_id_token_without_a_tsa() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Standin::start(&tmp.path().join("sigstore"), false);
    let jwt = s.token(&gitlab_claims());
    let env = |k: &str| (k == "SIGSTORE_ID_TOKEN").then(|| jwt.clone());
    let token = keyless::identity_token(None, &env).unwrap();
    let config = keyless::signing_config(Some(&s.file("signing_config.no-tsa.json"))).unwrap();
    let services = keyless::services(&config).unwrap();
    assert_eq!(services.tsa_url(), None);
    let digest = digest_of("release manifest 2");
    let signed = keyless::sign_keyless(&statement(&digest), keyless::INTOTO_PAYLOAD_TYPE, token, services).unwrap();
    assert_eq!((signed.identity.as_str(), signed.issuer.as_str()), (GITLAB_SAN, GITLAB_ISSUER));
    assert!(!signed.timestamped);
    let b: serde_json::Value = serde_json::from_slice(&signed.bundle).unwrap();
    assert!(b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"].as_array().is_none_or(|a| a.is_empty()));

    let py = sigstore_python(&s, tmp.path(), &signed.bundle, &digest, GITLAB_SAN, GITLAB_ISSUER);
    assert_eq!(py.code, 0, "sigstore-python refused our bundle:\n{}{}", py.stdout, py.stderr);
    let v = ours(&s, &signed.bundle, &digest, &identity(GITLAB_SAN, GITLAB_ISSUER)).unwrap();
    assert!(v.signed_at.is_some() && v.tlog, "{v:?}");
    // The GitLab pin of the README: the pipeline file at a v* tag of the project.
    let pinned = Identity {
        san: Text::regex(r"https://gitlab\.com/acme/docproc//\.gitlab-ci\.yml@refs/tags/v.*", "re").unwrap(),
        issuer: Text::Exact(GITLAB_ISSUER.into()),
        claims: vec![("source-repository-ref".into(), Text::Exact("refs/tags/v1.2.3".into()))],
    };
    ours(&s, &signed.bundle, &digest, &pinned).unwrap();
}

#[test]
fn github_actions_token_request_and_token_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Standin::start(&tmp.path().join("sigstore"), false);
    std::fs::write(s.file("github-claims.json"), github_claims("release.yml").to_string()).unwrap();
    let url = format!("{}/github-token?api-version=2.0", s.url);
    let gh = |bearer: &'static str| {
        let url = url.clone();
        move |k: &str| match k {
            "ACTIONS_ID_TOKEN_REQUEST_URL" => Some(url.clone()),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some(bearer.to_string()),
            _ => None,
        }
    };
    let token = keyless::identity_token(None, &gh("test-request-token")).unwrap();
    assert_eq!(token.subject(), "repo:acme/docproc:ref:refs/tags/v1.2.3");
    let services = keyless::services(&keyless::signing_config(Some(&s.file("signing_config.json"))).unwrap()).unwrap();
    let signed = keyless::sign_keyless(&statement(&digest_of("m")), keyless::INTOTO_PAYLOAD_TYPE, token, services).unwrap();
    assert_eq!(signed.identity, GITHUB_SAN);
    let requests = std::fs::read_to_string(s.file("requests.log")).unwrap();
    assert!(requests.contains("GET /github-token?api-version=2.0&audience=sigstore"), "{requests}");
    for path in ["/api/v2/signingCert", "/api/v1/log/entries", "/api/v1/timestamp"] {
        assert!(requests.contains(&format!("POST {path}\n")), "{requests}");
    }

    let e = keyless::identity_token(None, &gh("wrong")).unwrap_err();
    assert!(format!("{e:#}").contains("token request failed"), "{e:#}");
    let e = keyless::identity_token(None, &|_| None).unwrap_err();
    assert!(format!("{e:#}").contains("SIGSTORE_ID_TOKEN"), "{e:#}");
    let mut wrong_aud = gitlab_claims();
    wrong_aud["aud"] = "https://gitlab.com".into();
    let jwt = s.token(&wrong_aud);
    let e = keyless::identity_token(None, &|k: &str| (k == "SIGSTORE_ID_TOKEN").then(|| jwt.clone())).unwrap_err();
    assert!(format!("{e:#}").contains("audience is not `sigstore`"), "{e:#}");
    let mut expired = gitlab_claims();
    expired["exp"] = 1_600_000_000.into();
    let jwt = s.token(&expired);
    let e = keyless::identity_token(None, &|k: &str| (k == "SIGSTORE_ID_TOKEN").then(|| jwt.clone())).unwrap_err();
    assert!(format!("{e:#}").contains("expired"), "{e:#}");
    // A payload that is not an in-toto statement is not signed (nothing reaches Fulcio).
    let token = keyless::identity_token(None, &gh("test-request-token")).unwrap();
    let services = keyless::services(&keyless::signing_config(Some(&s.file("signing_config.json"))).unwrap()).unwrap();
    let e = keyless::sign_keyless(b"x", "text/plain", token, services).unwrap_err();
    assert!(format!("{e:#}").contains("in-toto"), "{e:#}");
    // Plain http to anything but the loopback is refused: the token would travel in clear.
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(s.file("signing_config.json")).unwrap()).unwrap();
    config["caUrls"][0]["url"] = "http://fulcio.example".into();
    std::fs::write(tmp.path().join("sc.json"), config.to_string()).unwrap();
    let e = keyless::services(&keyless::signing_config(Some(&tmp.path().join("sc.json"))).unwrap()).unwrap_err();
    assert!(format!("{e:#}").contains("only https"), "{e:#}");
    // The embedded public-good config names Fulcio, Rekor and the TSA.
    let public = keyless::services(&keyless::signing_config(None).unwrap()).unwrap();
    assert_eq!(public.fulcio_url(), "https://fulcio.sigstore.dev");
    assert!(public.tsa_url().is_some());
}

/// Edit a bundle's JSON.
fn edit(bundle: &[u8], f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn tampered_keyless_bundles_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Standin::start(&tmp.path().join("sigstore"), false);
    let digest = digest_of("release manifest 3");
    // Not the log's first entry: a one-leaf tree's inclusion proof has no hashes, which cosign's
    // Rekor model refuses ("nil value in transaction log entry"); a public log is never that small.
    sign(&s, tmp.path(), &github_claims("release.yml"), "signing_config.json", &digest_of("first entry"));
    let good = sign(&s, tmp.path(), &github_claims("release.yml"), "signing_config.json", &digest);
    let id = identity(GITHUB_SAN, GITHUB_ISSUER);
    ours(&s, &good.bundle, &digest, &id).unwrap();
    let mut cases: Vec<(&str, Vec<u8>, bool)> = Vec::new(); // (case, bundle, sigstore-python applies)

    // A certificate for another identity (another workflow of the same repository) or issuer.
    let other_workflow = sign(&s, tmp.path(), &github_claims("other.yml"), "signing_config.json", &digest);
    cases.push(("a certificate for another identity", other_workflow.bundle, true));
    let mut other_issuer = github_claims("release.yml");
    other_issuer["iss"] = "https://token.actions.example".into();
    let other_issuer = sign(&s, tmp.path(), &other_issuer, "signing_config.json", &digest);
    assert_eq!(other_issuer.identity, GITHUB_SAN);
    cases.push(("a certificate from another issuer", other_issuer.bundle, true));

    // A Rekor entry for another signature (a second, valid signing of the same statement).
    let second = sign(&s, tmp.path(), &github_claims("release.yml"), "signing_config.json", &digest);
    let second: serde_json::Value = serde_json::from_slice(&second.bundle).unwrap();
    let swapped = edit(&good.bundle, |b| b["verificationMaterial"]["tlogEntries"] = second["verificationMaterial"]["tlogEntries"].clone());
    cases.push(("a Rekor entry for another signature", swapped, true));

    // A SET that does not verify (one bit of the signature flipped).
    let bad_set = edit(&good.bundle, |b| {
        let set = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"];
        let mut raw = common_b64_decode(set.as_str().unwrap());
        let n = raw.len();
        raw[n - 5] ^= 1;
        *set = common_b64_encode(&raw).into();
    });
    cases.push(("a SET that does not verify", bad_set, true));

    // A checkpoint signed by a log the trusted root does not list.
    let b = tmp.path().join("good.json");
    std::fs::write(&b, &good.bundle).unwrap();
    let resigned = tmp.path().join("resigned.json");
    run(Command::new(python())
        .arg(repo_root().join("scripts/sigstore-standin.py"))
        .arg("resign-checkpoint")
        .arg(&s.dir)
        .arg(&b)
        .arg(&resigned))
    .ok();
    cases.push(("a checkpoint from an untrusted log", std::fs::read(&resigned).unwrap(), true));

    // The whole entry from an untrusted log (same Fulcio and TSA, another Rekor key).
    let untrusted = Standin::start(&s.dir, true);
    let sc = std::fs::read_to_string(s.file("signing_config.json")).unwrap().replace(&s.url, &untrusted.url);
    std::fs::write(s.file("signing_config.untrusted.json"), sc).unwrap();
    let from_untrusted = sign(&s, tmp.path(), &github_claims("release.yml"), "signing_config.untrusted.json", &digest);
    cases.push(("an entry from an untrusted log", from_untrusted.bundle, true));

    // The payload changed after signing (another subject digest inside the envelope).
    let forged = edit(&good.bundle, |b| {
        b["dsseEnvelope"]["payload"] = common_b64_encode(&statement(&digest_of("forged"))).into();
    });
    cases.push(("a statement changed after signing", forged, true));

    let mut verdicts = Vec::new();
    for (case, bundle, python_applies) in &cases {
        let e = ours(&s, bundle, &digest, &id).err().unwrap_or_else(|| panic!("our verifier accepted {case}"));
        let py = python_applies.then(|| sigstore_python(&s, tmp.path(), bundle, &digest, GITHUB_SAN, GITHUB_ISSUER));
        if let Some(py) = &py {
            assert_ne!(py.code, 0, "sigstore-python accepted {case}:\n{}", py.stdout);
        }
        verdicts.push(format!("{case}: ours: {e:#}; sigstore-python: {}", py.map_or("n/a".into(), |p| last_line(&p.stderr))));
    }
    // An expired certificate with no timestamp inside its validity: the stand-in Fulcio's
    // /expired certificates were valid for ten minutes that ended before the Rekor entry and the
    // TSA's timestamp. Refused by both, ours for the certificate's validity at the signing time.
    let mut sc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(s.file("signing_config.json")).unwrap()).unwrap();
    sc["caUrls"][0]["url"] = format!("{}/expired", s.url).into();
    std::fs::write(s.file("signing_config.expired.json"), sc.to_string()).unwrap();
    let expired = sign(&s, tmp.path(), &github_claims("release.yml"), "signing_config.expired.json", &digest);
    // cosign (sigstore-go) as a control: it accepts the good bundle with this root, and refuses this one.
    let blob = "release manifest 3";
    let root_file = s.file("trusted_root.json");
    let c = cosign_keyless(tmp.path(), &root_file, &good.bundle, blob);
    assert_eq!(c.code, 0, "cosign refused the good keyless bundle:\n{}{}", c.stdout, c.stderr);
    let c = cosign_keyless(tmp.path(), &root_file, &expired.bundle, blob);
    assert_ne!(c.code, 0, "cosign accepted an expired certificate");
    let e = ours(&s, &expired.bundle, &digest, &id).expect_err("our verifier accepted an expired certificate");
    let py = sigstore_python(&s, tmp.path(), &expired.bundle, &digest, GITHUB_SAN, GITHUB_ISSUER);
    assert_ne!(py.code, 0, "sigstore-python accepted an expired certificate:\n{}", py.stdout);
    let why = format!("{e:#}").to_lowercase();
    assert!(why.contains("expired") || why.contains("valid"), "refused, but not for the certificate's validity: {why}");
    verdicts.push(format!(
        "an expired certificate with no timestamp inside its validity: ours: {e:#}; sigstore-python: {}; cosign: {}",
        last_line(&py.stderr),
        c.stderr.lines().last().unwrap_or("")
    ));

    // A trusted root whose log key's validity ended before the entry was made.
    let mut root: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(s.file("trusted_root.json")).unwrap()).unwrap();
    root["tlogs"][0]["publicKey"]["validFor"]["end"] = "2021-01-01T00:00:00Z".into();
    let ended_root = tmp.path().join("trusted_root.log-ended.json");
    std::fs::write(&ended_root, root.to_string()).unwrap();
    let mut tc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(s.file("trust_config.json")).unwrap()).unwrap();
    tc["trustedRoot"] = root;
    let ended_tc = tmp.path().join("trust_config.log-ended.json");
    std::fs::write(&ended_tc, tc.to_string()).unwrap();
    let e = ours_with(&ended_root, &good.bundle, &digest, &id).expect_err("our verifier accepted an entry after its log's validity");
    let py = sigstore_python_with(&ended_tc, tmp.path(), &good.bundle, &digest, GITHUB_SAN, GITHUB_ISSUER);
    let why = format!("{e:#}").to_lowercase();
    assert!(why.contains("log") || why.contains("tlog"), "refused, but not for the log: {why}");
    // sigstore-python 4.5.1 keeps a log key whose validity ended for verification and does not
    // compare the entry's time with it (sigstore/models.py `_get_tlog_keys`: `allow_expired` for
    // KeyringPurpose.VERIFY), so it accepts this bundle: the control that nothing but the log's
    // validity is wrong with it. cosign 2.5 (sigstore-go) refuses it, as we do.
    assert_eq!(py.code, 0, "sigstore-python's verdict changed (it now checks the log's validity?):\n{}", py.stderr);
    let c = cosign_keyless(tmp.path(), &ended_root, &good.bundle, blob);
    assert_ne!(c.code, 0, "cosign accepted an entry after its log's validity");
    verdicts.push(format!(
        "a trusted root whose log validity ended before the entry: ours: {e:#}; sigstore-python: accepted (ignores validFor.end); cosign: {}",
        c.stderr.lines().last().unwrap_or("")
    ));

    // The good bundle against the public-good trusted root: another Sigstore instance.
    let b = ss::parse_bundle(std::str::from_utf8(&good.bundle).unwrap(), "bundle").unwrap();
    let public = ss::trusted_root(None).unwrap();
    let e = ss::verify(&b, Subject::Sha256(&format!("sha256:{digest}")), &Expected::Identity(&id), &public).unwrap_err();
    verdicts.push(format!("a bundle from another Sigstore instance: ours: {e:#}"));
    eprintln!("{}", verdicts.join("\n"));
}

/// cosign 2.5 (sigstore-go) `verify-blob-attestation` of a keyless bundle over `blob`, offline
/// with the trusted root `root`, the signing workflow's identity pinned.
fn cosign_keyless(tmp: &Path, root: &Path, bundle: &[u8], blob: &str) -> Run {
    let cosign = std::env::var_os("RELBUNDLE_COSIGN").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/cosign"));
    let n = fastrand::u64(..);
    let (b, f) = (tmp.join(format!("cb-{n}.json")), tmp.join(format!("blob-{n}")));
    std::fs::write(&b, bundle).unwrap();
    std::fs::write(&f, blob).unwrap();
    run(Command::new(cosign)
        .current_dir(tmp)
        .env("HOME", tmp)
        .env("TUF_ROOT", tmp.join("tuf"))
        .args(["verify-blob-attestation", "--new-bundle-format", "--type", "https://sigstore.dev/cosign/sign/v1"])
        .args(["--certificate-identity", GITHUB_SAN, "--certificate-oidc-issuer", GITHUB_ISSUER, "--bundle"])
        .arg(&b)
        .arg("--trusted-root")
        .arg(root)
        .arg(&f))
}

/// sigstore-python's reason: the text after its `ERROR`/`FAIL` marker.
fn last_line(s: &str) -> String {
    let why: Vec<&str> = s.lines().filter(|l| l.contains("ERROR") || l.contains("FAIL")).map(|l| l.trim()).collect();
    if why.is_empty() { s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string() } else { why.join(" / ") }
}

fn common_b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn common_b64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn key_signed_bundle_uploaded_to_rekor_on_request() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let tmp = tempfile::tempdir().unwrap();
    let s = Standin::start(&tmp.path().join("sigstore"), false);
    let prefix = tmp.path().join("release");
    let (key, _) = relbundle::signing::keygen(prefix.to_str().unwrap(), b"pw", false).unwrap();
    let signer = relbundle::signing::load_private_key(&key, b"pw").unwrap();
    let digest = digest_of("release manifest 4");
    let payload = statement(&digest);
    let sig = b64.decode(signer.sign(&relbundle::trust::bundle::pae(&payload)).unwrap()).unwrap();
    let der = sigstore_verify::types::DerPublicKey::from_pem(&signer.public_pem).unwrap();
    // A key-signed v0.3 bundle as `bundle sign --key` writes it (trust::bundle): no log entry.
    let offline = relbundle::trust::bundle::bundle_json(&payload, &sig, &relbundle::hashing::sha256_digest(der.as_bytes())).unwrap();
    let root = ss::trusted_root(Some(&s.file("trusted_root.json"))).unwrap();
    let check = |bundle: &[u8], require_tlog: bool| {
        let b = ss::parse_bundle(std::str::from_utf8(bundle).unwrap(), "bundle")?;
        ss::verify(&b, Subject::Sha256(&format!("sha256:{digest}")), &Expected::Key { der: der.as_bytes(), require_tlog }, &root)
    };
    // Not verifiable with a log entry required (sigstore-verify wants a log entry or a timestamp).
    assert!(check(&offline, true).is_err(), "a log entry was required");
    // Nothing was uploaded so far: never by default.
    assert!(!std::fs::read_to_string(s.file("requests.log")).unwrap_or_default().contains("/api/v1/log/entries"));

    let config = keyless::signing_config(Some(&s.file("signing_config.json"))).unwrap();
    let logged = keyless::tlog_upload(&offline, &signer.public_pem, &config).unwrap();
    let v = check(&logged, true).unwrap();
    assert!(v.tlog && v.log_index == Some(0) && v.signed_at.is_some(), "{v:?}");
    let body: serde_json::Value = serde_json::from_slice(&logged).unwrap();
    let entry = &body["verificationMaterial"]["tlogEntries"][0];
    let rekor_body: serde_json::Value = serde_json::from_slice(&b64.decode(entry["canonicalizedBody"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(rekor_body["kind"], "dsse");
    let verifier = b64.decode(rekor_body["spec"]["signatures"][0]["verifier"].as_str().unwrap()).unwrap();
    assert!(String::from_utf8(verifier).unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    // Another key's bundle is not accepted by Rekor for this key.
    let (other, _) = relbundle::signing::keygen(tmp.path().join("other").to_str().unwrap(), b"pw", false).unwrap();
    let other = relbundle::signing::load_private_key(&other, b"pw").unwrap();
    let e = keyless::tlog_upload(&offline, &other.public_pem, &config).unwrap_err();
    assert!(format!("{e:#}").contains("upload"), "{e:#}");
}

/// Through the CLI: `sign --keyless` and `build --sign --keyless` against the stand-ins, then
/// `verify` pinning the workflow's identity (offline, with the stand-ins' trusted root): the
/// identity is what counts, another identity or issuer is refused, and a key is not needed.
#[test]
fn sign_keyless_and_verify_the_pipeline_identity_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let s = Standin::start(&d.join("sigstore"), false);
    let token = d.join("token");
    std::fs::write(&token, s.token(&github_claims("release.yml"))).unwrap();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let l = format!("oci:{}", d.join("l").display());
    let b = |args: &[&str]| run(bundle(d).current_dir(d).args(args));
    b(&["build", "--version", "1.0.0", "--output", &l, repo.join("docproc").to_str().unwrap()]).ok();
    let config = s.file("signing_config.json");
    let root = s.file("trusted_root.json");
    let keyless = ["--keyless", "--identity-token", token.to_str().unwrap(), "--signing-config", config.to_str().unwrap()];
    let r = b(&[&["sign", &format!("{l}:1.0.0")][..], &keyless[..]].concat()).ok();
    assert!(
        r.stdout.contains(&format!("keyless: {GITHUB_SAN} from {GITHUB_ISSUER}, logged in Rekor v1 {} at index 0)", s.url)),
        "{}",
        r.stdout
    );
    let pin = ["--identity", "docproc", "--trusted-root", root.to_str().unwrap(), "--certificate-oidc-issuer", GITHUB_ISSUER];
    let v = b(&[&["verify", &format!("{l}:1.0.0"), "--certificate-identity", GITHUB_SAN, "--json"][..], &pin[..]].concat()).ok();
    let rep: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
    assert_eq!(rep["signers"][0]["certificate"]["identity"], GITHUB_SAN, "{rep}");
    assert_eq!(rep["signers"][0]["certificate"]["tlog"], true, "{rep}");
    assert_eq!(rep["signers"][0]["format"], "bundle");
    // A regexp over the repository's release workflow on any v* tag, with a required claim.
    let re = "^https://github\\.com/acme/docproc/\\.github/workflows/release\\.yml@refs/tags/v.*$";
    let r = b(&[
        &["verify", &format!("{l}:1.0.0"), "--certificate-identity-regexp", re, "--certificate-claim", "build-trigger=push"][..],
        &pin[..],
    ]
    .concat())
    .ok();
    // The summary counts what was given: one keyless identity, no keys.
    assert!(r.stdout.contains("PASS  signatures: 1 of 1 keyless identit(y/ies) signed"), "{}", r.stdout);
    // Another workflow, another issuer, the public-good root: refused.
    let other = GITHUB_SAN.replace("release.yml", "pr.yml");
    let r = b(&[&["verify", &format!("{l}:1.0.0"), "--certificate-identity", &other][..], &pin[..]].concat()).code(1);
    assert!(r.stdout.contains("FAIL  signatures") && r.stdout.contains(GITHUB_SAN), "refused for its SAN: {}", r.stdout);
    let r = b(&[
        "verify",
        &format!("{l}:1.0.0"),
        "--identity",
        "docproc",
        "--certificate-identity",
        GITHUB_SAN,
        "--certificate-oidc-issuer",
        GITLAB_ISSUER,
        "--trusted-root",
        root.to_str().unwrap(),
    ])
    .code(1);
    assert!(r.stdout.contains("FAIL  signatures") && r.stdout.contains("issuer"), "refused for its issuer: {}", r.stdout);
    // The public-good root does not know the stand-ins' CA, log or TSA: refused for that.
    let r = b(&[
        "verify",
        &format!("{l}:1.0.0"),
        "--identity",
        "docproc",
        "--certificate-identity",
        GITHUB_SAN,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
    ])
    .code(1);
    assert!(r.stdout.contains("FAIL  signatures") && r.stdout.contains("bundle"), "{}", r.stdout);
    // build --sign --keyless signs the layout it writes.
    let l2 = format!("oci:{}", d.join("l2").display());
    std::fs::write(&token, s.token(&github_claims("release.yml"))).unwrap();
    b(&[&["build", "--version", "1.0.0", "--output", &l2, "--sign"][..], &keyless[..], &[repo.join("docproc").to_str().unwrap()]].concat())
        .ok();
    b(&[&["verify", &format!("{l2}:1.0.0"), "--certificate-identity", GITHUB_SAN][..], &pin[..]].concat()).ok();
    // --keyless cannot make a legacy signature, and --sign needs a way to sign.
    b(&[&["sign", &format!("{l}:1.0.0"), "--format", "legacy"][..], &keyless[..]].concat()).code(2);
    b(&["build", "--version", "1.0.1", "--output", &l2, "--sign", repo.join("docproc").to_str().unwrap()]).code(2);
}

/// Through the CLI: `history` and `diff` name keyless signers with verify's trust flags, and the
/// previous-release baseline of `build` accepts a keyless identity (`--previous-certificate-*`).
#[test]
fn history_diff_and_the_previous_baseline_take_keyless_identities() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let s = Standin::start(&d.join("sigstore"), false);
    let token = d.join("token");
    std::fs::write(&token, s.token(&github_claims("release.yml"))).unwrap();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let src = repo.join("docproc");
    let l = format!("oci:{}", d.join("l").display());
    let b = |args: &[&str]| run(bundle(d).current_dir(d).args(args));
    let config = s.file("signing_config.json");
    let root = s.file("trusted_root.json");
    let keyless = ["--keyless", "--identity-token", token.to_str().unwrap(), "--signing-config", config.to_str().unwrap()];
    for v in ["1.0.0", "1.0.1"] {
        b(&["build", "--version", v, "--output", &l, src.to_str().unwrap()]).ok();
        b(&[&["sign", &format!("{l}:{v}")][..], &keyless[..]].concat()).ok();
    }
    let pin = ["--identity", "docproc", "--trusted-root", root.to_str().unwrap(), "--certificate-oidc-issuer", GITHUB_ISSUER];
    let signer = format!("certificate for `{GITHUB_SAN}`");

    // history: every release's keyless signer, by exact SAN or by regexp; another SAN signs none.
    let h = b(&[&["history", &l, "--json", "--certificate-identity", GITHUB_SAN][..], &pin[..]].concat()).ok();
    let rows: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    for row in rows.as_array().unwrap() {
        assert!(row["signers"][0].as_str().unwrap().contains(&signer), "{row}");
    }
    let re = r"https://github\.com/acme/docproc/\.github/workflows/release\.yml@refs/tags/v.*";
    let h = b(&[&["history", &l, "--certificate-identity-regexp", re, "--certificate-claim", "build-trigger=push"][..], &pin[..]].concat())
        .ok();
    assert!(h.stdout.contains(&format!("signed by identity /{re}/")), "{}", h.stdout);
    let other = GITHUB_SAN.replace("release.yml", "pr.yml");
    let h = b(&[&["history", &l, "--json", "--certificate-identity", &other][..], &pin[..]].concat()).ok();
    let rows: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert!(rows.as_array().unwrap().iter().all(|r| r.get("signers").is_none() && r["signatures"] == 1), "{rows}");
    // A narrowing flag without a signer named is a usage error, not silently ignored.
    let r = b(&["history", &l, "--certificate-oidc-issuer", GITHUB_ISSUER]).code(2);
    assert!(r.stderr.contains("name the signers"), "{}", r.stderr);

    // diff: each side's keyless signer; a SAN that signed neither fails the signature check.
    let r = b(&[
        &["diff", &format!("{l}:1.0.0"), &format!("{l}:1.0.1"), "--format", "json", "--certificate-identity", GITHUB_SAN][..],
        &pin[..],
    ]
    .concat());
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    for side in ["a", "b"] {
        assert!(out[side]["signers"][0].as_str().unwrap().contains(&signer), "{out}");
    }
    assert_eq!(out["signersChanged"].as_bool().or(out["signers_changed"].as_bool()), Some(false), "{out}");
    let r = b(&[&["diff", &format!("{l}:1.0.0"), &format!("{l}:1.0.1"), "--certificate-identity", &other][..], &pin[..]].concat());
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("signature check failed") && r.stderr.contains(GITHUB_SAN), "{}", r.stderr);

    // The previous-release baseline, signed keylessly, trusted by its pipeline's identity.
    let prev = |extra: &[&str]| {
        let mut a = vec!["build", "--version", "1.1.0", "--output", &l, "--require-signed-previous"];
        a.extend(extra);
        a.push(src.to_str().unwrap());
        b(&a)
    };
    let root_s = root.to_str().unwrap();
    let trusted = ["--previous-certificate-oidc-issuer", GITHUB_ISSUER, "--previous-trusted-root", root_s];
    let r = prev(&[&["--previous-certificate-identity", &other][..], &trusted[..]].concat()).code(1);
    assert!(r.stderr.contains("not verified") && r.stderr.contains(GITHUB_SAN), "{}", r.stderr);
    assert!(!d.join("l").join("index.json").exists() || !std::fs::read_to_string(d.join("l/index.json")).unwrap().contains("1.1.0"));
    // Without the stand-ins' root, the public-good one does not know their CA: unverified.
    let r = prev(&["--previous-certificate-identity", GITHUB_SAN, "--previous-certificate-oidc-issuer", GITHUB_ISSUER]).code(1);
    assert!(r.stderr.contains("not verified"), "{}", r.stderr);
    let r = prev(&[&["--previous-certificate-identity-regexp", re][..], &trusted[..]].concat()).ok();
    assert!(
        r.stderr.contains(&format!("previous release: {l}")) && r.stderr.contains(&format!("(signed by {GITHUB_SAN})")),
        "{}",
        r.stderr
    );
    // --require-signed-previous needs a previous signer of either kind.
    b(&["build", "--version", "1.2.0", "--output", &l, "--require-signed-previous", src.to_str().unwrap()]).code(2);
}

/// The --tlog-upload tests' lab in `d`: the stand-in services, a registry, the key pair `rel`, and
/// the fixture (its source folder returned) built unsigned into the layout `l` and pushed to
/// `REG/acme/docproc`: (stand-in, registry, repository, source, layout, digest).
fn tlog_lab(d: &Path) -> (Standin, common::registry::Registry, String, PathBuf, String, String) {
    let s = Standin::start(&d.join("sigstore"), false);
    let reg = common::registry::Registry::plain(&d.join("reg"));
    let repo_ref = format!("{}/acme/docproc", reg.addr);
    let src = fixture_repo(d, &["docproc", "dvc-remote"]).join("docproc");
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    b(&["keygen", "--output-prefix", "rel"]).ok();
    let l = format!("oci:{}", d.join("l").display());
    let r = b(&["build", "--version", "1.0.0", "--output", &l, "--push", &repo_ref, src.to_str().unwrap()]).ok();
    let digest = built_digest(&r.stdout);
    (s, reg, repo_ref, src, l, digest)
}

/// `sign --key … --tlog-upload`: the bundle's DSSE envelope is logged in the signing config's
/// Rekor (the stand-in) and stored with its entry, and the legacy signature as cosign 2 logs it
/// (`dev.sigstore.cosign/bundle`); never without the flag. cosign 2.5 `verify` checks the latter. Our verify checks the
/// entry against the trusted root (a tampered SET or body, or an unknown log, is refused), and
/// cosign 2.5 `verify-blob-attestation --new-bundle-format` (sigstore-go) verifies the stored
/// bundle independently with the stand-ins' trusted root, its log entry required.
#[test]
fn key_signing_with_tlog_upload_through_the_cli_and_cosign() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (s, _reg, repo_ref, src, l, digest) = tlog_lab(d);
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    let config = s.file("signing_config.json");
    let root = s.file("trusted_root.json");
    let entries = || std::fs::read_to_string(s.file("requests.log")).unwrap_or_default().matches("POST /api/v1/log/entries").count();

    // Not by default: a key signature (both formats) touches no log.
    b(&["sign", &format!("{l}:1.0.0"), "--key", "rel.key"]).ok();
    assert_eq!(entries(), 0);
    let cfg = ["--tlog-upload", "--signing-config", config.to_str().unwrap()];
    // build --sign --key --tlog-upload logs the signature where the release goes (here the layout).
    let l2 = format!("oci:{}", d.join("l2").display());
    let r2 =
        b(&[&["build", "--version", "1.0.0", "--output", &l2, "--sign", "--key", "rel.key"][..], &cfg[..], &[src.to_str().unwrap()]]
            .concat())
        .ok();
    // Both formats are logged: the legacy signature first (index 0), then the bundle (index 1).
    assert!(r2.stderr.contains("logged the bundle signature in the transparency log at index 1"), "{}", r2.stderr);
    let v =
        b(&["verify", &format!("{l2}:1.0.0"), "--key", "rel.pub", "--identity", "docproc", "--trusted-root", root.to_str().unwrap()]).ok();
    assert!(v.stdout.contains("PASS  signatures"), "{}", v.stdout);

    // --tlog-upload: the bundle is logged and stored with its entry; signing again is a no-op.
    let tagged = format!("{repo_ref}:1.0.0");
    let r = b(&[&["sign", &tagged, "--key", "rel.key", "--format", "bundle", "--json"][..], &cfg[..]].concat()).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((out["bundle"]["added"].as_bool(), out["bundle"]["logIndex"].as_u64()), (Some(true), Some(2)), "{out}");
    assert_eq!(entries(), 3);
    let r = b(&[&["sign", &tagged, "--key", "rel.key", "--format", "bundle"][..], &cfg[..]].concat()).ok();
    assert!(r.stdout.contains("already signed"), "{}", r.stdout);
    assert_eq!(entries(), 3);
    // The legacy format is logged as cosign 2 logs it: a hashedrekord entry, its SET in the
    // layer's dev.sigstore.cosign/bundle annotation.
    let r = b(&[&["sign", &tagged, "--key", "rel.key", "--format", "legacy"][..], &cfg[..]].concat()).ok();
    assert!(r.stdout.contains("(legacy, logged in the transparency log)"), "{}", r.stdout);
    assert_eq!(entries(), 4);
    // --tlog-upload is for keys; --signing-config alone would be ignored.
    b(&["sign", &tagged, "--key", "rel.key", "--signing-config", config.to_str().unwrap()]).code(2);
    b(&["sign", &tagged, "--keyless", "--tlog-upload"]).code(2);

    // Our verify: the logged bundle verifies with the stand-ins' root, its entry checked.
    let by_digest = format!("{repo_ref}@{digest}");
    let r = b(&["verify", &by_digest, "--key", "rel.pub", "--trusted-root", root.to_str().unwrap()]).ok();
    assert!(r.stdout.contains("PASS  signatures"), "{}", r.stdout);
    // With the public-good root the entry is from an unknown log: refused for it.
    let r = b(&["verify", &by_digest, "--key", "rel.pub"]).code(1);
    assert!(r.stdout.contains("transparency-log entry does not verify"), "{}", r.stdout);
    // cosign 2.5 `verify-attestation --new-bundle-format` on the image, the log entry required
    // (no --insecure-ignore-tlog), with a trusted root naming the stand-in Rekor's key.
    let cosign = std::env::var_os("RELBUNDLE_COSIGN").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/cosign"));
    let cosign_image = |root: &Path| {
        run(Command::new(&cosign)
            .current_dir(d)
            .env("HOME", d)
            .env("TUF_ROOT", d.join("tuf"))
            .args(["verify-attestation", "--new-bundle-format", "--type", "https://sigstore.dev/cosign/sign/v1", "--key", "rel.pub"])
            .arg("--trusted-root")
            .arg(root)
            .args(["--allow-insecure-registry", "--allow-http-registry", &by_digest]))
    };
    let c = cosign_image(&root);
    assert_eq!(c.code, 0, "cosign refused the logged bundle:\n{}{}", c.stdout, c.stderr);
    // cosign 2.5 `verify` (the legacy format) checks the SET of the annotation, the log required;
    // for this format it takes the Rekor key from SIGSTORE_REKOR_PUBLIC_KEY (else TUF), so that
    // names the key of the trusted root's log.
    let rekor_pem = |root: &Path| {
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root).unwrap()).unwrap();
        let f = d.join(format!("rekor-{}.pub", fastrand::u64(..)));
        let pem = match r["tlogs"][0]["publicKey"]["rawBytes"].as_str() {
            Some(der) => format!("-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n"),
            None => std::fs::read_to_string(d.join("rel.pub")).unwrap(), // a key that is no log's
        };
        std::fs::write(&f, pem).unwrap();
        f
    };
    let cosign_legacy = |root: &Path| {
        run(Command::new(&cosign)
            .current_dir(d)
            .env("HOME", d)
            .env("TUF_ROOT", d.join("tuf"))
            .env("SIGSTORE_REKOR_PUBLIC_KEY", rekor_pem(root))
            .args(["verify", "--key", "rel.pub", "--trusted-root"])
            .arg(root)
            .args(["--allow-insecure-registry", "--allow-http-registry", &by_digest]))
    };
    let c = cosign_legacy(&root);
    assert_eq!(c.code, 0, "cosign refused the logged legacy signature:\n{}{}", c.stdout, c.stderr);

    // A tampered entry is refused by the very check verify runs (trust::bundle::check).
    let signer = relbundle::signing::load_private_key(&d.join("rel.key"), b"pw").unwrap();
    let cfg_loaded = keyless::signing_config(Some(&config)).unwrap();
    let payload = relbundle::trust::bundle::statement(&repo_ref, &digest, &Default::default());
    let sig = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(signer.sign(&relbundle::trust::bundle::pae(&payload)).unwrap()).unwrap()
    };
    let key = relbundle::trust::TrustedKey::from_pem(&signer.public_pem, "rel.pub").unwrap();
    let offline = relbundle::trust::bundle::bundle_json(&payload, &sig, &key.fingerprint).unwrap();
    let logged = keyless::tlog_upload(&offline, &signer.public_pem, &cfg_loaded).unwrap();
    let mut keys = relbundle::trust::KeySet::default();
    keys.add(key);
    let mut policy = relbundle::trust::Policy::of_keys(keys, vec![repo_ref.clone()]);
    policy.trusted_root = Some(root.clone());
    relbundle::trust::bundle::check(&logged, &digest, &policy).unwrap();
    let bad_set = edit(&logged, |b| {
        let set = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"];
        let mut raw = common_b64_decode(set.as_str().unwrap());
        let n = raw.len();
        raw[n - 5] ^= 1;
        *set = common_b64_encode(&raw).into();
    });
    let other_time = edit(&logged, |b| {
        let t = &mut b["verificationMaterial"]["tlogEntries"][0]["integratedTime"];
        let v: i64 = t.as_str().map(|s| s.parse().unwrap()).or(t.as_i64()).unwrap();
        *t = (v - 3600).to_string().into();
    });
    let second = keyless::tlog_upload(&offline, &signer.public_pem, &cfg_loaded).unwrap();
    let other_body = edit(&logged, |b| {
        let s2: serde_json::Value = serde_json::from_slice(&second).unwrap();
        b["verificationMaterial"]["tlogEntries"][0]["logIndex"] = s2["verificationMaterial"]["tlogEntries"][0]["logIndex"].clone();
    });
    for (case, bundle) in
        [("a SET that does not verify", &bad_set), ("another integrated time", &other_time), ("another log index", &other_body)]
    {
        let e = relbundle::trust::bundle::check(bundle, &digest, &policy).expect_err(case);
        assert!(e.contains("transparency-log entry does not verify"), "{case}: {e}");
        eprintln!("{case}: {e}");
    }

    // The legacy entry: the annotation's SET, time or body changed is refused; the untouched one
    // verifies (trust::sigstore::verify_cosign_entry, what verify runs for a legacy layer).
    let legacy_payload = relbundle::signing::payload(&repo_ref, &digest, &Default::default());
    let legacy_sig = signer.sign(&legacy_payload).unwrap();
    let entry = keyless::tlog_upload_legacy(&legacy_payload, &legacy_sig, &signer.public_pem, &cfg_loaded).unwrap();
    let root_loaded = ss::trusted_root(Some(&root)).unwrap();
    let der = relbundle::trust::TrustedKey::from_pem(&signer.public_pem, "rel.pub").unwrap().der;
    let v = ss::verify_cosign_entry(&entry, &legacy_payload, &legacy_sig, &der, &root_loaded).unwrap();
    assert!(v.tlog && v.signed_at.is_some(), "{v:?}");
    let edit_entry = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&entry).unwrap();
        f(&mut v);
        v.to_string()
    };
    let legacy_cases = [
        (
            "a legacy SET that does not verify",
            edit_entry(&|v| {
                let mut raw = common_b64_decode(v["SignedEntryTimestamp"].as_str().unwrap());
                let n = raw.len();
                raw[n - 5] ^= 1;
                v["SignedEntryTimestamp"] = common_b64_encode(&raw).into();
            }),
        ),
        (
            "a legacy entry with another time",
            edit_entry(&|v| v["Payload"]["integratedTime"] = (v["Payload"]["integratedTime"].as_i64().unwrap() - 60).into()),
        ),
        ("a legacy entry from another log", edit_entry(&|v| v["Payload"]["logID"] = "00".repeat(32).into())),
    ];
    for (case, e) in &legacy_cases {
        let why = ss::verify_cosign_entry(e, &legacy_payload, &legacy_sig, &der, &root_loaded).expect_err(case);
        eprintln!("{case}: {why:#}");
    }
    // The entry of another signature (the same payload signed again) does not vouch for this one.
    let other_sig = signer.sign(&legacy_payload).unwrap();
    assert!(ss::verify_cosign_entry(&entry, &legacy_payload, &other_sig, &der, &root_loaded).is_err());

    // cosign 2.5 `verify-blob-attestation` (sigstore-go) as well, with the controls: a trusted
    // root without the log, and a flipped SET, are refused by cosign too.
    let logged_file = d.join("logged.json");
    std::fs::write(&logged_file, &logged).unwrap();
    let manifest = d.join("l/blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let cosign_verify = |bundle: &Path, root: &Path| {
        run(Command::new(&cosign)
            .current_dir(d)
            .env("HOME", d)
            .env("TUF_ROOT", d.join("tuf"))
            .args(["verify-blob-attestation", "--new-bundle-format", "--type", "https://sigstore.dev/cosign/sign/v1", "--key", "rel.pub"])
            .arg("--bundle")
            .arg(bundle)
            .arg("--trusted-root")
            .arg(root)
            .arg(&manifest))
    };
    let c = cosign_verify(&logged_file, &root);
    assert_eq!(c.code, 0, "cosign refused the logged bundle:\n{}{}", c.stdout, c.stderr);
    let mut no_log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&root).unwrap()).unwrap();
    no_log["tlogs"] = serde_json::json!([]);
    std::fs::write(d.join("no-log-root.json"), no_log.to_string()).unwrap();
    let c = cosign_verify(&logged_file, &d.join("no-log-root.json"));
    assert_ne!(c.code, 0, "cosign verified without the log's key");
    assert_ne!(cosign_image(&d.join("no-log-root.json")).code, 0, "cosign verified the image without the log's key");
    assert_ne!(cosign_legacy(&d.join("no-log-root.json")).code, 0, "cosign verified the legacy signature without the log's key");
    std::fs::write(d.join("flipped.json"), &bad_set).unwrap();
    let c = cosign_verify(&d.join("flipped.json"), &root);
    assert_ne!(c.code, 0, "cosign verified a flipped SET");
}

/// `bundle attest --key --tlog-upload`: the bundle's envelope logged as a `dsse` 0.0.1 entry kept
/// in the bundle, the `.att` envelope as cosign 2 `attest` logs it (an `intoto` 0.0.2 entry, its
/// SET in the layer's dev.sigstore.cosign/bundle annotation), in the stand-in Rekor v1. cosign 2.5
/// `verify-attestation` requires the log (no --insecure-ignore-tlog) and passes for each format
/// with the stand-ins' trusted root, fails with a root without the log; `bundle attestations`
/// lists both. Without the flag nothing is logged; attesting again is a no-op that logs nothing.
/// `build --sign --key --tlog-upload --provenance` logs the provenance too.
#[test]
fn key_attestation_with_tlog_upload_through_the_cli_and_cosign() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (s, reg, repo_ref, src, l, digest) = tlog_lab(d);
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    let (config, root) = (s.file("signing_config.json"), s.file("trusted_root.json"));
    let entries = || std::fs::read_to_string(s.file("requests.log")).unwrap_or_default().matches("POST /api/v1/log/entries").count();
    let kind = "https://acme.example/eval/v1";
    std::fs::write(d.join("eval.json"), r#"{"accuracy": 0.93, "suite": "docs-v2"}"#).unwrap();
    let attest = |target: &str, extra: &[&str]| {
        b(&[&["attest", target, "--predicate", "eval.json", "--type", kind, "--key", "rel.key"][..], extra].concat())
    };
    let cfg = ["--tlog-upload", "--signing-config", config.to_str().unwrap()];

    // Not by default: both formats written, no log touched.
    attest(&format!("{l}:1.0.0"), &[]).ok();
    assert_eq!(entries(), 0);
    // The release's signature is logged first (sigstore-go refuses a bundle whose entry is a
    // one-leaf log's: no proof hashes). Then --tlog-upload: each format of the attestation logged
    // once (the bundle first), the indexes reported.
    let tagged = format!("{repo_ref}:1.0.0");
    b(&[&["sign", &tagged, "--key", "rel.key", "--format", "legacy"][..], &cfg[..]].concat()).ok();
    assert_eq!(entries(), 1);
    let r = attest(&tagged, &[&cfg[..], &["--json"]].concat()).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((out["bundle"]["added"].as_bool(), out["bundle"]["logIndex"].as_u64()), (Some(true), Some(1)), "{out}");
    assert_eq!((out["legacy"]["added"].as_bool(), out["legacy"]["logIndex"].as_u64()), (Some(true), Some(2)), "{out}");
    assert_eq!(entries(), 3);
    // Again: there already, with their entries; nothing logged.
    let r = attest(&tagged, &cfg).ok();
    assert_eq!(r.stdout.matches("already attested by this key").count(), 2, "{}", r.stdout);
    assert_eq!(entries(), 3);
    // The legacy layer carries cosign's annotation around an intoto 0.0.2 body.
    let by_digest = format!("{repo_ref}@{digest}");
    let att = format!("http://{}/v2/acme/docproc/manifests/{}.att", reg.addr, digest.replace(':', "-"));
    let get =
        "import sys, requests\nprint(requests.get(sys.argv[1], headers={'Accept': 'application/vnd.oci.image.manifest.v1+json'}).text)";
    let m: serde_json::Value = serde_json::from_str(&py(get, &[&att]).ok().stdout).unwrap();
    let ann = m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"].as_str().expect("the .att layer's log entry");
    let entry: serde_json::Value = serde_json::from_str(ann).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&common_b64_decode(entry["Payload"]["body"].as_str().unwrap())).unwrap();
    assert_eq!((body["kind"].as_str(), body["apiVersion"].as_str()), (Some("intoto"), Some("0.0.2")), "{body}");
    // Refusals (exit 2): --tlog-upload is for keys; --signing-config alone would be ignored.
    b(&["attest", &tagged, "--predicate", "eval.json", "--type", kind, "--keyless", "--tlog-upload"]).code(2);
    attest(&tagged, &["--signing-config", config.to_str().unwrap()]).code(2);
    assert_eq!(entries(), 3);
    // A log that cannot be reached: refused, and nothing written to the registry.
    let mut dead: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    for t in dead["rekorTlogUrls"].as_array_mut().unwrap() {
        t["url"] = format!("http://127.0.0.1:{}", common::registry::free_port()).into();
    }
    std::fs::write(d.join("dead-log.json"), dead.to_string()).unwrap();
    std::fs::write(d.join("other.json"), r#"{"accuracy": 0.5}"#).unwrap();
    let puts = reg.count("PUT", "/");
    let dead_args = ["--predicate", "other.json", "--tlog-upload", "--signing-config", "dead-log.json"];
    let r = b(&[&["attest", &tagged, "--type", kind, "--key", "rel.key"][..], &dead_args[..]].concat());
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("transparency-log upload"), "{}", r.stderr);
    assert_eq!(reg.count("PUT", "/"), puts, "a refused upload wrote to the registry");

    // cosign 2.5 verify-attestation, the log required: the bundle (--new-bundle-format, the log's
    // key from the trusted root) and the .att layer (the SET's key: SIGSTORE_REKOR_PUBLIC_KEY).
    let cosign = std::env::var_os("RELBUNDLE_COSIGN").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/cosign"));
    let no_log = d.join("no-log-root.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&root).unwrap()).unwrap();
    v["tlogs"] = serde_json::json!([]);
    std::fs::write(&no_log, v.to_string()).unwrap();
    let cosign_verify = |root: &Path, new_format: bool| {
        let mut c = Command::new(&cosign);
        c.current_dir(d).env("HOME", d).env("TUF_ROOT", d.join("tuf")).args(["verify-attestation", "--type", kind, "--key", "rel.pub"]);
        if new_format {
            c.arg("--new-bundle-format");
        } else {
            let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root).unwrap()).unwrap();
            let pem = match r["tlogs"][0]["publicKey"]["rawBytes"].as_str() {
                Some(der) => format!("-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n"),
                None => std::fs::read_to_string(d.join("rel.pub")).unwrap(), // a key that is no log's
            };
            std::fs::write(d.join("rekor.pub"), pem).unwrap();
            c.env("SIGSTORE_REKOR_PUBLIC_KEY", d.join("rekor.pub"));
        }
        run(c.arg("--trusted-root").arg(root).args(["--allow-insecure-registry", "--allow-http-registry", &by_digest]))
    };
    for new_format in [true, false] {
        let c = cosign_verify(&root, new_format);
        assert_eq!(c.code, 0, "cosign refused the logged attestation (new format: {new_format}):\n{}{}", c.stdout, c.stderr);
        // What cosign prints is the verified statement: ours, of this type.
        let env: serde_json::Value = serde_json::from_str(c.stdout.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
        let payload = env["payload"].as_str().or(env["dsseEnvelope"]["payload"].as_str()).unwrap();
        let statement: serde_json::Value = serde_json::from_slice(&common_b64_decode(payload)).unwrap();
        assert_eq!(statement["predicateType"], kind, "{statement}");
        let c = cosign_verify(&no_log, new_format);
        assert_ne!(c.code, 0, "cosign verified without the log's key (new format: {new_format}):\n{}", c.stderr);
    }
    // bundle attestations lists both, the bundle's entry checked against the trusted root.
    let r = b(&["attestations", &by_digest, "--key", "rel.pub", "--trusted-root", root.to_str().unwrap(), "--type", kind, "--json"]).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let formats: Vec<&str> = out["attestations"].as_array().unwrap().iter().filter_map(|a| a["signer"]["format"].as_str()).collect();
    assert_eq!(formats, ["legacy", "bundle"], "{out}");
    assert!(out["failures"].as_array().unwrap().is_empty(), "{out}");

    // build --sign --key --tlog-upload --provenance logs the provenance with the signature: four
    // entries (signature legacy and bundle, provenance bundle and .att), the bundle's verified
    // against the trusted root, the .att layer's in cosign's annotation.
    let l3 = format!("oci:{}", d.join("l3").display());
    let build = ["build", "--version", "1.0.0", "--output", &l3, "--sign", "--key", "rel.key", "--provenance"];
    b(&[&build[..], &cfg[..], &[src.to_str().unwrap()]].concat()).ok();
    assert_eq!(entries(), 7);
    let trusted = ["--key", "rel.pub", "--identity", "docproc", "--trusted-root", root.to_str().unwrap()];
    let r = b(&[&["attestations", &format!("{l3}:1.0.0"), "--type", "slsaprovenance1", "--json"][..], &trusted[..]].concat()).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["attestations"].as_array().unwrap().len(), 2, "{out}");
    assert!(out["failures"].as_array().unwrap().is_empty(), "{out}");
    let index: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("l3/index.json")).unwrap()).unwrap();
    let att = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str().is_some_and(|n| n.ends_with(".att")));
    let att = att.expect("the .att tag in the layout")["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("l3/blobs/sha256").join(att)).unwrap()).unwrap();
    assert!(m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"].is_string(), "{m}");
}

/// Keyless signing against a Rekor v2 log: the stand-in's, through `signing_config.rekor-v2.json`
/// (v2 and v1 offered, a TSA: Rekor v2 requires one). The signer takes v2 and logs the DSSE
/// envelope as a `hashedrekord` 0.0.2 entry (the digest of its PAE, rekor-v2-spec §6.1.4) with a
/// C2SP checkpoint signed by the log's Ed25519 key, no SET and no integrated time: the signing time
/// is the TSA's. Through the CLI: `build --sign --keyless` and `sign --keyless`, `verify` with the
/// workflow's identity reporting the v2 entry; sigstore-python verifies the stored bundles
/// independently; a checkpoint signed by another key and a changed inclusion proof are refused by
/// both, `verify` too when such a bundle is the release's only signature.
#[test]
fn keyless_signing_against_a_rekor_v2_log() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let s = Standin::start(&d.join("sigstore"), false);
    let token = d.join("token");
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let src = repo.join("docproc");
    let b = |args: &[&str]| run(bundle(d).current_dir(d).args(args));
    let (config, root) = (s.file("signing_config.rekor-v2.json"), s.file("trusted_root.json"));
    let keyless = ["--keyless", "--identity-token", token.to_str().unwrap(), "--signing-config", config.to_str().unwrap()];
    let l = format!("oci:{}", d.join("l").display());
    std::fs::write(&token, s.token(&github_claims("release.yml"))).unwrap();
    let r = b(&[&["build", "--version", "1.0.0", "--output", &l, "--sign"][..], &keyless[..], &[src.to_str().unwrap()]].concat()).ok();
    assert!(
        r.stderr.contains(&format!("signed keylessly as {GITHUB_SAN} ({GITHUB_ISSUER}), logged in Rekor v2 {} at index ", s.url)),
        "{}",
        r.stderr
    );
    // The unsigned 1.0.1, kept aside to hold tampered bundles below; then signed.
    let r = b(&["build", "--version", "1.0.1", "--output", &l, src.to_str().unwrap()]).ok();
    let digest = built_digest(&r.stdout);
    let hex = digest.trim_start_matches("sha256:").to_string();
    assert!(Command::new("cp").arg("-a").arg(d.join("l")).arg(d.join("unsigned")).status().unwrap().success());
    std::fs::write(&token, s.token(&github_claims("release.yml"))).unwrap();
    let r = b(&[&["sign", &format!("{l}:1.0.1"), "--json"][..], &keyless[..]].concat()).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["certificate"]["identity"], GITHUB_SAN, "{out}");
    assert_eq!((out["tlog"]["rekorVersion"].as_u64(), out["tlog"]["url"].as_str()), (Some(2), Some(s.url.as_str())), "{out}");
    // Only the v2 log was written to.
    let requests = std::fs::read_to_string(s.file("requests.log")).unwrap();
    assert!(requests.contains("POST /api/v2/log/entries\n") && !requests.contains("/api/v1/log/entries"), "{requests}");

    // verify: the identity pinned, the stand-ins' root; the entry is Rekor v2's, the time the TSA's.
    let pin = ["--identity", "docproc", "--trusted-root", root.to_str().unwrap(), "--certificate-oidc-issuer", GITHUB_ISSUER];
    let verify = |r: &str| b(&[&["verify", r, "--certificate-identity", GITHUB_SAN, "--json"][..], &pin[..]].concat());
    for v in ["1.0.0", "1.0.1"] {
        let out = verify(&format!("{l}:{v}"));
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let rep: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let c = &rep["signers"][0]["certificate"];
        assert_eq!((c["identity"].as_str(), c["tlog"].as_bool()), (Some(GITHUB_SAN), Some(true)), "{rep}");
        assert_eq!((c["rekorVersion"].as_u64(), c["logEntry"].as_str()), (Some(2), Some("hashedrekord/0.0.2")), "{rep}");
        assert!(c["signedAt"].is_string() && c["logIndex"].is_number(), "{rep}");
        // The report follows spec/verify-report.schema.json (Python's jsonschema).
        let schema = repo_root().join("spec/verify-report.schema.json");
        let code = "import json,sys,jsonschema; jsonschema.validate(json.loads(sys.argv[1]), json.load(open(sys.argv[2])))";
        py(code, &[&out.stdout, schema.to_str().unwrap()]).ok();
    }

    // The stored bundle of 1.0.1: what the v2 log answered, as the bundle holds it.
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("l/index.json")).unwrap()).unwrap();
    let blob = |h: &str| std::fs::read(d.join("l/blobs/sha256").join(h.trim_start_matches("sha256:"))).unwrap();
    let good = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json")
        .map(|e| serde_json::from_slice::<serde_json::Value>(&blob(e["digest"].as_str().unwrap())).unwrap())
        .find(|m| m["subject"]["digest"] == digest.as_str())
        .map(|m| blob(m["layers"][0]["digest"].as_str().unwrap()))
        .expect("the signature of 1.0.1 is listed in index.json");
    let v: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let entry = &v["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"], serde_json::json!({"kind": "hashedrekord", "version": "0.0.2"}), "{entry}");
    assert!(entry.get("inclusionPromise").is_none() && entry.get("integratedTime").is_none(), "{entry}");
    let note = entry["inclusionProof"]["checkpoint"]["envelope"].as_str().unwrap();
    assert!(note.starts_with("rekor-v2.relbundle.test\n") && note.contains("\n\n\u{2014} rekor-v2.relbundle.test "), "{note}");
    assert!(!entry["inclusionProof"]["hashes"].as_array().unwrap().is_empty(), "not the log's only entry: {entry}");
    assert_eq!(v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"].as_array().map(Vec::len), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&common_b64_decode(entry["canonicalizedBody"].as_str().unwrap())).unwrap();
    assert!(body["spec"]["hashedRekordV002"]["signature"]["verifier"]["x509Certificate"]["rawBytes"].is_string(), "{body}");

    // sigstore-python 4.5 verifies it independently (offline, the stand-ins' root).
    let py = sigstore_python(&s, d, &good, &hex, GITHUB_SAN, GITHUB_ISSUER);
    assert_eq!(py.code, 0, "sigstore-python refused our Rekor v2 bundle:\n{}{}", py.stdout, py.stderr);
    assert!(format!("{}{}", py.stdout, py.stderr).contains(&format!("OK: SHA2_256:{hex}")), "{}{}", py.stdout, py.stderr);

    // The other direction: sigstore-python signs a file against the stand-in's v2 log (its own
    // client: a CSR, the TSA, then the v2 entry), and our verifier accepts that bundle.
    let art = d.join("artifact.txt");
    std::fs::write(&art, "an artifact").unwrap();
    let py_bundle = d.join("artifact.sigstore.json");
    let py = run(Command::new(python())
        .args(["-m", "sigstore", "--trust-config"])
        .arg(s.file("trust_config.rekor-v2.json"))
        .args(["sign", "--identity-token", &s.token(&github_claims("release.yml")), "--bundle"])
        .arg(&py_bundle)
        .arg(&art));
    assert_eq!(py.code, 0, "sigstore-python could not sign against the v2 stand-in:\n{}{}", py.stdout, py.stderr);
    let theirs = std::fs::read(&py_bundle).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&theirs).unwrap();
    assert_eq!(v["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"], "0.0.2", "{v}");
    let parsed = ss::parse_bundle(std::str::from_utf8(&theirs).unwrap(), "bundle").unwrap();
    let root_loaded = ss::trusted_root(Some(&root)).unwrap();
    let ok = ss::verify(&parsed, Subject::Bytes(b"an artifact"), &Expected::Identity(&identity(GITHUB_SAN, GITHUB_ISSUER)), &root_loaded)
        .unwrap();
    assert_eq!((ok.rekor_version, ok.log_entry.as_deref()), (Some(2), Some("hashedrekord/0.0.2")));
    assert!(
        ss::verify(&parsed, Subject::Bytes(b"another artifact"), &Expected::Identity(&identity(GITHUB_SAN, GITHUB_ISSUER)), &root_loaded)
            .is_err()
    );
    // cosign 2.5 (its sigstore-go) cannot read a Rekor v2 entry at all: it wants Rekor v1's fields.
    let c = cosign_keyless(d, &root, &good, "unused");
    assert!(c.code != 0 && c.stderr.contains("nil value in transaction log entry"), "cosign 2.5 on Rekor v2: {}{}", c.stdout, c.stderr);

    // Tampered: a checkpoint signed by another Ed25519 key (another log of the same name), and an
    // inclusion proof with one hash changed. Refused by our verifier and by sigstore-python, and
    // by `verify` when the release's only signature is such a bundle.
    let good_file = d.join("good.json");
    std::fs::write(&good_file, &good).unwrap();
    let resigned = d.join("resigned.json");
    run(Command::new(python())
        .arg(repo_root().join("scripts/sigstore-standin.py"))
        .args(["resign-checkpoint"])
        .arg(&s.dir)
        .arg(&good_file)
        .arg(&resigned))
    .ok();
    let proof = edit(&good, |b| {
        let h = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][0];
        let mut raw = common_b64_decode(h.as_str().unwrap());
        raw[0] ^= 1;
        *h = common_b64_encode(&raw).into();
    });
    let id = identity(GITHUB_SAN, GITHUB_ISSUER);
    ours(&s, &good, &hex, &id).unwrap();
    // Without its RFC 3161 timestamp a v2 entry attests no time (no SET, no integrated time).
    let untimed = edit(&good, |b| b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] = serde_json::json!([]));
    let cases = [
        ("a checkpoint signed by another log key", std::fs::read(&resigned).unwrap(), ["checkpoint", "inclusion"]),
        ("a changed inclusion proof", proof, ["checkpoint", "inclusion"]),
        ("its RFC 3161 timestamp removed", untimed, ["timestamp", "time"]),
    ];
    for (n, (case, bundle, about)) in cases.iter().enumerate() {
        let e = ours(&s, bundle, &hex, &id).err().unwrap_or_else(|| panic!("our verifier accepted {case}"));
        let py = sigstore_python(&s, d, bundle, &hex, GITHUB_SAN, GITHUB_ISSUER);
        assert_ne!(py.code, 0, "sigstore-python accepted {case}:\n{}", py.stdout);
        eprintln!("{case}: ours: {e:#}; sigstore-python: {}", last_line(&py.stderr));
        // The unsigned release with this bundle as its only signature.
        let dir = d.join(format!("tampered-{n}"));
        assert!(Command::new("cp").arg("-a").arg(d.join("unsigned")).arg(&dir).status().unwrap().success());
        let tagged = format!("oci:{}:1.0.1", dir.display());
        let r = relbundle::store::StoreRef::parse(&tagged).unwrap();
        let st = relbundle::store::open(&r, &Default::default()).unwrap();
        let desc = relbundle::store::resolve(st.store(), &r).unwrap();
        relbundle::signing::store_bundle(st.store(), &desc, bundle, relbundle::trust::bundle::SIGN_PREDICATE).unwrap();
        st.commit().unwrap();
        let out = verify(&tagged).code(1);
        let rep: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let why = rep.to_string().to_lowercase();
        assert!(about.iter().any(|a| why.contains(a)), "{case}: refused, but not for {about:?}: {rep}");
    }

    // Rekor v1 and v2 offered, no TSA: signed via v1 (v2 would need a TSA), and the log's URL
    // printed without the userinfo the config gives it.
    let mut both: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    both["tsaUrls"] = serde_json::json!([]);
    both.as_object_mut().unwrap().remove("tsaConfig");
    let authed = s.url.replacen("http://", "http://relbundle:s3cret@", 1);
    for u in both["rekorTlogUrls"].as_array_mut().unwrap() {
        u["url"] = serde_json::json!(authed);
    }
    let both_file = d.join("v1-v2-no-tsa.json");
    std::fs::write(&both_file, both.to_string()).unwrap();
    let no_tsa = ["--keyless", "--identity-token", token.to_str().unwrap(), "--signing-config", both_file.to_str().unwrap()];
    std::fs::write(&token, s.token(&github_claims("release.yml"))).unwrap();
    let r = b(&[&["sign", &format!("{l}:1.0.0"), "--json"][..], &no_tsa[..]].concat()).ok();
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((out["tlog"]["rekorVersion"].as_u64(), out["tlog"]["url"].as_str()), (Some(1), Some(s.url.as_str())), "{out}");
    assert!(std::fs::read_to_string(s.file("requests.log")).unwrap().contains("POST /api/v1/log/entries"));
    std::fs::write(&token, s.token(&github_claims("release.yml"))).unwrap();
    let r = b(&[&["sign", &format!("{l}:1.0.0")][..], &no_tsa[..]].concat()).ok();
    assert!(r.stdout.contains(&format!("logged in Rekor v1 {} at index ", s.url)), "{}", r.stdout);
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("s3cret"), "{}{}", r.stdout, r.stderr);
    let out = verify(&format!("{l}:1.0.0"));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // Rekor v2 without a TSA cannot be signed for (no time would be attested): a usage error,
    // before any token is looked for or any service asked.
    let mut sc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    sc["tsaUrls"] = serde_json::json!([]);
    sc["rekorTlogUrls"] = serde_json::json!([sc["rekorTlogUrls"][0].clone()]);
    sc.as_object_mut().unwrap().remove("tsaConfig");
    std::fs::write(d.join("v2-no-tsa.json"), sc.to_string()).unwrap();
    let before = std::fs::read_to_string(s.file("requests.log")).unwrap();
    let r = b(&["sign", &format!("{l}:1.0.1"), "--keyless", "--signing-config", d.join("v2-no-tsa.json").to_str().unwrap()]).code(2);
    assert!(r.stderr.to_lowercase().contains("timestamp"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(s.file("requests.log")).unwrap(), before);
    // --tlog-upload of a key signature logs in Rekor v1 only: with a config that offers only v2
    // it is a usage error naming that, and nothing is signed or logged.
    sc["tsaUrls"] = serde_json::json!([]);
    std::fs::write(d.join("v2-only.json"), sc.to_string()).unwrap();
    let kb = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    kb(&["keygen", "--output-prefix", "rel"]).ok();
    let files = common::snapshot(&d.join("l"));
    let r = kb(&[
        "sign",
        &format!("{l}:1.0.1"),
        "--key",
        "rel.key",
        "--tlog-upload",
        "--signing-config",
        d.join("v2-only.json").to_str().unwrap(),
    ])
    .code(2);
    assert!(r.stderr.contains("no valid Rekor v1 log"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(s.file("requests.log")).unwrap(), before);
    assert!(common::snapshot(&d.join("l")) == files, "the layout changed");
}
