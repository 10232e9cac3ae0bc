//! Servers: rows, metadata, tags and faults. State changes are compare-and-set on the
//! expected `task_state` / `vm_state`, as Nova's `instance.save(expected_task_state=...)`,
//! so the API and the agent never overwrite each other's transitions.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Arg, Result, Store, StoreError, b, bind_all, flag, marks};
use crate::model::{Fault, FlavorSnapshot, Instance, Vif};

pub(super) const COLUMNS: &str = "uuid, name, description, project_id, user_id, image_ref, flavor, old_flavor, new_flavor, \
    vm_state, task_state, power_state, host, node, availability_zone, key_name, key_data, user_data, \
    config_drive, access_ip_v4, access_ip_v6, locked_by, reservation_id, launch_index, hostname, progress, \
    security_groups, networks, network_info, launched_at, terminated_at, created_at, updated_at, deleted, \
    auto_disk_config";

/// What is needed to insert a server.
#[derive(Debug, Clone)]
pub struct NewInstance {
    pub instance: Instance,
    /// The server group the server joins.
    pub group: Option<String>,
}

/// The filters of a server list that SQL applies exactly (equality under the column's
/// collation, as Nova's own SQL filters); the rest (Nova's `name` regex, status, flavor,
/// fixed IPs) are applied by the logic layer, see [`Store::instance_list_page`].
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    pub project_id: Option<String>,
    pub host: Option<String>,
    pub include_deleted: bool,
    /// Updated at or after this time (microseconds).
    pub changes_since: Option<i64>,
    pub vm_states: Option<Vec<String>>,
    pub image_ref: Option<String>,
    pub reservation_id: Option<String>,
    /// Servers with every one of these tags (Nova's `tags`).
    pub tags: Option<Vec<String>>,
    /// Servers with at least one of these tags (`tags-any`).
    pub tags_any: Option<Vec<String>>,
    /// Servers without at least one of these tags (`not-tags`).
    pub not_tags: Option<Vec<String>>,
    /// Servers with none of these tags (`not-tags-any`).
    pub not_tags_any: Option<Vec<String>>,
}

/// A partial update. `expect_*` make it conditional: no row changes unless the server is in
/// one of those states.
#[derive(Debug, Clone, Default)]
pub struct InstanceUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub vm_state: Option<String>,
    pub task_state: Option<Option<String>>,
    pub power_state: Option<i64>,
    pub host: Option<Option<String>>,
    pub node: Option<Option<String>>,
    pub availability_zone: Option<Option<String>>,
    pub access_ip_v4: Option<Option<String>>,
    pub access_ip_v6: Option<Option<String>>,
    pub locked_by: Option<Option<String>>,
    pub image_ref: Option<String>,
    pub key_name: Option<Option<String>>,
    pub key_data: Option<Option<String>>,
    pub user_data: Option<Option<String>>,
    pub flavor: Option<FlavorSnapshot>,
    pub old_flavor: Option<Option<FlavorSnapshot>>,
    pub new_flavor: Option<Option<FlavorSnapshot>>,
    pub progress: Option<i64>,
    pub network_info: Option<Vec<Vif>>,
    pub security_groups: Option<Vec<String>>,
    pub launched_at: Option<Option<i64>>,
    pub terminated_at: Option<Option<i64>>,
    pub deleted: Option<bool>,
    pub auto_disk_config: Option<bool>,
    pub expect_task_state: Option<Vec<Option<String>>>,
    pub expect_vm_state: Option<Vec<String>>,
}

fn flavor_text(f: &FlavorSnapshot) -> String {
    serde_json::to_string(f).unwrap_or_default()
}

fn vifs_text(v: &[Vif]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn flavor_parse(s: &str) -> Result<FlavorSnapshot> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("instance flavor: {e}")))
}

impl Store {
    pub(super) fn instance_from_row(r: &AnyRow) -> Result<Instance> {
        let opt_flavor = |col: &str| -> Result<Option<FlavorSnapshot>> {
            r.try_get::<Option<String>, _>(col)?
                .as_deref()
                .map(flavor_parse)
                .transpose()
        };
        let sg: String = r.try_get("security_groups")?;
        Ok(Instance {
            uuid: r.try_get("uuid")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            project_id: r.try_get("project_id")?,
            user_id: r.try_get("user_id")?,
            image_ref: r.try_get("image_ref")?,
            flavor: flavor_parse(&r.try_get::<String, _>("flavor")?)?,
            old_flavor: opt_flavor("old_flavor")?,
            new_flavor: opt_flavor("new_flavor")?,
            vm_state: r.try_get("vm_state")?,
            task_state: r.try_get("task_state")?,
            power_state: r.try_get("power_state")?,
            host: r.try_get("host")?,
            node: r.try_get("node")?,
            availability_zone: r.try_get("availability_zone")?,
            key_name: r.try_get("key_name")?,
            key_data: r.try_get("key_data")?,
            user_data: r.try_get("user_data")?,
            config_drive: r.try_get("config_drive")?,
            access_ip_v4: r.try_get("access_ip_v4")?,
            access_ip_v6: r.try_get("access_ip_v6")?,
            locked_by: r.try_get("locked_by")?,
            reservation_id: r.try_get("reservation_id")?,
            launch_index: r.try_get("launch_index")?,
            hostname: r.try_get("hostname")?,
            progress: r.try_get("progress")?,
            security_groups: serde_json::from_str(&sg)
                .map_err(|e| StoreError::Corrupt(format!("security_groups: {e}")))?,
            networks: r.try_get("networks")?,
            network_info: match r.try_get::<Option<String>, _>("network_info")? {
                Some(t) => serde_json::from_str(&t)
                    .map_err(|e| StoreError::Corrupt(format!("network_info: {e}")))?,
                None => Vec::new(),
            },
            launched_at: r.try_get("launched_at")?,
            terminated_at: r.try_get("terminated_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            deleted: flag(r, "deleted")?,
            auto_disk_config: flag(r, "auto_disk_config")?,
            metadata: BTreeMap::new(),
            tags: Vec::new(),
        })
    }

    /// Inserts servers (one request's `min_count..max_count`) with their metadata, tags and
    /// group membership, in one transaction.
    pub async fn instance_create(&self, new: &[NewInstance]) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        for n in new {
            let i = &n.instance;
            self.db
                .query(format!(
                    "INSERT INTO compute_instance ({COLUMNS}, vcpus, memory_mb) VALUES ({})",
                    marks(37)
                ))
                .bind(i.uuid.clone())
                .bind(i.name.clone())
                .bind(i.description.clone())
                .bind(i.project_id.clone())
                .bind(i.user_id.clone())
                .bind(i.image_ref.clone())
                .bind(flavor_text(&i.flavor))
                .bind(i.old_flavor.as_ref().map(flavor_text))
                .bind(i.new_flavor.as_ref().map(flavor_text))
                .bind(i.vm_state.clone())
                .bind(i.task_state.clone())
                .bind(i.power_state)
                .bind(i.host.clone())
                .bind(i.node.clone())
                .bind(i.availability_zone.clone())
                .bind(i.key_name.clone())
                .bind(i.key_data.clone())
                .bind(i.user_data.clone())
                .bind(i.config_drive.clone())
                .bind(i.access_ip_v4.clone())
                .bind(i.access_ip_v6.clone())
                .bind(i.locked_by.clone())
                .bind(i.reservation_id.clone())
                .bind(i.launch_index)
                .bind(i.hostname.clone())
                .bind(i.progress)
                .bind(serde_json::to_string(&i.security_groups).unwrap_or_else(|_| "[]".into()))
                .bind(i.networks.clone())
                .bind(vifs_text(&i.network_info))
                .bind(i.launched_at)
                .bind(i.terminated_at)
                .bind(i.created_at)
                .bind(i.updated_at)
                .bind(b(i.deleted))
                .bind(b(i.auto_disk_config))
                .bind(i.flavor.vcpus)
                .bind(i.flavor.memory_mb)
                .execute(&mut *tx)
                .await?;
            for (k, v) in &i.metadata {
                self.db
                    .query("INSERT INTO compute_instance_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)")
                    .bind(i.uuid.clone())
                    .bind(k.clone())
                    .bind(v.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            for t in &i.tags {
                self.db
                    .query("INSERT INTO compute_instance_tag (instance_uuid, tag) VALUES (?, ?)")
                    .bind(i.uuid.clone())
                    .bind(t.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(g) = &n.group {
                self.db
                    .query("INSERT INTO compute_server_group_member (group_uuid, instance_uuid) VALUES (?, ?)")
                    .bind(g.clone())
                    .bind(i.uuid.clone())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A server (deleted ones too, when `include_deleted`), with metadata and tags.
    pub async fn instance_get(
        &self,
        uuid: &str,
        include_deleted: bool,
    ) -> Result<Option<Instance>> {
        let sql = if include_deleted {
            format!("SELECT {COLUMNS} FROM compute_instance WHERE uuid = ?")
        } else {
            format!("SELECT {COLUMNS} FROM compute_instance WHERE uuid = ? AND deleted = 0")
        };
        let row = self
            .db
            .query(sql)
            .bind(uuid.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        let Some(mut i) = row.as_ref().map(Self::instance_from_row).transpose()? else {
            return Ok(None);
        };
        i.metadata = self.instance_metadata(uuid).await?;
        i.tags = self.instance_tags(uuid).await?;
        Ok(Some(i))
    }

    pub(super) fn filter_sql(f: &InstanceFilter) -> (String, Vec<Arg>) {
        let mut sql = String::from(" WHERE 1 = 1");
        let mut args = Vec::new();
        if !f.include_deleted {
            sql.push_str(" AND deleted = 0");
        }
        if let Some(p) = &f.project_id {
            sql.push_str(" AND project_id = ?");
            args.push(Arg::S(Some(p.clone())));
        }
        if let Some(h) = &f.host {
            sql.push_str(" AND host = ?");
            args.push(Arg::S(Some(h.clone())));
        }
        if let Some(t) = f.changes_since {
            sql.push_str(" AND updated_at >= ?");
            args.push(Arg::I(Some(t)));
        }
        if let Some(v) = &f.vm_states {
            if v.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                sql.push_str(&format!(" AND vm_state IN ({})", marks(v.len())));
                args.extend(v.iter().map(|s| Arg::S(Some(s.clone()))));
            }
        }
        if let Some(i) = &f.image_ref {
            sql.push_str(" AND image_ref = ?");
            args.push(Arg::S(Some(i.clone())));
        }
        if let Some(r) = &f.reservation_id {
            sql.push_str(" AND reservation_id = ?");
            args.push(Arg::S(Some(r.clone())));
        }
        // One correlated lookup per tag in the (instance_uuid, tag) primary key.
        let has = |tags: &[String], args: &mut Vec<Arg>| -> String {
            let mut t: Vec<&String> = tags.iter().collect();
            t.sort_unstable();
            t.dedup();
            let parts: Vec<&str> = t
                .iter()
                .map(|_| {
                    "EXISTS (SELECT 1 FROM compute_instance_tag t \
                     WHERE t.instance_uuid = compute_instance.uuid AND t.tag = ?)"
                })
                .collect();
            args.extend(t.into_iter().map(|x| Arg::S(Some(x.clone()))));
            if parts.is_empty() {
                "1 = 1".into()
            } else {
                parts.join(" AND ")
            }
        };
        let any = |tags: &[String], args: &mut Vec<Arg>| -> String {
            if tags.is_empty() {
                return "1 = 0".into();
            }
            args.extend(tags.iter().map(|x| Arg::S(Some(x.clone()))));
            format!(
                "EXISTS (SELECT 1 FROM compute_instance_tag t \
                 WHERE t.instance_uuid = compute_instance.uuid AND t.tag IN ({}))",
                marks(tags.len())
            )
        };
        if let Some(t) = &f.tags {
            let c = has(t, &mut args);
            sql.push_str(&format!(" AND ({c})"));
        }
        if let Some(t) = &f.tags_any {
            let c = any(t, &mut args);
            sql.push_str(&format!(" AND {c}"));
        }
        if let Some(t) = &f.not_tags {
            let c = has(t, &mut args);
            sql.push_str(&format!(" AND NOT ({c})"));
        }
        if let Some(t) = &f.not_tags_any {
            let c = any(t, &mut args);
            sql.push_str(&format!(" AND NOT {c}"));
        }
        (sql, args)
    }

    /// Every server matching `f`, newest first (Nova's default `created_at desc, id desc`),
    /// with metadata and tags: for the periodic tasks and reports that need them all. The
    /// API's paged list is [`Store::instance_list_page`].
    pub async fn instance_list(&self, f: &InstanceFilter) -> Result<Vec<Instance>> {
        let (wh, args) = Self::filter_sql(f);
        let q = self.db.query(format!(
            "SELECT {COLUMNS} FROM compute_instance{wh} ORDER BY created_at DESC, uuid DESC"
        ));
        let rows = bind_all(q, args.clone()).fetch_all(self.db.pool()).await?;
        let mut out: Vec<Instance> = rows
            .iter()
            .map(Self::instance_from_row)
            .collect::<Result<_>>()?;
        if out.is_empty() {
            return Ok(out);
        }
        let index: std::collections::HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, x)| (x.uuid.clone(), i))
            .collect();
        let q = self.db.query(format!(
            "SELECT instance_uuid, meta_key, meta_value FROM compute_instance_metadata WHERE instance_uuid IN \
             (SELECT uuid FROM compute_instance{wh})"
        ));
        for r in bind_all(q, args.clone()).fetch_all(self.db.pool()).await? {
            let u: String = r.try_get("instance_uuid")?;
            if let Some(&i) = index.get(&u) {
                out[i]
                    .metadata
                    .insert(r.try_get("meta_key")?, r.try_get("meta_value")?);
            }
        }
        let q = self.db.query(format!(
            "SELECT instance_uuid, tag FROM compute_instance_tag WHERE instance_uuid IN \
             (SELECT uuid FROM compute_instance{wh}) ORDER BY tag"
        ));
        for r in bind_all(q, args).fetch_all(self.db.pool()).await? {
            let u: String = r.try_get("instance_uuid")?;
            if let Some(&i) = index.get(&u) {
                out[i].tags.push(r.try_get("tag")?);
            }
        }
        Ok(out)
    }

    /// Usage of a project's live servers: `(instances, cores, ram)`, summed by the database
    /// (the quota check of every create reads it).
    pub async fn instance_usage(&self, project_id: &str) -> Result<(i64, i64, i64)> {
        let r = self
            .db
            .query(format!(
                "SELECT COUNT(*) AS n, {} AS cores, {} AS ram FROM compute_instance \
                 WHERE project_id = ? AND deleted = 0 AND vcpus IS NOT NULL",
                self.db.sum_i64("vcpus"),
                self.db.sum_i64("memory_mb")
            ))
            .bind(project_id.to_string())
            .fetch_one(self.db.pool())
            .await?;
        let mut usage: (i64, i64, i64) = (r.try_get("n")?, r.try_get("cores")?, r.try_get("ram")?);
        // Servers from before migration 8 have no vcpus / memory_mb columns set.
        let rows = self
            .db
            .query(
                "SELECT flavor FROM compute_instance \
                 WHERE project_id = ? AND deleted = 0 AND vcpus IS NULL",
            )
            .bind(project_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        for r in rows {
            let f = flavor_parse(&r.try_get::<String, _>("flavor")?)?;
            usage.0 += 1;
            usage.1 += f.vcpus;
            usage.2 += f.memory_mb;
        }
        Ok(usage)
    }

    /// How many live servers each host holds (the scheduler spreads by it).
    pub async fn instance_count_by_host(&self) -> Result<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = self
            .db
            .query_as(
                "SELECT host, COUNT(*) FROM compute_instance \
                 WHERE deleted = 0 AND host IS NOT NULL GROUP BY host",
            )
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// The hosts of the live servers among `uuids` (servers without a host are left out).
    pub async fn instance_hosts(&self, uuids: &[String]) -> Result<HashMap<String, String>> {
        if uuids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut out = HashMap::new();
        // Bounded lists of placeholders (engines limit bound parameters per statement).
        for chunk in uuids.chunks(500) {
            let q = self.db.query_as::<(String, String)>(format!(
                "SELECT uuid, host FROM compute_instance \
                 WHERE deleted = 0 AND host IS NOT NULL AND uuid IN ({})",
                marks(chunk.len())
            ));
            let q = chunk.iter().fold(q, |q, u| q.bind(u.clone()));
            out.extend(q.fetch_all(self.db.pool()).await?);
        }
        Ok(out)
    }

    /// Applies `u` (with `updated_at = now`); false when the server is gone or not in the
    /// expected state.
    pub async fn instance_update(&self, uuid: &str, u: &InstanceUpdate) -> Result<bool> {
        let mut sets: Vec<&str> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let s = |v: &Option<String>| Arg::S(v.clone());
        macro_rules! set {
            ($field:expr, $col:literal, $arg:expr) => {
                if let Some(v) = &$field {
                    sets.push(concat!($col, " = ?"));
                    args.push($arg(v));
                }
            };
        }
        set!(u.name, "name", |v: &String| Arg::S(Some(v.clone())));
        set!(u.description, "description", s);
        set!(u.vm_state, "vm_state", |v: &String| Arg::S(Some(v.clone())));
        set!(u.task_state, "task_state", s);
        set!(u.power_state, "power_state", |v: &i64| Arg::I(Some(*v)));
        set!(u.host, "host", s);
        set!(u.node, "node", s);
        set!(u.availability_zone, "availability_zone", s);
        set!(u.access_ip_v4, "access_ip_v4", s);
        set!(u.access_ip_v6, "access_ip_v6", s);
        set!(u.locked_by, "locked_by", s);
        set!(u.image_ref, "image_ref", |v: &String| Arg::S(Some(
            v.clone()
        )));
        set!(u.key_name, "key_name", s);
        set!(u.key_data, "key_data", s);
        set!(u.user_data, "user_data", s);
        set!(u.flavor, "flavor", |v: &FlavorSnapshot| Arg::S(Some(
            flavor_text(v)
        )));
        set!(u.flavor, "vcpus", |v: &FlavorSnapshot| Arg::I(Some(
            v.vcpus
        )));
        set!(u.flavor, "memory_mb", |v: &FlavorSnapshot| Arg::I(Some(
            v.memory_mb
        )));
        set!(u.old_flavor, "old_flavor", |v: &Option<FlavorSnapshot>| {
            Arg::S(v.as_ref().map(flavor_text))
        });
        set!(u.new_flavor, "new_flavor", |v: &Option<FlavorSnapshot>| {
            Arg::S(v.as_ref().map(flavor_text))
        });
        set!(u.progress, "progress", |v: &i64| Arg::I(Some(*v)));
        set!(u.auto_disk_config, "auto_disk_config", |v: &bool| Arg::I(
            Some(b(*v))
        ));
        set!(u.security_groups, "security_groups", |v: &Vec<String>| {
            Arg::S(Some(
                serde_json::to_string(v).unwrap_or_else(|_| "[]".into()),
            ))
        });
        set!(u.network_info, "network_info", |v: &Vec<Vif>| Arg::S(Some(
            vifs_text(v)
        )));
        set!(u.launched_at, "launched_at", |v: &Option<i64>| Arg::I(*v));
        set!(u.terminated_at, "terminated_at", |v: &Option<i64>| Arg::I(
            *v
        ));
        let now = oxstack_common::time::now().timestamp_micros();
        if let Some(d) = u.deleted {
            sets.push("deleted = ?");
            args.push(Arg::I(Some(b(d))));
            sets.push("deleted_at = ?");
            args.push(Arg::I(d.then_some(now)));
        }
        sets.push("updated_at = ?");
        args.push(Arg::I(Some(now)));
        let mut sql = format!(
            "UPDATE compute_instance SET {} WHERE uuid = ?",
            sets.join(", ")
        );
        args.push(Arg::S(Some(uuid.to_string())));
        if let Some(exp) = &u.expect_task_state {
            let mut parts = Vec::new();
            if exp.iter().any(Option::is_none) {
                parts.push("task_state IS NULL".to_string());
            }
            let vals: Vec<&String> = exp.iter().flatten().collect();
            if !vals.is_empty() {
                parts.push(format!("task_state IN ({})", marks(vals.len())));
                args.extend(vals.into_iter().map(|v| Arg::S(Some(v.clone()))));
            }
            if parts.is_empty() {
                parts.push("1 = 0".into());
            }
            sql.push_str(&format!(" AND ({})", parts.join(" OR ")));
        }
        if let Some(exp) = &u.expect_vm_state {
            sql.push_str(&format!(" AND vm_state IN ({})", marks(exp.len().max(1))));
            if exp.is_empty() {
                args.push(Arg::S(None));
            }
            args.extend(exp.iter().map(|v| Arg::S(Some(v.clone()))));
        }
        let n = bind_all(self.db.query(sql), args)
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    pub async fn instance_metadata(&self, uuid: &str) -> Result<BTreeMap<String, String>> {
        let rows = self
            .db
            .query("SELECT meta_key, meta_value FROM compute_instance_metadata WHERE instance_uuid = ?")
            .bind(uuid.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("meta_key")?, r.try_get("meta_value")?)))
            .collect()
    }

    /// Replaces all metadata (`replace`) or sets the given keys.
    pub async fn instance_metadata_set(
        &self,
        uuid: &str,
        items: &BTreeMap<String, String>,
        replace: bool,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if replace {
            self.db
                .query("DELETE FROM compute_instance_metadata WHERE instance_uuid = ?")
                .bind(uuid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        for (k, v) in items {
            if !replace {
                self.db
                    .query("DELETE FROM compute_instance_metadata WHERE instance_uuid = ? AND meta_key = ?")
                    .bind(uuid.to_string())
                    .bind(k.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            self.db
                .query("INSERT INTO compute_instance_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)")
                .bind(uuid.to_string())
                .bind(k.clone())
                .bind(v.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A system metadata item of a server (Nova's `system_metadata`: what the service keeps
    /// about a server that its user does not see, such as the image of a shelved server).
    pub async fn instance_sysmeta_get(&self, uuid: &str, key: &str) -> Result<Option<String>> {
        let row = self
            .db
            .query("SELECT meta_value FROM compute_instance_system_metadata WHERE instance_uuid = ? AND meta_key = ?")
            .bind(uuid.to_string())
            .bind(key.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<String>, _>("meta_value")?,
            None => None,
        })
    }

    /// Sets (`Some`) or removes (`None`) a system metadata item.
    pub async fn instance_sysmeta_set(
        &self,
        uuid: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM compute_instance_system_metadata WHERE instance_uuid = ? AND meta_key = ?")
            .bind(uuid.to_string())
            .bind(key.to_string())
            .execute(&mut *tx)
            .await?;
        if let Some(v) = value {
            self.db
                .query("INSERT INTO compute_instance_system_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)")
                .bind(uuid.to_string())
                .bind(key.to_string())
                .bind(v.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn instance_metadata_delete(&self, uuid: &str, key: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM compute_instance_metadata WHERE instance_uuid = ? AND meta_key = ?")
            .bind(uuid.to_string())
            .bind(key.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    pub async fn instance_tags(&self, uuid: &str) -> Result<Vec<String>> {
        let rows = self
            .db
            .query("SELECT tag FROM compute_instance_tag WHERE instance_uuid = ? ORDER BY tag")
            .bind(uuid.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("tag")?)).collect()
    }

    /// Replaces every tag.
    pub async fn instance_tags_set(&self, uuid: &str, tags: &[String]) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM compute_instance_tag WHERE instance_uuid = ?")
            .bind(uuid.to_string())
            .execute(&mut *tx)
            .await?;
        for t in tags {
            self.db
                .query("INSERT INTO compute_instance_tag (instance_uuid, tag) VALUES (?, ?)")
                .bind(uuid.to_string())
                .bind(t.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a tag; false when it was already there.
    pub async fn instance_tag_add(&self, uuid: &str, tag: &str) -> Result<bool> {
        match self
            .db
            .query("INSERT INTO compute_instance_tag (instance_uuid, tag) VALUES (?, ?)")
            .bind(uuid.to_string())
            .bind(tag.to_string())
            .execute(self.db.pool())
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match StoreError::from(e) {
                StoreError::Duplicate => Ok(false),
                other => Err(other),
            },
        }
    }

    pub async fn instance_tag_delete(&self, uuid: &str, tag: Option<&str>) -> Result<bool> {
        let mut q = match tag {
            Some(_) => self
                .db
                .query("DELETE FROM compute_instance_tag WHERE instance_uuid = ? AND tag = ?"),
            None => self
                .db
                .query("DELETE FROM compute_instance_tag WHERE instance_uuid = ?"),
        }
        .bind(uuid.to_string());
        if let Some(t) = tag {
            q = q.bind(t.to_string());
        }
        Ok(q.execute(self.db.pool()).await?.rows_affected() > 0)
    }

    /// Records the server's fault (only the latest is kept, which is what the API shows).
    pub async fn instance_fault_set(&self, uuid: &str, f: &Fault) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM compute_instance_fault WHERE instance_uuid = ?")
            .bind(uuid.to_string())
            .execute(&mut *tx)
            .await?;
        self.db
            .query("INSERT INTO compute_instance_fault (instance_uuid, code, message, details, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(uuid.to_string())
            .bind(f.code)
            .bind(f.message.chars().take(255).collect::<String>())
            .bind(f.details.clone())
            .bind(f.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn instance_fault_get(&self, uuid: &str) -> Result<Option<Fault>> {
        let row = self
            .db
            .query("SELECT code, message, details, created_at FROM compute_instance_fault WHERE instance_uuid = ?")
            .bind(uuid.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| {
            Ok(Fault {
                code: r.try_get("code")?,
                message: r.try_get("message")?,
                details: r.try_get("details")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }
}
