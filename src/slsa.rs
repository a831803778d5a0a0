//! The SLSA predicates relbundle writes (spec/attestations.md): build provenance v1 for a release
//! (`build --provenance`) and a verification summary (VSA) after a passing `verify
//! --attest-result`. Both are plain functions of the release record, the flags and the
//! environment (`env` reads it; `std::env::var` in the CLI), so a test can give any CI.
//!
//! Provenance is reproducible: the same commit and flags give the same bytes, apart from what the
//! CI variables say (builder id, invocation id). It holds no timestamp.

use crate::release::Release;
use serde_json::{Value, json};

/// SLSA provenance v1.
pub const PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// SLSA verification summary v1.
pub const VSA_V1: &str = "https://slsa.dev/verification_summary/v1";
/// Our buildType: what `externalParameters` and `resolvedDependencies` mean (spec/attestations.md).
pub const BUILD_TYPE: &str = "https://relbundle.dev/build/v1";
/// The builder id outside GitLab CI and GitHub Actions.
pub const LOCAL_BUILDER: &str = "https://relbundle.dev/builder/local/v1";
/// The verifier id of our VSAs.
pub const VERIFIER: &str = "https://relbundle.dev/verifier/v1";
/// The policy URI of a verify by trust flags (what is checked: spec/attestations.md).
pub const VERIFY_POLICY: &str = "https://relbundle.dev/verify/v1";
/// The policy URI of a verify by a release policy file (`--policy FILE --env ENV`): this, with
/// `#ENV`; the digest is the file's.
pub const POLICY_FILE: &str = "https://relbundle.dev/policy/v1";

/// The CI a build or verify runs in, read from its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ci {
    /// `gitlab-ci`, `github-actions` or `local`.
    pub kind: &'static str,
    pub builder_id: String,
    pub invocation_id: Option<String>,
    /// The git ref the CI built (`refs/tags/v1`, `refs/heads/main`).
    pub git_ref: Option<String>,
}

/// The CI from its variables: GitLab CI (`GITLAB_CI`/`CI_SERVER_URL`), GitHub Actions
/// (`GITHUB_ACTIONS`), else local. The builder id is the CI configuration at its ref, as the
/// keyless certificate's SAN names it; the invocation is the job (GitLab) or run attempt (GitHub).
pub fn ci(env: &dyn Fn(&str) -> Option<String>) -> Ci {
    let v = |k: &str| env(k).filter(|s| !s.is_empty());
    if let (Some(server), Some(project)) = (v("CI_SERVER_URL"), v("CI_PROJECT_PATH")) {
        let git_ref = match (v("CI_COMMIT_TAG"), v("CI_COMMIT_REF_NAME")) {
            (Some(t), _) => Some(format!("refs/tags/{t}")),
            (None, Some(b)) => Some(format!("refs/heads/{b}")),
            _ => None,
        };
        let config = v("CI_CONFIG_PATH").unwrap_or_else(|| ".gitlab-ci.yml".into());
        let builder_id = match &git_ref {
            Some(r) => format!("{server}/{project}//{config}@{r}"),
            None => format!("{server}/{project}//{config}"),
        };
        let invocation_id = v("CI_JOB_URL")
            .or_else(|| v("CI_PIPELINE_URL"))
            .or_else(|| v("CI_PIPELINE_ID").map(|id| format!("{server}/{project}/-/pipelines/{id}")));
        return Ci { kind: "gitlab-ci", builder_id, invocation_id, git_ref };
    }
    if let (Some(server), Some(repo)) = (v("GITHUB_SERVER_URL"), v("GITHUB_REPOSITORY")) {
        let builder_id = match v("GITHUB_WORKFLOW_REF") {
            Some(w) => format!("{server}/{w}"),
            None => format!("{server}/{repo}"),
        };
        let invocation_id = v("GITHUB_RUN_ID")
            .map(|id| format!("{server}/{repo}/actions/runs/{id}/attempts/{}", v("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into())));
        return Ci { kind: "github-actions", builder_id, invocation_id, git_ref: v("GITHUB_REF") };
    }
    Ci { kind: "local", builder_id: LOCAL_BUILDER.into(), invocation_id: None, git_ref: None }
}

/// Whether a build signing in CI attests provenance by default: `CI=true` (GitLab, GitHub and
/// most CIs set it).
pub fn in_ci(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("CI").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

/// SLSA provenance v1 for a release: `record` is what was built, `ci` where.
pub fn provenance(record: &Release, ci: &Ci) -> Value {
    let git_ref = record.source.tag.as_ref().map(|t| format!("refs/tags/{t}")).or_else(|| ci.git_ref.clone());
    let mut source = json!({"path": record.source.path, "dirty": record.source.dirty});
    if let Some(r) = &record.source.repository {
        source["repository"] = json!(r);
    }
    if let Some(r) = &git_ref {
        source["ref"] = json!(r);
    }
    let mut flags = json!({"allowDirty": record.build.allow_dirty, "verifyModels": record.build.verified_models});
    if let Some(reason) = &record.allow_breaking {
        flags["allowBreaking"] = json!(reason);
    }
    let mut run = json!({"builder": {"id": ci.builder_id, "version": {"relbundle": record.tool.version}}});
    if let Some(id) = &ci.invocation_id {
        run["metadata"] = json!({"invocationId": id});
    }
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {"name": record.name, "version": record.version, "flags": flags, "source": source},
            "internalParameters": {"ci": ci.kind},
            "resolvedDependencies": dependencies(record, git_ref.as_deref()),
        },
        "runDetails": run,
    })
}

/// The source commit, then per component its image, models, prompts and contracts.
fn dependencies(r: &Release, git_ref: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(commit) = &r.source.commit {
        let mut d = json!({"name": "source", "digest": {"gitCommit": commit}});
        if let Some(repo) = &r.source.repository {
            d["uri"] = json!(format!("git+{repo}{}", git_ref.map(|g| format!("@{g}")).unwrap_or_default()));
        }
        out.push(d);
    }
    for c in &r.components {
        let i = &c.image;
        out.push(json!({
            "name": format!("{}/image", c.name),
            "uri": format!("oci://{}/{}@{}", i.registry, i.repository, i.digest),
            "digest": {"sha256": hex(&i.digest)},
        }));
        for m in &c.models {
            let md5 = m.md5.strip_suffix(".dir").unwrap_or(&m.md5);
            let mut digest = json!({"md5": md5});
            if let Some(s) = &m.sha256 {
                digest["sha256"] = json!(hex(s));
            }
            let annotations = json!({"path": m.path, "dvcHash": m.hash, "directory": m.md5.ends_with(".dir"), "size": m.size});
            out.push(json!({"name": format!("{}/models/{}", c.name, m.name), "digest": digest, "annotations": annotations}));
        }
        for p in &c.prompts {
            let id = p.variant.as_ref().map(|v| format!("{}.{v}", p.id)).unwrap_or_else(|| p.id.clone());
            out.push(json!({
                "name": format!("{}/prompts/{id}@{}", c.name, p.version),
                "digest": {"sha256": hex(&p.sha256)},
                "annotations": {"path": p.path},
            }));
        }
        for a in &c.provides {
            out.push(json!({
                "name": format!("{}/contracts/{}@{}", c.name, a.api, a.version),
                "digest": {"sha256": hex(&a.sha256)},
                "annotations": {"path": a.contract, "format": a.format},
            }));
        }
    }
    out
}

/// A URI for a manifest or blob by digest in a store: `oci://REGISTRY/REPO@sha256:…` for a
/// registry (as provenance names images), `oci:DIR@sha256:…` for a layout (relbundle's reference).
pub fn resource_uri(r: &crate::store::StoreRef, digest: &str) -> String {
    match r {
        crate::store::StoreRef::Registry { registry, repository, .. } => format!("oci://{registry}/{repository}@{digest}"),
        crate::store::StoreRef::Layout { .. } => r.pinned(digest).to_string(),
    }
}

/// What a verification summary says was checked.
pub struct Summary<'a> {
    /// The release verified, pinned by digest ([`resource_uri`]).
    pub resource_uri: String,
    /// The policy: its URI and the sha256 (hex) of what it was (a policy file's bytes, or the
    /// canonical description of the trust flags).
    pub policy_uri: String,
    pub policy_sha256: String,
    /// The signatures and attestations the verification relied on: (URI, sha256) of each one's
    /// signed blob (bundle JSON, DSSE envelope, legacy payload).
    pub inputs: &'a [(String, String)],
    /// SLSA levels verified (`SLSA_BUILD_LEVEL_1` when a trusted provenance was found).
    pub levels: &'a [String],
    /// RFC 3339 UTC.
    pub time_verified: String,
}

/// An SLSA verification summary v1 with result PASSED (never written for a failure).
pub fn vsa(s: &Summary) -> Value {
    let inputs: Vec<Value> = s.inputs.iter().map(|(uri, d)| json!({"uri": uri, "digest": {"sha256": hex(d)}})).collect();
    json!({
        "verifier": {"id": VERIFIER, "version": {"relbundle": env!("CARGO_PKG_VERSION")}},
        "timeVerified": s.time_verified,
        "resourceUri": s.resource_uri,
        "policy": {"uri": s.policy_uri, "digest": {"sha256": hex(&s.policy_sha256)}},
        "inputAttestations": inputs,
        "verificationResult": "PASSED",
        "verifiedLevels": s.levels,
        "slsaVersion": "1.0",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn gitlab_and_github_builders() {
        let g = ci(&env(&[
            ("CI_SERVER_URL", "https://gitlab.com"),
            ("CI_PROJECT_PATH", "acme/docproc"),
            ("CI_COMMIT_TAG", "v1.4.0"),
            ("CI_COMMIT_REF_NAME", "v1.4.0"),
            ("CI_JOB_URL", "https://gitlab.com/acme/docproc/-/jobs/42"),
        ]));
        assert_eq!(g.builder_id, "https://gitlab.com/acme/docproc//.gitlab-ci.yml@refs/tags/v1.4.0");
        assert_eq!(g.invocation_id.as_deref(), Some("https://gitlab.com/acme/docproc/-/jobs/42"));
        let h = ci(&env(&[
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/docproc"),
            ("GITHUB_WORKFLOW_REF", "acme/docproc/.github/workflows/release.yml@refs/tags/v1"),
            ("GITHUB_RUN_ID", "7"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_REF", "refs/tags/v1"),
        ]));
        assert_eq!(h.builder_id, "https://github.com/acme/docproc/.github/workflows/release.yml@refs/tags/v1");
        assert_eq!(h.invocation_id.as_deref(), Some("https://github.com/acme/docproc/actions/runs/7/attempts/2"));
        let l = ci(&env(&[]));
        assert_eq!((l.kind, l.builder_id.as_str(), l.invocation_id), ("local", LOCAL_BUILDER, None));
        assert!(in_ci(&env(&[("CI", "true")])) && !in_ci(&env(&[])));
    }
}
