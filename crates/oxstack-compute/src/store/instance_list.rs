//! Paged server lists (`GET /servers`, `/servers/detail`): the database applies the filters
//! it can express exactly ([`InstanceFilter`]), sorts, starts after the marker and stops at
//! the limit, so a page costs about what its rows cost. A filter SQL cannot express portably
//! (Nova's `name` is a Python regex search, the status of a state pair, the flavor id inside
//! the flavor JSON, fixed-IP regexes) is given as a predicate: rows are then read in SQL
//! order, in chunks after the marker, until the page is full.
//!
//! The marker is Nova's: any server row with that uuid (another project's, a deleted one),
//! whose sort values the page starts strictly after (oslo.db `paginate_query`), the last key
//! being the uuid so the order is total. NULLs sort first ascending and last descending on
//! every engine (MySQL's order, which Nova is deployed on).

use std::cmp::Ordering;

use super::{Arg, Result, Store, StoreError, bind_all};
use crate::model::Instance;

use super::instances::{COLUMNS, InstanceFilter};

/// A column a server list can be sorted by: Nova's `sort_key`s that this store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceSortKey {
    AccessIpV4,
    AccessIpV6,
    AutoDiskConfig,
    AvailabilityZone,
    ConfigDrive,
    CreatedAt,
    /// `display_description`.
    Description,
    /// `display_name`.
    Name,
    Host,
    Hostname,
    ImageRef,
    KeyName,
    LaunchIndex,
    LaunchedAt,
    /// Microversion 2.73's `locked` (whether `locked_by` is set).
    Locked,
    LockedBy,
    Node,
    PowerState,
    Progress,
    ProjectId,
    TaskState,
    TerminatedAt,
    UpdatedAt,
    UserId,
    Uuid,
    VmState,
    /// `instance_type_id`: the flavor id lives inside the flavor JSON, so a list sorted by
    /// it is sorted in memory.
    FlavorId,
}

/// One sort key and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceSort {
    pub key: InstanceSortKey,
    pub desc: bool,
}

/// The value of a sort key on one server; `None` is NULL (smallest).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortValue {
    I(Option<i64>),
    S(Option<String>),
}

impl SortValue {
    fn arg(&self) -> Arg {
        match self {
            SortValue::I(v) => Arg::I(*v),
            SortValue::S(v) => Arg::S(v.clone()),
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, SortValue::I(None) | SortValue::S(None))
    }
}

impl InstanceSortKey {
    /// The key of a Nova `sort_key` name; `None` for a name this store has no column for.
    pub fn from_nova(name: &str) -> Option<Self> {
        use InstanceSortKey::*;
        Some(match name {
            "access_ip_v4" => AccessIpV4,
            "access_ip_v6" => AccessIpV6,
            "auto_disk_config" => AutoDiskConfig,
            "availability_zone" => AvailabilityZone,
            "config_drive" => ConfigDrive,
            "created_at" => CreatedAt,
            "display_description" => Description,
            "display_name" => Name,
            "host" => Host,
            "hostname" => Hostname,
            "image_ref" => ImageRef,
            "instance_type_id" => FlavorId,
            "key_name" => KeyName,
            "launch_index" => LaunchIndex,
            "launched_at" => LaunchedAt,
            "locked" => Locked,
            "locked_by" => LockedBy,
            "node" => Node,
            "power_state" => PowerState,
            "progress" => Progress,
            "project_id" => ProjectId,
            "task_state" => TaskState,
            "terminated_at" => TerminatedAt,
            "updated_at" => UpdatedAt,
            "user_id" => UserId,
            "uuid" => Uuid,
            "vm_state" => VmState,
            _ => return None,
        })
    }

    /// The SQL expression of the key (a column of `compute_instance`, qualified by
    /// `prefix`) and whether it can be NULL; `None` when SQL cannot sort by it.
    fn sql(self, prefix: &str) -> Option<(String, bool)> {
        use InstanceSortKey::*;
        let (col, nullable) = match self {
            AccessIpV4 => ("access_ip_v4", true),
            AccessIpV6 => ("access_ip_v6", true),
            AutoDiskConfig => ("auto_disk_config", false),
            AvailabilityZone => ("availability_zone", true),
            ConfigDrive => ("config_drive", false),
            CreatedAt => ("created_at", false),
            Description => ("description", true),
            Name => ("name", false),
            Host => ("host", true),
            Hostname => ("hostname", false),
            ImageRef => ("image_ref", false),
            KeyName => ("key_name", true),
            LaunchIndex => ("launch_index", false),
            LaunchedAt => ("launched_at", true),
            Locked => {
                return Some((
                    format!("(CASE WHEN {prefix}locked_by IS NULL THEN 0 ELSE 1 END)"),
                    false,
                ));
            }
            LockedBy => ("locked_by", true),
            Node => ("node", true),
            PowerState => ("power_state", false),
            Progress => ("progress", false),
            ProjectId => ("project_id", false),
            TaskState => ("task_state", true),
            TerminatedAt => ("terminated_at", true),
            UpdatedAt => ("updated_at", false),
            UserId => ("user_id", false),
            Uuid => ("uuid", false),
            VmState => ("vm_state", false),
            FlavorId => return None,
        };
        Some((format!("{prefix}{col}"), nullable))
    }

    /// The key's value on `i` (what SQL compares, for the next chunk's cursor).
    pub(crate) fn value(self, i: &Instance) -> SortValue {
        use InstanceSortKey::*;
        let s = |v: &str| SortValue::S(Some(v.to_string()));
        let o = |v: &Option<String>| SortValue::S(v.clone());
        match self {
            AccessIpV4 => o(&i.access_ip_v4),
            AccessIpV6 => o(&i.access_ip_v6),
            AutoDiskConfig => SortValue::I(Some(i64::from(i.auto_disk_config))),
            AvailabilityZone => o(&i.availability_zone),
            ConfigDrive => s(&i.config_drive),
            CreatedAt => SortValue::I(Some(i.created_at)),
            Description => o(&i.description),
            Name => s(&i.name),
            Host => o(&i.host),
            Hostname => s(&i.hostname),
            ImageRef => s(&i.image_ref),
            KeyName => o(&i.key_name),
            LaunchIndex => SortValue::I(Some(i.launch_index)),
            LaunchedAt => SortValue::I(i.launched_at),
            Locked => SortValue::I(Some(i64::from(i.locked_by.is_some()))),
            LockedBy => o(&i.locked_by),
            Node => o(&i.node),
            PowerState => SortValue::I(Some(i.power_state)),
            Progress => SortValue::I(Some(i.progress)),
            ProjectId => s(&i.project_id),
            TaskState => o(&i.task_state),
            TerminatedAt => SortValue::I(i.terminated_at),
            UpdatedAt => SortValue::I(Some(i.updated_at)),
            UserId => s(&i.user_id),
            Uuid => s(&i.uuid),
            VmState => s(&i.vm_state),
            FlavorId => s(&i.flavor.flavorid),
        }
    }
}

/// A predicate on a server row (without metadata and tags) that SQL could not apply.
pub type Keep<'a> = dyn Fn(&Instance) -> bool + Send + Sync + 'a;

/// Rows read per query while a predicate remains, at least (doubling up to the maximum);
/// tiny in tests, so that their few rows take several chunks.
const MIN_CHUNK: usize = if cfg!(test) { 2 } else { 100 };
const MAX_CHUNK: usize = if cfg!(test) { 8 } else { 2000 };

/// `ORDER BY` terms of `sort`; NULLs first ascending, last descending.
fn order_sql(sort: &[InstanceSort], prefix: &str) -> String {
    let mut terms = Vec::new();
    for s in sort {
        let Some((col, nullable)) = s.key.sql(prefix) else {
            continue;
        };
        let dir = if s.desc { "DESC" } else { "ASC" };
        if nullable {
            terms.push(format!("CASE WHEN {col} IS NULL THEN 0 ELSE 1 END {dir}"));
        }
        terms.push(format!("{col} {dir}"));
    }
    terms.join(", ")
}

/// The rows strictly after `cursor` in the order of `sort` (every key has a column).
fn after_sql(sort: &[InstanceSort], cursor: &[SortValue]) -> (String, Vec<Arg>) {
    let mut ors = Vec::new();
    let mut args = Vec::new();
    for (i, s) in sort.iter().enumerate() {
        let Some((col, nullable)) = s.key.sql("") else {
            continue;
        };
        let v = &cursor[i];
        // Rows greater than the cursor in this key (in the list's order).
        let gt = match (v.is_null(), s.desc) {
            (true, false) => Some((format!("{col} IS NOT NULL"), None)),
            (true, true) => None,
            (false, false) => Some((format!("{col} > ?"), Some(v.arg()))),
            (false, true) if nullable => {
                Some((format!("({col} < ? OR {col} IS NULL)"), Some(v.arg())))
            }
            (false, true) => Some((format!("{col} < ?"), Some(v.arg()))),
        };
        if let Some((gt, a)) = gt {
            let mut and = Vec::new();
            for (j, prev) in sort[..i].iter().enumerate() {
                let Some((pc, _)) = prev.key.sql("") else {
                    continue;
                };
                if cursor[j].is_null() {
                    and.push(format!("{pc} IS NULL"));
                } else {
                    and.push(format!("{pc} = ?"));
                    args.push(cursor[j].arg());
                }
            }
            and.push(gt);
            args.extend(a);
            ors.push(format!("({})", and.join(" AND ")));
        }
    }
    if ors.is_empty() {
        return ("1 = 0".into(), args);
    }
    let mut sql = format!("({})", ors.join(" OR "));
    // A range on the first key as well, so the engines seek in an index on it.
    if let (Some(first), Some(v)) = (sort.first(), cursor.first())
        && let Some((col, false)) = first.key.sql("")
    {
        sql.push_str(&format!(
            " AND {col} {} ?",
            if first.desc { "<=" } else { ">=" }
        ));
        args.push(v.arg());
    }
    (sql, args)
}

/// The order of `sort` on two servers (the in-memory path).
fn compare(sort: &[InstanceSort], a: &Instance, b: &Instance) -> Ordering {
    for s in sort {
        let o = s.key.value(a).cmp(&s.key.value(b));
        let o = if s.desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl Store {
    /// One page of servers matching `f` and `keep`, in the order of `sort` (completed with
    /// the uuid, in the first key's direction, when it does not end the list), starting after
    /// the server `marker`, at most `limit` of them, with metadata and tags.
    /// [`StoreError::MarkerNotFound`] when no server (of any project, deleted or not) has
    /// the marker's uuid.
    pub async fn instance_list_page(
        &self,
        f: &InstanceFilter,
        sort: &[InstanceSort],
        marker: Option<&str>,
        limit: usize,
        keep: Option<&Keep<'_>>,
    ) -> Result<Vec<Instance>> {
        let mut sort = sort.to_vec();
        match sort.iter().position(|s| s.key == InstanceSortKey::Uuid) {
            // Keys after the uuid never decide.
            Some(p) => sort.truncate(p + 1),
            None => sort.push(InstanceSort {
                key: InstanceSortKey::Uuid,
                desc: sort.first().is_none_or(|s| s.desc),
            }),
        }
        let marker = match marker {
            None => None,
            Some(m) => Some(
                self.instance_row(m)
                    .await?
                    .ok_or_else(|| StoreError::MarkerNotFound(m.to_string()))?,
            ),
        };
        let mut out = if limit == 0 {
            Vec::new()
        } else if sort.iter().all(|s| s.key.sql("").is_some()) {
            self.page_sql(f, &sort, marker.as_ref(), limit, keep)
                .await?
        } else {
            self.page_memory(f, &sort, marker.as_ref(), limit, keep)
                .await?
        };
        self.instance_attach_details(&mut out).await?;
        Ok(out)
    }

    /// A server row by uuid, whatever its project or deletion (no metadata, no tags).
    async fn instance_row(&self, uuid: &str) -> Result<Option<Instance>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM compute_instance WHERE uuid = ?"
            ))
            .bind(uuid.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::instance_from_row).transpose()
    }

    /// The SQL path: the database sorts and pages; chunks follow while `keep` drops rows.
    async fn page_sql(
        &self,
        f: &InstanceFilter,
        sort: &[InstanceSort],
        marker: Option<&Instance>,
        limit: usize,
        keep: Option<&Keep<'_>>,
    ) -> Result<Vec<Instance>> {
        let (wh, args) = Self::filter_sql(f);
        let inner_order = order_sql(sort, "");
        let outer_order = order_sql(sort, "c.");
        let columns: String = COLUMNS
            .split(", ")
            .map(|c| format!("c.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let values =
            |i: &Instance| -> Vec<SortValue> { sort.iter().map(|s| s.key.value(i)).collect() };
        let mut cursor = marker.map(values);
        let mut chunk = if keep.is_some() {
            limit.max(MIN_CHUNK)
        } else {
            limit
        };
        let mut out = Vec::new();
        loop {
            let mut sql = format!("SELECT uuid FROM compute_instance{wh}");
            let mut a = args.clone();
            if let Some(c) = &cursor {
                let (cs, ca) = after_sql(sort, c);
                sql.push_str(" AND ");
                sql.push_str(&cs);
                a.extend(ca);
            }
            sql.push_str(&format!(" ORDER BY {inner_order} LIMIT {chunk}"));
            // The sort and the limit run over the uuids and the sort columns (an index
            // alone for the default order); only the page's rows are then read whole.
            let sql = format!(
                "SELECT {columns} FROM ({sql}) p JOIN compute_instance c ON c.uuid = p.uuid \
                 ORDER BY {outer_order}"
            );
            let rows = bind_all(self.db.query(sql), a)
                .fetch_all(self.db.pool())
                .await?;
            for r in &rows {
                let i = Self::instance_from_row(r)?;
                if keep.is_none_or(|k| k(&i)) {
                    out.push(i);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
            match rows.last() {
                Some(l) if rows.len() == chunk => {
                    cursor = Some(values(&Self::instance_from_row(l)?));
                }
                _ => return Ok(out),
            }
            chunk = (chunk * 2).clamp(MIN_CHUNK, MAX_CHUNK.max(limit));
        }
    }

    /// The in-memory path, for a sort key SQL does not have (the flavor id).
    async fn page_memory(
        &self,
        f: &InstanceFilter,
        sort: &[InstanceSort],
        marker: Option<&Instance>,
        limit: usize,
        keep: Option<&Keep<'_>>,
    ) -> Result<Vec<Instance>> {
        let (wh, args) = Self::filter_sql(f);
        let q = self
            .db
            .query(format!("SELECT {COLUMNS} FROM compute_instance{wh}"));
        let mut all = Vec::new();
        for r in bind_all(q, args).fetch_all(self.db.pool()).await? {
            let i = Self::instance_from_row(&r)?;
            if keep.is_none_or(|k| k(&i)) && marker.is_none_or(|m| compare(sort, &i, m).is_gt()) {
                all.push(i);
            }
        }
        all.sort_by(|a, b| compare(sort, a, b));
        all.truncate(limit);
        Ok(all)
    }

    /// Fills the metadata and tags of `list` (one query each per 500 servers).
    async fn instance_attach_details(&self, list: &mut [Instance]) -> Result<()> {
        let index: std::collections::HashMap<String, usize> = list
            .iter()
            .enumerate()
            .map(|(n, i)| (i.uuid.clone(), n))
            .collect();
        let uuids: Vec<String> = list.iter().map(|i| i.uuid.clone()).collect();
        for chunk in uuids.chunks(500) {
            let marks = super::marks(chunk.len());
            let args: Vec<Arg> = chunk.iter().map(|u| Arg::S(Some(u.clone()))).collect();
            let q = self.db.query(format!(
                "SELECT instance_uuid, meta_key, meta_value FROM compute_instance_metadata \
                 WHERE instance_uuid IN ({marks})"
            ));
            for r in bind_all(q, args.clone()).fetch_all(self.db.pool()).await? {
                use sqlx::Row;
                let u: String = r.try_get("instance_uuid")?;
                if let Some(&n) = index.get(&u) {
                    list[n]
                        .metadata
                        .insert(r.try_get("meta_key")?, r.try_get("meta_value")?);
                }
            }
            let q = self.db.query(format!(
                "SELECT instance_uuid, tag FROM compute_instance_tag \
                 WHERE instance_uuid IN ({marks}) ORDER BY tag"
            ));
            for r in bind_all(q, args).fetch_all(self.db.pool()).await? {
                use sqlx::Row;
                let u: String = r.try_get("instance_uuid")?;
                if let Some(&n) = index.get(&u) {
                    list[n].tags.push(r.try_get("tag")?);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "instance_list_tests.rs"]
mod tests;
