//! No input costs super-linear work. Each hostile shape is parsed at three sizes under
//! callgrind, which counts instructions (repeatable, unlike seconds): doubling the input must not
//! much more than double the work. A quadratic parser gives a ratio near 4, a linear one near 2.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const DIGEST: &str = "sha256:3b1d9b5a0cfb7e43f4d5c7e3a1ef1bd2bb7de8c0b0c4f4c36a9d1fc1c0d35b0e";

/// A one-component monorepo whose prompt file is `prompt` (bytes).
fn monorepo(dir: &Path, prompt: &str) {
    std::fs::create_dir_all(dir.join("a/prompts")).unwrap();
    std::fs::write(
        dir.join("bundle.yaml"),
        format!("apiVersion: relbundle.dev/v1\nname: tiny\ncomponents:\n  a:\n    path: a\n    image: registry.example.com/a:1@{DIGEST}\n    prompts:\n      - prompts/*.yaml\n"),
    )
    .unwrap();
    std::fs::write(dir.join("a/prompts/p.yaml"), prompt).unwrap();
}

/// Instructions `bundle check` executes on the monorepo, counted by callgrind.
fn instructions(dir: &Path) -> u64 {
    let out = dir.join("callgrind.out");
    let r = run(Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(env!("CARGO_BIN_EXE_bundle"))
        .args(["check", "--no-git", "--offline", "--version", "1.0.0"])
        .arg(dir)
        .env("RELBUNDLE_CACHE_DIR", dir.join("cache")));
    let line = r.stderr.lines().find(|l| l.contains("Collected :")).unwrap_or_else(|| panic!("valgrind said:\n{}", r.stderr));
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

#[test]
fn parse_work_grows_linearly_with_the_input() {
    let t = tempfile::tempdir().unwrap();
    let head = "id: a.p\nversion: 1.0.0\nvariables: [x]\ntemplate: |\n  {{x}} ";
    // Each shape at size n: a prompt file the parser must get through (or refuse) in linear time.
    type Shape = Box<dyn Fn(usize) -> String>;
    let shapes: Vec<(&str, Shape)> = vec![
        ("unclosed Jinja statements", Box::new(move |n| format!("{head}{}\n", "{%".repeat(n)))),
        ("Jinja statements", Box::new(move |n| format!("{head}{}\n", "{% if x %}".repeat(n / 5)))),
        ("unclosed placeholders", Box::new(move |n| format!("{head}{}\n", "{{".repeat(n)))),
        (
            "flow collections 100 deep, side by side",
            Box::new(|n| {
                format!(
                    "id: a.p\nversion: 1.0.0\ntemplate: x\nx-data: [{}]\n",
                    vec![format!("{}1{}", "[".repeat(100), "]".repeat(100)); n / 200].join(", ")
                )
            }),
        ),
        (
            "flow nesting far past the limit",
            Box::new(|n| format!("id: a.p\nversion: 1.0.0\ntemplate: {}x{}\n", "[".repeat(n), "]".repeat(n))),
        ),
    ];
    for (name, make) in shapes {
        let n = 40_000;
        let counts: Vec<u64> = [n, 2 * n, 4 * n]
            .iter()
            .map(|&size| {
                let dir = t.path().join(format!("{}-{size}", name.replace(' ', "-")));
                monorepo(&dir, &make(size));
                instructions(&dir)
            })
            .collect();
        let (a, b, c) = (counts[0] as f64, counts[1] as f64, counts[2] as f64);
        // From n to 2n, then from 2n to 4n: linear work doubles its increment, quadratic quadruples it.
        let growth = (c - b) / (b - a).max(1.0);
        eprintln!("{name}: {counts:?} instructions; growth {growth:.2}");
        assert!(growth < 3.0, "{name}: work grows super-linearly: {counts:?} instructions for n, 2n, 4n (growth {growth:.2})");
    }
}
