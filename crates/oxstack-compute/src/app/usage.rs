//! `os-simple-tenant-usage`: per-project server hours and resource-hours over a period, from
//! the servers' launch and termination times (Nova's simple_tenant_usage).

use std::collections::BTreeMap;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};

use super::{App, now};
use crate::model::Instance;
use crate::store::InstanceFilter;

/// One server's usage in the period.
#[derive(Debug, Clone)]
pub struct ServerUsage {
    pub instance: Instance,
    pub hours: f64,
    /// Seconds since launch (to the end of the period or the termination).
    pub uptime: i64,
}

/// One project's usage in the period.
#[derive(Debug, Clone)]
pub struct TenantUsage {
    pub tenant_id: String,
    pub start: i64,
    pub stop: i64,
    pub total_hours: f64,
    pub total_local_gb_usage: f64,
    pub total_memory_mb_usage: f64,
    pub total_vcpus_usage: f64,
    pub servers: Vec<ServerUsage>,
}

/// Parses `start`/`end` as Nova does (`%Y-%m-%dT%H:%M:%S[.%f]` or `%Y-%m-%d %H:%M:%S.%f`,
/// naive UTC); `None` is now.
pub fn parse_period(start: Option<&str>, end: Option<&str>) -> Result<(i64, i64)> {
    let parse = |s: &str, which: &str| -> Result<i64> {
        [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S%.f",
        ]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().timestamp_micros())
        .ok_or_else(|| {
            Error::bad_request(format!("Invalid {which} time. The time must be ISO 8601"))
        })
    };
    let t = now();
    let end = end.map(|e| parse(e, "end")).transpose()?.unwrap_or(t);
    let start = start.map(|s| parse(s, "start")).transpose()?.unwrap_or(t);
    if start > end {
        return Err(Error::bad_request(
            "Invalid start time. The start time cannot occur after the end time.",
        ));
    }
    Ok((start, end))
}

impl App {
    /// Usage of `project` (or of every project) in `[start, end]`.
    pub async fn tenant_usage(
        &self,
        ctx: &RequestContext,
        project: Option<&str>,
        start: i64,
        end: i64,
    ) -> Result<Vec<TenantUsage>> {
        let c = self.caller(ctx)?;
        match project {
            Some(p) => self.authorize(
                &c,
                "os_compute_api:os-simple-tenant-usage:show",
                &serde_json::json!({"project_id": p}),
            )?,
            None => self.authorize_own(&c, "os_compute_api:os-simple-tenant-usage:list")?,
        }
        let all = self
            .store
            .instance_list(&InstanceFilter {
                project_id: project.map(str::to_string),
                include_deleted: true,
                ..Default::default()
            })
            .await?;
        let mut by_project: BTreeMap<String, TenantUsage> = BTreeMap::new();
        let t = now();
        for i in all {
            let Some(launched) = i.launched_at else {
                continue;
            };
            let terminated = i.terminated_at.filter(|_| i.deleted);
            if launched > end || terminated.is_some_and(|x| x < start) {
                continue;
            }
            let from = launched.max(start);
            let to = terminated.unwrap_or(end).min(end);
            let hours = (to - from).max(0) as f64 / 3_600_000_000.0;
            let uptime =
                (terminated.unwrap_or(t).min(end.max(launched)) - launched).max(0) / 1_000_000;
            let u = by_project
                .entry(i.project_id.clone())
                .or_insert_with(|| TenantUsage {
                    tenant_id: i.project_id.clone(),
                    start,
                    stop: end,
                    total_hours: 0.0,
                    total_local_gb_usage: 0.0,
                    total_memory_mb_usage: 0.0,
                    total_vcpus_usage: 0.0,
                    servers: Vec::new(),
                });
            u.total_hours += hours;
            u.total_local_gb_usage += (i.flavor.root_gb + i.flavor.ephemeral_gb) as f64 * hours;
            u.total_memory_mb_usage += i.flavor.memory_mb as f64 * hours;
            u.total_vcpus_usage += i.flavor.vcpus as f64 * hours;
            u.servers.push(ServerUsage {
                instance: i,
                hours,
                uptime,
            });
        }
        Ok(by_project.into_values().collect())
    }
}
