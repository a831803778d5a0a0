//! `bundle copy --with-images`: registry → OCI archive → a second registry (the air-gap path),
//! carrying the release, its component images (multi-platform indexes made here from tar layers
//! and pushed with skopeo 1.18) and every signature and attestation (made by real cosign 2.5).
//! Proved at the far side by independent tools: skopeo 1.18 with a sigstoreSigned policy, cosign
//! 2.5 `verify` / `verify-attestation`, `skopeo inspect --raw`, oras-py on the unpacked archive
//! (Python's own tarfile unpacks it); the archive is byte-identical across runs; faults injected
//! by the proxy leave no release tag, and a second run uploads only what is missing.

mod common;
use common::proxy::{Fault, Plan, Proxy};
use common::registry::Registry;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tool(env: &str, rel: &str) -> PathBuf {
    let p = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| repo_root().join(rel));
    assert!(p.exists(), "{} is missing: run scripts/test (it installs cosign and skopeo)", p.display());
    p
}

fn cosign(d: &Path, args: &[&str]) -> Run {
    run(Command::new(tool("RELBUNDLE_COSIGN", ".tools/bin/cosign"))
        .current_dir(d)
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", d)
        .env("TUF_ROOT", d.join("tuf"))
        .args(args))
}

fn skopeo(d: &Path, args: &[&str]) -> Run {
    run(Command::new(tool("RELBUNDLE_SKOPEO_SIGSTORE", ".tools/bin/skopeo-sigstore")).current_dir(d).env("HOME", d).args(args))
}

/// A small two-platform OCI image (linux/amd64, linux/arm64), each platform one gzip tar layer,
/// written as an OCI layout with the tag `1.0`. Prints the index digest.
const MAKE_IMAGE: &str = r#"
import sys, os, io, json, gzip, hashlib, tarfile
out, name = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, 'blobs', 'sha256'), exist_ok=True)
def put(b, mt):
    h = hashlib.sha256(b).hexdigest()
    open(os.path.join(out, 'blobs', 'sha256', h), 'wb').write(b)
    return {'mediaType': mt, 'digest': 'sha256:' + h, 'size': len(b)}
manifests = []
for arch in ['amd64', 'arm64']:
    data = (f'{name} for {arch}\n' * 4000).encode() + os.urandom(20000)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo(f'srv/{name}.txt'); ti.size = len(data); ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    layer = put(gzip.compress(raw, mtime=0), 'application/vnd.oci.image.layer.v1.tar+gzip')
    cfg = {'architecture': arch, 'os': 'linux', 'config': {'Cmd': ['/bin/true']},
           'rootfs': {'type': 'layers', 'diff_ids': ['sha256:' + hashlib.sha256(raw).hexdigest()]}}
    c = put(json.dumps(cfg).encode(), 'application/vnd.oci.image.config.v1+json')
    m = put(json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'config': c, 'layers': [layer]}).encode(),
            'application/vnd.oci.image.manifest.v1+json')
    m['platform'] = {'architecture': arch, 'os': 'linux'}
    manifests.append(m)
i = put(json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.index.v1+json', 'manifests': manifests}).encode(),
        'application/vnd.oci.image.index.v1+json')
i['annotations'] = {'org.opencontainers.image.ref.name': '1.0'}
open(os.path.join(out, 'oci-layout'), 'w').write('{"imageLayoutVersion":"1.0.0"}')
open(os.path.join(out, 'index.json'), 'w').write(json.dumps({'schemaVersion': 2, 'manifests': [i]}))
print(i['digest'])
"#;

/// Unpack an archive with Python's tarfile, read it with oras-py's OCI layout reader, and check
/// every blob the release and each image need: present, and matching its digest.
const ORAS_READS: &str = r#"
import sys, tarfile, hashlib, json, tempfile, oras.layout.layout as L
archive, tags = sys.argv[1], sys.argv[2:]
d = tempfile.mkdtemp()
with tarfile.open(archive) as t:
    t.extractall(d, filter='data')
# The archive's reproducible form (spec/relocation.md § 1): fixed order and metadata.
with tarfile.open(archive) as t:
    ms = t.getmembers()
names = [m.name for m in ms]
blobs = [n for n in names if n.startswith('blobs/sha256/') and n != 'blobs/sha256/']
assert names[:4] == ['oci-layout', 'index.json', 'blobs', 'blobs/sha256'], names[:4]
assert blobs == sorted(blobs) and len(names) == 4 + len(blobs), names
for m in ms:
    assert m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == '' and m.gname == '', m.name
    assert m.mode == (0o755 if m.isdir() else 0o644), (m.name, oct(m.mode))
lay = L.Layout(d)
seen = 0
for tag in tags:
    for dg in lay.get_ordered_blobs(tag):
        p = lay.digest_to_blob_path(dg)
        assert hashlib.sha256(open(p, 'rb').read()).hexdigest() == dg.split(':')[1], dg
        seen += 1
print(seen)
"#;

struct World {
    t: tempfile::TempDir,
    reg1: Option<Registry>,
    reg2: Registry,
    /// component image name → index digest at reg1.
    images: Vec<(String, String)>,
    digest: String,
}

impl World {
    fn d(&self) -> &Path {
        self.t.path()
    }
    fn r1(&self) -> String {
        self.reg1.as_ref().unwrap().addr.clone()
    }
    fn b(&self, args: &[&str]) -> Run {
        run(bundle(self.d()).current_dir(self.d()).env("COSIGN_PASSWORD", "pw").env("RELBUNDLE_RETRY_BASE_MS", "2").args(args))
    }
}

/// Two registries; two multi-platform images at reg1, pushed with skopeo, signed by cosign
/// (`--recursive`: the index and each platform manifest, as containers-image checks each) with
/// a legacy signature and an attestation (and one with a bundle-format attestation); a release
/// using them (two components share one image), built, pushed to reg1 and signed.
fn world() -> World {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().to_path_buf();
    let reg1 = Registry::plain(&d.join("reg1"));
    let reg2 = Registry::plain(&d.join("reg2"));
    let mut w = World { t, reg1: Some(reg1), reg2, images: Vec::new(), digest: String::new() };
    w.b(&["keygen", "--output-prefix", "ci"]).ok();
    std::fs::write(d.join("pred.json"), r#"{"buildType":"https://example.com/test","builder":{"id":"ci"}}"#).unwrap();
    for name in ["ocr", "embed"] {
        let dir = d.join(format!("img-{name}"));
        let digest = py(MAKE_IMAGE, &[dir.to_str().unwrap(), name]).ok().stdout.trim().to_string();
        let at = format!("{}/img/{name}", w.r1());
        skopeo(
            &d,
            &[
                "copy",
                "-q",
                "--all",
                "--preserve-digests",
                "--insecure-policy",
                "--dest-tls-verify=false",
                &format!("oci:{}:1.0", dir.display()),
                &format!("docker://{at}:1.0"),
            ],
        )
        .ok();
        let pinned = format!("{at}@{digest}");
        let reg = ["--allow-insecure-registry", "--allow-http-registry"];
        cosign(&d, &[&["sign", "--recursive", "--key", "ci.key", "--tlog-upload=false"], &reg[..], &[&pinned]].concat()).ok();
        cosign(
            &d,
            &[
                &["attest", "--key", "ci.key", "--tlog-upload=false", "--type", "slsaprovenance", "--predicate", "pred.json"],
                &reg[..],
                &[&pinned],
            ]
            .concat(),
        )
        .ok();
        if name == "ocr" {
            cosign(
                &d,
                &[
                    &[
                        "attest",
                        "--new-bundle-format",
                        "--key",
                        "ci.key",
                        "--tlog-upload=false",
                        "--type",
                        "https://example.com/eval/v1",
                        "--predicate",
                        "pred.json",
                    ],
                    &reg[..],
                    &[&pinned],
                ]
                .concat(),
            )
            .ok();
        }
        w.images.push((name.to_string(), digest));
    }
    let repo = fixture_repo(&d, &["docproc", "dvc-remote"]);
    let (ocr, embed) = (&w.images[0].1, &w.images[1].1);
    let r1 = w.r1();
    let out = w
        .b(&[
            "build",
            "--version",
            "1.0.0",
            "--output",
            &format!("oci:{}", d.join("l").display()),
            "--push",
            &format!("{r1}/acme/docproc"),
            "--sign",
            "--key",
            "ci.key",
            "--check-images",
            "--image",
            &format!("ocr={r1}/img/ocr:1.0@{ocr}"),
            "--image",
            &format!("embedding={r1}/img/embed:1.0@{embed}"),
            "--image",
            &format!("summarizer={r1}/img/ocr:1.0@{ocr}"),
            repo.join("docproc").to_str().unwrap(),
        ])
        .ok();
    w.digest = built_digest(&out.stdout);
    w
}

/// The raw manifest and each platform's digest, as skopeo sees them.
fn raw(d: &Path, transport_ref: &str) -> (String, Vec<String>) {
    let r = skopeo(d, &["inspect", "--raw", "--tls-verify=false", transport_ref]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let platforms = v["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap().to_string()).collect();
    (r.stdout, platforms)
}

/// skopeo 1.18, sigstoreSigned policy for ci.pub on the relocated image's repository, whose
/// signatures must name the original repository (`exactRepository`, as for a mirror in
/// containers-policy.json(5)): Ok when it accepts every platform of the image.
fn skopeo_verifies(d: &Path, reg2: &str, original_repo: &str, image: &str) -> Run {
    let rd = d.join("registries.d");
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(rd.join("local.yaml"), format!("docker:\n  {reg2}:\n    use-sigstore-attachments: true\n")).unwrap();
    let policy = d.join("policy.json");
    let scope = image.split('@').next().unwrap();
    std::fs::write(
        &policy,
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{scope}":[{{"type":"sigstoreSigned","keyPath":"{}","signedIdentity":{{"type":"exactRepository","dockerRepository":"{original_repo}"}}}}]}}}}}}"#,
            d.join("ci.pub").display()
        ),
    )
    .unwrap();
    let out = d.join(format!("skopeo-out-{}", image.len() + fastrand()));
    skopeo(
        d,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--registries.d",
            rd.to_str().unwrap(),
            "copy",
            "-q",
            "--all",
            "--src-tls-verify=false",
            &format!("docker://{image}"),
            &format!("dir:{}", out.display()),
        ],
    )
}

fn fastrand() -> usize {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as usize
}

#[test]
fn registry_to_archive_to_registry_keeps_every_image_and_signature() {
    let mut w = world();
    let d = w.d().to_path_buf();
    let (r1, r2) = (w.r1(), w.reg2.addr.clone());
    let digest = w.digest.clone();
    let src = format!("{r1}/acme/docproc:1.0.0");
    let archive = d.join("docproc.tar");
    let a = format!("oci-archive:{}", archive.display());

    // Registry → archive, the relocation record signed.
    let r = w.b(&["copy", &src, &a, "--with-images", "--key", "ci.key", "--json"]).ok();
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rep["release"]["digest"], digest.as_str());
    assert_eq!(rep["images"].as_array().unwrap().len(), 2, "two distinct images (summarizer shares ocr's): {rep}");
    for i in rep["images"].as_array().unwrap() {
        assert_eq!(i["manifests"], 3, "an index and two platforms: {i}");
        // The index's and each platform's signature, and the attestation.
        assert!(i["attached"]["signatures"].as_u64().unwrap() >= 3 && i["attached"]["attestations"].as_u64().unwrap() >= 1, "{i}");
        assert!(i["relocated"].as_str().unwrap().starts_with(&format!("{a}@sha256:")), "{i}");
        if i["original"].as_str().unwrap().contains("/img/ocr@") {
            assert!(i["attached"]["referrers"].as_u64().unwrap() >= 1, "ocr's bundle attestation: {i}");
        }
    }
    assert!(rep["attached"]["signatures"].as_u64().unwrap() >= 1 && rep["attached"]["referrers"].as_u64().unwrap() >= 1, "{rep}");
    assert_eq!(rep["relocationSigned"], true);
    let rel = &rep["relocation"];
    assert_eq!(rel["source"], format!("{r1}/acme/docproc").as_str());
    assert_eq!(rel["destination"], a.as_str());
    assert!(rel.get("relocatedAt").is_none(), "no SOURCE_DATE_EPOCH, no time: {rel}");
    // The record is valid against spec/relocation.schema.json (Python's jsonschema).
    let schema = repo_root().join("spec/relocation.schema.json");
    py(
        "import sys, json, jsonschema; jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.loads(sys.argv[2]))",
        &[schema.to_str().unwrap(), &rel.to_string()],
    )
    .ok();
    let ocr = rel["images"].as_array().unwrap().iter().find(|i| i["original"].as_str().unwrap().contains("/img/ocr@")).unwrap();
    let comps: Vec<&str> = ocr["components"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(comps, ["ocr", "summarizer"], "{rel}");

    // Reproducible: the same release copied again, into another archive, gives the same bytes;
    // a second copy into the first archive changes nothing.
    let bytes = std::fs::read(&archive).unwrap();
    let again = w.b(&["copy", &src, &a, "--with-images", "--key", "ci.key", "--json"]).ok();
    let again: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again["moved"]["uploadedBlobs"], 0, "nothing is missing the second time: {again}");
    assert_eq!(std::fs::read(&archive).unwrap(), bytes, "a second copy into the archive changed its bytes");
    // A fresh copy to the same place gives the same bytes. (Unsigned: an ECDSA signature is new
    // each time it is made, so a freshly signed relocation record is the one thing that would
    // differ; the record names its destination, so the place is the same.)
    let u = d.join("u.tar");
    let ua = format!("oci-archive:{}", u.display());
    w.b(&["copy", &src, &ua, "--with-images"]).ok();
    let first = std::fs::read(&u).unwrap();
    std::fs::remove_file(&u).unwrap();
    w.b(&["copy", &src, &ua, "--with-images"]).ok();
    assert!(std::fs::read(&u).unwrap() == first, "the same release gave other archive bytes");
    // The archive through our own commands (StoreRef): verify, inspect, pull.
    w.b(&["verify", &format!("{a}:1.0.0"), "--key", "ci.pub", "--identity", &format!("{r1}/acme/docproc")]).ok();
    let i = w.b(&["inspect", "--json", &format!("{a}:1.0.0")]).ok();
    assert!(i.stdout.contains("\"docproc\""), "{}", i.stdout);
    w.b(&[
        "pull",
        &format!("{a}:1.0.0"),
        "-o",
        d.join("pulled").to_str().unwrap(),
        "--key",
        "ci.pub",
        "--identity",
        &format!("{r1}/acme/docproc"),
    ])
    .ok();
    assert!(d.join("pulled").join("bundle.yaml").exists());

    // skopeo reads each image from the archive (by its entry name) as reg1 serves it; oras-py reads the layout.
    for (name, dg) in &w.images {
        let (raw1, p1) = raw(&d, &format!("docker://{r1}/img/{name}@{dg}"));
        let (rawa, pa) = raw(&d, &format!("{a}:{}", dg.replace(':', "-") + ".image"));
        assert_eq!(raw1, rawa, "image {name}: the archive holds other manifest bytes");
        assert_eq!(p1, pa);
        assert_eq!(p1.len(), 2);
    }
    let tags: Vec<String> =
        std::iter::once("1.0.0".to_string()).chain(w.images.iter().map(|(_, g)| g.replace(':', "-") + ".image")).collect();
    let mut args = vec![archive.to_str().unwrap()];
    args.extend(tags.iter().map(|s| s.as_str()));
    let n: usize = py(ORAS_READS, &args).ok().stdout.trim().parse().unwrap();
    assert!(n >= 2 * 7 + 2, "oras-py read only {n} blobs");

    // Archive → the second registry (no route to reg1 any more: it is stopped).
    drop(w.reg1.take());
    let dst = format!("{r2}/acme/docproc");
    let r = w.b(&["copy", &format!("{a}:1.0.0"), &dst, "--with-images", "--key", "ci.key", "--json"]).ok();
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for i in rep["images"].as_array().unwrap() {
        let orig = i["original"].as_str().unwrap();
        let want = orig.replace(&r1, &r2);
        assert_eq!(i["relocated"], want.as_str(), "images keep their path at the destination registry");
    }

    for (name, dg) in &w.images {
        // skopeo: same manifest bytes and platform digests; the legacy signature verifies (sigstoreSigned).
        let (raw2, p2) = raw(&d, &format!("docker://{r2}/img/{name}@{dg}"));
        let (rawa, _) = raw(&d, &format!("oci-archive:{}:{}", archive.display(), dg.replace(':', "-") + ".image"));
        assert_eq!(raw2, rawa);
        for p in &p2 {
            skopeo(&d, &["inspect", "--raw", "--tls-verify=false", &format!("docker://{r2}/img/{name}@{p}")]).ok();
        }
        skopeo_verifies(&d, &r2, &format!("{r1}/img/{name}"), &format!("{r2}/img/{name}@{dg}")).ok();
        // cosign 2.5: the image's signature and its attestation, at the new place.
        let at = format!("{r2}/img/{name}@{dg}");
        let flags = ["--key", "ci.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry"];
        cosign(&d, &[&["verify"], &flags[..], &[&at]].concat()).ok();
        cosign(&d, &[&["verify-attestation", "--type", "slsaprovenance"], &flags[..], &[&at]].concat()).ok();
        if name == "ocr" {
            // The bundle-format attestation (a referrer, through the fallback tag) travelled too.
            std::fs::write(d.join("root.json"), r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#).unwrap();
            let nb = ["verify-attestation", "--new-bundle-format", "--type", "https://example.com/eval/v1", "--trusted-root", "root.json"];
            cosign(&d, &[&nb[..], &flags[..], &[&at]].concat()).ok();
        }
        // The original tag travels when the destination has none.
        skopeo(&d, &["inspect", "--raw", "--tls-verify=false", &format!("docker://{r2}/img/{name}:1.0")]).ok();
    }
    // skopeo refuses an image whose signature is not by the key (control: the policy is enforced).
    let stranger = d.join("stranger");
    std::fs::create_dir_all(&stranger).unwrap();
    run(bundle(&stranger).current_dir(&stranger).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", "ci"])).ok();
    let r = skopeo_verifies(&stranger, &r2, &format!("{r1}/img/ocr"), &format!("{r2}/img/ocr@{}", w.images[0].1));
    assert_ne!(r.code, 0, "skopeo accepted a signature by another key");

    // cosign 2.5: the release's signature and the signed relocation record at the new place.
    let rel_at = format!("{dst}@{digest}");
    let flags = ["--key", "ci.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry"];
    cosign(&d, &[&["verify"], &flags[..], &[&rel_at]].concat()).ok();
    let r = cosign(&d, &[&["verify-attestation", "--type", "https://relbundle.dev/relocation/v1"], &flags[..], &[&rel_at]].concat()).ok();
    assert!(r.stdout.contains("payload"), "{}", r.stdout);

    // verify: the release verifies with the original identity; --check-images finds every image
    // at its relocated place (reg1 is gone, so the original places could not be checked).
    let id = format!("{r1}/acme/docproc");
    let v = w.b(&["verify", &format!("{dst}:1.0.0"), "--key", "ci.pub", "--identity", &id, "--check-images", "--json"]).ok();
    assert!(v.stdout.contains("at its relocated place"), "{}", v.stdout);

    // values --relocated: the new places, from the verified record; plain values: the originals.
    let vals = w.b(&["values", &format!("{dst}:1.0.0"), "--relocated", "--key", "ci.pub", "--identity", &id, "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&vals.stdout).unwrap();
    for c in ["ocr", "embedding", "summarizer"] {
        assert_eq!(v[c]["image"]["registry"], r2.as_str(), "{c}: {v}");
    }
    assert_eq!(v["ocr"]["image"]["repository"], "img/ocr");
    assert_eq!(v["ocr"]["image"]["digest"], w.images[0].1.as_str());
    assert_eq!(v["global"]["bundle"]["digest"], digest.as_str(), "the release digest is unchanged");
    let plain = w.b(&["values", &format!("{dst}:1.0.0"), "--key", "ci.pub", "--identity", &id, "--json"]).ok();
    let p: serde_json::Value = serde_json::from_str(&plain.stdout).unwrap();
    assert_eq!(p["ocr"]["image"]["registry"], r1.as_str());

    // An unsigned relocation record is refused under trust flags, and used (with a warning) without.
    let dst_u = format!("{r2}/acme/unsigned");
    let r = run(bundle(&d).env("SOURCE_DATE_EPOCH", "1700000000").args([
        "copy",
        &format!("{a}:1.0.0"),
        &dst_u,
        "--with-images",
        "--images-to",
        &format!("{r2}/mirror"),
        "--json",
    ]))
    .ok();
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rep["relocation"]["relocatedAt"], "2023-11-14T22:13:20Z", "SOURCE_DATE_EPOCH dates the record");
    assert_eq!(rep["relocationSigned"], false);
    // Another release's tag is not overwritten: refused before anything is copied.
    let other = format!("oci:{}", d.join("other").display());
    w.b(&["build", "--version", "1.0.0", "--offline", "--output", &other, d.join("repo/docproc").to_str().unwrap()]).ok();
    let r = w.b(&["copy", &format!("{other}:1.0.0"), &dst_u]).code(1);
    assert!(r.stderr.contains("already names") && r.stderr.contains("--retag"), "{}", r.stderr);
    assert!(w.b(&["inspect", "--json", &format!("{dst_u}:1.0.0")]).ok().stdout.contains(&w.images[0].1), "the tag still names the release");
    let r = w.b(&["values", &format!("{dst_u}:1.0.0"), "--relocated", "--key", "ci.pub", "--identity", &id]).code(1);
    assert!(r.stderr.contains("no relocation record verified by the given trust flags for this place"), "{}", r.stderr);
    let r = w.b(&["values", &format!("{dst_u}:1.0.0"), "--relocated", "--json"]).ok();
    assert!(r.stderr.contains("NOT verified"), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ocr"]["image"]["repository"], format!("mirror/{}", "img/ocr").as_str(), "--images-to keeps the path under the prefix");

    // Within one registry the image blobs are mounted, not uploaded again.
    let r = w
        .b(&[
            "copy",
            &format!("{dst}:1.0.0"),
            &format!("{r2}/acme/third"),
            "--with-images",
            "--images-to",
            &format!("{r2}/third"),
            "--json",
        ])
        .ok();
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(rep["moved"]["mountedBlobs"].as_u64().unwrap() >= 4, "{rep}");
    assert_eq!(rep["moved"]["uploadedBlobs"], 0, "{rep}");
}

/// The blobs a run uploaded through the proxy, as `REPO DIGEST` (monolithic uploads: `PUT
/// /v2/REPO/blobs/uploads/…?digest=…`), in its first `upto` requests (later ones got the fault).
fn uploads(p: &Proxy, upto: usize) -> Vec<String> {
    p.requests()
        .iter()
        .take(upto)
        .filter(|r| r.starts_with("PUT ") && r.contains("/blobs/uploads/"))
        .filter_map(|r| {
            let repo = r.split("/v2/").nth(1)?.split("/blobs/uploads/").next()?;
            let digest = r.split("digest=").nth(1)?.split([' ', '&']).next()?.replace("%3A", ":");
            Some(format!("{repo} {digest}"))
        })
        .collect()
}

#[test]
fn a_failed_copy_leaves_no_release_tag_and_a_second_run_uploads_only_what_is_missing() {
    let w = world();
    let d = w.d().to_path_buf();
    let a = format!("oci-archive:{}", d.join("a.tar").display());
    w.b(&["copy", &format!("{}/acme/docproc:1.0.0", w.r1()), &a, "--with-images"]).ok();
    let proxy = Proxy::start(&w.reg2.addr);
    let copy = |repo: &str| {
        run(bundle(&d).env("RELBUNDLE_RETRY_BASE_MS", "2").env("RELBUNDLE_HTTP_TIMEOUT_SECS", "10").args([
            "copy",
            &format!("{a}:1.0.0"),
            &format!("{}/{repo}", proxy.addr),
            "--with-images",
            "--images-to",
            &format!("{}/{repo}-img", proxy.addr),
        ]))
    };
    let tagged = |repo: &str| run(bundle(&d).args(["inspect", &format!("{}/{repo}:1.0.0", w.reg2.addr)])).code == 0;

    // A clean copy, to count its steps and uploads.
    proxy.plan(Plan::None);
    copy("acme/clean").ok();
    let steps = proxy.requests().len();
    let all = uploads(&proxy, usize::MAX);
    assert!(all.len() >= 2 * 7, "{all:?}");

    // One transient fault at any of several steps is retried away.
    for k in [1, steps / 4, steps / 2, 3 * steps / 4] {
        proxy.plan(Plan::At(k, Fault::Status(503)));
        copy(&format!("acme/once-{k}")).ok();
        assert!(tagged(&format!("acme/once-{k}")));
    }

    // A persistent fault half-way: the copy fails cleanly and leaves no release tag ...
    proxy.plan(Plan::From(steps / 2, Fault::Status(500)));
    let r = copy("acme/cut");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(!tagged("acme/cut"), "a failed copy left the release tag");
    let first: Vec<String> = uploads(&proxy, steps / 2);
    assert!(!first.is_empty() && first.len() < all.len(), "the fault should cut the uploads short: {} of {}", first.len(), all.len());

    // ... and a second run uploads only what is missing, then tags.
    proxy.plan(Plan::None);
    copy("acme/cut").ok();
    assert!(tagged("acme/cut"));
    let second = uploads(&proxy, usize::MAX);
    for u in &second {
        assert!(!first.contains(u), "blob {u} was uploaded again");
    }
    assert_eq!(first.len() + second.len(), all.len(), "first {first:?}\nsecond {second:?}\nall {all:?}");
    // The relocated release verifies.
    w.b(&[
        "verify",
        &format!("{}/acme/cut:1.0.0", w.reg2.addr),
        "--key",
        "ci.pub",
        "--identity",
        &format!("{}/acme/docproc", w.r1()),
        "--check-images",
    ])
    .ok();
}

/// `oci-archive:` through every command that writes (build, sign, push) and reads (verify,
/// history); skopeo reads what we wrote; a hostile archive is refused, naming its entry.
#[test]
fn archives_are_stores_for_every_command() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    b(&["keygen", "--output-prefix", "ci"]).ok();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let a = format!("oci-archive:{}", d.join("b.tar").display());
    b(&["build", "--version", "1.0.0", "--offline", "--output", &a, repo.join("docproc").to_str().unwrap()]).ok();
    let unsigned = std::fs::read(d.join("b.tar")).unwrap();
    b(&["sign", &format!("{a}:1.0.0"), "--key", "ci.key"]).ok();
    assert_ne!(std::fs::read(d.join("b.tar")).unwrap(), unsigned, "sign wrote nothing into the archive");
    b(&["verify", &format!("{a}:1.0.0"), "--key", "ci.pub", "--identity", "docproc"]).ok();
    let c = format!("oci-archive:{}", d.join("c.tar").display());
    b(&["push", &format!("{a}:1.0.0"), &c]).ok();
    b(&["verify", &format!("{c}:1.0.0"), "--key", "ci.pub", "--identity", "docproc"]).ok();
    assert!(b(&["history", &c]).ok().stdout.contains("1.0.0"));
    skopeo(d, &["inspect", "--raw", &format!("{c}:1.0.0")]).ok();
    // No working folders are left beside the archives.
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A replaced archive keeps its mode.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.join("c.tar"), std::fs::Permissions::from_mode(0o640)).unwrap();
    b(&["sign", &format!("{c}:1.0.0"), "--key", "ci.key", "--identity", "again"]).ok();
    assert_eq!(std::fs::metadata(d.join("c.tar")).unwrap().permissions().mode() & 0o777, 0o640);
    // Hostile archives: a link, a path outside the layout, an absolute path, an entry twice
    // (the second index.json must not replace the first).
    for (name, script, says) in [
        (
            "link.tar",
            "ti = tarfile.TarInfo('index.json'); ti.type = tarfile.SYMTYPE; ti.linkname = '/etc/passwd'; t.addfile(ti)",
            "entry `index.json`",
        ),
        ("escape.tar", "ti = tarfile.TarInfo('../evil'); ti.size = 1; t.addfile(ti, io.BytesIO(b'x'))", "entry `../evil`"),
        ("abs.tar", "ti = tarfile.TarInfo('/index.json'); ti.size = 2; t.addfile(ti, io.BytesIO(b'{}'))", "entry `/index.json`"),
        (
            "twice.tar",
            "for x in (b'{\"manifests\":[]}', b'{\"manifests\":[{}]}'): ti = tarfile.TarInfo('index.json'); ti.size = len(x); t.addfile(ti, io.BytesIO(x))",
            "entry `index.json`: appears twice",
        ),
    ] {
        let p = d.join(name);
        py(&format!("import sys, io, tarfile\nwith tarfile.open(sys.argv[1], 'w') as t:\n    {script}"), &[p.to_str().unwrap()]).ok();
        let r = b(&["inspect", &format!("oci-archive:{}", p.display())]).code(2);
        assert!(
            r.stderr.contains(&format!("oci-archive:{}: not a readable OCI archive", p.display())) && r.stderr.contains(says),
            "{name}: {}",
            r.stderr
        );
    }
}

/// Registry → registry, each blob streamed from one to the other: faults at either end (a
/// status, a reset, a body cut short in either direction) are retried away by restarting the
/// blob, and a persistent fault at the source fails the copy cleanly, with no release tag.
#[test]
fn registry_to_registry_streams_survive_faults_at_either_end() {
    let w = world();
    let d = w.d().to_path_buf();
    let r2 = w.reg2.addr.clone();
    let up = Proxy::start(&r2);
    // Into reg2 through a proxy (faults at the destination); the record names the proxy.
    let to_reg2 = |repo: &str| {
        run(bundle(&d).env("RELBUNDLE_RETRY_BASE_MS", "2").env("RELBUNDLE_HTTP_TIMEOUT_SECS", "10").args([
            "copy",
            &format!("{}/acme/docproc:1.0.0", w.r1()),
            &format!("{}/{repo}", up.addr),
            "--with-images",
            "--images-to",
            &format!("{}/{repo}-img", up.addr),
            "--json",
        ]))
    };
    let tagged = |at: &str| run(bundle(&d).args(["inspect", &format!("{at}:1.0.0")])).code == 0;
    up.plan(Plan::None);
    let r = to_reg2("acme/clean").ok();
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(rep["moved"]["uploadedBlobs"].as_u64().unwrap() >= 8, "{rep}");
    let steps = up.requests().len();
    for (i, f) in [Fault::TruncateRequest, Fault::Reset, Fault::Status(503), Fault::TruncateRequest].into_iter().enumerate() {
        let k = steps * (i + 1) / 5;
        up.plan(Plan::At(k, f));
        to_reg2(&format!("acme/up-{i}")).ok();
        assert!(tagged(&format!("{r2}/acme/up-{i}")), "fault {f:?} at {k}");
    }

    // Out of reg2 through the proxy (faults at the source): the record of `up/acme/clean` sends
    // every image fetch through the proxy.
    let back = |repo: &str| {
        run(bundle(&d).env("RELBUNDLE_RETRY_BASE_MS", "2").env("RELBUNDLE_HTTP_TIMEOUT_SECS", "10").args([
            "copy",
            &format!("{}/acme/clean:1.0.0", up.addr),
            &format!("{}/{repo}", w.r1()),
            "--with-images",
            "--images-to",
            &format!("{}/{repo}-img", w.r1()),
        ]))
    };
    up.plan(Plan::None);
    back("back/clean").ok();
    let steps = up.requests().len();
    assert!(up.requests().iter().any(|r| r.starts_with("GET ") && r.contains("/acme/clean-img/") && r.contains("/blobs/")));
    for (i, f) in [Fault::TruncateResponse, Fault::Reset, Fault::Status(500), Fault::TruncateResponse].into_iter().enumerate() {
        let k = steps * (i + 1) / 5;
        up.plan(Plan::At(k, f));
        back(&format!("back/src-{i}")).ok();
        assert!(tagged(&format!("{}/back/src-{i}", w.r1())), "fault {f:?} at {k}");
    }
    up.plan(Plan::From(steps / 2, Fault::Status(500)));
    let r = back("back/cut");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(!tagged(&format!("{}/back/cut", w.r1())), "a failed copy left the release tag");
    up.plan(Plan::None);
    w.b(&[
        "verify",
        &format!("{}/back/src-3:1.0.0", w.r1()),
        "--key",
        "ci.pub",
        "--identity",
        &format!("{}/acme/docproc", w.r1()),
        "--check-images",
    ])
    .ok();
}

/// The relocation record at the source is unsigned: anyone who can write there can write one.
/// It may send image fetches only within the source (its own registry); a record naming places
/// on another registry is ignored, with a note, and the images come from their original places.
#[test]
fn a_relocation_record_cannot_send_fetches_to_another_registry() {
    let w = world();
    let r2 = w.reg2.addr.clone();
    // reg1 → reg2 with the images put back on reg1 (under mirror/): the record at reg2 names reg1.
    w.b(&[
        "copy",
        &format!("{}/acme/docproc:1.0.0", w.r1()),
        &format!("{r2}/acme/moved"),
        "--with-images",
        "--images-to",
        &format!("{}/mirror", w.r1()),
    ])
    .ok();
    let out = format!("oci:{}", w.d().join("out").display());
    let r = w.b(&["copy", &format!("{r2}/acme/moved:1.0.0"), &out, "--with-images", "--json"]).ok();
    assert!(r.stderr.contains("ignoring the relocation record's place") && r.stderr.contains("/mirror/"), "{}", r.stderr);
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let images = rep["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{rep}");
    for i in images {
        assert_eq!(i["from"], i["original"], "an unsigned record on another registry decided where to fetch: {rep}");
    }
    // The user names the mirror: --images-from reads every image there (digests checked).
    let out_m = format!("oci:{}", w.d().join("out-m").display());
    let r = w
        .b(&["copy", &format!("{r2}/acme/moved:1.0.0"), &out_m, "--with-images", "--images-from", &format!("{}/mirror", w.r1()), "--json"])
        .ok();
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for i in rep["images"].as_array().unwrap() {
        assert!(i["from"].as_str().unwrap().starts_with(&format!("{}/mirror/img/", w.r1())), "{rep}");
    }
    w.b(&["copy", &format!("{r2}/acme/moved:1.0.0"), &out_m, "--with-images", "--images-from", "not a place"]).code(2);
    // Same registry, another namespace (on a shared registry, another owner's repositories):
    // not followed either.
    w.b(&[
        "copy",
        &format!("{}/acme/docproc:1.0.0", w.r1()),
        &format!("{r2}/acme/here"),
        "--with-images",
        "--images-to",
        &format!("{r2}/someone-else"),
    ])
    .ok();
    let out2 = format!("oci:{}", w.d().join("out2").display());
    let r = w.b(&["copy", &format!("{r2}/acme/here:1.0.0"), &out2, "--with-images", "--json"]).ok();
    assert!(r.stderr.contains("ignoring the relocation record's place") && r.stderr.contains("/someone-else/"), "{}", r.stderr);
    // Within the source's namespace the record is followed: images under reg2/acme/.
    w.b(&[
        "copy",
        &format!("{}/acme/docproc:1.0.0", w.r1()),
        &format!("{r2}/acme/ours"),
        "--with-images",
        "--images-to",
        &format!("{r2}/acme/mirror"),
    ])
    .ok();
    let out3 = format!("oci:{}", w.d().join("out3").display());
    let r = w.b(&["copy", &format!("{r2}/acme/ours:1.0.0"), &out3, "--with-images", "--json"]).ok();
    assert!(!r.stderr.contains("ignoring the relocation record"), "{}", r.stderr);
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for i in rep["images"].as_array().unwrap() {
        assert!(i["from"].as_str().unwrap().starts_with(&format!("{r2}/acme/mirror/")), "{rep}");
    }
}

/// A relocation record signed keylessly (the stand-in Fulcio/Rekor/TSA): `values --relocated`
/// believes it for the CI identity that signed it and for no other; sigstore-python verifies the
/// stored bundle for the release digest, with the same trusted root and identity.
#[test]
fn a_keyless_relocation_record_is_believed_for_its_identity_only() {
    use common::standin::{GITHUB_ISSUER, GITHUB_SAN, Standin};
    let w = world();
    let d = w.d();
    let s = Standin::start(&d.join("sigstore"), false);
    let token = d.join("token");
    std::fs::write(&token, s.token(&common::standin::github_claims("release.yml"))).unwrap();
    let (r1, r2) = (w.r1(), w.reg2.addr.clone());
    let dst = format!("{r2}/acme/keyless");
    let config = s.file("signing_config.json");
    let r = w
        .b(&[
            "copy",
            &format!("{r1}/acme/docproc:1.0.0"),
            &dst,
            "--with-images",
            "--keyless",
            "--identity-token",
            token.to_str().unwrap(),
            "--signing-config",
            config.to_str().unwrap(),
            "--json",
        ])
        .ok();
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rep["relocationSigned"], true, "{rep}");

    let root = s.file("trusted_root.json");
    let id = format!("{r1}/acme/docproc");
    let trust = |san: &str| {
        vec![
            "--key".to_string(),
            "ci.pub".into(),
            "--identity".into(),
            id.clone(),
            "--certificate-identity".into(),
            san.to_string(),
            "--certificate-oidc-issuer".into(),
            GITHUB_ISSUER.into(),
            "--trusted-root".into(),
            root.to_str().unwrap().to_string(),
        ]
    };
    let values = |san: &str| {
        let mut a = vec!["values".to_string(), format!("{dst}:1.0.0"), "--relocated".into(), "--json".into()];
        a.extend(trust(san));
        w.b(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let v: serde_json::Value = serde_json::from_str(&values(GITHUB_SAN).ok().stdout).unwrap();
    for c in ["ocr", "embedding", "summarizer"] {
        assert_eq!(v[c]["image"]["registry"], r2.as_str(), "{c}: {v}");
    }
    // Another workflow of the same repository did not sign it: the record is not believed.
    let r = values(&GITHUB_SAN.replace("release.yml", "pr.yml")).code(1);
    assert!(r.stderr.contains("no relocation record verified by the given trust flags"), "{}", r.stderr);

    // sigstore-python verifies the stored bundle (found through the referrers fallback tag) for
    // the release digest and the CI identity.
    let bundle_file = d.join("relocation.sigstore.json");
    py(
        r#"
import json, sys, urllib.request
reg, repo, digest, out = sys.argv[1:5]
def get(path, accept):
    return urllib.request.urlopen(urllib.request.Request(f"http://{reg}/v2/{repo}/{path}", headers={"Accept": accept})).read()
index = json.loads(get("manifests/" + digest.replace(":", "-"), "application/vnd.oci.image.index.v1+json"))
m = [m for m in index["manifests"] if m.get("annotations", {}).get("dev.sigstore.bundle.predicateType") == "https://relbundle.dev/relocation/v1"]
assert len(m) == 1, index
manifest = json.loads(get("manifests/" + m[0]["digest"], "application/vnd.oci.image.manifest.v1+json"))
open(out, "wb").write(get("blobs/" + manifest["layers"][0]["digest"], "*/*"))
"#,
        &[&r2, "acme/keyless", &w.digest, bundle_file.to_str().unwrap()],
    )
    .ok();
    let sp = |san: &str| {
        run(Command::new(python())
            .args(["-m", "sigstore", "--trust-config"])
            .arg(s.file("trust_config.json"))
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(&bundle_file)
            .args(["--cert-identity", san, "--cert-oidc-issuer", GITHUB_ISSUER])
            .arg(&w.digest))
    };
    let r = sp(GITHUB_SAN);
    assert_eq!(r.code, 0, "sigstore-python: {}\n{}", r.stdout, r.stderr);
    assert_ne!(sp(&GITHUB_SAN.replace("release.yml", "pr.yml")).code, 0, "sigstore-python accepted another identity");
}

/// A layout whose image entry (`sha256-X.image`) was made to point at another digest: a second
/// `copy --with-images` puts the entry right instead of adding a second one of that name (which
/// would make every later read of the layout refuse the ambiguous name).
#[test]
fn a_stale_image_entry_in_a_layout_is_replaced_not_doubled() {
    let w = world();
    let d = w.d();
    let out = d.join("out");
    let dst = format!("oci:{}", out.display());
    let src = format!("{}/acme/docproc:1.0.0", w.r1());
    w.b(&["copy", &src, &dst, "--with-images"]).ok();
    let name = relbundle::relocate::image_entry_name(&w.images[0].1);
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let p = out.join("index.json");
        let mut idx: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&mut idx);
        std::fs::write(&p, serde_json::to_vec(&idx).unwrap()).unwrap();
    };
    let other = w.images[1].1.clone();
    edit(&|idx| {
        for e in idx["manifests"].as_array_mut().unwrap() {
            if e["annotations"]["org.opencontainers.image.ref.name"] == name.as_str() {
                e["digest"] = other.clone().into();
            }
        }
    });
    w.b(&["copy", &src, &dst, "--with-images"]).ok();
    let idx: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    let named: Vec<&serde_json::Value> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["annotations"]["org.opencontainers.image.ref.name"] == name.as_str())
        .collect();
    assert_eq!(named.len(), 1, "{idx}");
    assert_eq!(named[0]["digest"], w.images[0].1.as_str());
    w.b(&["verify", &format!("{dst}:1.0.0"), "--key", "ci.pub", "--identity", &format!("{}/acme/docproc", w.r1()), "--check-images"]).ok();
}
