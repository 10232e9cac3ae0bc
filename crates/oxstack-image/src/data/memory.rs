//! The fake store: image data in memory, for tests. Same contract as the file store
//! (limits, digests, nothing visible until complete), no disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;

use super::{ByteStream, DataError, DataStore, Digester, Written, check_key};

/// Image data in a map.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    objects: Arc<Mutex<HashMap<String, Bytes>>>,
}

impl MemoryStore {
    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bytes>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The keys that hold data (for tests asserting that nothing was left behind).
    pub fn keys(&self) -> Vec<String> {
        let mut k: Vec<String> = self.objects().keys().cloned().collect();
        k.sort();
        k
    }
}

#[async_trait]
impl DataStore for MemoryStore {
    fn id(&self) -> &'static str {
        "memory"
    }

    async fn put(
        &self,
        key: &str,
        mut data: ByteStream,
        max_bytes: u64,
    ) -> Result<Written, DataError> {
        check_key(key)?;
        let mut buf = BytesMut::new();
        let mut digest = Digester::default();
        while let Some(item) = data.next().await {
            let chunk = item.map_err(DataError::Input)?;
            if (buf.len() + chunk.len()) as u64 > max_bytes {
                return Err(DataError::TooLarge { limit: max_bytes });
            }
            digest.update(&chunk);
            buf.extend_from_slice(&chunk);
        }
        self.objects().insert(key.to_string(), buf.freeze());
        Ok(digest.finish())
    }

    async fn size(&self, key: &str) -> Result<u64, DataError> {
        check_key(key)?;
        self.objects()
            .get(key)
            .map(|b| b.len() as u64)
            .ok_or_else(|| DataError::NotFound(key.to_string()))
    }

    async fn get(&self, key: &str, offset: u64, len: Option<u64>) -> Result<ByteStream, DataError> {
        check_key(key)?;
        let data = self
            .objects()
            .get(key)
            .cloned()
            .ok_or_else(|| DataError::NotFound(key.to_string()))?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = match len {
            Some(l) => start.saturating_add(usize::try_from(l).unwrap_or(usize::MAX)),
            None => data.len(),
        }
        .min(data.len());
        let slice = data.slice(start..end);
        Ok(Box::pin(futures_util::stream::iter([Ok(slice)])))
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), DataError> {
        check_key(from)?;
        check_key(to)?;
        let mut objects = self.objects();
        let data = objects
            .remove(from)
            .ok_or_else(|| DataError::NotFound(from.to_string()))?;
        objects.insert(to.to_string(), data);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), DataError> {
        check_key(key)?;
        self.objects().remove(key);
        Ok(())
    }
}
