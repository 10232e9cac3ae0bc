//! Large objects: static (SLO: a JSON manifest of segments checked when it is written) and
//! dynamic (DLO: `X-Object-Manifest: container/prefix`, the segments listed at read time).
//! Which pieces make up an object's content, and its ETag as Swift shows it.

use bytes::Bytes;
use md5::Digest as _;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use crate::app::meta::{Headers, bad, new_object};
use crate::app::objects::unprocessable;
use crate::app::time::iso_date;
use crate::app::{App, Part, now_us, once};
use crate::store::{Container, ListQuery, Object};

/// The most a stored manifest is read to.
const MANIFEST_READ_LIMIT: usize = 16 << 20;

/// `container` and `object` of a segment path `/container/object` (empty when malformed).
pub fn segment_path(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or_default()
}

/// The segments of a manifest a client PUTs (`multipart-manifest=put`): a JSON array of
/// 1 to `max_segments` entries with `path` and optional `etag` and `size_bytes`.
pub fn parse_put_manifest(raw: &[u8], max_segments: usize) -> Result<Vec<Value>> {
    let segs: Vec<Value> =
        serde_json::from_slice(raw).map_err(|_| bad("Manifest must be valid JSON.\n"))?;
    if segs.is_empty() || segs.len() > max_segments {
        return Err(bad("Invalid number of segments"));
    }
    Ok(segs)
}

/// The segment paths (`/container/object`) of a stored manifest.
fn stored_segments(raw: &[u8]) -> Result<Vec<String>> {
    let segs: Vec<Value> =
        serde_json::from_slice(raw).map_err(|e| Error::internal("slo manifest", e))?;
    Ok(segs
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect())
}

/// A large object's ETag: the MD5 of its segments' ETags, in order.
pub fn segments_etag<'a>(etags: impl IntoIterator<Item = &'a str>) -> String {
    let mut md5 = md5::Md5::new();
    for e in etags {
        md5.update(e.as_bytes());
    }
    hex::encode(md5.finalize())
}

/// What a GET of an object reads and the ETag it shows.
#[derive(Debug)]
pub struct Content {
    pub parts: Vec<Part>,
    /// As sent: quoted for large objects.
    pub etag: String,
    /// The SLO manifest itself (`multipart-manifest=get`).
    pub manifest: bool,
}

fn own_part(o: &Object) -> Part {
    Part {
        key: o.data_key.clone(),
        size: o.size as u64,
    }
}

fn quoted(e: &str) -> String {
    format!("\"{e}\"")
}

impl App {
    /// Reads all of a (small) object's own data.
    pub async fn read_all(&self, key: &str, limit: usize) -> Result<Vec<u8>> {
        use futures_util::StreamExt as _;
        let mut s = self
            .data
            .get(key, 0, None)
            .await
            .map_err(|e| Error::internal("object data", e))?;
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.map_err(|e| Error::internal("object data", e))?);
            if out.len() > limit {
                return Err(Error::internal("object data", "manifest too large"));
            }
        }
        Ok(out)
    }

    /// A stored SLO manifest.
    pub async fn manifest_read(&self, o: &Object) -> Result<Vec<u8>> {
        self.read_all(&o.data_key, MANIFEST_READ_LIMIT).await
    }

    /// The pieces an object's content is made of: itself, or the segments of a large object.
    pub async fn parts(&self, o: &Object) -> Result<Vec<Part>> {
        if o.meta.contains_key("x-static-large-object") {
            return self.slo_parts(o).await;
        }
        if let Some(m) = o.meta.get("x-object-manifest") {
            return Ok(self.dlo_content(&o.account, m).await?.0);
        }
        Ok(vec![own_part(o)])
    }

    /// What a GET reads: the SLO manifest itself when `manifest` asks for it, the segments
    /// of a large object, or the object's own data.
    pub async fn content(&self, o: &Object, manifest: bool) -> Result<Content> {
        let slo = o.meta.contains_key("x-static-large-object");
        let (parts, etag, manifest) = if slo && manifest {
            let p = Part {
                key: o.data_key.clone(),
                size: 0,
            };
            (vec![p], o.etag.clone(), true)
        } else if slo {
            (self.slo_parts(o).await?, quoted(&o.etag), false)
        } else if let Some(m) = o.meta.get("x-object-manifest") {
            let (parts, etag) = self.dlo_content(&o.account, m).await?;
            (parts, quoted(&etag), false)
        } else {
            (vec![own_part(o)], o.etag.clone(), false)
        };
        Ok(Content {
            parts,
            etag,
            manifest,
        })
    }

    /// An SLO's segments (409 when one is gone).
    async fn slo_parts(&self, o: &Object) -> Result<Vec<Part>> {
        let manifest = self.manifest_read(o).await?;
        let mut out = Vec::new();
        for path in stored_segments(&manifest)? {
            let (c, n) = segment_path(&path);
            let seg = self
                .object_live(&o.account, c, n)
                .await?
                .ok_or_else(|| Error::conflict("A segment of this large object is gone."))?;
            out.push(own_part(&seg));
        }
        Ok(out)
    }

    /// A DLO's segments for `X-Object-Manifest: container/prefix`, and its ETag.
    async fn dlo_content(&self, account: &str, manifest: &str) -> Result<(Vec<Part>, String)> {
        let (c, prefix) = manifest.split_once('/').unwrap_or((manifest, ""));
        let segs = self.dlo_segments(account, c, prefix).await?;
        let etag = segments_etag(segs.iter().map(|s| s.etag.as_str()));
        Ok((segs.iter().map(own_part).collect(), etag))
    }

    /// A dynamic large object's segments: the container's objects under the prefix.
    pub async fn dlo_segments(
        &self,
        account: &str,
        container: &str,
        prefix: &str,
    ) -> Result<Vec<Object>> {
        let q = ListQuery {
            prefix: Some(prefix.to_string()),
            limit: self.config.container_listing_limit,
            ..Default::default()
        };
        Ok(self
            .store
            .object_list(account, container, &q, now_us())
            .await?)
    }

    /// `PUT ...?multipart-manifest=put`: checks each segment exists (and matches the ETag
    /// and size given), then stores the manifest as an SLO whose ETag is that of its
    /// segments. 400 listing every bad segment; 422 when the request's ETag differs.
    pub async fn slo_put(
        &self,
        account: &str,
        c: &Container,
        name: &str,
        h: &Headers<'_>,
        raw: &[u8],
    ) -> Result<Object> {
        let segs = parse_put_manifest(raw, self.config.max_manifest_segments)?;
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        let mut etags = Vec::new();
        let mut total = 0i64;
        for s in &segs {
            let path = s["path"].as_str().unwrap_or_default();
            let (sc, so) = segment_path(path);
            let Some(seg) = self.object_live(account, sc, so).await? else {
                errors.push(format!("{path}, 404 Not Found"));
                continue;
            };
            if let Some(e) = s["etag"].as_str()
                && !e.is_empty()
                && e.trim_matches('"') != seg.etag
            {
                errors.push(format!("{path}, Etag Mismatch"));
                continue;
            }
            if let Some(n) = s["size_bytes"].as_i64()
                && n != seg.size
            {
                errors.push(format!("{path}, Size Mismatch"));
                continue;
            }
            total += seg.size;
            entries.push(json!({"name": format!("/{sc}/{so}"), "hash": seg.etag, "bytes": seg.size, "content_type": seg.content_type, "last_modified": iso_date(seg.created_at)}));
            etags.push(seg.etag);
        }
        if !errors.is_empty() {
            return Err(Error::bad_request(format!(
                "Errors:\n{}",
                errors.join("\n")
            )));
        }
        let slo_etag = segments_etag(etags.iter().map(String::as_str));
        if let Some(e) = h.get("etag")
            && e.trim_matches('"') != slo_etag
        {
            return Err(unprocessable());
        }
        let manifest = Value::Array(entries).to_string();
        let now = now_us();
        let mut new = new_object(&self.config, h, name, None, now)?;
        new.meta
            .insert("x-static-large-object".into(), "True".into());
        let existing = self.object_live(account, &c.name, name).await?;
        let (key, _) = self
            .write_data(once(Bytes::from(manifest)), MANIFEST_READ_LIMIT as u64)
            .await?;
        let o = new.into_object(c, name, key, total, slo_etag, now);
        self.object_put_versioned(c, &o, existing).await?;
        Ok(o)
    }

    /// `DELETE ...?multipart-manifest=delete` of an SLO: its segments, then the manifest.
    /// Returns (deleted, not found).
    pub async fn slo_delete(&self, account: &str, o: &Object) -> Result<(usize, usize)> {
        let manifest = self.manifest_read(o).await?;
        let (mut deleted, mut missing) = (0, 0);
        for path in stored_segments(&manifest)? {
            let (sc, so) = segment_path(&path);
            match self.object_remove(account, sc, so).await? {
                Some(_) => deleted += 1,
                None => missing += 1,
            }
        }
        if self
            .object_remove(account, &o.container, &o.name)
            .await?
            .is_some()
        {
            deleted += 1;
        }
        Ok((deleted, missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_paths() {
        assert_eq!(segment_path("/c/o/p"), ("c", "o/p"));
        assert_eq!(segment_path("c/o"), ("c", "o"));
        assert_eq!(segment_path("/nothing"), ("", ""));
    }

    #[test]
    fn put_manifests() {
        let ok = br#"[{"path": "/c/a"}, {"path": "/c/b", "etag": null}]"#;
        assert_eq!(parse_put_manifest(ok, 2).expect("ok").len(), 2);
        assert_eq!(
            parse_put_manifest(ok, 1).expect_err("too many").message,
            "Invalid number of segments"
        );
        assert_eq!(
            parse_put_manifest(b"[]", 5).expect_err("empty").message,
            "Invalid number of segments"
        );
        assert_eq!(
            parse_put_manifest(b"{}", 5).expect_err("object").message,
            "Manifest must be valid JSON.\n"
        );
    }

    #[test]
    fn stored_manifests_and_etags() {
        let raw = br#"[{"name": "/c/a", "hash": "x"}, {"hash": "y"}]"#;
        assert_eq!(
            stored_segments(raw).expect("ok"),
            ["/c/a".to_string(), String::new()]
        );
        assert!(stored_segments(b"not json").is_err());
        // md5("") and md5("ab"): the ETags are concatenated, not hashed one by one.
        assert_eq!(segments_etag([]), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            segments_etag(["a", "b"]),
            "187ef4436122d1cc2f40dc2b92f0eba0"
        );
    }
}
