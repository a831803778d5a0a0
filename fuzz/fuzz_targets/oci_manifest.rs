#![no_main]
// OCI image manifests (and their shape as a release) and a layout's index.json.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = relbundle::oci::ImageManifest::from_bytes(data, "fuzz") {
        let b = m.to_bytes();
        let _ = relbundle::oci::ImageManifest::from_bytes(&b, "again").expect("our own manifest parses");
        for l in &m.layers {
            let _ = relbundle::oci::check_claim("fuzz", l);
            let _ = relbundle::oci::check_blob("fuzz", l, data);
        }
        // The release-shape check every command runs before fetching a blob.
        let _ = relbundle::artifact::problems(&m);
    }
    let _ = relbundle::store::layout::parse_index(data, "fuzz");
});
