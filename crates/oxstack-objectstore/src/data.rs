//! Object bytes: the [`DataStore`] seam, [`FileStore`] (files under the data dir) and
//! [`MemoryStore`] (the fake). Where an object's bytes live is chosen here only, so a ring
//! with replicas across nodes can replace it later.
//!
//! A write streams to `<root>/tmp/<key>.part` in 1 MiB batches, each hashed while it is
//! written (a large upload's batches by the md5 hub, [`oxstack_md5x::Hub`], which hashes
//! concurrent uploads together in SIMD lanes); at the end the file is fsynced, renamed to `<root>/data/<aa>/<key>` and the directory fsynced.
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
use oxstack_md5x::Md5;

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

/// How many bytes of a body are gathered before they go to a blocking thread to be written
/// (and to the md5 hub to be hashed): a hop per batch rather than per network chunk.
const WRITE_BATCH: usize = 1 << 20;

/// Batches smaller than this are hashed on the blocking thread that writes them (a small
/// object: one hop in all); larger ones go to the md5 hub, which hashes concurrent uploads
/// together in SIMD lanes while the batch is written.
const HUB_MIN: usize = 64 << 10;

/// The file an upload is going to, moved to a blocking thread for each batch. The file is
/// created with the first batch, so a small object needs one hop in all (create, write, sync,
/// rename).
#[derive(Debug)]
struct Upload {
    tmp: PathBuf,
    file: Option<std::fs::File>,
}

impl Upload {
    /// Writes the chunks with as few system calls as the kernel allows (one `writev` for a
    /// batch, usually).
    fn write(&mut self, chunks: &[Bytes]) -> io::Result<()> {
        use std::io::{IoSlice, Write as _};
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(std::fs::File::create(&self.tmp)?),
        };
        let mut slices: Vec<IoSlice<'_>> = chunks
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| IoSlice::new(c))
            .collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match file.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Syncs the data, moves it to `dest` and syncs the directory (and a new fan-out
    /// directory's parent).
    fn finish(&mut self, dest: &Path) -> io::Result<()> {
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
        std::fs::File::open(&dir)?.sync_all()
    }
}

fn joined<T>(r: Result<T, tokio::task::JoinError>) -> Result<T, DataError> {
    r.map_err(|e| DataError::Io(io::Error::other(e)))
}

/// A batch being written on a blocking thread and hashed: on that thread (`Md5` carried in the
/// task) or on the md5 hub.
struct Busy {
    write: tokio::task::JoinHandle<(Upload, Option<Md5>, io::Result<()>)>,
    hub: Option<oxstack_md5x::Pending>,
}

impl Busy {
    /// Starts writing (and hashing) `chunks`; `last` also syncs and renames to `dest`.
    fn start(
        mut up: Upload,
        md5: Md5,
        chunks: Vec<Bytes>,
        len: usize,
        last: Option<PathBuf>,
    ) -> Result<Busy, DataError> {
        let (inline, hub) = if len < HUB_MIN {
            (Some(md5), None)
        } else {
            let hub = oxstack_md5x::Hub::global().map_err(DataError::Io)?;
            (None, Some(hub.submit(md5, chunks.clone())))
        };
        let write = tokio::task::spawn_blocking(move || {
            let md5 = inline.map(|mut m| {
                chunks.iter().for_each(|c| m.update(c));
                m
            });
            let r = up.write(&chunks).and_then(|()| match &last {
                Some(dest) => up.finish(dest),
                None => Ok(()),
            });
            (up, md5, r)
        });
        Ok(Busy { write, hub })
    }

    /// Waits for the write and the hash.
    async fn wait(self) -> Result<(Upload, Md5), DataError> {
        let (up, inline, r) = joined(self.write.await)?;
        // The hub's result is awaited even after a failed write: the state must not be dropped
        // while the hub still reads the chunks (it holds its own references, so this is only
        // about reporting the first error).
        let hashed = match self.hub {
            Some(p) => Some(
                p.wait()
                    .await
                    .map_err(|e| DataError::Io(io::Error::other(e)))?,
            ),
            None => None,
        };
        r.map_err(DataError::Io)?;
        let md5 = inline
            .or(hashed)
            .ok_or_else(|| DataError::Io(io::Error::other("no md5 state")))?;
        Ok((up, md5))
    }
}

#[async_trait]
impl DataStore for FileStore {
    async fn put(&self, key: &str, mut body: ByteStream, limit: u64) -> Result<Written, DataError> {
        let dest = self.path(key)?;
        let tmp = self.root.join("tmp").join(format!("{key}.part"));
        let mut idle = Some((
            Upload {
                tmp: tmp.clone(),
                file: None,
            },
            Md5::new(),
        ));
        // At most one batch is being written and hashed while the next one is read from the
        // network.
        let mut busy: Option<Busy> = None;
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
                let (up, md5) = match busy.take() {
                    Some(b) => b.wait().await?,
                    None => idle
                        .take()
                        .ok_or_else(|| DataError::Io(io::Error::other("no upload")))?,
                };
                let chunks = std::mem::take(&mut batch);
                let len = std::mem::take(&mut batch_len);
                if end {
                    let (_, md5) = Busy::start(up, md5, chunks, len, Some(dest.clone()))?
                        .wait()
                        .await?;
                    return Ok(Written {
                        size,
                        md5: md5.finalize_hex(),
                    });
                }
                busy = Some(Busy::start(up, md5, chunks, len, None)?);
            }
        }
        .await;
        if result.is_err() {
            // A batch still being written may create the file: let it finish first.
            if let Some(b) = busy {
                let _ = b.wait().await;
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_large_writes_hash_and_store_every_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = std::sync::Arc::new(FileStore::open(dir.path()).expect("open"));
        // Sizes around the batch and hub thresholds, in chunks of odd sizes.
        let sizes = [
            3 * WRITE_BATCH + 777,
            WRITE_BATCH,
            WRITE_BATCH - 1,
            HUB_MIN + 65,
            HUB_MIN - 1,
            2 * WRITE_BATCH + 63,
        ];
        let tasks: Vec<_> = sizes
            .into_iter()
            .enumerate()
            .map(|(i, size)| {
                let file = file.clone();
                tokio::spawn(async move {
                    let data: Vec<u8> = (0..size)
                        .map(|j| (j * 7 + i * 13 + j / 251) as u8)
                        .collect();
                    let data = Bytes::from(data);
                    let chunk = 1000 + i * 4099;
                    let parts: Vec<io::Result<Bytes>> = (0..size)
                        .step_by(chunk)
                        .map(|at| Ok(data.slice(at..(at + chunk).min(size))))
                        .collect();
                    let key = format!("big{i}");
                    let w = file
                        .put(&key, Box::pin(futures_util::stream::iter(parts)), u64::MAX)
                        .await
                        .expect("put");
                    assert_eq!(w.size, size as u64);
                    assert_eq!(w.md5, hex::encode(md5::Md5::digest(&data)), "object {i}");
                    let back = collect(file.get(&key, 0, None).await.expect("get")).await;
                    assert!(back == data, "object {i} read back differs");
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
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
