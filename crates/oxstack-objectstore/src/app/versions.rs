//! Versioned writes (Swift's `versioned_writes`): with `X-Versions-Location` an overwritten
//! object is archived and a delete restores the newest archived version ("stack" mode);
//! with `X-History-Location` overwrites and deletes both archive ("history" mode). Archived
//! versions are named `{len:03x}{name}/{timestamp}` in the archive container.

use oxstack_common::Result;

use crate::app::meta::not_found;
use crate::app::time::x_timestamp;
use crate::app::{App, now_us};
use crate::store::{Container, ListQuery, Object};

/// The listing prefix of every archived version of `name`.
pub fn version_prefix(name: &str) -> String {
    format!("{:03x}{name}/", name.len())
}

/// The name `o` is archived under.
pub fn version_name(o: &Object) -> String {
    format!("{}{}", version_prefix(&o.name), x_timestamp(o.created_at))
}

/// The container an overwrite archives into (either mode).
fn archive_location(c: &Container) -> Option<&String> {
    c.meta
        .get("x-versions-location")
        .or_else(|| c.meta.get("x-history-location"))
}

impl App {
    /// Records a row (after archiving the object it replaces when the container is
    /// versioned); the data of a replaced object that was not archived is removed.
    pub async fn object_put_versioned(
        &self,
        c: &Container,
        o: &Object,
        existing: Option<Object>,
    ) -> Result<Option<Object>> {
        let mut archived = false;
        if let (Some(loc), Some(old)) = (archive_location(c), existing.as_ref())
            && self.store.container_get(&o.account, loc).await?.is_some()
        {
            self.archive_object(old, loc).await?;
            archived = true;
        }
        let replaced = self.store.object_put(o).await?;
        if let Some(r) = &replaced
            && !(archived && existing.as_ref().is_some_and(|e| e.data_key == r.data_key))
        {
            self.drop_data(&r.data_key).await;
        }
        Ok(replaced)
    }

    /// Records `old`'s data under the versions container (the data moves, it is not copied).
    async fn archive_object(&self, old: &Object, loc: &str) -> Result<()> {
        let mut v = old.clone();
        v.container = loc.to_string();
        v.name = version_name(old);
        self.store.object_put(&v).await?;
        Ok(())
    }

    /// Deletes an object (`o`, if live) of `c`: in history mode it is archived first; in
    /// stack mode the newest archived version, if any, takes its place. 404 when there was
    /// nothing to delete or restore.
    pub async fn object_delete_versioned(
        &self,
        account: &str,
        c: &Container,
        name: &str,
        o: Option<Object>,
    ) -> Result<()> {
        if let Some(loc) = c.meta.get("x-history-location")
            && let Some(o) = &o
            && self.store.container_get(account, loc).await?.is_some()
        {
            self.archive_object(o, loc).await?;
            self.store.object_delete(account, &c.name, name).await?;
            return Ok(());
        }
        if let Some(loc) = c.meta.get("x-versions-location")
            && self.store.container_get(account, loc).await?.is_some()
        {
            let q = ListQuery {
                prefix: Some(version_prefix(name)),
                limit: 1,
                reverse: true,
                ..Default::default()
            };
            let latest = self
                .store
                .object_list(account, loc, &q, now_us())
                .await?
                .into_iter()
                .next();
            if let Some(v) = latest {
                if let Some(o) = &o {
                    self.store.object_delete(account, &c.name, name).await?;
                    self.drop_data(&o.data_key).await;
                }
                self.store.object_delete(account, loc, &v.name).await?;
                let mut restored = v.clone();
                restored.container = c.name.clone();
                restored.name = name.to_string();
                self.store.object_put(&restored).await?;
                return Ok(());
            }
        }
        if o.is_none() {
            return Err(not_found());
        }
        match self.object_remove(account, &c.name, name).await? {
            Some(_) => Ok(()),
            None => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Meta;

    #[test]
    fn versions_sort_by_name_then_time() {
        assert_eq!(version_prefix("obj"), "003obj/");
        assert_eq!(
            version_prefix(&"x".repeat(300)),
            format!("12c{}/", "x".repeat(300))
        );
        let o = Object {
            account: "AUTH_a".into(),
            container: "c".into(),
            name: "a/b".into(),
            size: 1,
            etag: String::new(),
            content_type: String::new(),
            created_at: 1_700_000_000_123_456,
            delete_at: None,
            data_key: String::new(),
            meta: Meta::new(),
        };
        assert_eq!(version_name(&o), "003a/b/1700000000.12345");
        // "003obj/" does not prefix the versions of "obj/x" ("005obj/x/...").
        assert!(
            !version_name(&Object {
                name: "obj/x".into(),
                ..o
            })
            .starts_with(&version_prefix("obj"))
        );
    }
}
