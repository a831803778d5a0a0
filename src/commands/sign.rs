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

/// Sign the release `digest` in an opened store. Returns whether a signature was added.
pub fn sign_in(
    st: &Opened,
    digest: &str,
    identity: &str,
    annotations: &std::collections::BTreeMap<String, String>,
    signer: &signing::Signer,
) -> Result<bool> {
    signing::attach(st.store(), digest, identity, annotations, signer)
}

pub fn run(
    reference: &str,
    key: &Path,
    password_file: Option<&Path>,
    identity: Option<&str>,
    annotations: &[String],
    json: bool,
    t: &Transport,
) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let annotations = crate::trust::policy::annotations(annotations)?;
    let pw = signing::password(password_file, key, false)?;
    let signer = signing::load_private_key(key, &pw)?;
    let st = store::open(&r, t)?;
    // Resolve once; the signature names this digest whatever the tag does later.
    let desc = store::resolve(st.store(), &r)?;
    let (_, record) = crate::artifact::read(st.store(), &desc)?;
    // A signature vouches for the whole release: refuse one whose layers contradict its record.
    let (integrity, own, _) = crate::verify::check_content(st.store(), &desc)?;
    let failed: Vec<String> = [integrity, own]
        .into_iter()
        .filter(|c| c.status == "fail")
        .flat_map(|c| c.failures.into_iter().map(move |f| format!("{}: {f}", c.name)))
        .collect();
    if !failed.is_empty() {
        return Err(crate::error::finding(format!("refusing to sign {}: {}", desc.digest, failed.join("; "))));
    }
    let identity = identity.map(String::from).unwrap_or_else(|| default_identity(&r, &record.name));
    let added = sign_in(&st, &desc.digest, &identity, &annotations, &signer)?;
    if json {
        let v = serde_json::json!({"digest": desc.digest, "identity": identity, "signatureTag": signing::sig_tag(&desc.digest), "added": added});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if added {
        println!("signed {} as {identity}\n{}:{}", desc.digest, st.store().describe(), signing::sig_tag(&desc.digest));
    } else {
        println!("already signed by this key: {} as {identity}", desc.digest);
    }
    Ok(())
}
