//! Accounts: they exist implicitly (Swift's account autocreate); owners read their
//! statistics and listing and set metadata, reseller admins also quotas.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};

use crate::app::containers::Listed;
use crate::app::meta::{self, ACCOUNT_SYS, Headers, bad};
use crate::app::{App, now_us, quota};
use crate::store::{Account, Container, ListQuery, Stats};

/// An account's row and totals.
#[derive(Debug)]
pub struct AccountInfo {
    pub account: Account,
    pub containers: i64,
    pub stats: Stats,
}

/// Folds the containers of a listing page whose names (after `prefix`) hold `delimiter`
/// into one `subdir` entry each.
pub fn fold_containers(
    rows: Vec<(Container, Stats)>,
    prefix: &str,
    delimiter: Option<&str>,
) -> Vec<Listed<(Container, Stats)>> {
    let mut out = Vec::new();
    let mut seen_subdirs: Vec<String> = Vec::new();
    for (c, s) in rows {
        if let Some(d) = delimiter {
            let rest = &c.name[prefix.len().min(c.name.len())..];
            if let Some(i) = rest.find(d) {
                let sub = format!(
                    "{}{}",
                    &c.name[..c.name.len() - rest.len()],
                    &rest[..i + d.len()]
                );
                if !seen_subdirs.contains(&sub) {
                    out.push(Listed::Subdir(sub.clone()));
                    seen_subdirs.push(sub);
                }
                continue;
            }
        }
        out.push(Listed::Item((c, s)));
    }
    out
}

impl App {
    /// An account's row (created on first use) and totals; owners only (the caller checks).
    pub async fn account_info(&self, account: &str) -> Result<AccountInfo> {
        let now = now_us();
        let acct = self.store.account_ensure(account, now).await?;
        let (containers, stats) = self.store.account_stats(account, now).await?;
        Ok(AccountInfo {
            account: acct,
            containers,
            stats,
        })
    }

    /// One page of an account's containers, folded at `delimiter`.
    pub async fn account_listing(
        &self,
        account: &str,
        lq: &ListQuery,
        delimiter: Option<&str>,
    ) -> Result<Vec<Listed<(Container, Stats)>>> {
        let rows = self.store.container_list(account, lq, now_us()).await?;
        Ok(fold_containers(
            rows,
            lq.prefix.as_deref().unwrap_or_default(),
            delimiter,
        ))
    }

    /// An account POST: metadata, and quotas for reseller admins (403 for others).
    pub async fn account_update(
        &self,
        ctx: &RequestContext,
        account: &str,
        h: &Headers<'_>,
    ) -> Result<()> {
        let now = now_us();
        let mut acct = self.store.account_ensure(account, now).await?;
        let touches_quota = h.0.iter().any(|(k, _)| quota::touches_account_quota(k));
        if touches_quota && !self.may_set_quota(ctx) {
            return Err(Error::forbidden("Forbidden"));
        }
        if let Some(q) = h.get("x-account-meta-quota-bytes")
            && !q.is_empty()
            && q.parse::<i64>().is_err()
        {
            return Err(bad("Invalid quota"));
        }
        meta::apply(&self.config, &mut acct.meta, h, "account", ACCOUNT_SYS)?;
        self.store
            .account_meta_set(account, &acct.meta, now)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Meta;

    fn row(name: &str) -> (Container, Stats) {
        let c = Container {
            account: "AUTH_a".into(),
            name: name.into(),
            created_at: 0,
            updated_at: 0,
            meta: Meta::new(),
        };
        (c, Stats::default())
    }

    fn names(l: &[Listed<(Container, Stats)>]) -> Vec<String> {
        l.iter()
            .map(|e| match e {
                Listed::Item((c, _)) => c.name.clone(),
                Listed::Subdir(s) => format!("subdir:{s}"),
            })
            .collect()
    }

    #[test]
    fn containers_fold_at_the_delimiter() {
        let rows = || ["a", "b-1", "b-2", "c-x-y"].map(row).to_vec();
        assert_eq!(names(&fold_containers(rows(), "", None)).len(), 4);
        assert_eq!(
            names(&fold_containers(rows(), "", Some("-"))),
            ["a", "subdir:b-", "subdir:c-"]
        );
        let rows = ["c-x-y", "c-x-z", "c-y"].map(row).to_vec();
        assert_eq!(
            names(&fold_containers(rows, "c-", Some("-"))),
            ["subdir:c-x-", "c-y"]
        );
    }
}
