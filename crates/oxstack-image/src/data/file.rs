//! The file store: each image's data is one file under the store directory.
//!
//! A write goes to `<root>/.tmp/<random>.part` on a blocking thread that also computes md5
//! (sha512 runs beside it on a thread of its own, see [`Digester::threaded`]), fed through a small bounded channel so that receiving the next chunk from the
//! network overlaps with writing and hashing the previous one and memory stays bounded.
//! When the stream ends the file is fsynced, renamed to `<root>/<key>` and the directory
//! fsynced; on any failure the temporary file is removed.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::{ByteStream, DataError, DataStore, Digester, Written, check_key};

/// Chunks in flight between the network and the writer thread.
const CHANNEL_DEPTH: usize = 8;

/// Image data as files under `root`.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

enum Msg {
    Data(Bytes),
    /// The stream ended normally: make the file durable and visible.
    Finish,
}

impl FileStore {
    /// A store under `root` (created if missing, with its temporary area emptied of
    /// leftovers from a crash). Blocking: call at start-up.
    pub fn open(root: &Path) -> io::Result<FileStore> {
        let tmp = root.join(".tmp");
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(FileStore {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, DataError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The writer thread: writes and hashes every chunk; on `Finish` makes the file durable
/// and renames it into place; if the channel closes without `Finish`, or anything fails,
/// removes the temporary file.
fn write_blocking(
    tmp: PathBuf,
    dest: PathBuf,
    mut rx: mpsc::Receiver<Msg>,
) -> Result<Written, DataError> {
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(DataError::from_write)?;
        let mut digest = Digester::threaded();
        loop {
            match rx.blocking_recv() {
                Some(Msg::Data(chunk)) => {
                    file.write_all(&chunk).map_err(DataError::from_write)?;
                    digest.update(&chunk);
                }
                Some(Msg::Finish) => break,
                // The receiving side gave up (error, limit, client gone): not an error of ours;
                // the caller reports why.
                None => return Err(DataError::Input(io::Error::other("upload aborted"))),
            }
        }
        file.flush().map_err(DataError::from_write)?;
        file.sync_all().map_err(DataError::from_write)?;
        drop(file);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(DataError::from_write)?;
        }
        std::fs::rename(&tmp, &dest).map_err(DataError::from_write)?;
        if let Some(parent) = dest.parent() {
            fsync_dir(parent).map_err(DataError::from_write)?;
        }
        Ok(digest.finish())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[async_trait]
impl DataStore for FileStore {
    fn id(&self) -> &'static str {
        "file"
    }

    async fn put(
        &self,
        key: &str,
        mut data: ByteStream,
        max_bytes: u64,
    ) -> Result<Written, DataError> {
        let dest = self.path(key)?;
        let tmp = self
            .root
            .join(".tmp")
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let writer = tokio::task::spawn_blocking(move || write_blocking(tmp, dest, rx));
        let mut received: u64 = 0;
        let mut failure: Option<DataError> = None;
        while let Some(item) = data.next().await {
            match item {
                Ok(chunk) => {
                    received += chunk.len() as u64;
                    if received > max_bytes {
                        failure = Some(DataError::TooLarge { limit: max_bytes });
                        break;
                    }
                    if tx.send(Msg::Data(chunk)).await.is_err() {
                        // The writer stopped: its result says why.
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(DataError::Input(e));
                    break;
                }
            }
        }
        if failure.is_none() {
            let _ = tx.send(Msg::Finish).await;
        }
        drop(tx);
        let written = writer
            .await
            .map_err(|e| DataError::Io(io::Error::other(e)))?;
        match failure {
            Some(f) => Err(f),
            None => written,
        }
    }

    async fn size(&self, key: &str) -> Result<u64, DataError> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(DataError::NotFound(key.to_string()))
            }
            Err(e) => Err(DataError::Io(e)),
        }
    }

    async fn get(&self, key: &str, offset: u64, len: Option<u64>) -> Result<ByteStream, DataError> {
        let path = self.path(key)?;
        match oxstack_common::file::read_stream(path, offset, len).await {
            Ok(stream) => Ok(Box::pin(stream)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(DataError::NotFound(key.to_string()))
            }
            Err(e) => Err(DataError::Io(e)),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), DataError> {
        let (from_path, to_path) = (self.path(from)?, self.path(to)?);
        tokio::task::spawn_blocking(move || {
            if let Some(parent) = to_path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&from_path, &to_path)?;
            if let Some(parent) = to_path.parent() {
                fsync_dir(parent)?;
            }
            Ok::<_, io::Error>(())
        })
        .await
        .map_err(|e| DataError::Io(io::Error::other(e)))?
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => DataError::NotFound(from.to_string()),
            _ => DataError::Io(e),
        })
    }

    async fn delete(&self, key: &str) -> Result<(), DataError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DataError::Io(e)),
        }
    }
}
