//! Small server APIs: the server password (`os-server-password`), external events from
//! other services (`os-server-external-events`) and `injectNetworkInfo`.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{App, is_uuid_like};

/// The system metadata key of a server's (encrypted) password.
const PASSWORD: &str = "password";

/// The events Nova accepts (`os-server-external-events`).
const EVENTS: &[&str] = &[
    "network-changed",
    "network-vif-plugged",
    "network-vif-unplugged",
    "network-vif-deleted",
    "volume-extended",
    "power-update",
    "accelerator-request-bound",
    "volume-reimaged",
];

impl App {
    /// `GET /servers/{id}/os-server-password`: what the guest posted (encrypted with the
    /// server's key), or "".
    pub async fn server_password(&self, ctx: &RequestContext, id: &str) -> Result<String> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-server-password:show")
            .await?;
        Ok(self
            .store
            .instance_sysmeta_get(&i.uuid, PASSWORD)
            .await?
            .unwrap_or_default())
    }

    /// `DELETE /servers/{id}/os-server-password`.
    pub async fn server_password_clear(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-server-password:clear")
            .await?;
        Ok(self
            .store
            .instance_sysmeta_set(&i.uuid, PASSWORD, None)
            .await?)
    }

    /// `injectNetworkInfo`: the agent re-reads the server's ports.
    pub async fn server_inject_network_info(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(
                &c,
                id,
                "os_compute_api:os-admin-actions:inject_network_info",
            )
            .await?;
        if let Some(host) = &i.host {
            self.rpc
                .cast(host, "refresh_network_info", &c.rpc(), &i.uuid, json!({}))
                .await
                .map_err(|e| Error::internal("rpc", e))?;
        }
        Ok(())
    }

    /// `POST /os-server-external-events`: each event answered with its `code` (200, 404 for
    /// an unknown server, 422 for one not on a host yet); the overall status is 200 when
    /// all were accepted, 404 when none was, else 207. Network events make the agent
    /// re-read the server's ports.
    pub async fn server_external_events(
        &self,
        ctx: &RequestContext,
        body: &Value,
    ) -> Result<(u16, Vec<Value>)> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-server-external-events:create")?;
        let events = body
            .get("events")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                Error::bad_request(
                    "Invalid input for field/attribute events. Value: []. [] is too short",
                )
            })?;
        let mut out = Vec::new();
        for e in events {
            let bad = |why: &str| {
                Error::bad_request(format!("Invalid input for field/attribute events. {why}"))
            };
            let m = e
                .as_object()
                .ok_or_else(|| bad("An event is not an object"))?;
            let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
            if !EVENTS.contains(&name) {
                return Err(bad(&format!("'{name}' is not one of {EVENTS:?}")));
            }
            let server = m
                .get("server_uuid")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("'server_uuid' is a required property"))?;
            let status = m
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("completed");
            if !["failed", "completed", "in-progress"].contains(&status) {
                return Err(bad(&format!("'{status}' is not a valid event status")));
            }
            if let Some(tag) = m.get("tag")
                && tag.as_str().is_none_or(|t| t.chars().count() > 255)
            {
                return Err(bad("'tag' is not a string of at most 255 characters"));
            }
            let mut ev = json!({"name": name, "server_uuid": server, "status": status});
            if let Some(tag) = m.get("tag") {
                ev["tag"] = tag.clone();
            }
            let instance = if is_uuid_like(server) {
                self.store.instance_get(server, false).await?
            } else {
                None
            };
            let code = match instance {
                None => 404,
                Some(i) => match &i.host {
                    None => 422,
                    Some(host) => {
                        if name.starts_with("network-") {
                            self.rpc
                                .cast(host, "refresh_network_info", &c.rpc(), &i.uuid, json!({}))
                                .await
                                .map_err(|e| Error::internal("rpc", e))?;
                        }
                        200
                    }
                },
            };
            ev["code"] = json!(code);
            if code != 200 {
                ev["status"] = json!("failed");
            }
            out.push(ev);
        }
        let overall = if out.iter().all(|e| e["code"] == 200) {
            200
        } else if out.iter().all(|e| e["code"] == 404) {
            404
        } else {
            207
        };
        Ok((overall, out))
    }
}
