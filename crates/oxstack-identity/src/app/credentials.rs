//! Credentials (`/v3/credentials`): opaque blobs a user keeps with Keystone (EC2 key pairs,
//! certificates, TOTP secrets). Blobs are encrypted at rest, Keystone-style: a Fernet token
//! under the primary credential key, stored with the SHA-1 of that key so a key rotation can
//! tell which credentials still need re-encrypting.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::body::{
    expecting, extra_of, forbidden_action, not_empty, opt_str, req_str, require_matching_id,
};
use super::{App, invalid, new_id, not_found};
use crate::model::Credential;
use crate::store::StoreError;
use crate::token::keys::FernetKey;

const CREDENTIAL_CORE: &[&str] = &["id", "user_id", "project_id", "type", "blob", "links"];
/// Blob keys that bind an EC2 credential to a delegation; they cannot change.
const EC2_FIXED_KEYS: &[&str] = &["trust_id", "app_cred_id", "access_token_id", "access_id"];

/// A credential with its blob decrypted, as the API shows it.
#[derive(Debug, Clone)]
pub struct PlainCredential {
    pub cred: Credential,
    pub blob: String,
}

/// What `GET /v3/credentials` filters on.
#[derive(Debug, Default, Clone)]
pub struct CredentialFilter {
    pub user_id: Option<String>,
    pub cred_type: Option<String>,
}

/// Keystone's `primary_key_hash`: SHA-1 of the key's base64 text.
fn key_hash(key: &FernetKey) -> String {
    let mut h = Sha1::new();
    h.update(key.to_base64().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The EC2 blob as JSON, which must be an object with an `access` key.
fn ec2_blob(blob: &str) -> Result<Map<String, Value>> {
    let v: Value =
        serde_json::from_str(blob).map_err(|_| Error::bad_request("Invalid blob in credential"))?;
    let m = match v {
        Value::Object(m) if !m.is_empty() => m,
        _ => return Err(expecting("blob", "credential")),
    };
    if m.get("access").is_none_or(Value::is_null) {
        return Err(expecting("access", "credential"));
    }
    Ok(m)
}

fn is_ec2(t: &str) -> bool {
    t.eq_ignore_ascii_case("ec2")
}

impl App {
    /// Encrypts a blob under the primary credential key; returns it and the key's hash.
    pub(crate) fn credential_encrypt(&self, blob: &str) -> (String, String) {
        let key = self.credential_keys.primary();
        let now = u64::try_from(oxstack_common::time::now().timestamp()).unwrap_or(0);
        let mut iv = [0u8; 16];
        rand::fill(&mut iv[..]);
        let raw = crate::token::fernet::seal(key, now, iv, blob.as_bytes());
        (URL_SAFE.encode(raw), key_hash(key))
    }

    /// Decrypts a stored blob with whichever credential key made it.
    pub(crate) fn credential_decrypt(&self, c: &Credential) -> Result<String> {
        let failed = || {
            Error::internal(
                "credential decryption",
                std::io::Error::other(format!("credential {} cannot be decrypted", c.id)),
            )
        };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT
            .decode(c.encrypted_blob.as_bytes())
            .map_err(|_| failed())?;
        let plain = self
            .credential_keys
            .all()
            .iter()
            .find_map(|k| crate::token::fernet::open(k, &raw).ok())
            .ok_or_else(failed)?;
        String::from_utf8(plain).map_err(|_| failed())
    }

    pub(super) fn plain(&self, cred: Credential) -> Result<PlainCredential> {
        let blob = self.credential_decrypt(&cred)?;
        Ok(PlainCredential { cred, blob })
    }

    /// The JSON Keystone renders for a credential (blob decrypted).
    pub fn credential_view(&self, p: &PlainCredential) -> Value {
        let c = &p.cred;
        let mut v = json!({
            "id": c.id,
            "user_id": c.user_id,
            "project_id": c.project_id,
            "type": c.credential_type,
            "blob": p.blob,
            "links": self.link(&format!("credentials/{}", c.id)),
        });
        if let Value::Object(m) = &mut v {
            for (k, val) in &c.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    fn credential_target(c: &Credential) -> Value {
        json!({"target": {"credential": {
            "id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.credential_type,
        }}})
    }

    /// A token made from an application credential reaches only the credentials of its own
    /// project (Keystone's `_check_credential_project_scope`).
    pub(super) fn check_delegated_project(auth: &AuthInfo, project_id: Option<&str>) -> Result<()> {
        if auth.application_credential_id.is_some() && project_id != auth.project_id.as_deref() {
            return Err(forbidden_action(
                "Credential project does not match the project scope of the delegated token",
            ));
        }
        Ok(())
    }

    /// Loads a credential for `rule`: a missing one is 403 to those who could not see it
    /// anyway and 404 to the others, as in Keystone.
    async fn credential_for(
        &self,
        ctx: &RequestContext,
        rule: &str,
        id: &str,
    ) -> Result<Credential> {
        let cred = self.store.credential_get(id).await?;
        let target = cred.as_ref().map_or(json!({}), Self::credential_target);
        let auth = self.authorize(ctx, rule, &target)?;
        let cred = cred.ok_or_else(|| not_found("credential", id))?;
        Self::check_delegated_project(auth, cred.project_id.as_deref())?;
        Ok(cred)
    }

    pub async fn credential_show(&self, ctx: &RequestContext, id: &str) -> Result<PlainCredential> {
        let c = self
            .credential_for(ctx, "identity:get_credential", id)
            .await?;
        self.plain(c)
    }

    /// Lists credentials; everyone sees only those `identity:get_credential` allows them.
    pub async fn credential_list(
        &self,
        ctx: &RequestContext,
        f: &CredentialFilter,
    ) -> Result<Vec<PlainCredential>> {
        let auth = ctx.require_auth()?;
        let target = if auth.system_scope.is_some() {
            json!({})
        } else {
            json!({"target": {"credential": {"user_id": auth.user_id}}})
        };
        let auth = self.authorize(ctx, "identity:list_credentials", &target)?;
        let mut out = Vec::new();
        for c in self
            .store
            .credential_list(f.user_id.as_deref(), f.cred_type.as_deref())
            .await?
        {
            let visible = self
                .policy
                .authorize(
                    "identity:get_credential",
                    auth,
                    &Self::credential_target(&c),
                )
                .is_ok()
                && Self::check_delegated_project(auth, c.project_id.as_deref()).is_ok();
            if visible {
                out.push(self.plain(c)?);
            }
        }
        Ok(out)
    }

    pub async fn credential_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<PlainCredential> {
        let auth = self.authorize(
            ctx,
            "identity:create_credential",
            &json!({"target": {"credential": body}}),
        )?;
        let blob = req_str(body, "blob", 0, usize::MAX)?;
        let cred_type = req_str(body, "type", 1, 255)?;
        let user_id = req_str(body, "user_id", 1, 64)?;
        let project_id = opt_str(body, "project_id")?;
        if is_ec2(&cred_type) {
            self.check_unrestricted(auth, "credentials").await?;
        }
        Self::check_delegated_project(auth, project_id.as_deref())?;
        let (id, blob) = if is_ec2(&cred_type) {
            if project_id.is_none() {
                return Err(invalid("credential", "'project_id' is a required property"));
            }
            let mut b = ec2_blob(&blob)?;
            let access = match &b["access"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let id = Sha256::digest(access.as_bytes())
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>();
            // Keystone binds an EC2 credential made through an application credential to it,
            // so EC2 authentication later yields the same restricted scope.
            let blob = match &auth.application_credential_id {
                Some(ac) => {
                    b.insert("app_cred_id".into(), json!(ac));
                    Value::Object(b).to_string()
                }
                None => blob,
            };
            (id, blob)
        } else {
            (new_id(), blob)
        };
        let (encrypted_blob, key_hash) = self.credential_encrypt(&blob);
        let cred = Credential {
            id: id.clone(),
            user_id,
            project_id,
            credential_type: cred_type,
            encrypted_blob,
            key_hash,
            extra: extra_of(body, CREDENTIAL_CORE),
        };
        self.store
            .credential_create(&cred)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate => Error::conflict(format!(
                    "Conflict occurred attempting to store credential - Duplicate ID, {id}."
                )),
                e => e.into(),
            })?;
        Ok(PlainCredential { cred, blob })
    }

    pub async fn credential_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<PlainCredential> {
        let current = self
            .credential_for(ctx, "identity:update_credential", id)
            .await?;
        not_empty(body, "credential")?;
        require_matching_id(body, id)?;
        let old_blob = self.credential_decrypt(&current)?;
        let mut c = current.clone();
        if body.contains_key("type") {
            c.credential_type = req_str(body, "type", 1, 255)?;
        }
        if body.contains_key("user_id") {
            c.user_id = req_str(body, "user_id", 1, 64)?;
        }
        if body.contains_key("project_id") {
            c.project_id = opt_str(body, "project_id")?;
        }
        let new_blob = match body.get("blob") {
            None => None,
            Some(_) => Some(req_str(body, "blob", 0, usize::MAX)?),
        };
        if is_ec2(&c.credential_type) {
            if c.project_id.is_none() {
                return Err(expecting("project_id", "credential"));
            }
            if is_ec2(&current.credential_type)
                && let Some(nb) = &new_blob
            {
                let new = ec2_blob(nb)?;
                let old: Map<String, Value> = serde_json::from_str(&old_blob).unwrap_or_default();
                if let Some(k) = EC2_FIXED_KEYS.iter().find(|k| old.get(**k) != new.get(**k)) {
                    return Err(Error::bad_request(format!(
                        "{k} can not be updated for credential"
                    )));
                }
            }
        }
        // The owner may not hand the credential to someone else.
        let auth = self.authorize(
            ctx,
            "identity:update_credential",
            &Self::credential_target(&c),
        )?;
        Self::check_delegated_project(auth, c.project_id.as_deref())?;
        for (k, v) in extra_of(body, CREDENTIAL_CORE) {
            c.extra.insert(k, v);
        }
        let blob = match new_blob {
            Some(b) => {
                let (enc, hash) = self.credential_encrypt(&b);
                c.encrypted_blob = enc;
                c.key_hash = hash;
                b
            }
            None => old_blob,
        };
        self.store.credential_update(&c).await?;
        Ok(PlainCredential { cred: c, blob })
    }

    pub async fn credential_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self
            .credential_for(ctx, "identity:delete_credential", id)
            .await?;
        self.store.credential_delete(&c.id).await?;
        Ok(())
    }
}
