//! Command-line definitions. The doc comments are the help text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Immutable, signed, reproducible releases of multi-component AI systems.
///
/// One release pins every component's image digest, DVC model hashes, prompt template versions and
/// API contracts in one OCI artifact.
///
/// Exit codes: 0 success; 1 a check or verification found something; 2 usage or input error.
#[derive(Parser, Debug)]
#[command(name = "bundle", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

/// The command line, with the registry flags hidden from the help of the commands that never
/// contact a registry (init, keygen, completions). The flags are global, so they are still
/// accepted there.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut c = Cli::command();
    c.build();
    for name in ["init", "keygen", "completions"] {
        c = c.mut_subcommand(name, |sc| {
            ["insecure_registry", "ca_file", "username", "password_stdin"].iter().fold(sc, |sc, a| sc.mut_arg(*a, |x| x.hide(true)))
        });
    }
    c
}

/// Which signatures make a release trusted (verify, values, pull).
#[derive(Args, Debug, Clone, Default)]
pub struct Trust {
    #[command(flatten)]
    pub signers: Signers,
    /// How many of the given signers (distinct keys and keyless identities) must have signed.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_signers: usize,
    /// An annotation every accepted signature must carry, as `cosign verify -a` (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
}

/// Who may have signed: keys, keyless identities and the trusted root they chain to, and the
/// repositories a signature may name (verify, values, pull, history, diff).
#[derive(Args, Debug, Clone, Default)]
pub struct Signers {
    /// A trusted public key, cosign's PEM format (repeatable).
    #[arg(long = "key", value_name = "PUB")]
    pub keys: Vec<PathBuf>,
    /// A repository the signatures may name (repeatable: a release signed in several
    /// repositories). Default: the reference's registry repository. Required for an oci: layout,
    /// which cannot vouch for its own name: give the name it was signed as.
    #[arg(long, value_name = "REPO")]
    pub identity: Vec<String>,
    /// A keyless signer: the certificate's SAN, exactly (repeatable; each pairs with the
    /// --certificate-oidc-issuer[-regexp] at the same position, or the only one given). A GitLab
    /// pipeline: https://gitlab.com/GROUP/PROJECT//.gitlab-ci.yml@refs/tags/v1.2.3
    #[arg(long, value_name = "SAN")]
    pub certificate_identity: Vec<String>,
    /// A keyless signer's SAN as a regular expression (anchored), e.g.
    /// '^https://github\.com/acme/docproc/\.github/workflows/release\.yml@refs/tags/v.*$'.
    #[arg(long, value_name = "REGEX")]
    pub certificate_identity_regexp: Vec<String>,
    /// The OIDC issuer of a keyless signer (Fulcio extension 1.3.6.1.4.1.57264.1.8, or the legacy
    /// .1.1), e.g. https://token.actions.githubusercontent.com or https://gitlab.com.
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Vec<String>,
    /// The OIDC issuer as a regular expression (anchored).
    #[arg(long, value_name = "REGEX")]
    pub certificate_oidc_issuer_regexp: Vec<String>,
    /// A Fulcio claim every keyless signer's certificate must carry, NAME=REGEX (repeatable):
    /// source-repository-uri, source-repository-ref, source-repository-digest, build-signer-uri,
    /// build-config-uri, build-trigger, runner-environment, run-invocation-uri.
    #[arg(long = "certificate-claim", value_name = "NAME=REGEX")]
    pub certificate_claims: Vec<String>,
    /// The Sigstore trusted root for keyless signatures and transparency-log entries (a private
    /// Sigstore); default: the public-good instance's, embedded. Nothing is fetched at verify time.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
}

impl Signers {
    /// Whether any signer (key or keyless identity) was named: the release is then verified.
    pub fn given(&self) -> bool {
        !self.keys.is_empty() || !self.certificate_identity.is_empty() || !self.certificate_identity_regexp.is_empty()
    }

    /// Refuse the flags that only narrow a signer check when no signer is named (history, diff).
    pub fn check_named(&self) -> anyhow::Result<()> {
        let narrowing = !self.identity.is_empty()
            || !self.certificate_oidc_issuer.is_empty()
            || !self.certificate_oidc_issuer_regexp.is_empty()
            || !self.certificate_claims.is_empty()
            || self.trusted_root.is_some();
        if !self.given() && narrowing {
            anyhow::bail!(
                "--identity, --certificate-oidc-issuer[-regexp], --certificate-claim and --trusted-root narrow a signer check: name the signers with --key or --certificate-identity[-regexp]"
            );
        }
        Ok(())
    }
}

/// The previous release's signers (build, check): the verify flags, prefixed `previous-`.
#[derive(Args, Debug, Clone, Default)]
#[group(id = "previous_signers", multiple = true)]
pub struct PreviousSigners {
    /// Trust the previous release only if one of these public keys signed it (repeatable). Without
    /// a --previous-key or --previous-certificate-identity the previous release is used
    /// unverified, and the output says so.
    #[arg(long = "previous-key", value_name = "PUB")]
    pub previous_keys: Vec<PathBuf>,
    /// Or a keyless signer of the previous release: the certificate's SAN, exactly (as verify's
    /// --certificate-identity; repeatable).
    #[arg(long, value_name = "SAN")]
    pub previous_certificate_identity: Vec<String>,
    /// The previous release's keyless signer's SAN as a regular expression (anchored).
    #[arg(long, value_name = "REGEX")]
    pub previous_certificate_identity_regexp: Vec<String>,
    /// The OIDC issuer of the previous release's keyless signer.
    #[arg(long, value_name = "URL")]
    pub previous_certificate_oidc_issuer: Vec<String>,
    /// That OIDC issuer as a regular expression (anchored).
    #[arg(long, value_name = "REGEX")]
    pub previous_certificate_oidc_issuer_regexp: Vec<String>,
    /// A Fulcio claim the previous release's keyless signer must carry, NAME=REGEX (repeatable).
    #[arg(long = "previous-certificate-claim", value_name = "NAME=REGEX")]
    pub previous_certificate_claims: Vec<String>,
    /// The Sigstore trusted root for the previous release's keyless signatures; default: the
    /// public-good instance's, embedded.
    #[arg(long, value_name = "FILE")]
    pub previous_trusted_root: Option<PathBuf>,
}

impl PreviousSigners {
    /// The same signers as verify's flags would name them (the repositories are the caller's).
    pub fn signers(&self) -> Signers {
        Signers {
            keys: self.previous_keys.clone(),
            identity: Vec::new(),
            certificate_identity: self.previous_certificate_identity.clone(),
            certificate_identity_regexp: self.previous_certificate_identity_regexp.clone(),
            certificate_oidc_issuer: self.previous_certificate_oidc_issuer.clone(),
            certificate_oidc_issuer_regexp: self.previous_certificate_oidc_issuer_regexp.clone(),
            certificate_claims: self.previous_certificate_claims.clone(),
            trusted_root: self.previous_trusted_root.clone(),
        }
    }
}

/// Keyless signing, and --tlog-upload for a key (sign, build --sign, attest).
#[derive(Args, Debug, Clone, Default)]
pub struct KeylessArgs {
    /// Sign keylessly, with an OIDC token and the Sigstore services of the signing config
    /// (bundle format only).
    #[arg(long)]
    pub keyless: bool,
    /// The OIDC token for --keyless, from this file (else SIGSTORE_ID_TOKEN, else GitHub
    /// Actions' ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, audience `sigstore`).
    #[arg(long, value_name = "FILE", requires = "keyless")]
    pub identity_token: Option<PathBuf>,
    /// With --key: also record the signature in the transparency log (the signing config's Rekor v1)
    /// and keep the entry with it (in the bundle; in the legacy layer's dev.sigstore.cosign/bundle
    /// annotation, as cosign). Never done by default.
    #[arg(long, requires = "key", conflicts_with = "keyless")]
    pub tlog_upload: bool,
    /// The Sigstore signing config (Fulcio, Rekor, TSA URLs) for --keyless and --tlog-upload;
    /// default: the public-good instance's, embedded.
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<PathBuf>,
}

/// Keyless signing of an attestation (attest, verify --attest-result).
#[derive(Args, Debug, Clone, Default)]
pub struct KeylessAttest {
    /// Sign keylessly, with an OIDC token and the Sigstore services of the signing config
    /// (bundle format only).
    #[arg(long)]
    pub keyless: bool,
    /// The OIDC token for --keyless, from this file (else SIGSTORE_ID_TOKEN, else GitHub
    /// Actions' ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, audience `sigstore`).
    #[arg(long, value_name = "FILE", requires = "keyless")]
    pub identity_token: Option<PathBuf>,
    /// The Sigstore signing config (Fulcio, Rekor, TSA URLs) for --keyless; default: the
    /// public-good instance's, embedded.
    #[arg(long, value_name = "FILE", requires = "keyless")]
    pub signing_config: Option<PathBuf>,
}

impl KeylessAttest {
    pub fn get(&self) -> Option<crate::signing::Keyless> {
        self.keyless.then(|| crate::signing::Keyless { token: self.identity_token.clone(), config: self.signing_config.clone() })
    }
}

impl KeylessArgs {
    pub fn get(&self) -> Option<crate::signing::Keyless> {
        self.keyless.then(|| crate::signing::Keyless { token: self.identity_token.clone(), config: self.signing_config.clone() })
    }

    /// The signing config for --tlog-upload (None: no upload asked for); a --signing-config
    /// without --keyless or --tlog-upload is refused, as it would be ignored.
    pub fn tlog(&self) -> anyhow::Result<Option<sigstore_sign::trust_root::SigningConfig>> {
        if self.tlog_upload {
            return crate::trust::keyless::signing_config(self.signing_config.as_deref()).map(Some);
        }
        if self.signing_config.is_some() && !self.keyless {
            anyhow::bail!("--signing-config is for --keyless or --tlog-upload");
        }
        Ok(None)
    }
}

/// How to reach registries: accepted before the command (`bundle --verbose history …`) and by
/// every command that contacts a registry (`bundle history … --verbose`).
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryOpts {
    /// Allow plain HTTP to this registry host (repeatable). Loopback registries (localhost,
    /// 127.0.0.0/8, ::1) always may. Env: RELBUNDLE_INSECURE_REGISTRIES (comma-separated).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Trust this PEM CA certificate for registry TLS, besides the system roots (repeatable).
    #[arg(long, value_name = "FILE", env = "RELBUNDLE_CA_FILE")]
    pub ca_file: Vec<PathBuf>,
    /// Registry user name; give the password on standard input with --password-stdin.
    /// Without it: REGISTRY_AUTH_FILE, then docker's config.json ($DOCKER_CONFIG), else anonymous.
    #[arg(long)]
    pub username: Option<String>,
    /// Read the registry password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
    /// Say more on stderr: the transport and login source per registry, and every retry.
    /// Secrets are never printed.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a starting bundle.yaml by discovering components in a monorepo.
    ///
    /// A component is a folder with a Dockerfile (or Containerfile), named after the folder. Its
    /// models are the .dvc files and dvc.lock stage outputs below it; its prompts are
    /// prompts/**/*.{yaml,yml,json,prompty,prompt} (ours, Prompty, Dotprompt, Semantic Kernel,
    /// LangChain, Langfuse: spec/prompt-formats.md); its contracts are api/openapi.{yaml,yml,json}
    /// and *.schema.json; `consumes` entries come from $refs into other components' contracts.
    ///
    /// DVC outputs: a dvc.yaml `type: model` artifact is a model; an input (deps) of a dvc.yaml
    /// stage is training data, left out and listed in a comment; one under data/ or with a data
    /// extension is kept and marked as data; anything else is a model. init also adds /out/ (the
    /// default output of build) to .gitignore.
    ///
    /// API names are unique: an OpenAPI contract provides <component>-api; a JSON Schema provides
    /// the last non-version segment of its $id, else its title, else its file name (without
    /// .schema.json). A name more than one contract would get becomes <component>-<name> for each;
    /// one still shared gets -2, -3, … (spec/README.md § 1).
    ///
    /// Example:
    ///   bundle init . && $EDITOR bundle.yaml   # add the image digests, then: bundle build
    #[command(verbatim_doc_comment)]
    Init {
        /// The monorepo root.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Overwrite an existing bundle.yaml.
        #[arg(long)]
        force: bool,
    },
    /// Collect, check and pack a release into one OCI artifact.
    ///
    /// Examples:
    ///   bundle build fixtures/docproc --version 1.0.0 --output oci:out/docproc
    ///   bundle build . --image ocr=ghcr.io/acme/ocr@sha256:… --verify-models
    ///   git tag docproc-v1.4.0 && bundle build .      # version from the tag
    #[command(verbatim_doc_comment)]
    Build {
        #[command(flatten)]
        input: Input,
        /// Where to write: oci:DIR[:TAG]. The tag defaults to the version. Default: oci:out/NAME
        /// below the monorepo folder (not the current directory); `bundle init` adds out/ to
        /// .gitignore.
        #[arg(short, long, value_name = "oci:DIR[:TAG]")]
        output: Option<String>,
        /// Move an existing tag that names a different release (dangerous: deploys using the tag change).
        #[arg(long)]
        retag: bool,
        /// Also push the release: REGISTRY/REPOSITORY[:TAG] (the tag defaults to the version).
        #[arg(long, value_name = "REGISTRY/REPO[:TAG]")]
        push: Option<String>,
        /// Sign what was written (the layout, and the pushed release) with --key, or --keyless.
        #[arg(long)]
        sign: bool,
        /// The cosign-format private key for --sign.
        #[arg(long, value_name = "FILE", conflicts_with = "keyless")]
        key: Option<PathBuf>,
        #[command(flatten)]
        keyless: KeylessArgs,
        /// The key's password, for --sign (else COSIGN_PASSWORD or a prompt).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// With --sign: also attest SLSA provenance v1 for the release (source commit, every
        /// image, model, prompt and contract digest; the CI's builder and job). Default: on when
        /// signing in CI (CI=true), off elsewhere.
        #[arg(long, overrides_with = "no_provenance")]
        provenance: bool,
        /// Do not attest provenance, even when signing in CI.
        #[arg(long, overrides_with = "provenance")]
        no_provenance: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Copy a release, with its signatures, to a registry or layout.
    ///
    /// Blobs first (skipping those already there), then the manifest by digest, then the tag.
    /// Says which identities the carried signatures name, and how to verify at the destination.
    ///
    /// Examples:
    ///   bundle push oci:out/docproc:1.4.0 registry.example.com/acme/docproc
    ///   bundle push registry.example.com/acme/docproc:1.4.0 oci:/mnt/airgap/docproc
    ///   bundle push staging.example.com/docproc@sha256:… prod.example.com/docproc:1.4.0
    #[command(verbatim_doc_comment)]
    Push {
        /// The release to copy: oci:DIR[:TAG], REGISTRY/REPO:TAG or …@sha256:…
        source: String,
        /// Where to: REGISTRY/REPO[:TAG] or oci:DIR[:TAG]; the tag defaults to the source tag, else
        /// the version.
        destination: String,
        /// Move an existing tag that names a different release (dangerous: deploys using the tag change).
        #[arg(long)]
        retag: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Copy a release, every signature, and (--with-images) its images to another store.
    ///
    /// The air-gap path: between registries, layouts and archives, in any combination.
    ///
    /// SRC and DST are REGISTRY/REPO[:TAG], oci:DIR[:TAG] or oci-archive:FILE.tar[:TAG] (the
    /// layout as one reproducible tar, as skopeo names it). Every signature and attestation
    /// travels (legacy .sig/.att tags, referrers), merged with what DST holds. Blobs go once,
    /// skipped when present, mounted within a registry, uploaded in parallel; the release tag is
    /// set last, so a failed copy leaves no tag and a second run uploads only what is missing.
    ///
    /// Images go to DST's registry under their own repository path, or under --images-to
    /// REGISTRY/PREFIX; into a layout or archive they go inside it, by digest. A relocation record
    /// (spec/relocation.md) maps each original image to its new place, stored with the release
    /// (signed with --key/--keyless); `values --relocated` and `verify --check-images` use it.
    ///
    /// Examples:
    ///   bundle copy registry.example.com/acme/docproc:1.4.0 oci-archive:docproc.tar --with-images
    ///   bundle copy oci-archive:docproc.tar airgap.local/acme/docproc --with-images --key ci.key
    ///   bundle copy reg.example.com/acme/docproc:1.4.0 mirror.example.com/acme/docproc \
    ///       --with-images --images-to mirror.example.com/mirrored
    ///   bundle copy mirror.example.com/acme/docproc:1.4.0 oci-archive:docproc.tar \
    ///       --with-images --images-from mirror.example.com/mirrored
    #[command(verbatim_doc_comment)]
    Copy {
        /// The release: REGISTRY/REPO:TAG, …@sha256:…, oci:DIR[:TAG] or oci-archive:FILE[:TAG]
        source: String,
        /// Where to: REGISTRY/REPO[:TAG], oci:DIR[:TAG] or oci-archive:FILE[:TAG]; the tag
        /// defaults to the source tag, else the version.
        destination: String,
        /// Also copy every component image (an index with all its platforms), with its own
        /// signatures and attestations, and write the relocation record.
        #[arg(long)]
        with_images: bool,
        /// Put the images in this registry, each under PREFIX/ + its original repository path
        /// (default: DST's registry and the original path; inside DST for a layout or archive).
        #[arg(long, value_name = "REGISTRY/PREFIX", requires = "with_images")]
        images_to: Option<String>,
        /// Read the images from this mirror, each under PREFIX/ + its original repository path
        /// (default: where SRC's relocation record puts them on SRC's own registry, else inside
        /// a layout or archive SRC, else their original places). Digests are checked as always.
        #[arg(long, value_name = "REGISTRY/PREFIX", requires = "with_images")]
        images_from: Option<String>,
        /// Sign the relocation record with this cosign-format private key.
        #[arg(long, value_name = "FILE", conflicts_with = "keyless", requires = "with_images")]
        key: Option<PathBuf>,
        /// Sign the relocation record keylessly (an OIDC token, a Fulcio certificate, Rekor).
        #[command(flatten)]
        keyless: KeylessArgs,
        /// Read the key's password from this file (else COSIGN_PASSWORD, or a prompt).
        #[arg(long, value_name = "FILE", requires = "key")]
        password_file: Option<PathBuf>,
        /// The identity (subject name) the signed relocation record carries; default: the registry
        /// repository the release's signatures name (so one --identity verifies both), else DST's
        /// repository (a layout or archive: the release name).
        #[arg(long, value_name = "REPO")]
        identity: Option<String>,
        /// The format of the signed relocation record: bundle (a referrer), legacy (the .att tag) or both.
        #[arg(long, value_enum, default_value = "both")]
        format: crate::signing::Format,
        /// Move an existing release tag that names a different release (dangerous).
        #[arg(long)]
        retag: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Extract a release's files, after checking every digest and size.
    ///
    /// Prompts, contracts, DVC pointers and bundle.yaml. Unsafe paths, links, devices and files
    /// the release record does not name are refused; nothing is written unless everything is.
    /// With --models: the model weights instead, fetched from their DVC remotes and checked
    /// against the pinned md5 (and sha256); each file appears only once verified, and a pull that
    /// was cut short resumes without fetching verified files again.
    ///
    /// Examples:
    ///   bundle pull registry.example.com/acme/docproc@sha256:… -o /prompts \
    ///       --component summarizer --only prompts --key cosign.pub
    ///   bundle pull oci:out/docproc:1.4.0 -o release/
    ///   bundle pull oci:out/docproc:1.4.0 --models --component ocr -o /models
    #[command(verbatim_doc_comment)]
    Pull {
        /// oci:DIR[:TAG], REGISTRY/REPO:TAG or …@sha256:…
        reference: String,
        /// The folder to write into (created if missing).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Only this component's files.
        #[arg(long, value_name = "NAME")]
        component: Option<String>,
        /// Only these kinds of files (repeatable).
        #[arg(long, value_enum)]
        only: Vec<crate::extract::Only>,
        /// Replace the output folder even when it holds files (atomically: the old folder is
        /// swapped out whole). Without it a non-empty folder is refused.
        #[arg(long, conflicts_with = "models")]
        force: bool,
        /// Fetch the model weights from their DVC remotes (credentials from the environment:
        /// AWS_*, ~/.aws, AZURE_STORAGE_*), verified file by file, into the output folder.
        #[arg(long, conflicts_with = "only")]
        models: bool,
        /// With --models: fetch from this URL instead of the recorded remote (a mirror, or a
        /// local folder holding the DVC remote).
        #[arg(long, value_name = "URL", requires = "models")]
        dvc_remote: Option<String>,
        /// With --key: verify the release before writing anything.
        #[command(flatten)]
        trust: Trust,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// List a repository's releases (newest first), or an environment's (--env).
    ///
    /// Tag, version, digest, created, commit and signatures; with --key, who signed.
    ///
    /// With --env ENV: the releases promoted to ENV (`bundle promote`), oldest first, each with who
    /// promoted it and when; only promotions whose attestations verify under the trust flags
    /// count. --previous prints the reference of the release promoted before the current one:
    /// the rollback target.
    ///
    /// Examples:
    ///   bundle history registry.example.com/acme/docproc
    ///   bundle history oci:out/docproc --json
    ///   bundle history registry.example.com/acme/docproc --env production --key approver.pub
    ///   bundle history registry.example.com/acme/docproc --env production --key approver.pub --previous
    #[command(verbatim_doc_comment)]
    History {
        /// REGISTRY/REPO or oci:DIR
        repository: String,
        /// Name the signers among these keys and keyless identities; without any, signatures are
        /// only counted. With --env: who may have promoted (one trusted signer makes a promotion).
        #[command(flatten)]
        signers: Signers,
        /// Only the releases promoted to this environment, in promotion order.
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        /// With --env: print only the reference (REPO@sha256:…) of the release promoted to ENV
        /// before the current one (exit 1 when there is none): the rollback target.
        #[arg(long, requires = "env")]
        previous: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Promote a release to an environment: a signed, verifiable record.
    ///
    /// The release is verified first under the trust flags (--release-key or the keyless identity
    /// flags), and nothing is written unless it passes. The promotion (predicate
    /// https://relbundle.dev/promotion/v1, spec/promotion.md) records the environment, the time
    /// (SOURCE_DATE_EPOCH or now), the approver (the signer: the key's fingerprint, or the
    /// keyless identity), the sha256 of every evidence file, and the release it supersedes in that
    /// environment (the latest release of the same name promoted there no later than this one, by
    /// a signer of the trust flags or the promoter's own key; readers check it). Each
    /// evidence file (a JSON object: evaluation metrics, canary results, a change ticket) is also
    /// attached as its own attestation, before the promotion.
    ///
    /// Examples:
    ///   bundle promote registry.example.com/acme/docproc:1.4.0 --to staging --key ci.key \
    ///       --release-key release.pub
    ///   bundle promote REF --to production --key alice.key --release-key release.pub \
    ///       --evidence eval.json=https://acme.dev/eval/v1 --evidence CHG-1234.json
    ///   bundle promote REF --to production --keyless --certificate-identity-regexp '^https://…' \
    ///       --certificate-oidc-issuer https://gitlab.com
    #[command(verbatim_doc_comment, mut_arg("keys", |a| a.long("release-key").help(
        "A public key the release must be signed by, cosign's PEM format (repeatable); promotions \
         by these keys and identities, and by --key, are read for the release it supersedes.")))]
    Promote {
        /// REGISTRY/REPO:TAG, …@sha256:…, or oci:DIR[:TAG]
        reference: String,
        /// The environment promoted to (e.g. staging, production).
        #[arg(long, value_name = "ENV")]
        to: String,
        /// An evidence file (JSON object), attached as its own attestation with predicate type
        /// TYPE (default https://relbundle.dev/evidence/v1) and named in the promotion by its
        /// sha256 (repeatable).
        #[arg(long, value_name = "FILE[=TYPE]")]
        evidence: Vec<String>,
        /// The cosign-format private key that signs the promotion: the approver.
        #[arg(long = "key", value_name = "FILE", required_unless_present = "keyless", conflicts_with = "keyless")]
        signing_key: Option<PathBuf>,
        #[command(flatten)]
        keyless: KeylessAttest,
        /// Read the key's password from this file (else COSIGN_PASSWORD, or a prompt).
        #[arg(long, value_name = "FILE", requires = "signing_key")]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        trust: Trust,
        /// The attestation format: bundle (a referrer: cosign v3), legacy (the `.att` tag:
        /// cosign 2 verify-attestation), or both.
        #[arg(long, value_enum, default_value = "both")]
        format: crate::signing::Format,
        /// Print the promotion as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Run every collection step and check of `build` without writing anything.
    ///
    /// The version bump rules (prompt and API versions) run against --previous, else the highest
    /// release below this version where `build` would write. Without a release version (no tag at
    /// HEAD, no --version) and without --previous, everything else is still checked; check says
    /// that the bump rules were not, and which release they would run against, and exits 0 when
    /// nothing else is wrong.
    ///
    /// Examples:
    ///   bundle check . --image ocr=ghcr.io/acme/ocr@sha256:…
    ///   bundle check . --previous registry.example.com/acme/docproc:1.3.0
    #[command(verbatim_doc_comment)]
    Check {
        #[command(flatten)]
        input: Input,
        /// Where `build` would write (oci:DIR[:TAG]): the previous release is looked for there, as
        /// `build` does. Default: oci:out/NAME below the monorepo folder.
        #[arg(short, long, value_name = "oci:DIR[:TAG]")]
        output: Option<String>,
        /// Where `build --push` would push: looked in first for the previous release.
        #[arg(long, value_name = "REGISTRY/REPO[:TAG]")]
        push: Option<String>,
        /// Print the findings as JSON (spec/check-report.schema.json).
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Show a release: summary, or the release record with --json.
    ///
    /// Examples:
    ///   bundle inspect oci:out/docproc:1.0.0
    ///   bundle inspect oci:out/docproc@sha256:… --json | jq .components
    #[command(verbatim_doc_comment)]
    Inspect {
        /// oci:DIR[:TAG] or oci:DIR@sha256:…
        reference: String,
        /// Print the release record (canonical JSON).
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Write a cosign-format key pair: PREFIX.key (encrypted) and PREFIX.pub.
    ///
    /// The private key is sealed as cosign seals it (scrypt N = 65536, nacl/secretbox), mode 0600.
    ///
    /// The password comes from --password-file, COSIGN_PASSWORD (empty for none), or a prompt.
    ///
    /// Examples:
    ///   bundle keygen                                  # cosign.key, cosign.pub
    ///   COSIGN_PASSWORD=… bundle keygen --output-prefix release
    #[command(verbatim_doc_comment)]
    Keygen {
        #[arg(long, default_value = "cosign", value_name = "PREFIX")]
        output_prefix: String,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// Read the key's password from this file (else COSIGN_PASSWORD, or a prompt).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Sign a release the way cosign does.
    ///
    /// For the exact manifest digest, once the release's integrity and record checks pass: a
    /// Sigstore bundle (cosign v3's format: a DSSE in-toto statement with predicate
    /// https://sigstore.dev/cosign/sign/v1, stored as an OCI 1.1 referrer of the digest) and/or a
    /// simple-signing payload appended to the `sha256-<hex>.sig` manifest (cosign 2's format), in
    /// the same repository or layout. The same key signing again is a no-op.
    ///
    /// Examples:
    ///   bundle sign registry.example.com/acme/docproc:1.4.0 --key cosign.key
    ///   bundle sign registry.example.com/acme/docproc@sha256:… --key cosign.key -a approved-by=qa
    ///   bundle sign registry.example.com/acme/docproc:1.4.0 --key cosign.key --format bundle
    ///   bundle sign oci:out/docproc:1.4.0 --key cosign.key
    ///   bundle sign registry.example.com/acme/docproc:1.4.0 --keyless    # in CI, with an OIDC token
    #[command(verbatim_doc_comment)]
    Sign {
        /// REGISTRY/REPO:TAG, …@sha256:…, or oci:DIR[:TAG]
        reference: String,
        /// The cosign-format private key.
        #[arg(long, value_name = "FILE", required_unless_present = "keyless", conflicts_with = "keyless")]
        key: Option<PathBuf>,
        /// Sign keylessly: an OIDC token (--identity-token, SIGSTORE_ID_TOKEN, or GitHub Actions'
        /// token request) gets a short-lived Fulcio certificate; the signature is logged in Rekor
        /// and stored in the bundle format.
        #[command(flatten)]
        keyless: KeylessArgs,
        /// Read the key's password from this file (else COSIGN_PASSWORD, or a prompt).
        #[arg(long, value_name = "FILE", requires = "key")]
        password_file: Option<PathBuf>,
        /// The identity (docker-reference) to sign; default: the repository, with the tag when
        /// signing by tag (a layout: the release name).
        #[arg(long, value_name = "REPO[:TAG]")]
        identity: Option<String>,
        /// Put KEY=VALUE in the payload's `optional` annotations, as `cosign sign -a` (repeatable).
        #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
        annotations: Vec<String>,
        /// The signature format: bundle (cosign v3, Kyverno, Flux), legacy (the `.sig` tag: cosign 2
        /// `verify`, skopeo/podman), or both (the default: every verifier in use finds one).
        #[arg(long, value_enum, default_value = "both")]
        format: crate::signing::Format,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Attest a release: sign a statement about it (an in-toto attestation).
    ///
    /// An in-toto Statement v1 whose subject is the release's manifest digest (named by its
    /// repository, as signatures are) with the predicate read from --predicate, signed as DSSE and
    /// stored next to the release: a Sigstore bundle stored as an OCI 1.1 referrer (predicate type
    /// in the `dev.sigstore.bundle.predicateType` annotation; cosign v3's format) and/or a layer
    /// appended to cosign's `sha256-<hex>.att` manifest (cosign 2's format). Appends, never
    /// replaces; the same statement by the same key again is a no-op. The release's integrity and
    /// record checks must pass first. With --key --tlog-upload the attestation is also logged in
    /// the signing config's Rekor v1, as cosign 2 `attest` does (never by default): the bundle's
    /// envelope as a `dsse` entry kept in the bundle, the `.att` envelope as an `intoto` entry in
    /// the layer's dev.sigstore.cosign/bundle annotation.
    ///
    /// Examples:
    ///   bundle attest registry.example.com/acme/docproc:1.4.0 --predicate eval.json \
    ///       --type https://acme.example/eval/v1 --key cosign.key
    ///   bundle attest REF --predicate sbom.spdx.json --type spdxjson --key cosign.key --format legacy
    ///   bundle attest oci:out/docproc:1.4.0 --predicate p.json --type slsaprovenance1 --key k.key
    ///   bundle attest REF --predicate eval.json --type https://acme.example/eval/v1 --keyless   # in CI
    ///   bundle attest REF --predicate eval.json --type custom --key cosign.key --tlog-upload
    #[command(verbatim_doc_comment)]
    Attest {
        /// REGISTRY/REPO:TAG, …@sha256:…, or oci:DIR[:TAG]
        reference: String,
        /// The predicate: a file holding one JSON object (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        predicate: PathBuf,
        /// The predicate type: a URI, or one of cosign's names (slsaprovenance, slsaprovenance02,
        /// slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex, custom).
        #[arg(long = "type", value_name = "URI")]
        predicate_type: String,
        /// The cosign-format private key.
        #[arg(long, value_name = "FILE", required_unless_present = "keyless", conflicts_with = "keyless")]
        key: Option<PathBuf>,
        #[command(flatten)]
        keyless: KeylessArgs,
        /// Read the key's password from this file (else COSIGN_PASSWORD, or a prompt).
        #[arg(long, value_name = "FILE", requires = "key")]
        password_file: Option<PathBuf>,
        /// The repository the statement's subject names; default: the reference's repository (a
        /// layout: the release name).
        #[arg(long, value_name = "REPO")]
        identity: Option<String>,
        /// The format: bundle (a referrer; cosign v3), legacy (the `.att` tag; cosign 2
        /// `verify-attestation`), or both (the default). Keyless: bundle only.
        #[arg(long, value_enum, default_value = "both")]
        format: crate::signing::Format,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// List a release's attestations, each verified, with its predicate.
    ///
    /// Every attestation stored for the manifest digest (bundle referrers and cosign's `.att`
    /// tag) is checked as a signature is: made by a trusted key or keyless identity, its statement
    /// naming this digest and an accepted repository. Those that pass are listed (type, signer,
    /// format, where found) with their predicate; the others are listed as not verified, with why.
    /// With --type: exit 1 when no attestation of that type verifies.
    ///
    /// Examples:
    ///   bundle attestations registry.example.com/acme/docproc:1.4.0 --key cosign.pub
    ///   bundle attestations REF --type slsaprovenance1 --key builder.pub --json
    ///   bundle attestations REF --type https://slsa.dev/verification_summary/v1 \
    ///       --certificate-identity-regexp '^https://gitlab.com/acme/docproc//' \
    ///       --certificate-oidc-issuer https://gitlab.com
    #[command(verbatim_doc_comment, mut_arg("keys", |a| a.required_unless_present_any(["certificate_identity", "certificate_identity_regexp"])))]
    Attestations {
        /// REGISTRY/REPO:TAG, …@sha256:…, or oci:DIR[:TAG]
        reference: String,
        /// Only attestations of this predicate type (a URI, or one of cosign's names).
        #[arg(long = "type", value_name = "URI")]
        predicate_type: Option<String>,
        #[command(flatten)]
        trust: Trust,
        /// Print JSON: the digest, the verified attestations with their predicates, the failures.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Verify a release before deploying it.
    ///
    /// Signatures first, then integrity, the release's own checks, and optionally images and Helm
    /// values. Exit 0 verified, 1 a check failed, 2 bad input.
    ///
    /// Examples:
    ///   bundle verify registry.example.com/acme/docproc:1.4.0 --key cosign.pub
    ///   bundle verify REF --key a.pub --key b.pub --min-signers 2 --check-images --values v.yaml
    ///   bundle verify mirror.example.com/docproc:1.4.0 --key cosign.pub \
    ///       --identity registry.example.com/acme/docproc
    ///   bundle verify oci:out/docproc:1.4.0 --key cosign.pub --identity docproc
    #[command(
        verbatim_doc_comment,
        mut_arg("keys", |a| a.required_unless_present_any(["certificate_identity", "certificate_identity_regexp", "policy"])),
        mut_arg("keyless", |a| a.help("Sign the --attest-result summary keylessly (OIDC token, Fulcio, Rekor; bundle format)"))
    )]
    Verify {
        /// REGISTRY/REPO:TAG, …@sha256:…, or oci:DIR[:TAG]
        reference: String,
        #[command(flatten)]
        trust: Trust,
        /// Check that every component image digest exists in its registry.
        #[arg(long)]
        check_images: bool,
        /// A Helm values file that must pin exactly this release's digests.
        #[arg(long, value_name = "FILE")]
        values: Option<PathBuf>,
        /// The --map the values were written with (`bundle values --map`), to check them through it.
        #[arg(long, value_name = "FILE", requires = "values")]
        map: Option<PathBuf>,
        /// A release policy (spec/policy.schema.json): who must have signed, for --env, and rules
        /// in CEL over the release; replaces --key and the identity flags.
        #[arg(long, value_name = "FILE", requires = "env", conflicts_with_all = ["keys", "certificate_identity", "certificate_identity_regexp"])]
        policy: Option<PathBuf>,
        /// The environment of --policy to apply (e.g. staging, production).
        #[arg(long, value_name = "ENV", requires = "policy")]
        env: Option<String>,
        /// When the release verifies, attest the result: an SLSA verification summary
        /// (https://slsa.dev/verification_summary/v1, PASSED) signed with --attest-key or
        /// --keyless, stored next to the release for later gates. Never written on a failure.
        #[arg(long)]
        attest_result: bool,
        /// The cosign-format private key that signs the --attest-result summary (--key stays the
        /// trusted public key).
        #[arg(long, value_name = "FILE", requires = "attest_result", conflicts_with = "keyless")]
        attest_key: Option<PathBuf>,
        #[command(flatten)]
        keyless: KeylessAttest,
        /// The --attest-key's password (else COSIGN_PASSWORD, or a prompt).
        #[arg(long, value_name = "FILE", requires = "attest_key")]
        password_file: Option<PathBuf>,
        /// Print the report as JSON (spec/verify-report.schema.json).
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Show what changed between two releases.
    ///
    /// Images, models (down to files in a directory model), prompts (with a unified diff),
    /// contracts, and signers. Exit 0 when the content is the same, 1 when it differs, 2 on
    /// error (as diff(1)).
    ///
    /// Examples:
    ///   bundle diff registry.example.com/acme/docproc:1.4.0 registry.example.com/acme/docproc:1.5.0
    ///   bundle diff oci:out/docproc:1.4.0 registry.example.com/acme/docproc@sha256:… \
    ///       --format markdown > audit.md
    ///   bundle diff A B --key cosign.pub --repo . --format json
    #[command(verbatim_doc_comment)]
    Diff {
        /// The old release: REGISTRY/REPO:TAG, …@sha256:…, or oci:DIR[:TAG]
        a: String,
        /// The new release.
        b: String,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::commands::diff::Format,
        /// Verify each side's signatures against these keys and keyless identities and list the
        /// signers; --identity adds to each side's own registry repository.
        #[command(flatten)]
        signers: Signers,
        /// A git checkout of the source, to list the commits between the two releases.
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Emit Helm values that pin every component image and the bundle by digest.
    ///
    /// One `helm upgrade` moves every component at once, and a rollback moves them all back.
    ///
    /// With --key the release is verified first (signatures, integrity, its own checks) and no
    /// values are written unless it passes; without --key a warning says they were not verified.
    ///
    /// Examples:
    ///   bundle values registry.example.com/acme/docproc:1.5.0 --key cosign.pub -o values.yaml
    ///   bundle values registry.example.com/acme/docproc:1.4.0 --key cosign.pub -o v.yaml  # rollback
    ///   bundle values REF --key cosign.pub --map chart-map.yaml -o values.yaml
    ///   bundle values REF --env production --policy release-policy.yaml -o values.yaml
    ///   bundle values "$(bundle history REPO --env production --key approver.pub --previous)" \
    ///       --env production --key release.pub --key approver.pub -o values.yaml   # rollback
    #[command(verbatim_doc_comment)]
    Values {
        /// REGISTRY/REPO:TAG, …@sha256:…, or oci:DIR[:TAG]
        reference: String,
        /// Write the values here (atomically) instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Remap keys into a chart's own value paths (spec/values-map.md).
        #[arg(long, value_name = "FILE")]
        map: Option<PathBuf>,
        /// Emit the images' relocated places, from the relocation record `bundle copy
        /// --with-images` stored for this place; with trust flags only a record signed by a
        /// trusted key counts (an unsigned one is refused).
        #[arg(long)]
        relocated: bool,
        /// With --key: verify the release first; no values are written unless it passes.
        #[command(flatten)]
        trust: Trust,
        /// Refuse (exit 1) a release not promoted to this environment: with the trust flags, a
        /// verified promotion by one of them; with --policy, the environment's whole policy.
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        /// A release policy (spec/policy.schema.json) to verify the release against for --env
        /// (signers, required attestations, rules), instead of --key and the identity flags.
        #[arg(long, value_name = "FILE", requires = "env", conflicts_with_all = ["keys", "certificate_identity", "certificate_identity_regexp"])]
        policy: Option<PathBuf>,
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
        #[command(flatten, next_help_heading = "Registry options")]
        registry: RegistryOpts,
    },
    /// Print a shell completion script.
    ///
    /// Example:
    ///   bundle completions bash > /etc/bash_completion.d/bundle
    #[command(verbatim_doc_comment)]
    Completions { shell: clap_complete::Shell },
}

/// Inputs shared by `build` and `check`.
#[derive(Args, Debug, Clone)]
pub struct Input {
    /// The monorepo root (the folder holding bundle.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The release version; defaults to a tag at HEAD (v1.2.0, NAME-v1.2.0 or NAME/v1.2.0).
    #[arg(long = "version", value_name = "SEMVER")]
    pub release_version: Option<String>,
    /// Pin a component's image: NAME=REPOSITORY[:TAG]@sha256:DIGEST (repeatable).
    #[arg(long, value_name = "NAME=REF@DIGEST")]
    pub image: Vec<String>,
    /// Take image digests from `docker buildx build --metadata-file` output: [NAME=]FILE (repeatable).
    /// Without NAME, a bake file's target names are matched to component names.
    #[arg(long, value_name = "[NAME=]FILE")]
    pub buildx_metadata: Vec<String>,
    /// Build from a working tree with uncommitted changes (recorded in the release).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Re-hash workspace model files by DVC's rules, compare them with the pins, and record sha256.
    #[arg(long)]
    pub verify_models: bool,
    /// Fail when a model's presence cannot be checked (its DVC remote is not a local path).
    #[arg(long)]
    pub require_model_check: bool,
    /// Record this URL as the source repository instead of git's `origin` (credentials are removed).
    #[arg(long, value_name = "URL")]
    pub source_url: Option<String>,
    /// Confirm that every pinned image digest exists in its registry (and record an index's platforms).
    #[arg(long)]
    pub check_images: bool,
    /// Never contact a registry: an image without a digest is an error instead of being resolved.
    #[arg(long)]
    pub offline: bool,
    /// Build from a folder that is not in a git repository: the release then records no source
    /// commit (and `created` is SOURCE_DATE_EPOCH or now). Without it, no repository is an error.
    #[arg(long)]
    pub no_git: bool,
    /// Treat "cannot prove compatible" contract findings, and oasdiff's WARN (potentially breaking)
    /// API changes against the previous release, as errors.
    #[arg(long)]
    pub strict: bool,
    /// The previous release to check version discipline against (REGISTRY/REPO:TAG, …@sha256:…,
    /// oci:DIR[:TAG]). Default for build: the highest semver tag below this version in the push
    /// repository, else in the output layout.
    #[arg(long, value_name = "REF")]
    pub previous: Option<String>,
    /// Build despite error-level findings (breaking changes without the bump they need, …); the
    /// reason is recorded in the release and shown by verify and diff.
    #[arg(long, value_name = "REASON")]
    pub allow_breaking: Option<String>,
    #[command(flatten)]
    pub previous_signers: PreviousSigners,
    /// Check every component image's own signature in its registry before anything is built,
    /// against the `images:` section of this release policy (spec/policy.schema.json), and record
    /// who signed each image.
    #[arg(long, value_name = "POLICY")]
    pub verify_images: Option<PathBuf>,
    /// Fail unless the previous release (when there is one) is signed by a --previous-key or a
    /// --previous-certificate-identity[-regexp]: for release pipelines, so a pushed tag cannot
    /// choose the baseline that hides a breaking change.
    #[arg(long, requires = "previous_signers")]
    pub require_signed_previous: bool,
}
