//! A registry with htpasswd basic auth and a self-signed TLS certificate: logins through docker's
//! config.json, REGISTRY_AUTH_FILE and --username/--password-stdin; TLS verified against
//! --ca-file; the password never printed.

mod common;
use common::registry::Registry;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

const PASSWORD: &str = "s3cret-Pass-91";

#[test]
fn tls_and_basic_auth_through_every_login_source() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // A private CA and a server certificate it signed (webpki refuses a CA used as the server cert).
    sh(
        d,
        "mkdir certs
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=relbundle-test-ca \
           -keyout ca.key -out certs/ca.crt 2>/dev/null
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
         printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
         openssl x509 -req -in server.csr -CA certs/ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.crt 2>/dev/null",
    )
    .ok();
    sh(d, &format!("htpasswd -Bbn bundler '{PASSWORD}' > htpasswd")).ok();
    let reg = Registry::start(
        &d.join("reg"),
        &format!("  tls:\n    certificate: {0}/server.crt\n    key: {0}/server.key\n", d.display()),
        &format!("auth:\n  htpasswd:\n    realm: bundle-registry\n    path: {}/htpasswd\n", d.display()),
    );
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let layout = format!("oci:{}", d.join("l").display());
    let r = run(bundle(d).args(["build", "--version", "1.0.0", "--output", &layout]).arg(repo.join("docproc"))).ok();
    let digest = built_digest(&r.stdout);
    let src = format!("{layout}:1.0.0");
    let dst = format!("{}/acme/docproc", reg.addr);
    let ca = d.join("certs/ca.crt");
    let mut outputs = Vec::new();

    // docker config.json (auths) via DOCKER_CONFIG.
    let docker = docker_config(&d.join("docker"), &reg.addr, "bundler", PASSWORD);
    let r = run(bundle(d).env("DOCKER_CONFIG", &docker).args(["push", &src, &dst, "--ca-file", ca.to_str().unwrap()])).ok();
    assert!(r.stdout.contains(&digest), "{}", r.stdout);
    outputs.push(r);
    let r = run(bundle(d).env("DOCKER_CONFIG", &docker).args(["inspect", &format!("{dst}:1.0.0"), "--ca-file", ca.to_str().unwrap()])).ok();
    assert!(r.stdout.contains(&digest));
    outputs.push(r);

    // TLS is verified: without the CA the certificate is refused (and no fallback to plain HTTP).
    let r = run(bundle(d).env("DOCKER_CONFIG", &docker).args(["inspect", &format!("{dst}:1.0.0")])).code(2);
    assert!(r.stderr.to_lowercase().contains("certificate"), "{}", r.stderr);
    outputs.push(r);

    // No login at all: a clear hint.
    let empty = d.join("empty-docker");
    std::fs::create_dir_all(&empty).unwrap();
    let r =
        run(bundle(d).env("DOCKER_CONFIG", &empty).args(["inspect", &format!("{dst}:1.0.0"), "--ca-file", ca.to_str().unwrap()])).code(2);
    assert!(r.stderr.contains("docker login") && r.stderr.contains("--password-stdin"), "{}", r.stderr);
    outputs.push(r);

    // A wrong password is refused.
    let bad = docker_config(&d.join("bad-docker"), &reg.addr, "bundler", "wrong-pass");
    let r = run(bundle(d).env("DOCKER_CONFIG", &bad).args(["inspect", &format!("{dst}:1.0.0"), "--ca-file", ca.to_str().unwrap()])).code(2);
    assert!(r.stderr.contains("refused the login"), "{}", r.stderr);
    outputs.push(r);

    // containers' auth.json through REGISTRY_AUTH_FILE (username/password form).
    let authfile = d.join("auth.json");
    std::fs::write(&authfile, format!(r#"{{"auths":{{"{}":{{"username":"bundler","password":"{PASSWORD}"}}}}}}"#, reg.addr)).unwrap();
    let r = run(bundle(d).env("DOCKER_CONFIG", &empty).env("REGISTRY_AUTH_FILE", &authfile).args([
        "history",
        &dst,
        "--ca-file",
        ca.to_str().unwrap(),
    ]))
    .ok();
    assert!(r.stdout.contains("1.0.0"), "{}", r.stdout);
    outputs.push(r);

    // --username with --password-stdin.
    let mut c = bundle(d);
    c.env("DOCKER_CONFIG", &empty)
        .args([
            "push",
            &src,
            &format!("{}/acme/other", reg.addr),
            "--username",
            "bundler",
            "--password-stdin",
            "--ca-file",
            ca.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    let r = Run {
        code: o.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
    .ok();
    outputs.push(r);
    let r = run(bundle(d).args(["push", &src, &dst, "--username", "bundler"])).code(2);
    assert!(r.stderr.contains("--password-stdin"), "{}", r.stderr);

    // skopeo (independent) reads what we pushed over TLS with the same login.
    run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--creds",
        &format!("bundler:{PASSWORD}"),
        "--cert-dir",
        d.join("certs").to_str().unwrap(),
        &format!("docker://{dst}:1.0.0"),
    ]))
    .ok();

    for r in outputs {
        for secret in [PASSWORD.to_string(), b64(&format!("bundler:{PASSWORD}"))] {
            assert!(!r.stdout.contains(&secret) && !r.stderr.contains(&secret), "a secret was printed:\n{}\n{}", r.stdout, r.stderr);
        }
    }
}
