//! A local-path remote (`url = /srv/dvc` or `../remote`): objects are files.

use super::Failure;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::io::Read;
use std::path::{Path, PathBuf};

pub(super) fn open(dir: &Path) -> Result<PathBuf, Failure> {
    Ok(dir.to_path_buf())
}

/// A file's bytes as a stream of 1 MiB chunks.
pub(super) fn stream(f: std::fs::File, path: PathBuf) -> BoxStream<'static, Result<bytes::Bytes, String>> {
    futures_util::stream::unfold(Some(f), move |f| {
        let path = path.clone();
        async move {
            let mut f = f?;
            let mut buf = vec![0u8; 1 << 20];
            match f.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(bytes::Bytes::from(buf)), Some(f)))
                }
                Err(e) => Some((Err(format!("{}: {e}", path.display())), None)),
            }
        }
    })
    .boxed()
}
