use super::sign::{How, open_release};
use crate::signing;
use crate::store::StoreRef;
use crate::store::registry::Transport;
use crate::trust::attest::{self, SignWith};
use anyhow::{Context, Result, bail};
use std::path::Path;

/// What to attest: the predicate (a JSON object) and its type (a URI or cosign's name for one).
pub struct Claim<'a> {
    pub predicate: &'a Path,
    pub predicate_type: &'a str,
}

/// Read a predicate file: a JSON object, at most [`attest::MAX_ATTESTATION`] bytes; `-` is stdin.
pub fn read_predicate(path: &Path) -> Result<serde_json::Value> {
    let what = format!("--predicate {}", path.display());
    let mut bytes = Vec::new();
    let reader: Box<dyn std::io::Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("{what}: cannot read"))?)
    };
    std::io::Read::read_to_end(&mut std::io::Read::take(reader, attest::MAX_ATTESTATION + 1), &mut bytes)
        .with_context(|| format!("{what}: cannot read"))?;
    if bytes.len() as u64 > attest::MAX_ATTESTATION {
        bail!("{what}: over the {} MiB limit of a predicate", attest::MAX_ATTESTATION >> 20);
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| format!("{what}: not JSON"))?;
    if !v.is_object() {
        bail!("{what}: an in-toto predicate is a JSON object ({{…}}); wrap other values in one");
    }
    Ok(v)
}

pub fn run(
    reference: &str,
    claim: &Claim,
    how: How,
    identity: Option<&str>,
    format: signing::Format,
    json: bool,
    t: &Transport,
) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let predicate_type = attest::predicate_type_uri(claim.predicate_type)?;
    let predicate = read_predicate(claim.predicate)?;
    let signer = match &how {
        How::Key(key, pwf, _) => Some(signing::load_private_key(key, &signing::password(pwf.as_deref(), key, false)?)?),
        How::Keyless(_) if !format.bundle() => bail!("--keyless attests in the bundle format; --format legacy is for keys"),
        How::Keyless(_) => None,
    };
    let (st, desc, record) = open_release(&r, t, "attest")?;
    let identity = identity.map(String::from).unwrap_or_else(|| super::sign::default_identity(&r, &record.name));
    let with = match (&signer, &how) {
        (Some(s), How::Key(_, _, tlog)) => SignWith::Key(s, tlog.as_ref()),
        (Some(_), How::Keyless(_)) => unreachable!("a key is loaded only for --key"),
        (None, How::Keyless(k)) => SignWith::Keyless(k),
        (None, How::Key(..)) => unreachable!("a key was loaded above"),
    };
    let a = attest::attach(st.store(), &desc, &identity, &predicate_type, &predicate, with, format)?;
    st.commit()?;
    let repository = signing::repository_of(&identity);
    if json {
        let mut v = serde_json::json!({
            "digest": desc.digest, "identity": repository, "predicateType": predicate_type,
            "statementDigest": a.statement_digest, "added": a.bundle == Some(true) || a.legacy == Some(true),
        });
        if let Some(b) = a.bundle {
            v["bundle"] = serde_json::json!({"added": b, "referrersTag": crate::store::referrers::fallback_tag(&desc.digest)});
            if let Some(i) = a.bundle_log_index {
                v["bundle"]["logIndex"] = i.into();
            }
        }
        if let Some(l) = a.legacy {
            v["legacy"] = serde_json::json!({"added": l, "attestationTag": attest::att_tag(&desc.digest)});
            if let Some(i) = a.legacy_log_index {
                v["legacy"]["logIndex"] = i.into();
            }
        }
        if let Some((san, issuer)) = &a.keyless {
            v["certificate"] = serde_json::json!({"identity": san, "issuer": issuer});
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let by = a.keyless.as_ref().map(|(san, issuer)| format!(", keyless: {san} from {issuer}")).unwrap_or_default();
    for (format, added, index) in [("bundle", a.bundle, a.bundle_log_index), ("legacy", a.legacy, a.legacy_log_index)] {
        let logged = index.map(|i| format!(", logged in the transparency log at index {i}")).unwrap_or_default();
        match added {
            Some(true) => println!("attested {} as {repository}: {predicate_type} ({format}{by}{logged})", desc.digest),
            Some(false) => println!("already attested by this key ({format}): {} as {repository}: {predicate_type}", desc.digest),
            None => {}
        }
    }
    if a.legacy == Some(true) {
        println!("{}:{}", st.store().describe(), attest::att_tag(&desc.digest));
    }
    Ok(())
}
