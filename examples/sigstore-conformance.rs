//! The sigstore-conformance client for verification, calling the verifier `bundle verify` uses:
//!   cargo build --release --example sigstore-conformance
//!   target/release/examples/sigstore-conformance verify-bundle --bundle B --key K.pub sha256:…
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(relbundle::trust::sigstore::conformance_main(&args));
}
