#![no_main]
// cosign simple-signing payloads and `.sig` manifests; identities.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(c) = relbundle::trust::legacy::parse_payload(data) {
        let _ = relbundle::signing::repository_of(&c.docker_reference);
        let _ = relbundle::signing::sig_tag(&c.digest);
    }
    if let Ok(m) = relbundle::oci::ImageManifest::from_bytes(data, "sig") {
        for l in &m.layers {
            let _ = l.annotation(relbundle::signing::SIGNATURE_ANNOTATION);
        }
    }
});
