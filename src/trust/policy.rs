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
    /// Keyless signers the caller trusts (certificate SAN, OIDC issuer, Fulcio claims).
    pub keyless: Vec<super::sigstore::Identity>,
    /// `--trusted-root`, for keyless signatures (None: the embedded public-good root).
    pub trusted_root: Option<std::path::PathBuf>,
}

impl Policy {
    /// The policy from the trust flags, for the release named by `r`. The expected identity is
    /// `--identity` (repeatable), else the registry repository of `r`; a layout has no identity
    /// of its own the caller controls, so it needs `--identity`.
    pub fn from_flags(r: &StoreRef, t: &crate::cli::Trust) -> Result<Policy> {
        let keys = KeySet::load(&t.keys)?;
        let keyless = keyless(t)?;
        let n = t.min_signers;
        let given = t.keys.len() + keyless.len();
        if given == 0 {
            bail!("name who must have signed: --key PUB, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]");
        }
        if n == 0 || n > given {
            bail!("--min-signers {n}: give a number from 1 to the number of --key files and keyless identities ({given})");
        }
        Ok(Policy {
            keys,
            min_signers: n,
            identities: identities(r, &t.identity)?,
            annotations: annotations(&t.annotations)?,
            keyless,
            trusted_root: t.trusted_root.clone(),
        })
    }

    /// A policy of keys alone (history, diff, the previous-release baseline).
    pub fn of_keys(keys: KeySet, identities: Vec<String>) -> Policy {
        Policy { keys, min_signers: 1, identities, annotations: BTreeMap::new(), keyless: Vec::new(), trusted_root: None }
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

/// The keyless signers from the flags: each SAN (exact or regexp) with the issuer at the same
/// position (or the only issuer given), and the claims every one of them must carry.
pub fn keyless(t: &crate::cli::Trust) -> Result<Vec<super::sigstore::Identity>> {
    use super::sigstore::{CLAIMS, Identity, Text};
    let mut sans: Vec<Text> = t.certificate_identity.iter().map(|s| Text::Exact(s.clone())).collect();
    for r in &t.certificate_identity_regexp {
        sans.push(Text::regex(r, "--certificate-identity-regexp")?);
    }
    let mut issuers: Vec<Text> = t.certificate_oidc_issuer.iter().map(|s| Text::Exact(s.clone())).collect();
    for r in &t.certificate_oidc_issuer_regexp {
        issuers.push(Text::regex(r, "--certificate-oidc-issuer-regexp")?);
    }
    if sans.is_empty() && issuers.is_empty() {
        if !t.certificate_claims.is_empty() {
            bail!("--certificate-claim needs --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]");
        }
        return Ok(Vec::new());
    }
    if sans.is_empty() || issuers.is_empty() || (issuers.len() != 1 && issuers.len() != sans.len()) {
        bail!(
            "give each --certificate-identity[-regexp] an issuer: one --certificate-oidc-issuer[-regexp] for all, or one per identity in the same order ({} identities, {} issuers)",
            sans.len(),
            issuers.len()
        );
    }
    let mut claims = Vec::new();
    for c in &t.certificate_claims {
        let Some((name, value)) = c.split_once('=') else { bail!("--certificate-claim `{c}`: write NAME=REGEX") };
        if !CLAIMS.contains(&name) {
            bail!("--certificate-claim {name}: not a Fulcio claim we check (one of {})", CLAIMS.join(", "));
        }
        claims.push((name.to_string(), Text::regex(value, "--certificate-claim")?));
    }
    Ok(sans
        .into_iter()
        .enumerate()
        .map(|(i, san)| Identity { san, issuer: issuers[if issuers.len() == 1 { 0 } else { i }].clone(), claims: claims.clone() })
        .collect())
}
