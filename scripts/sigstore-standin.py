#!/usr/bin/env python3
"""Local stand-ins for a private Sigstore instance, for the keyless-signing tests (127.0.0.1 only).

One HTTP server speaks:
  * Fulcio     POST /api/v2/signingCert   an ES256 JWT signed by the test OIDC key -> a certificate
               for the ephemeral key, chained to the test CA: SAN from the token (GitHub
               `job_workflow_ref`, GitLab `ci_config_ref_uri`, else email / sub), OIDC issuer in
               1.3.6.1.4.1.57264.1.8 (and legacy .1.1), the CI claims Fulcio derives, and an
               embedded SCT (precertificate entry) from the test CT log key.
  * Rekor v1   POST /api/v1/log/entries   `dsse` 0.0.1 (certificate or public-key verifier),
               `hashedrekord` 0.0.1 and `intoto` 0.0.2 (cosign 2 `attest`) entries, signatures checked; a real RFC 6962 Merkle tree, the
               signed entry timestamp, the inclusion proof and a signed checkpoint.
               Under /expired (a Fulcio URL of URL/expired): a certificate whose ten minutes of
               validity ended ten minutes ago, before any log entry or timestamp made now.
  * Rekor v2   POST /api/v2/log/entries   the v2 CreateEntryRequest `hashedRekordRequestV002` (what
               sigstore-rust and sigstore-python send for artifacts and, as rekor-v2-spec §6.1.4 has
               it, for DSSE envelopes: the digest of the PAE), signature checked; its own RFC 6962
               tree and Ed25519 key, as the production log. The answer is the protobuf
               `TransparencyLogEntry` JSON: kindVersion hashedrekord 0.0.2, the inclusion proof with
               a C2SP signed-note checkpoint, no SET, no integrated time. Signed with the
               signing config `signing_config.rekor-v2.json` (the TSA is required).
  * TSA        POST /api/v1/timestamp     RFC 3161, answered by `openssl ts -reply` with the test TSA.
  * GitHub     GET  /github-token         the Actions token-request endpoint (bearer `test-request-token`).

Usage:
  sigstore-standin.py serve DIR       keys (created once) and trust files in DIR, then serve on a free
                                      port; DIR/url is written when ready. `--untrusted-log` signs
                                      log entries with a key the trusted root does not list (and
                                      writes DIR/url-untrusted instead, leaving the trust files).
  sigstore-standin.py token DIR JSON  print a JWT with these claims (iss/aud/iat/exp filled in).
  sigstore-standin.py resign-checkpoint DIR BUNDLE OUT   the bundle with its checkpoint re-signed by
                                      the untrusted log key of its kind (a checkpoint from another log).

Files in DIR: trusted_root.json (both logs), signing_config.json (Rekor v1),
signing_config.rekor-v2.json, signing_config.no-tsa.json, trust_config.json (sigstore-python's
--trust-config: the root and the v1 signing config wrapped), trust_config.rekor-v2.json, and the
PEM keys/certificates.
"""

import base64
import datetime as dt
import hashlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
EPOCH = "2020-01-01T00:00:00Z"
REQUEST_TOKEN = "test-request-token"


def b64(b):
    return base64.b64encode(b).decode()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def now():
    return dt.datetime.now(dt.timezone.utc)


def der_pub(key):
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# ---------------------------------------------------------------- keys and trust files


def load_or_make_key(d, name):
    p = os.path.join(d, name + ".key")
    if os.path.exists(p):
        with open(p, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    k = ec.generate_private_key(ec.SECP256R1())
    with open(p, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return k


def load_or_make_ed25519(d, name):
    p = os.path.join(d, name + ".key")
    if os.path.exists(p):
        with open(p, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    k = ed25519.Ed25519PrivateKey.generate()
    with open(p, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return k


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "relbundle-test"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ca_cert(key, cn):
    t = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(t)
        .not_valid_after(t + dt.timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def load_or_make_cert(d, fname, make):
    p = os.path.join(d, fname)
    if os.path.exists(p):
        with open(p, "rb") as f:
            return x509.load_pem_x509_certificate(f.read())
    c = make()
    with open(p, "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
    return c


class Keys:
    def __init__(self, d):
        self.dir = d
        self.ca = load_or_make_key(d, "fulcio-ca")
        self.ca_cert = load_or_make_cert(d, "fulcio-ca.pem", lambda: ca_cert(self.ca, "test fulcio"))
        self.ct = load_or_make_key(d, "ctlog")
        self.rekor = load_or_make_key(d, "rekor")
        self.other_rekor = load_or_make_key(d, "rekor-untrusted")
        self.rekor_v2 = load_or_make_ed25519(d, "rekor-v2")
        self.other_rekor_v2 = load_or_make_ed25519(d, "rekor-v2-untrusted")
        self.oidc = load_or_make_key(d, "oidc")
        self.tsa_root = load_or_make_key(d, "tsa-root")
        self.tsa_root_cert = load_or_make_cert(d, "tsa-root.pem", lambda: ca_cert(self.tsa_root, "test tsa root"))
        self.tsa = load_or_make_key(d, "tsa")
        self.tsa_cert = load_or_make_cert(d, "tsa.pem", self.make_tsa_cert)
        with open(os.path.join(d, "tsa-chain.pem"), "wb") as f:
            f.write(self.tsa_root_cert.public_bytes(serialization.Encoding.PEM))

    def make_tsa_cert(self):
        t = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(name("test tsa"))
            .issuer_name(self.tsa_root_cert.subject)
            .public_key(self.tsa.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(t)
            .not_valid_after(t + dt.timedelta(days=365 * 30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.tsa.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.tsa_root.public_key()), critical=False)
            .sign(self.tsa_root, hashes.SHA256())
        )


def tlog(key, url):
    der = der_pub(key)
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": b64(der), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": EPOCH}},
        "logId": {"keyId": b64(hashlib.sha256(der).digest())},
    }


def tlog_v2(key, url):
    """A Rekor v2 log in a trusted root: Ed25519, its log id the C2SP note key id (full hash)."""
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": b64(der_pub(key)), "keyDetails": "PKIX_ED25519", "validFor": {"start": EPOCH}},
        "logId": {"keyId": b64(note_key_id(key, LogV2.ORIGIN))},
    }


def write_trust(keys, url):
    def cert_b64(c):
        return {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))}

    root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [tlog(keys.rekor, url), tlog_v2(keys.rekor_v2, url)],
        "certificateAuthorities": [
            {
                "subject": {"organization": "relbundle-test", "commonName": "test fulcio"},
                "uri": url,
                "certChain": {"certificates": [cert_b64(keys.ca_cert)]},
                "validFor": {"start": EPOCH},
            }
        ],
        "ctlogs": [tlog(keys.ct, url)],
        "timestampAuthorities": [
            {
                "subject": {"organization": "relbundle-test", "commonName": "test tsa"},
                "uri": url + "/api/v1/timestamp",
                "certChain": {"certificates": [cert_b64(keys.tsa_cert), cert_b64(keys.tsa_root_cert)]},
                "validFor": {"start": EPOCH},
            }
        ],
    }

    def service(u, version=1):
        return {"url": u, "majorApiVersion": version, "validFor": {"start": EPOCH}, "operator": "relbundle-test"}

    signing = {
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [service(url)],
        "oidcUrls": [service(url + "/oauth2")],
        "rekorTlogUrls": [service(url)],
        "tsaUrls": [service(url + "/api/v1/timestamp")],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }
    # Without a TSA: the signer must then rely on Rekor's integrated time alone.
    no_tsa = dict(signing, tsaUrls=[])
    del no_tsa["tsaConfig"]
    # Both logs offered, as the public-good config does: a signer takes the highest version.
    v2 = dict(signing, rekorTlogUrls=[service(url, 2), service(url)])
    trust = {"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json", "trustedRoot": root, "signingConfig": signing}
    trust_v2 = dict(trust, signingConfig=v2)
    files = [
        ("trusted_root.json", root),
        ("signing_config.json", signing),
        ("signing_config.no-tsa.json", no_tsa),
        ("signing_config.rekor-v2.json", v2),
        ("trust_config.json", trust),
        ("trust_config.rekor-v2.json", trust_v2),
    ]
    for fname, obj in files:
        with open(os.path.join(keys.dir, fname), "w") as f:
            json.dump(obj, f, indent=2)


# ---------------------------------------------------------------- OIDC tokens


def make_token(keys, claims):
    t = int(now().timestamp())
    full = {"iss": GITHUB_ISSUER, "aud": "sigstore", "iat": t, "nbf": t, "exp": t + 600}
    full.update(claims)
    header = b64url(canonical({"alg": "ES256", "kid": "test", "typ": "JWT"}))
    body = b64url(json.dumps(full).encode())
    r, s = utils.decode_dss_signature(keys.oidc.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
    return f"{header}.{body}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class Refused(Exception):
    pass


def check_token(keys, jwt):
    try:
        header, body, sig = jwt.split(".")
        raw = unb64url(sig)
        der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        keys.oidc.public_key().verify(der, f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(unb64url(body))
    except Exception as e:
        raise Refused(f"the identity token does not verify: {e}")
    aud = claims.get("aud")
    if "sigstore" not in (aud if isinstance(aud, list) else [aud]):
        raise Refused("the identity token's audience is not sigstore")
    if claims.get("exp", 0) < now().timestamp():
        raise Refused("the identity token has expired")
    return claims


# ---------------------------------------------------------------- Fulcio


def der_len(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def utf8_der(s):
    b = s.encode()
    return b"\x0c" + der_len(len(b)) + b


def ext(oid, value):
    return x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.57264.1." + oid), utf8_der(value))


def identity_of(claims):
    """The SAN and Fulcio CI claims (OID suffix -> value) Fulcio derives from a token."""
    iss = claims["iss"]
    exts = {}
    if "job_workflow_ref" in claims:  # GitHub Actions
        server = "https://github.com"
        san = x509.UniformResourceIdentifier(f"{server}/{claims['job_workflow_ref']}")
        repo = f"{server}/{claims['repository']}"
        exts = {
            "9": f"{server}/{claims['job_workflow_ref']}",
            "10": claims.get("job_workflow_sha", claims.get("sha", "")),
            "11": "github-hosted",
            "12": repo,
            "13": claims.get("sha", ""),
            "14": claims.get("ref", ""),
            "20": claims.get("event_name", ""),
            "21": f"{repo}/actions/runs/{claims.get('run_id', '1')}/attempts/1",
        }
    elif "ci_config_ref_uri" in claims:  # GitLab CI
        server = iss
        san = x509.UniformResourceIdentifier(f"https://{claims['ci_config_ref_uri']}")
        repo = f"{server}/{claims['project_path']}"
        ref = ("refs/tags/" if claims.get("ref_type") == "tag" else "refs/heads/") + claims.get("ref", "")
        exts = {
            "9": f"https://{claims['ci_config_ref_uri']}",
            "11": claims.get("runner_environment", "gitlab-hosted"),
            "12": repo,
            "13": claims.get("sha", ""),
            "14": ref,
            "20": claims.get("pipeline_source", ""),
            "21": f"{repo}/-/jobs/{claims.get('job_id', '1')}",
        }
    elif "email" in claims:
        san = x509.RFC822Name(claims["email"])
    else:
        san = x509.UniformResourceIdentifier(claims["sub"])
    return san, {k: v for k, v in exts.items() if v}


def sct_for(keys, tbs, ts_ms):
    """An RFC 6962 SCT (v1, precert entry) over `tbs` (the certificate without the SCT list)."""
    issuer_key_hash = hashlib.sha256(der_pub(keys.ca)).digest()
    signed = (
        bytes([0, 0])
        + ts_ms.to_bytes(8, "big")
        + (1).to_bytes(2, "big")
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + (0).to_bytes(2, "big")
    )
    sig = keys.ct.sign(signed, ec.ECDSA(hashes.SHA256()))
    log_id = hashlib.sha256(der_pub(keys.ct)).digest()
    sct = bytes([0]) + log_id + ts_ms.to_bytes(8, "big") + (0).to_bytes(2, "big") + bytes([4, 3]) + len(sig).to_bytes(2, "big") + sig
    lst = len(sct).to_bytes(2, "big") + sct
    lst = len(lst).to_bytes(2, "big") + lst
    return b"\x04" + der_len(len(lst)) + lst  # the extension value: an OCTET STRING holding the TLS list


def issue_certificate(keys, req, authorization, expired=False):
    # The token: in the body (sigstore-rust, cosign) or as a bearer token (sigstore-python).
    token = req.get("credentials", {}).get("oidcIdentityToken") or (authorization or "").removeprefix("Bearer ")
    claims = check_token(keys, token)
    if "certificateSigningRequest" in req:  # sigstore-python: a CSR, whose signature is the proof
        csr = x509.load_pem_x509_csr(base64.b64decode(req["certificateSigningRequest"]))
        if not csr.is_signature_valid:
            raise Refused("the CSR's signature does not verify")
        public = csr.public_key()
    else:  # sigstore-rust, cosign: the key and a signature over the token's email or subject
        pkr = req["publicKeyRequest"]
        public = serialization.load_pem_public_key(pkr["publicKey"]["content"].encode())
        challenge = claims.get("email") or claims["sub"]
        try:
            public.verify(base64.b64decode(pkr["proofOfPossession"]), challenge.encode(), ec.ECDSA(hashes.SHA256()))
        except Exception:
            raise Refused("the proof of possession does not verify")
    san, ci = identity_of(claims)
    t = now().replace(microsecond=0)
    if expired:  # valid for ten minutes that ended before the log entry and the timestamp
        t -= dt.timedelta(minutes=20)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(keys.ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(t)
        .not_valid_after(t + dt.timedelta(minutes=10))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(keys.ca.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName([san]), critical=True)
        .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), claims["iss"].encode()), critical=False)
        .add_extension(ext("8", claims["iss"]), critical=False)
    )
    for oid, value in sorted(ci.items(), key=lambda kv: int(kv[0])):
        builder = builder.add_extension(ext(oid, value), critical=False)
    precert = builder.sign(keys.ca, hashes.SHA256())
    sct = sct_for(keys, precert.tbs_certificate_bytes, int(t.timestamp() * 1000))
    cert = builder.add_extension(
        x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"), sct), critical=False
    ).sign(keys.ca, hashes.SHA256())
    assert cert.tbs_precertificate_bytes == precert.tbs_certificate_bytes
    chain = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (cert, keys.ca_cert)]
    return {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}


# ---------------------------------------------------------------- Rekor v1


def leaf_hash(body):
    return hashlib.sha256(b"\x00" + body).digest()


def node(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def audit_path(m, leaves):
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return audit_path(m, leaves[:k]) + [mth(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def load_verifier(b64pem):
    pem = base64.b64decode(b64pem)
    if b"CERTIFICATE" in pem:
        c = x509.load_pem_x509_certificate(pem)
        return c.public_key(), c.public_bytes(serialization.Encoding.PEM)
    k = serialization.load_pem_public_key(pem)
    return k, k.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


class Log:
    ORIGIN = "rekor.relbundle.test"
    TREE_ID = 4242

    def __init__(self, keys, untrusted):
        self.key = keys.other_rekor if untrusted else keys.rekor
        self.leaves = []
        self.lock = threading.Lock()

    def body_of(self, req):
        kind, spec = req.get("kind"), req.get("spec", {})
        if kind == "intoto" and req.get("apiVersion") == "0.0.2":
            return self.intoto_body(spec)
        if req.get("apiVersion") != "0.0.1":
            raise Refused("only apiVersion 0.0.1 is served (intoto: 0.0.2)")
        if kind == "dsse":
            pc = spec["proposedContent"]
            env = json.loads(pc["envelope"])
            payload = base64.b64decode(env["payload"])
            verifiers = [load_verifier(v) for v in pc["verifiers"]]
            sigs = []
            for s in env["signatures"]:
                raw = base64.b64decode(s["sig"])
                for key, pem in verifiers:
                    try:
                        key.verify(raw, pae(env["payloadType"], payload), ec.ECDSA(hashes.SHA256()))
                    except Exception:
                        continue
                    sigs.append({"signature": b64(raw), "verifier": b64(pem)})
                    break
                else:
                    raise Refused("a DSSE signature does not verify with the verifiers given")
            return {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(pc["envelope"].encode()).hexdigest()},
                    "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                    "signatures": sigs,
                },
            }
        if kind == "hashedrekord":
            digest = bytes.fromhex(spec["data"]["hash"]["value"])
            key, pem = load_verifier(spec["signature"]["publicKey"]["content"])
            sig = base64.b64decode(spec["signature"]["content"])
            try:
                key.verify(sig, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            except Exception:
                raise Refused("the hashedrekord signature does not verify")
            return {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                    "signature": {"content": b64(sig), "publicKey": {"content": b64(pem)}},
                },
            }
        raise Refused(f"entry kind {kind!r} is not served")

    @staticmethod
    def intoto_body(spec):
        """`intoto` 0.0.2 (cosign 2 `attest`): the envelope's payload and each signature come
        base64-encoded once more, each signature with the public key that must verify it over the
        DSSE PAE. The body is Rekor's canonical one: no payload, the envelope digest the client
        sent (Rekor cannot recompute it), the payload digest computed."""
        content = spec.get("content", {})
        env = content.get("envelope", {})
        payload = base64.b64decode(base64.b64decode(env["payload"]))
        sigs = []
        for s in env.get("signatures", []):
            raw = base64.b64decode(base64.b64decode(s["sig"]))
            key, pem = load_verifier(s["publicKey"])
            try:
                key.verify(raw, pae(env["payloadType"], payload), ec.ECDSA(hashes.SHA256()))
            except Exception:
                raise Refused("an intoto signature does not verify with its public key")
            sig = {"publicKey": b64(pem), "sig": s["sig"]}
            if s.get("keyid"):
                sig["keyid"] = s["keyid"]
            sigs.append(sig)
        if not sigs:
            raise Refused("the intoto envelope has no signatures")
        h = content.get("hash") or {}
        if h.get("algorithm") != "sha256" or len(h.get("value", "")) != 64:
            raise Refused("the intoto entry has no sha256 envelope digest")
        return {
            "apiVersion": "0.0.2",
            "kind": "intoto",
            "spec": {
                "content": {
                    "envelope": {"payloadType": env["payloadType"], "signatures": sigs},
                    "hash": {"algorithm": "sha256", "value": h["value"]},
                    "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                }
            },
        }

    def checkpoint(self, size, root):
        note = f"{self.ORIGIN} - {self.TREE_ID}\n{size}\n{b64(root)}\n"
        return sign_note(self.key, self.ORIGIN, note)

    def add(self, req):
        body = canonical(self.body_of(req))
        with self.lock:
            index = len(self.leaves)
            self.leaves.append(leaf_hash(body))
            leaves = list(self.leaves)
        t = int(now().timestamp())
        log_id = hashlib.sha256(der_pub(self.key)).hexdigest()
        b = b64(body)
        set_ = self.key.sign(canonical({"body": b, "integratedTime": t, "logID": log_id, "logIndex": index}), ec.ECDSA(hashes.SHA256()))
        root = mth(leaves)
        entry = {
            "body": b,
            "integratedTime": t,
            "logID": log_id,
            "logIndex": index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self.checkpoint(len(leaves), root),
                    "hashes": [h.hex() for h in audit_path(index, leaves)],
                    "logIndex": index,
                    "rootHash": root.hex(),
                    "treeSize": len(leaves),
                },
                "signedEntryTimestamp": b64(set_),
            },
        }
        return {leaves[index].hex(): entry}


def sign_note(key, origin, note):
    hint = hashlib.sha256(der_pub(key)).digest()[:4]
    sig = key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
    return f"{note}\n\u2014 {origin} {b64(hint + sig)}\n"


def note_key_id(key, origin):
    """The C2SP signed-note key id of an Ed25519 key: SHA-256(name, LF, 0x01, raw key)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()


def sign_note_v2(key, origin, note):
    """A C2SP signed note: the Ed25519 signature, prefixed by the key id's first four bytes."""
    return f"{note}\n\u2014 {origin} {b64(note_key_id(key, origin)[:4] + key.sign(note.encode()))}\n"


KEY_DETAILS = {"PKIX_ECDSA_P256_SHA_256": hashes.SHA256()}


class LogV2:
    """Rekor v2 (rekor-tiles): hashedrekord 0.0.2 entries, a C2SP checkpoint, no SET."""

    ORIGIN = "rekor-v2.relbundle.test"

    def __init__(self, keys, untrusted):
        self.key = keys.other_rekor_v2 if untrusted else keys.rekor_v2
        self.leaves = []
        self.lock = threading.Lock()

    def body_of(self, req):
        if set(req) != {"hashedRekordRequestV002"}:
            raise Refused(f"only hashedRekordRequestV002 is served, not {sorted(req)}")
        r = req["hashedRekordRequestV002"]
        digest = base64.b64decode(r["digest"], validate=True)
        if len(digest) != 32:
            raise Refused(f"the digest is {len(digest)} bytes, not a SHA-256 digest (base64 of 32 bytes)")
        sig = base64.b64decode(r["signature"]["content"], validate=True)
        verifier = r["signature"]["verifier"]
        details = verifier.get("keyDetails")
        if details not in KEY_DETAILS:
            raise Refused(f"keyDetails {details!r} is not served")
        if "x509Certificate" in verifier:
            raw = base64.b64decode(verifier["x509Certificate"]["rawBytes"], validate=True)
            public, material = x509.load_der_x509_certificate(raw).public_key(), {"x509Certificate": {"rawBytes": b64(raw)}}
        elif "publicKey" in verifier:
            raw = base64.b64decode(verifier["publicKey"]["rawBytes"], validate=True)
            public, material = serialization.load_der_public_key(raw), {"publicKey": {"rawBytes": b64(raw)}}
        else:
            raise Refused("the verifier names neither an x509Certificate nor a publicKey")
        try:
            public.verify(sig, digest, ec.ECDSA(utils.Prehashed(KEY_DETAILS[details])))
        except Exception:
            raise Refused("the hashedrekord signature does not verify")
        return {
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": {
                "hashedRekordV002": {
                    "data": {"algorithm": "SHA2_256", "digest": b64(digest)},
                    "signature": {"content": b64(sig), "verifier": dict(material, keyDetails=details)},
                }
            },
        }

    def add(self, req):
        body = canonical(self.body_of(req))
        with self.lock:
            index = len(self.leaves)
            self.leaves.append(leaf_hash(body))
            leaves = list(self.leaves)
        root = mth(leaves)
        note = f"{self.ORIGIN}\n{len(leaves)}\n{b64(root)}\n"
        # protobuf JSON: int64 as strings, bytes as base64, zero values (integratedTime) omitted.
        return {
            "logIndex": str(index),
            "logId": {"keyId": b64(note_key_id(self.key, self.ORIGIN))},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": b64(root),
                "treeSize": str(len(leaves)),
                "hashes": [b64(h) for h in audit_path(index, leaves)],
                "checkpoint": {"envelope": sign_note_v2(self.key, self.ORIGIN, note)},
            },
            "canonicalizedBody": b64(body),
        }


# ---------------------------------------------------------------- TSA


TSA_CONFIG = """
[ tsa ]
default_tsa = test_tsa
[ test_tsa ]
serial = {d}/tsaserial
crypto_device = builtin
signer_cert = {d}/tsa.pem
signer_key = {d}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.57264.2
other_policies = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


# The response carries the signer's certificate only (certReq): openssl writes the SET OF
# certificates unsorted, which strict DER parsers (rfc3161-client) refuse when it has two.
def timestamp(keys, query):
    with tempfile.TemporaryDirectory() as t:
        q, r, cfg = (os.path.join(t, n) for n in ("q.tsq", "r.tsr", "tsa.cnf"))
        with open(q, "wb") as f:
            f.write(query)
        with open(cfg, "w") as f:
            f.write(TSA_CONFIG.format(d=keys.dir))
        serial = os.path.join(keys.dir, "tsaserial")
        if not os.path.exists(serial):
            with open(serial, "w") as f:
                f.write("01\n")
        p = subprocess.run(["openssl", "ts", "-reply", "-config", cfg, "-queryfile", q, "-out", r], capture_output=True)
        if p.returncode != 0:
            raise Refused("openssl ts -reply: " + p.stderr.decode())
        with open(r, "rb") as f:
            return f.read()


# ---------------------------------------------------------------- HTTP


def serve(d, untrusted_log):
    keys = Keys(d)
    log = Log(keys, untrusted_log)
    log_v2 = LogV2(keys, untrusted_log)
    requests = open(os.path.join(d, "requests.log"), "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, ctype, body):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            requests.write(f"GET {self.path}\n")
            if self.path.startswith("/github-token?"):
                if self.headers.get("Authorization") != f"Bearer {REQUEST_TOKEN}":
                    return self.reply(401, "text/plain", b"bad request token")
                if "audience=sigstore" not in self.path:
                    return self.reply(400, "text/plain", b"audience must be sigstore")
                with open(os.path.join(d, "github-claims.json")) as f:
                    claims = json.load(f)
                return self.reply(200, "application/json", canonical({"count": 1, "value": make_token(keys, claims)}))
            self.reply(404, "text/plain", b"not found")

        def do_POST(self):
            requests.write(f"POST {self.path}\n")
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                if self.path in ("/api/v2/signingCert", "/expired/api/v2/signingCert"):
                    cert = issue_certificate(keys, json.loads(data), self.headers.get("Authorization"), self.path.startswith("/expired/"))
                    return self.reply(201, "application/json", canonical(cert))
                if self.path == "/api/v1/log/entries":
                    return self.reply(201, "application/json", canonical(log.add(json.loads(data))))
                if self.path == "/api/v2/log/entries":
                    return self.reply(201, "application/json", canonical(log_v2.add(json.loads(data))))
                if self.path == "/api/v1/timestamp":
                    return self.reply(201, "application/timestamp-reply", timestamp(keys, data))
            except Refused as e:
                return self.reply(400, "application/json", canonical({"code": 400, "message": str(e)}))
            except Exception as e:
                return self.reply(500, "application/json", canonical({"code": 500, "message": repr(e)}))
            self.reply(404, "text/plain", b"not found")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    ready = "url"
    if untrusted_log:
        ready = "url-untrusted"  # the trust files stay those of the trusted instance
    else:
        write_trust(keys, url)
    with open(os.path.join(d, ready + ".tmp"), "w") as f:
        f.write(url)
    os.replace(os.path.join(d, ready + ".tmp"), os.path.join(d, ready))
    server.serve_forever()


def resign_checkpoint(d, src, out):
    keys = Keys(d)
    with open(src) as f:
        bundle = json.load(f)
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    proof = entry["inclusionProof"]
    note = proof["checkpoint"]["envelope"].split("\n\n")[0] + "\n"
    if entry["kindVersion"]["version"] == "0.0.2":
        proof["checkpoint"]["envelope"] = sign_note_v2(keys.other_rekor_v2, LogV2.ORIGIN, note)
    else:
        proof["checkpoint"]["envelope"] = sign_note(keys.other_rekor, Log.ORIGIN, note)
    with open(out, "w") as f:
        json.dump(bundle, f)


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    if cmd == "serve":
        serve(d, "--untrusted-log" in sys.argv[3:])
    elif cmd == "token":
        print(make_token(Keys(d), json.loads(sys.argv[3])))
    elif cmd == "resign-checkpoint":
        resign_checkpoint(d, sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
