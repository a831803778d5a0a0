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
    /// With --key or --certificate-identity: the signers whose signatures verify for this digest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signers: Vec<String>,
}

/// The stored signatures of a digest, and which trusted signers made a valid one under the policy
/// (the verifier's own check: payload, digest, identity).
fn signatures(st: &dyn crate::store::Store, digest: &str, policy: Option<&crate::trust::Policy>) -> Result<(usize, Vec<String>)> {
    let Some(p) = policy else {
        return Ok((crate::trust::verifier::stored(st, digest)?, Vec::new()));
    };
    let o = crate::trust::verifier::check(st, digest, p)?;
    let labels = o.signers.iter().map(|s| s.label()).collect();
    Ok((o.stored, labels))
}

pub fn run(repository: &str, signers: &crate::cli::Signers, json: bool, t: &Transport) -> Result<()> {
    let r = StoreRef::parse(repository)?;
    if r.tag().is_some() || r.digest().is_some() {
        bail!("`{repository}`: history takes a repository ({}), without a tag or digest", r.base());
    }
    signers.check_named()?;
    let policy = if signers.given() {
        Some(crate::trust::Policy::of_signers(signers, crate::trust::policy::identities(&r, &signers.identity)?)?)
    } else {
        None
    };
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
                let (n, signers) = signatures(st.store(), &d.digest, policy.as_ref())?;
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

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvRow {
    tag: String,
    version: String,
    digest: String,
    /// `REPO@sha256:…`: what to deploy, or roll back to.
    reference: String,
    /// Its latest verified promotion to the environment.
    promoted: String,
    /// Every verified promotion of it to the environment: who and when.
    promotions: Vec<Approval>,
    current: bool,
}

#[derive(serde::Serialize)]
struct Approval {
    approver: String,
    time: String,
}

/// `history --env ENV`: the releases promoted to ENV, oldest first; `--previous`: the reference of
/// the one before the current one.
pub fn run_env(repository: &str, signers: &crate::cli::Signers, env: &str, previous: bool, json: bool, t: &Transport) -> Result<()> {
    use crate::trust::promotion;
    let r = StoreRef::parse(repository)?;
    if r.tag().is_some() || r.digest().is_some() {
        bail!("`{repository}`: history takes a repository ({}), without a tag or digest", r.base());
    }
    signers.check_named()?;
    if !signers.given() {
        bail!("--env {env}: name who may have promoted (--key PUB, or the keyless identity flags); unverified promotions do not count");
    }
    let policy = crate::trust::Policy::of_signers(signers, crate::trust::policy::identities(&r, &signers.identity)?)?;
    let st = store::open(&r, t)?;
    let list = promotion::history(st.store(), &policy, env, None)?;
    let n = list.len();
    let rows: Vec<EnvRow> = list
        .into_iter()
        .enumerate()
        .map(|(i, p)| EnvRow {
            reference: format!("{}@{}", r.base(), p.digest),
            promoted: promotion::rfc3339(&p.time()),
            promotions: p.promotions.iter().map(|x| Approval { approver: x.approver(), time: promotion::rfc3339(&x.time) }).collect(),
            current: i + 1 == n,
            tag: p.tag,
            version: p.version,
            digest: p.digest,
        })
        .collect();
    if previous {
        let Some(prev) = rows.len().checked_sub(2).map(|i| &rows[i]) else {
            return Err(crate::error::finding(format!(
                "{}: {} release(s) promoted to {env} under the given keys; no previous one to roll back to",
                st.store().describe(),
                rows.len()
            )));
        };
        println!("{}", prev.reference);
        return Ok(());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("{}: no release promoted to {env} under the given keys", st.store().describe());
        return Ok(());
    }
    println!("{:<16} {:<12} {:<21} {:<72} PROMOTED BY", "TAG", "VERSION", "PROMOTED", "DIGEST");
    for row in &rows {
        let by: Vec<String> = row.promotions.iter().map(|a| format!("{} at {}", a.approver, a.time)).collect();
        let mark = if row.current { "  (current)" } else { "" };
        println!("{:<16} {:<12} {:<21} {:<72} {}{mark}", row.tag, row.version, row.promoted, row.digest, by.join(", "));
    }
    Ok(())
}
