//! The OCI 1.1 referrers of a digest, found in every place a writer may have listed them — the
//! store's own listing (a registry's referrers API, a layout's index.json) and the referrers tag
//! `sha256-<hex>` — and checked: each listed manifest is fetched (digest-checked) and kept only
//! when it is an image manifest whose `subject` is the digest. A listing's own claims
//! (`artifactType`, annotations) are never trusted: ghcr lists bundles as the empty type, and
//! GitLab resolves the referrers tag to the subject itself.

use crate::oci::{Descriptor, ImageManifest};
use crate::spec::OCI_MANIFEST;
use crate::store::Store;
use crate::store::referrers::{Listed, fallback_listing};
use anyhow::Result;

/// A referrer manifest whose `subject` is the digest, and where it was listed.
#[derive(Debug, Clone)]
pub struct Referrer {
    pub desc: Descriptor,
    pub manifest: ImageManifest,
    pub place: String,
}

/// The checked referrers, and why listed entries were not taken (for reports).
#[derive(Debug, Default)]
pub struct Found {
    pub referrers: Vec<Referrer>,
    pub notes: Vec<String>,
}

/// Listed manifests fetched at once (one thread each).
const CHECK_AT_ONCE: usize = 8;

/// Every referrer of `digest` in `st`, each listed manifest checked once.
pub fn find(st: &dyn Store, digest: &str) -> Result<Found> {
    let mut found = Found::default();
    // Both places at once; the store's own listing is taken first.
    let (own, fallback) = std::thread::scope(|sc| {
        let fallback = sc.spawn(|| fallback_listing(st, digest));
        let own = st.referrers(digest);
        (own, fallback.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let mut listed: Vec<Listed> = own?;
    if let Some(l) = crate::error::content(fallback, &mut found.notes)? {
        listed.extend(l);
    }
    // The same manifest listed twice (in two places, or twice in one) is one referrer.
    let mut seen: Vec<String> = Vec::new();
    listed.retain(|l| {
        let new = !seen.contains(&l.desc.digest);
        seen.push(l.desc.digest.clone());
        new
    });
    // Each listed manifest is fetched and checked; up to CHECK_AT_ONCE at a time, taken in order.
    for group in listed.chunks(CHECK_AT_ONCE) {
        let checked: Vec<Result<Referrer>> = std::thread::scope(|sc| {
            let handles: Vec<_> = group.iter().skip(1).map(|l| sc.spawn(move || check_one(st, digest, l))).collect();
            let first = group.first().map(|l| check_one(st, digest, l));
            first.into_iter().chain(handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))).collect()
        });
        for c in checked {
            if let Some(r) = crate::error::content(c, &mut found.notes)? {
                found.referrers.push(r);
            }
        }
    }
    Ok(found)
}

fn check_one(st: &dyn Store, digest: &str, l: &Listed) -> Result<Referrer> {
    let what = format!("{}: referrer {}", l.place, l.desc.digest);
    if l.desc.media_type != OCI_MANIFEST {
        return Err(crate::error::finding(format!("{what} is a {}, not an image manifest; ignored", l.desc.media_type)));
    }
    if !crate::images::is_sha256_digest(&l.desc.digest) {
        return Err(crate::error::finding(format!("{what}: not a sha256 digest; ignored")));
    }
    let bytes = st.blob(&l.desc)?;
    let manifest = ImageManifest::from_bytes(&bytes, &what).map_err(|e| crate::error::finding(format!("{e:#}; ignored")))?;
    match &manifest.subject {
        None => Err(crate::error::finding(format!("{what} has no subject; ignored"))),
        Some(s) if s.digest != digest => Err(crate::error::finding(format!("{what} refers to {}, not {digest}; ignored", s.digest))),
        Some(_) => Ok(Referrer { desc: l.desc.clone(), manifest, place: l.place.clone() }),
    }
}
