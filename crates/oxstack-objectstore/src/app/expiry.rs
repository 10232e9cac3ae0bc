//! Object expiry: what `X-Delete-At` / `X-Delete-After` ask for, when an object stops
//! being visible, and the expirer that removes what has expired.

use oxstack_common::Result;

use crate::app::meta::{Headers, bad};
use crate::app::{App, now_us};
use crate::store::Object;

/// The expiry a PUT/POST asks for, in seconds since the epoch: `None` when the headers do
/// not touch it, `Some(None)` to clear it, `Some(Some(t))` to set it. `now` is in
/// microseconds; a time not in the future is refused.
pub fn delete_at(h: &Headers<'_>, now: i64) -> Result<Option<Option<i64>>> {
    let now_s = now / 1_000_000;
    if let Some(v) = h.get("x-delete-after") {
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| bad("Non-integer X-Delete-After"))?;
        if n <= 0 {
            return Err(bad("X-Delete-After in past"));
        }
        return Ok(Some(Some(now_s + n)));
    }
    if let Some(v) = h.get("x-delete-at") {
        if v.is_empty() {
            return Ok(Some(None));
        }
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| bad("Non-integer X-Delete-At"))?;
        if n <= now_s {
            return Err(bad("X-Delete-At in past"));
        }
        return Ok(Some(Some(n)));
    }
    if h.contains("x-remove-delete-at") {
        return Ok(Some(None));
    }
    Ok(None)
}

/// Whether `o` is still visible at `now` (microseconds): expired objects are gone for
/// clients before the expirer removes them.
pub fn is_live(o: &Object, now: i64) -> bool {
    o.delete_at.is_none_or(|d| d > now)
}

impl App {
    /// Deletes expired objects (rows, then data).
    pub async fn expire_once(&self) -> Result<usize> {
        let expired = self.store.object_list_expired(now_us(), 1000).await?;
        let n = expired.len();
        for o in expired {
            self.object_remove(&o.account, &o.container, &o.name)
                .await?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs<'a>(pairs: &[(&'a str, &'a str)]) -> Headers<'a> {
        Headers(pairs.iter().map(|(k, v)| (*k, Some(*v))).collect())
    }

    const NOW: i64 = 1_000 * 1_000_000;

    #[test]
    fn delete_after_is_relative_and_positive() {
        assert_eq!(
            delete_at(&hs(&[("x-delete-after", " 60 ")]), NOW).expect("ok"),
            Some(Some(1_060))
        );
        assert_eq!(
            delete_at(&hs(&[("x-delete-after", "0")]), NOW)
                .expect_err("past")
                .message,
            "X-Delete-After in past"
        );
        assert_eq!(
            delete_at(&hs(&[("x-delete-after", "soon")]), NOW)
                .expect_err("nan")
                .message,
            "Non-integer X-Delete-After"
        );
        // X-Delete-After wins over X-Delete-At.
        assert_eq!(
            delete_at(&hs(&[("x-delete-at", "5"), ("x-delete-after", "1")]), NOW).expect("ok"),
            Some(Some(1_001))
        );
    }

    #[test]
    fn delete_at_is_absolute_and_future() {
        assert_eq!(
            delete_at(&hs(&[("x-delete-at", "2000")]), NOW).expect("ok"),
            Some(Some(2_000))
        );
        assert!(delete_at(&hs(&[("x-delete-at", "1000")]), NOW).is_err());
        assert_eq!(
            delete_at(&hs(&[("x-delete-at", "")]), NOW).expect("ok"),
            Some(None)
        );
        assert_eq!(
            delete_at(&hs(&[("x-remove-delete-at", "")]), NOW).expect("ok"),
            Some(None)
        );
        assert_eq!(delete_at(&hs(&[]), NOW).expect("ok"), None);
    }
}
