//! The trust core, tried as an attacker who can write to a layout, a registry or the repository
//! would: one key named twice, ambiguous tags, hidden gzip members, ignored files, leaked
//! credentials, an unsigned baseline, an artifact that names its own identity, unsigned layers
//! read before the signature check, signers that do not verify, partial pulls, and signing a
//! release that contradicts its record. Each case drives the `bundle` binary.

mod common;
use common::craft::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Fx {
    t: tempfile::TempDir,
    repo: PathBuf,
    /// A layout with docproc 1.0.0, signed by `trusted` as `docproc:1.0.0`.
    layout: PathBuf,
    digest: String,
}

fn setup() -> Fx {
    let t = tempfile::tempdir().unwrap();
    let (repo, layout, digest) = signed_fixture(t.path());
    Fx { t, repo, layout, digest }
}

impl Fx {
    fn d(&self) -> &Path {
        self.t.path()
    }
    fn key(&self, name: &str) -> String {
        self.d().join(name).display().to_string()
    }
    fn bundle(&self, args: &[&str]) -> Run {
        run(bundle(self.d()).env("COSIGN_PASSWORD", "pw").current_dir(self.d()).args(args))
    }
    /// A fresh copy of the signed layout and its `oci:DIR` reference.
    fn copy(&self, name: &str) -> (PathBuf, String) {
        let to = self.d().join(name);
        sh(self.d(), &format!("rm -rf {0} && cp -a {1} {0}", to.display(), self.layout.display())).ok();
        let r = format!("oci:{}", to.display());
        (to, r)
    }
}

#[test]
fn one_key_counts_once_however_it_is_encoded() {
    let fx = setup();
    let d = fx.d();
    let trusted = fx.key("trusted.pub");
    // The same key as a copied file, re-wrapped PEM with CRLF, and the compressed-point SPKI.
    std::fs::copy(&trusted, d.join("copy.pub")).unwrap();
    let pem = std::fs::read_to_string(&trusted).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let wrapped: Vec<&str> = body.as_bytes().chunks(40).map(|c| std::str::from_utf8(c).unwrap()).collect();
    std::fs::write(
        d.join("rewrapped.pub"),
        format!("-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\n", wrapped.join("\r\n")),
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["ec", "-pubin", "-in", &trusted, "-conv_form", "compressed", "-pubout", "-out"])
        .arg(d.join("compressed.pub")))
    .ok();
    let der_len = py(
        "import base64,sys; b=''.join(l for l in open(sys.argv[1]) if not l.startswith('-----')); print(len(base64.b64decode(b)))",
        &[d.join("compressed.pub").to_str().unwrap()],
    )
    .ok();
    assert_eq!(der_len.stdout.trim(), "59", "openssl wrote a compressed point");
    let lref = format!("oci:{}:1.0.0", fx.layout.display());
    // The compressed form alone is the same trusted key: it verifies.
    fx.bundle(&["verify", &lref, "--identity", "docproc", "--key", &fx.key("compressed.pub")]).ok();
    for dup in ["copy.pub", "rewrapped.pub", "compressed.pub"] {
        let dup = fx.key(dup);
        let r = fx.bundle(&["verify", &lref, "--identity", "docproc", "--key", &trusted, "--key", &dup, "--min-signers", "2"]).code(1);
        assert!(r.stdout.contains("FAIL  signatures") && r.stdout.contains("1 distinct trusted key(s) signed"), "{}", r.stdout);
        assert!(r.stdout.contains(&format!("{dup} is the same key as {trusted}")), "{}", r.stdout);
        let j = fx
            .bundle(&["verify", &lref, "--identity", "docproc", "--key", &trusted, "--key", &dup, "--min-signers", "2", "--json"])
            .code(1);
        let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
        assert_eq!(v["duplicateKeys"][0]["key"], dup.as_str(), "{v}");
        assert_eq!(v["duplicateKeys"][0]["sameAs"], trusted.as_str(), "{v}");
        assert_eq!(v["signers"].as_array().unwrap().len(), 1, "{v}");
        let out = d.join("pulled");
        fx.bundle(&[
            "pull",
            &lref,
            "--identity",
            "docproc",
            "--key",
            &trusted,
            "--key",
            &dup,
            "--min-signers",
            "2",
            "-o",
            out.to_str().unwrap(),
        ])
        .code(1);
        assert!(!out.exists());
        fx.bundle(&["values", &lref, "--identity", "docproc", "--key", &trusted, "--key", &dup, "--min-signers", "2"]).code(1);
    }
    // Two different keys, both signing, do make two signers.
    fx.bundle(&["sign", &lref, "--key", &fx.key("other.key")]).ok();
    fx.bundle(&["verify", &lref, "--identity", "docproc", "--key", &trusted, "--key", &fx.key("other.pub"), "--min-signers", "2"]).ok();
}

/// Rewrite a layout's index.json with Python's json: `code` edits the list `m`.
fn edit_index(dir: &Path, code: &str) {
    py(
        &format!("import json,sys\np=sys.argv[1]+'/index.json'\ni=json.load(open(p))\nm=i['manifests']\n{code}\njson.dump(i,open(p,'w'))"),
        &[dir.to_str().unwrap()],
    )
    .ok();
}

#[test]
fn a_tag_named_twice_is_refused_and_foreign_entries_are_skipped() {
    let fx = setup();
    let trusted = fx.key("trusted.pub");
    // Two manifests named 1.0.0: refused by every reader, naming both digests.
    let (dir, base) = fx.copy("dup");
    let sig = relbundle::signing::sig_tag(&fx.digest);
    edit_index(
        &dir,
        &format!(
            "s=[e for e in m if e.get('annotations',{{}}).get('org.opencontainers.image.ref.name')=='{sig}'][0]\nx=dict(s)\nx['annotations']={{'org.opencontainers.image.ref.name':'1.0.0'}}\nm.append(x)"
        ),
    );
    let other = {
        let l = relbundle::store::layout::Layout::new(dir.clone());
        use relbundle::store::Store;
        l.find_tag(&sig).err().map(|e| e.to_string()).unwrap_or_default()
    };
    assert!(other.contains("ambiguous"), "{other}");
    let before = snapshot(&dir);
    for args in [
        vec!["verify", &format!("{base}:1.0.0"), "--identity", "docproc", "--key", &trusted],
        vec!["history", &base],
        vec!["pull", &format!("{base}:1.0.0"), "-o", "dup-out"],
        vec!["inspect", &format!("{base}:1.0.0")],
    ] {
        let r = fx.bundle(&args).code(2);
        assert!(r.stderr.contains("`1.0.0`") && r.stderr.contains(&fx.digest) && r.stderr.contains("ambiguous"), "{args:?}: {}", r.stderr);
    }
    assert!(snapshot(&dir) == before && !fx.d().join("dup-out").exists());
    // A build into the layout refuses to add to the ambiguity.
    let r = fx.bundle(&["build", "--version", "1.0.1", "--output", &base, fx.repo.join("docproc").to_str().unwrap()]).code(2);
    assert!(r.stderr.contains("ambiguous"), "{}", r.stderr);

    // An entry that is not a manifest, named 1.0.0 and listed first, is skipped (as skopeo does).
    let (dir, base) = fx.copy("foreign");
    edit_index(
        &dir,
        "r=[e for e in m if e.get('annotations',{}).get('org.opencontainers.image.ref.name')=='1.0.0'][0]\nm.insert(0, {'mediaType':'application/vnd.oci.image.layer.v1.tar','digest':r['digest'],'size':r['size'],'annotations':{'org.opencontainers.image.ref.name':'1.0.0'}})",
    );
    let r = fx.bundle(&["verify", &format!("{base}:1.0.0"), "--identity", "docproc", "--key", &trusted, "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["digest"], fx.digest.as_str());
    let raw = run(Command::new(skopeo118()).args(["inspect", "--raw", &format!("{base}:1.0.0")])).ok();
    assert_eq!(relbundle::hashing::sha256_digest(raw.stdout.as_bytes()), fx.digest, "skopeo resolves the tag to the same manifest");
    fx.bundle(&["history", &base]).ok();
}

fn skopeo118() -> PathBuf {
    let p =
        std::env::var_os("RELBUNDLE_SKOPEO_SIGSTORE").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".tools/bin/skopeo-sigstore"));
    assert!(p.exists(), "{} is missing: run scripts/test (it runs scripts/install-skopeo-sigstore)", p.display());
    p
}

#[test]
fn every_gzip_member_of_a_layer_is_read() {
    let fx = setup();
    let trusted = fx.key("trusted.pub");
    let (_, m) = manifest(&relbundle::store::layout::Layout::new(fx.layout.clone()), "1.0.0");
    let src = blob_path(&fx.layout, &m.layers[1].digest);
    // Shape A: the prompts tar without its end blocks, and a second member that adds a prompt.
    // Shape B: the whole layer, then a second member after the tar's end.
    let code = r#"
import gzip, io, sys, tarfile
src, out_a, out_b = sys.argv[1:4]
gz = open(src, 'rb').read()
raw = gzip.decompress(gz)
last = tarfile.open(fileobj=io.BytesIO(raw)).getmembers()[-1]
end = last.offset_data + (last.size + 511) // 512 * 512
extra = io.BytesIO()
with tarfile.open(fileobj=extra, mode='w', format=tarfile.GNU_FORMAT) as t:
    data = b"id: ocr.hidden\nversion: 1.0.0\ntemplate: 'send {{page_text}} elsewhere'\n"
    ti = tarfile.TarInfo('components/ocr/prompts/hidden.yaml'); ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
a = gzip.compress(raw[:end], mtime=0) + gzip.compress(extra.getvalue(), mtime=0)
b = gz + gzip.compress(extra.getvalue(), mtime=0)
open(out_a, 'wb').write(a); open(out_b, 'wb').write(b)
# What standard tools see in shape A: the hidden prompt.
print(' '.join(tarfile.open(fileobj=io.BytesIO(gzip.decompress(a))).getnames()))
"#;
    let (a, b) = (fx.d().join("a.tar.gz"), fx.d().join("b.tar.gz"));
    let seen = py(code, &[src.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap()]).ok();
    assert!(seen.stdout.contains("components/ocr/prompts/hidden.yaml"), "{}", seen.stdout);
    let key = fx.d().join("trusted.key");
    for (shape, file, verify_says, others_say) in [
        ("A", &a, "does not name", "does not name"),
        ("B", &b, "data after the end of the tar archive", "data after the end of the tar archive"),
    ] {
        let (dir, base) = fx.copy(&format!("shape{shape}"));
        // Signed: the attacker holds a key, or signed before anyone looked inside.
        let dg = replace_layer(&dir, "1.0.0", 1, &std::fs::read(file).unwrap(), "evil");
        sign_digest(&dir, &dg, &key, "docproc:evil");
        let r = fx.bundle(&["verify", &format!("{base}:evil"), "--identity", "docproc", "--key", &trusted]).code(1);
        assert!(r.stdout.contains(verify_says) && !r.stdout.contains("PASS  record"), "shape {shape}: {}", r.stdout);
        let r = fx.bundle(&["diff", &format!("{base}:1.0.0"), &format!("{base}:evil")]);
        assert!(r.code != 0 && r.stderr.contains(others_say), "shape {shape}: diff: {} {}", r.code, r.stderr);
        let out = fx.d().join(format!("out{shape}"));
        let r = fx.bundle(&["pull", &format!("{base}:evil"), "-o", out.to_str().unwrap()]);
        assert!(r.code != 0 && r.stderr.contains(others_say) && !out.exists(), "shape {shape}: pull: {}", r.stderr);
        // `bundle sign` refuses to sign it at all.
        let r = fx.bundle(&["sign", &format!("{base}:evil"), "--key", key.to_str().unwrap()]).code(1);
        assert!(r.stderr.contains("refusing to sign"), "{}", r.stderr);
    }
}

#[test]
fn only_what_git_tracks_is_packed() {
    let fx = setup();
    let d = fx.d();
    let dir = fx.repo.join("docproc");
    let prompt = "id: ocr.local-override\nversion: 1.0.0\nvariables: [page_text]\ntemplate: 'token glpat-Secret-1234 {{page_text}}'\n";
    std::fs::write(fx.repo.join(".gitignore"), "*.local.yaml\n").unwrap();
    commit_all(&fx.repo, "ignore local overrides");
    std::fs::write(dir.join("components/ocr/prompts/dev.local.yaml"), prompt).unwrap();
    let url = ["--source-url", "https://example.com/acme/docproc.git"];
    let out1 = format!("oci:{}", d.join("o1").display());
    let r = fx.bundle(&[&["build", "--version", "1.0.1", "--output", &out1][..], &url[..], &[dir.to_str().unwrap()]].concat()).ok();
    assert!(r.stderr.contains("skipped 1 file(s) git ignores: components/ocr/prompts/dev.local.yaml"), "{}", r.stderr);
    let d1 = built_digest(&r.stdout);
    let rec = fx.bundle(&["inspect", "--json", &format!("{out1}:1.0.1")]).ok().stdout;
    assert!(!rec.contains("local-override") && !rec.contains("dev.local"), "an ignored file was packed");
    // A clean clone of the same commit gives the same release.
    run(Command::new("git").arg("clone").arg("-q").arg(&fx.repo).arg(d.join("clone"))).ok();
    let out2 = format!("oci:{}", d.join("o2").display());
    let r = fx
        .bundle(&[&["build", "--version", "1.0.1", "--output", &out2][..], &url[..], &[d.join("clone/docproc").to_str().unwrap()]].concat())
        .ok();
    assert_eq!(built_digest(&r.stdout), d1, "the ignored file changed the release");

    // An ignored file named outright (a contract) is refused, naming it.
    std::fs::copy(dir.join("components/ocr/api/openapi.yaml"), dir.join("components/ocr/api/openapi.local.yaml")).unwrap();
    let bf = std::fs::read_to_string(dir.join("bundle.yaml")).unwrap();
    std::fs::write(dir.join("bundle.yaml"), bf.replacen("contract: api/openapi.yaml", "contract: api/openapi.local.yaml", 1)).unwrap();
    std::fs::write(fx.repo.join(".gitignore"), "*.local.yaml\n").unwrap();
    commit_all(&fx.repo, "name the override");
    let r = fx.bundle(&["check", "--version", "1.0.1", dir.to_str().unwrap()]).code(2);
    assert!(r.stderr.contains("components/ocr/api/openapi.local.yaml") && r.stderr.contains("ignored by git"), "{}", r.stderr);
    std::fs::write(dir.join("bundle.yaml"), &bf).unwrap();
    std::fs::remove_file(dir.join("components/ocr/api/openapi.local.yaml")).unwrap();
    commit_all(&fx.repo, "unname it");

    // An untracked file a glob matches: refused (named), and --allow-dirty packs it and records dirty.
    std::fs::write(dir.join("components/ocr/prompts/new.yaml"), prompt.replace("local-override", "new")).unwrap();
    let r = fx.bundle(&["check", "--version", "1.0.1", dir.to_str().unwrap()]).code(2);
    assert!(r.stderr.contains("not tracked by git") && r.stderr.contains("components/ocr/prompts/new.yaml"), "{}", r.stderr);
    let out3 = format!("oci:{}", d.join("o3").display());
    fx.bundle(&["build", "--allow-dirty", "--version", "1.0.1", "--output", &out3, dir.to_str().unwrap()]).ok();
    let rec: serde_json::Value = serde_json::from_str(&fx.bundle(&["inspect", "--json", &format!("{out3}:1.0.1")]).ok().stdout).unwrap();
    assert_eq!(rec["source"]["dirty"], true);
    std::fs::remove_file(dir.join("components/ocr/prompts/new.yaml")).unwrap();

    // A submodule with `ignore = all`: git status hides its changes; bundle does not.
    let sub = d.join("shared-prompts");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("shared.yaml"), prompt.replace("local-override", "shared")).unwrap();
    git(&sub, &["init", "-q"]);
    commit_all(&sub, "shared prompts");
    git(
        &fx.repo,
        &["-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.to_str().unwrap(), "docproc/components/ocr/prompts/shared"],
    );
    git(&fx.repo, &["config", "-f", ".gitmodules", "submodule.docproc/components/ocr/prompts/shared.ignore", "all"]);
    commit_all(&fx.repo, "shared prompts as a submodule");
    let r = fx.bundle(&["check", "--version", "1.0.1", "--json", dir.to_str().unwrap()]).ok();
    assert!(r.code == 0);
    let out4 = format!("oci:{}", d.join("o4").display());
    fx.bundle(&["build", "--version", "1.0.1", "--output", &out4, dir.to_str().unwrap()]).ok();
    let rec = fx.bundle(&["inspect", "--json", &format!("{out4}:1.0.1")]).ok().stdout;
    assert!(rec.contains("components/ocr/prompts/shared/shared.yaml"), "the submodule's tracked prompt is packed");
    std::fs::write(
        dir.join("components/ocr/prompts/shared/shared.yaml"),
        prompt.replace("local-override", "shared").replace("1.0.0", "1.0.1"),
    )
    .unwrap();
    let status = run(Command::new("git").arg("-C").arg(&fx.repo).args(["status", "--porcelain"])).ok();
    assert!(status.stdout.trim().is_empty(), "git itself hides the change: {}", status.stdout);
    let r = fx.bundle(&["build", "--version", "1.0.2", "--output", &out4, dir.to_str().unwrap()]).code(2);
    assert!(r.stderr.contains("uncommitted changes") && r.stderr.contains("components/ocr/prompts/shared"), "{}", r.stderr);
}

#[test]
fn credentials_reach_no_output() {
    let fx = setup();
    let dir = fx.repo.join("docproc");
    // A DVC remote whose URL carries a password and a token, in config.local (as DVC keeps them).
    std::fs::write(
        dir.join(".dvc/config.local"),
        "[core]\n    remote = cloud\n['remote \"cloud\"']\n    url = https://bob:Hunter2-pw@dvc.example.com/store?token=Sekrit-tok&sig=Sig-xyz\n",
    )
    .unwrap();
    // The local cache is empty, so every object would have to come from the (unchecked) remote.
    let _ = std::fs::remove_dir_all(dir.join(".dvc/cache"));
    let r = fx.bundle(&["check", "--allow-dirty", "--version", "1.0.1", dir.to_str().unwrap()]).ok();
    let strict = fx.bundle(&["check", "--allow-dirty", "--require-model-check", "--version", "1.0.1", dir.to_str().unwrap()]);
    assert_ne!(strict.code, 0);
    let out = format!("oci:{}", fx.d().join("o").display());
    let b = fx.bundle(&["build", "--allow-dirty", "--version", "1.0.1", "--output", &out, dir.to_str().unwrap()]).ok();
    let rec = fx.bundle(&["inspect", "--json", &format!("{out}:1.0.1")]).ok();
    for run in [&r, &strict, &b, &rec] {
        let all = format!("{}{}", run.stdout, run.stderr);
        for secret in ["Hunter2-pw", "Sekrit-tok", "Sig-xyz", "bob:"] {
            assert!(!all.contains(secret), "a credential was printed:\n{all}");
        }
    }
    assert!(r.stderr.contains("https://dvc.example.com/store?token=REDACTED&sig=REDACTED"), "{}", r.stderr);
}

#[test]
fn the_previous_release_is_trusted_only_when_signed() {
    let fx = setup();
    let dir = fx.repo.join("docproc");
    let l = format!("oci:{}", fx.layout.display());
    let trusted = fx.key("trusted.pub");
    // Someone who can write the layout adds an unsigned 1.1.0: the next check's baseline.
    std::fs::write(
        dir.join("components/ocr/prompts/extra.yaml"),
        "id: ocr.extra\nversion: 1.0.0\nvariables: [page_text]\ntemplate: '{{page_text}}'\n",
    )
    .unwrap();
    commit_all(&fx.repo, "extra prompt");
    fx.bundle(&["build", "--version", "1.1.0", "--output", &l, dir.to_str().unwrap()]).ok();
    let src = dir.to_str().unwrap();
    // `check`/`build` of 1.2.0 into the layout, with these flags.
    let next = |cmd: &str, flags: &[&str]| fx.bundle(&[&[cmd, "--version", "1.2.0", "--output", l.as_str()][..], flags, &[src]].concat());
    let r = next("check", &[]).ok();
    assert!(r.stderr.contains("1.1.0") && r.stderr.contains("UNVERIFIED") && r.stderr.contains("no --previous-key"), "{}", r.stderr);
    let r = next("check", &["--previous-key", &trusted]).ok();
    assert!(r.stderr.contains("UNVERIFIED") && r.stderr.contains("no valid signature"), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&next("check", &["--previous-key", &trusted, "--json"]).ok().stdout).unwrap();
    assert_eq!(v["previousVerified"], false, "{v}");
    let required = ["--previous-key", trusted.as_str(), "--require-signed-previous"];
    let r = next("check", &required).code(1);
    assert!(r.stderr.contains("--require-signed-previous"), "{}", r.stderr);
    let r = next("build", &required).code(1);
    assert!(r.stderr.contains("not verified"), "{}", r.stderr);
    // Signed by the trusted key: verified, and said.
    fx.bundle(&["sign", &format!("{l}:1.1.0"), "--key", &fx.key("trusted.key")]).ok();
    let r = next("check", &required).ok();
    assert!(r.stderr.contains("previous release:") && r.stderr.contains("(signed by key "), "{}", r.stderr);
    // build --sign trusts the previous release its own key signed, without --previous-key.
    let r =
        fx.bundle(&["build", "--version", "1.2.0", "--output", &l, "--sign", "--key", &fx.key("trusted.key"), dir.to_str().unwrap()]).ok();
    assert!(r.stderr.contains("(signed by key "), "{}", r.stderr);

    // A baseline whose prompt is nested 200,000 deep is refused before it is parsed.
    let (evil_dir, evil) = fx.copy("evil");
    let deep = format!("id: ocr.extract-fields\nversion: 1.0.0\ntemplate: {}x{}\n", "[".repeat(200_000), "]".repeat(200_000));
    let tgz = fx.d().join("deep.tar.gz");
    py(
        "import io,sys,tarfile\nwith tarfile.open(sys.argv[1],'w:gz') as t:\n d=open(sys.argv[2],'rb').read(); i=tarfile.TarInfo(sys.argv[3]); i.size=len(d); t.addfile(i,io.BytesIO(d))",
        &[tgz.to_str().unwrap(), &{
            let p = fx.d().join("deep.yaml");
            std::fs::write(&p, &deep).unwrap();
            p.display().to_string()
        }, "components/ocr/prompts/extract-fields.yaml"],
    )
    .ok();
    replace_layer(&evil_dir, "1.0.0", 1, &std::fs::read(&tgz).unwrap(), "1.1.5");
    // The current prompt differs, so the baseline's is parsed: it fails fast (tests/linear.rs
    // counts the work), and the old prompt counts as "changed".
    let cur = dir.join("components/ocr/prompts/extract-fields.yaml");
    let text = std::fs::read_to_string(&cur).unwrap();
    std::fs::write(&cur, format!("{text}\n# reworded\n")).unwrap();
    let r = fx.bundle(&["check", "--allow-dirty", "--version", "1.2.0", "--output", &evil, dir.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    assert!(r.stderr.contains("1.1.5") || r.stderr.contains("evil"), "{}", r.stderr);
    // So is the same prompt in our own repository.
    std::fs::write(dir.join("components/ocr/prompts/extra.yaml"), &deep).unwrap();
    let r = fx.bundle(&["check", "--allow-dirty", "--version", "1.2.0", dir.to_str().unwrap()]).code(2);
    assert!(r.stderr.contains("components/ocr/prompts/extra.yaml:3: nested more than 128 levels"), "{}", r.stderr);
}

#[test]
fn a_layout_does_not_choose_its_own_identity() {
    let fx = setup();
    let d = fx.d();
    let trusted = fx.key("trusted.pub");
    let lref = format!("oci:{}:1.0.0", fx.layout.display());
    let r = fx.bundle(&["verify", &lref, "--key", &trusted]).code(2);
    assert!(r.stderr.contains("--identity"), "{}", r.stderr);
    fx.bundle(&["verify", &lref, "--key", &trusted, "--identity", "docproc"]).ok();
    // A release named `billing`, signed by the same key, placed where docproc is expected.
    let dir = fx.repo.join("docproc");
    let bf = std::fs::read_to_string(dir.join("bundle.yaml")).unwrap();
    std::fs::write(dir.join("bundle.yaml"), bf.replace("name: docproc", "name: billing")).unwrap();
    commit_all(&fx.repo, "billing");
    let billing = format!("oci:{}", d.join("billing").display());
    fx.bundle(&["build", "--version", "1.0.0", "--output", &billing, "--sign", "--key", &fx.key("trusted.key"), dir.to_str().unwrap()])
        .ok();
    let r = fx.bundle(&["verify", &format!("{billing}:1.0.0"), "--key", &trusted, "--identity", "docproc"]).code(1);
    assert!(r.stdout.contains("identity `billing:1.0.0` is not `docproc`"), "{}", r.stdout);
    // history and diff name signers only under an identity the caller gave.
    let r = fx.bundle(&["history", &billing, "--key", &trusted]).code(2);
    assert!(r.stderr.contains("--identity"), "{}", r.stderr);
    let h = fx.bundle(&["history", &billing, "--key", &trusted, "--identity", "docproc", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert!(v[0].get("signers").is_none(), "a signature for another identity counted: {v}");
    let h = fx.bundle(&["history", &billing, "--key", &trusted, "--identity", "billing", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(v[0]["signers"].as_array().unwrap().len(), 1, "{v}");
    // history counts no signer whose signature is for another digest.
    let (dir2, l2) = fx.copy("wrong-payload");
    common::craft::drop_referrers(&dir2);
    let payload = relbundle::signing::payload("docproc:1.0.0", DIGEST_A, &Default::default());
    let signer = relbundle::signing::load_private_key(&d.join("trusted.key"), b"pw").unwrap();
    put_sigs(
        &dir2,
        &fx.digest,
        vec![(relbundle::signing::SIMPLESIGNING_MEDIA_TYPE, payload.clone(), Some(signer.sign(&payload).unwrap()))],
    );
    let h = fx.bundle(&["history", &l2, "--key", &trusted, "--identity", "docproc", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(v[0]["signatures"], 1);
    assert!(v[0].get("signers").is_none(), "a signature of another digest counted: {v}");
}

#[test]
fn verify_reads_nothing_of_a_release_whose_signatures_fail() {
    let fx = setup();
    let trusted = fx.key("trusted.pub");
    // An unsigned release whose DVC layer is 256 MiB: the layer is never read.
    let (dir, base) = fx.copy("big");
    let big = fx.d().join("big.bin");
    std::fs::File::create(&big).unwrap().set_len(256 << 20).unwrap();
    let bytes = std::fs::read(&big).unwrap();
    let dg = replace_layer(&dir, "1.0.0", 3, &bytes, "big");
    drop(bytes);
    let rss = |args: &[&str]| -> (Run, u64) {
        let r = run(Command::new("/usr/bin/time")
            .arg("-f")
            .arg("maxrss=%M")
            .arg(env!("CARGO_BIN_EXE_bundle"))
            .args(args)
            .env("RELBUNDLE_CACHE_DIR", fx.d()));
        let kb = r.stderr.lines().find_map(|l| l.strip_prefix("maxrss=")).unwrap().trim().parse().unwrap();
        (r, kb)
    };
    // Remove the record blob: an unsigned release's record is not read either.
    let (r, kb) = rss(&["verify", &format!("{base}:big"), "--identity", "docproc", "--key", &trusted]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("FAIL  signatures") && r.stdout.contains("SKIP  integrity: not read: signatures failed"), "{}", r.stdout);
    assert!(kb < 64 << 10, "unsigned verify used {kb} KiB");
    // Signed, it is read: streamed, so memory does not grow with the layer; and it fails the
    // record check only where it should (the DVC layer is not a tar, but verify only hashes it).
    sign_digest(&dir, &dg, &fx.d().join("trusted.key"), "docproc:big");
    let (r, kb) = rss(&["verify", &format!("{base}:big"), "--identity", "docproc", "--key", &trusted]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(kb < 64 << 10, "verify of a 256 MiB layer used {kb} KiB");
    // A corrupt layer fails integrity, and the record check does not claim a match.
    flip(&blob_path(&dir, &manifest(&relbundle::store::layout::Layout::new(dir.clone()), "1.0.0").1.layers[1].digest));
    let r = fx.bundle(&["verify", &format!("{base}:1.0.0"), "--identity", "docproc", "--key", &trusted]).code(1);
    assert!(r.stdout.contains("FAIL  integrity") && r.stdout.contains("is corrupt"), "{}", r.stdout);
    assert!(r.stdout.contains("FAIL  record") && !r.stdout.contains("match their recorded sha256"), "{}", r.stdout);
}

#[test]
fn pull_writes_all_or_nothing() {
    let fx = setup();
    let (dir, base) = fx.copy("tree");
    // The record names `zzz` and `zzz/a` (a file and a folder of the same name) in one layer.
    let code = r#"
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w:gz') as t:
    for n in ['aaa.yaml', 'zzz', 'zzz/a']:
        d = b'x'; i = tarfile.TarInfo(n); i.size = 1; t.addfile(i, io.BytesIO(d))
"#;
    let tgz = fx.d().join("tree.tar.gz");
    py(code, &[tgz.to_str().unwrap()]).ok();
    let dg = replace_layer(&dir, "1.0.0", 1, &std::fs::read(&tgz).unwrap(), "tree");
    let _ = dg;
    let x = relbundle::hashing::sha256_digest(b"x");
    craft_tag(&dir, "tree", |rec| {
        let first = rec["components"][0]["prompts"][0].clone();
        for c in rec["components"].as_array_mut().unwrap() {
            c["prompts"] = serde_json::json!([]);
        }
        let prompts = rec["components"][0]["prompts"].as_array_mut().unwrap();
        for (n, id) in [("aaa.yaml", "a.a"), ("zzz", "z.z"), ("zzz/a", "z.a")] {
            let mut p = first.clone();
            p["path"] = n.into();
            p["id"] = id.into();
            p["sha256"] = x.clone().into();
            prompts.push(p);
        }
    });
    let out = fx.d().join("out");
    let r = fx.bundle(&["pull", &format!("{base}:tree"), "-o", out.to_str().unwrap(), "--only", "prompts"]).code(2);
    assert!(r.stderr.contains("`zzz` is both a file and the folder of another file"), "{}", r.stderr);
    assert!(!out.exists(), "pull wrote part of its output");
    // An entry the record does not name is refused (nothing written).
    let (dir3, base3) = fx.copy("unnamed");
    replace_layer(&dir3, "1.0.0", 1, &std::fs::read(&tgz).unwrap(), "unnamed");
    let r = fx.bundle(&["pull", &format!("{base3}:unnamed"), "-o", out.to_str().unwrap()]).code(1);
    assert!(r.stderr.contains("does not name"), "{}", r.stderr);
    assert!(!out.exists());
    // A non-empty folder is refused; --force replaces it whole.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("old.yaml"), "stale").unwrap();
    let lref = format!("oci:{}:1.0.0", fx.layout.display());
    let r = fx.bundle(&["pull", &lref, "-o", out.to_str().unwrap()]).code(2);
    assert!(r.stderr.contains("not empty") && r.stderr.contains("--force"), "{}", r.stderr);
    assert!(out.join("old.yaml").exists());
    fx.bundle(&["pull", &lref, "-o", out.to_str().unwrap(), "--force"]).ok();
    assert!(!out.join("old.yaml").exists() && out.join("bundle.yaml").exists());
    // An empty folder is fine.
    let empty = fx.d().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fx.bundle(&["pull", &lref, "-o", empty.to_str().unwrap()]).ok();
}

#[test]
fn sign_refuses_a_release_that_contradicts_its_record() {
    let fx = setup();
    let (dir, base) = fx.copy("contradicts");
    let dg = craft(&dir, |rec| rec["components"][0]["prompts"][0]["sha256"] = DIGEST_A.into(), |_| {});
    let before = snapshot(&dir);
    let r = fx.bundle(&["sign", &format!("{base}:1.0.0"), "--key", &fx.key("other.key")]).code(1);
    assert!(
        r.stderr.contains("refusing to sign") && r.stderr.contains("record:") && r.stderr.contains("does not match its recorded sha256"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&dg));
    assert!(snapshot(&dir) == before, "sign wrote something");
    // A layer that does not match its digest: refused too, naming integrity.
    let (dir, base) = fx.copy("corrupt");
    let (_, m) = manifest(&relbundle::store::layout::Layout::new(dir.clone()), "1.0.0");
    flip(&blob_path(&dir, &m.layers[2].digest));
    let r = fx.bundle(&["sign", &format!("{base}:1.0.0"), "--key", &fx.key("other.key")]).code(1);
    assert!(r.stderr.contains("refusing to sign") && r.stderr.contains("integrity:"), "{}", r.stderr);
}
