//! The caller's expectations of a release's signatures (sigstore-go calls this the policy).

use super::KeySet;
use crate::store::StoreRef;
use anyhow::{Result, bail};
use sigstore_verify::trust_root::TrustedRoot;
use std::collections::BTreeMap;
use std::sync::OnceLock;

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
    /// `--trusted-root`, for keyless signatures and transparency-log entries (None: the embedded
    /// public-good root).
    pub trusted_root: Option<std::path::PathBuf>,
    /// The trusted root, read once per policy when a bundle first needs it (or why it cannot be).
    root: OnceLock<std::result::Result<TrustedRoot, String>>,
}

impl Policy {
    /// The policy from the trust flags, for the release named by `r`. The expected identity is
    /// `--identity` (repeatable), else the registry repository of `r`; a layout has no identity
    /// of its own the caller controls, so it needs `--identity`.
    pub fn from_flags(r: &StoreRef, t: &crate::cli::Trust) -> Result<Policy> {
        let s = &t.signers;
        if !s.given() {
            bail!("name who must have signed: --key PUB, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]");
        }
        // The signers first: a bad key file is named before a missing identity.
        let mut p = Policy::of_signers(s, Vec::new())?;
        p.identities = identities(r, &s.identity)?;
        let (n, given) = (t.min_signers, s.keys.len() + p.keyless.len());
        if n == 0 || n > given {
            bail!("--min-signers {n}: give a number from 1 to the number of --key files and keyless identities ({given})");
        }
        p.min_signers = n;
        p.annotations = annotations(&t.annotations)?;
        Ok(p)
    }

    /// The signers named by the flags (keys, keyless identities, their trusted root), any one of
    /// which suffices, for signatures naming one of `identities` (history, diff, the
    /// previous-release baseline, and [`Policy::from_flags`]).
    pub fn of_signers(s: &crate::cli::Signers, identities: Vec<String>) -> Result<Policy> {
        let mut p = Policy::of_keys(KeySet::load(&s.keys)?, identities);
        p.keyless = keyless(s)?;
        p.trusted_root = s.trusted_root.clone();
        Ok(p)
    }

    /// A policy of keys alone (one signer suffices), with nothing else required.
    pub fn of_keys(keys: KeySet, identities: Vec<String>) -> Policy {
        Policy {
            keys,
            min_signers: 1,
            identities,
            annotations: BTreeMap::new(),
            keyless: Vec::new(),
            trusted_root: None,
            root: OnceLock::new(),
        }
    }

    /// The trusted root for keyless signatures and log entries: `--trusted-root`, else the
    /// embedded one; read on first use and kept, so each bundle checked does not read it again.
    pub fn root(&self) -> std::result::Result<&TrustedRoot, String> {
        self.root
            .get_or_init(|| super::sigstore::trusted_root(self.trusted_root.as_deref()).map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(Clone::clone)
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
pub fn keyless(t: &crate::cli::Signers) -> Result<Vec<super::sigstore::Identity>> {
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
