use crate::store::registry::Transport;
use crate::store::{self, StoreRef};
use crate::trust::attest;
use anyhow::Result;

pub fn run(reference: &str, predicate_type: Option<&str>, trust: &crate::cli::Trust, json: bool, t: &Transport) -> Result<()> {
    let r = StoreRef::parse(reference)?;
    let asked = predicate_type.map(attest::predicate_type_uri).transpose()?;
    let policy = crate::trust::Policy::from_flags(&r, trust)?;
    let st = store::open(&r, t)?;
    let desc = store::resolve(st.store(), &r)?;
    let found = attest::find(st.store(), &desc.digest, &policy, asked.as_deref())?;
    if json {
        let v = serde_json::json!({
            "digest": desc.digest, "predicateType": asked,
            "attestations": found.attestations, "failures": found.failures,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render(&desc.digest, asked.as_deref(), &found));
    }
    if let Some(t) = asked.filter(|_| found.attestations.is_empty()) {
        return Err(crate::error::finding(format!("no attestation of type {t} verifies for {}", desc.digest)));
    }
    Ok(())
}

fn render(digest: &str, asked: Option<&str>, f: &attest::Found) -> String {
    let mut out = format!(
        "{digest}: {} verified attestation(s){}\n",
        f.attestations.len(),
        asked.map(|t| format!(" of type {t}")).unwrap_or_default()
    );
    for a in &f.attestations {
        out += &format!(
            "\n{} — signed by {}, {} format, as {}\n  found: {}\n",
            a.predicate_type,
            a.signer.label(),
            a.signer.format,
            a.signer.identity,
            a.signer.source
        );
        let pretty = serde_json::to_string_pretty(&a.predicate).unwrap_or_default();
        for line in pretty.lines() {
            out += &format!("  {line}\n");
        }
    }
    if !f.failures.is_empty() {
        out += &format!("\nnot verified ({}):\n", f.failures.len());
        for w in &f.failures {
            out += &format!("  - {w}\n");
        }
    }
    out
}
