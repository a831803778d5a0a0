//! A read-through memo over a store, for readers that look at the same signatures and
//! attestations several times (a release policy's requirements and functions, `history --env`):
//! each blob, tag and referrers listing is fetched once. Content-addressed blobs cannot change;
//! tags and listings are remembered for the memo's life, one command's decision. Errors are
//! never remembered. Writes go straight through.

use super::{Store, StoreLock, TagOutcome, referrers::Listed};
use crate::oci::Descriptor;
use anyhow::Result;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

pub struct Memo<'a> {
    inner: &'a dyn Store,
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    tags: Mutex<HashMap<String, Option<Descriptor>>>,
    listed: Mutex<HashMap<String, Vec<Listed>>>,
}

/// A memo's map, usable even after a panic elsewhere (it holds only copies of what was read).
fn held<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'a> Memo<'a> {
    pub fn new(inner: &'a dyn Store) -> Memo<'a> {
        Memo { inner, blobs: Default::default(), tags: Default::default(), listed: Default::default() }
    }

    /// A remembered blob, only when it is as long as the descriptor asked says (the same digest
    /// with another size claim is read from the store, which refuses it).
    fn cached(&self, d: &Descriptor) -> Option<Vec<u8>> {
        held(&self.blobs).get(&d.digest).filter(|b| b.len() as u64 == d.size).cloned()
    }
}

impl Store for Memo<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn resolve(&self, tag: Option<&str>) -> Result<Descriptor> {
        self.inner.resolve(tag)
    }
    fn blob(&self, d: &Descriptor) -> Result<Vec<u8>> {
        if let Some(b) = self.cached(d) {
            return Ok(b);
        }
        let b = self.inner.blob(d)?;
        held(&self.blobs).insert(d.digest.clone(), b.clone());
        Ok(b)
    }
    fn blobs(&self, ds: &[&Descriptor]) -> Vec<Result<Vec<u8>>> {
        let mut found: Vec<Option<Vec<u8>>> = ds.iter().map(|d| self.cached(d)).collect();
        let missing: Vec<&Descriptor> = ds.iter().zip(&found).filter(|(_, c)| c.is_none()).map(|(d, _)| *d).collect();
        let mut fetched = self.inner.blobs(&missing).into_iter();
        ds.iter()
            .zip(found.iter_mut())
            .map(|(d, c)| match c.take() {
                Some(b) => Ok(b),
                None => {
                    let b = fetched.next().expect("one result per blob asked")?;
                    held(&self.blobs).insert(d.digest.clone(), b.clone());
                    Ok(b)
                }
            })
            .collect()
    }
    fn blob_reader(&self, d: &Descriptor) -> Result<Box<dyn std::io::Read + Send + '_>> {
        self.inner.blob_reader(d)
    }
    fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        self.inner.has_blob(d)
    }
    fn has_manifest(&self, digest: &str) -> Result<bool> {
        self.inner.has_manifest(digest)
    }
    fn put_blob(&self, d: &Descriptor, bytes: &[u8]) -> Result<bool> {
        self.inner.put_blob(d, bytes)
    }
    fn put_manifest(&self, d: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.inner.put_manifest(d, bytes)
    }
    fn tag(&self, tag: &str, d: &Descriptor, retag: bool) -> Result<TagOutcome> {
        held(&self.tags).remove(tag);
        self.inner.tag(tag, d, retag)
    }
    fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        self.inner.tags()
    }
    fn tag_names(&self) -> Result<Vec<String>> {
        self.inner.tag_names()
    }
    fn find_tag(&self, tag: &str) -> Result<Option<Descriptor>> {
        if let Some(d) = held(&self.tags).get(tag) {
            return Ok(d.clone());
        }
        let d = self.inner.find_tag(tag)?;
        held(&self.tags).insert(tag.to_string(), d.clone());
        Ok(d)
    }
    fn lock(&self) -> Result<StoreLock<'_>> {
        self.inner.lock()
    }
    fn referrers(&self, digest: &str) -> Result<Vec<Listed>> {
        if let Some(l) = held(&self.listed).get(digest) {
            return Ok(l.clone());
        }
        let l = self.inner.referrers(digest)?;
        held(&self.listed).insert(digest.to_string(), l.clone());
        Ok(l)
    }
    fn add_referrer(&self, subject: &str, referrer: &Descriptor) -> Result<bool> {
        held(&self.listed).remove(subject);
        self.inner.add_referrer(subject, referrer)
    }
    fn resolve_digest(&self, digest: &str) -> Result<Descriptor> {
        self.inner.resolve_digest(digest)
    }
}
