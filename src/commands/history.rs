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
}

pub fn run(repository: &str, json: bool, t: &Transport) -> Result<()> {
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
            Ok((_, rec)) => rows.push(Row {
                tag,
                version: rec.version,
                digest: d.digest,
                created: rec.created,
                commit: rec.source.commit,
                name: rec.name,
            }),
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
        println!("{:<16} {:<12} {:<20} {:<12} DIGEST", "TAG", "VERSION", "CREATED", "COMMIT");
        for r in &rows {
            let commit = r.commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("-");
            println!("{:<16} {:<12} {:<20} {:<12} {}", r.tag, r.version, r.created, commit, r.digest);
        }
    }
    if foreign > 0 {
        eprintln!("note: {foreign} tag(s) name something that is not a relbundle release");
    }
    Ok(())
}
