#![no_main]
// Layer extraction: gzip + tar with every hostile shape, under small limits.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = relbundle::extract::Limits { max_entries: 64, max_file: 1 << 16, max_total: 1 << 20 };
    if let Ok(entries) = relbundle::extract::entries(data, "fuzz", &limits) {
        for (name, bytes) in entries {
            relbundle::paths::check_relative(&name).expect("extract only returns safe names");
            assert!(bytes.len() <= 1 << 16);
        }
    }
    // The same bytes as a tar inside a valid gzip, so the tar parser sees them directly.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    let _ = std::io::Write::write_all(&mut gz, data);
    if let Ok(wrapped) = gz.finish() {
        let _ = relbundle::extract::entries(&wrapped, "fuzz-raw", &limits);
    }
});
