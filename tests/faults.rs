//! Faults at every step: a proxy in front of the real registry answers 500, 503 or 429, resets the
//! connection, or truncates a response or request body, at each request of a push and a pull in
//! turn (and, for pushes, from that request on). After every run either the release is complete
//! and verifiable, or the command failed with a clear message and the tag does not name a partial
//! artifact.

mod common;
use common::proxy::{ALL, Fault, Plan, Proxy};
use common::registry::Registry;
use common::*;
use std::path::Path;

fn cmd(t: &Path) -> std::process::Command {
    let mut c = bundle(t);
    c.env("RELBUNDLE_RETRY_BASE_MS", "2").env("RELBUNDLE_HTTP_TIMEOUT_SECS", "10");
    c
}

#[derive(Default, Debug)]
struct Tally {
    runs: usize,
    succeeded: usize,
    failed_cleanly: usize,
}

#[test]
fn faults_at_every_step_never_leave_a_partial_release() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let reg = Registry::plain(&d.join("reg"));
    let proxy = Proxy::start(&reg.addr);
    let repo = fixture_repo(d, &["docproc", "dvc-remote"]);
    let layout = format!("oci:{}", d.join("l").display());
    let r = run(bundle(d).args(["build", "--version", "1.0.0", "--output", &layout]).arg(repo.join("docproc"))).ok();
    let digest = built_digest(&r.stdout);
    let src = format!("{layout}:1.0.0");

    // A clean push through the proxy, to count its steps.
    proxy.plan(Plan::None);
    run(cmd(d).args(["push", &src, &format!("{}/acme/base", proxy.addr)])).ok();
    let steps = proxy.requests();
    assert!(steps.len() >= 15, "a push should take many requests: {steps:?}");

    // The invariant, checked directly against the registry (not through the proxy).
    let check = |name: &str, r: &Run, tally: &mut Tally, what: &str| {
        tally.runs += 1;
        let out = d.join("verify");
        let _ = std::fs::remove_dir_all(&out);
        let v = run(bundle(d).args(["pull", &format!("{}/{name}:1.0.0", reg.addr), "-o", out.to_str().unwrap(), "--json"]));
        if r.code == 0 {
            tally.succeeded += 1;
            assert_eq!(v.code, 0, "{what}: push said ok but the release does not pull: {}", v.stderr);
            assert!(v.stdout.contains(&digest), "{what}: the tag names another digest");
        } else {
            tally.failed_cleanly += 1;
            assert_eq!(r.code, 2, "{what}: unexpected exit {}: {}", r.code, r.stderr);
            assert!(
                r.stderr.starts_with("error: ") && r.stderr.contains(&format!("{}/{name}", proxy.addr)),
                "{what}: unclear message: {}",
                r.stderr
            );
            // The tag is either absent, or names the complete release.
            if v.code == 0 {
                assert!(v.stdout.contains(&digest), "{what}: the tag names another digest");
            } else {
                assert!(v.stderr.contains("no tag `1.0.0`"), "{what}: tag present but the release is broken: {}", v.stderr);
            }
        }
    };

    let mut push_tally = Tally::default();
    let mut transient_failures: Vec<String> = Vec::new();
    for k in 0..steps.len() {
        for (i, f) in ALL.iter().enumerate() {
            let name = format!("acme/once-{k}-{i}");
            proxy.plan(Plan::At(k, *f));
            let r = run(cmd(d).args(["push", &src, &format!("{}/{name}", proxy.addr)]));
            if r.code != 0 {
                transient_failures.push(format!("{f:?} at step {k} ({}): {}", steps[k], r.stderr.trim()));
            }
            check(&name, &r, &mut push_tally, &format!("push, {f:?} at step {k} ({})", steps[k]));
        }
        // Persistent faults from every second step on (the command must give up cleanly).
        for (i, f) in [Fault::Status(500), Fault::Reset].iter().enumerate().filter(|(i, _)| (k + i) % 2 == 0) {
            let name = format!("acme/from-{k}-{i}");
            proxy.plan(Plan::From(k, *f));
            let r = run(cmd(d).args(["push", &src, &format!("{}/{name}", proxy.addr)]));
            check(&name, &r, &mut push_tally, &format!("push, {f:?} from step {k} on ({})", steps[k]));
        }
    }

    // Pulls: the same faults at each step; success means every file, checked; failure writes nothing.
    proxy.plan(Plan::None);
    let reference = d.join("reference");
    run(cmd(d).args(["pull", &format!("{}/acme/base:1.0.0", proxy.addr), "-o", reference.to_str().unwrap()])).ok();
    let pull_steps = proxy.requests();
    let want = snapshot(&reference).into_iter().map(|(p, b)| (p.strip_prefix(&reference).unwrap().to_path_buf(), b)).collect::<Vec<_>>();
    let mut pull_tally = Tally::default();
    for k in 0..pull_steps.len() {
        for f in ALL {
            proxy.plan(Plan::At(k, f));
            let out = d.join(format!("pull-{k}"));
            let r = run(cmd(d).args(["pull", &format!("{}/acme/base:1.0.0", proxy.addr), "-o", out.to_str().unwrap()]));
            pull_tally.runs += 1;
            if r.code == 0 {
                pull_tally.succeeded += 1;
                let got = snapshot(&out).into_iter().map(|(p, b)| (p.strip_prefix(&out).unwrap().to_path_buf(), b)).collect::<Vec<_>>();
                assert_eq!(got, want, "pull with {f:?} at step {k}: wrong files");
            } else {
                pull_tally.failed_cleanly += 1;
                assert_eq!(r.code, 2, "pull with {f:?} at step {k}: {}", r.stderr);
                assert!(!out.exists(), "pull with {f:?} at step {k} failed but wrote {}", out.display());
            }
            let _ = std::fs::remove_dir_all(&out);
        }
    }
    let injected = proxy.injected();
    eprintln!("faults: {injected} injected; push: {} steps, {push_tally:?}; pull: {} steps, {pull_tally:?}", steps.len(), pull_steps.len());
    assert!(injected >= 100, "only {injected} faults injected");
    // A single transient fault is always retried away; only persistent faults may fail a push.
    assert!(transient_failures.is_empty(), "single faults that were not recovered:\n{}", transient_failures.join("\n"));
    assert!(push_tally.succeeded > 0 && push_tally.failed_cleanly > 0, "{push_tally:?}");
}
