//! The release record: the config blob of the artifact. Schema: `spec/release-record.schema.json`.
//!
//! Canonical form (what is hashed and signed): UTF-8 JSON, object keys sorted by byte order, no
//! insignificant whitespace, no trailing newline, integers only, absent optional fields omitted.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Release {
    pub schema_version: u32,
    pub name: String,
    pub version: String,
    pub created: String,
    pub tool: Tool,
    pub source: Source,
    pub build: BuildFlags,
    pub components: Vec<ComponentRecord>,
    /// The release this one was checked against (version discipline).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub previous: Option<PreviousRecord>,
    /// `--allow-breaking REASON`: why the release was built despite error-level findings.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub allow_breaking: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PreviousRecord {
    pub version: String,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tag: Option<String>,
    /// The monorepo folder relative to the git top level ("" when they are the same).
    pub path: String,
    pub dirty: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildFlags {
    pub allow_dirty: bool,
    pub verified_models: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComponentRecord {
    pub name: String,
    pub path: String,
    pub image: ImageRecord,
    pub models: Vec<ModelRecord>,
    pub prompts: Vec<PromptRecord>,
    pub provides: Vec<ProvideRecord>,
    pub consumes: Vec<ConsumeRecord>,
    /// A/B splits of prompt variants: prompt id → variant → percent (bundle.yaml `splits`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub splits: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageRecord {
    pub registry: String,
    pub repository: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tag: Option<String>,
    pub digest: String,
    /// Where the digest came from: `bundle.yaml`, `--image`, `buildx-metadata` or `registry`
    /// (a tag resolved at build time).
    pub from: String,
    /// For an image index: each platform's manifest digest.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platforms: Option<Vec<PlatformRecord>>,
    /// With `build --verify-images`: who signed this image digest in its registry (key
    /// fingerprints or keyless identities), as the policy required.
    #[serde(rename = "signedBy", skip_serializing_if = "Vec::is_empty", default)]
    pub signed_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlatformRecord {
    /// `os/architecture[/variant]`
    pub platform: String,
    pub digest: String,
}

impl ImageRecord {
    /// `REGISTRY/REPOSITORY@DIGEST`.
    pub fn pinned(&self) -> String {
        format!("{}/{}@{}", self.registry, self.repository, self.digest)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelRecord {
    pub name: String,
    /// The output path, relative to the monorepo root.
    pub path: String,
    /// `md5` (DVC 3) or `md5-dos2unix` (DVC 2.x entries).
    pub hash: String,
    pub md5: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nfiles: Option<u64>,
    /// sha256 of the file's bytes (single-file models, with `--verify-models`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    /// `false` for `cache: false` outputs, which DVC never pushes to a remote.
    pub cache: bool,
    pub origin: ModelOrigin,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub artifact: Option<crate::dvc::Artifact>,
    /// The files of a directory model, from its `.dir` listing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub files: Option<Vec<ModelFile>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelOrigin {
    /// The `.dvc` or `dvc.lock` file, relative to the monorepo root.
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<String>,
    /// `dvc import`: the source repository URL; `dvc import-url`: the source URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub import_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub import_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rev_lock: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub relpath: String,
    pub md5: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PromptRecord {
    pub id: String,
    /// The A/B variant (Dotprompt's `NAME.VARIANT.prompt`, our `variant:`); absent for the only one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
    pub version: String,
    /// The file format (`prompty`, `dotprompt`, …); absent for relbundle's own.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub format: Option<String>,
    pub path: String,
    pub sha256: String,
}

impl PromptRecord {
    /// What identifies the prompt in a release: its id, and `@variant` for a variant.
    pub fn key(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}@{v}", self.id),
            None => self.id.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProvideRecord {
    pub api: String,
    pub version: String,
    pub format: String,
    pub contract: String,
    pub sha256: String,
    /// Other repository files its `$ref`s reach.
    pub refs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsumeRecord {
    pub api: String,
    pub requirement: String,
    pub provider: String,
    pub version: String,
    /// The operations the consumer declares it calls (`POST /embed`); absent: all of them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operations: Option<Vec<String>>,
}

impl Release {
    /// The canonical bytes (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // serde_json::Value keeps objects in a BTreeMap, so keys come out sorted.
        let v = serde_json::to_value(self).expect("the record always serialises");
        serde_json::to_vec(&v).expect("a Value always serialises")
    }

    pub fn from_bytes(b: &[u8]) -> anyhow::Result<Release> {
        let r: Release = serde_json::from_slice(b).map_err(|e| anyhow::anyhow!("release record: {e}"))?;
        if r.schema_version != crate::spec::RECORD_SCHEMA_VERSION {
            anyhow::bail!(
                "release record: schemaVersion {} is not supported by this bundle (expects {})",
                r.schema_version,
                crate::spec::RECORD_SCHEMA_VERSION
            );
        }
        Ok(r)
    }
}

/// RFC 3339 UTC with seconds, e.g. `2026-01-02T03:04:05Z`.
pub fn rfc3339(epoch: i64) -> anyhow::Result<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch).map_err(|e| anyhow::anyhow!("timestamp {epoch}: {e}"))?;
    Ok(t.format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))?)
}
