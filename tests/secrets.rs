//! Secrets never leak: with a registry password, a key password and a token all in play, every
//! command runs (with --verbose, and on error paths), and none of them appears in stdout, stderr
//! or any file written.

mod common;
use common::registry::Registry;
use common::*;
use std::io::Write;
use std::process::Stdio;

const REG_PW: &str = "Reg1stry-Passw0rd-xyzzy";
const KEY_PW: &str = "K3y-Passw0rd-plugh";
const TOKEN: &str = "glpat-T0ken-frobozz";

#[test]
fn no_command_prints_or_writes_a_secret() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    sh(d, &format!("htpasswd -Bbn bundler '{REG_PW}' > htpasswd")).ok();
    let reg = Registry::start(&d.join("reg"), "", &format!("auth:\n  htpasswd:\n    realm: r\n    path: {}/htpasswd\n", d.display()));
    let docker = docker_config(&d.join("docker"), &reg.addr, "bundler", REG_PW);
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    // A token in the git remote URL, and in --source-url.
    git(&repo, &["remote", "add", "origin", &format!("https://oauth2:{TOKEN}@gitlab.example.com/acme/docproc.git")]);
    let dst = format!("{}/acme/docproc", reg.addr);
    let out = d.join("out");
    let layout = format!("oci:{}", out.join("l").display());
    let key = d.join("cosign.key");
    let pubk = d.join("cosign.pub");
    let pwfile = d.join("pw.txt");
    std::fs::write(&pwfile, format!("{KEY_PW}\n")).unwrap();

    let cmd = |args: &[&str]| {
        let mut c = bundle(d);
        c.current_dir(d)
            .env("DOCKER_CONFIG", &docker)
            .env("COSIGN_PASSWORD", KEY_PW)
            .env("CI_JOB_TOKEN", TOKEN)
            .arg("--verbose")
            .args(args);
        run(&mut c)
    };
    let dir = repo.join("docproc");
    let dir = dir.to_str().unwrap();
    let runs: std::cell::RefCell<Vec<(String, Run)>> = std::cell::RefCell::new(Vec::new());
    let go = |args: Vec<String>, code: i32| {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let r = cmd(&a);
        assert_eq!(r.code, code, "bundle {}:\n{}\n{}", args.join(" "), r.stdout, r.stderr);
        runs.borrow_mut().push((args.join(" "), r));
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    go(s(&["keygen", "--output-prefix", "cosign"]), 0);
    go(s(&["check", "--version", "1.0.0", dir]), 0);
    go(
        s(&[
            "build",
            "--version",
            "1.0.0",
            "--output",
            &layout,
            "--push",
            &dst,
            "--sign",
            "--key",
            key.to_str().unwrap(),
            "--source-url",
            &format!("https://ci:{TOKEN}@gitlab.example.com/acme/docproc.git"),
            dir,
        ]),
        0,
    );
    go(s(&["inspect", &format!("{dst}:1.0.0")]), 0);
    go(s(&["inspect", "--json", &format!("{layout}:1.0.0")]), 0);
    go(s(&["push", &format!("{layout}:1.0.0"), &format!("{}/acme/copy", reg.addr), "--json"]), 0);
    go(s(&["pull", &format!("{dst}:1.0.0"), "-o", out.join("pulled").to_str().unwrap(), "--key", pubk.to_str().unwrap()]), 0);
    go(s(&["history", &dst, "--key", pubk.to_str().unwrap()]), 0);
    go(s(&["sign", &format!("{dst}:1.0.0"), "--key", key.to_str().unwrap(), "--password-file", pwfile.to_str().unwrap()]), 0);
    go(s(&["verify", &format!("{dst}:1.0.0"), "--key", pubk.to_str().unwrap(), "--json"]), 0);
    go(s(&["values", &format!("{dst}:1.0.0"), "--key", pubk.to_str().unwrap(), "-o", out.join("values.yaml").to_str().unwrap()]), 0);
    go(
        s(&[
            "diff",
            &format!("{layout}:1.0.0"),
            &format!("{dst}:1.0.0"),
            "--format",
            "markdown",
            "--key",
            pubk.to_str().unwrap(),
            "--identity",
            "docproc",
        ]),
        0,
    );
    // Error paths: a wrong key password, a tag that does not exist, a wrong registry password.
    let r = {
        let mut c = bundle(d);
        c.current_dir(d).env("DOCKER_CONFIG", &docker).env("COSIGN_PASSWORD", "not-it").arg("--verbose").args([
            "sign",
            &format!("{dst}:1.0.0"),
            "--key",
            key.to_str().unwrap(),
        ]);
        run(&mut c)
    };
    assert_eq!(r.code, 2);
    runs.borrow_mut().push(("sign with a wrong key password".into(), r));
    go(s(&["inspect", &format!("{dst}:9.9.9")]), 2);
    let bad = docker_config(&d.join("bad-docker"), &reg.addr, "bundler", &format!("{REG_PW}-wrong"));
    let r = run(bundle(d).env("DOCKER_CONFIG", &bad).args(["--verbose", "inspect", &format!("{dst}:1.0.0")]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    runs.borrow_mut().push(("inspect with a wrong registry password".into(), r));
    // --password-stdin.
    let mut c = bundle(d);
    c.env("DOCKER_CONFIG", d.join("none"))
        .args(["--verbose", "history", &dst, "--username", "bundler", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{REG_PW}\n").as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    runs.borrow_mut().push((
        "history --password-stdin".into(),
        Run { code: 0, stdout: String::from_utf8_lossy(&o.stdout).into(), stderr: String::from_utf8_lossy(&o.stderr).into() },
    ));

    let secrets = [REG_PW.to_string(), KEY_PW.to_string(), TOKEN.to_string(), b64(&format!("bundler:{REG_PW}"))];
    let runs = runs.into_inner();
    for (what, r) in &runs {
        for sec in &secrets {
            assert!(!r.stdout.contains(sec) && !r.stderr.contains(sec), "`{what}` printed a secret:\n{}\n{}", r.stdout, r.stderr);
        }
    }
    assert!(runs.iter().any(|(_, r)| r.stderr.contains("as bundler (from docker config)")), "--verbose says where the login came from");
    // Every file written: layouts, pulled files, values, keys.
    for (path, bytes) in snapshot(&out).into_iter().chain(snapshot(&d.join("cosign.key").parent().unwrap().join("out"))) {
        let text = String::from_utf8_lossy(&bytes);
        for sec in &secrets {
            assert!(!text.contains(sec.as_str()), "{} contains a secret", path.display());
        }
    }
    for f in ["cosign.key", "cosign.pub"] {
        let text = std::fs::read_to_string(d.join(f)).unwrap();
        assert!(!text.contains(KEY_PW));
    }
    let rec = std::fs::read_to_string(out.join("values.yaml")).unwrap();
    assert!(!rec.contains("oauth2") && !rec.contains(TOKEN));
}
