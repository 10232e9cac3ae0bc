//! Policy blobs (`/v3/policies`): documents Keystone keeps on behalf of other services
//! (historically their policy files). Keystone never reads them; neither do we.

use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use serde_json::{Map, Value, json};

use super::body::{check_len, extra_of, not_empty, opt_str, require_matching_id};
use super::{App, invalid, new_id, not_found};
use crate::model::PolicyBlob;

const POLICY_CORE: &[&str] = &["id", "type", "blob", "links"];

/// `blob` and `type` are strings; `type` at most 255 characters (Keystone's schema).
fn read_fields(body: &Map<String, Value>) -> Result<(Option<String>, Option<String>)> {
    let blob = opt_str(body, "blob")?;
    let policy_type = opt_str(body, "type")?;
    if let Some(t) = &policy_type {
        check_len("type", t, 0, 255)?;
    }
    Ok((blob, policy_type))
}

impl App {
    /// The JSON Keystone renders for a policy blob.
    pub fn policy_blob_view(&self, p: &PolicyBlob) -> Value {
        let mut v = json!({
            "id": p.id,
            "type": p.policy_type,
            "blob": p.blob,
            "links": self.link(&format!("policies/{}", p.id)),
        });
        if let Value::Object(m) = &mut v {
            for (k, val) in &p.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    async fn policy_blob_for(
        &self,
        ctx: &RequestContext,
        rule: &str,
        id: &str,
    ) -> Result<PolicyBlob> {
        self.authorize(ctx, rule, &json!({}))?;
        self.store
            .policy_blob_get(id)
            .await?
            .ok_or_else(|| not_found("policy", id))
    }

    pub async fn policy_blob_show(&self, ctx: &RequestContext, id: &str) -> Result<PolicyBlob> {
        self.policy_blob_for(ctx, "identity:get_policy", id).await
    }

    pub async fn policy_blob_list(
        &self,
        ctx: &RequestContext,
        policy_type: Option<&str>,
    ) -> Result<Vec<PolicyBlob>> {
        self.authorize(ctx, "identity:list_policies", &json!({}))?;
        Ok(self.store.policy_blob_list(policy_type).await?)
    }

    pub async fn policy_blob_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<PolicyBlob> {
        self.authorize(ctx, "identity:create_policy", &json!({}))?;
        let (blob, policy_type) = read_fields(body)?;
        let p = PolicyBlob {
            // Keystone assigns the id whatever the body says.
            id: new_id(),
            blob: blob.ok_or_else(|| invalid("blob", "'blob' is a required property"))?,
            policy_type: policy_type
                .ok_or_else(|| invalid("type", "'type' is a required property"))?,
            extra: extra_of(body, POLICY_CORE),
        };
        self.store.policy_blob_create(&p).await?;
        Ok(p)
    }

    pub async fn policy_blob_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<PolicyBlob> {
        let mut p = self
            .policy_blob_for(ctx, "identity:update_policy", id)
            .await?;
        not_empty(body, "policy")?;
        require_matching_id(body, id)?;
        let (blob, policy_type) = read_fields(body)?;
        if let Some(b) = blob {
            p.blob = b;
        }
        if let Some(t) = policy_type {
            p.policy_type = t;
        }
        for (k, v) in extra_of(body, POLICY_CORE) {
            p.extra.insert(k, v);
        }
        self.store.policy_blob_update(&p).await?;
        Ok(p)
    }

    pub async fn policy_blob_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let p = self
            .policy_blob_for(ctx, "identity:delete_policy", id)
            .await?;
        self.store.policy_blob_delete(&p.id).await?;
        Ok(())
    }
}
