//! Volume types (extra specs, access, the default type) and quotas.

use std::collections::BTreeMap;

use oxstack_common::{Error, Result};

use super::{App, Caller, new_id, not_found, now};
use crate::model::{Meta, VolumeType};
use crate::store::StoreError;

/// The quota resources of a project, in Cinder's order.
pub const QUOTA_RESOURCES: &[&str] = &[
    "volumes",
    "snapshots",
    "gigabytes",
    "backups",
    "backup_gigabytes",
    "per_volume_gigabytes",
    "groups",
];

/// What a project uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    pub volumes: i64,
    pub snapshots: i64,
    /// Volumes' and snapshots' sizes.
    pub gigabytes: i64,
}

impl QuotaUsage {
    /// The use of one resource.
    pub fn of(&self, resource: &str) -> i64 {
        match resource {
            "volumes" => self.volumes,
            "snapshots" => self.snapshots,
            "gigabytes" => self.gigabytes,
            _ => 0,
        }
    }
}

fn type_in_use() -> Error {
    Error::bad_request("Target volume type is still in use.")
}

impl App {
    /// Creates the configured default type if it is missing.
    pub async fn ensure_default_type(&self) -> Result<()> {
        if self
            .store
            .type_get_by_name(&self.config.default_volume_type)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let t = VolumeType {
            id: new_id(),
            name: self.config.default_volume_type.clone(),
            description: Some("Default Volume Type".into()),
            is_public: true,
            extra_specs: Meta::new(),
            created_at: now(),
        };
        match self.store.type_create(&t).await {
            Ok(()) | Err(StoreError::Duplicate) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn default_type(&self) -> Result<VolumeType> {
        self.store
            .type_get_by_name(&self.config.default_volume_type)
            .await?
            .ok_or_else(|| not_found("Volume type", &self.config.default_volume_type))
    }

    async fn type_visible(&self, c: &Caller<'_>, t: &VolumeType) -> Result<bool> {
        if t.is_public || c.is_admin {
            return Ok(true);
        }
        Ok(self
            .store
            .type_access_list(&t.id)
            .await?
            .iter()
            .any(|p| p == c.project_id()))
    }

    /// A type by id or name, if the caller may use it.
    pub(crate) async fn type_lookup(&self, c: &Caller<'_>, id_or_name: &str) -> Result<VolumeType> {
        let t = match self.store.type_get(id_or_name).await? {
            Some(t) => Some(t),
            None => self.store.type_get_by_name(id_or_name).await?,
        };
        match t {
            Some(t) if self.type_visible(c, &t).await? => Ok(t),
            _ => Err(Error::not_found(format!(
                "Volume type with name {id_or_name} could not be found."
            ))),
        }
    }

    pub async fn type_get(&self, c: &Caller<'_>, id: &str) -> Result<VolumeType> {
        if id == "default" {
            return self.default_type().await;
        }
        self.authorize_own(c, "volume_extension:volume_type_access")?;
        self.type_lookup(c, id)
            .await
            .map_err(|_| Error::not_found(format!("Volume type {id} could not be found.")))
    }

    /// Types the caller may see; `is_public` (admins only): `Some(true)` public, `Some(false)`
    /// private, `None` all.
    pub async fn type_list(
        &self,
        c: &Caller<'_>,
        is_public: Option<bool>,
    ) -> Result<Vec<VolumeType>> {
        self.authorize_own(c, "volume_extension:volume_type_access")?;
        let mut out = Vec::new();
        for t in self.store.type_list().await? {
            let wanted = if c.is_admin {
                is_public.is_none_or(|p| t.is_public == p)
            } else {
                self.type_visible(c, &t).await?
            };
            if wanted {
                out.push(t);
            }
        }
        Ok(out)
    }

    pub async fn type_create(
        &self,
        c: &Caller<'_>,
        name: String,
        description: Option<String>,
        is_public: bool,
        extra_specs: Meta,
    ) -> Result<VolumeType> {
        self.authorize_own(c, "volume_extension:types_manage")?;
        let t = VolumeType {
            id: new_id(),
            name,
            description,
            is_public,
            extra_specs,
            created_at: now(),
        };
        match self.store.type_create(&t).await {
            Ok(()) => Ok(t),
            Err(StoreError::Duplicate) => Err(Error::conflict(format!(
                "Volume Type {} already exists.",
                t.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn type_update(
        &self,
        c: &Caller<'_>,
        id: &str,
        name: Option<String>,
        description: Option<Option<String>>,
        is_public: Option<bool>,
    ) -> Result<VolumeType> {
        self.authorize_own(c, "volume_extension:types_manage")?;
        let mut t = self
            .store
            .type_get(id)
            .await?
            .ok_or_else(|| not_found("Volume type", id))?;
        if let Some(n) = name {
            if t.name == self.config.default_volume_type && n != t.name {
                return Err(Error::bad_request(
                    "The default volume type cannot be renamed.",
                ));
            }
            t.name = n;
        }
        if let Some(d) = description {
            t.description = d;
        }
        if let Some(p) = is_public {
            t.is_public = p;
        }
        match self.store.type_save(&t).await {
            Ok(()) => Ok(t),
            Err(StoreError::Duplicate) => Err(Error::conflict(format!(
                "Volume Type {} already exists.",
                t.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn type_delete(&self, c: &Caller<'_>, id: &str) -> Result<()> {
        self.authorize_own(c, "volume_extension:types_manage")?;
        let t = self
            .store
            .type_get(id)
            .await?
            .ok_or_else(|| not_found("Volume type", id))?;
        if t.name == self.config.default_volume_type {
            return Err(Error::bad_request(
                "Default volume type can not be deleted.",
            ));
        }
        if self.store.volume_count_of_type(id).await? > 0 {
            return Err(type_in_use());
        }
        self.store.type_delete(id).await?;
        Ok(())
    }

    /// Sets (merges) or replaces extra specs; `key` limits a write to one key.
    pub async fn type_specs_set(
        &self,
        c: &Caller<'_>,
        id: &str,
        specs: Meta,
        rule: &str,
    ) -> Result<Meta> {
        self.authorize_own(c, rule)?;
        let mut t = self
            .store
            .type_get(id)
            .await?
            .ok_or_else(|| not_found("Volume type", id))?;
        if self.store.volume_count_of_type(id).await? > 0 {
            // Cinder refuses spec changes of types in use unless told otherwise.
            return Err(type_in_use());
        }
        t.extra_specs.extend(specs);
        self.store.type_save(&t).await?;
        Ok(t.extra_specs)
    }

    pub async fn type_specs_get(&self, c: &Caller<'_>, id: &str) -> Result<Meta> {
        self.authorize_own(c, "volume_extension:types_extra_specs:index")?;
        Ok(self
            .store
            .type_get(id)
            .await?
            .ok_or_else(|| not_found("Volume type", id))?
            .extra_specs)
    }

    pub async fn type_spec_delete(&self, c: &Caller<'_>, id: &str, key: &str) -> Result<()> {
        self.authorize_own(c, "volume_extension:types_extra_specs:delete")?;
        let mut t = self
            .store
            .type_get(id)
            .await?
            .ok_or_else(|| not_found("Volume type", id))?;
        if t.extra_specs.remove(key).is_none() {
            return Err(Error::not_found(format!(
                "Volume Type {id} has no extra specs with key {key}."
            )));
        }
        self.store.type_save(&t).await?;
        Ok(())
    }

    pub async fn type_access_list(&self, c: &Caller<'_>, id: &str) -> Result<Vec<String>> {
        self.authorize_own(c, "volume_extension:volume_type_access:get_all_for_type")?;
        let t = self
            .store
            .type_get(id)
            .await?
            .ok_or_else(|| not_found("Volume type", id))?;
        if t.is_public {
            return Err(Error::not_found(format!(
                "Volume type access not found for {id}."
            )));
        }
        Ok(self.store.type_access_list(id).await?)
    }

    pub async fn type_access_change(
        &self,
        c: &Caller<'_>,
        id: &str,
        project: &str,
        add: bool,
    ) -> Result<()> {
        let rule = if add {
            "volume_extension:volume_type_access:addProjectAccess"
        } else {
            "volume_extension:volume_type_access:removeProjectAccess"
        };
        self.authorize_own(c, rule)?;
        let t = self
            .store
            .type_get(id)
            .await?
            .ok_or_else(|| not_found("Volume type", id))?;
        if t.is_public {
            return Err(Error::bad_request(
                "Invalid volume type: Type access modification is not applicable to public volume type.",
            ));
        }
        if add {
            match self.store.type_access_add(id, project).await {
                Ok(()) => Ok(()),
                Err(StoreError::Duplicate) => Err(Error::conflict(format!(
                    "Volume type access for {id} / {project} combination already exists."
                ))),
                Err(e) => Err(e.into()),
            }
        } else if self.store.type_access_remove(id, project).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!(
                "Volume type access not found for {id} / {project} combination."
            )))
        }
    }

    /// The defaults from the configuration.
    pub fn quota_defaults(&self) -> BTreeMap<String, i64> {
        let q = &self.config.quota;
        BTreeMap::from([
            ("volumes".into(), q.volumes),
            ("snapshots".into(), q.snapshots),
            ("gigabytes".into(), q.gigabytes),
            ("backups".into(), q.backups),
            ("backup_gigabytes".into(), q.backup_gigabytes),
            ("per_volume_gigabytes".into(), q.per_volume_gigabytes),
            ("groups".into(), q.groups),
        ])
    }

    /// The project's effective limits.
    pub async fn quota_limits(&self, project_id: &str) -> Result<BTreeMap<String, i64>> {
        let mut l = self.quota_defaults();
        l.extend(self.store.quota_get(project_id).await?);
        Ok(l)
    }

    /// What the project uses.
    pub async fn quota_usage(&self, project_id: &str) -> Result<QuotaUsage> {
        let vols = self.store.volume_list(Some(project_id)).await?;
        let snaps = self.store.snapshot_list(Some(project_id)).await?;
        Ok(QuotaUsage {
            volumes: vols.len() as i64,
            snapshots: snaps.len() as i64,
            gigabytes: vols.iter().map(|v| v.size).sum::<i64>()
                + snaps.iter().map(|s| s.size).sum::<i64>(),
        })
    }

    /// `GET /os-quota-sets/{project}`: limits and usage.
    pub async fn quota_show(
        &self,
        c: &Caller<'_>,
        project_id: &str,
    ) -> Result<(BTreeMap<String, i64>, QuotaUsage)> {
        self.authorize(
            c,
            "volume_extension:quotas:show",
            &super::target(project_id, ""),
        )?;
        Ok((
            self.quota_limits(project_id).await?,
            self.quota_usage(project_id).await?,
        ))
    }

    pub async fn quota_defaults_show(
        &self,
        c: &Caller<'_>,
        project_id: &str,
    ) -> Result<BTreeMap<String, i64>> {
        self.authorize(
            c,
            "volume_extension:quotas:show",
            &super::target(project_id, ""),
        )?;
        Ok(self.quota_defaults())
    }

    pub async fn quota_update(
        &self,
        c: &Caller<'_>,
        project_id: &str,
        values: BTreeMap<String, i64>,
    ) -> Result<BTreeMap<String, i64>> {
        self.authorize(
            c,
            "volume_extension:quotas:update",
            &super::target(project_id, ""),
        )?;
        let usage = self.quota_usage(project_id).await?;
        for (k, v) in &values {
            if !QUOTA_RESOURCES.contains(&k.as_str()) {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Bad key(s) in quota set: {k}"
                )));
            }
            if *v < -1 {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Quota limit {v} for {k} must be -1 or greater."
                )));
            }
            if *v >= 0 && *v < usage.of(k) {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Quota limit {v} for {k} must be greater than or equal to already used and reserved {}.",
                    usage.of(k)
                )));
            }
        }
        for (k, v) in values {
            self.store.quota_set(project_id, &k, v).await?;
        }
        self.quota_limits(project_id).await
    }

    pub async fn quota_delete(&self, c: &Caller<'_>, project_id: &str) -> Result<()> {
        self.authorize(
            c,
            "volume_extension:quotas:delete",
            &super::target(project_id, ""),
        )?;
        self.store.quota_delete(project_id).await?;
        Ok(())
    }

    /// `GET /limits`: the caller's limits and usage.
    pub async fn limits(&self, c: &Caller<'_>) -> Result<(BTreeMap<String, i64>, QuotaUsage)> {
        self.authorize_own(c, "limits_extension:used_limits")?;
        Ok((
            self.quota_limits(c.project_id()).await?,
            self.quota_usage(c.project_id()).await?,
        ))
    }
}
