//! Hand-made releases in an OCI layout: edit a built release's record, manifest, index or
//! signatures the way an attacker with write access to the storage could.

use relbundle::oci::{Descriptor, ImageManifest};
use relbundle::signing;
use relbundle::store::Store;
use relbundle::store::layout::Layout;
use std::path::{Path, PathBuf};

pub fn manifest(l: &Layout, tag: &str) -> (Descriptor, ImageManifest) {
    let d = l.resolve(Some(tag)).unwrap();
    let m = ImageManifest::from_bytes(&l.blob(&d).unwrap(), "m").unwrap();
    (d, m)
}

pub fn flip(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let i = b.len() / 2;
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

pub fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

/// Replace the release under tag 1.0.0 with an edited record and/or manifest (not re-signed).
pub fn craft(dir: &Path, edit_record: impl FnOnce(&mut serde_json::Value), edit_manifest: impl FnOnce(&mut ImageManifest)) -> String {
    craft_at(dir, "1.0.0", edit_record, edit_manifest)
}

/// Replace the release under `tag` with an edited record (not re-signed).
pub fn craft_tag(dir: &Path, tag: &str, edit_record: impl FnOnce(&mut serde_json::Value)) -> String {
    craft_at(dir, tag, edit_record, |_| {})
}

fn craft_at(
    dir: &Path,
    tag: &str,
    edit_record: impl FnOnce(&mut serde_json::Value),
    edit_manifest: impl FnOnce(&mut ImageManifest),
) -> String {
    let l = Layout::new(dir.to_path_buf());
    let (_, mut m) = manifest(&l, tag);
    let mut rec: serde_json::Value = serde_json::from_slice(&l.blob(&m.config).unwrap()).unwrap();
    edit_record(&mut rec);
    let rb = serde_json::to_vec(&rec).unwrap();
    let cd = Descriptor::new(relbundle::spec::RECORD_MEDIA_TYPE, &rb);
    l.put_blob(&cd, &rb).unwrap();
    m.config = cd;
    edit_manifest(&mut m);
    let mb = m.to_bytes();
    let mut md = Descriptor::new(relbundle::spec::OCI_MANIFEST, &mb);
    md.artifact_type = Some(relbundle::spec::ARTIFACT_TYPE.into());
    l.put_blob(&md, &mb).unwrap();
    l.tag(tag, &md, true).unwrap();
    md.digest
}

/// Write a `.sig` manifest for `digest` with hand-made layers: (media type, payload, signature).
pub fn put_sigs(dir: &Path, digest: &str, layers: Vec<(&str, Vec<u8>, Option<String>)>) {
    let l = Layout::new(dir.to_path_buf());
    let mut descs = Vec::new();
    for (mt, payload, sig) in layers {
        let mut d = Descriptor::new(mt, &payload);
        if let Some(s) = sig {
            d.annotations = Some([(signing::SIGNATURE_ANNOTATION.to_string(), s)].into());
        }
        l.put_blob(&d, &payload).unwrap();
        descs.push(d);
    }
    let config = signing::sig_config(&descs.iter().map(|d| d.digest.clone()).collect::<Vec<_>>());
    let cd = Descriptor::new(signing::SIG_CONFIG_MEDIA_TYPE, &config);
    l.put_blob(&cd, &config).unwrap();
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(relbundle::spec::OCI_MANIFEST.into()),
        artifact_type: None,
        config: cd,
        layers: descs,
        subject: None,
        annotations: None,
    }
    .to_bytes();
    let md = Descriptor::new(relbundle::spec::OCI_MANIFEST, &m);
    l.put_blob(&md, &m).unwrap();
    l.tag(&signing::sig_tag(digest), &md, true).unwrap();
}

pub fn edit_index(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("index.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
}

/// Drop every index.json entry that is not a tag (the referrers: Sigstore bundles), leaving the
/// legacy `.sig` signatures as the only ones.
pub fn drop_referrers(dir: &Path) {
    edit_index(dir, |v| {
        v["manifests"].as_array_mut().unwrap().retain(|m| m["annotations"]["org.opencontainers.image.ref.name"].is_string())
    });
}

/// Store raw manifest bytes (well-formed or not) under `tag`, as an index entry with the OCI
/// manifest type. Returns the digest.
pub fn put_raw_manifest(dir: &Path, tag: &str, bytes: &[u8]) -> String {
    let l = Layout::new(dir.to_path_buf());
    let d = Descriptor::new(relbundle::spec::OCI_MANIFEST, bytes);
    std::fs::write(blob_path(dir, &d.digest), bytes).unwrap();
    l.tag(tag, &d, true).unwrap();
    d.digest
}

/// Replace layer `i` of the release under `tag` with `bytes` (same title and media type) and tag
/// the result as `new_tag`. Returns the new manifest digest.
pub fn replace_layer(dir: &Path, tag: &str, i: usize, bytes: &[u8], new_tag: &str) -> String {
    let l = Layout::new(dir.to_path_buf());
    let (_, mut m) = manifest(&l, tag);
    let mut ld = Descriptor::new(&m.layers[i].media_type, bytes);
    ld.annotations = m.layers[i].annotations.clone();
    l.put_blob(&ld, bytes).unwrap();
    m.layers[i] = ld;
    let mb = m.to_bytes();
    let mut d = Descriptor::new(relbundle::spec::OCI_MANIFEST, &mb);
    d.artifact_type = Some(relbundle::spec::ARTIFACT_TYPE.into());
    l.put_blob(&d, &mb).unwrap();
    l.tag(new_tag, &d, true).unwrap();
    d.digest
}

/// Sign `digest` in the layout with the key (password `pw`) as `identity`, through the library:
/// a release `bundle sign` would refuse (its content contradicts its record) signed anyway, as an
/// attacker holding a key, or a release signed before the check existed, could have it.
pub fn sign_digest(dir: &Path, digest: &str, key: &Path, identity: &str) {
    let signer = signing::load_private_key(key, b"pw").unwrap();
    signing::attach(&Layout::new(dir.to_path_buf()), digest, identity, &Default::default(), &signer, None).unwrap();
}
