//! The coordination seam: named locks and service liveness. In-process by default; etcd v3 in
//! multi-node clouds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// Held while a named lock is owned; dropping it releases the lock.
pub type LockGuard = Box<dyn std::any::Any + Send>;

/// The coordination seam.
#[async_trait]
pub trait Coordination: Send + Sync + std::fmt::Debug {
    /// Waits for and takes the lock `name`.
    async fn lock(&self, name: &str) -> LockGuard;
    /// Records that `member` of `group` is alive for the next `ttl`.
    async fn heartbeat(&self, group: &str, member: &str, ttl: Duration);
    /// The members of `group` whose last heartbeat has not expired.
    async fn members(&self, group: &str) -> Vec<String>;
}

/// In-process coordination.
#[derive(Debug, Default)]
pub struct InProcessCoordination {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    alive: Mutex<HashMap<(String, String), Instant>>,
}

#[async_trait]
impl Coordination for InProcessCoordination {
    async fn lock(&self, name: &str) -> LockGuard {
        let m = self
            .locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone();
        Box::new(m.lock_owned().await)
    }

    async fn heartbeat(&self, group: &str, member: &str, ttl: Duration) {
        self.alive.lock().unwrap_or_else(|p| p.into_inner()).insert(
            (group.to_string(), member.to_string()),
            Instant::now() + ttl,
        );
    }

    async fn members(&self, group: &str) -> Vec<String> {
        let now = Instant::now();
        let mut alive = self.alive.lock().unwrap_or_else(|p| p.into_inner());
        alive.retain(|_, until| *until > now);
        let mut out: Vec<String> = alive
            .keys()
            .filter(|(g, _)| g == group)
            .map(|(_, m)| m.clone())
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locks_exclude_and_liveness_expires() {
        let c = Arc::new(InProcessCoordination::default());
        let g = c.lock("x").await;
        let c2 = c.clone();
        let waiter = tokio::spawn(async move {
            let _g = c2.lock("x").await;
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        drop(g);
        waiter.await.expect("second holder gets the lock");

        c.heartbeat("compute", "h1", Duration::from_secs(60)).await;
        c.heartbeat("compute", "h2", Duration::from_millis(1)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(c.members("compute").await, vec!["h1".to_string()]);
    }
}
