//! Form POST (Swift's `formpost`): an HTML form signed with a temp URL key uploads files
//! under the object prefix its URL names.

use bytes::Bytes;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use crate::app::meta::{Headers, bad, new_object};
use crate::app::tempurl::{Digest, hmac};
use crate::app::{App, now_us, once};
use crate::store::{Container, Meta};

/// A form POST's signed fields.
#[derive(Debug, Clone, Default)]
pub struct FormFields {
    pub redirect: String,
    pub max_file_size: String,
    pub max_file_count: String,
    pub expires: String,
    pub signature: String,
}

impl FormFields {
    /// Whether `signature` is the hex HMAC-SHA1 of `path` and the fields with one of `keys`.
    pub fn signature_valid(&self, keys: &[String], path: &str) -> bool {
        let msg = format!(
            "{path}\n{}\n{}\n{}\n{}",
            self.redirect, self.max_file_size, self.max_file_count, self.expires
        );
        keys.iter().any(|k| {
            hex::encode(hmac(Digest::Sha1, k.as_bytes(), msg.as_bytes())) == self.signature
        })
    }
}

impl App {
    /// Checks a form POST to `path`: 401 when expired or not signed with a key of the
    /// account or container.
    pub async fn form_post_check(
        &self,
        account: &str,
        cmeta: &Meta,
        path: &str,
        f: &FormFields,
    ) -> Result<()> {
        let exp: i64 = f
            .expires
            .parse()
            .map_err(|_| Error::unauthorized("FormPost: expired"))?;
        if exp < now_us() / 1_000_000 {
            return Err(Error::unauthorized("FormPost: Form Expired"));
        }
        let keys = self.temp_url_keys(account, Some(cmeta)).await?;
        if !f.signature_valid(&keys, path) {
            return Err(Error::unauthorized("FormPost: Invalid Signature"));
        }
        Ok(())
    }

    /// Stores the form's files (`filename`, bytes; parts without a file name are skipped)
    /// as `prefix` + file name, within the form's signed `max_file_count` and
    /// `max_file_size`.
    pub async fn form_post_store(
        &self,
        account: &str,
        c: &Container,
        prefix: &str,
        f: &FormFields,
        files: &[(Option<String>, Bytes)],
    ) -> Result<()> {
        let max_size: u64 = f.max_file_size.parse().unwrap_or(0);
        let max_count: usize = f.max_file_count.parse().unwrap_or(0);
        for (stored, (filename, data)) in files
            .iter()
            .filter(|(f, _)| f.as_deref().is_some_and(|f| !f.is_empty()))
            .enumerate()
        {
            if stored >= max_count {
                return Err(bad("FormPost: max_file_count exceeded"));
            }
            if data.len() as u64 > max_size {
                return Err(Error::new(
                    ErrorKind::PayloadTooLarge,
                    "FormPost: max_file_size exceeded",
                ));
            }
            let name = format!("{prefix}{}", filename.as_deref().unwrap_or_default());
            let new = new_object(&self.config, &Headers::default(), &name, None, now_us())?;
            let len = data.len() as u64;
            self.object_store(account, c, &name, new, once(data.clone()), Some(len), None)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_post_signatures() {
        let f = FormFields {
            redirect: String::new(),
            max_file_size: "100".into(),
            max_file_count: "2".into(),
            expires: "99".into(),
            signature: hex::encode(hmac(Digest::Sha1, b"k", b"/v1/AUTH_a/c/p\n\n100\n2\n99")),
        };
        assert!(f.signature_valid(&["k".into()], "/v1/AUTH_a/c/p"));
        assert!(!f.signature_valid(&["x".into()], "/v1/AUTH_a/c/p"));
        assert!(!f.signature_valid(&["k".into()], "/v1/AUTH_a/c/q"));
    }
}
