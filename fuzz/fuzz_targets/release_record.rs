#![no_main]
// The release record: strict parsing, then canonical form must be stable.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(r) = relbundle::release::Release::from_bytes(data) {
        let _ = relbundle::verify::validate_record(&r);
        let c = r.canonical_bytes();
        let again = relbundle::release::Release::from_bytes(&c).expect("canonical bytes parse");
        assert_eq!(again.canonical_bytes(), c);
    }
});
