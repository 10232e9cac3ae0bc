//! Temporary URLs (Swift's `tempurl`): HMACs over the method, expiry and path keyed with
//! the account's or the container's `Temp-URL-Key` (or `-Key-2`).

use hmac::{Hmac, KeyInit, Mac};
use oxstack_common::{Error, Result};

use crate::app::{App, now_us};
use crate::store::Meta;

/// The digest a signature was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

/// HMAC of `msg` keyed with `key`.
pub fn hmac(digest: Digest, key: &[u8], msg: &[u8]) -> Vec<u8> {
    fn mac<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length.
        let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
            return Vec::new();
        };
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }
    match digest {
        Digest::Sha1 => mac::<Hmac<sha1::Sha1>>(key, msg),
        Digest::Sha256 => mac::<Hmac<sha2::Sha256>>(key, msg),
        Digest::Sha512 => mac::<Hmac<sha2::Sha512>>(key, msg),
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `temp_url_sig` as a digest and its bytes: hex (the digest by length) or
/// `<digest>:<base64>`. `None` when it does not decode.
pub fn parse_signature(sig: &str) -> Option<(Digest, Vec<u8>)> {
    if let Some((a, b64)) = sig.split_once(':') {
        use base64::Engine as _;
        let b64 = b64.replace('+', "-").replace('/', "_");
        let b = base64::engine::general_purpose::URL_SAFE
            .decode(&b64)
            .or_else(|_| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64.trim_end_matches('='))
            })
            .ok()?;
        let digest = match a {
            "sha1" => Digest::Sha1,
            "sha256" => Digest::Sha256,
            _ => Digest::Sha512,
        };
        return Some((digest, b));
    }
    let b = hex::decode(sig).ok()?;
    let digest = match b.len() {
        20 => Digest::Sha1,
        32 => Digest::Sha256,
        _ => Digest::Sha512,
    };
    Some((digest, b))
}

/// The path a signature covers: the request path, or with `temp_url_prefix` the
/// `prefix:/v1/account/container/prefix` form (`None` when the object is not under it).
pub fn signed_path(path: &str, prefix: Option<&str>) -> Option<String> {
    let Some(prefix) = prefix else {
        return Some(path.to_string());
    };
    let mut it = path.splitn(5, '/');
    let (_, v1, acct, cont, obj) = (it.next(), it.next(), it.next(), it.next(), it.next());
    let obj = percent_encoding::percent_decode_str(obj.unwrap_or_default()).decode_utf8_lossy();
    if !obj.starts_with(prefix) {
        return None;
    }
    Some(format!(
        "prefix:/{}/{}/{}/{prefix}",
        v1.unwrap_or_default(),
        acct.unwrap_or_default(),
        cont.unwrap_or_default()
    ))
}

/// A temp URL's query parameters.
#[derive(Debug, Clone, Copy)]
pub struct TempUrl<'a> {
    pub sig: &'a str,
    pub expires: &'a str,
    pub prefix: Option<&'a str>,
}

/// Whether `sig` signs `method\nexpires\npath` with one of `keys` (a HEAD may use a GET
/// or PUT signature).
pub fn signature_valid(
    keys: &[String],
    method: &str,
    expires: i64,
    path: &str,
    digest: Digest,
    want: &[u8],
) -> bool {
    let methods: &[&str] = if method == "HEAD" {
        &["HEAD", "GET", "PUT"]
    } else {
        &[method]
    };
    keys.iter().any(|key| {
        methods.iter().any(|m| {
            let msg = format!("{m}\n{expires}\n{path}");
            constant_time_eq(&hmac(digest, key.as_bytes(), msg.as_bytes()), want)
        })
    })
}

fn unauthorized() -> Error {
    Error::unauthorized("Unauthorized")
}

impl App {
    /// The temp URL keys of an account and, if given, a container.
    pub async fn temp_url_keys(&self, account: &str, cmeta: Option<&Meta>) -> Result<Vec<String>> {
        let acct = self.store.account_get(account).await?.unwrap_or_default();
        let mut keys = Vec::new();
        for k in ["temp-url-key", "temp-url-key-2"] {
            if let Some(v) = acct.meta.get(&format!("x-account-meta-{k}")) {
                keys.push(v.clone());
            }
            if let Some(v) = cmeta.and_then(|m| m.get(&format!("x-container-meta-{k}"))) {
                keys.push(v.clone());
            }
        }
        Ok(keys)
    }

    /// Checks a temp URL for `method` on `path`: `false` when the request has none, 401
    /// when it is expired, malformed or not signed with a key of the account or container.
    pub async fn temp_url_check(
        &self,
        account: &str,
        cmeta: Option<&Meta>,
        method: &str,
        path: &str,
        t: Option<TempUrl<'_>>,
    ) -> Result<bool> {
        let Some(t) = t else { return Ok(false) };
        let exp: i64 = t.expires.parse().map_err(|_| unauthorized())?;
        if exp < now_us() / 1_000_000 {
            return Err(unauthorized());
        }
        let keys = self.temp_url_keys(account, cmeta).await?;
        let (digest, want) = parse_signature(t.sig).ok_or_else(unauthorized)?;
        let path = signed_path(path, t.prefix).ok_or_else(unauthorized)?;
        if signature_valid(&keys, method, exp, &path, digest, &want) {
            Ok(true)
        } else {
            Err(unauthorized())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/v1/AUTH_a/c/dir/o";

    fn sign(digest: Digest, key: &str, method: &str, exp: i64, path: &str) -> Vec<u8> {
        hmac(
            digest,
            key.as_bytes(),
            format!("{method}\n{exp}\n{path}").as_bytes(),
        )
    }

    #[test]
    fn hmac_matches_rfc_2202() {
        // RFC 2202 test case 2 (HMAC-SHA1, key "Jefe").
        assert_eq!(
            hex::encode(hmac(Digest::Sha1, b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn signatures_hex_and_base64() {
        let raw = sign(Digest::Sha256, "k", "GET", 10, PATH);
        let (d, b) = parse_signature(&hex::encode(&raw)).expect("hex");
        assert_eq!((d, &b), (Digest::Sha256, &raw));
        use base64::Engine as _;
        let std = base64::engine::general_purpose::STANDARD.encode(&raw);
        let (d, b) = parse_signature(&format!("sha256:{std}")).expect("b64");
        assert_eq!((d, &b), (Digest::Sha256, &raw));
        let nopad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            parse_signature(&format!("sha256:{nopad}")).expect("b64").1,
            raw
        );
        assert!(parse_signature("not-hex").is_none());
        assert_eq!(
            parse_signature(&hex::encode([0u8; 20])).expect("hex").0,
            Digest::Sha1
        );
    }

    #[test]
    fn signature_checks_key_method_and_path() {
        let keys = vec!["other".to_string(), "k".to_string()];
        let sig = sign(Digest::Sha1, "k", "GET", 10, PATH);
        assert!(signature_valid(&keys, "GET", 10, PATH, Digest::Sha1, &sig));
        // HEAD may use a GET signature; PUT may not.
        assert!(signature_valid(&keys, "HEAD", 10, PATH, Digest::Sha1, &sig));
        assert!(!signature_valid(&keys, "PUT", 10, PATH, Digest::Sha1, &sig));
        assert!(!signature_valid(&keys, "GET", 11, PATH, Digest::Sha1, &sig));
        assert!(!signature_valid(
            &keys[..1],
            "GET",
            10,
            PATH,
            Digest::Sha1,
            &sig
        ));
        assert!(!signature_valid(
            &keys,
            "GET",
            10,
            PATH,
            Digest::Sha256,
            &sig
        ));
    }

    #[test]
    fn prefix_signatures_cover_the_prefix() {
        assert_eq!(signed_path(PATH, None).as_deref(), Some(PATH));
        assert_eq!(
            signed_path(PATH, Some("dir/")).as_deref(),
            Some("prefix:/v1/AUTH_a/c/dir/")
        );
        assert_eq!(
            signed_path("/v1/AUTH_a/c/d%69r/o", Some("dir/")).as_deref(),
            Some("prefix:/v1/AUTH_a/c/dir/")
        );
        assert_eq!(signed_path(PATH, Some("other/")), None);
    }
}
