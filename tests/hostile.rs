//! Hostile layers: a release whose prompts layer holds each unsafe tar shape (traversal, absolute
//! paths, links, devices, `.` names, oversize and duplicate entries). `bundle pull` must refuse
//! every one with exit 2 and write nothing — from a layout and through a real registry.

mod common;
use common::registry::Registry;
use common::*;
use std::io::Write;

struct Entry {
    name: &'static [u8],
    kind: tar::EntryType,
    data: &'static [u8],
    link: &'static [u8],
    /// Claimed size, when it should differ from the data (an oversize claim).
    size: Option<u64>,
}

fn e(name: &'static [u8], kind: tar::EntryType, data: &'static [u8], link: &'static [u8]) -> Entry {
    Entry { name, kind, data, link, size: None }
}

/// A tar.gz written header by header, so names the tar crate would refuse get through.
fn raw_tar_gz(entries: &[Entry]) -> Vec<u8> {
    let mut tar = Vec::new();
    for en in entries {
        let mut h = tar::Header::new_gnu();
        {
            let g = h.as_gnu_mut().unwrap();
            g.name[..en.name.len()].copy_from_slice(en.name);
            g.linkname[..en.link.len()].copy_from_slice(en.link);
        }
        h.set_entry_type(en.kind);
        h.set_size(en.size.unwrap_or(en.data.len() as u64));
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        tar.extend_from_slice(en.data);
        let pad = (512 - en.data.len() % 512) % 512;
        tar.extend(std::iter::repeat_n(0u8, pad));
    }
    tar.extend([0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn pull_refuses_every_hostile_tar_shape() {
    use tar::EntryType as T;
    let ok_file: &[u8] = b"id: x\n";
    let shapes: Vec<(&str, Vec<Entry>, &str)> = vec![
        ("parent traversal", vec![e(b"../evil.yaml", T::Regular, ok_file, b"")], "`..`"),
        ("nested traversal", vec![e(b"components/../../evil", T::Regular, ok_file, b"")], "`..`"),
        ("absolute path", vec![e(b"/tmp/evil", T::Regular, ok_file, b"")], "absolute"),
        ("dot name", vec![e(b"./components/x.yaml", T::Regular, ok_file, b"")], "`.`"),
        ("dot-dot name", vec![e(b"..", T::Regular, ok_file, b"")], "`..`"),
        ("symlink", vec![e(b"components/link", T::Symlink, b"", b"/etc/passwd")], "a symlink"),
        ("hard link", vec![e(b"components/hard", T::Link, b"", b"../../etc/passwd")], "a hard link"),
        ("char device", vec![e(b"components/dev", T::Char, b"", b"")], "a device"),
        ("block device", vec![e(b"components/blk", T::Block, b"", b"")], "a device"),
        ("fifo", vec![e(b"components/fifo", T::Fifo, b"", b"")], "a FIFO"),
        ("directory entry", vec![e(b"components/", T::Directory, b"", b"")], "a directory entry"),
        (
            "duplicate entry",
            vec![e(b"components/a.yaml", T::Regular, ok_file, b""), e(b"components/a.yaml", T::Regular, b"id: y\n", b"")],
            "appears twice",
        ),
        (
            "oversize claim",
            vec![Entry { name: b"components/big.bin", kind: T::Regular, data: b"", link: b"", size: Some(1 << 40) }],
            "over the",
        ),
    ];
    let t = tempfile::tempdir().unwrap();
    let reg = Registry::plain(&t.path().join("reg"));
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let layout_dir = t.path().join("layout");
    let r = run(bundle(t.path())
        .args(["build", "--version", "1.0.0", "--output", &format!("oci:{}", layout_dir.display())])
        .arg(repo.join("docproc")))
    .ok();
    let good = built_digest(&r.stdout);
    let (md, _) = common::craft::manifest(&relbundle::store::layout::Layout::new(layout_dir.clone()), "1.0.0");
    assert_eq!(md.digest, good);

    for (i, (name, entries, expect)) in shapes.iter().enumerate() {
        // The same release, with its prompts layer replaced by the hostile one.
        let tag = format!("hostile{i}");
        common::craft::replace_layer(&layout_dir, "1.0.0", 1, &raw_tar_gz(entries), &tag);
        let remote = format!("{}/acme/hostile:{tag}", reg.addr);
        run(bundle(t.path()).args(["push", &format!("oci:{}:{tag}", layout_dir.display()), &remote])).ok();

        for src in [format!("oci:{}:{tag}", layout_dir.display()), remote] {
            let out = t.path().join(format!("out{i}"));
            let r = run(bundle(t.path()).args(["pull", &src, "-o", out.to_str().unwrap()])).code(2);
            assert!(r.stderr.contains(expect), "{name} from {src}: stderr lacks {expect:?}:\n{}", r.stderr);
            assert!(!out.exists(), "{name}: pull created {} although it refused the release", out.display());
            assert!(!t.path().join("evil.yaml").exists() && !std::path::Path::new("/tmp/evil").exists());
        }
    }
    // The honest release still pulls.
    run(bundle(t.path()).args(["pull", &format!("oci:{}:1.0.0", layout_dir.display()), "-o", t.path().join("good").to_str().unwrap()]))
        .ok();
}

#[test]
fn pull_never_writes_through_a_symlink_in_the_output() {
    let t = tempfile::tempdir().unwrap();
    let repo = fixture_repo(t.path(), &["docproc", "dvc-remote"]);
    let layout = format!("oci:{}", t.path().join("l").display());
    run(bundle(t.path()).args(["build", "--version", "1.0.0", "--output", &layout]).arg(repo.join("docproc"))).ok();
    let out = t.path().join("out");
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("components")).unwrap();
    // A folder that holds anything (here a symlink out of it) is refused without --force...
    let r = run(bundle(t.path()).args(["pull", &layout, "-o", out.to_str().unwrap(), "--only", "prompts"])).code(2);
    assert!(r.stderr.contains("not empty") && r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "pull wrote through a symlink");
    // ...and with --force replaced whole: the symlink is gone, nothing was written through it.
    run(bundle(t.path()).args(["pull", &layout, "-o", out.to_str().unwrap(), "--only", "prompts", "--force"])).ok();
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "pull wrote through a symlink");
    assert!(!std::fs::symlink_metadata(out.join("components")).unwrap().file_type().is_symlink());
    // The output folder itself may not be a symlink.
    let link = t.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let r = run(bundle(t.path()).args(["pull", &layout, "-o", link.to_str().unwrap(), "--force"])).code(2);
    assert!(r.stderr.contains("not a folder"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "pull wrote through a symlink");
}
