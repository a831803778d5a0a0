//! Against the real registry (Debian's docker-registry, distribution 2.8.2): push, pull,
//! immutable tags, tag resolution (with a multi-arch index pushed by skopeo), history, hostile
//! layers, and independent clients (oras-py, skopeo) reading what we pushed.

mod common;
use common::registry::Registry;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Build the fixture into a layout; returns (layout ref "oci:DIR", digest).
fn build_layout(t: &Path, repo: &Path, name: &str, extra: &[&str]) -> (String, String) {
    let out = format!("oci:{}", t.join(name).display());
    let r = run(bundle(t).args(["build", "--output", &out]).args(extra).arg(repo.join("docproc"))).ok();
    (out, built_digest(&r.stdout))
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout))
}

fn sha256_file(p: &Path) -> String {
    relbundle::hashing::sha256_digest(&std::fs::read(p).unwrap())
}

#[test]
fn push_pull_round_trips_and_independent_clients() {
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::plain(&t.path().join("reg"));
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let (layout, digest) = build_layout(t.path(), &repo, "l1", &["--version", "1.0.0"]);
    let dst = format!("{}/acme/docproc", reg.addr);

    // layout → registry
    let r = json(&run(bundle(t.path()).args(["push", &format!("{layout}:1.0.0"), &dst, "--json"])).ok());
    assert_eq!(r["digest"], digest.as_str());
    assert_eq!(r["uploadedBlobs"], 5);
    assert_eq!(r["tagUpdate"], "created");
    // Re-push: nothing uploaded, no upload session opened.
    let sessions = reg.count("POST", "/blobs/uploads/");
    let r = json(&run(bundle(t.path()).args(["push", &format!("{layout}:1.0.0"), &dst, "--json"])).ok());
    assert_eq!((r["uploadedBlobs"].as_u64(), r["uploadedBytes"].as_u64(), r["skippedBlobs"].as_u64()), (Some(0), Some(0), Some(5)));
    assert_eq!(r["tagUpdate"], "unchanged");
    assert_eq!(reg.count("POST", "/blobs/uploads/"), sessions, "a re-push opened an upload session");
    // Monolithic uploads: the whole blob in the one `PUT …?digest=` that closes its session.
    assert_eq!(reg.count("PATCH", "/blobs/uploads/"), 0, "no chunked uploads");
    assert_eq!(reg.count("PUT", "/blobs/uploads/"), sessions, "one PUT per upload");

    // registry → layout → registry, same digest all the way.
    let l2 = format!("oci:{}", t.path().join("l2").display());
    let r = json(&run(bundle(t.path()).args(["push", &format!("{dst}:1.0.0"), &l2, "--json"])).ok());
    assert_eq!(r["digest"], digest.as_str());
    let r = json(&run(bundle(t.path()).args(["push", &format!("{l2}:1.0.0"), &format!("{}/acme/copy:1.0.0", reg.addr), "--json"])).ok());
    assert_eq!(r["digest"], digest.as_str());
    // Within one registry, blobs are mounted, not uploaded.
    let r =
        json(&run(bundle(t.path()).args(["push", &format!("{dst}@{digest}"), &format!("{}/acme/mirror:1.0.0", reg.addr), "--json"])).ok());
    assert_eq!((r["mountedBlobs"].as_u64(), r["uploadedBlobs"].as_u64()), (Some(5), Some(0)));
    // inspect works on registry references, by tag and digest.
    let s = run(bundle(t.path()).args(["inspect", &format!("{dst}@{digest}")])).ok().stdout;
    assert!(s.contains("docproc 1.0.0") && s.contains(&digest), "{s}");

    // skopeo: registry → OCI layout keeps the digest.
    let sk = t.path().join("skopeo-layout");
    run(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{dst}:1.0.0"),
        &format!("oci:{}:1.0.0", sk.display()),
    ]))
    .ok();
    let idx: serde_json::Value = serde_json::from_slice(&std::fs::read(sk.join("index.json")).unwrap()).unwrap();
    assert_eq!(idx["manifests"][0]["digest"], digest.as_str());

    // oras-py pulls the artifact: files named by their titles, with the layer digests.
    let out = t.path().join("oras-out");
    let code = r#"
import json, sys, oras.client
host, target, out = sys.argv[1:4]
c = oras.client.OrasClient(hostname=host, insecure=True)
m = c.get_manifest(target)
files = c.pull(target=target, outdir=out)
print(json.dumps({"artifactType": m.get("artifactType"), "files": sorted(files)}))
"#;
    let r = py(code, &[&reg.addr, &format!("{dst}:1.0.0"), out.to_str().unwrap()]).ok();
    let v: serde_json::Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["artifactType"], relbundle::spec::ARTIFACT_TYPE);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("l1/blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap())
            .unwrap();
    for l in manifest["layers"].as_array().unwrap() {
        let title = l["annotations"]["org.opencontainers.image.title"].as_str().unwrap();
        assert_eq!(sha256_file(&out.join(title)), l["digest"].as_str().unwrap(), "oras file {title}");
    }

    // pull: the component's prompts only, checked against the record.
    let dir = t.path().join("prompts");
    run(bundle(t.path()).args([
        "pull",
        &format!("{dst}@{digest}"),
        "-o",
        dir.to_str().unwrap(),
        "--component",
        "summarizer",
        "--only",
        "prompts",
    ]))
    .ok();
    let got = sh(&dir, "find . -type f | sort").ok().stdout;
    assert_eq!(got, "./components/summarizer/prompts/critique.yaml\n./components/summarizer/prompts/summarize.yaml\n");
    assert_eq!(
        std::fs::read(dir.join("components/summarizer/prompts/summarize.yaml")).unwrap(),
        std::fs::read(repo.join("docproc/components/summarizer/prompts/summarize.yaml")).unwrap()
    );
    // Everything.
    let all = t.path().join("all");
    let r = json(&run(bundle(t.path()).args(["pull", &format!("{dst}:1.0.0"), "-o", all.to_str().unwrap(), "--json"])).ok());
    let files: Vec<&str> = r["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    for f in [
        "bundle.yaml",
        "components/ocr/api/openapi.yaml",
        "components/summarizer/dvc.lock",
        ".dvc/cache/files/md5/60/6586e835566f8b13710fbd6c3e257f.dir",
    ] {
        assert!(files.contains(&f), "{f} not pulled: {files:?}");
    }
}

#[test]
fn registry_tags_are_immutable_and_history_is_newest_first() {
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::plain(&t.path().join("reg"));
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let dst = format!("{}/acme/docproc", reg.addr);
    let (_, first) = build_layout(t.path(), &repo, "a", &["--version", "1.0.0", "--push", &dst]);
    // Different content, same tag: refused, both digests named, tag untouched.
    let img = format!("ocr=registry.example.com/docproc/ocr@{DIGEST_A}");
    let out = format!("oci:{}", t.path().join("b").display());
    let r = run(bundle(t.path()).args(["build", "--version", "1.0.0", "--image", &img, "--output", &out]).arg(repo.join("docproc"))).ok();
    let second = built_digest(&r.stdout);
    let r = run(bundle(t.path()).args(["push", &format!("{out}:1.0.0"), &dst])).code(1);
    assert!(r.stderr.contains(&first) && r.stderr.contains(&second) && r.stderr.contains("--retag"), "{}", r.stderr);
    let s = run(bundle(t.path()).args(["inspect", &format!("{dst}:1.0.0")])).ok().stdout;
    assert!(s.contains(&first), "the refused push moved the tag: {s}");
    let r = run(bundle(t.path()).args(["push", "--retag", &format!("{out}:1.0.0"), &dst])).ok();
    assert!(r.stderr.contains("warning: moved tag `1.0.0`"), "{}", r.stderr);

    // History: three releases created at different times, newest first.
    for (v, epoch) in [("1.1.0", "1800000000"), ("0.9.0", "1700000000")] {
        let out = format!("oci:{}", t.path().join(v).display());
        run(bundle(t.path())
            .env("SOURCE_DATE_EPOCH", epoch)
            .args(["build", "--version", v, "--output", &out, "--push", &dst])
            .arg(repo.join("docproc")))
        .ok();
    }
    let h = json(&run(bundle(t.path()).args(["history", &dst, "--json"])).ok());
    let versions: Vec<&str> = h.as_array().unwrap().iter().map(|r| r["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["1.1.0", "1.0.0", "0.9.0"]);
    assert!(h[0]["commit"].as_str().unwrap().len() == 40);
    let text = run(bundle(t.path()).args(["history", &dst])).ok().stdout;
    assert!(text.starts_with("TAG") && text.contains("1.1.0") && text.contains("2027-01-15T08:00:00Z"), "{text}");
}

/// An OCI layout holding a two-platform image index, written by hand; returns (dir, index digest,
/// [(platform, manifest digest)]).
fn multi_arch_layout(dir: &Path) -> (PathBuf, String, Vec<(String, String)>) {
    use relbundle::oci::Descriptor;
    use relbundle::store::Store;
    let l = relbundle::store::layout::Layout::new(dir.to_path_buf());
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer = relbundle::artifact::tar_gz(&[(format!("etc/{arch}"), std::sync::Arc::new(arch.as_bytes().to_vec()))]).unwrap();
        let ld = Descriptor::new("application/vnd.oci.image.layer.v1.tar+gzip", &layer);
        let config =
            serde_json::to_vec(&serde_json::json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}))
                .unwrap();
        let cd = Descriptor::new("application/vnd.oci.image.config.v1+json", &config);
        let m = relbundle::oci::ImageManifest {
            schema_version: 2,
            media_type: Some(relbundle::spec::OCI_MANIFEST.into()),
            artifact_type: None,
            config: cd.clone(),
            layers: vec![ld.clone()],
            subject: None,
            annotations: None,
        }
        .to_bytes();
        let md = Descriptor::new(relbundle::spec::OCI_MANIFEST, &m);
        l.put_blob(&ld, &layer).unwrap();
        l.put_blob(&cd, &config).unwrap();
        l.put_blob(&md, &m).unwrap();
        l.tag(arch, &md, false).unwrap();
        entries.push((format!("linux/{arch}"), md));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": relbundle::spec::OCI_INDEX,
        "manifests": entries.iter().map(|(p, d)| serde_json::json!({
            "mediaType": d.media_type, "digest": d.digest, "size": d.size,
            "platform": {"os": "linux", "architecture": p.trim_start_matches("linux/")}
        })).collect::<Vec<_>>()
    }))
    .unwrap();
    let id = Descriptor::new(relbundle::spec::OCI_INDEX, &index);
    l.put_blob(&id, &index).unwrap();
    l.tag("1.0", &id, false).unwrap();
    (dir.to_path_buf(), id.digest, entries.into_iter().map(|(p, d)| (p, d.digest)).collect())
}

#[test]
fn image_tags_resolve_once_to_digests_including_a_multi_arch_index() {
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::plain(&t.path().join("reg"));
    let (dir, index_digest, platforms) = multi_arch_layout(&t.path().join("multi"));
    // skopeo pushes the index and both platform images (an independent client).
    run(Command::new("skopeo").args([
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("oci:{}:1.0", dir.display()),
        &format!("docker://{}/acme/multi:1.0", reg.addr),
    ]))
    .ok();
    run(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:amd64", dir.display()),
        &format!("docker://{}/acme/single:2.0", reg.addr),
    ]))
    .ok();

    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let f = repo.join("docproc/bundle.yaml");
    let y = std::fs::read_to_string(&f).unwrap();
    let y = y
        .replace(
            "registry.example.com/docproc/ocr:1.3.0@sha256:3b1d9b5a0cfb7e43f4d5c7e3a1ef1bd2bb7de8c0b0c4f4c36a9d1fc1c0d35b0e",
            &format!("{}/acme/multi:1.0", reg.addr),
        )
        .replace(
            "registry.example.com/docproc/embedding:2.1.0@sha256:8f2e4c7b1a9d0e3f5c6b7a8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
            &format!("{}/acme/single:2.0", reg.addr),
        );
    std::fs::write(&f, y).unwrap();
    commit_all(&repo, "images by tag");
    let heads = reg.count("HEAD", "/acme/multi/manifests/1.0");
    let probes = reg.count("GET", "/v2/ HTTP");
    let (layout, _) = build_layout(t.path(), &repo, "l", &["--version", "1.0.0"]);
    assert_eq!(reg.count("HEAD", "/acme/multi/manifests/1.0") - heads, 1, "the tag was not resolved exactly once");
    // Two repositories on one registry share one client: one transport probe, not one per image.
    assert_eq!(reg.count("GET", "/v2/ HTTP") - probes, 1, "one registry host should be probed once");
    assert_eq!(reg.count("GET", "/acme/multi/manifests/1.0 "), 0, "after the HEAD, only the digest may be used");
    let rec = json(&run(bundle(t.path()).args(["inspect", "--json", &layout])).ok());
    let img = |n: &str| rec["components"].as_array().unwrap().iter().find(|c| c["name"] == n).unwrap()["image"].clone();
    assert_eq!(img("ocr")["digest"], index_digest.as_str());
    assert_eq!(img("ocr")["from"], "registry");
    assert_eq!(img("ocr")["tag"], "1.0");
    let got: Vec<(String, String)> = img("ocr")["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["platform"].as_str().unwrap().to_string(), p["digest"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, platforms);
    assert_eq!(img("embedding")["digest"], platforms[0].1.as_str());
    assert!(img("embedding").get("platforms").is_none());

    // --offline refuses to resolve; --check-images catches a pinned digest that does not exist.
    let r = run(bundle(t.path()).args(["check", "--offline", "--version", "1.0.0"]).arg(repo.join("docproc"))).code(2);
    assert!(r.stderr.contains("--offline"), "{}", r.stderr);
    let y = std::fs::read_to_string(&f)
        .unwrap()
        .replace(&format!("{}/acme/single:2.0", reg.addr), &format!("{}/acme/single@{DIGEST_B}", reg.addr));
    std::fs::write(&f, y).unwrap();
    run(bundle(t.path()).args(["check", "--allow-dirty", "--version", "1.0.0"]).arg(repo.join("docproc"))).ok();
    let r =
        run(bundle(t.path()).args(["check", "--allow-dirty", "--check-images", "--version", "1.0.0"]).arg(repo.join("docproc"))).code(1);
    assert!(r.stderr.contains("component `embedding` field `image`") && r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn bad_references_exit_2_and_push_nothing() {
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::plain(&t.path().join("reg"));
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let (layout, _) = build_layout(t.path(), &repo, "l", &["--version", "1.0.0"]);
    let before = reg.count("POST", "/blobs/uploads/") + reg.count("PUT", "/manifests/");
    for (dst, msg) in [
        (format!("{}/UPPER:tag", reg.addr), "not a valid repository name"),
        (format!("{}/", reg.addr), "empty"),
        (format!("{}/acme/x@sha256:1234", reg.addr), "not a sha256 digest"),
        ("acme/docproc:1.0.0".to_string(), "name the registry host"),
        (format!("{}/acme/x:bad!tag", reg.addr), "not a valid"),
    ] {
        let r = run(bundle(t.path()).args(["push", &format!("{layout}:1.0.0"), &dst])).code(2);
        assert!(r.stderr.contains(msg), "{dst}: {}", r.stderr);
    }
    let r = run(bundle(t.path()).args(["push", "oci:x", &format!("{}/acme/x", reg.addr)])).code(2);
    assert!(r.stderr.contains("oci:x"), "{}", r.stderr);
    assert_eq!(reg.count("POST", "/blobs/uploads/") + reg.count("PUT", "/manifests/"), before, "something was pushed");
    let r = run(bundle(t.path()).args(["inspect", &format!("{}/acme/none:1.0.0", reg.addr)])).code(2);
    assert!(r.stderr.contains("no tag `1.0.0`"), "{}", r.stderr);
}

/// `verify` from a plain-HTTP registry reads no system CA store (with none installed it still
/// works: it used to panic building a TLS client it never used), asks each signature place once,
/// and reads a tag with one GET (no HEAD first).
#[test]
fn verify_from_a_plain_http_registry_needs_no_ca_store_and_asks_each_place_once() {
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::plain(&t.path().join("reg"));
    let (_, layout, digest) = signed_fixture(t.path());
    let target = format!("{}/acme/docproc", reg.addr);
    run(bundle(t.path()).args(["push", &format!("oci:{}:1.0.0", layout.display()), &target])).ok();
    let hex = digest.trim_start_matches("sha256:");
    let asked = || {
        [
            reg.count("HEAD", "/manifests/"),
            reg.count("GET", "/v2/ "),
            reg.count("GET", "/manifests/1.0.0 "),
            reg.count("GET", &format!("/manifests/sha256-{hex}.sig ")),
            reg.count("GET", &format!("/manifests/sha256-{hex} ")),
            reg.count("GET", &format!("/referrers/{digest} ")),
        ]
    };
    let before = asked();
    let key = t.path().join("trusted.pub");
    let r = run(bundle(t.path())
        .env("SSL_CERT_FILE", t.path().join("no-such-ca.pem"))
        .env("SSL_CERT_DIR", t.path().join("no-such-certs"))
        .args(["verify", &format!("{target}:1.0.0"), "--key", key.to_str().unwrap(), "--identity", "docproc"]))
    .ok();
    assert!(r.stdout.contains("PASS  integrity") && r.stdout.ends_with("verified\n"), "{}", r.stdout);
    let after = asked();
    let delta: Vec<usize> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    // No HEAD; one probe; the tag, the .sig tag, the referrers tag and the referrers API once each.
    assert_eq!(delta, [0, 1, 1, 1, 1, 1], "HEAD, probe, tag, .sig, referrers tag, referrers API");
}

/// Overwrite a stored blob with other bytes of the same size (an attacker who can write to the
/// store): the first byte flipped.
fn corrupt(path: &Path) {
    let mut b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    b[0] ^= 0x20;
    std::fs::write(path, b).unwrap();
}

/// A push writes its tag last: when copying what is attached fails (an unreadable signature at
/// the source), the destination has no tag. Registry to registry, a source blob that is not what
/// its digest says fails the copy at once (no retries), naming the blob and the source, and
/// nothing of it is stored at the destination.
#[test]
fn push_tags_last_and_refuses_a_source_blob_that_is_not_its_digest() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let reg = Registry::plain(&d.join("reg"));
    let reg2 = Registry::plain(&d.join("reg2"));
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").env("RELBUNDLE_RETRY_BASE_MS", "2").args(args));
    b(&["keygen", "--output-prefix", "ci"]).ok();
    let (layout, digest) = build_layout(d, &repo, "l1", &["--version", "1.0.0"]);
    b(&["sign", &format!("{layout}:1.0.0"), "--key", "ci.key"]).ok();
    let tagged = |at: &str| b(&["inspect", &format!("{at}:1.0.0")]).code == 0;

    // The legacy signature manifest of the release, damaged in the layout.
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("l1/index.json")).unwrap()).unwrap();
    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    let sig = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"] == sig_tag.as_str())
        .expect("a legacy signature in the layout");
    let sig_blob = d.join("l1/blobs/sha256").join(sig["digest"].as_str().unwrap().trim_start_matches("sha256:"));
    corrupt(&sig_blob);
    let dst = format!("{}/acme/docproc", reg.addr);
    let r = b(&["push", &format!("{layout}:1.0.0"), &dst]);
    assert_ne!(r.code, 0, "a push with an unreadable signature succeeded: {}", r.stderr);
    assert!(!tagged(&dst), "the release tag was set before its signatures were copied");
    corrupt(&sig_blob); // flipped back
    b(&["push", &format!("{layout}:1.0.0"), &dst]).ok();
    b(&["verify", &format!("{dst}:1.0.0"), "--key", "ci.pub", "--identity", "docproc"]).ok();

    // Registry → registry with one layer damaged in the source's storage.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("l1/blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()).unwrap();
    let layer = manifest["layers"].as_array().unwrap().last().unwrap()["digest"].as_str().unwrap().to_string();
    let hex = layer.trim_start_matches("sha256:");
    let stored = |r: &Registry| r.dir.join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data");
    corrupt(&stored(&reg));
    let dst2 = format!("{}/acme/copy", reg2.addr);
    let fetched = reg.count("GET", &format!("/blobs/{layer}"));
    let r = b(&["push", &format!("{dst}:1.0.0"), &dst2]).code(1);
    assert!(r.stderr.contains(&layer) && r.stderr.contains(&dst) && r.stderr.contains("serves other content"), "{}", r.stderr);
    assert_eq!(reg.count("GET", &format!("/blobs/{layer}")), fetched + 1, "a wrong blob was fetched again");
    assert!(!stored(&reg2).exists(), "the wrong blob was stored at the destination");
    assert!(!tagged(&dst2), "a failed push left the release tag");
    corrupt(&stored(&reg));
    b(&["push", &format!("{dst}:1.0.0"), &dst2]).ok();
    b(&["verify", &format!("{dst2}:1.0.0"), "--key", "ci.pub", "--identity", "docproc"]).ok();
}

#[test]
fn build_signs_and_attests_before_it_tags_and_refuses_a_taken_tag_before_writing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let reg = Registry::plain(&d.join("reg"));
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let b = |args: &[&str]| run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(args));
    b(&["keygen", "--output-prefix", "ci"]).ok();
    let dst = format!("{}/acme/docproc", reg.addr);
    let src = repo.join("docproc");
    let r = b(&[
        "build",
        "--version",
        "1.0.0",
        "--output",
        &format!("oci:{}", d.join("l1").display()),
        "--push",
        &dst,
        "--sign",
        "--key",
        "ci.key",
        "--provenance",
        src.to_str().unwrap(),
    ])
    .ok();
    let digest = built_digest(&r.stdout);
    // In the registry's access log, the release tag is written after the signature and the
    // provenance attestation (its legacy .att tag).
    let log = std::fs::read_to_string(&reg.log).unwrap();
    let line = |what: &str| {
        log.lines()
            .position(|l| l.contains(&format!("\"PUT /v2/acme/docproc/manifests/{what} ")))
            .unwrap_or_else(|| panic!("no PUT of {what}:\n{log}"))
    };
    let hex = digest.trim_start_matches("sha256:");
    let tag = line("1.0.0");
    assert!(line(&format!("sha256-{hex}.sig")) < tag && line(&format!("sha256-{hex}.att")) < tag, "the tag came before the signatures");
    b(&["verify", &format!("{dst}:1.0.0"), "--key", "ci.pub"]).ok();

    // Another release for the same registry tag: refused before anything is written, the
    // layout included.
    let l2 = d.join("l2");
    let puts = reg.count("PUT", "/v2/acme/docproc/");
    let r = b(&[
        "build",
        "--version",
        "1.0.1",
        "--output",
        &format!("oci:{}", l2.display()),
        "--push",
        &format!("{dst}:1.0.0"),
        "--sign",
        "--key",
        "ci.key",
        src.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("tag `1.0.0` already names") && r.stderr.contains("--retag"), "{}", r.stderr);
    assert!(!l2.join("index.json").exists(), "the layout was written before the refusal");
    assert_eq!(reg.count("PUT", "/v2/acme/docproc/"), puts, "the refused build uploaded to the registry");
    let record: serde_json::Value = serde_json::from_str(&b(&["inspect", &format!("{dst}:1.0.0"), "--json"]).ok().stdout).unwrap();
    assert_eq!(record["version"], "1.0.0", "the tag still names the first release");
}
