//! DVC pins checked where the models live: S3 (moto's server), Azure Blob (Azurite) and HTTP
//! (Python's http.server serving a folder `dvc push` wrote), each filled by the real dvc, with
//! `dvc status -c` as the reference. Missing objects, wrong credentials, `--require-model-check`,
//! and the record's remote URL without secrets.

mod common;
use common::servers::{self, Server};
use common::*;
use std::path::{Path, PathBuf};

/// One object of a directory model (embedding's 1_Pooling/config.json) and a DVC 2 legacy one.
const DIR_FILE: &str = "24fbba739055cfe8fc0aa47df97e4dfa";
const LEGACY: &str = "5d8e85e8495f69dabb5b265ca015845d";

fn check(cache: &Path, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = bundle(cache);
    c.args(["check", "--allow-dirty", "--version", "1.0.0"]).args(extra).arg(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c)
}

/// The docproc fixture with `remote` as its default remote (config + config.local), its objects
/// pushed there by the real dvc from the fixture's local remote, and the local cache emptied.
fn pushed(t: &Path, config: &str, local: &str, env: &[(&str, &str)]) -> PathBuf {
    let repo = fixture_repo(t, &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    std::fs::write(
        dir.join(".dvc/config"),
        format!("[core]\n    analytics = false\n    remote = store\n['remote \"local\"']\n    url = ../../dvc-remote\n{config}"),
    )
    .unwrap();
    std::fs::write(dir.join(".dvc/config.local"), local).unwrap();
    servers::dvc(&dir, &["fetch", "-q", "-r", "local"], env).ok();
    let r = servers::dvc(&dir, &["push", "-r", "store"], env).ok();
    assert!(r.stdout.contains("pushed") || r.stderr.contains("pushed"), "{}{}", r.stdout, r.stderr);
    // The cache moves aside: bundle must find every `.dir` listing on the remote itself.
    std::fs::rename(dir.join(".dvc/cache"), t.join("dvc-cache")).unwrap();
    dir
}

/// The reference: `dvc status -c` against the same remote, with the cache the objects came from.
fn dvc_status_c(dir: &Path, env: &[(&str, &str)]) -> Run {
    let aside = dir.parent().unwrap().parent().unwrap().join("dvc-cache");
    std::fs::rename(&aside, dir.join(".dvc/cache")).unwrap();
    let r = servers::dvc(dir, &["status", "-c", "-r", "store"], env);
    std::fs::rename(dir.join(".dvc/cache"), &aside).unwrap();
    r
}

fn s3_env() -> Vec<(&'static str, &'static str)> {
    vec![("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")]
}

fn boto(code: &str, endpoint: &str) {
    py(
        &format!(
            "import boto3, sys\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='testing', aws_secret_access_key='testing', region_name='us-east-1')\n{code}"
        ),
        &[endpoint],
    )
    .ok();
}

fn s3_remote(server: &Server) -> String {
    format!("['remote \"store\"']\n    url = s3://models/dvc\n    endpointurl = {}\n", server.url())
}

#[test]
fn s3_presence_on_moto_matches_dvc_status_c() {
    let t = tempfile::tempdir().unwrap();
    let moto = servers::moto(None);
    boto("s3.create_bucket(Bucket='models')", &moto.url());
    let env = s3_env();
    let dir = pushed(t.path(), &s3_remote(&moto), "", &env);
    // Credentials from the environment (as boto reads them); the cache is empty, so every `.dir`
    // listing comes from the bucket too.
    let ok = check(t.path(), &dir, &["--require-model-check"], &env).ok();
    assert!(!ok.stderr.contains("not checked on"), "{}", ok.stderr);
    let reference = dvc_status_c(&dir, &env).ok();
    assert!(reference.stdout.contains("in sync"), "{}", reference.stdout);

    // One file of a directory model and one DVC 2 object go missing: both named, exit 1, and dvc agrees.
    boto(&format!("s3.delete_object(Bucket='models', Key='dvc/files/md5/24/{}')", &DIR_FILE[2..]), &moto.url());
    boto(&format!("s3.delete_object(Bucket='models', Key='dvc/5d/{}')", &LEGACY[2..]), &moto.url());
    let r = check(t.path(), &dir, &[], &env).code(1);
    assert!(r.stderr.contains(&format!("components/embedding/models/minilm-l6-v2: {DIR_FILE} (1_Pooling/config.json)")), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("components/summarizer/data/stopwords.txt: {LEGACY}")), "{}", r.stderr);
    assert!(r.stderr.contains("not on remote `store` (s3://models/dvc)"), "{}", r.stderr);
    // dvc agrees on the single file; it does not see the file missing inside the directory
    // (DVC 3 trusts a pushed `.dir` from its remote index), which bundle does.
    let reference = dvc_status_c(&dir, &env);
    assert!(reference.stdout.contains("new:") && reference.stdout.contains("stopwords.txt"), "{}", reference.stdout);

    // The record names the remote and its endpoint.
    let out = t.path().join("layout");
    boto(&format!("s3.put_object(Bucket='models', Key='dvc/files/md5/24/{}', Body=b'x')", &DIR_FILE[2..]), &moto.url());
    boto(&format!("s3.put_object(Bucket='models', Key='dvc/5d/{}', Body=b'x')", &LEGACY[2..]), &moto.url());
    let mut c = bundle(t.path());
    c.args(["build", "--allow-dirty", "--version", "1.0.0", "--output", &format!("oci:{}", out.display())])
        .arg(&dir)
        .envs(env.iter().copied());
    run(&mut c).ok();
    let rec = run(bundle(t.path()).args(["inspect", "--json", &format!("oci:{}", out.display())])).ok();
    let v: serde_json::Value = serde_json::from_str(&rec.stdout).unwrap();
    let m = &v["components"][0]["models"][0];
    assert_eq!(m["remote"]["url"], "s3://models/dvc");
    assert_eq!(m["remote"]["endpoint"], moto.url());
    // The record with its remotes still validates against the published schema (Python's jsonschema).
    py(
        "import json, sys, jsonschema\njsonschema.validate(json.loads(sys.argv[1]), json.load(open(sys.argv[2])))",
        &[&rec.stdout, repo_root().join("spec/release-record.schema.json").to_str().unwrap()],
    )
    .ok();
}

#[test]
fn s3_credentials_from_config_local_and_a_wrong_key_is_said() {
    let t = tempfile::tempdir().unwrap();
    // IAM auth on after the first four actions: a user, its key, its policy, the bucket.
    let moto = servers::moto(Some(4));
    let created = py(
        "import boto3, json, sys\n\
         kw = dict(endpoint_url=sys.argv[1], aws_access_key_id='testing', aws_secret_access_key='testing', region_name='us-east-1')\n\
         iam = boto3.client('iam', **kw)\n\
         iam.create_user(UserName='ci')\n\
         k = iam.create_access_key(UserName='ci')['AccessKey']\n\
         iam.put_user_policy(UserName='ci', PolicyName='all', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))\n\
         boto3.client('s3', **kw).create_bucket(Bucket='models')\n\
         print(k['AccessKeyId'], k['SecretAccessKey'])",
        &[&moto.url()],
    )
    .ok();
    let (id, secret) = created.stdout.trim().split_once(' ').unwrap();
    let local = format!("['remote \"store\"']\n    access_key_id = {id}\n    secret_access_key = {secret}\n");
    let dir = pushed(t.path(), &s3_remote(&moto), &local, &[]);
    // No AWS variables: the keys come from config.local, as DVC reads them.
    let clean = [("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", ""), ("HOME", t.path().to_str().unwrap())];
    check(t.path(), &dir, &["--require-model-check"], &clean).ok();
    // A wrong secret: exit 2 naming the remote, the key never printed; without the flag, a note.
    let wrong = "WrongSecret-Do-Not-Print-1234567890abcdef";
    std::fs::write(
        dir.join(".dvc/config.local"),
        format!("['remote \"store\"']\n    access_key_id = {id}\n    secret_access_key = {wrong}\n"),
    )
    .unwrap();
    let r = check(t.path(), &dir, &["--require-model-check"], &clean).code(2);
    assert!(r.stderr.contains("remote `store` (s3://models/dvc)") && r.stderr.contains("unauthorised"), "{}", r.stderr);
    assert!(r.stderr.contains("access_key_id in the DVC config"), "{}", r.stderr);
    let r2 = check(t.path(), &dir, &[], &clean).ok();
    assert!(r2.stderr.contains("not checked on remote `store`") && r2.stderr.contains("--require-model-check"), "{}", r2.stderr);
    for r in [&r, &r2] {
        assert!(!r.stderr.contains(wrong) && !r.stdout.contains(wrong) && !r.stderr.contains(secret), "a secret was printed: {}", r.stderr);
    }
}

fn azure_setup(t: &Path) -> (Server, PathBuf, String) {
    let az = servers::azurite(&t.join("azurite"));
    let cs = servers::azurite_connection_string(az.port, servers::AZURITE_KEY);
    py(
        "import sys\nfrom azure.storage.blob import BlobServiceClient\nBlobServiceClient.from_connection_string(sys.argv[1]).create_container('models')",
        &[&cs],
    )
    .ok();
    let dir = pushed(
        t,
        "['remote \"store\"']\n    url = azure://models/dvc\n",
        &format!("['remote \"store\"']\n    connection_string = '{cs}'\n"),
        &[],
    );
    (az, dir, cs)
}

#[test]
fn azure_presence_on_azurite_and_a_wrong_key_is_said() {
    let t = tempfile::tempdir().unwrap();
    let (az, dir, cs) = azure_setup(t.path());
    check(t.path(), &dir, &["--require-model-check"], &[]).ok();
    assert!(dvc_status_c(&dir, &[]).ok().stdout.contains("in sync"));
    py(
        "import sys\nfrom azure.storage.blob import BlobServiceClient\nBlobServiceClient.from_connection_string(sys.argv[1]).get_container_client('models').delete_blob(sys.argv[2])",
        &[&cs, &format!("dvc/files/md5/24/{}", &DIR_FILE[2..])],
    )
    .ok();
    let r = check(t.path(), &dir, &[], &[]).code(1);
    assert!(r.stderr.contains(&format!("{DIR_FILE} (1_Pooling/config.json) (not on remote `store` (azure://models/dvc))")), "{}", r.stderr);
    // The key from the environment instead of config.local: a wrong one is refused, and said.
    std::fs::remove_file(dir.join(".dvc/config.local")).unwrap();
    let wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk=";
    let wrong = servers::azurite_connection_string(az.port, wrong_key);
    let r = check(t.path(), &dir, &["--require-model-check"], &[("AZURE_STORAGE_CONNECTION_STRING", &wrong)]).code(2);
    assert!(r.stderr.contains("remote `store` (azure://models/dvc)") && r.stderr.contains("unauthorised"), "{}", r.stderr);
    assert!(r.stderr.contains("AZURE_STORAGE_CONNECTION_STRING"), "{}", r.stderr);
    assert!(!r.stderr.contains(wrong_key) && !r.stderr.contains(servers::AZURITE_KEY), "a key was printed: {}", r.stderr);
    // The right one from the environment works.
    let r = check(t.path(), &dir, &["--require-model-check"], &[("AZURE_STORAGE_CONNECTION_STRING", &cs)]).code(1);
    assert!(r.stderr.contains(DIR_FILE), "{}", r.stderr);
}

#[test]
fn http_presence_on_a_web_server_basic_auth_and_the_record_keeps_no_secret() {
    let t = tempfile::tempdir().unwrap();
    let webroot = t.path().join("webroot");
    // dvc push to a local folder; a web server then serves that folder with basic auth.
    let dir = pushed(t.path(), &format!("['remote \"store\"']\n    url = {}\n", webroot.display()), "", &[]);
    let web = servers::web(&webroot, Some(("reader", "Pa55-word-xyz")));
    std::fs::write(
        dir.join(".dvc/config"),
        format!(
            "[core]\n    remote = store\n['remote \"store\"']\n    url = http://reader@127.0.0.1:{}/\n    auth = basic\n    user = reader\n",
            web.port
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".dvc/config.local"), "['remote \"store\"']\n    password = Pa55-word-xyz\n").unwrap();
    check(t.path(), &dir, &["--require-model-check"], &[]).ok();
    let out = t.path().join("layout");
    let b = run(bundle(t.path())
        .args(["build", "--allow-dirty", "--version", "1.0.0", "--output", &format!("oci:{}", out.display())])
        .arg(&dir))
    .ok();
    let rec = run(bundle(t.path()).args(["inspect", "--json", &format!("oci:{}", out.display())])).ok();
    let v: serde_json::Value = serde_json::from_str(&rec.stdout).unwrap();
    let m = &v["components"][0]["models"][0];
    assert_eq!(m["remote"]["name"], "store");
    assert_eq!(m["remote"]["url"], format!("http://127.0.0.1:{}/", web.port));
    for r in [&b, &rec] {
        assert!(
            !r.stdout.contains("Pa55-word-xyz") && !r.stderr.contains("Pa55-word-xyz") && !r.stdout.contains("reader@"),
            "{}",
            r.stdout
        );
    }
    std::fs::remove_file(webroot.join(format!("files/md5/24/{}", &DIR_FILE[2..]))).unwrap();
    let r = check(t.path(), &dir, &[], &[]).code(1);
    assert!(r.stderr.contains(DIR_FILE) && r.stderr.contains("not on remote `store`"), "{}", r.stderr);
    std::fs::write(dir.join(".dvc/config.local"), "['remote \"store\"']\n    password = not-the-password\n").unwrap();
    let r = check(t.path(), &dir, &["--require-model-check"], &[]).code(2);
    assert!(r.stderr.contains("unauthorised") && r.stderr.contains("remote `store`"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-password"), "{}", r.stderr);
}

#[test]
fn gcs_and_unreachable_remotes_are_reported_not_checked() {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let dir = repo.join("docproc");
    std::fs::write(dir.join(".dvc/config"), "[core]\n    remote = g\n['remote \"g\"']\n    url = gs://bucket/dvc\n").unwrap();
    let r = check(t.path(), &dir, &[], &[]).ok();
    assert!(r.stderr.contains("not checked on remote `g` (gs://bucket/dvc)") && r.stderr.contains("GCS"), "{}", r.stderr);
    let r = check(t.path(), &dir, &["--require-model-check"], &[]).code(2);
    assert!(r.stderr.contains("remote `g`"), "{}", r.stderr);
    // Nothing listens on this port: unreachable, named.
    let port = servers::free_port();
    std::fs::write(
        dir.join(".dvc/config"),
        format!("[core]\n    remote = s\n['remote \"s\"']\n    url = s3://b/dvc\n    endpointurl = http://127.0.0.1:{port}\n"),
    )
    .unwrap();
    let r = check(t.path(), &dir, &["--require-model-check"], &[("RELBUNDLE_RETRY_BASE_MS", "1")]).code(2);
    assert!(r.stderr.contains("unreachable") && r.stderr.contains("remote `s` (s3://b/dvc)"), "{}", r.stderr);
    // Per-output `remote:` wins over core.remote: this output's remote is the fixture's local one.
    let f = dir.join("components/ocr/models/text-recognizer.onnx.dvc");
    let y = std::fs::read_to_string(&f).unwrap() + "  remote: nowhere\n";
    std::fs::write(&f, y).unwrap();
    let r = check(t.path(), &dir, &[], &[]).code(2);
    assert!(r.stderr.contains("field `remote`: remote `nowhere` is not in"), "{}", r.stderr);
}

/// A signed release of the fixture (in an OCI layout) whose models live on `dir`'s remote.
fn signed_release(t: &Path, dir: &Path, env: &[(&str, &str)]) -> (String, PathBuf) {
    run(bundle(t).current_dir(t).env("COSIGN_PASSWORD", "pw").args(["keygen"])).ok();
    let layout = format!("oci:{}", t.join("layout").display());
    let mut c = bundle(t);
    c.env("COSIGN_PASSWORD", "pw")
        .args(["build", "--allow-dirty", "--version", "1.0.0", "--output", &layout, "--sign", "--key"])
        .arg(t.join("cosign.key"))
        .arg(dir)
        .envs(env.iter().copied());
    run(&mut c).ok();
    (format!("{layout}:1.0.0"), t.join("cosign.pub"))
}

fn pull_models(t: &Path, reference: &str, key: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = bundle(t);
    c.args(["pull", reference, "--models", "--identity", "docproc", "--key"])
        .arg(key)
        .arg("-o")
        .arg(out)
        .args(extra)
        .envs(env.iter().copied());
    run(&mut c)
}

/// Every file below `dir`, relative, sorted (leftover temp files would show here).
fn files_below(dir: &Path) -> Vec<String> {
    snapshot(dir).into_iter().map(|(p, _)| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned()).collect()
}

#[test]
fn pull_models_from_s3_verified_and_resumed() {
    let t = tempfile::tempdir().unwrap();
    let moto = servers::moto(None);
    boto("s3.create_bucket(Bucket='models')", &moto.url());
    let env = s3_env();
    let dir = pushed(t.path(), &s3_remote(&moto), "", &env);
    let (reference, key) = signed_release(t.path(), &dir, &env);
    let out = t.path().join("models");
    let r = pull_models(t.path(), &reference, &key, &out, &[], &env).ok();
    assert!(r.stdout.contains("10 model file(s)") && r.stdout.contains("10 fetched"), "{}", r.stdout);
    // Byte for byte what dvc pushed (the fixture's own workspace copies).
    let src = repo_root().join("fixtures/docproc");
    for rel in [
        "components/ocr/models/text-recognizer.onnx",
        "components/embedding/models/minilm-l6-v2/1_Pooling/config.json",
        "components/embedding/models/minilm-l6-v2/model.safetensors",
        "components/summarizer/models/summarizer-lora/adapter_model.safetensors",
        "components/summarizer/data/stopwords.txt",
    ] {
        assert_eq!(std::fs::read(out.join(rel)).unwrap(), std::fs::read(src.join(rel)).unwrap(), "{rel}");
    }
    // One component only; then a resumed pull fetches only what is missing or damaged.
    let one = t.path().join("ocr");
    pull_models(t.path(), &reference, &key, &one, &["--component", "ocr"], &env).ok();
    assert_eq!(files_below(&one), ["components/ocr/models/text-recognizer.onnx"]);
    std::fs::remove_file(out.join("components/embedding/models/minilm-l6-v2/config.json")).unwrap();
    std::fs::write(out.join("components/ocr/models/text-recognizer.onnx"), b"damaged").unwrap();
    let r = pull_models(t.path(), &reference, &key, &out, &[], &env).ok();
    assert!(r.stdout.contains("2 fetched") && r.stdout.contains("8 already in place"), "{}", r.stdout);
    assert_eq!(
        std::fs::read(out.join("components/ocr/models/text-recognizer.onnx")).unwrap(),
        std::fs::read(src.join("components/ocr/models/text-recognizer.onnx")).unwrap()
    );
    // An object replaced on the remote by other bytes: refused, nothing of it written.
    boto("s3.put_object(Bucket='models', Key='dvc/files/md5/1f/06024ed3f4da49ae190d5075bed32a', Body=b'x' * 98304)", &moto.url());
    let fresh = t.path().join("fresh");
    let r = pull_models(
        t.path(),
        &reference,
        &key,
        &fresh,
        &["--component", "ocr"],
        &[env.as_slice(), &[("RELBUNDLE_RETRY_BASE_MS", "1")]].concat(),
    )
    .code(2);
    assert!(
        r.stderr.contains("components/ocr/models/text-recognizer.onnx") && r.stderr.contains("the pin is 1f06024ed3f4da49ae190d5075bed32a"),
        "{}",
        r.stderr
    );
    assert!(files_below(&fresh).is_empty(), "{:?}", files_below(&fresh));
    // A release not signed by the key is not pulled.
    run(bundle(t.path()).current_dir(t.path()).env("COSIGN_PASSWORD", "pw").args(["keygen", "--output-prefix", "other"])).ok();
    let r = pull_models(t.path(), &reference, &t.path().join("other.pub"), &t.path().join("nope"), &[], &env).code(1);
    assert!(!t.path().join("nope").exists(), "{}", r.stderr);
}

#[test]
fn pull_models_through_faults_leaves_nothing_half_written_and_a_retry_completes() {
    use common::proxy::{Fault, Plan, Proxy};
    let t = tempfile::tempdir().unwrap();
    let webroot = t.path().join("webroot");
    let dir = pushed(t.path(), &format!("['remote \"store\"']\n    url = {}\n", webroot.display()), "", &[]);
    let web = servers::web(&webroot, None);
    let proxy = Proxy::start(&format!("127.0.0.1:{}", web.port));
    std::fs::write(
        dir.join(".dvc/config"),
        format!("[core]\n    remote = store\n['remote \"store\"']\n    url = http://{}/\n", proxy.addr),
    )
    .unwrap();
    let (reference, key) = signed_release(t.path(), &dir, &[]);
    let fast = [("RELBUNDLE_RETRY_BASE_MS", "1")];
    // A fault once (500, 503, a reset, a truncated body): retried, the pull completes.
    for fault in [Fault::Status(500), Fault::Status(503), Fault::Reset, Fault::TruncateResponse] {
        let out = t.path().join(format!("once-{fault:?}"));
        proxy.plan(Plan::At(2, fault));
        pull_models(t.path(), &reference, &key, &out, &[], &fast).ok();
        assert_eq!(files_below(&out).len(), 10, "{fault:?}");
        assert!(proxy.injected() > 0, "{fault:?} was not injected");
    }
    // Every request from the fourth on fails: an error, only whole verified files, no temp file…
    let out = t.path().join("broken");
    for fault in [Fault::Status(503), Fault::TruncateResponse] {
        proxy.plan(Plan::From(3, fault));
        let r = pull_models(t.path(), &reference, &key, &out, &[], &fast).code(2);
        assert!(r.stderr.contains("could not be fetched") && r.stderr.contains("run the same pull again"), "{}", r.stderr);
        let left = files_below(&out);
        assert!(left.len() < 10 && left.iter().all(|f| !f.contains(".bundle-part-")), "{left:?}");
        let src = repo_root().join("fixtures/docproc");
        for f in &left {
            assert_eq!(std::fs::read(out.join(f)).unwrap(), std::fs::read(src.join(f)).unwrap(), "{f} is half-written");
        }
    }
    // …and once the remote is well again, the same pull completes.
    proxy.plan(Plan::None);
    let r = pull_models(t.path(), &reference, &key, &out, &[], &fast).ok();
    assert!(r.stdout.contains("already in place"), "{}", r.stdout);
    assert_eq!(files_below(&out).len(), 10);
}

#[test]
fn many_objects_are_listed_not_asked_one_by_one_and_a_missing_one_is_found() {
    let t = tempfile::tempdir().unwrap();
    let moto = servers::moto(None);
    boto("s3.create_bucket(Bucket='models')", &moto.url());
    let env = s3_env();
    let dir = pushed(t.path(), &s3_remote(&moto), "", &env);
    // A directory model of 300 files (more than the 64 requests in flight): the whole
    // files/md5/ tree is cheaper to list than 300 HEADs.
    let shards = dir.join("components/ocr/models/shards");
    std::fs::create_dir_all(&shards).unwrap();
    for i in 0..300 {
        std::fs::write(shards.join(format!("s{i:03}.bin")), format!("shard {i}\n")).unwrap();
    }
    servers::dvc(&dir, &["add", "-q", "components/ocr/models/shards"], &env).ok();
    servers::dvc(&dir, &["push", "-q", "components/ocr/models/shards.dvc"], &env).ok();
    let f = dir.join("bundle.yaml");
    let y = std::fs::read_to_string(&f)
        .unwrap()
        .replace("      - dvc: models/text-recognizer.onnx.dvc\n", "      - dvc: models/shards.dvc\n        name: shards\n");
    std::fs::write(&f, y).unwrap();
    // bundle asks through a counting proxy.
    let proxy = common::proxy::Proxy::start(&format!("127.0.0.1:{}", moto.port));
    let config = std::fs::read_to_string(dir.join(".dvc/config")).unwrap().replace(&moto.url(), &format!("http://{}", proxy.addr));
    std::fs::write(dir.join(".dvc/config"), config).unwrap();
    check(t.path(), &dir, &["--require-model-check"], &env).ok();
    let asked = proxy.requests();
    assert!(asked.len() < 20 && asked.iter().any(|r| r.contains("list-type=2")), "{} requests: {asked:?}", asked.len());
    let md5 = relbundle::hashing::md5_hex(b"shard 123\n");
    boto(&format!("s3.delete_object(Bucket='models', Key='dvc/files/md5/{}/{}')", &md5[..2], &md5[2..]), &moto.url());
    let r = check(t.path(), &dir, &[], &env).code(1);
    assert!(r.stderr.contains(&format!("components/ocr/models/shards: {md5} (s123.bin) (not on remote `store`")), "{}", r.stderr);
    assert_eq!(r.stderr.matches("not on remote").count(), 1, "{}", r.stderr);
}
