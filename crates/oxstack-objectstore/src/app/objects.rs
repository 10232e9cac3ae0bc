//! Object writes, metadata updates, copies and deletes over the store and the data store.

use std::sync::Arc;

use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use crate::app::meta::{Headers, NewObject, OBJECT_SYS, new_object, not_found};
use crate::app::{App, Op, expiry, meta, now_us, quota};
use crate::data::ByteStream;
use crate::store::{Container, Meta, Object, SYSMETA_PREFIX};

/// 422 has no [`ErrorKind`]: it travels as a marked 400 that the API turns into a 422.
pub fn unprocessable() -> Error {
    Error::bad_request("Unprocessable Entity").with_type(UNPROCESSABLE)
}

/// The type name that marks [`unprocessable`].
pub const UNPROCESSABLE: &str = "swift-422";

/// `container/object` of `X-Copy-From` or `Destination` (percent-decoded, a leading `/`
/// allowed).
pub fn parse_copy_path(v: &str) -> Result<(String, String)> {
    let v = percent_encoding::percent_decode_str(v)
        .decode_utf8_lossy()
        .into_owned();
    let v = v.trim_start_matches('/');
    match v.split_once('/') {
        Some((c, o)) if !c.is_empty() && !o.is_empty() => Ok((c.to_string(), o.to_string())),
        _ => Err(Error::new(
            ErrorKind::PreconditionFailed,
            "X-Copy-From header must be of the form <container name>/<object name>",
        )),
    }
}

/// A finished copy: the object written and its source.
#[derive(Debug)]
pub struct Copied {
    pub object: Object,
    pub source: Object,
}

impl App {
    /// Writes an object's data and row, with quotas, the length and ETag checks and
    /// versioning. Returns the object and the one it replaced.
    #[allow(clippy::too_many_arguments)]
    pub async fn object_store(
        &self,
        account: &str,
        c: &Container,
        name: &str,
        new: NewObject,
        body: ByteStream,
        len: Option<u64>,
        expect_etag: Option<&str>,
    ) -> Result<(Object, Option<Object>)> {
        let now = now_us();
        let existing = self.object_live(account, &c.name, name).await?;
        let limit = self.write_limit(account, c, existing.is_none()).await?;
        if len.is_some_and(|l| l > limit) {
            return Err(quota::exceeded());
        }
        let (key, w) = self.write_data(body, limit).await.map_err(|e| {
            if e.kind == ErrorKind::PayloadTooLarge {
                quota::exceeded()
            } else {
                e
            }
        })?;
        if let Some(l) = len
            && l != w.size
        {
            self.drop_data(&key).await;
            return Err(Error::new(
                ErrorKind::BadRequest,
                "The body is shorter than Content-Length.",
            ));
        }
        if let Some(e) = expect_etag
            && e.trim_matches('"').to_ascii_lowercase() != w.md5
        {
            self.drop_data(&key).await;
            return Err(unprocessable());
        }
        let o = new.into_object(c, name, key, w.size as i64, w.md5, now);
        let old = self.object_put_versioned(c, &o, existing).await?;
        Ok((o, old))
    }

    /// An object POST: replaces the user metadata (system metadata, a link's target
    /// included, stays), and sets the
    /// expiry and content type when the headers ask.
    pub async fn object_update(&self, mut o: Object, h: &Headers<'_>) -> Result<()> {
        let mut m: Meta = o
            .meta
            .iter()
            .filter(|(k, _)| {
                k.as_str() == "x-static-large-object"
                    || k.starts_with(SYSMETA_PREFIX)
                    || OBJECT_SYS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        meta::apply(&self.config, &mut m, h, "object", OBJECT_SYS)?;
        o.meta = m;
        if let Some(d) = expiry::delete_at(h, now_us())? {
            o.delete_at = d.map(|s| s * 1_000_000);
        }
        if let Some(ct) = h.get("content-type").filter(|c| !c.is_empty()) {
            o.content_type = ct.to_string();
        }
        self.store.object_meta_set(&o).await?;
        Ok(())
    }

    /// Copies `source` (which the caller must be able to read) to `dest` (which the caller
    /// has been authorized to write): a large object's content becomes one plain object;
    /// metadata is the source's (none with `X-Fresh-Metadata`) updated by the headers. A
    /// symlink source is followed to its target unless `follow_links` is false
    /// (`?symlink=get`), when the link itself is copied.
    pub async fn object_copy(
        self: &Arc<Self>,
        ctx: &RequestContext,
        (sa, sc, so): (&str, &str, &str),
        (da, dc, dobj): (&str, &Container, &str),
        h: &Headers<'_>,
        follow_links: bool,
    ) -> Result<Copied> {
        let scont = self.store.container_get(sa, sc).await?;
        self.authorize(ctx, sa, Op::ObjectRead, scont.as_ref().map(|c| &c.meta))?;
        let src = self.object_live(sa, sc, so).await?.ok_or_else(not_found)?;
        let src = if follow_links {
            self.symlink_follow(ctx, src).await?
        } else {
            src
        };
        let parts = self.parts(&src).await?;
        let total: u64 = parts.iter().map(|p| p.size).sum();
        let body = self.stream_parts(parts, 0, total);
        let mut base = src.clone();
        base.meta.remove("x-static-large-object");
        base.meta.remove("x-object-manifest");
        if h.is_true("x-fresh-metadata") {
            base.meta.clear();
        }
        let new = new_object(&self.config, h, dobj, Some(&base), now_us())?;
        let (o, _) = self
            .object_store(da, dc, dobj, new, body, Some(total), None)
            .await?;
        Ok(Copied {
            object: o,
            source: src,
        })
    }

    /// Deletes an object's row and then its data; the row removed, if there was one.
    pub async fn object_remove(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<Object>> {
        let old = self.store.object_delete(account, container, name).await?;
        if let Some(o) = &old {
            self.drop_data(&o.data_key).await;
        }
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_paths() {
        assert_eq!(
            parse_copy_path("/c/a%20b/c").expect("ok"),
            ("c".to_string(), "a b/c".to_string())
        );
        assert_eq!(
            parse_copy_path("c/o").expect("ok"),
            ("c".to_string(), "o".to_string())
        );
        for bad in ["c", "c/", "/o", ""] {
            assert_eq!(
                parse_copy_path(bad).expect_err(bad).kind,
                ErrorKind::PreconditionFailed
            );
        }
    }
}
