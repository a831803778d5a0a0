#![no_main]
// `.dvc`, `dvc.lock`, `dvc.yaml` and `.dir` listings (which also round-trip through DVC's
// Python-compatible serialisation).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let p = std::path::Path::new("fuzz.dvc");
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(f) = relbundle::dvc::parse_dvc_file(text, p) {
            for o in &f.outs {
                let _ = o.md5_kind(p);
                let _ = o.checked_md5(p);
            }
        }
        let _ = relbundle::dvc::parse_lock_file(text, p);
        if let Ok(pf) = relbundle::dvc::parse_pipeline_file(text, p) {
            for s in pf.stages.values() {
                let _ = s.uncached();
            }
        }
    }
    if let Ok(mut entries) = relbundle::dvc::parse_dir_listing(data, "fuzz.dir") {
        let (_, bytes) = relbundle::dvc::dir_md5(&mut entries);
        let again = relbundle::dvc::parse_dir_listing(&bytes, "again").expect("our own listing parses");
        assert_eq!(again, entries);
    }
});
