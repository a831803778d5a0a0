//! Names fixed by the artifact format. `spec/artifact.json` is the contract;
//! `tests/spec.rs` checks that these constants match it.

/// `artifactType` of the release manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.relbundle.release.v1";
/// Media type of the config blob, which is the release record.
pub const RECORD_MEDIA_TYPE: &str = "application/vnd.relbundle.release.record.v1+json";
/// Layer: tar+gzip of every prompt file, at its repository-relative path.
pub const PROMPTS_MEDIA_TYPE: &str = "application/vnd.relbundle.prompts.v1.tar+gzip";
/// Layer: tar+gzip of every contract file (and the files their `$ref`s reach).
pub const CONTRACTS_MEDIA_TYPE: &str = "application/vnd.relbundle.contracts.v1.tar+gzip";
/// Layer: tar+gzip of the DVC pointer files: `.dvc`, `dvc.yaml`, `dvc.lock`, and `.dir` listings.
pub const DVC_MEDIA_TYPE: &str = "application/vnd.relbundle.dvc.v1.tar+gzip";
/// Layer: the bundle.yaml file, byte for byte.
pub const BUNDLE_FILE_MEDIA_TYPE: &str = "application/vnd.relbundle.bundlefile.v1+yaml";

/// Layer titles (`org.opencontainers.image.title`), in manifest order.
pub const TITLE_BUNDLE_FILE: &str = "bundle.yaml";
pub const TITLE_PROMPTS: &str = "prompts.tar.gz";
pub const TITLE_CONTRACTS: &str = "contracts.tar.gz";
pub const TITLE_DVC: &str = "dvc.tar.gz";

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Every manifest and index type we read (sent as `Accept` on every manifest request).
pub const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

pub const ANN_TITLE: &str = "org.opencontainers.image.title";
pub const ANN_VERSION: &str = "org.opencontainers.image.version";
pub const ANN_REVISION: &str = "org.opencontainers.image.revision";
pub const ANN_SOURCE: &str = "org.opencontainers.image.source";
pub const ANN_CREATED: &str = "org.opencontainers.image.created";
pub const ANN_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The release name (bundle.yaml `name`).
pub const ANN_RELEASE_NAME: &str = "dev.relbundle.release.name";

/// Version of the release record's own schema (`schemaVersion` field).
pub const RECORD_SCHEMA_VERSION: u32 = 1;

/// Fixed gzip level for reproducible layers.
pub const GZIP_LEVEL: u32 = 6;
/// Mode of every file entry in a layer tar.
pub const TAR_FILE_MODE: u32 = 0o644;
