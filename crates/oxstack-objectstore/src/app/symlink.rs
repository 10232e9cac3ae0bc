//! Symbolic links, as Swift's `symlink` middleware keeps them: a zero-byte object whose
//! system metadata names a target (`container/object`, an account, and for a static link
//! the target's ETag and size). Reads follow a link to its target, at most
//! [`SYMLOOP_MAX`] links deep, checking read access to each target's container; writes,
//! POSTs and DELETEs act on the link itself.

use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use crate::app::meta::{Headers, bad, new_object, not_found};
use crate::app::{App, Op, now_us, once};
use crate::store::{Container, Meta, Object};

/// A link's content type when the PUT names none.
pub const CONTENT_TYPE: &str = "application/symlink";

/// How many links a read follows before it gives up (Swift's default `symloop_max`).
pub const SYMLOOP_MAX: usize = 2;

/// The system metadata a link keeps (never shown to clients as such).
pub const TARGET: &str = "x-object-sysmeta-symlink-target";
pub const TARGET_ACCOUNT: &str = "x-object-sysmeta-symlink-target-account";
pub const TARGET_ETAG: &str = "x-object-sysmeta-symlink-target-etag";
pub const TARGET_BYTES: &str = "x-object-sysmeta-symlink-target-bytes";

/// Where a link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub account: String,
    pub container: String,
    pub object: String,
    /// A static link's ETag (unquoted) and size: the target must still have them.
    pub etag: Option<String>,
    pub bytes: Option<i64>,
}

impl Target {
    /// `container/object`, as `X-Symlink-Target` shows it.
    pub fn path(&self) -> String {
        format!("{}/{}", self.container, self.object)
    }
}

/// The target `o` links to, if it is a link.
pub fn target_of(o: &Object) -> Option<Target> {
    target_in(&o.meta, &o.account)
}

/// The target recorded in `meta` (a link in `account`).
pub fn target_in(meta: &Meta, account: &str) -> Option<Target> {
    let (container, object) = meta.get(TARGET)?.split_once('/')?;
    Some(Target {
        account: meta
            .get(TARGET_ACCOUNT)
            .cloned()
            .unwrap_or_else(|| account.to_string()),
        container: container.to_string(),
        object: object.to_string(),
        etag: meta.get(TARGET_ETAG).cloned(),
        bytes: meta.get(TARGET_BYTES).and_then(|b| b.parse().ok()),
    })
}

/// The target a PUT asks for with `X-Symlink-Target` (and `-Account`, `-Etag`), if any.
/// The target is `<container>/<object>` (percent-decoded); 412 otherwise, as Swift answers.
pub fn requested(h: &Headers<'_>, account: &str) -> Result<Option<Target>> {
    let Some(v) = h.get("x-symlink-target") else {
        if h.contains("x-symlink-target-etag") || h.contains("x-symlink-target-account") {
            return Err(bad("X-Symlink-Target header required"));
        }
        return Ok(None);
    };
    let v = percent_encoding::percent_decode_str(v)
        .decode_utf8()
        .map_err(|_| bad("X-Symlink-Target header must be UTF-8"))?;
    let Some((c, o)) = v
        .split_once('/')
        .filter(|(c, o)| !c.is_empty() && !o.is_empty())
    else {
        return Err(Error::new(
            ErrorKind::PreconditionFailed,
            "X-Symlink-Target header must be of the form <container name>/<object name>",
        ));
    };
    let acct = match h.get("x-symlink-target-account") {
        Some(a) if a.is_empty() || a.contains('/') => {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                "Account name cannot contain slashes",
            ));
        }
        Some(a) => a.to_string(),
        None => account.to_string(),
    };
    let etag = h
        .get("x-symlink-target-etag")
        .map(|e| e.trim().trim_matches('"').to_string());
    if etag.as_deref().is_some_and(str::is_empty) {
        return Err(bad("X-Symlink-Target-Etag must not be empty"));
    }
    Ok(Some(Target {
        account: acct,
        container: c.to_string(),
        object: o.to_string(),
        etag,
        bytes: None,
    }))
}

/// Records `t` in a new link's metadata (a static link's target size as well).
pub fn record(meta: &mut Meta, t: &Target) {
    meta.retain(|k, _| !k.starts_with("x-object-sysmeta-symlink-"));
    meta.insert(TARGET.into(), t.path());
    meta.insert(TARGET_ACCOUNT.into(), t.account.clone());
    if let Some(e) = &t.etag {
        meta.insert(TARGET_ETAG.into(), e.clone());
    }
    if let Some(b) = t.bytes {
        meta.insert(TARGET_BYTES.into(), b.to_string());
    }
}

/// 409 when a read would follow more than [`SYMLOOP_MAX`] links.
fn too_many_links() -> Error {
    Error::conflict(format!(
        "Too many levels of symbolic links, maximum allowed is {SYMLOOP_MAX}"
    ))
}

fn etag_mismatch(actual: &str, wanted: &str) -> Error {
    Error::conflict(format!(
        "Object Etag \"{actual}\" does not match X-Symlink-Target-Etag header \"{wanted}\""
    ))
}

impl App {
    /// Writes `name` in `c` (which the caller may write) as a link to `t`, with the user
    /// metadata and content type of the headers; the body has been checked to be empty.
    pub async fn symlink_create(
        &self,
        ctx: &RequestContext,
        c: &Container,
        name: &str,
        h: &Headers<'_>,
        mut t: Target,
    ) -> Result<Object> {
        self.symlink_check(ctx, &mut t).await?;
        let mut new = new_object(&self.config, h, name, None, now_us())?;
        if h.get("content-type").is_none_or(str::is_empty) {
            new.content_type = CONTENT_TYPE.to_string();
        }
        record(&mut new.meta, &t);
        let body = once(bytes::Bytes::new());
        let (o, _) = self
            .object_store(&c.account, c, name, new, body, Some(0), None)
            .await?;
        Ok(o)
    }

    /// The object a read of `o` reaches: `o` itself unless it is a link, else its target
    /// followed through at most [`SYMLOOP_MAX`] links (409 beyond). The caller must be
    /// able to read each target's container; a missing target is a 404 (a broken link),
    /// a static link's target with another ETag a 409.
    pub async fn symlink_follow(&self, ctx: &RequestContext, o: Object) -> Result<Object> {
        let mut cur = o;
        let mut hops = 0;
        while let Some(t) = target_of(&cur) {
            if hops >= SYMLOOP_MAX {
                return Err(too_many_links());
            }
            hops += 1;
            cur = self.symlink_target_get(ctx, &t).await?;
        }
        Ok(cur)
    }

    /// A link's target object (read access checked, the static ETag compared); targets
    /// that are links themselves are returned as they are.
    async fn symlink_target_get(&self, ctx: &RequestContext, t: &Target) -> Result<Object> {
        let c = self.store.container_get(&t.account, &t.container).await?;
        self.authorize(ctx, &t.account, Op::ObjectRead, c.as_ref().map(|c| &c.meta))?;
        let o = self
            .object_live(&t.account, &t.container, &t.object)
            .await?
            .ok_or_else(not_found)?;
        if let Some(want) = &t.etag
            && target_of(&o).is_none()
            && o.etag.trim_matches('"') != want
        {
            return Err(etag_mismatch(o.etag.trim_matches('"'), want));
        }
        Ok(o)
    }

    /// Checks a new link's target: a static link's target must exist (409 otherwise, as
    /// the link could never be followed) and have the ETag asked for; its size is then
    /// recorded. A dynamic link may point at nothing yet.
    pub async fn symlink_check(&self, ctx: &RequestContext, t: &mut Target) -> Result<()> {
        let Some(want) = t.etag.clone() else {
            return Ok(());
        };
        let c = self.store.container_get(&t.account, &t.container).await?;
        self.authorize(ctx, &t.account, Op::ObjectRead, c.as_ref().map(|c| &c.meta))?;
        let o = self
            .object_live(&t.account, &t.container, &t.object)
            .await?
            .ok_or_else(|| Error::conflict("X-Symlink-Target does not exist"))?;
        let o = self.symlink_follow(ctx, o).await?;
        let actual = o.etag.trim_matches('"');
        if actual != want {
            return Err(etag_mismatch(actual, &want));
        }
        t.bytes = Some(o.size);
        Ok(())
    }
}

/// The client headers that describe a link (`?symlink=get` reads and listings).
pub fn link_headers(t: &Target) -> Vec<(String, String)> {
    let mut h = vec![
        ("x-symlink-target".to_string(), t.path()),
        ("x-symlink-target-account".to_string(), t.account.clone()),
    ];
    if let Some(e) = &t.etag {
        h.push(("x-symlink-target-etag".into(), e.clone()));
    }
    if let Some(b) = t.bytes {
        h.push(("x-symlink-target-bytes".into(), b.to_string()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs<'a>(pairs: &[(&'a str, &'a str)]) -> Headers<'a> {
        Headers(pairs.iter().map(|(k, v)| (*k, Some(*v))).collect())
    }

    #[test]
    fn requested_targets() {
        assert_eq!(requested(&hs(&[]), "AUTH_a").expect("none"), None);
        let t = requested(&hs(&[("x-symlink-target", "c/o%20x/y")]), "AUTH_a")
            .expect("ok")
            .expect("some");
        assert_eq!(
            (t.account.as_str(), t.path().as_str()),
            ("AUTH_a", "c/o x/y")
        );
        let t = requested(
            &hs(&[
                ("x-symlink-target", "c/o"),
                ("x-symlink-target-account", "AUTH_b"),
                ("x-symlink-target-etag", "\"abc\""),
            ]),
            "AUTH_a",
        )
        .expect("ok")
        .expect("some");
        assert_eq!(
            (t.account.as_str(), t.etag.as_deref()),
            ("AUTH_b", Some("abc"))
        );
        for v in ["c", "c/", "/o", ""] {
            assert_eq!(
                requested(&hs(&[("x-symlink-target", v)]), "AUTH_a")
                    .expect_err(v)
                    .kind,
                ErrorKind::PreconditionFailed
            );
        }
        assert_eq!(
            requested(&hs(&[("x-symlink-target-etag", "x")]), "AUTH_a")
                .expect_err("no target")
                .kind,
            ErrorKind::BadRequest
        );
    }

    #[test]
    fn recorded_targets_round_trip() {
        let mut meta = Meta::new();
        meta.insert("x-object-meta-a".into(), "1".into());
        let t = Target {
            account: "AUTH_b".into(),
            container: "c".into(),
            object: "o/p".into(),
            etag: Some("e".into()),
            bytes: Some(3),
        };
        record(&mut meta, &t);
        assert_eq!(target_in(&meta, "AUTH_a"), Some(t));
        assert_eq!(meta.get("x-object-meta-a").map(String::as_str), Some("1"));
        assert_eq!(target_in(&Meta::new(), "AUTH_a"), None);
    }
}
