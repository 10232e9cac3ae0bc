//! Account and container quotas (Swift's `account_quotas` and `container_quotas`): who may
//! set them, and how many bytes a write may still add.

use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use crate::app::{App, now_us};
use crate::store::{Container, Meta, Stats};

/// Whether a header sets or removes an account quota (reseller admins only).
pub fn touches_account_quota(name: &str) -> bool {
    name.starts_with("x-account-meta-quota-")
        || name.starts_with("x-remove-account-meta-quota-")
        || name.starts_with("x-account-quota-")
        || name.starts_with("x-remove-account-quota-")
}

/// The 413 a write beyond a quota gets.
pub(crate) fn exceeded() -> Error {
    Error::new(ErrorKind::PayloadTooLarge, "Upload exceeds quota.")
}

fn quota_of(meta: &Meta, key: &str) -> Option<i64> {
    meta.get(key).and_then(|v| v.parse().ok())
}

/// A byte and object count quota (either may be unset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub bytes: Option<i64>,
    pub count: Option<i64>,
}

impl Quota {
    /// A container's quota (`X-Container-Meta-Quota-*`).
    pub fn of_container(meta: &Meta) -> Quota {
        Quota {
            bytes: quota_of(meta, "x-container-meta-quota-bytes"),
            count: quota_of(meta, "x-container-meta-quota-count"),
        }
    }

    /// An account's quota (`X-Account-Meta-Quota-*`, or the reseller's `X-Account-Quota-Count`).
    pub fn of_account(meta: &Meta) -> Quota {
        Quota {
            bytes: quota_of(meta, "x-account-meta-quota-bytes"),
            count: quota_of(meta, "x-account-meta-quota-count")
                .or_else(|| quota_of(meta, "x-account-quota-count")),
        }
    }

    pub fn is_set(&self) -> bool {
        self.bytes.is_some() || self.count.is_some()
    }

    /// The bytes a write may add given what is `used`, at most `limit`; `None` when a new
    /// object (`adds_object`) would go past the count.
    pub fn allowance(&self, limit: u64, used: Stats, adds_object: bool) -> Option<u64> {
        if let Some(qc) = self.count
            && adds_object
            && used.count + 1 > qc
        {
            return None;
        }
        Some(match self.bytes {
            Some(qb) => limit.min((qb - used.bytes).max(0) as u64),
            None => limit,
        })
    }
}

impl App {
    /// How many bytes a write to `c` may store under the container's and the account's
    /// quotas (at most the largest object); 413 when a new object (`adds_object`) would
    /// go past a count quota.
    pub async fn write_limit(
        &self,
        account: &str,
        c: &Container,
        adds_object: bool,
    ) -> Result<u64> {
        let now = now_us();
        let mut limit = self.config.max_file_size;
        let cq = Quota::of_container(&c.meta);
        if cq.is_set() {
            let s = self.store.container_stats(account, &c.name, now).await?;
            limit = cq.allowance(limit, s, adds_object).ok_or_else(exceeded)?;
        }
        let acct_meta = self
            .store
            .account_get(account)
            .await?
            .map(|a| a.meta)
            .unwrap_or_default();
        let aq = Quota::of_account(&acct_meta);
        if aq.is_set() {
            let (_, s) = self.store.account_stats(account, now).await?;
            limit = aq.allowance(limit, s, adds_object).ok_or_else(exceeded)?;
        }
        Ok(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> Meta {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn quotas_are_read_from_metadata() {
        let q = Quota::of_container(&meta(&[
            ("x-container-meta-quota-bytes", "100"),
            ("x-container-meta-quota-count", "nope"),
        ]));
        assert_eq!(
            q,
            Quota {
                bytes: Some(100),
                count: None
            }
        );
        let q = Quota::of_account(&meta(&[("x-account-quota-count", "3")]));
        assert_eq!(q.count, Some(3));
        let q = Quota::of_account(&meta(&[
            ("x-account-meta-quota-count", "5"),
            ("x-account-quota-count", "3"),
        ]));
        assert_eq!(q.count, Some(5));
        assert!(!Quota::of_account(&Meta::new()).is_set());
    }

    #[test]
    fn allowance_counts_bytes_and_objects() {
        let used = Stats {
            count: 2,
            bytes: 70,
        };
        let q = Quota {
            bytes: Some(100),
            count: Some(3),
        };
        assert_eq!(q.allowance(1000, used, true), Some(30));
        assert_eq!(q.allowance(10, used, true), Some(10));
        let full = Stats {
            count: 3,
            bytes: 120,
        };
        assert_eq!(q.allowance(1000, full, true), None);
        // Overwriting an object adds none; bytes beyond the quota leave nothing.
        assert_eq!(q.allowance(1000, full, false), Some(0));
        assert_eq!(Quota::default().allowance(7, full, true), Some(7));
    }

    #[test]
    fn quota_headers() {
        assert!(touches_account_quota("x-account-meta-quota-bytes"));
        assert!(touches_account_quota("x-remove-account-quota-count"));
        assert!(!touches_account_quota("x-account-meta-color"));
    }
}
