//! Swift's `bulk` middleware: deleting many objects and containers in one request, and
//! creating objects from a tar archive. Failures of single items are collected, not raised.

use oxstack_common::Result;
use oxstack_common::context::RequestContext;

use crate::app::meta::{Headers, check_container_name, new_object};
use crate::app::{App, Op, now_us, once, tar};
use crate::store::{Container, ContainerDelete, Meta};

/// What a bulk request did: counts and the items that failed (`path`, `status reason`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Deleted or created items.
    pub done: usize,
    pub not_found: usize,
    pub errors: Vec<(String, String)>,
}

/// `container` or `container/object` of one bulk delete line (percent-decoded).
pub fn bulk_path(line: &str) -> (String, Option<String>) {
    let p = percent_encoding::percent_decode_str(line)
        .decode_utf8_lossy()
        .into_owned();
    let p = p.trim_start_matches('/');
    match p.split_once('/') {
        Some((c, o)) => (c.to_string(), Some(o.to_string())),
        None => (p.to_string(), None),
    }
}

impl App {
    /// Deletes each `container[/object]` line of `text` the caller may delete (empty
    /// containers only).
    pub async fn bulk_delete(
        &self,
        ctx: &RequestContext,
        account: &str,
        text: &str,
    ) -> Result<BulkOutcome> {
        let mut out = BulkOutcome::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (cn, on) = bulk_path(line);
            let c = self.store.container_get(account, &cn).await?;
            let op = if on.is_some() {
                Op::ObjectWrite
            } else {
                Op::Owner
            };
            if self
                .authorize(ctx, account, op, c.as_ref().map(|c| &c.meta))
                .is_err()
            {
                out.errors
                    .push((line.to_string(), "403 Forbidden".to_string()));
                continue;
            }
            let Some(c) = c else {
                out.not_found += 1;
                continue;
            };
            match on {
                Some(o) => match self.object_remove(account, &c.name, &o).await? {
                    Some(_) => out.done += 1,
                    None => out.not_found += 1,
                },
                None => {
                    let mut orphans = Vec::new();
                    match self
                        .store
                        .container_delete(account, &c.name, now_us(), &mut orphans)
                        .await?
                    {
                        ContainerDelete::Deleted => out.done += 1,
                        ContainerDelete::NotFound => out.not_found += 1,
                        ContainerDelete::NotEmpty => {
                            out.errors.push((line.to_string(), "409 Conflict".into()))
                        }
                    }
                    for k in orphans {
                        self.drop_data(&k).await;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Stores each file `container/object` of a tar archive as an object, creating
    /// containers as needed (the caller owns the account).
    pub async fn extract_archive(&self, account: &str, archive: &[u8]) -> Result<BulkOutcome> {
        let mut out = BulkOutcome::default();
        for (path, bytes) in tar::entries(archive)? {
            let path = path.trim_start_matches("./").trim_start_matches('/');
            let Some((cn, on)) = path.split_once('/') else {
                continue;
            };
            if on.is_empty() || check_container_name(cn).is_err() {
                out.errors
                    .push((path.to_string(), "400 Bad Request".to_string()));
                continue;
            }
            let now = now_us();
            let c = match self.store.container_get(account, cn).await? {
                Some(c) => c,
                None => {
                    let c = Container {
                        account: account.to_string(),
                        name: cn.to_string(),
                        created_at: now,
                        updated_at: now,
                        meta: Meta::new(),
                    };
                    self.store.container_create(&c).await?;
                    c
                }
            };
            let new = new_object(&self.config, &Headers::default(), on, None, now)?;
            let len = bytes.len() as u64;
            match self
                .object_store(account, &c, on, new, once(bytes), Some(len), None)
                .await
            {
                Ok(_) => out.done += 1,
                Err(e) => out
                    .errors
                    .push((path.to_string(), format!("{} {}", e.status(), e.message))),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_paths() {
        assert_eq!(bulk_path("/c"), ("c".to_string(), None));
        assert_eq!(
            bulk_path("c/a%2Fb/c"),
            ("c".to_string(), Some("a/b/c".to_string()))
        );
        assert_eq!(bulk_path("c/"), ("c".to_string(), Some(String::new())));
    }
}
