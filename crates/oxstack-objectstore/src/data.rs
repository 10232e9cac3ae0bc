//! Object bytes: the [`DataStore`] seam, [`FileStore`] (files under the data dir) and
//! [`MemoryStore`] (the fake). Where an object's bytes live is chosen here only, so a ring
//! with replicas across nodes can replace it later.
//!
//! A write streams to `<root>/tmp/<key>.part` in 1 MiB batches, each hashed while it is
//! written (a large upload's batches by the md5 hub, [`oxstack_md5x::Hub`], which hashes
//! concurrent uploads together in SIMD lanes); at the end the file is fsynced, renamed to
//! `<root>/data/<aa>/<key>` and the directory fsynced.
//!
//! An upload that outgrows its first batch is large: its bytes are copied as they arrive into
//! 4 KiB-aligned 1 MiB buffers (from a pool), each hashed from there while it is written with
//! `O_DIRECT`, so that the kernel neither copies it into the page cache nor writes it back
//! later; the last buffer is padded to 4 KiB with zeros and the file cut to its size before
//! the fsync. Where `O_DIRECT` is refused (tmpfs, some network filesystems: `EINVAL`) the same
//! buffers are written through the page cache. An object that ends within its first batch is
//! written from the chunks as they arrived (one `writev`), as before.
//! Any failure removes the temporary file: an interrupted upload leaves nothing visible.
//! A crash can still leave a temporary file (removed by [`FileStore::open`]) or data that no
//! listing row names (removed by the start-up reconciliation, [`crate::app::App::reconcile_data`]).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Whether large uploads try `O_DIRECT` (tests turn it off to run the fallback).
    direct: bool,
    /// Bytes written with `O_DIRECT`, so tests can tell which path ran.
    #[cfg(test)]
    direct_bytes: std::sync::Arc<AtomicU64>,
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
            direct: true,
            #[cfg(test)]
            direct_bytes: Default::default(),
        })
    }

    /// The same store writing every upload through the page cache.
    #[cfg(test)]
    fn buffered(mut self) -> FileStore {
        self.direct = false;
        self
    }

    fn path(&self, key: &str) -> Result<PathBuf, DataError> {
        check_key(key)?;
        Ok(self.root.join("data").join(&key[..2]).join(key))
    }
}

/// How many bytes of a body are gathered before they go to a blocking thread to be written
/// (and to the md5 hub to be hashed): a hop per batch rather than per network chunk. A
/// multiple of [`ALIGN`], so a large upload's batches all start at aligned offsets.
const WRITE_BATCH: usize = 1 << 20;

/// Batches smaller than this are hashed on the blocking thread that writes them (a small
/// object: one hop in all); larger ones go to the md5 hub, which hashes concurrent uploads
/// together in SIMD lanes while the batch is written.
const HUB_MIN: usize = 64 << 10;

/// The alignment `O_DIRECT` wants of buffers, offsets and lengths: the page size, which is a
/// multiple of every common disk's logical block size.
const ALIGN: usize = 4096;

/// Aligned buffers kept for reuse at most (1 MiB each): enough for a few uploads, each with
/// one buffer filling, one being written and hashed.
const POOL_MAX: usize = 16;

/// Free aligned-buffer allocations (each `WRITE_BATCH + ALIGN` bytes), so a large upload does
/// not fault in fresh pages for every batch.
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A pool allocation, given back to [`POOL`] when dropped.
#[derive(Debug)]
struct Pooled(Vec<u8>);

impl Pooled {
    fn take() -> Pooled {
        let reused = POOL.lock().ok().and_then(|mut p| p.pop());
        Pooled(reused.unwrap_or_else(|| vec![0; WRITE_BATCH + ALIGN]))
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Ok(mut pool) = POOL.lock()
            && pool.len() < POOL_MAX
        {
            pool.push(std::mem::take(&mut self.0));
        }
    }
}

/// Up to [`WRITE_BATCH`] bytes of a large upload at a 4 KiB-aligned address.
#[derive(Debug)]
struct AlignedBuf {
    mem: Pooled,
    /// Where the aligned area starts in `mem`.
    off: usize,
    len: usize,
}

impl AlignedBuf {
    fn new() -> AlignedBuf {
        let mem = Pooled::take();
        // `align_offset` may in theory give up (usize::MAX): then the buffer is unaligned and
        // its `O_DIRECT` write fails with EINVAL, which falls back to a buffered write.
        let off = match mem.0.as_ptr().align_offset(ALIGN) {
            o if o <= ALIGN => o,
            _ => 0,
        };
        AlignedBuf { mem, off, len: 0 }
    }

    /// Copies as much of `data` as fits; returns how much that was.
    fn fill(&mut self, data: &[u8]) -> usize {
        let n = (WRITE_BATCH - self.len).min(data.len());
        let at = self.off + self.len;
        self.mem.0[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    fn is_full(&self) -> bool {
        self.len == WRITE_BATCH
    }

    /// The bytes padded with zeros to a multiple of [`ALIGN`] (what an `O_DIRECT` write
    /// takes), and how many of them are data.
    fn freeze(mut self) -> (Bytes, usize) {
        let padded = self.len.next_multiple_of(ALIGN);
        let (start, len) = (self.off + self.len, self.len);
        self.mem.0[start..self.off + padded].fill(0);
        let end = self.off + padded;
        (Bytes::from_owner(Frozen { buf: self, end }), len)
    }
}

/// A filled [`AlignedBuf`] shared by its writer and the md5 hub; back to the pool when both
/// are done with it.
struct Frozen {
    buf: AlignedBuf,
    end: usize,
}

impl AsRef<[u8]> for Frozen {
    fn as_ref(&self) -> &[u8] {
        &self.buf.mem.0[self.buf.off..self.end]
    }
}

/// A batch to write.
enum Work {
    /// Chunks as they arrived from the network (a small object), written with one `writev`.
    Chunks(Vec<Bytes>, usize),
    /// A large upload's aligned buffer: `len` bytes of data, then zeros to a multiple of
    /// [`ALIGN`].
    Aligned(Bytes, usize),
}

impl Work {
    fn len(&self) -> usize {
        match self {
            Work::Chunks(_, len) | Work::Aligned(_, len) => *len,
        }
    }

    /// The data bytes, to hash.
    fn data(&self) -> Vec<Bytes> {
        match self {
            Work::Chunks(c, _) => c.clone(),
            Work::Aligned(b, len) => vec![b.slice(..*len)],
        }
    }
}

/// The file an upload is going to, moved to a blocking thread for each batch. The file is
/// created with the first batch, so a small object needs one hop in all (create, write, sync,
/// rename).
#[derive(Debug)]
struct Upload {
    tmp: PathBuf,
    file: Option<std::fs::File>,
    /// Whether aligned batches may try `O_DIRECT` (set by the store).
    try_direct: bool,
    /// Whether `file` was opened with `O_DIRECT`.
    direct: bool,
    /// Data bytes written by [`Upload::write_aligned`] (the next batch's offset).
    pos: u64,
    /// Whether the file holds zero padding past `pos` (cut by [`Upload::finish`]).
    padded: bool,
    #[cfg(test)]
    direct_bytes: std::sync::Arc<AtomicU64>,
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

    /// Creates the file, with `O_DIRECT` when allowed and the filesystem takes it.
    fn create(&mut self) -> io::Result<std::fs::File> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(target_os = "linux")]
        if self.try_direct {
            use std::os::unix::fs::OpenOptionsExt as _;
            match opts.clone().custom_flags(libc::O_DIRECT).open(&self.tmp) {
                Ok(f) => {
                    self.direct = true;
                    return Ok(f);
                }
                // tmpfs and some others refuse the flag: write through the page cache.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                Err(e) => return Err(e),
            }
        }
        opts.open(&self.tmp)
    }

    /// Writes an aligned batch at the end of what is written: all of `buf` (data and padding)
    /// with `O_DIRECT`, the `len` data bytes otherwise. Only the last batch may be shorter
    /// than [`WRITE_BATCH`], so every `O_DIRECT` write starts at an aligned offset.
    fn write_aligned(&mut self, buf: &[u8], len: usize) -> io::Result<()> {
        use std::os::unix::fs::FileExt as _;
        if self.file.is_none() {
            let f = self.create()?;
            self.file = Some(f);
        }
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| io::Error::other("no file"))?;
        if len == 0 {
            return Ok(());
        }
        if self.direct {
            match file.write_all_at(buf, self.pos) {
                Ok(()) => {
                    #[cfg(test)]
                    self.direct_bytes.fetch_add(len as u64, Ordering::Relaxed);
                    self.pos += len as u64;
                    self.padded = len < buf.len();
                    return Ok(());
                }
                // The filesystem took the flag but not this write (a larger block size than
                // ALIGN, say): go on through the page cache, from this batch.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.file = Some(std::fs::OpenOptions::new().write(true).open(&self.tmp)?);
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| io::Error::other("no file"))?;
        file.write_all_at(&buf[..len], self.pos)?;
        self.pos += len as u64;
        Ok(())
    }

    /// Syncs the data, moves it to `dest` and syncs the directory (and a new fan-out
    /// directory's parent).
    fn finish(&mut self, dest: &Path) -> io::Result<()> {
        self.write(&[])?;
        if let Some(f) = self.file.take() {
            if self.padded {
                // The last O_DIRECT write's zero padding: cut before the fsync, which makes
                // the size durable with the data.
                f.set_len(self.pos)?;
            }
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
    /// Starts writing (and hashing) `work`; `last` also syncs and renames to `dest`.
    fn start(
        mut up: Upload,
        md5: Md5,
        work: Work,
        last: Option<PathBuf>,
    ) -> Result<Busy, DataError> {
        let data = work.data();
        let (inline, hub) = if work.len() < HUB_MIN {
            (Some((md5, data)), None)
        } else {
            let hub = oxstack_md5x::Hub::global().map_err(DataError::Io)?;
            (None, Some(hub.submit(md5, data)))
        };
        let write = tokio::task::spawn_blocking(move || {
            let md5 = inline.map(|(mut m, data)| {
                data.iter().for_each(|c| m.update(c));
                m
            });
            let r = match &work {
                Work::Chunks(chunks, _) => up.write(chunks),
                Work::Aligned(buf, len) => up.write_aligned(buf, *len),
            }
            .and_then(|()| match &last {
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

/// An upload's write pipeline: at most one batch is being written and hashed while the next
/// one is gathered from the network.
struct Pipeline {
    idle: Option<(Upload, Md5)>,
    busy: Option<Busy>,
}

impl Pipeline {
    /// Waits for the batch in flight, then starts `work` (the last one with `last`).
    async fn hand_off(&mut self, work: Work, last: Option<PathBuf>) -> Result<(), DataError> {
        let (up, md5) = match self.busy.take() {
            Some(b) => b.wait().await?,
            None => self
                .idle
                .take()
                .ok_or_else(|| DataError::Io(io::Error::other("no upload")))?,
        };
        self.busy = Some(Busy::start(up, md5, work, last)?);
        Ok(())
    }

    /// Writes the last batch, syncs and renames; the md5 of the whole object.
    async fn finish(&mut self, work: Work, dest: PathBuf) -> Result<Md5, DataError> {
        self.hand_off(work, Some(dest)).await?;
        let b = self
            .busy
            .take()
            .ok_or_else(|| DataError::Io(io::Error::other("no upload")))?;
        Ok(b.wait().await?.1)
    }
}

/// Copies `data` into `buf`, handing every buffer that fills to the pipeline.
async fn gather(
    pipe: &mut Pipeline,
    buf: &mut AlignedBuf,
    mut data: &[u8],
) -> Result<(), DataError> {
    while !data.is_empty() {
        let n = buf.fill(data);
        data = &data[n..];
        if buf.is_full() {
            let (bytes, len) = std::mem::replace(buf, AlignedBuf::new()).freeze();
            pipe.hand_off(Work::Aligned(bytes, len), None).await?;
        }
    }
    Ok(())
}

#[async_trait]
impl DataStore for FileStore {
    async fn put(&self, key: &str, mut body: ByteStream, limit: u64) -> Result<Written, DataError> {
        let dest = self.path(key)?;
        let tmp = self.root.join("tmp").join(format!("{key}.part"));
        let up = Upload {
            tmp: tmp.clone(),
            file: None,
            try_direct: self.direct,
            direct: false,
            pos: 0,
            padded: false,
            #[cfg(test)]
            direct_bytes: self.direct_bytes.clone(),
        };
        let mut pipe = Pipeline {
            idle: Some((up, Md5::new())),
            busy: None,
        };
        let result = async {
            // The first batch is gathered as the chunks arrive; once it is full the upload is
            // large and its bytes go into aligned buffers.
            let (mut chunks, mut chunks_len, mut size) = (Vec::new(), 0usize, 0u64);
            let mut aligned: Option<AlignedBuf> = None;
            loop {
                let chunk = body.next().await.transpose().map_err(DataError::Input)?;
                let Some(chunk) = chunk else { break };
                size += chunk.len() as u64;
                if size > limit {
                    return Err(DataError::TooLarge { limit });
                }
                match &mut aligned {
                    Some(buf) => gather(&mut pipe, buf, &chunk).await?,
                    None => {
                        chunks_len += chunk.len();
                        chunks.push(chunk);
                        if chunks_len >= WRITE_BATCH {
                            let mut buf = AlignedBuf::new();
                            for c in std::mem::take(&mut chunks) {
                                gather(&mut pipe, &mut buf, &c).await?;
                            }
                            aligned = Some(buf);
                        }
                    }
                }
            }
            let work = match aligned {
                Some(buf) => {
                    let (bytes, len) = buf.freeze();
                    Work::Aligned(bytes, len)
                }
                None => Work::Chunks(chunks, chunks_len),
            };
            let md5 = pipe.finish(work, dest.clone()).await?;
            Ok(Written {
                size,
                md5: md5.finalize_hex(),
            })
        }
        .await;
        if result.is_err() {
            // A batch still being written may create the file: let it finish first.
            if let Some(b) = pipe.busy.take() {
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

    /// Deterministic bytes that differ at every offset a misplaced tail would show.
    fn pattern(seed: usize, len: usize) -> Bytes {
        let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Bytes::from(
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect::<Vec<u8>>(),
        )
    }

    fn chunked(data: &Bytes, chunk: usize) -> Vec<io::Result<Bytes>> {
        (0..data.len())
            .step_by(chunk)
            .map(|at| Ok(data.slice(at..(at + chunk).min(data.len()))))
            .collect()
    }

    /// Directories to test in: /tmp (tmpfs on some machines), one on the disk the build is on
    /// (where `O_DIRECT` works on this project's machines) and /dev/shm (tmpfs) when present.
    /// With whether the filesystem takes `O_DIRECT` writes.
    fn test_dirs() -> Vec<(tempfile::TempDir, bool)> {
        let disk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp");
        std::fs::create_dir_all(&disk).expect("target/tmp");
        let mut dirs = vec![
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir_in(&disk).expect("tempdir on disk"),
        ];
        if Path::new("/dev/shm").is_dir()
            && let Ok(d) = tempfile::tempdir_in("/dev/shm")
        {
            dirs.push(d);
        }
        dirs.into_iter()
            .map(|d| {
                use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
                let probe = d.path().join("probe");
                let mut buf = AlignedBuf::new();
                buf.fill(&[1; ALIGN]);
                let (bytes, _) = buf.freeze();
                let direct = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .custom_flags(libc::O_DIRECT)
                    .open(&probe)
                    .and_then(|f| f.write_all_at(&bytes, 0))
                    .is_ok();
                let _ = std::fs::remove_file(&probe);
                (d, direct)
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sizes_around_every_boundary_round_trip_direct_and_buffered() {
        const M: usize = WRITE_BATCH;
        let sizes = [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            M - 1,
            M,
            M + 1,
            M + ALIGN - 1,
            M + ALIGN,
            M + ALIGN + 1,
            2 * M - 1,
            3 * M + 12_345,
        ];
        let data: Vec<(Bytes, String)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let d = pattern(i + 1, n);
                let md5 = hex::encode(md5::Md5::digest(&d));
                (d, md5)
            })
            .collect();
        let mut direct_seen = false;
        for (dir, fs_direct) in test_dirs() {
            for direct in [true, false] {
                let mut store = FileStore::open(dir.path()).expect("open");
                if !direct {
                    store = store.buffered();
                }
                for (i, (d, md5)) in data.iter().enumerate() {
                    // Odd chunk sizes, and one chunk larger than a batch.
                    let chunk = [7919, 65_536 + 3, 3 * M / 2][i % 3];
                    let key = format!("obj{i}");
                    let w = store
                        .put(
                            &key,
                            Box::pin(futures_util::stream::iter(chunked(d, chunk))),
                            u64::MAX,
                        )
                        .await
                        .expect("put");
                    let at = format!("{} size {} direct {direct}", dir.path().display(), d.len());
                    assert_eq!(w.size, d.len() as u64, "{at}");
                    assert_eq!(&w.md5, md5, "{at}");
                    let on_disk = std::fs::metadata(store.path(&key).expect("path")).expect("stat");
                    assert_eq!(on_disk.len(), d.len() as u64, "{at}");
                    let back = collect(store.get(&key, 0, None).await.expect("get")).await;
                    assert!(back == d[..], "{at}: read back differs");
                }
                let wrote_direct = store.direct_bytes.load(Ordering::Relaxed);
                if direct && fs_direct {
                    // Every batch of the large objects: all but the first-batch-only ones.
                    assert!(
                        wrote_direct > 0,
                        "{}: no O_DIRECT write",
                        dir.path().display()
                    );
                    direct_seen = true;
                } else {
                    assert_eq!(wrote_direct, 0, "{}", dir.path().display());
                }
                assert_eq!(
                    std::fs::read_dir(dir.path().join("tmp"))
                        .expect("tmp")
                        .count(),
                    0
                );
            }
        }
        // The build's own disk takes O_DIRECT on the machines this project runs on; say so
        // loudly rather than pass without testing that path.
        assert!(direct_seen, "no test directory took O_DIRECT writes");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interrupted_large_upload_leaves_no_file() {
        for (dir, _) in test_dirs() {
            for direct in [true, false] {
                let mut store = FileStore::open(dir.path()).expect("open");
                if !direct {
                    store = store.buffered();
                }
                let d = pattern(9, 5 * WRITE_BATCH / 2 + 77);
                let mut parts = chunked(&d, 10_007);
                parts.push(Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone")));
                parts.push(Ok(Bytes::from_static(b"never")));
                let r = store
                    .put(
                        "cut01",
                        Box::pin(futures_util::stream::iter(parts)),
                        u64::MAX,
                    )
                    .await;
                assert!(matches!(r, Err(DataError::Input(_))), "{r:?}");
                assert!(matches!(
                    store.get("cut01", 0, None).await,
                    Err(DataError::NotFound(_))
                ));
                assert_eq!(
                    std::fs::read_dir(dir.path().join("tmp"))
                        .expect("tmp")
                        .count(),
                    0,
                    "{} direct {direct}",
                    dir.path().display()
                );
                assert!(store.keys().await.expect("keys").is_empty());
            }
        }
    }
}
