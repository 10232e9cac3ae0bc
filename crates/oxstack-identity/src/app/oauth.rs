//! OAuth1 consumers (`/v3/OS-OAUTH1/consumers`): the applications that may ask users for
//! delegated access. The secret is generated here and shown once, in the create response.
//! (Request and access tokens, the rest of OS-OAUTH1, are not implemented.)

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::body::{check_len, extra_of, not_empty, opt_str, require_matching_id};
use super::{App, new_id, not_found};
use crate::model::Consumer;

const CONSUMER_CORE: &[&str] = &["id", "description", "secret", "links"];

fn description(body: &Map<String, Value>) -> Result<Option<String>> {
    let d = opt_str(body, "description")?;
    if let Some(d) = &d {
        check_len("description", d, 0, 255)?;
    }
    Ok(d)
}

impl App {
    /// The JSON Keystone renders for a consumer (never with its secret).
    pub fn consumer_view(&self, c: &Consumer) -> Value {
        let mut v = json!({
            "id": c.id,
            "description": c.description,
            "links": self.link(&format!("OS-OAUTH1/consumers/{}", c.id)),
        });
        if let Value::Object(m) = &mut v {
            for (k, val) in &c.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    async fn consumer_for(&self, ctx: &RequestContext, rule: &str, id: &str) -> Result<Consumer> {
        self.authorize(ctx, rule, &json!({}))?;
        self.store
            .consumer_get(id)
            .await?
            .ok_or_else(|| not_found("consumer", id))
    }

    pub async fn consumer_show(&self, ctx: &RequestContext, id: &str) -> Result<Consumer> {
        self.consumer_for(ctx, "identity:get_consumer", id).await
    }

    pub async fn consumer_list(&self, ctx: &RequestContext) -> Result<Vec<Consumer>> {
        self.authorize(ctx, "identity:list_consumers", &json!({}))?;
        Ok(self.store.consumer_list().await?)
    }

    /// Creates a consumer; returns it with its secret in clear.
    pub async fn consumer_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<(Consumer, String)> {
        self.authorize(ctx, "identity:create_consumer", &json!({}))?;
        let secret = new_id();
        let (encrypted_secret, key_hash) = self.credential_encrypt(&secret);
        let c = Consumer {
            id: new_id(),
            description: description(body)?,
            encrypted_secret,
            key_hash,
            extra: extra_of(body, CONSUMER_CORE),
        };
        self.store.consumer_create(&c).await?;
        Ok((c, secret))
    }

    pub async fn consumer_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Consumer> {
        let mut c = self
            .consumer_for(ctx, "identity:update_consumer", id)
            .await?;
        not_empty(body, "consumer")?;
        if body.contains_key("secret") {
            return Err(Error::bad_request(
                "Invalid input for field 'secret': the consumer secret cannot be changed",
            ));
        }
        require_matching_id(body, id)?;
        if body.contains_key("description") {
            c.description = description(body)?;
        }
        for (k, v) in extra_of(body, CONSUMER_CORE) {
            c.extra.insert(k, v);
        }
        self.store.consumer_update(&c).await?;
        Ok(c)
    }

    pub async fn consumer_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self
            .consumer_for(ctx, "identity:delete_consumer", id)
            .await?;
        self.store.consumer_delete(&c.id).await?;
        Ok(())
    }
}
