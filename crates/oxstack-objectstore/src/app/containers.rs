//! Containers: creation and metadata (ACLs, versioning, quotas as metadata), deletion of
//! empty containers, and object listings folded at a delimiter.

use oxstack_common::{Error, Result};

use crate::app::meta::{self, CONTAINER_SYS, Headers, not_found};
use crate::app::{App, now_us};
use crate::store::{Container, ContainerDelete, ListQuery, ObjectEntry, Stats};

/// A listing entry: an item, or a `subdir` standing for every name under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed<T> {
    Item(T),
    Subdir(String),
}

/// The marker that continues a listing after `subdir`, skipping everything under it.
pub fn marker_after_subdir(subdir: &str, reverse: bool) -> String {
    if reverse {
        subdir.to_string()
    } else {
        format!("{subdir}\u{10FFFF}")
    }
}

/// The subdir `name` falls in: up to and including the first `delimiter` after the
/// first `prefix_len` bytes.
pub fn subdir_of(name: &str, prefix_len: usize, delimiter: &str) -> Option<String> {
    let i = name.get(prefix_len..).and_then(|r| r.find(delimiter))?;
    Some(name[..prefix_len + i + delimiter.len()].to_string())
}

impl App {
    /// A container, if it exists.
    pub async fn container_get(&self, account: &str, name: &str) -> Result<Option<Container>> {
        Ok(self.store.container_get(account, name).await?)
    }

    /// A container's object count and bytes (expired objects not counted).
    pub async fn container_stats(&self, c: &Container) -> Result<Stats> {
        Ok(self
            .store
            .container_stats(&c.account, &c.name, now_us())
            .await?)
    }

    /// A container PUT: creates it (true) or updates its metadata (false).
    pub async fn container_put(
        &self,
        account: &str,
        name: &str,
        existing: Option<Container>,
        h: &Headers<'_>,
    ) -> Result<bool> {
        let now = now_us();
        let mut m = existing
            .as_ref()
            .map(|c| c.meta.clone())
            .unwrap_or_default();
        meta::apply(&self.config, &mut m, h, "container", CONTAINER_SYS)?;
        meta::check_versions(&m)?;
        if existing.is_some() {
            self.store
                .container_meta_set(account, name, &m, now)
                .await?;
            return Ok(false);
        }
        Ok(self
            .store
            .container_create(&Container {
                account: account.to_string(),
                name: name.to_string(),
                created_at: now,
                updated_at: now,
                meta: m,
            })
            .await?)
    }

    /// A container POST: updates its metadata.
    pub async fn container_update(&self, c: &Container, h: &Headers<'_>) -> Result<()> {
        let mut m = c.meta.clone();
        meta::apply(&self.config, &mut m, h, "container", CONTAINER_SYS)?;
        meta::check_versions(&m)?;
        self.store
            .container_meta_set(&c.account, &c.name, &m, now_us())
            .await?;
        Ok(())
    }

    /// Deletes an empty container (404 when there is none, 409 when it holds objects).
    pub async fn container_delete(&self, account: &str, name: &str) -> Result<()> {
        let mut orphans = Vec::new();
        match self
            .store
            .container_delete(account, name, now_us(), &mut orphans)
            .await?
        {
            ContainerDelete::Deleted => {
                for k in orphans {
                    self.drop_data(&k).await;
                }
                Ok(())
            }
            ContainerDelete::NotFound => Err(not_found()),
            ContainerDelete::NotEmpty => Err(Error::conflict(
                "There was a conflict when trying to complete your request.",
            )),
        }
    }

    /// Up to `lq.limit` entries of a container's listing; with a delimiter the names
    /// under each subdir fold into one entry, and the store is asked again past it.
    pub async fn container_listing(
        &self,
        account: &str,
        c: &Container,
        mut lq: ListQuery,
        delimiter: Option<&str>,
    ) -> Result<Vec<Listed<ObjectEntry>>> {
        let limit = lq.limit as usize;
        let now = now_us();
        let mut entries: Vec<Listed<ObjectEntry>> = Vec::new();
        let prefix_len = lq.prefix.as_deref().unwrap_or_default().len();
        'outer: loop {
            let rows = self
                .store
                .object_entries(account, &c.name, &lq, now)
                .await?;
            if rows.is_empty() {
                break;
            }
            let full = rows.len() as u32 == lq.limit;
            for o in rows {
                if entries.len() >= limit {
                    break 'outer;
                }
                if let Some(d) = delimiter
                    && let Some(sub) = subdir_of(&o.name, prefix_len, d)
                {
                    if entries
                        .last()
                        .is_some_and(|e| matches!(e, Listed::Subdir(s) if *s == sub))
                    {
                        continue;
                    }
                    lq.marker = Some(marker_after_subdir(&sub, lq.reverse));
                    entries.push(Listed::Subdir(sub));
                    continue 'outer;
                }
                lq.marker = Some(o.name.clone());
                entries.push(Listed::Item(o));
            }
            if !full {
                break;
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdirs_and_markers() {
        assert_eq!(subdir_of("a/b/c", 0, "/").as_deref(), Some("a/"));
        assert_eq!(subdir_of("a/b/c", 2, "/").as_deref(), Some("a/b/"));
        assert_eq!(subdir_of("a/b", 2, "/"), None);
        assert_eq!(subdir_of("ab", 5, "/"), None);
        assert_eq!(subdir_of("x--y", 0, "--").as_deref(), Some("x--"));
        assert_eq!(marker_after_subdir("a/", true), "a/");
        assert!(marker_after_subdir("a/", false).as_str() > "a/\u{FFFF}z");
    }
}
