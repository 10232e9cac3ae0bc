//! Metadata and object attributes as Swift sets them from request headers: `X-<Kind>-Meta-*`
//! with Swift's limits, the system headers each kind keeps, names, content types and the
//! attributes of a new object.

use oxstack_common::{Error, Result};

use crate::ObjectStoreConfig;
use crate::app::expiry;
use crate::store::{Container, Meta, Object, SYSMETA_PREFIX};

/// A request's headers as plain pairs: lower-case names in the order they came, and the
/// value when it is visible ASCII (`None` otherwise).
#[derive(Debug, Default, Clone)]
pub struct Headers<'a>(pub Vec<(&'a str, Option<&'a str>)>);

impl<'a> Headers<'a> {
    /// The first value of `name` (a value that is not visible ASCII counts as absent).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| *v)
    }

    /// Whether `name` is present at all.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| *k == name)
    }

    /// Whether `name` is `true` (any case).
    pub fn is_true(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A client error with a fixed message.
pub(crate) fn bad(msg: &'static str) -> Error {
    Error::bad_request(msg)
}

/// Swift's 404 message.
pub(crate) fn not_found() -> Error {
    Error::not_found("The resource could not be found.")
}

/// The container headers kept besides user metadata (ACLs, versioning, sync).
pub const CONTAINER_SYS: &[&str] = &[
    "x-container-read",
    "x-container-write",
    "x-versions-location",
    "x-history-location",
    "x-container-sync-to",
    "x-container-sync-key",
];

/// The object headers kept besides user metadata.
pub const OBJECT_SYS: &[&str] = &[
    "content-disposition",
    "content-encoding",
    "x-object-manifest",
];

/// The account headers kept besides user metadata (quotas set by a reseller).
pub const ACCOUNT_SYS: &[&str] = &["x-account-quota-count", "x-account-quota-bytes"];

/// Applies `X-<Kind>-Meta-*` (and `X-Remove-...`) headers to `meta`, plus the named extra
/// headers (`sys`: ACLs, versioning locations), checking Swift's limits.
pub fn apply(
    config: &ObjectStoreConfig,
    meta: &mut Meta,
    h: &Headers<'_>,
    kind: &str,
    sys: &[&str],
) -> Result<()> {
    let prefix = format!("x-{kind}-meta-");
    let remove = format!("x-remove-{kind}-meta-");
    for &(k, v) in &h.0 {
        let v = v.ok_or_else(|| bad("Metadata must be valid UTF-8"))?;
        if let Some(name) = k.strip_prefix(&prefix) {
            if name.is_empty() {
                return Err(bad("Metadata name cannot be empty"));
            }
            if name.len() > config.max_meta_name_length {
                return Err(Error::bad_request(format!(
                    "Metadata name too long; max {}",
                    config.max_meta_name_length
                )));
            }
            if v.len() > config.max_meta_value_length {
                return Err(Error::bad_request(format!(
                    "Metadata value longer than {}",
                    config.max_meta_value_length
                )));
            }
            if v.is_empty() && kind != "object" {
                meta.remove(k);
            } else {
                meta.insert(k.to_string(), v.to_string());
            }
        } else if let Some(name) = k.strip_prefix(&remove) {
            meta.remove(&format!("{prefix}{name}"));
        } else if sys.contains(&k) {
            if v.is_empty() {
                meta.remove(k);
            } else {
                meta.insert(k.to_string(), v.to_string());
            }
        } else if let Some(name) = k.strip_prefix("x-remove-")
            && sys.contains(&format!("x-{name}").as_str())
        {
            meta.remove(&format!("x-{name}"));
        }
    }
    let user: Vec<(&String, &String)> = meta
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    if user.len() > config.max_meta_count {
        return Err(Error::bad_request(format!(
            "Too many metadata items; max {}",
            config.max_meta_count
        )));
    }
    let size: usize = user
        .iter()
        .map(|(k, v)| k.len() - prefix.len() + v.len())
        .sum();
    if size > config.max_meta_overall_size {
        return Err(Error::bad_request(format!(
            "Total metadata too large; max {}",
            config.max_meta_overall_size
        )));
    }
    Ok(())
}

/// A container name Swift accepts: 1 to 256 bytes, no `/`.
pub fn check_container_name(name: &str) -> Result<()> {
    if name.len() > 256 {
        return Err(Error::bad_request(format!(
            "Container name length of {} longer than 256",
            name.len()
        )));
    }
    if name.is_empty() || name.contains('/') {
        return Err(bad("Invalid container name"));
    }
    Ok(())
}

/// An object name Swift accepts: at most 1024 bytes.
pub fn check_object_name(name: &str) -> Result<()> {
    if name.len() > 1024 {
        return Err(Error::bad_request(format!(
            "Object name length of {} longer than 1024",
            name.len()
        )));
    }
    Ok(())
}

/// A container may archive old versions one way only.
pub fn check_versions(meta: &Meta) -> Result<()> {
    if meta.contains_key("x-versions-location") && meta.contains_key("x-history-location") {
        return Err(bad(
            "Only one of X-Versions-Location or X-History-Location may be specified",
        ));
    }
    Ok(())
}

/// The content type an object name suggests (by its extension).
pub fn guess_content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "conf" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "xml" => "application/xml",
        "json" => "application/json",
        "js" => "application/javascript",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "iso" => "application/x-iso9660-image",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// What a client asks to store with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    pub meta: Meta,
    pub content_type: String,
    /// Microseconds since the epoch.
    pub delete_at: Option<i64>,
}

impl NewObject {
    /// The row of an object with these attributes whose data (`size` bytes, `etag`) was
    /// written to `data_key`, stored in `c` as `name` at `now`.
    pub fn into_object(
        self,
        c: &Container,
        name: &str,
        data_key: String,
        size: i64,
        etag: String,
        now: i64,
    ) -> Object {
        Object {
            account: c.account.clone(),
            container: c.name.clone(),
            name: name.to_string(),
            size,
            etag,
            content_type: self.content_type,
            created_at: now,
            delete_at: self.delete_at,
            data_key,
            meta: self.meta,
        }
    }
}

/// The attributes of an object written now under `name`: `base`'s user and system
/// metadata (a copy's source; a link's target when the link itself is copied) updated by the headers, the expiry they ask for, and the
/// content type given, kept from `base` or guessed from the name.
pub fn new_object(
    config: &ObjectStoreConfig,
    h: &Headers<'_>,
    name: &str,
    base: Option<&Object>,
    now: i64,
) -> Result<NewObject> {
    let mut meta = Meta::new();
    let mut delete_at_s = None;
    if let Some(b) = base {
        meta = b
            .meta
            .iter()
            .filter(|(k, _)| {
                k.starts_with("x-object-meta-")
                    || k.starts_with(SYSMETA_PREFIX)
                    || OBJECT_SYS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    apply(config, &mut meta, h, "object", OBJECT_SYS)?;
    if let Some(d) = expiry::delete_at(h, now)? {
        delete_at_s = d;
    }
    let detect = h.is_true("x-detect-content-type");
    let content_type = match h.get("content-type").filter(|c| !c.is_empty() && !detect) {
        Some(c) => c.to_string(),
        None => base
            .filter(|_| !detect)
            .map(|b| b.content_type.clone())
            .unwrap_or_else(|| guess_content_type(name).to_string()),
    };
    Ok(NewObject {
        meta,
        content_type,
        delete_at: delete_at_s.map(|s| s * 1_000_000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs<'a>(pairs: &[(&'a str, &'a str)]) -> Headers<'a> {
        Headers(pairs.iter().map(|(k, v)| (*k, Some(*v))).collect())
    }

    #[test]
    fn apply_sets_removes_and_limits() {
        let config = ObjectStoreConfig::default();
        let mut meta = Meta::new();
        meta.insert("x-container-meta-old".into(), "1".into());
        meta.insert("x-container-read".into(), ".r:*".into());
        apply(
            &config,
            &mut meta,
            &hs(&[
                ("x-container-meta-color", "blue"),
                ("x-remove-container-meta-old", "x"),
                ("x-remove-container-read", "x"),
                ("x-container-write", "p:u"),
                ("x-unrelated", "kept out"),
            ]),
            "container",
            CONTAINER_SYS,
        )
        .expect("applied");
        let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
        assert_eq!(keys, ["x-container-meta-color", "x-container-write"]);

        // An empty value removes container metadata but is kept on objects.
        apply(
            &config,
            &mut meta,
            &hs(&[("x-container-meta-color", "")]),
            "container",
            CONTAINER_SYS,
        )
        .expect("applied");
        assert!(!meta.contains_key("x-container-meta-color"));
        let mut ometa = Meta::new();
        apply(
            &config,
            &mut ometa,
            &hs(&[("x-object-meta-e", "")]),
            "object",
            OBJECT_SYS,
        )
        .expect("applied");
        assert_eq!(ometa.get("x-object-meta-e").map(String::as_str), Some(""));

        let long = "n".repeat(config.max_meta_name_length + 1);
        let name = format!("x-object-meta-{long}");
        let e = apply(
            &config,
            &mut Meta::new(),
            &hs(&[(name.as_str(), "v")]),
            "object",
            OBJECT_SYS,
        )
        .expect_err("too long");
        assert!(e.message.starts_with("Metadata name too long"));
        let e = apply(
            &config,
            &mut Meta::new(),
            &Headers(vec![("x-other", None)]),
            "object",
            OBJECT_SYS,
        )
        .expect_err("not ascii");
        assert_eq!(e.message, "Metadata must be valid UTF-8");
    }

    #[test]
    fn names_and_versions() {
        assert!(check_container_name("c").is_ok());
        assert!(check_container_name("").is_err());
        assert!(check_container_name("a/b").is_err());
        assert!(check_container_name(&"c".repeat(257)).is_err());
        assert!(check_object_name(&"o".repeat(1024)).is_ok());
        assert!(check_object_name(&"o".repeat(1025)).is_err());
        let mut m = Meta::new();
        m.insert("x-versions-location".into(), "v".into());
        assert!(check_versions(&m).is_ok());
        m.insert("x-history-location".into(), "h".into());
        assert!(check_versions(&m).is_err());
    }

    #[test]
    fn new_object_content_type_and_base() {
        let config = ObjectStoreConfig::default();
        let n = new_object(&config, &hs(&[]), "a/b.JSON", None, 0).expect("new");
        assert_eq!(n.content_type, "application/json");
        let n = new_object(&config, &hs(&[]), "noext", None, 0).expect("new");
        assert_eq!(n.content_type, "application/octet-stream");
        let mut base = Object {
            account: "AUTH_a".into(),
            container: "c".into(),
            name: "o".into(),
            size: 0,
            etag: String::new(),
            content_type: "text/x-base".into(),
            created_at: 0,
            delete_at: None,
            data_key: String::new(),
            meta: Meta::new(),
        };
        base.meta.insert("x-object-meta-a".into(), "1".into());
        base.meta
            .insert("x-static-large-object".into(), "True".into());
        base.meta.insert("content-encoding".into(), "gzip".into());
        let n = new_object(
            &config,
            &hs(&[("x-object-meta-b", "2")]),
            "o.txt",
            Some(&base),
            0,
        )
        .expect("new");
        assert_eq!(n.content_type, "text/x-base");
        let keys: Vec<&str> = n.meta.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["content-encoding", "x-object-meta-a", "x-object-meta-b"]
        );
        let n = new_object(
            &config,
            &hs(&[("x-detect-content-type", "True"), ("content-type", "a/b")]),
            "o.txt",
            Some(&base),
            0,
        )
        .expect("new");
        assert_eq!(n.content_type, "text/plain");
        let n = new_object(
            &config,
            &hs(&[("x-delete-after", "10")]),
            "o",
            None,
            5_000_000,
        )
        .expect("new");
        assert_eq!(n.delete_at, Some(15_000_000));
    }
}
