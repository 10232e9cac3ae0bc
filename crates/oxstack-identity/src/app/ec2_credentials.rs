//! EC2 credentials (`/v3/users/{user_id}/credentials/OS-EC2`): access/secret key pairs
//! Keystone generates for a user on a project. They are ordinary `ec2` credentials (the
//! same rows `/v3/credentials` shows, id = SHA-256 of the access key); this API only makes
//! them and shows them in the EC2 shape.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::body::opt_str;
use super::credentials::PlainCredential;
use super::{App, invalid, new_id, not_found};
use crate::model::Credential;

/// An EC2 credential as `/v3/users/{user_id}/credentials/OS-EC2` shows it.
#[derive(Debug, Clone)]
pub struct Ec2Credential {
    pub user_id: String,
    pub tenant_id: Option<String>,
    pub access: Value,
    pub secret: Value,
    pub trust_id: Value,
}

/// Keystone's `hash_access_key`: the credential id of an EC2 access key.
fn ec2_id(access: &str) -> String {
    Sha256::digest(access.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn ec2_view_of(p: &PlainCredential) -> Ec2Credential {
    let blob: Map<String, Value> = serde_json::from_str(&p.blob).unwrap_or_default();
    let get = |k: &str| blob.get(k).cloned().unwrap_or(Value::Null);
    Ec2Credential {
        user_id: p.cred.user_id.clone(),
        tenant_id: p.cred.project_id.clone(),
        access: get("access"),
        secret: get("secret"),
        trust_id: get("trust_id"),
    }
}

impl App {
    /// The JSON Keystone renders for an EC2 credential.
    pub fn ec2_credential_view(&self, c: &Ec2Credential) -> Value {
        let access = c.access.as_str().unwrap_or_default();
        json!({
            "user_id": c.user_id,
            "tenant_id": c.tenant_id,
            "access": c.access,
            "secret": c.secret,
            "trust_id": c.trust_id,
            "links": self.link(&format!("users/{}/credentials/OS-EC2/{access}", c.user_id)),
        })
    }

    pub async fn ec2_credential_create(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        body: &Map<String, Value>,
    ) -> Result<Ec2Credential> {
        let auth = self.authorize(
            ctx,
            "identity:ec2_create_credential",
            &json!({"user_id": user_id, "target": {"credential": {"user_id": user_id}}}),
        )?;
        self.check_unrestricted(auth, "credentials").await?;
        self.user_get(user_id).await?;
        let tenant_id = opt_str(body, "tenant_id")?
            .ok_or_else(|| invalid("tenant_id", "'tenant_id' is a required property"))?;
        let project = self.project_get(&tenant_id).await?;
        Self::check_delegated_project(auth, Some(&project.id))?;
        let access = new_id();
        let mut blob = json!({"access": access, "secret": new_id(), "trust_id": null});
        // Made through an application credential, the key pair keeps its restrictions (as
        // `/v3/credentials` does).
        if let Some(ac) = &auth.application_credential_id {
            blob["app_cred_id"] = json!(ac);
        }
        let blob = blob.to_string();
        let (encrypted_blob, key_hash) = self.credential_encrypt(&blob);
        let cred = Credential {
            id: ec2_id(&access),
            user_id: user_id.to_string(),
            project_id: Some(project.id),
            credential_type: "ec2".into(),
            encrypted_blob,
            key_hash,
            extra: Map::new(),
        };
        self.store.credential_create(&cred).await?;
        Ok(ec2_view_of(&PlainCredential { cred, blob }))
    }

    pub async fn ec2_credential_list(
        &self,
        ctx: &RequestContext,
        user_id: &str,
    ) -> Result<Vec<Ec2Credential>> {
        let auth = self.authorize(
            ctx,
            "identity:ec2_list_credentials",
            &json!({"user_id": user_id}),
        )?;
        self.user_get(user_id).await?;
        let mut out = Vec::new();
        for c in self
            .store
            .credential_list(Some(user_id), Some("ec2"))
            .await?
        {
            // A delegated token sees only the key pairs of its own project.
            if Self::check_delegated_project(auth, c.project_id.as_deref()).is_ok() {
                out.push(ec2_view_of(&self.plain(c)?));
            }
        }
        Ok(out)
    }

    /// Loads the EC2 credential with access key `access` of `user_id` for `rule`.
    async fn ec2_credential_for(
        &self,
        ctx: &RequestContext,
        rule: &str,
        user_id: &str,
        access: &str,
    ) -> Result<PlainCredential> {
        let cred = self
            .store
            .credential_get(&ec2_id(access))
            .await?
            // Keystone finds the key pair by access key alone; we also require it to be
            // the path user's, so a path cannot name someone else's credential.
            .filter(|c| c.user_id == user_id)
            .ok_or_else(|| not_found("credential", &ec2_id(access)))?;
        let auth = self.authorize(
            ctx,
            rule,
            &json!({"user_id": user_id, "target": {"credential": {
                "id": cred.id, "user_id": cred.user_id, "project_id": cred.project_id, "type": cred.credential_type,
            }}}),
        )?;
        self.user_get(user_id).await?;
        if !cred.credential_type.eq_ignore_ascii_case("ec2") {
            return Err(Error::unauthorized("EC2 access key not found."));
        }
        Self::check_delegated_project(auth, cred.project_id.as_deref())?;
        self.plain(cred)
    }

    pub async fn ec2_credential_show(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        access: &str,
    ) -> Result<Ec2Credential> {
        let p = self
            .ec2_credential_for(ctx, "identity:ec2_get_credential", user_id, access)
            .await?;
        Ok(ec2_view_of(&p))
    }

    pub async fn ec2_credential_delete(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        access: &str,
    ) -> Result<()> {
        let p = self
            .ec2_credential_for(ctx, "identity:ec2_delete_credential", user_id, access)
            .await?;
        self.store.credential_delete(&p.cred.id).await?;
        Ok(())
    }
}
