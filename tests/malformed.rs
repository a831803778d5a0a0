//! The malformed-input corpus: hostile or broken input to every command, from the monorepo, from
//! an OCI layout, from key and values files, and from a registry that serves whatever an attacker
//! likes (a proxy in front of the real registry answers chosen paths itself). Each case must exit
//! 2 (or 1 where a verification failed), name the file or reference and what is wrong, not panic,
//! and leave no partial output behind.

mod common;
use common::craft::*;
use common::proxy::Proxy;
use common::registry::Registry;
use common::*;
use relbundle::oci::ImageManifest;
use relbundle::signing;
use relbundle::store::layout::Layout;
use std::io::Write;
use std::path::{Path, PathBuf};

const REPO: &str = "acme/docproc";

struct Fx {
    t: tempfile::TempDir,
    repo: PathBuf,
    base: PathBuf,
    key: PathBuf,
    pubk: PathBuf,
    digest: String,
    manifest: ImageManifest,
    reg: Registry,
    proxy: Proxy,
    cases: usize,
}

impl Fx {
    fn d(&self) -> &Path {
        self.t.path()
    }
    fn cmd(&self) -> std::process::Command {
        let mut c = bundle(self.d());
        c.env("COSIGN_PASSWORD", "pw").env("RELBUNDLE_RETRY_BASE_MS", "2").current_dir(self.d());
        c
    }
    fn bundle(&self, args: &[&str]) -> Run {
        run(self.cmd().args(args))
    }
    /// A fresh copy of the signed layout, and its `oci:DIR:1.0.0` reference.
    fn layout(&self, name: &str) -> (PathBuf, String) {
        let to = self.d().join(name);
        sh(self.d(), &format!("rm -rf {0} && cp -a {1} {0}", to.display(), self.base.display())).ok();
        let r = format!("oci:{}:1.0.0", to.display());
        (to, r)
    }
    /// A fresh writable copy of the monorepo (docproc inside a git repository).
    fn source(&self, name: &str) -> PathBuf {
        let to = self.d().join(name);
        sh(self.d(), &format!("rm -rf {0} && cp -a {1} {0}", to.display(), self.repo.display())).ok();
        to.join("docproc")
    }
    fn pub_s(&self) -> &str {
        self.pubk.to_str().unwrap()
    }
    /// The proxy answers GET/HEAD of `reference` (a tag or digest in REPO) with `body`; returns the
    /// body's digest, which it also answers.
    fn serve_manifest(&self, reference: &str, body: &[u8]) -> String {
        let digest = relbundle::hashing::sha256_digest(body);
        for r in [reference, digest.as_str()] {
            self.proxy.serve(&format!("/v2/{REPO}/manifests/{r}"), relbundle::spec::OCI_MANIFEST, body.to_vec());
        }
        digest
    }
    fn hostile(&self, tag: &str) -> String {
        format!("{}/{REPO}:{tag}", self.proxy.addr)
    }

    /// One case: the exit code, every needle in stdout or stderr, no panic, nothing written.
    #[track_caller]
    fn case(&mut self, name: &str, r: Run, code: i32, needles: &[&str], absent: &[&Path]) {
        self.cases += 1;
        let all = format!("{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, code, "case `{name}`: expected exit {code}\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
        assert!(!all.contains("panicked") && !all.contains("RUST_BACKTRACE"), "case `{name}` panicked:\n{all}");
        for n in needles {
            assert!(all.contains(n), "case `{name}`: output does not name {n:?}:\n{all}");
        }
        if code == 1 {
            assert!(r.stderr.contains("failed:") || r.stderr.contains("is not verified"), "case `{name}`: {}", r.stderr);
        } else {
            assert!(r.stderr.starts_with("error: "), "case `{name}`: stderr should start with `error: `:\n{}", r.stderr);
        }
        for p in absent {
            assert!(!p.exists(), "case `{name}`: left {} behind", p.display());
        }
        self.proxy.serve_none();
        eprintln!("{name}: exit {code}: {}", r.stderr.lines().next().unwrap_or(""));
    }
}

fn setup() -> Fx {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().to_path_buf();
    run(bundle(&d).current_dir(&d).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", "trusted"])).ok();
    let repo = fixture_repo(&d, &["docproc", "dvc-remote"]);
    let base = d.join("base");
    let (key, pubk) = (d.join("trusted.key"), d.join("trusted.pub"));
    let r = run(bundle(&d)
        .env("COSIGN_PASSWORD", "pw")
        .args(["build", "--version", "1.0.0", "--sign", "--key", key.to_str().unwrap(), "--output"])
        .arg(format!("oci:{}", base.display()))
        .arg(repo.join("docproc")))
    .ok();
    let digest = built_digest(&r.stdout);
    // The signature cases below are about the legacy `.sig` manifest; bundle ones are in tests/bundle_format.rs.
    drop_referrers(&base);
    let (_, manifest) = common::craft::manifest(&Layout::new(base.clone()), "1.0.0");
    let reg = Registry::plain(&d.join("reg"));
    let proxy = Proxy::start(&reg.addr);
    run(bundle(&d).args(["push", &format!("oci:{}:1.0.0", base.display()), &format!("{}/{REPO}:1.0.0", reg.addr)])).ok();
    Fx { t, repo, base, key, pubk, digest, manifest, reg, proxy, cases: 0 }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut v = vec![b'['; depth];
    v.extend(std::iter::repeat_n(b']', depth));
    v
}

/// A YAML mapping entry whose aliases expand to 9^9 strings ("billion laughs").
fn laughs(key: &str) -> String {
    let mut s = format!("{key}:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        s += &format!("  a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 9].join(", "));
    }
    s
}

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

/// A tar.gz of `n` empty regular files, compressed with gzip(1) (fast even for many entries).
fn many_entries(dir: &Path, n: usize) -> Vec<u8> {
    let mut tar = Vec::with_capacity((n + 2) * 512);
    for i in 0..n {
        let mut h = tar::Header::new_ustar();
        h.set_path(format!("p/{i}.yaml")).unwrap();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
    }
    tar.extend([0u8; 1024]);
    let p = dir.join("many.tar");
    std::fs::write(&p, tar).unwrap();
    sh(dir, "gzip -1 -f -n many.tar").ok();
    std::fs::read(dir.join("many.tar.gz")).unwrap()
}

#[test]
fn malformed_input_corpus() {
    let mut fx = setup();
    let d = fx.d().to_path_buf();
    let pubk = fx.pub_s().to_string();
    let good = fx.manifest.clone();

    // ---- A registry serving hostile manifests ---------------------------------------------------
    let mb = good.to_bytes();
    let truncated = &mb[..mb.len() / 2];
    let digest = fx.serve_manifest("1.0.0", truncated);
    let r = fx.bundle(&["verify", &fx.hostile("1.0.0"), "--key", &pubk]);
    // Unsigned: verify reads nothing of it after the signature check (see the signed layout cases).
    fx.case(
        "registry: truncated manifest, verify",
        r,
        1,
        &["FAIL  signatures", "SKIP  integrity: not read: signatures failed", &digest],
        &[],
    );

    fx.serve_manifest("1.0.0", truncated);
    let out = d.join("out-truncated-values.yaml");
    let r = fx.bundle(&["values", &fx.hostile("1.0.0"), "--key", &pubk, "-o", out.to_str().unwrap()]);
    fx.case("registry: truncated manifest, values", r, 1, &["FAIL  signatures", "is not verified", &fx.hostile("1.0.0")[..20]], &[&out]);

    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let digest = fx.serve_manifest("1.0.0", &garbage);
    let out = d.join("out-garbage");
    let r = fx.bundle(&["pull", &fx.hostile("1.0.0"), "-o", out.to_str().unwrap()]);
    fx.case(
        "registry: garbage manifest, pull",
        r,
        2,
        &[&format!("{}/{REPO}@{digest}", fx.proxy.addr), "not an OCI image manifest"],
        &[&out],
    );

    let mut huge = mb.clone();
    huge.extend(std::iter::repeat_n(b' ', 5 << 20));
    fx.serve_manifest("1.0.0", &huge);
    let r = fx.bundle(&["inspect", &fx.hostile("1.0.0")]);
    fx.case("registry: 5 MiB manifest, inspect", r, 2, &[&fx.hostile("1.0.0")[..20], "over the 4 MiB limit"], &[]);

    let mut image = good.clone();
    image.config.media_type = "application/vnd.oci.image.config.v1+json".into();
    image.artifact_type = None;
    fx.serve_manifest("1.0.0", &image.to_bytes());
    let r = fx.bundle(&["diff", &format!("oci:{}:1.0.0", fx.base.display()), &fx.hostile("1.0.0")]);
    fx.case(
        "registry: config blob of a container image, diff",
        r,
        2,
        &["not a relbundle release", "application/vnd.oci.image.config.v1+json"],
        &[],
    );

    fx.proxy.serve(&format!("/v2/{REPO}/tags/list"), "application/json", b"{\"name\": \"acme/docproc\", \"tags\": [1, 2".to_vec());
    let r = fx.bundle(&["history", &format!("{}/{REPO}", fx.proxy.addr)]);
    fx.case("registry: truncated tag list, history", r, 2, &[&format!("{}/{REPO}", fx.proxy.addr), "tag"], &[]);

    let sig_tag = signing::sig_tag(&fx.digest);
    fx.serve_manifest(&sig_tag, b"{\"schemaVersion\": 2, \"layers\": \"not a list\"}");
    let r = fx.bundle(&["verify", &fx.hostile("1.0.0"), "--key", &pubk]);
    fx.case("registry: garbage signature manifest, verify", r, 1, &["FAIL  signatures", &sig_tag], &[]);

    let puts = fx.reg.count("PUT", "/manifests/");
    fx.serve_manifest("1.0.0", &garbage);
    let r = fx.bundle(&["sign", &fx.hostile("1.0.0"), "--key", fx.key.to_str().unwrap()]);
    fx.case("registry: garbage manifest, sign", r, 2, &["not an OCI image manifest"], &[]);
    assert_eq!(fx.reg.count("PUT", "/manifests/"), puts, "sign wrote a signature for a manifest it could not read");

    // ---- Releases in a layout, altered by someone with write access to it ----------------------
    let (l, lref) = fx.layout("bad-config");
    let dg = craft(&l, |_| {}, |m| m.config.media_type = "application/vnd.oci.image.config.v1+json".into());
    sign_digest(&l, &dg, &fx.key, "docproc:1.0.0");
    let r = fx.bundle(&["inspect", &lref]);
    fx.case("layout: config blob of a wrong media type, inspect", r, 2, &[&l.display().to_string(), "not a relbundle release"], &[]);
    let r = fx.bundle(&["verify", &lref, "--key", &pubk, "--identity", "docproc"]);
    fx.case(
        "layout: config blob of a wrong media type, verify",
        r,
        1,
        &["FAIL  integrity", "config application/vnd.oci.image.config.v1+json"],
        &[],
    );

    let (l, lref) = fx.layout("bad-title");
    let dg = craft(
        &l,
        |_| {},
        |m| {
            m.layers[1].annotations.as_mut().unwrap().insert("org.opencontainers.image.title".into(), "../../evil.tar.gz".into());
        },
    );
    sign_digest(&l, &dg, &fx.key, "docproc:1.0.0");
    let out = d.join("out-title");
    let r = fx.bundle(&["pull", &lref, "-o", out.to_str().unwrap()]);
    fx.case(
        "layout: layer title escapes the directory, pull",
        r,
        2,
        &["layer 2: title `../../evil.tar.gz`", "prompts.tar.gz"],
        &[&out, &d.join("evil.tar.gz")],
    );
    let r = fx.bundle(&["verify", &lref, "--key", &pubk, "--identity", "docproc"]);
    // The layers of a malformed release are not fetched, and the record check says so (no PASS).
    fx.case(
        "layout: layer title escapes the directory, verify",
        r,
        1,
        &["FAIL  integrity", "`../../evil.tar.gz`", "FAIL  record", "layer `prompts.tar.gz` was not read"],
        &[],
    );

    let (l, lref) = fx.layout("bad-size");
    craft(&l, |_| {}, |m| m.layers[3].size = 10 << 30);
    let out = d.join("out-size");
    let r = fx.bundle(&["pull", &lref, "-o", out.to_str().unwrap()]);
    fx.case("layout: a layer claims 10 GiB, pull", r, 2, &["layer 4 `dvc.tar.gz` is 10737418240 bytes, over the 512 MiB limit"], &[&out]);

    let (l, lref) = fx.layout("many-layers");
    let dg = craft(&l, |_| {}, |m| m.layers = m.layers.iter().cycle().take(2000).cloned().collect());
    sign_digest(&l, &dg, &fx.key, "docproc:1.0.0");
    let r = fx.bundle(&["verify", &lref, "--key", &pubk, "--identity", "docproc"]);
    fx.case("layout: 2,000 layers, verify", r, 1, &["FAIL  integrity", "2000 layers, over the limit of 1024"], &[]);

    let (l, lref) = fx.layout("many-sigs");
    let payload = std::fs::read(blob_path(&fx.base, &{
        let (_, sm) = common::craft::manifest(&Layout::new(fx.base.clone()), &sig_tag);
        sm.layers[0].digest.clone()
    }))
    .unwrap();
    put_sigs(&l, &fx.digest, (0..10_000).map(|_| (signing::SIMPLESIGNING_MEDIA_TYPE, payload.clone(), Some("AAAA".into()))).collect());
    let before = snapshot(&l);
    let r = fx.bundle(&["verify", &lref, "--key", &pubk, "--identity", "docproc"]);
    fx.case("layout: signature manifest with 10,000 layers, verify", r, 1, &["FAIL  signatures", "10000 layers, over the limit of"], &[]);
    assert!(snapshot(&l) == before, "verify changed the layout");

    let (l, lref) = fx.layout("big-payload");
    put_sigs(&l, &fx.digest, vec![(signing::SIMPLESIGNING_MEDIA_TYPE, vec![b' '; 100 << 10], Some("AAAA".into()))]);
    let r = fx.bundle(&["verify", &lref, "--key", &pubk, "--identity", "docproc"]);
    fx.case("layout: 100 KiB simple-signing payload, verify", r, 1, &["FAIL  signatures", "over the 64 KiB"], &[]);

    let (l, lref) = fx.layout("record-garbage");
    let (_, m) = common::craft::manifest(&Layout::new(l.clone()), "1.0.0");
    let mut m2 = m.clone();
    let rec = b"\x00\x01 not json".to_vec();
    m2.config = relbundle::oci::Descriptor::new(relbundle::spec::RECORD_MEDIA_TYPE, &rec);
    std::fs::write(blob_path(&l, &m2.config.digest), &rec).unwrap();
    let mut m2b = m2.clone();
    m2b.artifact_type = Some(relbundle::spec::ARTIFACT_TYPE.into());
    put_raw_manifest(&l, "1.0.0", &m2b.to_bytes());
    let r = fx.bundle(&["inspect", &lref]);
    fx.case("layout: release record not JSON, inspect", r, 2, &[&l.display().to_string(), "release record"], &[]);

    let (l, lref) = fx.layout("record-deep");
    let rec = nested(100_000);
    let mut m3 = m.clone();
    m3.config = relbundle::oci::Descriptor::new(relbundle::spec::RECORD_MEDIA_TYPE, &rec);
    std::fs::write(blob_path(&l, &m3.config.digest), &rec).unwrap();
    let dg = put_raw_manifest(&l, "1.0.0", &m3.to_bytes());
    sign_digest(&l, &dg, &fx.key, "docproc:1.0.0");
    let out = d.join("out-deep.yaml");
    let r = fx.bundle(&["values", &lref, "--key", &pubk, "--identity", "docproc", "-o", out.to_str().unwrap()]);
    fx.case(
        "layout: release record nested 100,000 deep, values",
        r,
        1,
        &["release record: invalid type: sequence", "line 1 column 1"],
        &[&out],
    );

    let (l, lref) = fx.layout("manifest-garbage");
    put_raw_manifest(&l, "1.0.0", &garbage);
    let r = fx.bundle(&["diff", &format!("oci:{}:1.0.0", fx.base.display()), &lref]);
    fx.case("layout: garbage manifest, diff", r, 2, &[&l.display().to_string(), "not an OCI image manifest"], &[]);

    let (l, lref) = fx.layout("manifest-huge");
    put_raw_manifest(&l, "1.0.0", &huge);
    let r = fx.bundle(&["inspect", &lref]);
    fx.case("layout: 5 MiB manifest, inspect", r, 2, &["over the 4 MiB limit"], &[]);

    let (l, _) = fx.layout("index-garbage");
    std::fs::write(l.join("index.json"), &garbage).unwrap();
    let r = fx.bundle(&["history", &format!("oci:{}", l.display())]);
    fx.case("layout: garbage index.json, history", r, 2, &[&format!("{}", l.display()), "index.json is not JSON"], &[]);

    let (l, lref) = fx.layout("index-deep");
    std::fs::write(l.join("index.json"), nested(100_000)).unwrap();
    let r = fx.bundle(&["inspect", &lref]);
    fx.case("layout: index.json nested 100,000 deep, inspect", r, 2, &["index.json", "recursion limit"], &[]);

    // A sparse 1 GiB index.json: refused after reading 4 MiB of it.
    let (l, lref) = fx.layout("index-huge");
    std::fs::File::create(l.join("index.json")).unwrap().set_len(1 << 30).unwrap();
    let r = fx.bundle(&["verify", &lref, "--key", &pubk, "--identity", "docproc"]);
    fx.case("layout: 1 GiB index.json, verify", r, 2, &["index.json is over the 4 MiB limit"], &[]);

    let (l, _) = fx.layout("many-entries");
    let tgz = many_entries(&d, 100_001);
    replace_layer(&l, "1.0.0", 1, &tgz, "many");
    let out = d.join("out-many");
    let r = fx.bundle(&["pull", &format!("oci:{}:many", l.display()), "-o", out.to_str().unwrap()]);
    fx.case("layout: prompts layer with 100,001 tar entries, pull", r, 2, &["prompts.tar.gz", "more than 100000 entries"], &[&out]);

    let (l, lref) = fx.layout("push-missing-blob");
    std::fs::remove_file(blob_path(&l, &good.layers[2].digest)).unwrap();
    let dst = format!("{}/acme/partial:1.0.0", fx.reg.addr);
    let r = fx.bundle(&["push", &lref, &dst]);
    fx.case("layout: a blob is missing, push", r, 2, &[&good.layers[2].digest, "missing"], &[]);
    assert_eq!(fx.reg.count("PUT", "/acme/partial/manifests/"), 0, "push wrote a manifest for an incomplete release");

    // ---- The monorepo -----------------------------------------------------------------------------
    let build = |fx: &Fx, src: &Path, out: &Path| -> Run {
        run(fx.cmd().args(["build", "--version", "1.0.1", "--allow-dirty", "--output", &format!("oci:{}", out.display())]).arg(src))
    };
    let src = fx.source("utf8");
    std::fs::write(
        src.join("components/ocr/prompts/extract-fields.yaml"),
        b"id: ocr.extract-fields\nversion: 1.2.0\ntemplate: \"\xff\xfe\"\n",
    )
    .unwrap();
    let out = d.join("out-utf8");
    let r = build(&fx, &src, &out);
    fx.case("monorepo: prompt with invalid UTF-8, build", r, 2, &["components/ocr/prompts/extract-fields.yaml", "not UTF-8"], &[&out]);

    let src = fx.source("refchain");
    let api = src.join("components/ocr/api/openapi.yaml");
    let text = std::fs::read_to_string(&api).unwrap();
    let chain: String = (0..1000).map(|i| format!("    R{i}:\n      $ref: \"#/components/schemas/R{}\"\n", i + 1)).collect::<String>()
        + "    R1000:\n      type: string\n";
    let text = text.replacen("$ref: \"#/components/schemas/Page\"", "$ref: \"#/components/schemas/R0\"", 1).replacen(
        "  schemas:\n",
        &format!("  schemas:\n{chain}"),
        1,
    );
    std::fs::write(&api, text).unwrap();
    let r = run(fx.cmd().args(["check", "--version", "1.0.1", "--allow-dirty"]).arg(&src));
    fx.case(
        "monorepo: contract with a 1,000-deep $ref chain, check",
        r,
        2,
        &["components/ocr/api/openapi.yaml", "#/components/schemas/R0", "`$ref` chain longer than 64"],
        &[],
    );

    let src = fx.source("laughs");
    append(&src.join("components/ocr/api/openapi.yaml"), &laughs("x-laughs"));
    let out = d.join("out-laughs");
    let r = build(&fx, &src, &out);
    fx.case("monorepo: billion laughs in a contract, build", r, 2, &["components/ocr/api/openapi.yaml", "aliases"], &[&out]);

    let src = fx.source("deep-yaml");
    append(&src.join("components/ocr/api/openapi.yaml"), &format!("x-deep: {}\n", String::from_utf8(nested(10_000)).unwrap()));
    let r = run(fx.cmd().args(["check", "--version", "1.0.1", "--allow-dirty"]).arg(&src));
    fx.case(
        "monorepo: contract nested 10,000 deep, check",
        r,
        2,
        &["components/ocr/api/openapi.yaml:59", "nested more than 128 levels"],
        &[],
    );

    let src = fx.source("deep-json");
    let p = src.join("components/embedding/prompts/queries/query-instruction.json");
    let text = std::fs::read_to_string(&p).unwrap();
    let deep = String::from_utf8(nested(100_000)).unwrap();
    std::fs::write(&p, text.replace("\"required\": true}", &format!("\"required\": true, \"default\": {deep}}}"))).unwrap();
    let out = d.join("out-deep-json");
    let r = build(&fx, &src, &out);
    fx.case("monorepo: JSON prompt nested 100,000 deep, build", r, 2, &["query-instruction.json", "nested more than 128 levels"], &[&out]);

    let src = fx.source("big-prompt");
    std::fs::write(src.join("components/ocr/prompts/big.yaml"), vec![b'a'; 17 << 20]).unwrap();
    let out = d.join("out-big");
    let r = build(&fx, &src, &out);
    fx.case("monorepo: 17 MiB prompt file, build", r, 2, &["components/ocr/prompts/big.yaml", "over the 16 MiB limit"], &[&out]);

    let src = fx.source("lock-garbage");
    std::fs::write(src.join("components/summarizer/dvc.lock"), &garbage).unwrap();
    let r = run(fx.cmd().args(["check", "--version", "1.0.1", "--allow-dirty"]).arg(&src));
    fx.case("monorepo: garbage dvc.lock, check", r, 2, &["components/summarizer/dvc.lock"], &[]);

    // In a stage's `cmd` (kept as a YAML value); an ignored field such as a .dvc file's `meta` is
    // skipped without expanding its aliases.
    let src = fx.source("dvc-laughs");
    let lock = src.join("components/summarizer/dvc.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    let mut cmd = String::from("    cmd:\n    - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        cmd += &format!("    - &a{i} [{}]\n", vec![format!("*a{}", i - 1); 9].join(", "));
    }
    std::fs::write(
        &lock,
        text.replacen("    cmd: python3 train.py data/train.jsonl models/summarizer-lora \n      metrics/train.json\n", &cmd, 1),
    )
    .unwrap();
    let out = d.join("out-dvc-laughs");
    let r = build(&fx, &src, &out);
    fx.case("monorepo: billion laughs in dvc.lock, build", r, 2, &["components/summarizer/dvc.lock", "aliases"], &[&out]);

    let src = fx.source("bundle-bytes");
    let mut b = std::fs::read(src.join("bundle.yaml")).unwrap();
    b.extend_from_slice(b"\n# \xc3\x28\n");
    std::fs::write(src.join("bundle.yaml"), b).unwrap();
    let r = run(fx.cmd().args(["check", "--version", "1.0.1", "--allow-dirty"]).arg(&src));
    fx.case("monorepo: bundle.yaml not UTF-8, check", r, 2, &["bundle.yaml"], &[]);

    // ---- Key and values files ---------------------------------------------------------------------
    std::fs::write(d.join("garbage.pub"), &garbage).unwrap();
    let r = fx.bundle(&["verify", &format!("oci:{}:1.0.0", fx.base.display()), "--key", "garbage.pub", "--identity", "docproc"]);
    fx.case("files: garbage public key, verify", r, 2, &["garbage.pub"], &[]);

    let (l, lref) = fx.layout("sign-bad-key");
    let k = std::fs::read_to_string(&fx.key).unwrap();
    std::fs::write(d.join("truncated.key"), &k[..k.len() / 2]).unwrap();
    let before = snapshot(&l);
    let r = fx.bundle(&["sign", &lref, "--key", "truncated.key"]);
    fx.case("files: truncated private key, sign", r, 2, &["truncated.key"], &[]);
    assert!(snapshot(&l) == before, "sign changed the layout although it failed");

    std::fs::write(d.join("values-garbage.yaml"), "image: [unclosed\n").unwrap();
    let r = fx.bundle(&[
        "verify",
        &format!("oci:{}:1.0.0", fx.base.display()),
        "--key",
        &pubk,
        "--identity",
        "docproc",
        "--values",
        "values-garbage.yaml",
    ]);
    fx.case("files: malformed Helm values, verify", r, 2, &["values-garbage.yaml"], &[]);

    std::fs::write(d.join("map-garbage.yaml"), &garbage).unwrap();
    let out = d.join("out-map.yaml");
    let r = fx.bundle(&[
        "values",
        &format!("oci:{}:1.0.0", fx.base.display()),
        "--key",
        &pubk,
        "--identity",
        "docproc",
        "--map",
        "map-garbage.yaml",
        "-o",
        out.to_str().unwrap(),
    ]);
    fx.case("files: garbage values map, values", r, 2, &["map-garbage.yaml"], &[&out]);

    assert!(fx.cases >= 30, "the corpus has only {} cases", fx.cases);
    eprintln!("malformed-input corpus: {} cases", fx.cases);
}
