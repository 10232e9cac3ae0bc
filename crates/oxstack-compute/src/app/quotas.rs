//! Quotas: limits per project (falling back to the `default` quota class, then to the
//! configured defaults), usage counted from the live resources, and enforcement.

use std::collections::BTreeMap;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{App, Caller};

/// Every quota resource Nova knows, in its response order, with the last microversion
/// showing it in quota sets (`None`: still shown).
pub const QUOTA_RESOURCES: &[(&str, Option<u16>)] = &[
    ("cores", None),
    ("fixed_ips", Some(35)),
    ("floating_ips", Some(35)),
    ("injected_file_content_bytes", Some(56)),
    ("injected_file_path_bytes", Some(56)),
    ("injected_files", Some(56)),
    ("instances", None),
    ("key_pairs", None),
    ("metadata_items", None),
    ("ram", None),
    ("security_group_rules", Some(35)),
    ("security_groups", Some(35)),
    ("server_group_members", None),
    ("server_groups", None),
];

/// Limit and use of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsage {
    pub limit: i64,
    pub in_use: i64,
}

impl App {
    fn quota_default(&self, resource: &str) -> i64 {
        let q = &self.config.quota;
        match resource {
            "instances" => q.instances,
            "cores" => q.cores,
            "ram" => q.ram,
            "metadata_items" => q.metadata_items,
            "injected_files" => q.injected_files,
            "injected_file_content_bytes" => q.injected_file_content_bytes,
            "injected_file_path_bytes" => q.injected_file_path_length,
            "key_pairs" => q.key_pairs,
            "server_groups" => q.server_groups,
            "server_group_members" => q.server_group_members,
            "fixed_ips" | "floating_ips" | "security_groups" | "security_group_rules" => -1,
            _ => -1,
        }
    }

    /// The `default` class limits over the configured defaults.
    pub async fn quota_defaults(&self) -> Result<BTreeMap<String, i64>> {
        let class = self.store.quota_class_get("default").await?;
        Ok(QUOTA_RESOURCES
            .iter()
            .map(|(r, _)| {
                (
                    r.to_string(),
                    class
                        .get(*r)
                        .copied()
                        .unwrap_or_else(|| self.quota_default(r)),
                )
            })
            .collect())
    }

    /// Every limit of a project.
    pub async fn quota_limits(&self, project_id: &str) -> Result<BTreeMap<String, i64>> {
        let mut limits = self.quota_defaults().await?;
        for (k, v) in self.store.quota_get(project_id).await? {
            limits.insert(k, v);
        }
        Ok(limits)
    }

    pub async fn quota_limit(&self, project_id: &str, resource: &str) -> Result<i64> {
        Ok(self
            .quota_limits(project_id)
            .await?
            .get(resource)
            .copied()
            .unwrap_or(-1))
    }

    /// Limits and usage of a project (key pairs are counted for `user_id`).
    pub async fn quota_usage(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<BTreeMap<String, QuotaUsage>> {
        let limits = self.quota_limits(project_id).await?;
        let (instances, cores, ram) = self.store.instance_usage(project_id).await?;
        let key_pairs = self.store.keypair_count(user_id).await?;
        let groups = self.store.group_count(project_id).await?;
        Ok(limits
            .into_iter()
            .map(|(k, limit)| {
                let in_use = match k.as_str() {
                    "instances" => instances,
                    "cores" => cores,
                    "ram" => ram,
                    "key_pairs" => key_pairs,
                    "server_groups" => groups,
                    _ => 0,
                };
                (k, QuotaUsage { limit, in_use })
            })
            .collect())
    }

    /// 403 when adding `wanted` of each resource would exceed a project's limits.
    pub async fn quota_check(&self, project_id: &str, wanted: &[(&str, i64)]) -> Result<()> {
        let usage = self.quota_usage(project_id, "").await?;
        for (r, n) in wanted {
            if let Some(u) = usage.get(*r)
                && u.limit >= 0
                && u.in_use + n > u.limit
            {
                return Err(super::over_quota(r, *n, u.in_use, u.limit));
            }
        }
        Ok(())
    }

    fn quota_target(c: &Caller<'_>, project_id: &str) -> Value {
        json!({"project_id": project_id, "user_id": c.user_id()})
    }

    pub async fn quota_show(
        &self,
        ctx: &RequestContext,
        project_id: &str,
        detail: bool,
    ) -> Result<BTreeMap<String, QuotaUsage>> {
        let c = self.caller(ctx)?;
        let rule = if detail {
            "os_compute_api:os-quota-sets:detail"
        } else {
            "os_compute_api:os-quota-sets:show"
        };
        self.authorize(&c, rule, &Self::quota_target(&c, project_id))?;
        self.quota_usage(project_id, c.user_id()).await
    }

    pub async fn quota_defaults_show(
        &self,
        ctx: &RequestContext,
        project_id: &str,
    ) -> Result<BTreeMap<String, i64>> {
        let c = self.caller(ctx)?;
        self.authorize(
            &c,
            "os_compute_api:os-quota-sets:defaults",
            &Self::quota_target(&c, project_id),
        )?;
        self.quota_defaults().await
    }

    fn parse_limits(body: &Map<String, Value>, allowed: &[&str]) -> Result<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        for (k, v) in body {
            if k == "force" {
                continue;
            }
            if !allowed.contains(&k.as_str()) {
                return Err(Error::bad_request(format!(
                    "Invalid input for field/attribute quota_set. Value: {k}. Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            match n {
                Some(n) if n >= -1 && n <= i32::MAX as i64 => {
                    out.insert(k.clone(), n);
                }
                _ => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute {k}. Value: {v}. {v} is not valid (must be an integer >= -1)"
                    )));
                }
            }
        }
        Ok(out)
    }

    pub async fn quota_update(
        &self,
        ctx: &RequestContext,
        project_id: &str,
        body: &Map<String, Value>,
        allowed: &[&str],
    ) -> Result<BTreeMap<String, i64>> {
        let c = self.caller(ctx)?;
        self.authorize(
            &c,
            "os_compute_api:os-quota-sets:update",
            &Self::quota_target(&c, project_id),
        )?;
        let limits = Self::parse_limits(body, allowed)?;
        self.store.quota_set(project_id, &limits).await?;
        self.quota_limits(project_id).await
    }

    pub async fn quota_delete(&self, ctx: &RequestContext, project_id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        self.authorize(
            &c,
            "os_compute_api:os-quota-sets:delete",
            &Self::quota_target(&c, project_id),
        )?;
        Ok(self.store.quota_delete(project_id).await?)
    }

    pub async fn quota_class_show(
        &self,
        ctx: &RequestContext,
        class: &str,
    ) -> Result<BTreeMap<String, i64>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-quota-class-sets:show")?;
        let mut limits = self.quota_defaults().await?;
        if class != "default" {
            for (k, v) in self.store.quota_class_get(class).await? {
                limits.insert(k, v);
            }
        }
        Ok(limits)
    }

    pub async fn quota_class_update(
        &self,
        ctx: &RequestContext,
        class: &str,
        body: &Map<String, Value>,
        allowed: &[&str],
    ) -> Result<BTreeMap<String, i64>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-quota-class-sets:update")?;
        let limits = Self::parse_limits(body, allowed)?;
        self.store.quota_class_set(class, &limits).await?;
        let mut out = self.quota_defaults().await?;
        for (k, v) in self.store.quota_class_get(class).await? {
            out.insert(k, v);
        }
        Ok(out)
    }

    /// `GET /limits` (optionally `?tenant_id=` for admins).
    pub async fn limits(
        &self,
        ctx: &RequestContext,
        tenant_id: Option<&str>,
    ) -> Result<BTreeMap<String, QuotaUsage>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:limits")?;
        let project = match tenant_id {
            Some(t) if t != c.project_id() => {
                self.authorize_own(&c, "os_compute_api:limits:other_project")?;
                t.to_string()
            }
            _ => c.project_id().to_string(),
        };
        self.quota_usage(&project, c.user_id()).await
    }
}
