//! Google Cloud Storage (`gs://`): not checked. object_store speaks GCS, but no GCS implementation
//! can be run here to test against (fake-gcs-server is in neither Debian's nor PyPI's packages,
//! and the network reaches only package registries), and relbundle does not ship a client it has
//! not run against a real server.

use super::{Failure, RemoteConfig};

pub(super) fn reason(c: &RemoteConfig) -> Failure {
    Failure::NotChecked(format!(
        "{}: GCS remotes are not checked by relbundle (no GCS server could be tested against here); run `dvc status -c` for them",
        c.describe()
    ))
}
