//! Image data: the [`DataStore`] seam and its implementations, [`FileStore`] (the default,
//! files under the data dir) and [`MemoryStore`] (the fake, for tests). The object store
//! becomes a second real backend later.
//!
//! A store receives data as a stream and never holds a whole image in memory. It computes
//! the digests Glance records (md5 `checksum`, sha512 `os_hash_value`) and the size while the
//! bytes go by, and makes the data visible under its key only once all of it is written and
//! durable: a failed, interrupted or oversized upload leaves nothing behind.

mod file;
pub mod format;
mod memory;

use std::fmt::Debug;
use std::io;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use md5::Digest as _;

pub use file::FileStore;
pub use memory::MemoryStore;

/// A stream of data chunks, from a client or from a store.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// How many leading bytes of an image [`Written::head`] keeps (enough for every header
/// [`format::virtual_size`] reads).
pub const HEAD_BYTES: usize = 512;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data went past the limit the caller set (size cap or quota).
    #[error("the data is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The store's medium is full.
    #[error("the image store is full")]
    Full(#[source] io::Error),
    /// The incoming stream failed (client went away, bad chunked encoding).
    #[error("reading the incoming data failed")]
    Input(#[source] io::Error),
    /// There is no data under the key.
    #[error("no data under {0}")]
    NotFound(String),
    /// A key that is not one of ours (a bug in the caller).
    #[error("invalid store key {0:?}")]
    BadKey(String),
    /// Any other failure of the medium.
    #[error("image store I/O failed")]
    Io(#[source] io::Error),
}

impl DataError {
    /// Classifies a write-side I/O error.
    pub fn from_write(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => DataError::Full(e),
            _ => DataError::Io(e),
        }
    }
}

/// What a completed write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    /// md5, lowercase hex.
    pub md5: String,
    /// sha512, lowercase hex.
    pub sha512: String,
    /// The first [`HEAD_BYTES`] bytes (fewer for a smaller image).
    pub head: Vec<u8>,
}

/// Where image data lives. Keys are chosen by the logic layer (`<image id>`,
/// `staging/<image id>`): segments of `[A-Za-z0-9._-]`, never `..`.
#[async_trait]
pub trait DataStore: Send + Sync + Debug {
    /// The store's id as `/v2/info/stores` reports it.
    fn id(&self) -> &'static str;

    /// Writes `data` under `key`, replacing what was there only once all of it is written.
    /// Fails with [`DataError::TooLarge`] as soon as more than `max_bytes` arrive; on any
    /// failure nothing is left under `key` or elsewhere.
    async fn put(&self, key: &str, data: ByteStream, max_bytes: u64) -> Result<Written, DataError>;

    /// The size of the data under `key`.
    async fn size(&self, key: &str) -> Result<u64, DataError>;

    /// Streams `len` bytes (all to the end when `None`) from `offset`.
    async fn get(&self, key: &str, offset: u64, len: Option<u64>) -> Result<ByteStream, DataError>;

    /// Moves the data under `from` to `to` (staged data into place on import).
    async fn rename(&self, from: &str, to: &str) -> Result<(), DataError>;

    /// Deletes the data under `key`; deleting what is not there succeeds.
    async fn delete(&self, key: &str) -> Result<(), DataError>;
}

/// Checks a key's shape (see [`DataStore`]).
pub fn check_key(key: &str) -> Result<(), DataError> {
    let ok = !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(DataError::BadKey(key.to_string()))
    }
}

/// The running digests of a write: md5, the size and the head on the caller's thread;
/// sha512 either there too ([`Digester::default`]) or on a thread of its own
/// ([`Digester::threaded`]), fed through a bounded channel. On one core md5 + sha512 is
/// slower than the disk; split across two, each half keeps up with it.
#[derive(Debug, Default)]
pub struct Digester {
    md5: md5::Md5,
    sha512: Sha512Half,
    size: u64,
    head: Vec<u8>,
}

#[derive(Debug)]
enum Sha512Half {
    Inline(sha2::Sha512),
    Thread {
        tx: std::sync::mpsc::SyncSender<Bytes>,
        worker: std::thread::JoinHandle<sha2::Sha512>,
    },
}

impl Default for Sha512Half {
    fn default() -> Self {
        Sha512Half::Inline(sha2::Sha512::default())
    }
}

/// Chunks queued for the sha512 thread of a [`Digester::threaded`].
const SHA512_QUEUE: usize = 8;

impl Digester {
    /// A digester whose sha512 runs on a thread of its own (inline when no thread can be
    /// started). The thread ends when the digester is finished or dropped.
    pub fn threaded() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(SHA512_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("image-sha512".into())
            .spawn(move || {
                let mut sha512 = sha2::Sha512::default();
                for chunk in rx {
                    sha512.update(&chunk);
                }
                sha512
            });
        Digester {
            sha512: match spawned {
                Ok(worker) => Sha512Half::Thread { tx, worker },
                Err(_) => Sha512Half::default(),
            },
            ..Digester::default()
        }
    }

    pub fn update(&mut self, chunk: &Bytes) {
        match &mut self.sha512 {
            Sha512Half::Inline(sha512) => sha512.update(chunk),
            Sha512Half::Thread { tx, .. } => {
                // The worker only stops once `tx` is dropped, so a send cannot fail.
                let _ = tx.send(chunk.clone());
            }
        }
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head
                .extend_from_slice(chunk.get(..take).unwrap_or_default());
        }
    }

    pub fn finish(self) -> Written {
        let sha512 = match self.sha512 {
            Sha512Half::Inline(sha512) => sha512,
            Sha512Half::Thread { tx, worker } => {
                drop(tx);
                match worker.join() {
                    Ok(sha512) => sha512,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        };
        Written {
            size: self.size,
            md5: hex::encode(self.md5.finalize()),
            sha512: hex::encode(sha512.finalize()),
            head: self.head,
        }
    }
}

#[cfg(test)]
mod tests;
