//! Writers that run at the same time on one OCI layout: parallel builds of different versions and
//! parallel signers of one release. Every tag and every signature must survive (the layout's
//! index.json and `.sig` manifest are read-modify-write; they are done under a lock).

mod common;
use common::*;
use std::process::{Child, Command, Stdio};

const N: usize = 6;

fn spawn(c: &mut Command) -> Child {
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn wait_ok(children: Vec<Child>) {
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "a concurrent writer failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn concurrent_builds_and_signers_lose_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let layout = d.join("l");
    let oci = format!("oci:{}", layout.display());

    // N builds of different versions into one layout, at once.
    let builds: Vec<Child> = (0..N)
        .map(|i| spawn(bundle(d).args(["build", "--version", &format!("1.0.{i}"), "--output", &oci]).arg(repo.join("docproc"))))
        .collect();
    wait_ok(builds);
    let tags = run(bundle(d).args(["history", &oci, "--json"])).ok().stdout;
    for i in 0..N {
        assert!(tags.contains(&format!("\"1.0.{i}\"")), "tag 1.0.{i} was lost:\n{tags}");
        // skopeo (an independent OCI reader) finds every tag in the layout too.
        let r = run(Command::new("skopeo").args(["inspect", "--raw", &format!("{oci}:1.0.{i}")]));
        assert_eq!(r.code, 0, "skopeo cannot read tag 1.0.{i}: {}", r.stderr);
    }

    // N signers of one release, at once: all N signatures must be in the `.sig` manifest.
    let mut pubs = Vec::new();
    for i in 0..N {
        run(bundle(d).current_dir(d).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", &format!("k{i}")])).ok();
        pubs.push(d.join(format!("k{i}.pub")));
    }
    let signers: Vec<Child> = (0..N)
        .map(|i| {
            spawn(bundle(d).env("COSIGN_PASSWORD", "pw").args([
                "sign",
                &format!("{oci}:1.0.0"),
                "--key",
                d.join(format!("k{i}.key")).to_str().unwrap(),
            ]))
        })
        .collect();
    wait_ok(signers);
    let mut args =
        vec!["verify".to_string(), format!("{oci}:1.0.0"), "--min-signers".into(), N.to_string(), "--identity".into(), "docproc".into()];
    for p in &pubs {
        args.extend(["--key".to_string(), p.display().to_string()]);
    }
    let r = run(bundle(d).args(&args));
    assert_eq!(r.code, 0, "not every concurrent signature survived:\n{}\n{}", r.stdout, r.stderr);
    // Read independently (Python's json on the layout): one `.sig` manifest, N distinct signatures.
    let digest = r.stdout.lines().find_map(|l| l.trim().strip_prefix("digest")).map(|s| s.trim().to_string()).unwrap();
    let count = py(
        r#"
import json, sys
root, tag = sys.argv[1], sys.argv[2]
idx = json.load(open(root + "/index.json"))
[m] = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
sig = json.load(open(root + "/blobs/sha256/" + m["digest"].split(":")[1]))
print(len({l["annotations"]["dev.cosignproject.cosign/signature"] for l in sig["layers"]}))
"#,
        &[layout.to_str().unwrap(), &format!("{}.sig", digest.replace(':', "-"))],
    )
    .ok();
    assert_eq!(count.stdout.trim(), N.to_string(), "{}", count.stderr);
}
