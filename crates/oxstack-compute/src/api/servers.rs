//! `/servers`: servers, their actions, metadata, tags, addresses and instance actions.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::{AppState, isotime, member, naive, ok, status, with_status};
use crate::app::{App, CreateRequest, Interface, InterfaceRequest, ListQuery};
use crate::microversion::Version;
use crate::model::{Fault, Instance, Vif};
use crate::states;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/servers", get(server_list).post(server_create))
        .route("/servers/detail", get(server_detail))
        .route(
            "/servers/{id}",
            get(server_show).put(server_update).delete(server_delete),
        )
        .route("/servers/{id}/action", post(server_action))
        .route(
            "/servers/{id}/metadata",
            get(metadata_list)
                .post(metadata_merge)
                .put(metadata_replace),
        )
        .route(
            "/servers/{id}/metadata/{key}",
            get(metadata_show).put(metadata_set).delete(metadata_delete),
        )
        .route(
            "/servers/{id}/tags",
            get(tag_list).put(tag_replace).delete(tag_delete_all),
        )
        .route(
            "/servers/{id}/tags/{tag}",
            get(tag_check).put(tag_add).delete(tag_delete),
        )
        .route("/servers/{id}/diagnostics", get(diagnostics))
        .route("/servers/{id}/ips", get(ips))
        .route("/servers/{id}/ips/{network}", get(ip_network))
        .route(
            "/servers/{id}/os-security-groups",
            get(server_security_groups),
        )
        .route(
            "/servers/{id}/os-interface",
            get(interface_list).post(interface_attach),
        )
        .route(
            "/servers/{id}/os-interface/{port}",
            get(interface_show).delete(interface_detach),
        )
        .route("/servers/{id}/os-instance-actions", get(action_list))
        .route(
            "/servers/{id}/os-instance-actions/{request_id}",
            get(action_show),
        )
}

/// How much of a server to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// GET /servers/{id} and /servers/detail.
    Full,
    /// PUT responses before 2.75: the core attributes only.
    Core,
}

struct RenderCtx {
    mv: Version,
    extended: bool,
    extra_specs: bool,
    host_status: Option<HashMap<String, String>>,
}

impl RenderCtx {
    async fn new(
        app: &App,
        ctx: &RequestContext,
        mv: Version,
        project: Option<&str>,
    ) -> Result<Self> {
        let c = app.caller(ctx)?;
        let target = json!({"project_id": project.unwrap_or(c.project_id())});
        let host_status =
            if mv.at_least(16) && app.can(&c, "os_compute_api:servers:show:host_status", &target) {
                Some(app.host_statuses().await?)
            } else {
                None
            };
        Ok(RenderCtx {
            mv,
            extended: app.can(&c, "os_compute_api:os-extended-server-attributes", &target),
            extra_specs: mv.at_least(47)
                && app.can(
                    &c,
                    "os_compute_api:servers:show:flavor-extra-specs",
                    &target,
                ),
            host_status,
        })
    }
}

fn host_id(i: &Instance) -> String {
    match &i.host {
        Some(h) => {
            let mut d = sha2::Sha224::new();
            d.update(format!("{}{h}", i.project_id).as_bytes());
            d.finalize().iter().map(|b| format!("{b:02x}")).collect()
        }
        None => String::new(),
    }
}

fn render(app: &App, r: &RenderCtx, i: &Instance, fault: Option<&Fault>, view: View) -> Value {
    let status = if i.deleted {
        "DELETED"
    } else {
        states::status(&i.vm_state, i.task_state.as_deref())
    };
    let flavor = if r.mv.at_least(47) {
        let mut f = json!({
            "vcpus": i.flavor.vcpus, "ram": i.flavor.memory_mb, "disk": i.flavor.root_gb,
            "ephemeral": i.flavor.ephemeral_gb, "swap": i.flavor.swap, "original_name": i.flavor.name,
        });
        if r.extra_specs {
            f["extra_specs"] = json!(i.flavor.extra_specs);
        }
        f
    } else {
        json!({"id": i.flavor.flavorid, "links": [{"rel": "bookmark", "href": app.bookmark_link(&format!("flavors/{}", i.flavor.flavorid))}]})
    };
    let image = if i.image_ref.is_empty() {
        json!("")
    } else {
        json!({"id": i.image_ref, "links": [{"rel": "bookmark", "href": app.bookmark_link(&format!("images/{}", i.image_ref))}]})
    };
    let mut s = json!({
        "id": i.uuid,
        "name": i.name,
        "status": status,
        "tenant_id": i.project_id,
        "user_id": i.user_id,
        "metadata": i.metadata,
        "hostId": host_id(i),
        "image": image,
        "flavor": flavor,
        "created": isotime(i.created_at),
        "updated": isotime(i.updated_at),
        // Nova leaves the OS-EXT-IPS keys out of update and rebuild responses.
        "addresses": addresses(&i.network_info, view == View::Full),
        "accessIPv4": i.access_ip_v4.clone().unwrap_or_default(),
        "accessIPv6": i.access_ip_v6.clone().unwrap_or_default(),
        "links": app.links(&format!("servers/{}", i.uuid)),
        "OS-DCF:diskConfig": if i.auto_disk_config { "AUTO" } else { "MANUAL" },
    });
    if matches!(status, "ERROR" | "DELETED")
        && let Some(f) = fault
    {
        let mut fv =
            json!({"code": f.code, "created": isotime(f.created_at), "message": f.message});
        if let Some(d) = &f.details
            && (r.extended || f.code != 500)
        {
            fv["details"] = json!(d);
        }
        s["fault"] = fv;
    }
    if matches!(
        status,
        "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING"
    ) {
        s["progress"] = json!(i.progress);
    }
    if view == View::Full {
        s["OS-EXT-AZ:availability_zone"] = json!(i.availability_zone.clone().unwrap_or_default());
        s["config_drive"] = json!(i.config_drive);
        s["key_name"] = json!(i.key_name);
        s["OS-SRV-USG:launched_at"] = json!(i.launched_at.map(naive));
        s["OS-SRV-USG:terminated_at"] = json!(i.terminated_at.map(naive));
        // Nova leaves the key out when the server has no groups.
        if !i.security_groups.is_empty() {
            s["security_groups"] = json!(
                i.security_groups
                    .iter()
                    .map(|g| json!({"name": g}))
                    .collect::<Vec<_>>()
            );
        }
        s["OS-EXT-STS:task_state"] = json!(i.task_state);
        s["OS-EXT-STS:vm_state"] = json!(i.vm_state);
        s["OS-EXT-STS:power_state"] = json!(i.power_state);
        s["os-extended-volumes:volumes_attached"] = json!([]);
        if r.extended {
            s["OS-EXT-SRV-ATTR:host"] = json!(i.host);
            s["OS-EXT-SRV-ATTR:instance_name"] = json!(i.instance_name());
            s["OS-EXT-SRV-ATTR:hypervisor_hostname"] = json!(i.node);
            if r.mv.at_least(3) {
                s["OS-EXT-SRV-ATTR:hostname"] = json!(i.hostname);
                s["OS-EXT-SRV-ATTR:kernel_id"] = json!("");
                s["OS-EXT-SRV-ATTR:launch_index"] = json!(i.launch_index);
                s["OS-EXT-SRV-ATTR:ramdisk_id"] = json!("");
                s["OS-EXT-SRV-ATTR:reservation_id"] = json!(i.reservation_id);
                s["OS-EXT-SRV-ATTR:root_device_name"] = json!(null);
                s["OS-EXT-SRV-ATTR:user_data"] = json!(i.user_data);
            }
        }
        if let Some(hs) = &r.host_status {
            s["host_status"] = json!(
                i.host
                    .as_ref()
                    .and_then(|h| hs.get(h).cloned())
                    .unwrap_or_default()
            );
        }
    }
    if r.mv.at_least(9) {
        s["locked"] = json!(i.locked_by.is_some());
    }
    if r.mv.at_least(19) {
        s["description"] = json!(i.description);
    }
    if r.mv.at_least(26) {
        s["tags"] = json!(i.tags);
    }
    s
}

async fn server_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    let server = member(&body, "server")?;
    let hints = match body
        .get("os:scheduler_hints")
        .or(body.get("OS-SCH-HNT:scheduler_hints"))
    {
        Some(Value::Object(m)) => m.clone(),
        Some(v) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute os:scheduler_hints. Value: {v}"
            )));
        }
        None => Map::new(),
    };
    let created = app
        .server_create(
            &ctx,
            CreateRequest {
                body: server,
                hints,
            },
            mv,
        )
        .await?;
    if created.return_reservation_id {
        return Ok(with_status(
            StatusCode::ACCEPTED,
            json!({"reservation_id": created.reservation_id}),
        ));
    }
    let first = created
        .instances
        .first()
        .ok_or_else(|| Error::internal("create", std::io::Error::other("no server created")))?;
    let mut s = json!({
        "id": first.uuid,
        "links": app.links(&format!("servers/{}", first.uuid)),
        "OS-DCF:diskConfig": if first.auto_disk_config { "AUTO" } else { "MANUAL" },
        "security_groups": created.security_groups.iter().map(|g| json!({"name": g})).collect::<Vec<_>>(),
        "adminPass": created.admin_pass,
    });
    if s["security_groups"].as_array().is_some_and(Vec::is_empty) {
        s["security_groups"] = json!([{"name": "default"}]);
    }
    let mut resp = with_status(StatusCode::ACCEPTED, json!({"server": s}));
    if let Ok(v) = HeaderValue::from_str(&app.self_link(&format!("servers/{}", first.uuid))) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn list_query(raw: Option<String>) -> ListQuery {
    let params = raw
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    let dec = |s: &str| {
                        let s = s.replace('+', " ");
                        percent_decode(&s)
                    };
                    (dec(k), dec(v))
                })
                .collect()
        })
        .unwrap_or_default();
    ListQuery { params }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn list(
    app: &App,
    ctx: &RequestContext,
    mv: Version,
    raw: Option<String>,
    detail: bool,
) -> Result<Response> {
    let q = list_query(raw);
    let page = app.server_list(ctx, &q, detail, mv).await?;
    let path = if detail { "servers/detail" } else { "servers" };
    let items: Vec<Value> = if detail {
        let r = RenderCtx::new(app, ctx, mv, None).await?;
        let mut out = Vec::new();
        for i in &page.servers {
            let fault = if i.vm_state == states::vm::ERROR || i.deleted {
                app.server_fault(i).await?
            } else {
                None
            };
            out.push(render(app, &r, i, fault.as_ref(), View::Full));
        }
        super::volumes::fill_volumes_attached(app, &mut out, mv).await?;
        out
    } else {
        page.servers
            .iter()
            .map(|i| json!({"id": i.uuid, "name": i.name, "links": app.links(&format!("servers/{}", i.uuid))}))
            .collect()
    };
    let mut body = json!({ "servers": items });
    if let Some(m) = &page.next_marker {
        // Nova's next link: the request's parameters, the marker replaced.
        let mut extra: Vec<String> = q
            .params
            .iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        extra.push(format!("marker={m}"));
        body["servers_links"] = json!([{"rel": "next", "href": format!("{}?{}", app.self_link(path), extra.join("&"))}]);
    }
    Ok(ok(body))
}

async fn server_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    list(&app, &ctx, mv, q, false).await
}

async fn server_detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    list(&app, &ctx, mv, q, true).await
}

async fn server_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let i = app.server_show(&ctx, &id).await?;
    let r = RenderCtx::new(&app, &ctx, mv, Some(&i.project_id)).await?;
    let fault = app.server_fault(&i).await?;
    let mut s = [render(&app, &r, &i, fault.as_ref(), View::Full)];
    super::volumes::fill_volumes_attached(&app, &mut s, mv).await?;
    let [s] = s;
    Ok(ok(json!({ "server": s })))
}

async fn server_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "server")?;
    let i = app.server_update(&ctx, &id, &m, mv).await?;
    let mut r = RenderCtx::new(&app, &ctx, mv, Some(&i.project_id)).await?;
    r.extended = false;
    r.host_status = None;
    let fault = app.server_fault(&i).await?;
    Ok(ok(
        json!({"server": render(&app, &r, &i, fault.as_ref(), View::Core)}),
    ))
}

async fn server_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.server_delete(&ctx, &id).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

async fn server_action(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = body
        .as_object()
        .filter(|m| m.len() == 1)
        .ok_or_else(|| Error::bad_request("Malformed request body"))?;
    let (action, arg) = m
        .iter()
        .next()
        .ok_or_else(|| Error::bad_request("Malformed request body"))?;
    let accepted = || Ok(status(StatusCode::ACCEPTED));
    match action.as_str() {
        "reboot" => {
            let t = arg.get("type").and_then(Value::as_str).unwrap_or("");
            let hard = match t.to_ascii_uppercase().as_str() {
                "HARD" => true,
                "SOFT" => false,
                _ => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute type. Value: {t}. '{t}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']"
                    )));
                }
            };
            app.server_reboot(&ctx, &id, hard).await?;
            accepted()
        }
        "os-stop" => {
            app.server_simple_action(&ctx, &id, "stop").await?;
            accepted()
        }
        "os-start" => {
            app.server_simple_action(&ctx, &id, "start").await?;
            accepted()
        }
        "pause" | "unpause" | "suspend" | "resume" => {
            app.server_simple_action(&ctx, &id, action).await?;
            accepted()
        }
        "lock" | "unlock" => {
            app.server_lock(&ctx, &id, action == "lock").await?;
            accepted()
        }
        "os-getConsoleOutput" => {
            let length = match arg.get("length") {
                None | Some(Value::Null) => None,
                Some(v) => match v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                {
                    Some(n) if n >= -1 => Some(n),
                    _ => {
                        return Err(Error::bad_request(format!(
                            "Invalid input for field/attribute length. Value: {v}."
                        )));
                    }
                },
            };
            let out = app.server_console_output(&ctx, &id, length).await?;
            Ok(ok(json!({"output": out})))
        }
        "os-resetState" => {
            let s = arg.get("state").and_then(Value::as_str).ok_or_else(|| {
                Error::bad_request("Invalid input for field/attribute os-resetState. 'state' is a required property")
            })?;
            app.server_reset_state(&ctx, &id, s).await?;
            accepted()
        }
        "resize" => {
            let f = match arg.get("flavorRef") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(Error::bad_request(
                        "Invalid input for field/attribute resize. 'flavorRef' is a required property",
                    ));
                }
            };
            let dcf = arg
                .get("OS-DCF:diskConfig")
                .map(crate::app::disk_config)
                .transpose()?;
            app.server_resize(&ctx, &id, &f, dcf).await?;
            accepted()
        }
        "confirmResize" => {
            app.server_resize_end(&ctx, &id, true).await?;
            Ok(status(StatusCode::NO_CONTENT))
        }
        "revertResize" => {
            app.server_resize_end(&ctx, &id, false).await?;
            accepted()
        }
        "addSecurityGroup" | "removeSecurityGroup" => {
            let name = match arg.get("name") {
                Some(Value::String(n)) if !n.trim().is_empty() => n.trim().to_string(),
                Some(Value::String(_)) => {
                    return Err(Error::bad_request("Security group name cannot be empty"));
                }
                _ => return Err(Error::bad_request("Missing parameter name")),
            };
            app.server_security_group_change(&ctx, &id, &name, action == "addSecurityGroup")
                .await?;
            accepted()
        }
        "createBackup" => {
            let invalid = |field: &str, why: &str| {
                Error::bad_request(format!(
                    "Invalid input for field/attribute {field}. Value: {}. {why}",
                    arg.get(field).unwrap_or(&Value::Null)
                ))
            };
            let name = match arg.get("name") {
                Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 255 => {
                    s.clone()
                }
                _ => return Err(invalid("name", "'name' is a required non-empty string")),
            };
            let backup_type = arg
                .get("backup_type")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("backup_type", "'backup_type' is a required string"))?
                .to_string();
            let rotation = match arg.get("rotation") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            }
            .filter(|r| *r >= 0)
            .ok_or_else(|| invalid("rotation", "'rotation' must be an integer of 0 or more"))?;
            let backup = crate::app::Backup {
                backup_type,
                rotation,
            };
            let image_id = app
                .server_create_image(&ctx, &id, &name, arg.get("metadata"), Some(&backup))
                .await?;
            if mv.at_least(45) {
                return Ok(with_status(
                    StatusCode::ACCEPTED,
                    json!({"image_id": image_id}),
                ));
            }
            let mut resp = status(StatusCode::ACCEPTED);
            let loc = format!(
                "{}/v2/images/{image_id}",
                app.config.image_url.trim_end_matches('/')
            );
            if let Ok(v) = HeaderValue::from_str(&loc) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        }
        "createImage" => {
            let name = match arg.get("name") {
                Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 255 => s.clone(),
                _ => {
                    return Err(Error::bad_request(
                        "Invalid input for field/attribute createImage. 'name' is a required property",
                    ));
                }
            };
            let image_id = app
                .server_create_image(&ctx, &id, &name, arg.get("metadata"), None)
                .await?;
            if mv.at_least(45) {
                return Ok(with_status(
                    StatusCode::ACCEPTED,
                    json!({"image_id": image_id}),
                ));
            }
            let mut resp = status(StatusCode::ACCEPTED);
            let loc = format!(
                "{}/v2/images/{image_id}",
                app.config.image_url.trim_end_matches('/')
            );
            if let Ok(v) = HeaderValue::from_str(&loc) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        }
        "rebuild" => {
            let m = arg.as_object().ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid input for field/attribute rebuild. Value: {arg}. {arg} is not of type 'object'"
                ))
            })?;
            let rebuilt = app.server_rebuild(&ctx, &id, m, mv).await?;
            let i = &rebuilt.instance;
            let mut r = RenderCtx::new(&app, &ctx, mv, Some(&i.project_id)).await?;
            r.extended = false;
            r.host_status = None;
            let fault = app.server_fault(i).await?;
            let mut s = render(&app, &r, i, fault.as_ref(), View::Core);
            s["adminPass"] = json!(rebuilt.admin_pass);
            if mv.at_least(54) {
                s["key_name"] = json!(i.key_name);
            }
            if mv.at_least(57) {
                s["user_data"] = json!(i.user_data);
            }
            Ok(with_status(StatusCode::ACCEPTED, json!({"server": s})))
        }
        "shelve" => {
            app.server_shelve(&ctx, &id).await?;
            accepted()
        }
        "shelveOffload" => {
            app.server_shelve_offload(&ctx, &id).await?;
            accepted()
        }
        "unshelve" => {
            app.server_unshelve(&ctx, &id).await?;
            accepted()
        }
        "rescue" => {
            let m = match arg {
                Value::Object(m) => m.clone(),
                Value::Null => Map::new(),
                _ => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute rescue. Value: {arg}. {arg} is not of type 'object'"
                    )));
                }
            };
            let pass = app.server_rescue(&ctx, &id, &m).await?;
            Ok(ok(json!({"adminPass": pass})))
        }
        "restore" | "forceDelete" => {
            app.server_deferred_delete(&ctx, &id, action == "restore")
                .await?;
            accepted()
        }
        "changePassword" => {
            let m = arg.as_object().cloned().unwrap_or_default();
            app.server_change_password(&ctx, &id, &m).await?;
            accepted()
        }
        "migrate" => {
            app.server_migrate(&ctx, &id).await?;
            accepted()
        }
        "unrescue" => {
            app.server_unrescue(&ctx, &id).await?;
            accepted()
        }
        "injectNetworkInfo" => {
            app.server_inject_network_info(&ctx, &id).await?;
            accepted()
        }
        "addFloatingIp" | "removeFloatingIp" if !mv.at_least(44) => {
            app.proxy_floating_ip_server(&ctx, &id, arg, action == "addFloatingIp")
                .await?;
            accepted()
        }
        other => Err(Error::bad_request(format!(
            "There is no such action: {other}"
        ))),
    }
}

/// `GET /servers/{id}/diagnostics`. Drivers report no counters yet, so the numbers are the
/// server's flavor and zeros; 2.48+ uses the standard format (its `driver` enum has no
/// `fake`, and the qemu driver is closest to `libvirt`, as Nova's own fake driver says).
async fn diagnostics(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let i = app.server_diagnostics(&ctx, &id).await?;
    let mem_kb = i.flavor.memory_mb * 1024;
    if !mv.at_least(48) {
        return Ok(ok(json!({
            "cpu0_time": 0, "memory": mem_kb, "memory-actual": mem_kb,
            "vda_read": 0, "vda_read_req": 0, "vda_write": 0, "vda_write_req": 0, "vda_errors": -1,
        })));
    }
    let state = match i.power_state {
        states::power::RUNNING => "running",
        states::power::PAUSED => "paused",
        states::power::SUSPENDED => "suspended",
        states::power::CRASHED => "crashed",
        states::power::SHUTDOWN => "shutdown",
        _ => "pending",
    };
    let uptime = i
        .launched_at
        .map(|l| (oxstack_common::time::now().timestamp_micros() - l).max(0) / 1_000_000);
    Ok(ok(json!({
        "state": state,
        "driver": "libvirt",
        "hypervisor": null,
        "hypervisor_os": null,
        "uptime": uptime,
        "config_drive": i.config_drive == "True" || i.config_drive == "true",
        "num_cpus": i.flavor.vcpus,
        "num_nics": 0,
        "num_disks": 1,
        "memory_details": {"maximum": i.flavor.memory_mb, "used": 0},
        "cpu_details": (0..i.flavor.vcpus).map(|n| json!({"id": n, "time": 0, "utilisation": null})).collect::<Vec<_>>(),
        "nic_details": [],
        "disk_details": [{"read_bytes": 0, "read_requests": 0, "write_bytes": 0, "write_requests": 0, "errors_count": 0}],
    })))
}

async fn metadata_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(ok(
        json!({"metadata": app.server_metadata(&ctx, &id).await?}),
    ))
}

async fn metadata_merge(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(b): Json<Value>,
) -> Result<Response> {
    let m = app
        .server_metadata_set(&ctx, &id, &b, crate::app::MetadataWrite::Merge)
        .await?;
    Ok(ok(json!({ "metadata": m })))
}

async fn metadata_replace(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(b): Json<Value>,
) -> Result<Response> {
    let m = app
        .server_metadata_set(&ctx, &id, &b, crate::app::MetadataWrite::Replace)
        .await?;
    Ok(ok(json!({ "metadata": m })))
}

async fn metadata_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    let v = app.server_metadata_item(&ctx, &id, &key).await?;
    Ok(ok(json!({"meta": { key: v }})))
}

async fn metadata_set(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, key)): Path<(String, String)>,
    Json(b): Json<Value>,
) -> Result<Response> {
    let m = app
        .server_metadata_set(&ctx, &id, &b, crate::app::MetadataWrite::Item(&key))
        .await?;
    Ok(ok(json!({ "meta": m })))
}

async fn metadata_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    app.server_metadata_delete(&ctx, &id, &key).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

fn tags_api(mv: Version) -> Result<()> {
    if mv.at_least(26) {
        Ok(())
    } else {
        Err(Error::not_found("The resource could not be found."))
    }
}

async fn tag_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    tags_api(mv)?;
    Ok(ok(json!({"tags": app.server_tags(&ctx, &id).await?})))
}

async fn tag_replace(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(b): Json<Value>,
) -> Result<Response> {
    tags_api(mv)?;
    Ok(ok(
        json!({"tags": app.server_tags_replace(&ctx, &id, &b).await?}),
    ))
}

async fn tag_delete_all(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    tags_api(mv)?;
    app.server_tag_delete(&ctx, &id, None).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

async fn tag_check(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    tags_api(mv)?;
    app.server_tag_check(&ctx, &id, &tag).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

async fn tag_add(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    tags_api(mv)?;
    if app.server_tag_add(&ctx, &id, &tag).await? {
        let mut resp = status(StatusCode::CREATED);
        if let Ok(v) = HeaderValue::from_str(&app.self_link(&format!("servers/{id}/tags/{tag}"))) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Ok(resp)
    } else {
        Ok(status(StatusCode::NO_CONTENT))
    }
}

async fn tag_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    tags_api(mv)?;
    app.server_tag_delete(&ctx, &id, Some(&tag)).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

/// Nova's `addresses`: each network's fixed then floating addresses, per port.
fn addresses(vifs: &[Vif], extended: bool) -> Value {
    let mut out = serde_json::Map::new();
    for v in vifs {
        let list = out
            .entry(v.network_label.clone())
            .or_insert_with(|| json!([]));
        let fixed = v.fixed_ips.iter().map(|f| (f.ip_address.as_str(), "fixed"));
        let floating = v.floating_ips.iter().map(|f| (f.as_str(), "floating"));
        for (addr, kind) in fixed.chain(floating) {
            let version = if addr.contains(':') { 6 } else { 4 };
            let mut a = json!({"version": version, "addr": addr});
            if extended {
                a["OS-EXT-IPS:type"] = json!(kind);
                a["OS-EXT-IPS-MAC:mac_addr"] = json!(v.mac_address);
            }
            if let Some(l) = list.as_array_mut() {
                l.push(a);
            }
        }
    }
    Value::Object(out)
}

async fn ips(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let i = app.server_addresses(&ctx, &id, false).await?;
    Ok(ok(json!({"addresses": addresses(&i.network_info, false)})))
}

async fn ip_network(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, net)): Path<(String, String)>,
) -> Result<Response> {
    let i = app.server_addresses(&ctx, &id, true).await?;
    match addresses(&i.network_info, false).get(&net) {
        Some(list) => Ok(ok(json!({ net: list }))),
        None => Err(Error::not_found(
            "Instance is not a member of specified network",
        )),
    }
}

fn interface_view(i: &Interface, mv: Version) -> Value {
    let mut v = json!({
        "net_id": i.port.network_id,
        "port_id": i.port.id,
        "mac_addr": i.port.mac_address,
        "port_state": i.port.status,
        "fixed_ips": i.port.fixed_ips,
    });
    if mv.at_least(70) {
        v["tag"] = json!(i.tag);
    }
    v
}

async fn server_security_groups(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let groups = app.server_security_groups(&ctx, &id).await?;
    Ok(ok(json!({ "security_groups": groups })))
}

async fn interface_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let list = app.interface_list(&ctx, &id).await?;
    let list: Vec<Value> = list.iter().map(|i| interface_view(i, mv)).collect();
    Ok(ok(json!({ "interfaceAttachments": list })))
}

async fn interface_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, port)): Path<(String, String)>,
) -> Result<Response> {
    let i = app.interface_show(&ctx, &id, &port).await?;
    Ok(ok(json!({ "interfaceAttachment": interface_view(&i, mv) })))
}

async fn interface_attach(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let r = InterfaceRequest::parse(&body, mv)?;
    let i = app.interface_attach(&ctx, &id, r).await?;
    Ok(ok(json!({ "interfaceAttachment": interface_view(&i, mv) })))
}

async fn interface_detach(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, port)): Path<(String, String)>,
) -> Result<Response> {
    app.interface_detach(&ctx, &id, &port).await?;
    Ok(status(StatusCode::ACCEPTED))
}

fn action_view(a: &crate::model::InstanceAction, mv: Version) -> Value {
    let mut v = json!({
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "message": a.message,
        "project_id": a.project_id,
        "request_id": a.request_id,
        "start_time": naive(a.start_time),
        "user_id": a.user_id,
    });
    if mv.at_least(58) {
        v["updated_at"] = json!(naive(a.updated_at));
    }
    v
}

async fn action_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let mut actions = app.action_list(&ctx, &id, mv.at_least(21)).await?;
    if mv.at_least(58) {
        if let Some(m) = q.get("marker") {
            let pos = actions
                .iter()
                .position(|a| &a.request_id == m)
                .ok_or_else(|| Error::bad_request(format!("Marker {m} could not be found.")))?;
            actions.drain(..=pos);
        }
        if let Some(l) = super::parse_limit(q.get("limit"))? {
            actions.truncate(l);
        }
    }
    Ok(ok(
        json!({"instanceActions": actions.iter().map(|a| action_view(a, mv)).collect::<Vec<_>>()}),
    ))
}

async fn action_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, request_id)): Path<(String, String)>,
) -> Result<Response> {
    let d = app
        .action_show(&ctx, &id, &request_id, mv.at_least(21), mv.at_least(51))
        .await?;
    let mut v = action_view(&d.action, mv);
    if let Some(events) = &d.events {
        v["events"] = json!(
            events
                .iter()
                .map(|e| {
                    let mut ev = json!({
                        "event": e.event,
                        "start_time": naive(e.start_time),
                        "finish_time": e.finish_time.map(naive),
                        "result": e.result,
                    });
                    if d.show_traceback {
                        ev["traceback"] = json!(e.traceback);
                    }
                    ev
                })
                .collect::<Vec<_>>()
        );
    }
    Ok(ok(json!({ "instanceAction": v })))
}
