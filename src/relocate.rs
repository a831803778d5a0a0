//! `bundle copy`: a release, everything attached to it, and (with images) every component image
//! with everything attached to those, from one store to another — registry, layout or archive
//! (spec/relocation.md).
//!
//! Order (nothing a reader can find by tag is ever incomplete):
//! 1. each image: blobs (skipped when present, mounted within a registry, uploaded concurrently),
//!    platform manifests, the index, then its attachments (`.sig`, `.att`, referrers), then —
//!    only when absent — its tag;
//! 2. the release's blobs and manifest by digest, its attachments;
//! 3. the relocation record (an unsigned referrer, and a signed attestation with a key);
//! 4. last, the release tag; an archive is then written out and renamed into place.
//!
//! Where the images come from: `--images-from` (the user names a mirror), else the source's own
//! relocation record for its location (the images were relocated there before), else the source
//! layout/archive when it holds the digest, else the image's original registry. The record is
//! unsigned and anyone who can write to the source can write one, so it may only point *within
//! the source's namespace*: the source's registry host and first path segment (or inside the
//! source layout/archive). A place anywhere else is ignored, with a note, and the image is fetched
//! from its original place. Every manifest and blob is checked against the release record's
//! digest besides.

use crate::oci::{Descriptor, ImageManifest};
use crate::release::{ComponentRecord, ImageRecord};
use crate::store::{self, Moved, Opened, Store, StoreRef};
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

/// The relocation record's predicate type.
pub const PREDICATE_TYPE: &str = "https://relbundle.dev/relocation/v1";
/// The artifactType of the unsigned relocation referrer (one layer: the in-toto statement).
pub const ARTIFACT_TYPE: &str = "application/vnd.relbundle.relocation.v1+json";
/// The in-toto statement media type.
pub const STATEMENT_MEDIA_TYPE: &str = "application/vnd.in-toto+json";
/// The annotation a layout or archive puts on each image entry: the image's original reference.
pub const ANN_IMAGE_REF: &str = "dev.relbundle.image.ref";
/// How many images travel at once into registries (each with its own concurrent blob batches of
/// at most [`store::COPY_BATCH_BYTES`]: this bounds memory too).
pub const IMAGE_CONCURRENCY: usize = 3;
/// The largest relocation statement read.
const MAX_STATEMENT: u64 = 4 << 20;

/// The relocation record's predicate (spec/relocation.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Relocation {
    /// Where the release was copied from: `REGISTRY/REPO`, `oci:DIR` or `oci-archive:FILE`.
    pub source: String,
    /// Where it was copied to (same forms): the place whose images this mapping names.
    pub destination: String,
    /// One entry per distinct image of the release record, in the record's order.
    pub images: Vec<Mapped>,
    /// SOURCE_DATE_EPOCH as RFC 3339, when set; otherwise omitted, so the record is reproducible.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub relocated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mapped {
    /// The image as the release record names it: `REGISTRY/REPOSITORY@sha256:…`.
    pub original: String,
    /// Where it is now, by the same digest: `REGISTRY/REPOSITORY@sha256:…`, or
    /// `oci:DIR@sha256:…` / `oci-archive:FILE@sha256:…` inside the destination layout.
    pub relocated: String,
    /// The components that use it.
    pub components: Vec<String>,
}

impl Relocation {
    /// The relocated place of an image record, if this mapping names it.
    pub fn find(&self, img: &ImageRecord) -> Option<&str> {
        let want = img.pinned();
        self.images.iter().find(|m| m.original == want).map(|m| m.relocated.as_str())
    }
}

/// A mirror of images at a registry, each under PREFIX/ + its original repository path: where
/// images go (`--images-to`) or are read from (`--images-from`).
#[derive(Debug, Clone)]
pub struct ImagesTo {
    pub registry: String,
    pub prefix: String,
}

impl ImagesTo {
    /// `flag`: the option it came from, for the error.
    pub fn parse(s: &str, flag: &str) -> Result<ImagesTo> {
        let r = StoreRef::parse(s).with_context(|| format!("{flag} `{s}`: expected REGISTRY/PREFIX"))?;
        match r {
            StoreRef::Registry { registry, repository, tag: None, digest: None } => Ok(ImagesTo { registry, prefix: repository }),
            _ => bail!("{flag} `{s}`: expected REGISTRY/PREFIX (a registry and a repository prefix, no tag or digest)"),
        }
    }

    /// Where `img` is under this mirror.
    fn place(&self, img: &ImageRecord) -> Place {
        Place::Registry { registry: self.registry.clone(), repository: format!("{}/{}", self.prefix, img.repository) }
    }
}

/// How the relocation record is signed, besides being stored unsigned.
pub enum Signing<'a> {
    Key(&'a crate::signing::Signer),
    Keyless(&'a crate::signing::Keyless),
}

pub struct Options<'a> {
    pub with_images: bool,
    pub images_to: Option<ImagesTo>,
    /// `--images-from`: read every image from this mirror (the user's word, before any record).
    pub images_from: Option<ImagesTo>,
    pub retag: bool,
    pub sign: Option<Signing<'a>>,
    /// The identity (subject name) the signed relocation record carries.
    pub identity: Option<String>,
    pub format: crate::signing::Format,
    pub verbose: bool,
}

/// What a copy did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub name: String,
    pub version: String,
    pub release: crate::store::CopyReport,
    pub attached: crate::store::attached::Copied,
    pub images: Vec<ImageReport>,
    /// Blobs of everything moved (release, images, attachments are counted apart).
    pub moved: Moved,
    /// The relocation record written (None without --with-images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relocation: Option<Relocation>,
    /// Whether a signed relocation attestation was added.
    pub relocation_signed: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    pub original: String,
    pub from: String,
    pub relocated: String,
    pub manifests: usize,
    pub attached: crate::store::attached::Copied,
    pub moved: Moved,
}

/// Copy `src_ref` to `dst_ref` (see the module documentation).
pub fn copy(src_ref: &StoreRef, dst_ref: &StoreRef, o: &Options, t: &store::registry::Transport) -> Result<Report> {
    copy_opened(src_ref, dst_ref, o, t).map(|(r, _)| r)
}

/// [`copy`], also returning the destination store (committed), for a caller that reads it after.
pub fn copy_opened(src_ref: &StoreRef, dst_ref: &StoreRef, o: &Options, t: &store::registry::Transport) -> Result<(Report, Opened)> {
    if dst_ref.digest().is_some() {
        bail!("`{dst_ref}`: a destination names a repository and optionally a tag, not a digest");
    }
    // A bad SOURCE_DATE_EPOCH (it dates the relocation record) is refused before anything is written.
    let at = if o.with_images { relocated_at()? } else { None };
    let src = store::open(src_ref, t)?;
    let desc = store::resolve(src.store(), src_ref)?;
    let manifest = src.store().blob(&desc)?;
    let (_, record) = crate::artifact::parse(src.store(), &desc, &manifest)?;
    let tag = dst_ref.tag().or(src_ref.tag()).map(String::from).unwrap_or_else(|| record.version.clone());
    let dst = store::open(dst_ref, t)?;
    // A tag that names another release is refused before anything is copied (as it would be last).
    store::check_tag_free(dst.store(), &tag, &desc, o.retag)?;
    let mut moved = Moved::default();
    let mut images = Vec::new();
    if o.with_images {
        let here = records_unverified(src.store(), &desc.digest)?.into_iter().find(|r| r.destination == src_ref.base());
        let here = here.map(|r| trusted_places(r, src_ref));
        let list = distinct_images(&record.components);
        let one = |(img, comps): &(ImageRecord, Vec<String>)| copy_image(img, comps, &src, src_ref, here.as_ref(), &dst, dst_ref, o, t);
        // Into registries the images travel at once (each to its own repository); into a layout
        // or archive one after another, so index.json is written in a fixed order.
        let results: Vec<Result<ImageReport>> = if matches!(dst_ref, StoreRef::Registry { .. }) || o.images_to.is_some() {
            list.chunks(IMAGE_CONCURRENCY)
                .flat_map(|chunk| {
                    std::thread::scope(|s| {
                        let handles: Vec<_> = chunk.iter().map(|i| s.spawn(move || one(i))).collect();
                        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("an image copy panicked")))).collect::<Vec<_>>()
                    })
                })
                .collect()
        } else {
            list.iter().map(one).collect()
        };
        for rep in results {
            let rep = rep?;
            moved.add(rep.moved);
            images.push(rep);
        }
    }
    let m = store::copy_content(src.store(), Some(src_ref), &desc, &manifest, &[], &dst)?;
    moved.add(m);
    let attached = store::attached::copy_attached(src.store(), dst.store(), &desc.digest)?;
    let (relocation, signed) = match o.with_images {
        true => {
            let rel = Relocation {
                source: src_ref.base(),
                destination: dst_ref.base(),
                images: images.iter().map(|i| mapped(&record.components, i)).collect(),
                relocated_at: at.clone(),
            };
            let signed = write_record(src.store(), dst.store(), &desc, dst_ref, &record.name, &rel, o)?;
            (Some(rel), signed)
        }
        false => (None, false),
    };
    let outcome = dst.store().tag(&tag, &desc, o.retag)?;
    dst.commit()?;
    let release = store::report(dst.store(), &desc, &tag, outcome, m);
    let report =
        Report { name: record.name, version: record.version, release, attached, images, moved, relocation, relocation_signed: signed };
    Ok((report, dst))
}

fn mapped(components: &[ComponentRecord], i: &ImageReport) -> Mapped {
    Mapped { original: i.original.clone(), relocated: i.relocated.clone(), components: comps_of(components, &i.original) }
}

/// Store the relocation record at the destination (unsigned, and signed when asked), under
/// `--identity`, else the identity the release's signatures name, else the destination's.
/// Returns whether a signed attestation was written.
fn write_record(
    src: &dyn Store,
    dst: &dyn Store,
    desc: &Descriptor,
    dst_ref: &StoreRef,
    name: &str,
    rel: &Relocation,
    o: &Options,
) -> Result<bool> {
    let identity = match &o.identity {
        Some(i) => i.clone(),
        None => signed_identity(src, &desc.digest)?.unwrap_or_else(|| default_identity(dst_ref, name)),
    };
    store_unsigned(dst, desc, &identity, rel)?;
    sign_record(dst, desc, &identity, rel, o)
}

/// The registry repository the release's own (legacy) signatures name, the first in order when
/// several do: the relocation record carries the same identity, so that the `--identity` that
/// verifies the relocated release's signatures also accepts its relocation record.
fn signed_identity(src: &dyn Store, digest: &str) -> Result<Option<String>> {
    let Some((_, layers)) = crate::trust::legacy::read_signatures(src, digest)? else { return Ok(None) };
    let mut names: Vec<String> = layers
        .iter()
        .filter_map(|l| crate::trust::legacy::parse_payload(&l.payload).ok())
        .map(|c| crate::reference::repository_of(&c.docker_reference).to_string())
        .filter(|n| n.contains('/'))
        .collect();
    names.sort();
    Ok(names.into_iter().next())
}

/// The subject name a relocation record carries without signatures to follow: the destination repository, or for
/// a layout or archive the release name (as `sign` names a layout's release).
pub fn default_identity(dst: &StoreRef, release_name: &str) -> String {
    match dst {
        StoreRef::Registry { registry, repository, .. } => format!("{registry}/{repository}"),
        StoreRef::Layout { .. } => release_name.to_string(),
    }
}

fn relocated_at() -> Result<Option<String>> {
    let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") else { return Ok(None) };
    let secs: i64 = s.trim().parse().map_err(|_| anyhow!("SOURCE_DATE_EPOCH `{s}` is not a number of seconds"))?;
    let t = time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| anyhow!("SOURCE_DATE_EPOCH `{s}`: {e}"))?;
    Ok(Some(t.format(&time::format_description::well_known::Rfc3339)?))
}

/// Each distinct image (by pinned reference) and the components using it, in record order.
fn distinct_images(components: &[ComponentRecord]) -> Vec<(ImageRecord, Vec<String>)> {
    let mut out: Vec<(ImageRecord, Vec<String>)> = Vec::new();
    for c in components {
        match out.iter_mut().find(|(i, _)| i.pinned() == c.image.pinned()) {
            Some((_, names)) => names.push(c.name.clone()),
            None => out.push((c.image.clone(), vec![c.name.clone()])),
        }
    }
    out
}

fn comps_of(components: &[ComponentRecord], original: &str) -> Vec<String> {
    components.iter().filter(|c| c.image.pinned() == original).map(|c| c.name.clone()).collect()
}

/// Where an image is read from or written to.
enum Place {
    /// The store the release is read from / written to (a layout or archive), by digest.
    Same,
    Registry {
        registry: String,
        repository: String,
    },
}

fn registry_place(s: &str) -> Result<Place> {
    match StoreRef::parse(s)? {
        StoreRef::Registry { registry, repository, .. } => Ok(Place::Registry { registry, repository }),
        StoreRef::Layout { .. } => Ok(Place::Same),
    }
}

/// The source's relocation record with only the places it may send us to: those in the source's
/// own namespace (same registry, same first path segment: `reg/acme/…` for `reg/acme/docproc`,
/// so on a registry shared by many owners a record cannot send us to another owner's
/// repositories and their referrers); a layout or archive source: those inside it. Each other
/// place is dropped, with a note: the record is not verified here, so it must not pick where we
/// fetch from (`--images-from` says it instead).
fn trusted_places(mut rel: Relocation, src_ref: &StoreRef) -> Relocation {
    let namespace = |r: &str| r.split('/').next().unwrap_or("").to_string();
    rel.images.retain(|m| {
        let within = match (StoreRef::parse(&m.relocated), src_ref) {
            (Ok(StoreRef::Registry { registry, repository, .. }), StoreRef::Registry { registry: here, repository: home, .. }) => {
                registry == *here && namespace(&repository) == namespace(home)
            }
            (Ok(StoreRef::Layout { .. }), StoreRef::Layout { .. }) => true,
            _ => false,
        };
        if !within {
            eprintln!(
                "note: ignoring the relocation record's place {} for {}: it is outside {} (an unverified record may only point within the source's namespace); fetching from the original place (name a mirror with --images-from REGISTRY/PREFIX)",
                m.relocated,
                m.original,
                src_ref.base()
            );
        }
        within
    });
    rel
}

/// Where to read an image (see the module documentation): `--images-from`, else the source's
/// record (its trusted places), else inside a layout or archive source, else the original place.
fn source_place(img: &ImageRecord, src: &Opened, here: Option<&Relocation>, from: Option<&ImagesTo>) -> Result<Place> {
    if let Some(f) = from {
        return Ok(f.place(img));
    }
    if let Some(r) = here.and_then(|h| h.find(img)) {
        return registry_place(r);
    }
    if !matches!(src, Opened::Registry(_)) && has_manifest(src, &img.digest)? {
        return Ok(Place::Same);
    }
    Ok(Place::Registry { registry: img.registry.clone(), repository: img.repository.clone() })
}

/// Where an image goes: under `--images-to` keeping its repository path; else the destination
/// registry with the image's repository path; else (a layout or archive) inside the destination.
fn destination_place(img: &ImageRecord, dst_ref: &StoreRef, to: Option<&ImagesTo>) -> Place {
    match (to, dst_ref) {
        (Some(t), _) => t.place(img),
        (None, StoreRef::Registry { registry, .. }) => Place::Registry { registry: registry.clone(), repository: img.repository.clone() },
        (None, StoreRef::Layout { .. }) => Place::Same,
    }
}

/// Whether a store holds a manifest (a registry answers a HEAD by digest; a layout stats the
/// blob file).
fn has_manifest(st: &Opened, digest: &str) -> Result<bool> {
    st.store().has_manifest(digest)
}

/// Open an image's place: the given store itself, or a registry repository (a sibling of the
/// given registry when it is on the same host, sharing its connection and credentials).
fn open_place<'a>(p: &Place, same: &'a Opened, t: &store::registry::Transport) -> Result<Holder<'a>> {
    match p {
        Place::Same => Ok(Holder::Borrowed(same)),
        Place::Registry { registry, repository } => Ok(Holder::Owned(match same {
            Opened::Registry(r) if r.registry == *registry => Opened::Registry(r.sibling(repository)),
            _ => Opened::Registry(store::registry::Registry::open(registry, repository, t)?),
        })),
    }
}

enum Holder<'a> {
    Borrowed(&'a Opened),
    Owned(Opened),
}

impl Holder<'_> {
    fn get(&self) -> &Opened {
        match self {
            Holder::Borrowed(o) => o,
            Holder::Owned(o) => o,
        }
    }
}

/// The reference a place gives an image of `digest`.
fn place_ref(p: &Place, st: &Opened, digest: &str) -> String {
    match p {
        Place::Same => format!("{}@{digest}", st.store().describe()),
        Place::Registry { registry, repository } => format!("{registry}/{repository}@{digest}"),
    }
}

fn as_store_ref(p: &Place) -> Option<StoreRef> {
    match p {
        Place::Registry { registry, repository } => {
            Some(StoreRef::Registry { registry: registry.clone(), repository: repository.clone(), tag: None, digest: None })
        }
        Place::Same => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn copy_image(
    img: &ImageRecord,
    comps: &[String],
    src: &Opened,
    src_ref: &StoreRef,
    here: Option<&Relocation>,
    dst: &Opened,
    dst_ref: &StoreRef,
    o: &Options,
    t: &store::registry::Transport,
) -> Result<ImageReport> {
    let sp = source_place(img, src, here, o.images_from.as_ref())?;
    let dp = destination_place(img, dst_ref, o.images_to.as_ref());
    let from = open_place(&sp, src, t)?;
    let to = open_place(&dp, dst, t)?;
    let (f, d) = (from.get(), to.get());
    let from_ref = as_store_ref(&sp).or_else(|| Some(src_ref.clone()));
    let what = format!("component {} image {}", comps.join(", "), img.pinned());
    let top =
        f.store().resolve_digest(&img.digest).with_context(|| format!("{what}: not found at {}", place_ref(&sp, src, &img.digest)))?;
    if top.digest != img.digest {
        bail!("{what}: {} served {} for it", f.store().describe(), top.digest);
    }
    let (manifests, moved) = copy_tree(f, from_ref.as_ref(), &top, d, &what)?;
    let mut attached = store::attached::copy_attached(f.store(), d.store(), &top.digest)?;
    for m in manifests.iter().filter(|m| m.digest != top.digest) {
        let a = store::attached::copy_attached(f.store(), d.store(), &m.digest)?;
        attached.signatures += a.signatures;
        attached.attestations += a.attestations;
        attached.referrers += a.referrers;
    }
    name_image(img, &top, &dp, d, o.verbose)?;
    if o.verbose {
        eprintln!(
            "{what}: {} manifest(s), {} blob(s) uploaded, {} present, {} mounted",
            manifests.len(),
            moved.uploaded_blobs,
            moved.skipped_blobs,
            moved.mounted_blobs
        );
    }
    Ok(ImageReport {
        original: img.pinned(),
        from: place_ref(&sp, src, &img.digest),
        relocated: place_ref(&dp, dst, &img.digest),
        manifests: manifests.len(),
        attached,
        moved,
    })
}

/// Copy a manifest and everything below it: first every blob of every manifest the destination
/// lacks, together (so a registry uploads them concurrently, across platforms), then the
/// manifests, children before parents (an index's platform manifests before the index). A
/// manifest the destination has is not uploaded again, nor are its blobs looked at. Returns every
/// manifest of the tree.
fn copy_tree(src: &Opened, src_ref: Option<&StoreRef>, top: &Descriptor, dst: &Opened, what: &str) -> Result<(Vec<Descriptor>, Moved)> {
    let mut order: Vec<(Descriptor, Vec<u8>, bool)> = Vec::new();
    let mut blobs: Vec<Descriptor> = Vec::new();
    walk(src, top, dst, what, 0, &mut order, &mut blobs)?;
    let moved = store::copy_blobs(src.store(), src_ref, &blobs.iter().collect::<Vec<_>>(), &[], dst)?;
    for (d, bytes, missing) in &order {
        if *missing {
            dst.store().put_manifest(d, bytes)?;
        }
    }
    Ok((order.into_iter().map(|(d, _, _)| d).collect(), moved))
}

/// Read `top` (and, for an index, its manifests), noting in `order` (children first) each
/// manifest and whether the destination lacks it, and in `blobs` the blobs of those it lacks.
fn walk(
    src: &Opened,
    top: &Descriptor,
    dst: &Opened,
    what: &str,
    depth: usize,
    order: &mut Vec<(Descriptor, Vec<u8>, bool)>,
    blobs: &mut Vec<Descriptor>,
) -> Result<()> {
    if order.iter().any(|(d, _, _)| d.digest == top.digest) {
        return Ok(());
    }
    let bytes = src.store().blob(top)?;
    let missing = !has_manifest(dst, &top.digest)?;
    if [crate::spec::OCI_INDEX, crate::spec::DOCKER_MANIFEST_LIST].contains(&top.media_type.as_str()) {
        if depth > 0 {
            bail!("{what}: index {} is nested in another index; only one level is copied", top.digest);
        }
        let (_, children) = store::layout::parse_index(&bytes, what)?;
        if children.len() > crate::oci::MAX_LAYERS {
            bail!("{what}: the index lists {} manifests, over the {} limit", children.len(), crate::oci::MAX_LAYERS);
        }
        for c in &children {
            if !crate::spec::MANIFEST_TYPES.contains(&c.media_type.as_str()) {
                bail!("{what}: index entry {} is a {}, not a manifest", c.digest, c.media_type);
            }
            walk(src, c, dst, what, depth + 1, order, blobs)?;
        }
    } else if missing {
        let m = ImageManifest::from_bytes(&bytes, &format!("{what}: manifest {}", top.digest))?;
        for b in std::iter::once(m.config).chain(m.layers) {
            if !blobs.iter().any(|x| x.digest == b.digest) {
                blobs.push(b);
            }
        }
    }
    order.push((top.clone(), bytes, missing));
    Ok(())
}

/// Name a copied image where it went: in a layout or archive, an index.json entry
/// `sha256-<hex>.image` annotated with the original reference (skopeo and oras read it by that
/// name); in a registry, the original tag when the repository does not have it yet (a tag there
/// already is never moved: the image is used by digest).
fn name_image(img: &ImageRecord, top: &Descriptor, dp: &Place, dst: &Opened, verbose: bool) -> Result<()> {
    match (dp, dst) {
        (Place::Same, Opened::Layout(l)) => l.put_image_entry(top, &image_entry_name(&top.digest), ANN_IMAGE_REF, &img.pinned()),
        (Place::Same, Opened::Archive(a)) => a.layout().put_image_entry(top, &image_entry_name(&top.digest), ANN_IMAGE_REF, &img.pinned()),
        (Place::Registry { .. }, Opened::Registry(r)) => {
            let Some(tag) = &img.tag else { return Ok(()) };
            match r.head_tag(tag)? {
                None => {
                    r.tag(tag, top, false)?;
                }
                Some(d) if d != top.digest && verbose => {
                    eprintln!("note: {}:{tag} names {d}; left as it is (the release uses {})", r.describe(), top.digest)
                }
                Some(_) => {}
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The index.json name of a component image in a layout or archive.
pub fn image_entry_name(digest: &str) -> String {
    format!("{}.image", digest.replace(':', "-"))
}

/// Store the relocation record as an unsigned referrer of the release: an image manifest with
/// artifactType [`ARTIFACT_TYPE`], the empty config and one layer, the in-toto statement. The same
/// record twice is one manifest (nothing added).
fn store_unsigned(dst: &dyn Store, subject: &Descriptor, identity: &str, rel: &Relocation) -> Result<bool> {
    let statement = crate::trust::attest::statement(
        crate::signing::repository_of(identity),
        &subject.digest,
        PREDICATE_TYPE,
        &serde_json::to_value(rel)?,
    );
    let layer = Descriptor::new(STATEMENT_MEDIA_TYPE, &statement);
    let empty = Descriptor::new("application/vnd.oci.empty.v1+json", b"{}");
    for (d, b) in [(&empty, b"{}".as_slice()), (&layer, statement.as_slice())] {
        if !dst.has_blob(d)? {
            dst.put_blob(d, b)?;
        }
    }
    let mut subj = subject.clone();
    subj.annotations = None;
    subj.artifact_type = None;
    subj.platform = None;
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(crate::spec::OCI_MANIFEST.into()),
        artifact_type: Some(ARTIFACT_TYPE.into()),
        config: empty,
        layers: vec![layer],
        subject: Some(subj),
        annotations: Some([("dev.relbundle.relocation.destination".to_string(), rel.destination.clone())].into()),
    };
    let bytes = m.to_bytes();
    let md = Descriptor::new(crate::spec::OCI_MANIFEST, &bytes);
    dst.put_manifest(&md, &bytes)?;
    dst.add_referrer(&subject.digest, &crate::signing::referrer_descriptor(&m, &md))
}

/// The relocation records stored unsigned for `digest`: each referrer of our artifactType whose
/// statement names `digest` and our predicate type. Unverified: for where to fetch from (every
/// byte is digest-checked) and for `values` without trust flags (which says so).
pub fn records_unverified(st: &dyn Store, digest: &str) -> Result<Vec<Relocation>> {
    let found = crate::trust::referrers::find(st, digest)?;
    let mut out = Vec::new();
    for r in found.referrers.iter().filter(|r| r.manifest.artifact_type.as_deref() == Some(ARTIFACT_TYPE)) {
        let Some(layer) = r.manifest.layers.first().filter(|l| l.size <= MAX_STATEMENT) else { continue };
        let Ok(bytes) = st.blob(layer) else { continue };
        if let Some(rel) = parse_statement(&bytes, digest) {
            out.push(rel);
        }
    }
    Ok(out)
}

/// A relocation predicate from a statement that names `digest` and our predicate type.
pub fn parse_statement(bytes: &[u8], digest: &str) -> Option<Relocation> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if v.get("predicateType")?.as_str()? != PREDICATE_TYPE {
        return None;
    }
    let hex = digest.strip_prefix("sha256:")?;
    let names = v.get("subject")?.as_array()?.iter().any(|s| s.pointer("/digest/sha256").and_then(|h| h.as_str()) == Some(hex));
    if !names {
        return None;
    }
    serde_json::from_value(v.get("predicate")?.clone()).ok()
}

/// Sign the record as an attestation of the release, when asked. Returns whether one was added.
fn sign_record(dst: &dyn Store, subject: &Descriptor, identity: &str, rel: &Relocation, o: &Options) -> Result<bool> {
    let Some(how) = &o.sign else { return Ok(false) };
    let with = match how {
        Signing::Key(s) => crate::trust::attest::SignWith::Key(s, None),
        Signing::Keyless(k) => crate::trust::attest::SignWith::Keyless(k),
    };
    crate::trust::attest::attach(dst, subject, identity, PREDICATE_TYPE, &serde_json::to_value(rel)?, with, o.format)?;
    Ok(true)
}

/// The relocation record for the store `r` names: the one whose destination is `r`'s place. With
/// a policy, only attestations it verifies count (an unsigned record is refused); without, the
/// unsigned record is read as it is.
pub fn record_for(st: &dyn Store, r: &StoreRef, digest: &str, policy: Option<&crate::trust::Policy>) -> Result<Relocation> {
    let here = r.base();
    let records: Vec<Relocation> = match policy {
        None => records_unverified(st, digest)?,
        Some(p) => {
            let found = crate::trust::attest::find(st, digest, p, Some(PREDICATE_TYPE))?;
            found.attestations.iter().filter_map(|a| serde_json::from_value(a.predicate.clone()).ok()).collect()
        }
    };
    if let Some(rel) = records.iter().find(|x| x.destination == here) {
        return Ok(rel.clone());
    }
    if policy.is_some() && records_unverified(st, digest)?.iter().any(|x| x.destination == here) {
        return Err(crate::error::finding(format!(
            "{here}@{digest}: no relocation record verified by the given trust flags for this place (the one stored is unsigned or not by a trusted signer); copy it with `bundle copy … --with-images --key KEY`"
        )));
    }
    let mut dests: Vec<String> = records.iter().map(|r| format!("`{}`", r.destination)).collect();
    dests.sort();
    dests.dedup();
    Err(crate::error::finding(if dests.is_empty() {
        format!(
            "{here}@{digest}: no relocation record verified or stored for this release; it was not copied here with `bundle copy --with-images`"
        )
    } else {
        format!("{here}@{digest}: no relocation record for this place; the records name {}", crate::yaml::list(&dests, 5))
    }))
}

/// The release record with each image replaced by its relocated place (registry images only: an
/// image inside a layout has no registry location to deploy from).
pub fn apply(record: &crate::release::Release, rel: &Relocation) -> Result<crate::release::Release> {
    let mut out = record.clone();
    for c in &mut out.components {
        let Some(to) = rel.find(&c.image) else {
            bail!("component {}: the relocation record does not name its image {}", c.name, c.image.pinned());
        };
        let img: crate::reference::ImageRef = to.parse().map_err(|_| {
            anyhow!("component {}: its image was relocated into `{to}`, which is no registry; copy the release to a registry first", c.name)
        })?;
        if img.digest.as_deref() != Some(c.image.digest.as_str()) {
            bail!("component {}: the relocation record maps {} to another digest ({to})", c.name, c.image.pinned());
        }
        c.image.registry = img.registry;
        c.image.repository = img.repository;
    }
    Ok(out)
}
