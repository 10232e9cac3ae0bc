//! Servers: create (validation, quota, records; the conductor schedules and builds), list
//! with filters, sorting and paging, show, update, delete, metadata, tags, and the server
//! actions with Nova's state checks.

use std::collections::BTreeMap;

use base64::Engine;
use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{App, Caller, invalid, is_uuid_like, new_uuid, now};
use crate::microversion::Version;
use crate::model::{Fault, FlavorSnapshot, Instance, InstanceAction};
use crate::states::{self, Allowed, NO_TASK, power, task, vm};
use crate::store::{InstanceFilter, InstanceSort, InstanceSortKey, InstanceUpdate, NewInstance};

/// A parsed `POST /servers`.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub body: Map<String, Value>,
    pub hints: Map<String, Value>,
}

/// What a create answers with.
#[derive(Debug, Clone)]
pub struct Created {
    pub instances: Vec<Instance>,
    pub admin_pass: String,
    pub reservation_id: String,
    pub return_reservation_id: bool,
    pub security_groups: Vec<String>,
}

/// `GET /servers` query.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub params: Vec<(String, String)>,
}

impl ListQuery {
    fn get(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// One page of servers.
#[derive(Debug, Clone)]
pub struct ServerList {
    pub servers: Vec<Instance>,
    /// The marker of the next page, when the page was full.
    pub next_marker: Option<String>,
}

/// Nova's `[api] max_limit`: the most servers one list returns, and its default.
const MAX_LIMIT: usize = 1000;

/// Sort keys Nova accepts up to microversion 2.74 but ignores (with their direction).
const IGNORED_SORT_KEYS: &[&str] = &[
    "architecture",
    "cell_name",
    "cleaned",
    "default_ephemeral_device",
    "default_swap_device",
    "deleted",
    "deleted_at",
    "disable_terminate",
    "ephemeral_gb",
    "ephemeral_key_uuid",
    "id",
    "key_data",
    "launched_on",
    "locked",
    "memory_mb",
    "os_type",
    "reservation_id",
    "root_gb",
    "shutdown_terminate",
    "user_data",
    "vcpus",
    "vm_mode",
];

/// Sort keys Nova accepts that no server here has a value for (all equal: they never
/// decide the order).
const CONSTANT_SORT_KEYS: &[&str] = &["kernel_id", "ramdisk_id", "root_device_name"];

/// `sort_key` / `sort_dir` as Nova reads them (`common.get_sort_params`, the servers API's
/// `remove_invalid_sort_keys`, the database's `process_sort_params`): `created_at desc` by
/// default; directions missing at the end take the first direction; `created_at` and the
/// id (here the uuid) are appended in the first direction unless listed.
fn sort_params(q: &ListQuery, is_admin: bool, mv: Version) -> Result<Vec<InstanceSort>> {
    let mut keys: Vec<&str> = q.all("sort_key").into_iter().map(str::trim).collect();
    let mut dirs: Vec<&str> = q.all("sort_dir").into_iter().map(str::trim).collect();
    for k in keys.clone() {
        // `locked` is a key from 2.73; the ignored keys are invalid from 2.75.
        let ignored = !mv.at_least(75)
            && IGNORED_SORT_KEYS.contains(&k)
            && !(k == "locked" && mv.at_least(73));
        if ignored {
            let n = keys.iter().position(|x| *x == k).unwrap_or_default();
            if dirs.len() > n {
                dirs.remove(n);
            }
            keys.remove(n);
        } else if InstanceSortKey::from_nova(k).is_none() && !CONSTANT_SORT_KEYS.contains(&k) {
            return Err(Error::bad_request(format!("Invalid sort_key: {k}")));
        } else if (k == "host" || k == "node") && !is_admin {
            return Err(Error::forbidden(format!(
                "Only administrators can sort servers by {k}"
            )));
        }
    }
    if keys.is_empty() {
        keys.push("created_at");
    }
    if dirs.is_empty() {
        dirs.push("desc");
    }
    if let Some(d) = dirs.iter().find(|d| **d != "asc" && **d != "desc") {
        return Err(Error::bad_request(format!("Invalid sort_dir: {d}")));
    }
    if dirs.len() > keys.len() {
        return Err(Error::bad_request(
            "Invalid input received: Sort direction size exceeds sort key size",
        ));
    }
    let first_desc = dirs[0] == "desc";
    let mut sort = Vec::new();
    for (n, k) in keys.iter().enumerate() {
        let desc = dirs.get(n).map_or(first_desc, |d| *d == "desc");
        if let Some(key) = InstanceSortKey::from_nova(k) {
            sort.push(InstanceSort { key, desc });
        }
    }
    if !keys.contains(&"created_at") {
        sort.push(InstanceSort {
            key: InstanceSortKey::CreatedAt,
            desc: first_desc,
        });
    }
    sort.push(InstanceSort {
        key: InstanceSortKey::Uuid,
        desc: first_desc,
    });
    Ok(sort)
}

pub(crate) fn server_not_found(id: &str) -> Error {
    Error::not_found(format!("Instance {id} could not be found."))
}

pub(super) fn state_conflict(i: &Instance, action: &str) -> Error {
    let attr = if i.task_state.is_some() && !matches!(action, "delete" | "os-resetState") {
        format!("task_state {}", i.task_state.as_deref().unwrap_or("None"))
    } else {
        format!("vm_state {}", i.vm_state)
    };
    Error::conflict(format!(
        "Cannot '{action}' instance {} while it is in {attr}",
        i.uuid
    ))
}

pub(super) fn str_field<'a>(
    m: &'a Map<String, Value>,
    k: &str,
    max: usize,
) -> Result<Option<&'a str>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s)),
        Some(v) => Err(invalid(k, &format!("{v} is not valid"))),
    }
}

pub(super) fn valid_server_name(s: &str) -> bool {
    let n = s.chars().count();
    (1..=255).contains(&n) && !s.trim().is_empty() && s.trim() == s
}

pub(super) fn metadata_of(v: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let m = v
        .as_object()
        .ok_or_else(|| invalid(field, &format!("{v} is not of type 'object'")))?;
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let val = v
            .as_str()
            .ok_or_else(|| invalid(field, &format!("{v} is not of type 'string'")))?;
        if k.is_empty() || k.chars().count() > 255 || val.chars().count() > 255 {
            return Err(invalid(field, &format!("'{k}' is too long or empty")));
        }
        out.insert(k.clone(), val.to_string());
    }
    Ok(out)
}

/// `OS-DCF:diskConfig`: AUTO (true) or MANUAL (false).
pub fn disk_config(v: &Value) -> Result<bool> {
    match v.as_str() {
        Some("AUTO") => Ok(true),
        Some("MANUAL") => Ok(false),
        _ => Err(invalid(
            "OS-DCF:diskConfig",
            &format!("{v}. {v} is not one of ['AUTO', 'MANUAL']"),
        )),
    }
}

fn valid_tag(t: &str) -> bool {
    let n = t.chars().count();
    (1..=60).contains(&n) && !t.contains('/') && !t.contains(',')
}

pub(super) fn generate_password() -> String {
    use rand::RngExt as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Nova's `hostname` from a display name: lowercase, `[a-z0-9-]`, at most 63 characters.
fn hostname_of(name: &str) -> String {
    let mut h: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    h = h.trim_matches('-').to_string();
    h.truncate(63);
    if h.is_empty() { "server".into() } else { h }
}

/// What the flavor of a resize needs.
const RESIZE_ALLOWED: Allowed = Allowed::new(Some(&[vm::ACTIVE, vm::STOPPED]), NO_TASK);

/// The API-side state rules of each action: allowed states, the task it starts, the RPC
/// method, the instance-action name and the policy rule.
struct ActionRule {
    name: &'static str,
    allowed: Allowed,
    task: Option<&'static str>,
    rpc: Option<&'static str>,
    policy: &'static str,
}

const SIMPLE_ACTIONS: &[ActionRule] = &[
    ActionRule {
        name: "stop",
        allowed: Allowed::new(Some(&[vm::ACTIVE, vm::RESCUED, vm::ERROR]), NO_TASK),
        task: Some(task::POWERING_OFF),
        rpc: Some("stop_instance"),
        policy: "os_compute_api:servers:stop",
    },
    ActionRule {
        name: "start",
        allowed: Allowed::new(Some(&[vm::STOPPED]), NO_TASK),
        task: Some(task::POWERING_ON),
        rpc: Some("start_instance"),
        policy: "os_compute_api:servers:start",
    },
    ActionRule {
        name: "pause",
        allowed: Allowed::new(Some(&[vm::ACTIVE]), NO_TASK),
        task: Some(task::PAUSING),
        rpc: Some("pause_instance"),
        policy: "os_compute_api:os-pause-server:pause",
    },
    ActionRule {
        name: "unpause",
        allowed: Allowed::new(Some(&[vm::PAUSED]), NO_TASK),
        task: Some(task::UNPAUSING),
        rpc: Some("unpause_instance"),
        policy: "os_compute_api:os-pause-server:unpause",
    },
    ActionRule {
        name: "suspend",
        allowed: Allowed::new(Some(&[vm::ACTIVE]), NO_TASK),
        task: Some(task::SUSPENDING),
        rpc: Some("suspend_instance"),
        policy: "os_compute_api:os-suspend-server:suspend",
    },
    ActionRule {
        name: "resume",
        allowed: Allowed::new(Some(&[vm::SUSPENDED]), NO_TASK),
        task: Some(task::RESUMING),
        rpc: Some("resume_instance"),
        policy: "os_compute_api:os-suspend-server:resume",
    },
];

impl App {
    /// Loads a server for `rule`: 404 when missing or (for non-admins) in another project,
    /// then the policy check against its project, as Nova.
    pub(crate) async fn server_for(
        &self,
        c: &Caller<'_>,
        id: &str,
        rule: &str,
    ) -> Result<Instance> {
        let i = self
            .store
            .instance_get(id, false)
            .await?
            .filter(|i| c.is_admin || i.project_id == c.project_id())
            .ok_or_else(|| server_not_found(id))?;
        self.authorize(
            c,
            rule,
            &json!({"project_id": i.project_id, "user_id": i.user_id}),
        )?;
        Ok(i)
    }

    pub(super) async fn record_action(
        &self,
        c: &Caller<'_>,
        i: &Instance,
        action: &str,
    ) -> Result<()> {
        let t = now();
        self.store
            .action_start(&InstanceAction {
                instance_uuid: i.uuid.clone(),
                request_id: c.ctx.ids.local.clone(),
                action: action.into(),
                project_id: c.project_id().into(),
                user_id: c.user_id().into(),
                start_time: t,
                updated_at: t,
                message: None,
            })
            .await?;
        Ok(())
    }

    /// The fault of a server in ERROR/DELETED.
    pub async fn server_fault(&self, i: &Instance) -> Result<Option<Fault>> {
        Ok(self.store.instance_fault_get(&i.uuid).await?)
    }

    pub async fn server_create(
        &self,
        ctx: &RequestContext,
        req: CreateRequest,
        mv: Version,
    ) -> Result<Created> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:servers:create")?;
        let b = &req.body;
        let name = match b.get("name") {
            Some(Value::String(s)) if valid_server_name(s) => s.clone(),
            Some(v) => return Err(invalid("name", &format!("{v}. It is not a valid name"))),
            None => return Err(invalid("server", "'name' is a required property")),
        };
        let description = if mv.at_least(19) {
            str_field(b, "description", 255)?.map(str::to_string)
        } else {
            None
        };
        // Flavor.
        let flavor_ref = match b.get("flavorRef") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(v) => return Err(invalid("flavorRef", &v.to_string())),
            None => return Err(invalid("server", "'flavorRef' is a required property")),
        };
        let flavor_id = flavor_ref
            .rsplit('/')
            .next()
            .unwrap_or(&flavor_ref)
            .to_string();
        let flavor = self
            .flavor_show(ctx, &flavor_id)
            .await
            .map_err(|_| Error::bad_request("Invalid flavorRef provided."))?;
        if flavor.disabled {
            return Err(Error::bad_request("Flavor is disabled."));
        }
        // Image (none for a server that boots from a volume: see `bfv`).
        let plan = self.block_devices_plan(&c, b, mv).await?;
        let image_ref = match b.get("imageRef") {
            Some(Value::String(s)) if !s.is_empty() => {
                s.rsplit('/').next().unwrap_or(s).to_string()
            }
            None | Some(Value::String(_)) if plan.as_ref().is_some_and(|p| p.boots_from_volume) => {
                String::new()
            }
            None | Some(Value::String(_))
                if plan.as_ref().is_some_and(|p| p.boot_image.is_some()) =>
            {
                plan.as_ref()
                    .and_then(|p| p.boot_image.clone())
                    .unwrap_or_default()
            }
            Some(Value::String(_)) | None => {
                return Err(Error::bad_request("Missing imageRef attribute"));
            }
            Some(v) => return Err(invalid("imageRef", &v.to_string())),
        };
        let token = c.ctx.token.clone().unwrap_or_default();
        if plan.as_ref().is_none_or(|p| !p.boots_from_volume) {
            if !is_uuid_like(&image_ref) {
                return Err(Error::bad_request("Invalid imageRef provided."));
            }
            let image = self
                .image
                .image_get(&token, &image_ref)
                .await?
                .ok_or_else(|| {
                    Error::bad_request(format!("Can not find requested image {image_ref}"))
                })?;
            if image.status != "active" {
                return Err(Error::bad_request(format!(
                    "Image {image_ref} is not active."
                )));
            }
            if flavor.root_gb > 0 && image.min_disk > flavor.root_gb {
                return Err(Error::bad_request(
                    "Flavor's disk is too small for requested image.",
                ));
            }
            if image.min_ram > flavor.memory_mb {
                return Err(Error::bad_request(
                    "Flavor's memory is too small for requested image.",
                ));
            }
        }
        // Key pair.
        let (key_name, key_data) = match str_field(b, "key_name", 255)? {
            Some(k) => {
                let kp = self
                    .store
                    .keypair_get(c.user_id(), k)
                    .await?
                    .ok_or_else(|| Error::bad_request("Invalid key_name provided."))?;
                (Some(k.to_string()), Some(kp.public_key))
            }
            None => (None, None),
        };
        // User data.
        let user_data = match b.get("user_data") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if s.len() > 65535 {
                    return Err(invalid("user_data", "is too long"));
                }
                base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(|_| Error::bad_request("User data needs to be valid base 64."))?;
                Some(s.clone())
            }
            Some(v) => return Err(invalid("user_data", &v.to_string())),
        };
        let metadata = metadata_of(b.get("metadata"), "metadata")?;
        let meta_limit = self.quota_limit(c.project_id(), "metadata_items").await?;
        if meta_limit >= 0 && metadata.len() as i64 > meta_limit {
            return Err(Error::forbidden(format!(
                "Quota exceeded for metadata_items: Requested {}, but already used 0 of {meta_limit} metadata_items",
                metadata.len()
            )));
        }
        if !mv.at_least(57)
            && let Some(p) = b.get("personality")
        {
            let files = p.as_array().map_or(0, Vec::len) as i64;
            let limit = self.quota_limit(c.project_id(), "injected_files").await?;
            if limit >= 0 && files > limit {
                return Err(Error::forbidden("Personality file limit exceeded"));
            }
        } else if b.contains_key("personality") {
            return Err(Error::bad_request(
                "Additional properties are not allowed ('personality' was unexpected)",
            ));
        }
        let tags: Vec<String> = match b.get("tags") {
            Some(v) if mv.at_least(52) => {
                let list = v
                    .as_array()
                    .ok_or_else(|| invalid("tags", &format!("{v} is not of type 'array'")))?;
                let mut out = Vec::new();
                for t in list {
                    match t.as_str() {
                        Some(s) if valid_tag(s) => out.push(s.to_string()),
                        _ => return Err(invalid("tags", &format!("{t} is not a valid tag"))),
                    }
                }
                if out.len() > 50 {
                    return Err(invalid("tags", "too many tags (at most 50)"));
                }
                out.sort();
                out.dedup();
                out
            }
            Some(_) => {
                return Err(Error::bad_request(
                    "Additional properties are not allowed ('tags' was unexpected)",
                ));
            }
            None => Vec::new(),
        };
        let security_groups: Vec<String> = match b.get("security_groups") {
            None => vec!["default".into()],
            Some(Value::Array(l)) => l
                .iter()
                .map(|g| {
                    g.get("name")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| invalid("security_groups", &g.to_string()))
                })
                .collect::<Result<_>>()?,
            Some(v) => return Err(invalid("security_groups", &v.to_string())),
        };
        let count = |k: &str| -> Result<Option<i64>> {
            match b.get(k) {
                None => Ok(None),
                Some(v) => match v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                {
                    Some(n) if n >= 1 => Ok(Some(n)),
                    _ => Err(invalid(k, &format!("{v} is less than the minimum of 1"))),
                },
            }
        };
        let min_count = count("min_count")?.unwrap_or(1);
        let max_count = count("max_count")?.unwrap_or(min_count);
        if min_count > max_count {
            return Err(Error::bad_request("min_count must be <= max_count"));
        }
        let networks = self
            .networks_for_create(&c, b.get("networks"), &security_groups, max_count, mv)
            .await?;
        let networks = serde_json::to_string(&networks).unwrap_or_else(|_| "[]".into());
        // Availability zone (`zone`, or `zone:host` for admins).
        let mut forced_host = None;
        let az = match str_field(b, "availability_zone", 255)? {
            Some(z) => {
                let (zone, host) = match z.split_once(':') {
                    Some((zone, host)) => (zone, Some(host.split(':').next().unwrap_or(host))),
                    None => (z, None),
                };
                if let Some(h) = host.filter(|h| !h.is_empty()) {
                    self.authorize_own(&c, "os_compute_api:servers:create:forced_host")?;
                    forced_host = Some(h.to_string());
                }
                let zone = if zone.is_empty() {
                    self.config.default_availability_zone.clone()
                } else {
                    zone.to_string()
                };
                if zone != self.config.default_availability_zone {
                    return Err(Error::bad_request(
                        "The requested availability zone is not available",
                    ));
                }
                Some(zone)
            }
            None => None,
        };
        let auto_disk_config = b
            .get("OS-DCF:diskConfig")
            .map(disk_config)
            .transpose()?
            .unwrap_or(false);
        let config_drive = match b.get("config_drive") {
            None | Some(Value::Null) => String::new(),
            Some(Value::Bool(true)) => "True".into(),
            Some(Value::Bool(false)) => String::new(),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => "True".into(),
                "false" | "0" | "no" | "off" | "" => String::new(),
                _ => return Err(invalid("config_drive", s)),
            },
            Some(v) => return Err(invalid("config_drive", &v.to_string())),
        };
        let admin_pass = match str_field(b, "adminPass", 255)? {
            Some(p) => p.to_string(),
            None => generate_password(),
        };
        let access_ip_v4 = match str_field(b, "accessIPv4", 64)? {
            Some(a) if a.parse::<std::net::Ipv4Addr>().is_err() => {
                return Err(invalid("accessIPv4", &format!("{a} is not a 'ipv4'")));
            }
            a => a.map(str::to_string),
        };
        let access_ip_v6 = match str_field(b, "accessIPv6", 64)? {
            Some(a) => match a.parse::<std::net::Ipv6Addr>() {
                // Nova stores the canonical (RFC 5952) form.
                Ok(ip) => Some(ip.to_string()),
                Err(_) => return Err(invalid("accessIPv6", &format!("{a} is not a 'ipv6'"))),
            },
            None => None,
        };
        // Scheduler hints.
        let group = match req.hints.get("group") {
            None => None,
            Some(Value::String(g)) => {
                let g = self
                    .store
                    .group_get(g)
                    .await?
                    .filter(|g| c.is_admin || g.project_id == c.project_id())
                    .ok_or_else(|| Error::bad_request(format!("Invalid server group {g}")))?;
                let limit = self
                    .quota_limit(c.project_id(), "server_group_members")
                    .await?;
                if limit >= 0 && g.members.len() as i64 + max_count > limit {
                    return Err(Error::forbidden(
                        "Quota exceeded, too many servers in group",
                    ));
                }
                Some(g.uuid)
            }
            Some(v) => return Err(invalid("group", &v.to_string())),
        };
        // Quota: as many as fit between min and max (Nova retries with fewer).
        let mut n = max_count;
        loop {
            let wanted = [
                ("instances", n),
                ("cores", n * flavor.vcpus),
                ("ram", n * flavor.memory_mb),
            ];
            match self.quota_check(c.project_id(), &wanted).await {
                Ok(()) => break,
                Err(e) if n <= min_count => return Err(e),
                Err(_) => n -= 1,
            }
        }
        let reservation_id = format!("r-{}", &new_uuid().replace('-', "")[..8]);
        let t = now();
        let snapshot = FlavorSnapshot::from(&flavor);
        let mut instances = Vec::new();
        for idx in 0..n {
            let display = if n > 1 {
                format!("{name}-{}", idx + 1)
            } else {
                name.clone()
            };
            instances.push(Instance {
                uuid: new_uuid(),
                name: display.clone(),
                description: description.clone(),
                project_id: c.project_id().into(),
                user_id: c.user_id().into(),
                image_ref: image_ref.clone(),
                flavor: snapshot.clone(),
                old_flavor: None,
                new_flavor: None,
                vm_state: vm::BUILDING.into(),
                task_state: Some(task::SCHEDULING.into()),
                power_state: power::NOSTATE,
                host: None,
                node: None,
                availability_zone: az.clone(),
                key_name: key_name.clone(),
                key_data: key_data.clone(),
                user_data: user_data.clone(),
                config_drive: config_drive.clone(),
                auto_disk_config,
                access_ip_v4: access_ip_v4.clone(),
                access_ip_v6: access_ip_v6.clone(),
                locked_by: None,
                reservation_id: reservation_id.clone(),
                launch_index: idx,
                hostname: hostname_of(&display),
                progress: 0,
                security_groups: security_groups.clone(),
                networks: networks.clone(),
                network_info: Vec::new(),
                launched_at: None,
                terminated_at: None,
                created_at: t,
                updated_at: t,
                deleted: false,
                metadata: metadata.clone(),
                tags: tags.clone(),
            });
        }
        let new: Vec<NewInstance> = instances
            .iter()
            .map(|i| NewInstance {
                instance: i.clone(),
                group: group.clone(),
            })
            .collect();
        self.store.instance_create(&new).await?;
        if let Some(p) = &plan {
            self.block_devices_create(&c, p, &instances).await?;
        }
        for i in &instances {
            self.record_action(&c, i, "create").await?;
        }
        self.spawn_build(
            c.rpc(),
            instances.iter().map(|i| i.uuid.clone()).collect(),
            super::conductor::Hints::parse(&req.hints, group, forced_host),
        );
        let return_reservation_id =
            matches!(b.get("return_reservation_id"), Some(Value::Bool(true)))
                || b.get("return_reservation_id")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case("true"));
        Ok(Created {
            instances,
            admin_pass,
            reservation_id,
            return_reservation_id,
            security_groups,
        })
    }

    pub async fn server_show(&self, ctx: &RequestContext, id: &str) -> Result<Instance> {
        let c = self.caller(ctx)?;
        self.server_for(&c, id, "os_compute_api:servers:show").await
    }

    /// `GET /servers` and `/servers/detail`.
    pub async fn server_list(
        &self,
        ctx: &RequestContext,
        q: &ListQuery,
        detail: bool,
        mv: Version,
    ) -> Result<ServerList> {
        let c = self.caller(ctx)?;
        let base = if detail {
            "os_compute_api:servers:detail"
        } else {
            "os_compute_api:servers:index"
        };
        self.authorize_own(&c, base)?;
        let truthy = |v: &str| {
            !matches!(
                v.to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        };
        let all_tenants = q
            .get("all_tenants")
            .is_some_and(|v| v.is_empty() || truthy(v));
        let mut filter = InstanceFilter::default();
        let admin_filters = all_tenants && {
            self.authorize_own(&c, &format!("{base}:get_all_tenants"))?;
            true
        } || c.is_admin;
        if all_tenants {
            filter.project_id = q
                .get("project_id")
                .or(q.get("tenant_id"))
                .map(str::to_string);
        } else {
            filter.project_id = Some(c.project_id().to_string());
        }
        if admin_filters {
            filter.host = q.get("host").map(str::to_string);
            if q.get("deleted").is_some_and(truthy) {
                filter.include_deleted = true;
            }
        }
        if let Some(cs) = q.get("changes-since") {
            let t = chrono::DateTime::parse_from_rfc3339(cs)
                .or_else(|_| chrono::DateTime::parse_from_rfc3339(&format!("{cs}Z")))
                .map_err(|_| Error::bad_request(format!("Invalid input for field/attribute changes-since. Value: {cs}. '{cs}' is not a 'date-time'")))?;
            filter.changes_since = Some(t.timestamp_micros());
            filter.include_deleted = true;
        }
        if let Some(s) = q.get("status") {
            match states::vm_states_for_status(s) {
                Some(v) => filter.vm_states = Some(v.into_iter().map(str::to_string).collect()),
                None if mv.at_least(38) => {
                    return Err(Error::bad_request("Invalid status value"));
                }
                None => filter.vm_states = Some(Vec::new()),
            }
        }
        // Nova's `limit`: at most, and by default, `[api] max_limit` (1000).
        let limit = match q.get("limit") {
            None => MAX_LIMIT,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n >= 0 => (n as usize).min(MAX_LIMIT),
                _ => return Err(Error::bad_request("limit param must be an integer")),
            },
        };
        let sort = sort_params(q, c.is_admin, mv)?;
        filter.image_ref = q
            .get("image")
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string());
        filter.reservation_id = q.get("reservation_id").map(str::to_string);
        if mv.at_least(26) {
            let split = |k: &str| -> Option<Vec<String>> {
                q.get(k).map(|v| v.split(',').map(str::to_string).collect())
            };
            filter.tags = split("tags");
            filter.tags_any = split("tags-any");
            filter.not_tags = split("not-tags");
            filter.not_tags_any = split("not-tags-any");
        }
        // What SQL cannot express portably is checked here, on rows read in SQL order.
        let name_re = match q.get("name") {
            Some(n) => Some(
                regex::Regex::new(n)
                    .map_err(|_| Error::bad_request(format!("Invalid regular expression {n}")))?,
            ),
            None => None,
        };
        let want_status = q.get("status").map(str::to_ascii_uppercase);
        let flavor = q
            .get("flavor")
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string());
        // Nova matches `ip` / `ip6` as regular expressions from the start of each fixed
        // address (Python's `re.match`).
        let ip_re = |k: &str| -> Result<Option<regex::Regex>> {
            q.get(k)
                .map(|p| {
                    regex::Regex::new(&format!("^(?:{p})"))
                        .map_err(|_| Error::bad_request(format!("Invalid regular expression {p}")))
                })
                .transpose()
        };
        let (ip4, ip6) = (ip_re("ip")?, ip_re("ip6")?);
        let has_ip = |i: &Instance| {
            i.network_info.iter().flat_map(|v| &v.fixed_ips).any(|f| {
                let a = f.ip_address.as_str();
                let v6 = a.contains(':');
                (!v6 && ip4.as_ref().is_some_and(|r| r.is_match(a)))
                    || (v6 && ip6.as_ref().is_some_and(|r| r.is_match(a)))
            })
        };
        let keep = |i: &Instance| {
            let status = if i.deleted {
                "DELETED"
            } else {
                states::status(&i.vm_state, i.task_state.as_deref())
            };
            name_re.as_ref().is_none_or(|r| r.is_match(&i.name))
                && want_status.as_ref().is_none_or(|s| s == status)
                && flavor.as_ref().is_none_or(|f| &i.flavor.flavorid == f)
                && ((ip4.is_none() && ip6.is_none()) || has_ip(i))
        };
        let residual = name_re.is_some()
            || want_status.is_some()
            || flavor.is_some()
            || ip4.is_some()
            || ip6.is_some();
        let servers = self
            .store
            .instance_list_page(
                &filter,
                &sort,
                q.get("marker"),
                limit,
                residual.then_some(&keep as &crate::store::Keep<'_>),
            )
            .await?;
        // Nova links the next page whenever the page is full.
        let next_marker = (limit > 0 && servers.len() == limit)
            .then(|| servers.last().map(|i| i.uuid.clone()))
            .flatten();
        Ok(ServerList {
            servers,
            next_marker,
        })
    }

    pub async fn server_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        m: &Map<String, Value>,
        mv: Version,
    ) -> Result<Instance> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:servers:update")
            .await?;
        let mut u = InstanceUpdate::default();
        for (k, v) in m {
            match k.as_str() {
                "name" => match v.as_str() {
                    Some(s) if valid_server_name(s) => {
                        u.name = Some(s.to_string());
                        u.expect_vm_state = None;
                    }
                    _ => return Err(invalid("name", &format!("{v}. It is not a valid name"))),
                },
                "description" if mv.at_least(19) => {
                    u.description = Some(str_field(m, "description", 255)?.map(str::to_string));
                }
                "accessIPv4" => {
                    let a = str_field(m, k, 64)?;
                    if a.is_some_and(|a| !a.is_empty() && a.parse::<std::net::Ipv4Addr>().is_err())
                    {
                        return Err(invalid("accessIPv4", &format!("{v} is not a 'ipv4'")));
                    }
                    u.access_ip_v4 = Some(a.filter(|a| !a.is_empty()).map(str::to_string));
                }
                "accessIPv6" => {
                    let a = str_field(m, k, 64)?;
                    if a.is_some_and(|a| !a.is_empty() && a.parse::<std::net::Ipv6Addr>().is_err())
                    {
                        return Err(invalid("accessIPv6", &format!("{v} is not a 'ipv6'")));
                    }
                    u.access_ip_v6 = Some(
                        a.filter(|a| !a.is_empty())
                            .and_then(|a| a.parse::<std::net::Ipv6Addr>().ok())
                            .map(|ip| ip.to_string()),
                    );
                }
                "OS-DCF:diskConfig" => u.auto_disk_config = Some(disk_config(v)?),
                other => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute server. Value: {}. Additional properties are not allowed ('{other}' was unexpected)",
                        Value::Object(m.clone())
                    )));
                }
            }
        }
        if u.name.is_some() {
            u.expect_vm_state = None;
        }
        self.store.instance_update(&i.uuid, &u).await?;
        self.store
            .instance_get(&i.uuid, false)
            .await?
            .ok_or_else(|| server_not_found(id))
    }

    pub(super) fn check_locked(c: &Caller<'_>, i: &Instance) -> Result<()> {
        if i.locked_by.is_some() && !c.is_admin {
            return Err(Error::conflict(format!("Instance {} is locked", i.uuid)));
        }
        Ok(())
    }

    pub async fn server_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:servers:delete")
            .await?;
        Self::check_locked(&c, &i)?;
        self.record_action(&c, &i, "delete").await?;
        let moved = self
            .store
            .instance_update(
                &i.uuid,
                &InstanceUpdate {
                    task_state: Some(Some(task::DELETING.into())),
                    ..Default::default()
                },
            )
            .await?;
        if !moved {
            return Err(server_not_found(id));
        }
        // A server on a live host is deleted by its agent; one never scheduled (or whose
        // agent is gone) is deleted here, as Nova's local delete.
        if let Some(host) = &i.host {
            match self
                .rpc
                .cast(host, "terminate_instance", &c.rpc(), &i.uuid, json!({}))
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) => tracing::warn!(error = %e, host, "agent unreachable; deleting locally"),
            }
        }
        self.local_delete(&i.uuid).await
    }

    /// Deletes a server without its agent: releases its allocations and marks it deleted.
    pub(crate) async fn local_delete(&self, uuid: &str) -> Result<()> {
        self.placement.release(uuid).await?;
        self.release_volumes(uuid).await?;
        if let (Some(net), Some(i)) = (&self.network, self.store.instance_get(uuid, false).await?) {
            crate::networking::deallocate(net.as_ref(), &i).await?;
        }
        self.store
            .instance_update(
                uuid,
                &InstanceUpdate {
                    vm_state: Some(vm::DELETED.into()),
                    task_state: Some(None),
                    power_state: Some(power::NOSTATE),
                    terminated_at: Some(Some(now())),
                    deleted: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    /// `os-stop`, `os-start`, `pause`, `unpause`, `suspend`, `resume`.
    pub async fn server_simple_action(
        &self,
        ctx: &RequestContext,
        id: &str,
        action: &str,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let rule = SIMPLE_ACTIONS
            .iter()
            .find(|r| r.name == action)
            .ok_or_else(|| Error::bad_request(format!("Unknown action {action}")))?;
        let i = self.server_for(&c, id, rule.policy).await?;
        Self::check_locked(&c, &i)?;
        self.transition(&c, &i, action, rule.allowed, rule.task)
            .await?;
        if let (Some(host), Some(method)) = (&i.host, rule.rpc) {
            self.rpc
                .cast(host, method, &c.rpc(), &i.uuid, json!({}))
                .await
                .map_err(|e| Error::internal("rpc", e))?;
        }
        Ok(())
    }

    /// Checks the state, records the action and sets the task state (compare-and-set, so a
    /// concurrent action loses with 409).
    pub(super) async fn transition(
        &self,
        c: &Caller<'_>,
        i: &Instance,
        action: &str,
        allowed: Allowed,
        new_task: Option<&str>,
    ) -> Result<()> {
        if !allowed.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(i, action));
        }
        if let Some(t) = new_task {
            let moved = self
                .store
                .instance_update(
                    &i.uuid,
                    &InstanceUpdate {
                        task_state: Some(Some(t.into())),
                        expect_task_state: Some(vec![i.task_state.clone()]),
                        expect_vm_state: Some(vec![i.vm_state.clone()]),
                        ..Default::default()
                    },
                )
                .await?;
            if !moved {
                return Err(state_conflict(i, action));
            }
        }
        self.record_action(c, i, action).await
    }

    pub async fn server_reboot(&self, ctx: &RequestContext, id: &str, hard: bool) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:servers:reboot")
            .await?;
        Self::check_locked(&c, &i)?;
        let (allowed, t) = if hard {
            (
                Allowed::new(
                    Some(&[
                        vm::ACTIVE,
                        vm::STOPPED,
                        vm::PAUSED,
                        vm::SUSPENDED,
                        vm::ERROR,
                    ]),
                    Some(&[
                        None,
                        Some(task::REBOOTING),
                        Some(task::REBOOT_PENDING),
                        Some(task::REBOOT_STARTED),
                        Some(task::REBOOTING_HARD),
                        Some(task::RESUMING),
                        Some(task::UNPAUSING),
                        Some(task::SUSPENDING),
                    ]),
                ),
                task::REBOOTING_HARD,
            )
        } else {
            (Allowed::new(Some(&[vm::ACTIVE]), NO_TASK), task::REBOOTING)
        };
        self.transition(&c, &i, "reboot", allowed, Some(t)).await?;
        if let Some(host) = &i.host {
            self.rpc
                .cast(
                    host,
                    "reboot_instance",
                    &c.rpc(),
                    &i.uuid,
                    json!({"reboot_type": if hard { "HARD" } else { "SOFT" }}),
                )
                .await
                .map_err(|e| Error::internal("rpc", e))?;
        }
        Ok(())
    }

    pub async fn server_lock(&self, ctx: &RequestContext, id: &str, lock: bool) -> Result<()> {
        let c = self.caller(ctx)?;
        let rule = if lock {
            "os_compute_api:os-lock-server:lock"
        } else {
            "os_compute_api:os-lock-server:unlock"
        };
        let i = self.server_for(&c, id, rule).await?;
        if !lock && i.locked_by.as_deref() == Some("admin") && !c.is_admin {
            self.authorize(
                &c,
                "os_compute_api:os-lock-server:unlock:unlock_override",
                &json!({"project_id": i.project_id}),
            )?;
        }
        let by = if lock {
            Some(
                if c.is_admin && c.project_id() != i.project_id {
                    "admin"
                } else {
                    "owner"
                }
                .to_string(),
            )
        } else {
            None
        };
        self.record_action(&c, &i, if lock { "lock" } else { "unlock" })
            .await?;
        self.store
            .instance_update(
                &i.uuid,
                &InstanceUpdate {
                    locked_by: Some(by),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    pub async fn server_console_output(
        &self,
        ctx: &RequestContext,
        id: &str,
        length: Option<i64>,
    ) -> Result<String> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-console-output")
            .await?;
        if !matches!(
            i.vm_state.as_str(),
            vm::ACTIVE | vm::STOPPED | vm::PAUSED | vm::SUSPENDED | vm::RESCUED
        ) || i.host.is_none()
        {
            return Err(Error::conflict(format!("Instance {} is not ready", i.uuid)));
        }
        let host = i.host.clone().unwrap_or_default();
        self.rpc
            .get_console_output(&host, &c.rpc(), &i.uuid, length)
            .await
            .map_err(|e| match e {
                oxstack_common::bus::BusError::Remote { .. } => {
                    Error::not_found("Guest does not have a console available.")
                }
                other => Error::internal("rpc", other),
            })
    }

    pub async fn server_reset_state(
        &self,
        ctx: &RequestContext,
        id: &str,
        state: &str,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-admin-actions:reset_state")
            .await?;
        let vm_state = match state {
            "active" => vm::ACTIVE,
            "error" => vm::ERROR,
            other => {
                return Err(invalid(
                    "state",
                    &format!("'{other}' is not one of ['active', 'error']"),
                ));
            }
        };
        self.record_action(&c, &i, "resetState").await?;
        self.store
            .instance_update(
                &i.uuid,
                &InstanceUpdate {
                    vm_state: Some(vm_state.into()),
                    task_state: Some(None),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    pub async fn server_resize(
        &self,
        ctx: &RequestContext,
        id: &str,
        flavor_ref: &str,
        auto_disk_config: Option<bool>,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:servers:resize")
            .await?;
        Self::check_locked(&c, &i)?;
        let flavor_id = flavor_ref.rsplit('/').next().unwrap_or(flavor_ref);
        let new = self
            .flavor_show(ctx, flavor_id)
            .await
            .map_err(|_| Error::bad_request(format!("Unable to find flavor {flavor_id}")))?;
        if new.id == i.flavor.flavorid {
            return Err(Error::bad_request(
                "When resizing, instances must change flavor!",
            ));
        }
        if new.root_gb < i.flavor.root_gb && new.root_gb != 0 {
            return Err(Error::bad_request(
                "Resize error: Unable to resize disk down.",
            ));
        }
        if !RESIZE_ALLOWED.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(&i, "resize"));
        }
        let dv = new.vcpus - i.flavor.vcpus;
        let dr = new.memory_mb - i.flavor.memory_mb;
        self.quota_check(&i.project_id, &[("cores", dv.max(0)), ("ram", dr.max(0))])
            .await?;
        let snapshot = FlavorSnapshot::from(&new);
        let moved = self
            .store
            .instance_update(
                &i.uuid,
                &InstanceUpdate {
                    task_state: Some(Some(task::RESIZE_PREP.into())),
                    new_flavor: Some(Some(snapshot)),
                    auto_disk_config,
                    expect_task_state: Some(vec![None]),
                    expect_vm_state: Some(vec![i.vm_state.clone()]),
                    ..Default::default()
                },
            )
            .await?;
        if !moved {
            return Err(state_conflict(&i, "resize"));
        }
        self.record_action(&c, &i, "resize").await?;
        self.spawn_resize(c.rpc(), i.uuid.clone());
        Ok(())
    }

    pub async fn server_resize_end(
        &self,
        ctx: &RequestContext,
        id: &str,
        confirm: bool,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let rule = if confirm {
            "os_compute_api:servers:confirm_resize"
        } else {
            "os_compute_api:servers:revert_resize"
        };
        let i = self.server_for(&c, id, rule).await?;
        Self::check_locked(&c, &i)?;
        let action = if confirm {
            "confirmResize"
        } else {
            "revertResize"
        };
        if i.vm_state != vm::RESIZED || i.task_state.is_some() {
            return Err(if confirm {
                Error::bad_request("Instance has not been resized.").kind_conflict_if(
                    i.vm_state != vm::RESIZED,
                    &i,
                    action,
                )
            } else {
                state_conflict(&i, action)
            });
        }
        let t = if confirm {
            None
        } else {
            Some(task::RESIZE_REVERTING)
        };
        self.transition(
            &c,
            &i,
            action,
            Allowed::new(Some(&[vm::RESIZED]), NO_TASK),
            t,
        )
        .await?;
        if let Some(host) = &i.host {
            self.rpc
                .cast(
                    host,
                    if confirm {
                        "confirm_resize"
                    } else {
                        "revert_resize"
                    },
                    &c.rpc(),
                    &i.uuid,
                    json!({}),
                )
                .await
                .map_err(|e| Error::internal("rpc", e))?;
        }
        Ok(())
    }

    /// `createImage` (and `createBackup` with `backup`): the image record is created in the
    /// image service with the user's token; the agent snapshots the disk into it (and, for
    /// a backup, deletes the server's oldest backups of that type beyond the rotation).
    /// Returns the image id.
    pub async fn server_create_image(
        &self,
        ctx: &RequestContext,
        id: &str,
        name: &str,
        metadata: Option<&Value>,
        backup: Option<&Backup>,
    ) -> Result<String> {
        let metadata = metadata_of(metadata, "metadata")?;
        let c = self.caller(ctx)?;
        let (action, rule, task_state) = match backup {
            Some(_) => (
                "createBackup",
                "os_compute_api:os-create-backup",
                task::IMAGE_BACKUP,
            ),
            None => (
                "createImage",
                "os_compute_api:servers:create_image",
                task::IMAGE_SNAPSHOT,
            ),
        };
        let i = self.server_for(&c, id, rule).await?;
        Self::check_locked(&c, &i)?;
        let allowed = Allowed::new(
            Some(&[vm::ACTIVE, vm::STOPPED, vm::PAUSED, vm::SUSPENDED]),
            NO_TASK,
        );
        if !allowed.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(&i, action));
        }
        self.check_image_metadata_quota(ctx, metadata.len()).await?;
        let token = c.ctx.token.clone().unwrap_or_default();
        // The caller's metadata wins over these, these over the server image's, as in Nova.
        let mut props = self.inherited_properties(&token, &i.image_ref).await;
        props.extend([
            ("instance_uuid".to_string(), i.uuid.clone()),
            ("user_id".into(), c.user_id().to_string()),
            ("image_type".into(), "snapshot".into()),
            ("base_image_ref".into(), i.image_ref.clone()),
        ]);
        if let Some(b) = backup {
            props.insert("image_type".into(), "backup".into());
            props.insert("backup_type".into(), b.backup_type.clone());
        }
        props.extend(metadata);
        let image = self
            .image
            .snapshot_create(&token, name, &props)
            .await
            .map_err(super::images::image_error)?;
        self.transition(&c, &i, action, allowed, Some(task_state))
            .await?;
        if let Some(host) = &i.host {
            let mut args = json!({"image_id": image.id, "auth_token": token});
            if let Some(b) = backup {
                args["backup_type"] = json!(b.backup_type);
                args["rotation"] = json!(b.rotation);
            }
            self.rpc
                .cast(host, "snapshot_instance", &c.rpc(), &i.uuid, args)
                .await
                .map_err(|e| Error::internal("rpc", e))?;
        }
        Ok(image.id)
    }

    // --- metadata and tags ---------------------------------------------------------------

    pub async fn server_metadata(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:server-metadata:index")
            .await?;
        Ok(i.metadata)
    }

    pub async fn server_metadata_item(
        &self,
        ctx: &RequestContext,
        id: &str,
        key: &str,
    ) -> Result<String> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:server-metadata:show")
            .await?;
        i.metadata
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found("Metadata item was not found"))
    }

    /// `POST` (merge), `PUT` (replace) of `metadata`, or `PUT metadata/{key}` (`key`).
    pub async fn server_metadata_set(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        mode: MetadataWrite<'_>,
    ) -> Result<BTreeMap<String, String>> {
        let c = self.caller(ctx)?;
        let rule = match mode {
            MetadataWrite::Merge => "os_compute_api:server-metadata:create",
            MetadataWrite::Replace => "os_compute_api:server-metadata:update_all",
            MetadataWrite::Item(_) => "os_compute_api:server-metadata:update",
        };
        let i = self.server_for(&c, id, rule).await?;
        Self::check_locked(&c, &i)?;
        let items = match mode {
            MetadataWrite::Item(key) => {
                let meta = body
                    .get("meta")
                    .ok_or_else(|| invalid("meta", "'meta' is a required property"))?;
                let m = metadata_of(Some(meta), "meta")?;
                if m.len() != 1 {
                    return Err(Error::bad_request("Request body contains too many items"));
                }
                if !m.contains_key(key) {
                    return Err(Error::bad_request("Request body and URI mismatch"));
                }
                m
            }
            _ => metadata_of(
                Some(
                    body.get("metadata")
                        .ok_or_else(|| invalid("metadata", "'metadata' is a required property"))?,
                ),
                "metadata",
            )?,
        };
        if matches!(i.vm_state.as_str(), vm::BUILDING) && !matches!(mode, MetadataWrite::Item(_)) {
            // Nova allows metadata changes in any state but building/deleted.
            return Err(state_conflict(&i, "update_metadata"));
        }
        let replace = matches!(mode, MetadataWrite::Replace);
        let total = if replace {
            items.len()
        } else {
            let mut merged = i.metadata.clone();
            merged.extend(items.clone());
            merged.len()
        };
        let limit = self.quota_limit(&i.project_id, "metadata_items").await?;
        if limit >= 0 && total as i64 > limit {
            return Err(Error::forbidden(format!(
                "Quota exceeded for metadata_items: Requested {total}, but already used 0 of {limit} metadata_items"
            )));
        }
        self.store
            .instance_metadata_set(&i.uuid, &items, replace)
            .await?;
        Ok(match mode {
            MetadataWrite::Merge => self.store.instance_metadata(&i.uuid).await?,
            _ => items,
        })
    }

    pub async fn server_metadata_delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        key: &str,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:server-metadata:delete")
            .await?;
        Self::check_locked(&c, &i)?;
        if !self.store.instance_metadata_delete(&i.uuid, key).await? {
            return Err(Error::not_found("Metadata item was not found"));
        }
        Ok(())
    }

    pub async fn server_tags(&self, ctx: &RequestContext, id: &str) -> Result<Vec<String>> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-server-tags:index")
            .await?;
        Ok(i.tags)
    }

    pub async fn server_tag_check(&self, ctx: &RequestContext, id: &str, tag: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-server-tags:show")
            .await?;
        if !i.tags.iter().any(|t| t == tag) {
            return Err(Error::not_found(format!("Tag {tag} could not be found.")));
        }
        Ok(())
    }

    fn tags_mutable(i: &Instance) -> Result<()> {
        if !matches!(
            i.vm_state.as_str(),
            vm::ACTIVE
                | vm::PAUSED
                | vm::SUSPENDED
                | vm::STOPPED
                | vm::RESCUED
                | vm::SHELVED
                | vm::SHELVED_OFFLOADED
        ) {
            return Err(state_conflict(i, "update tag"));
        }
        Ok(())
    }

    /// Adds one tag; `true` when it is new (201) rather than present (204).
    pub async fn server_tag_add(&self, ctx: &RequestContext, id: &str, tag: &str) -> Result<bool> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-server-tags:update")
            .await?;
        Self::tags_mutable(&i)?;
        if !valid_tag(tag) {
            return Err(invalid("tag", &format!("'{tag}' is not a valid tag")));
        }
        if i.tags.iter().any(|t| t == tag) {
            return Ok(false);
        }
        if i.tags.len() >= 50 {
            return Err(Error::bad_request(
                "The number of tags exceeded the per-server limit 50",
            ));
        }
        Ok(self.store.instance_tag_add(&i.uuid, tag).await?)
    }

    pub async fn server_tags_replace(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
    ) -> Result<Vec<String>> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-server-tags:update_all")
            .await?;
        Self::tags_mutable(&i)?;
        let list = body
            .get("tags")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("tags", "'tags' is a required property"))?;
        let mut tags = Vec::new();
        for t in list {
            match t.as_str() {
                Some(s) if valid_tag(s) => tags.push(s.to_string()),
                _ => return Err(invalid("tags", &format!("{t} is not a valid tag"))),
            }
        }
        if tags.len() > 50 {
            return Err(Error::bad_request(
                "The number of tags exceeded the per-server limit 50",
            ));
        }
        tags.sort();
        tags.dedup();
        self.store.instance_tags_set(&i.uuid, &tags).await?;
        Ok(tags)
    }

    pub async fn server_tag_delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        tag: Option<&str>,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let rule = if tag.is_some() {
            "os_compute_api:os-server-tags:delete"
        } else {
            "os_compute_api:os-server-tags:delete_all"
        };
        let i = self.server_for(&c, id, rule).await?;
        Self::tags_mutable(&i)?;
        let removed = self.store.instance_tag_delete(&i.uuid, tag).await?;
        if let Some(t) = tag
            && !removed
        {
            return Err(Error::not_found(format!("Tag {t} could not be found.")));
        }
        Ok(())
    }
}

/// A `createBackup`: its type (`daily`, `weekly`, ...) and how many of that type to keep.
#[derive(Debug, Clone)]
pub struct Backup {
    pub backup_type: String,
    pub rotation: i64,
}

/// How a metadata write applies.
#[derive(Debug, Clone, Copy)]
pub enum MetadataWrite<'a> {
    Merge,
    Replace,
    Item(&'a str),
}

trait ConflictIf {
    fn kind_conflict_if(self, cond: bool, i: &Instance, action: &str) -> Error;
}

impl ConflictIf for Error {
    /// Nova answers `confirmResize` on a server that is not resized with 409 (state check).
    fn kind_conflict_if(self, cond: bool, i: &Instance, action: &str) -> Error {
        if cond {
            state_conflict(i, action)
        } else {
            self
        }
    }
}
