use crate::cli::Input;
use crate::store::{self, StoreRef, TagOutcome};
use anyhow::Result;

pub fn run(input: &Input, output: Option<&str>, retag: bool, json: bool) -> Result<()> {
    // Parse the output reference before any work, so a typo costs nothing.
    let parsed = output.map(StoreRef::parse).transpose()?;
    let c = crate::collect::collect(&input.dir, &super::options(input))?;
    super::print_notes(&c.notes);
    let out = match parsed {
        Some(r) => r,
        None => StoreRef::parse(&format!("oci:out/{}", c.release.name))?,
    };
    let tag = out
        .tag()
        .map(String::from)
        .unwrap_or_else(|| c.release.version.clone());
    let packed = crate::artifact::pack(&c)?;
    let st = store::open(&out)?;
    // Blobs first, then the manifest, then the tag: a reader never sees a tag without its content.
    for (d, b) in &packed.blobs {
        st.put_blob(d, b)?;
    }
    let mdesc = {
        let mut d = crate::oci::Descriptor::new(crate::spec::OCI_MANIFEST, &packed.manifest);
        d.artifact_type = Some(crate::spec::ARTIFACT_TYPE.to_string());
        d
    };
    st.put_manifest(&mdesc, &packed.manifest)?;
    // Read everything back and check every digest before the tag names it.
    for (d, _) in &packed.blobs {
        st.blob(d)?;
    }
    st.blob(&mdesc)?;
    let outcome = st.tag(&tag, &mdesc, retag)?;
    if let TagOutcome::Moved(old) = &outcome {
        eprintln!(
            "warning: moved tag `{tag}` from {old} to {}: anything that deploys by this tag now gets a different release; deploy by digest",
            packed.digest
        );
    }
    let reference = format!("{}:{tag}@{}", st.describe(), packed.digest);
    if json {
        let v = serde_json::json!({
            "reference": reference,
            "store": st.describe(),
            "tag": tag,
            "digest": packed.digest,
            "name": c.release.name,
            "version": c.release.version,
            "tagUpdate": match outcome { TagOutcome::Created => "created", TagOutcome::Unchanged => "unchanged", TagOutcome::Moved(_) => "moved" },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let note = if outcome == TagOutcome::Unchanged {
            " (unchanged)"
        } else {
            ""
        };
        println!(
            "built {} {}{note}\n{reference}",
            c.release.name, c.release.version
        );
    }
    Ok(())
}
