//! Bootstrap: the Default domain, the admin and service projects, the admin user, the
//! admin ⇒ member ⇒ reader roles, the region and the catalog. Idempotent: what exists is
//! kept (the admin password is never reset), catalog URLs are corrected to the configuration.

use oxstack_common::Result;
use serde_json::{Map, json};

use crate::app::{App, new_id};
use crate::model::{
    Assignment, AssignmentKind, DEFAULT_DOMAIN, Endpoint, Project, ROOT_DOMAIN, Region, Role,
    SYSTEM_TARGET, Service, User,
};

/// One service in the catalog.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub service_type: String,
    pub name: String,
    pub url: String,
}

/// What bootstrap needs to know.
#[derive(Debug, Clone)]
pub struct BootstrapSpec {
    pub admin_password: String,
    pub region: String,
    pub catalog: Vec<CatalogEntry>,
}

impl App {
    async fn ensure_project(
        &self,
        name: &str,
        domain_id: &str,
        id: Option<&str>,
        is_domain: bool,
        description: &str,
    ) -> Result<Project> {
        if let Some(p) = self
            .store
            .project_get_by_name(if is_domain { ROOT_DOMAIN } else { domain_id }, name)
            .await?
        {
            return Ok(p);
        }
        let p = Project {
            id: id.map(str::to_string).unwrap_or_else(new_id),
            name: name.into(),
            domain_id: if is_domain {
                ROOT_DOMAIN.into()
            } else {
                domain_id.into()
            },
            parent_id: (!is_domain).then(|| domain_id.to_string()),
            is_domain,
            enabled: true,
            description: Some(description.into()),
            extra: Map::new(),
            tags: vec![],
        };
        self.store.project_create(&p).await?;
        Ok(p)
    }

    async fn ensure_role(&self, name: &str) -> Result<Role> {
        if let Some(r) = self.store.role_get_by_name(name, None).await? {
            return Ok(r);
        }
        let r = Role {
            id: new_id(),
            name: name.into(),
            domain_id: None,
            description: None,
            extra: Map::new(),
        };
        self.store.role_create(&r).await?;
        Ok(r)
    }

    async fn ensure_assignment(
        &self,
        kind: AssignmentKind,
        actor: &str,
        target: &str,
        role: &str,
    ) -> Result<()> {
        self.store
            .assignment_create(&Assignment {
                kind,
                actor_id: actor.into(),
                target_id: target.into(),
                role_id: role.into(),
                inherited: false,
            })
            .await?;
        Ok(())
    }

    /// Runs bootstrap (see the module docs).
    pub async fn bootstrap(&self, spec: &BootstrapSpec) -> Result<()> {
        let domain = self
            .ensure_project(
                "Default",
                ROOT_DOMAIN,
                Some(DEFAULT_DOMAIN),
                true,
                "The default domain",
            )
            .await?;
        let admin_project = self
            .ensure_project(
                "admin",
                &domain.id,
                None,
                false,
                "Bootstrap project for initializing the cloud.",
            )
            .await?;
        self.ensure_project(
            "service",
            &domain.id,
            None,
            false,
            "Project for the services' own users.",
        )
        .await?;
        let admin_role = self.ensure_role("admin").await?;
        let member = self.ensure_role("member").await?;
        let reader = self.ensure_role("reader").await?;
        self.ensure_role("manager").await?;
        self.ensure_role("service").await?;
        let implications = self.store.implied_role_list().await?;
        for (prior, implied) in [(&admin_role.id, &member.id), (&member.id, &reader.id)] {
            if !implications.iter().any(|(p, i)| p == prior && i == implied) {
                self.store.implied_role_create(prior, implied).await?;
            }
        }
        let admin = match self.store.user_get_by_name(&domain.id, "admin").await? {
            Some(u) => u,
            None => {
                let u = User {
                    id: new_id(),
                    domain_id: domain.id.clone(),
                    name: "admin".into(),
                    enabled: true,
                    default_project_id: None,
                    description: None,
                    extra: Map::new(),
                    password_hash: Some(self.hash_password(spec.admin_password.clone()).await?),
                    password_expires_at: None,
                    failed_auth_count: 0,
                    failed_auth_at: None,
                    created_at: oxstack_common::time::now().timestamp_micros(),
                };
                self.store.user_create(&u).await?;
                u
            }
        };
        self.ensure_assignment(
            AssignmentKind::UserProject,
            &admin.id,
            &admin_project.id,
            &admin_role.id,
        )
        .await?;
        self.ensure_assignment(
            AssignmentKind::UserDomain,
            &admin.id,
            &domain.id,
            &admin_role.id,
        )
        .await?;
        self.ensure_assignment(
            AssignmentKind::UserSystem,
            &admin.id,
            SYSTEM_TARGET,
            &admin_role.id,
        )
        .await?;

        if self.store.region_get(&spec.region).await?.is_none() {
            self.store
                .region_create(&Region {
                    id: spec.region.clone(),
                    description: Some(String::new()),
                    parent_region_id: None,
                    extra: Map::new(),
                })
                .await?;
        }
        let services = self.store.service_list(None).await?;
        let endpoints = self.store.endpoint_list().await?;
        for entry in &spec.catalog {
            let service = match services
                .iter()
                .find(|s| s.service_type == entry.service_type)
            {
                Some(s) => s.clone(),
                None => {
                    let mut extra = Map::new();
                    extra.insert("name".into(), json!(entry.name));
                    extra.insert(
                        "description".into(),
                        json!(format!("oxstack {} service", entry.service_type)),
                    );
                    let s = Service {
                        id: new_id(),
                        service_type: entry.service_type.clone(),
                        enabled: true,
                        extra,
                    };
                    self.store.service_create(&s).await?;
                    s
                }
            };
            for interface in ["public", "internal", "admin"] {
                let existing = endpoints.iter().find(|e| {
                    e.service_id == service.id
                        && e.interface == interface
                        && e.region_id.as_deref() == Some(spec.region.as_str())
                });
                match existing {
                    Some(e) if e.url == entry.url => {}
                    Some(e) => {
                        let mut e = e.clone();
                        e.url = entry.url.clone();
                        self.store.endpoint_update(&e).await?;
                    }
                    None => {
                        self.store
                            .endpoint_create(&Endpoint {
                                id: new_id(),
                                service_id: service.id.clone(),
                                interface: interface.into(),
                                url: entry.url.clone(),
                                region_id: Some(spec.region.clone()),
                                enabled: true,
                                extra: Map::new(),
                            })
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }
}
