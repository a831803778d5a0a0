use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use anyhow::{Result, bail};

#[derive(serde::Serialize)]
struct Row {
    tag: String,
    version: String,
    digest: String,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    name: String,
    /// Signature layers stored for the digest.
    signatures: usize,
    /// With --key: the keys whose signatures verify for this digest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signers: Vec<String>,
}

/// The stored signatures of a digest, and which of `keys` made a valid one (payload naming the digest).
fn signatures(st: &dyn crate::store::Store, digest: &str, keys: &[crate::signing::PublicKey]) -> Result<(usize, Vec<String>)> {
    let Some((_, layers)) = crate::signing::read_signatures(st, digest)? else { return Ok((0, Vec::new())) };
    let mut signers = Vec::new();
    for k in keys {
        let ok = layers.iter().any(|l| {
            l.signature.as_deref().is_some_and(|s| k.verifies(&l.payload, s))
                && crate::signing::parse_payload(&l.payload).is_ok_and(|c| c.digest == digest)
        });
        if ok {
            signers.push(k.name.clone());
        }
    }
    Ok((layers.len(), signers))
}

pub fn run(repository: &str, keys: &[std::path::PathBuf], json: bool, t: &Transport) -> Result<()> {
    let keys = keys.iter().map(|k| crate::signing::load_public_key(k)).collect::<Result<Vec<_>>>()?;
    let r = StoreRef::parse(repository)?;
    if r.tag().is_some() || r.digest().is_some() {
        bail!("`{repository}`: history takes a repository ({}), without a tag or digest", r.base());
    }
    let st = store::open(&r, t)?;
    let mut rows = Vec::new();
    let mut foreign = 0;
    for (tag, d) in st.store().tags()? {
        // cosign signatures and OCI referrer indexes are not releases.
        if tag.starts_with("sha256-") {
            continue;
        }
        match crate::artifact::read(st.store(), &d) {
            Ok((_, rec)) => {
                let (n, signers) = signatures(st.store(), &d.digest, &keys)?;
                rows.push(Row {
                    tag,
                    version: rec.version,
                    digest: d.digest,
                    created: rec.created,
                    commit: rec.source.commit,
                    name: rec.name,
                    signatures: n,
                    signers,
                })
            }
            Err(_) => foreign += 1,
        }
    }
    let ver = |v: &str| semver::Version::parse(v).ok();
    rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| ver(&b.version).cmp(&ver(&a.version))).then_with(|| a.tag.cmp(&b.tag)));
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("{}: no releases", st.store().describe());
    } else {
        println!("{:<16} {:<12} {:<20} {:<12} {:<4} DIGEST", "TAG", "VERSION", "CREATED", "COMMIT", "SIGS");
        for r in &rows {
            let commit = r.commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("-");
            let signers = if r.signers.is_empty() { String::new() } else { format!("  signed by {}", r.signers.join(", ")) };
            println!("{:<16} {:<12} {:<20} {:<12} {:<4} {}{signers}", r.tag, r.version, r.created, commit, r.signatures, r.digest);
        }
    }
    if foreign > 0 {
        eprintln!("note: {foreign} tag(s) name something that is not a relbundle release");
    }
    Ok(())
}
