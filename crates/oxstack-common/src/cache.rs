//! The cache seam (token validation results, catalogs). In-process by default; memcached in
//! multi-node clouds. A cache may forget anything at any time: callers treat a miss as normal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// The cache seam.
#[async_trait]
pub trait Cache: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &str) -> Option<Vec<u8>>;
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration);
    async fn delete(&self, key: &str);
}

/// A bounded in-process cache with per-entry expiry.
#[derive(Debug)]
pub struct InProcessCache {
    entries: Mutex<HashMap<String, (Instant, Vec<u8>)>>,
    max_entries: usize,
}

impl InProcessCache {
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: Mutex::default(),
            max_entries: max_entries.max(1),
        }
    }
}

impl Default for InProcessCache {
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[async_trait]
impl Cache for InProcessCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some((until, v)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max_entries && !entries.contains_key(key) {
            entries.retain(|_, (until, _)| *until > now);
            if entries.len() >= self.max_entries {
                // TODO-performance: evict least-recently-used instead of everything.
                entries.clear();
            }
        }
        entries.insert(key.to_string(), (now + ttl, value));
    }

    async fn delete(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expiry_and_bound() {
        let c = InProcessCache::new(2);
        c.set("a", b"1".to_vec(), Duration::from_secs(60)).await;
        assert_eq!(c.get("a").await.as_deref(), Some(&b"1"[..]));
        c.set("b", b"2".to_vec(), Duration::from_millis(1)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(c.get("b").await, None);
        c.set("c", b"3".to_vec(), Duration::from_secs(60)).await;
        c.set("d", b"4".to_vec(), Duration::from_secs(60)).await;
        assert!(c.entries.lock().expect("lock").len() <= 2);
        c.delete("d").await;
        assert_eq!(c.get("d").await, None);
    }
}
