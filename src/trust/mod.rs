//! Trust: which signatures make a release trusted, decided in one place.
//!
//! * [`keys`]: the trusted material (public keys, de-duplicated by key, not by file).
//! * [`policy`]: what the *caller* expects: keys, how many must have signed, the identities
//!   (repositories) a signature may name, required annotations. Nothing the artifact says decides
//!   what it is checked against: for a layout, whose content anyone who can write the folder
//!   controls, the identity must be given (`--identity`).
//! * [`legacy`]: cosign's tag-based signatures (`sha256-<hex>.sig`), read as signed entities.
//! * [`attest`]: attestations (in-toto statements with any predicate) attached and verified with the
//!   same machinery as signatures.
//! * [`bundle`]: the Sigstore bundle format (cosign v3's default): DSSE in-toto statements with the
//!   predicate `https://sigstore.dev/cosign/sign/v1`, stored as OCI 1.1 referrers.
//! * [`referrers`]: the referrers of a digest, from every place they may be listed, each checked.
//! * [`sigstore`]: Sigstore bundles verified offline (keys or keyless identities); [`keyless`]: keyless
//!   signing (OIDC token, Fulcio, Rekor, TSA) and the Rekor upload of key-signed bundles.
//! * [`verifier`]: checks the signed entities stored for a digest against a policy; `verify`,
//!   `pull`, `values`, `history`, `diff` and the previous-release check of `build`/`check` all ask it.

pub mod attest;
pub mod bundle;
pub mod gate;
pub mod keyless;
pub mod keys;
pub mod legacy;
pub mod policy;
pub mod policy_file;
pub mod promotion;
pub mod referrers;
pub mod sigstore;
pub mod verifier;

pub use keys::{KeySet, TrustedKey};
pub use policy::Policy;
pub use verifier::{Outcome, Signer};
