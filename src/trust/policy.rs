//! The caller's expectations of a release's signatures (sigstore-go calls this the policy).

use super::KeySet;
use crate::store::StoreRef;
use anyhow::{Result, bail};
use std::collections::BTreeMap;

pub struct Policy {
    /// The distinct trusted keys.
    pub keys: KeySet,
    /// How many distinct keys must have signed.
    pub min_signers: usize,
    /// The repositories a signature may name (any one of them).
    pub identities: Vec<String>,
    /// Annotations every accepted signature must carry in its payload's `optional` (cosign `-a`).
    pub annotations: BTreeMap<String, String>,
}

impl Policy {
    /// The policy from the trust flags, for the release named by `r`. The expected identity is
    /// `--identity` (repeatable), else the registry repository of `r`; a layout has no identity
    /// of its own the caller controls, so it needs `--identity`.
    pub fn from_flags(r: &StoreRef, t: &crate::cli::Trust) -> Result<Policy> {
        let keys = KeySet::load(&t.keys)?;
        let n = t.min_signers;
        if n == 0 || n > t.keys.len() {
            bail!("--min-signers {n}: give a number from 1 to the number of --key files ({})", t.keys.len());
        }
        Ok(Policy { keys, min_signers: n, identities: identities(r, &t.identity)?, annotations: annotations(&t.annotations)? })
    }

    /// Whether a signature naming `docker_reference` names one of the expected repositories.
    pub fn identity_matches(&self, docker_reference: &str) -> bool {
        let got = crate::reference::repository_of(docker_reference);
        self.identities.iter().any(|i| crate::reference::repository_of(i) == got)
    }

    /// The expected identities, for messages: `a` or `b`.
    pub fn identity_list(&self) -> String {
        self.identities.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(" or ")
    }
}

/// The identities a signature of `r` may name: those given, else the registry repository.
pub fn identities(r: &StoreRef, given: &[String]) -> Result<Vec<String>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    match r {
        StoreRef::Registry { registry, repository, .. } => Ok(vec![format!("{registry}/{repository}")]),
        StoreRef::Layout { .. } => bail!(
            "`{r}`: a layout cannot vouch for its own name, so name the identity its signatures must carry: \
             --identity NAME (the release name for `build --sign`/`sign` on a layout, or the registry repository it was signed in)"
        ),
    }
}

/// `KEY=VALUE` annotations (`-a`), each key once.
pub fn annotations(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in list {
        let Some((k, v)) = a.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("-a `{a}`: write an annotation as KEY=VALUE");
        };
        if out.insert(k.to_string(), v.to_string()).is_some() {
            bail!("-a {k}: given twice");
        }
    }
    Ok(out)
}
