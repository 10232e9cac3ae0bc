//! What the store said about users, scopes and catalogs, kept in this process while the
//! revocation epoch stays the same (every change that could alter a token's meaning moves
//! the epoch: see `App::invalidate_tokens`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The epoch the entries were made under, and the entries.
type Entries<T> = (Vec<u8>, HashMap<String, Arc<T>>);

/// A map that empties itself whenever it is used under a new epoch, and when it is full.
#[derive(Debug)]
pub struct EpochMemo<T> {
    inner: Mutex<Entries<T>>,
    capacity: usize,
}

impl<T> EpochMemo<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new((Vec::new(), HashMap::new())),
            capacity,
        }
    }

    pub fn get(&self, epoch: &[u8], key: &str) -> Option<Arc<T>> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 != epoch {
            g.0 = epoch.to_vec();
            g.1.clear();
            return None;
        }
        g.1.get(key).cloned()
    }

    pub fn insert(&self, epoch: &[u8], key: String, value: Arc<T>) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 != epoch {
            g.0 = epoch.to_vec();
            g.1.clear();
        }
        if g.1.len() >= self.capacity {
            g.1.clear();
        }
        g.1.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_epoch_or_a_full_map_forgets_everything() {
        let m = EpochMemo::new(2);
        m.insert(b"e1", "a".into(), Arc::new(1));
        assert_eq!(m.get(b"e1", "a").as_deref(), Some(&1));
        assert_eq!(m.get(b"e2", "a"), None);
        assert_eq!(m.get(b"e1", "a"), None, "gone after the epoch moved");
        m.insert(b"e1", "a".into(), Arc::new(1));
        m.insert(b"e1", "b".into(), Arc::new(2));
        m.insert(b"e1", "c".into(), Arc::new(3));
        assert_eq!(m.get(b"e1", "a"), None);
        assert_eq!(m.get(b"e1", "c").as_deref(), Some(&3));
    }
}
