use crate::signing;
use crate::store::registry::Transport;
use crate::store::{self, Opened, StoreRef};
use anyhow::Result;
use std::path::Path;

pub fn keygen(prefix: &str, force: bool, password_file: Option<&Path>) -> Result<()> {
    let key = std::path::PathBuf::from(format!("{prefix}.key"));
    let pw = signing::password(password_file, &key, true)?;
    let (k, p) = signing::keygen(prefix, &pw, force)?;
    println!("wrote {} (private, mode 0600) and {}", k.display(), p.display());
    Ok(())
}

/// The docker-reference a signature names by default.
pub fn default_identity(r: &StoreRef, release_name: &str) -> String {
    match r {
        StoreRef::Registry { registry, repository, tag, .. } => match tag {
            Some(t) => format!("{registry}/{repository}:{t}"),
            None => format!("{registry}/{repository}"),
        },
        StoreRef::Layout { tag, .. } => match tag {
            Some(t) => format!("{release_name}:{t}"),
            None => release_name.to_string(),
        },
    }
}

/// What signing added, per format (None: that format was not asked for).
#[derive(Debug, Default, Clone, Copy)]
pub struct Added {
    pub legacy: Option<bool>,
    pub bundle: Option<bool>,
    /// The transparency-log index of the bundle added with --tlog-upload.
    pub log_index: Option<u64>,
}

impl Added {
    pub fn any(&self) -> bool {
        self.legacy == Some(true) || self.bundle == Some(true)
    }
}

/// Sign the release `desc` in an opened store, in the formats asked for.
pub fn sign_in(
    st: &Opened,
    desc: &crate::oci::Descriptor,
    identity: &str,
    annotations: &std::collections::BTreeMap<String, String>,
    signer: &signing::Signer,
    format: signing::Format,
    tlog: Option<&sigstore_sign::trust_root::SigningConfig>,
) -> Result<Added> {
    let mut added = Added::default();
    if format.legacy() {
        added.legacy = Some(signing::attach(st.store(), &desc.digest, identity, annotations, signer, tlog)?);
    }
    if format.bundle() {
        let b = signing::attach_bundle(st.store(), desc, identity, annotations, signer, tlog)?;
        added.bundle = Some(b.is_some());
        added.log_index = b.flatten();
    }
    Ok(added)
}

/// Open the store of `r`, resolve the release once (what is signed or attested names this digest
/// whatever the tag does later), and refuse one whose layers contradict its record: a signature
/// or attestation vouches for the whole release.
pub fn open_release(r: &StoreRef, t: &Transport, verb: &str) -> Result<(Opened, crate::oci::Descriptor, crate::release::Release)> {
    let st = store::open(r, t)?;
    let desc = store::resolve(st.store(), r)?;
    let (_, record) = crate::artifact::read(st.store(), &desc)?;
    let (integrity, own, _) = crate::verify::check_content(st.store(), &desc)?;
    let failed: Vec<String> = [integrity, own]
        .into_iter()
        .filter(|c| c.status == "fail")
        .flat_map(|c| c.failures.into_iter().map(move |f| format!("{}: {f}", c.name)))
        .collect();
    if !failed.is_empty() {
        return Err(crate::error::finding(format!("refusing to {verb} {}: {}", desc.digest, failed.join("; "))));
    }
    Ok((st, desc, record))
}

/// How to sign: with a key file (and its password file, and the signing config whose Rekor logs
/// the bundle with --tlog-upload), or keylessly.
pub enum How {
    Key(std::path::PathBuf, Option<std::path::PathBuf>, Option<sigstore_sign::trust_root::SigningConfig>),
    Keyless(signing::Keyless),
}

pub fn run(
    reference: &str,
    how: How,
    identity: Option<&str>,
    annotations: &[String],
    format: signing::Format,
    json: bool,
    t: &Transport,
) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let annotations = crate::trust::policy::annotations(annotations)?;
    let signer = match &how {
        How::Key(key, pwf, _) => {
            let pw = signing::password(pwf.as_deref(), key, false)?;
            Some(signing::load_private_key(key, &pw)?)
        }
        How::Keyless(_) if !format.bundle() => anyhow::bail!("--keyless signs in the bundle format; --format legacy is for keys"),
        How::Keyless(_) => None,
    };
    let (st, desc, record) = open_release(&r, t, "sign")?;
    let identity = identity.map(String::from).unwrap_or_else(|| default_identity(&r, &record.name));
    let Some(signer) = signer else {
        let How::Keyless(k) = &how else { unreachable!("a key was loaded above") };
        let s = signing::attach_keyless(st.store(), &desc, &identity, &annotations, k)?;
        st.commit()?;
        if json {
            let v = serde_json::json!({
                "digest": desc.digest, "identity": identity, "added": true,
                "certificate": {"identity": s.identity, "issuer": s.issuer},
                "tlog": {"url": s.rekor_url, "rekorVersion": s.rekor_version, "logIndex": s.log_index},
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            let (san, issuer, repo) = (&s.identity, &s.issuer, signing::repository_of(&identity));
            println!("signed {} as {repo} (bundle, keyless: {san} from {issuer}, logged in {})", desc.digest, s.logged());
        }
        return Ok(());
    };
    let tlog = if let How::Key(_, _, c) = &how { c.as_ref() } else { None };
    let added = sign_in(&st, &desc, &identity, &annotations, &signer, format, tlog)?;
    st.commit()?;
    let place = st.store().describe();
    if json {
        let mut v = serde_json::json!({"digest": desc.digest, "identity": identity, "added": added.any()});
        if let Some(a) = added.legacy {
            v["legacy"] = serde_json::json!({"added": a, "signatureTag": signing::sig_tag(&desc.digest)});
        }
        if let Some(a) = added.bundle {
            v["bundle"] = serde_json::json!({"added": a, "referrersTag": crate::store::referrers::fallback_tag(&desc.digest)});
            if let Some(i) = added.log_index {
                v["bundle"]["logIndex"] = i.into();
            }
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if let Some(a) = added.legacy {
        if a {
            let logged = if tlog.is_some() { ", logged in the transparency log" } else { "" };
            println!("signed {} as {identity} (legacy{logged})\n{place}:{}", desc.digest, signing::sig_tag(&desc.digest));
        } else {
            println!("already signed by this key (legacy): {} as {identity}", desc.digest);
        }
    }
    if let Some(a) = added.bundle {
        if a {
            let logged = added.log_index.map(|i| format!(", logged in the transparency log at index {i}")).unwrap_or_default();
            println!("signed {} as {} (bundle, a referrer of the digest{logged})", desc.digest, signing::repository_of(&identity));
        } else {
            println!("already signed by this key (bundle): {} as {}", desc.digest, signing::repository_of(&identity));
        }
    }
    Ok(())
}
