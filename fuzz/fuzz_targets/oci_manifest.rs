#![no_main]
// OCI image manifests and a layout's index.json.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = relbundle::oci::ImageManifest::from_bytes(data, "fuzz") {
        let b = m.to_bytes();
        let _ = relbundle::oci::ImageManifest::from_bytes(&b, "again").expect("our own manifest parses");
        for l in &m.layers {
            let _ = relbundle::oci::check_blob("fuzz", l, data);
        }
    }
    let _ = relbundle::store::layout::parse_index(data, "fuzz");
});
