//! Object bytes: the [`DataStore`] seam, [`FileStore`] (files under the data dir) and
//! [`MemoryStore`] (the fake). Where an object's bytes live is chosen here only, so a ring
//! with replicas across nodes can replace it later.
//!
//! A write streams to `<root>/tmp/<key>.part` computing the md5 as the bytes go by; at the
//! end the file is fsynced, renamed to `<root>/data/<aa>/<key>` and the directory fsynced.
//! Any failure removes the temporary file: an interrupted upload leaves nothing visible.
//! A crash can still leave a temporary file (removed by [`FileStore::open`]) or data that no
//! listing row names (removed by the start-up reconciliation, [`crate::app::App::reconcile_data`]).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use md5::Digest as _;

/// A stream of data chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Why a data operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// More than the allowed bytes arrived.
    #[error("the data is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The incoming stream failed (client went away).
    #[error("reading the incoming data failed")]
    Input(#[source] io::Error),
    #[error("no data under {0}")]
    NotFound(String),
    #[error("invalid data key {0:?}")]
    BadKey(String),
    #[error("object store I/O failed")]
    Io(#[source] io::Error),
}

/// A completed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    /// md5, lowercase hex.
    pub md5: String,
}

/// Where object bytes live. Keys are uuids chosen by the caller.
#[async_trait]
pub trait DataStore: Send + Sync + std::fmt::Debug {
    /// Writes `body` under `key` (at most `limit` bytes), durable before it returns.
    async fn put(&self, key: &str, body: ByteStream, limit: u64) -> Result<Written, DataError>;
    /// Reads `len` bytes (all when `None`) from `offset`.
    async fn get(&self, key: &str, offset: u64, len: Option<u64>) -> Result<ByteStream, DataError>;
    /// Removes the data (missing data is not an error).
    async fn delete(&self, key: &str) -> Result<(), DataError>;
    /// Every key that has data (for the start-up reconciliation with the listing database).
    async fn keys(&self) -> Result<Vec<String>, DataError>;
}

fn check_key(key: &str) -> Result<(), DataError> {
    if key.len() < 3
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(DataError::BadKey(key.into()));
    }
    Ok(())
}

/// Object data as files under `root`.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// A store under `root`, created if missing, its temporary area emptied of leftovers from
    /// a crash. Blocking: call at start-up.
    pub fn open(root: &Path) -> io::Result<FileStore> {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        std::fs::create_dir_all(root.join("data"))?;
        for entry in std::fs::read_dir(&tmp)? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(FileStore {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, DataError> {
        check_key(key)?;
        Ok(self.root.join("data").join(&key[..2]).join(key))
    }
}

/// How many bytes of a body are gathered before they go to a blocking thread to be hashed and
/// written: a hop to the blocking pool per batch rather than per network chunk.
const WRITE_BATCH: usize = 1 << 20;

/// The file an upload is going to, moved to a blocking thread for each batch. The file is
/// created with the first batch, so a small object needs one hop in all (create, write, sync,
/// rename).
#[derive(Debug)]
struct Upload {
    tmp: PathBuf,
    file: Option<std::fs::File>,
    md5: md5::Md5,
}

impl Upload {
    fn write(&mut self, chunks: &[Bytes]) -> io::Result<()> {
        use std::io::Write as _;
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(std::fs::File::create(&self.tmp)?),
        };
        for c in chunks {
            self.md5.update(c);
            file.write_all(c)?;
        }
        Ok(())
    }

    /// Syncs the data, moves it to `dest` and syncs the directory (and a new fan-out
    /// directory's parent); returns the md5.
    fn finish(mut self, dest: &Path) -> io::Result<String> {
        self.write(&[])?;
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        if !dir.is_dir() {
            // A new fan-out directory: its own entry must be durable too.
            std::fs::create_dir_all(&dir)?;
            if let Some(parent) = dir.parent() {
                std::fs::File::open(parent)?.sync_all()?;
            }
        }
        std::fs::rename(&self.tmp, dest)?;
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(hex::encode(self.md5.finalize()))
    }
}

fn joined<T>(r: Result<T, tokio::task::JoinError>) -> Result<T, DataError> {
    r.map_err(|e| DataError::Io(io::Error::other(e)))
}

#[async_trait]
impl DataStore for FileStore {
    async fn put(&self, key: &str, mut body: ByteStream, limit: u64) -> Result<Written, DataError> {
        let dest = self.path(key)?;
        let tmp = self.root.join("tmp").join(format!("{key}.part"));
        let mut idle = Some(Upload {
            tmp: tmp.clone(),
            file: None,
            md5: md5::Md5::new(),
        });
        // At most one batch is being written while the next one is read from the network.
        let mut busy: Option<tokio::task::JoinHandle<(Upload, io::Result<()>)>> = None;
        let result = async {
            let (mut batch, mut batch_len, mut size) = (Vec::new(), 0usize, 0u64);
            loop {
                let chunk = body.next().await.transpose().map_err(DataError::Input)?;
                let end = chunk.is_none();
                if let Some(chunk) = chunk {
                    size += chunk.len() as u64;
                    if size > limit {
                        return Err(DataError::TooLarge { limit });
                    }
                    batch_len += chunk.len();
                    batch.push(chunk);
                    if batch_len < WRITE_BATCH {
                        continue;
                    }
                }
                let mut up = match busy.take() {
                    Some(task) => {
                        let (up, r) = joined(task.await)?;
                        r.map_err(DataError::Io)?;
                        up
                    }
                    None => idle
                        .take()
                        .ok_or_else(|| DataError::Io(io::Error::other("no upload")))?,
                };
                let chunks = std::mem::take(&mut batch);
                batch_len = 0;
                if end {
                    let dest = dest.clone();
                    let md5 = joined(
                        tokio::task::spawn_blocking(move || {
                            up.write(&chunks)?;
                            up.finish(&dest)
                        })
                        .await,
                    )?
                    .map_err(DataError::Io)?;
                    return Ok(Written { size, md5 });
                }
                busy = Some(tokio::task::spawn_blocking(move || {
                    let r = up.write(&chunks);
                    (up, r)
                }));
            }
        }
        .await;
        if result.is_err() {
            // A batch still being written may create the file: let it finish first.
            if let Some(task) = busy {
                let _ = task.await;
            }
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn get(&self, key: &str, offset: u64, len: Option<u64>) -> Result<ByteStream, DataError> {
        let path = self.path(key)?;
        let stream = oxstack_common::file::read_stream(path, offset, len)
            .await
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    DataError::NotFound(key.into())
                } else {
                    DataError::Io(e)
                }
            })?;
        Ok(Box::pin(stream))
    }

    async fn delete(&self, key: &str) -> Result<(), DataError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DataError::Io(e)),
        }
    }

    async fn keys(&self) -> Result<Vec<String>, DataError> {
        let data = self.root.join("data");
        tokio::task::spawn_blocking(move || -> io::Result<Vec<String>> {
            let mut keys = Vec::new();
            for fan in std::fs::read_dir(&data)? {
                let fan = fan?;
                if !fan.file_type()?.is_dir() {
                    continue;
                }
                for f in std::fs::read_dir(fan.path())? {
                    let name = f?.file_name();
                    // Only names `path` would produce: anything else is not ours to touch.
                    if let Some(k) = name.to_str()
                        && check_key(k).is_ok()
                        && k.get(..2) == fan.file_name().to_str()
                    {
                        keys.push(k.to_string());
                    }
                }
            }
            Ok(keys)
        })
        .await
        .map_err(|e| DataError::Io(io::Error::other(e)))?
        .map_err(DataError::Io)
    }
}

/// The fake: object data in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<HashMap<String, Bytes>>,
}

#[async_trait]
impl DataStore for MemoryStore {
    async fn put(&self, key: &str, mut body: ByteStream, limit: u64) -> Result<Written, DataError> {
        check_key(key)?;
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk.map_err(DataError::Input)?);
            if buf.len() as u64 > limit {
                return Err(DataError::TooLarge { limit });
            }
        }
        let w = Written {
            size: buf.len() as u64,
            md5: hex::encode(md5::Md5::digest(&buf)),
        };
        self.objects
            .lock()
            .map_err(|_| DataError::Io(io::Error::other("poisoned")))?
            .insert(key.into(), Bytes::from(buf));
        Ok(w)
    }

    async fn get(&self, key: &str, offset: u64, len: Option<u64>) -> Result<ByteStream, DataError> {
        let data = self
            .objects
            .lock()
            .map_err(|_| DataError::Io(io::Error::other("poisoned")))?
            .get(key)
            .cloned()
            .ok_or_else(|| DataError::NotFound(key.into()))?;
        let start = (offset as usize).min(data.len());
        let end = match len {
            Some(l) => (start + l as usize).min(data.len()),
            None => data.len(),
        };
        let chunk = data.slice(start..end);
        Ok(Box::pin(futures_util::stream::once(
            async move { Ok(chunk) },
        )))
    }

    async fn delete(&self, key: &str) -> Result<(), DataError> {
        self.objects
            .lock()
            .map_err(|_| DataError::Io(io::Error::other("poisoned")))?
            .remove(key);
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<String>, DataError> {
        Ok(self
            .objects
            .lock()
            .map_err(|_| DataError::Io(io::Error::other("poisoned")))?
            .keys()
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(s: ByteStream) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = s;
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.expect("chunk"));
        }
        out
    }

    fn body(parts: &[&'static [u8]]) -> ByteStream {
        let v: Vec<io::Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(futures_util::stream::iter(v))
    }

    #[tokio::test]
    async fn file_and_memory_stores_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = FileStore::open(dir.path()).expect("open");
        let stores: Vec<Box<dyn DataStore>> =
            vec![Box::new(file), Box::new(MemoryStore::default())];
        for s in stores {
            let w = s
                .put("abc123", body(&[b"hello ", b"world"]), 100)
                .await
                .expect("put");
            assert_eq!(w.size, 11);
            assert_eq!(w.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
            assert_eq!(
                collect(s.get("abc123", 0, None).await.expect("get")).await,
                b"hello world"
            );
            assert_eq!(
                collect(s.get("abc123", 6, Some(3)).await.expect("get")).await,
                b"wor"
            );
            assert!(matches!(
                s.put("toolarge", body(&[b"0123456789"]), 5).await,
                Err(DataError::TooLarge { .. })
            ));
            assert!(matches!(
                s.get("toolarge", 0, None).await,
                Err(DataError::NotFound(_))
            ));
            s.delete("abc123").await.expect("delete");
            assert!(s.get("abc123", 0, None).await.is_err());
        }
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn keys_name_only_stored_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = FileStore::open(dir.path()).expect("open");
        let memory = MemoryStore::default();
        for s in [&file as &dyn DataStore, &memory] {
            s.put("abc123", body(&[b"x"]), 10).await.expect("put");
            s.put("abd456", body(&[b""]), 10).await.expect("put");
            s.delete("abd456").await.expect("delete");
        }
        // Neither a stray name nor a key in the wrong fan-out directory is a key.
        std::fs::write(dir.path().join("data").join("ab").join("x.tmp"), b"").expect("stray");
        std::fs::create_dir_all(dir.path().join("data").join("zz")).expect("mkdir");
        std::fs::write(dir.path().join("data").join("zz").join("ab0000"), b"").expect("misplaced");
        assert_eq!(file.keys().await.expect("keys"), ["abc123"]);
        assert_eq!(memory.keys().await.expect("keys"), ["abc123"]);
    }
}
