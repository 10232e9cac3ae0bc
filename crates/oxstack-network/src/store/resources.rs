//! Generic resource rows: insert, get, list, update (with the revision compare-and-swap that
//! `If-Match` needs), delete; plus segments, default security groups and quotas.

use oxstack_common::db::Db;
use serde_json::Value;

use super::{Attempt, Kind, Result, Row, Store, StoreError, Tx, now, retrying};

type RawRow = (String, String, Option<String>, String, i64, i64, i64);

const COLS: &str = "id, project_id, parent_id, body, revision_number, created_at, updated_at";

fn decode(r: RawRow) -> Row {
    Row {
        id: r.0,
        project_id: r.1,
        parent_id: r.2,
        body: serde_json::from_str(&r.3).unwrap_or(Value::Null),
        revision_number: r.4,
        created_at: r.5,
        updated_at: r.6,
    }
}

/// A segment to allocate with a network.
#[derive(Debug, Clone)]
pub struct SegmentRequest {
    pub network_type: String,
    pub physical_network: String,
    /// A given id, or any free one from `ranges`.
    pub segmentation_id: Option<i64>,
    pub ranges: Vec<(i64, i64)>,
}

pub(crate) async fn insert_in(db: &Db, tx: &mut Tx, kind: Kind, row: &Row) -> Result<()> {
    db.query(format!(
        "INSERT INTO {} ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        kind.table()
    ))
    .bind(row.id.clone())
    .bind(row.project_id.clone())
    .bind(row.parent_id.clone())
    .bind(row.body.to_string())
    .bind(row.revision_number)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn delete_in(db: &Db, tx: &mut Tx, kind: Kind, id: &str) -> Result<bool> {
    let done = db
        .query(format!("DELETE FROM {} WHERE id = ?", kind.table()))
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

impl Store {
    /// A new row with revision 1 and both timestamps now.
    pub fn new_row(id: String, project_id: String, parent_id: Option<String>, body: Value) -> Row {
        let t = now();
        Row {
            id,
            project_id,
            parent_id,
            body,
            revision_number: 1,
            created_at: t,
            updated_at: t,
        }
    }

    pub async fn insert(&self, kind: Kind, row: &Row) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        insert_in(&self.db, &mut tx, kind, row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts several rows at once (a security group with its rules).
    pub async fn insert_many(&self, rows: &[(Kind, Row)]) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        for (k, r) in rows {
            insert_in(&self.db, &mut tx, *k, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get(&self, kind: Kind, id: &str) -> Result<Option<Row>> {
        let r: Option<RawRow> = self
            .db
            .query_as(format!("SELECT {COLS} FROM {} WHERE id = ?", kind.table()))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(r.map(decode))
    }

    /// Every row of `kind`, or those of one project, or those under one parent, by id.
    pub async fn list(
        &self,
        kind: Kind,
        project: Option<&str>,
        parent: Option<&str>,
    ) -> Result<Vec<Row>> {
        let mut sql = format!("SELECT {COLS} FROM {} WHERE 1 = 1", kind.table());
        if project.is_some() {
            sql.push_str(" AND project_id = ?");
        }
        if parent.is_some() {
            sql.push_str(" AND parent_id = ?");
        }
        sql.push_str(" ORDER BY created_at, id");
        let mut q = self.db.query_as::<RawRow>(sql);
        if let Some(p) = project {
            q = q.bind(p.to_string());
        }
        if let Some(p) = parent {
            q = q.bind(p.to_string());
        }
        Ok(q.fetch_all(self.db.pool())
            .await?
            .into_iter()
            .map(decode)
            .collect())
    }

    pub async fn count(&self, kind: Kind, project: &str) -> Result<i64> {
        Ok(self
            .db
            .query_scalar::<i64>(format!(
                "SELECT COUNT(*) FROM {} WHERE project_id = ?",
                kind.table()
            ))
            .bind(project.to_string())
            .fetch_one(self.db.pool())
            .await?)
    }

    /// Replaces the body, bumping the revision; with `expect` only from that revision.
    pub async fn update(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        expect: Option<i64>,
    ) -> Result<Row> {
        let db = &self.db;
        retrying!(db, "update", |tx| {
            update_in(db, &mut tx, kind, id, body, expect).await
        })
    }

    pub async fn delete(&self, kind: Kind, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let done = delete_in(&self.db, &mut tx, kind, id).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Creates a network and, when asked, allocates its segment in one transaction.
    pub async fn network_create(
        &self,
        row: &Row,
        segment: Option<&SegmentRequest>,
    ) -> Result<Option<i64>> {
        let db = &self.db;
        retrying!(db, "network create", |tx| {
            async {
                let seg = match segment {
                    Some(s) => match allocate_segment(db, &mut tx, s, &row.id).await? {
                        Some(v) => Some(v),
                        None => return Ok(Attempt::Retry),
                    },
                    None => None,
                };
                let mut row = row.clone();
                if let (Some(v), Some(o)) = (seg, row.body.as_object_mut())
                    && v >= 0
                {
                    o.insert("provider:segmentation_id".into(), Value::from(v));
                }
                insert_in(db, &mut tx, Kind::Network, &row).await?;
                Ok(Attempt::Done(seg.filter(|v| *v >= 0)))
            }
            .await
        })
    }

    /// Deletes a network with its segments.
    pub async fn network_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM neutron_segment WHERE network_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = delete_in(&self.db, &mut tx, Kind::Network, id).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The project's default security group id, if it has been made.
    pub async fn default_sg(&self, project: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_scalar::<String>(
                "SELECT security_group_id FROM neutron_default_security_group WHERE project_id = ?",
            )
            .bind(project.to_string())
            .fetch_optional(self.db.pool())
            .await?)
    }

    /// Records and inserts the project's default group with its rules; `false` when another
    /// request made it first.
    pub async fn default_sg_create(&self, project: &str, rows: &[(Kind, Row)]) -> Result<bool> {
        let Some((_, group)) = rows.first() else {
            return Ok(false);
        };
        let mut tx = self.db.begin_write().await?;
        let r = self
            .db
            .query("INSERT INTO neutron_default_security_group (project_id, security_group_id) VALUES (?, ?)")
            .bind(project.to_string())
            .bind(group.id.clone())
            .execute(&mut *tx)
            .await;
        match r {
            Ok(_) => {}
            Err(e) if Db::is_unique_violation(&e) => {
                let _ = tx.rollback().await;
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        for (k, r) in rows {
            insert_in(&self.db, &mut tx, *k, r).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a security group with its rules (and its default-group record).
    /// Deletes a security group with its rules and the `peer_rules` (other groups' rules
    /// naming it as their remote group).
    pub async fn security_group_delete(&self, id: &str, peer_rules: &[String]) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM neutron_security_group_rule WHERE parent_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        for rule in peer_rules {
            self.db
                .query("DELETE FROM neutron_security_group_rule WHERE id = ?")
                .bind(rule.clone())
                .execute(&mut *tx)
                .await?;
        }
        self.db
            .query("DELETE FROM neutron_default_security_group WHERE security_group_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = delete_in(&self.db, &mut tx, Kind::SecurityGroup, id).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The project's quota overrides.
    pub async fn quotas(&self, project: &str) -> Result<Vec<(String, i64)>> {
        Ok(self
            .db
            .query_as::<(String, i64)>(
                "SELECT resource, hard_limit FROM neutron_quota WHERE project_id = ?",
            )
            .bind(project.to_string())
            .fetch_all(self.db.pool())
            .await?)
    }

    /// Projects with quota overrides.
    pub async fn quota_projects(&self) -> Result<Vec<String>> {
        Ok(self
            .db
            .query_scalar::<String>("SELECT DISTINCT project_id FROM neutron_quota")
            .fetch_all(self.db.pool())
            .await?)
    }

    pub async fn quota_set(&self, project: &str, values: &[(String, i64)]) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        for (res, limit) in values {
            self.db
                .query("DELETE FROM neutron_quota WHERE project_id = ? AND resource = ?")
                .bind(project.to_string())
                .bind(res.clone())
                .execute(&mut *tx)
                .await?;
            self.db
                .query(
                    "INSERT INTO neutron_quota (project_id, resource, hard_limit) VALUES (?, ?, ?)",
                )
                .bind(project.to_string())
                .bind(res.clone())
                .bind(*limit)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn quota_delete(&self, project: &str) -> Result<()> {
        self.db
            .query("DELETE FROM neutron_quota WHERE project_id = ?")
            .bind(project.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

pub(crate) async fn update_in(
    db: &Db,
    tx: &mut Tx,
    kind: Kind,
    id: &str,
    body: &Value,
    expect: Option<i64>,
) -> Result<Attempt<Row>> {
    let cur: Option<RawRow> = db
        .query_as(format!("SELECT {COLS} FROM {} WHERE id = ?", kind.table()))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(cur) = cur.map(decode) else {
        return Err(StoreError::NotFound);
    };
    if expect.is_some_and(|e| e != cur.revision_number) {
        return Err(StoreError::RevisionMismatch);
    }
    let t = now().max(cur.updated_at);
    let done = db
        .query(format!(
            "UPDATE {} SET body = ?, revision_number = ?, updated_at = ? WHERE id = ? AND revision_number = ?",
            kind.table()
        ))
        .bind(body.to_string())
        .bind(cur.revision_number + 1)
        .bind(t)
        .bind(id.to_string())
        .bind(cur.revision_number)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(Attempt::Retry);
    }
    Ok(Attempt::Done(Row {
        body: body.clone(),
        revision_number: cur.revision_number + 1,
        updated_at: t,
        ..cur
    }))
}

/// Takes a segmentation id: the given one (or `SegmentInUse`), or a free one from the ranges;
/// `Some(-1)` for types without ids (flat, local). `None` when a racing insert took it.
async fn allocate_segment(
    db: &Db,
    tx: &mut Tx,
    s: &SegmentRequest,
    network_id: &str,
) -> Result<Option<i64>> {
    let id = match s.segmentation_id {
        Some(v) => v,
        None if s.network_type == "flat" || s.network_type == "local" => {
            if s.network_type == "local" {
                return Ok(Some(-1));
            }
            0
        }
        None => {
            let taken: Vec<i64> = db
                .query_scalar(
                    "SELECT segmentation_id FROM neutron_segment WHERE network_type = ? AND physical_network = ?",
                )
                .bind(s.network_type.clone())
                .bind(s.physical_network.clone())
                .fetch_all(&mut **tx)
                .await?;
            let taken: std::collections::HashSet<i64> = taken.into_iter().collect();
            let free = s
                .ranges
                .iter()
                .flat_map(|(a, b)| *a..=*b)
                .find(|v| !taken.contains(v));
            match free {
                Some(v) => v,
                None => return Err(StoreError::NoSegment),
            }
        }
    };
    let r = db
        .query("INSERT INTO neutron_segment (network_type, physical_network, segmentation_id, network_id) VALUES (?, ?, ?, ?)")
        .bind(s.network_type.clone())
        .bind(s.physical_network.clone())
        .bind(id)
        .bind(network_id.to_string())
        .execute(&mut **tx)
        .await;
    match r {
        Ok(_) => Ok(Some(if s.network_type == "flat" { -1 } else { id })),
        Err(e) if Db::is_unique_violation(&e) => {
            if s.segmentation_id.is_some() || s.network_type == "flat" {
                Err(StoreError::SegmentInUse)
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(e.into()),
    }
}
