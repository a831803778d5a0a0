//! A synthetic monorepo for scale benchmarks: N components, each with P prompts, a contract, and a
//! DVC directory model whose `.dvc` and `.dir` files are computed by relbundle's own DVC hashing
//! (cross-checked against real dvc by tests/scale.rs and scripts/bench), plus a local DVC remote
//! holding the objects.
//!
//!   cargo run --release --example gen_monorepo -- OUT N P [--changed-percent K --seed S]
//!
//! `--changed-percent K` rewrites K% of the prompts (with a version bump), for diff benchmarks.

use relbundle::dvc::{DirEntry, dir_md5};
use relbundle::hashing::md5_hex;
use std::fmt::Write as _;
use std::path::Path;

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: gen_monorepo OUT N P [--changed-percent K] [--seed S]");
        std::process::exit(2);
    }
    let out = Path::new(&args[1]);
    let n: usize = args[2].parse().expect("N");
    let p: usize = args[3].parse().expect("P");
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(|v| v.parse::<u64>().expect(name));
    let changed = flag("--changed-percent").unwrap_or(0);
    let seed = flag("--seed").unwrap_or(1);
    let mono = out.join("mono");
    let remote = out.join("remote");
    write(&mono.join(".dvc/config"), b"[core]\n    remote = local\n['remote \"local\"']\n    url = ../../remote\n");
    write(&mono.join(".dvc/.gitignore"), b"/config.local\n/tmp\n/cache\n");
    let mut yaml = String::from("apiVersion: relbundle.dev/v1\nname: synthetic\ncomponents:\n");
    let mut rng = seed;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for c in 0..n {
        let name = format!("svc{c:03}");
        let dir = mono.join("components").join(&name);
        write(&dir.join("Dockerfile"), b"FROM scratch\n");
        // A directory model of 4 files, hashed the DVC way; objects go to the local remote.
        let mut entries = Vec::new();
        let mut size = 0u64;
        for f in 0..4 {
            let mut body = format!("model {name} part {f}\n").into_bytes();
            body.extend((0..(2048 + f * 512)).map(|i| ((i * 31 + c * 7 + f) % 251) as u8));
            let rel = format!("part-{f}.bin");
            write(&dir.join("models/model").join(&rel), &body);
            let md5 = md5_hex(&body);
            write(&remote.join("files/md5").join(&md5[..2]).join(&md5[2..]), &body);
            size += body.len() as u64;
            entries.push(DirEntry { md5, relpath: rel });
        }
        let (md5, listing) = dir_md5(&mut entries);
        let hex = md5.trim_end_matches(".dir");
        write(&remote.join("files/md5").join(&hex[..2]).join(format!("{}.dir", &hex[2..])), &listing);
        write(
            &dir.join("models/model.dvc"),
            format!("outs:\n- md5: {md5}\n  size: {size}\n  nfiles: 4\n  hash: md5\n  path: model\n").as_bytes(),
        );
        write(&dir.join("models/.gitignore"), b"/model\n");
        for k in 0..p {
            let bump = changed > 0 && next() % 100 < changed;
            let (ver, extra) = if bump { ("1.1.0", " Be concise.") } else { ("1.0.0", "") };
            let body = format!(
                "id: {name}.prompt{k:03}\nversion: {ver}\nvariables: [input, style]\ntemplate: |\n  You are prompt {k} of {name}.{extra}\n  Style: {{{{ style }}}}\n  Input: {{{{ input }}}}\n"
            );
            write(&dir.join(format!("prompts/p{k:03}.yaml")), body.as_bytes());
        }
        let api = format!(
            "openapi: 3.1.0\ninfo:\n  title: {name}\n  version: 1.0.0\npaths:\n  /v1/run:\n    post:\n      responses:\n        \"200\":\n          description: ok\n          content:\n            application/json:\n              schema:\n                $ref: \"#/components/schemas/Out\"\ncomponents:\n  schemas:\n    Out:\n      type: object\n      required: [id]\n      properties:\n        id: {{type: string}}\n        score: {{type: number, minimum: 0, maximum: 1}}\n"
        );
        write(&dir.join("api/openapi.yaml"), api.as_bytes());
        let _ = write!(
            yaml,
            "  {name}:\n    path: components/{name}\n    image: registry.example.com/synthetic/{name}@sha256:{:064x}\n    models:\n      - dvc: models/model.dvc\n    prompts:\n      - prompts/*.yaml\n    provides:\n      {name}-api:\n        contract: api/openapi.yaml\n",
            c + 1
        );
        if c > 0 {
            let _ = write!(yaml, "    consumes:\n      svc{:03}-api: ^1.0\n", c - 1);
        }
    }
    write(&mono.join("bundle.yaml"), yaml.as_bytes());
    println!("{}", mono.display());
}
