//! A fresh placement service per test behind the whole shared HTTP stack, with a fake
//! token validator (the documented fake of the `TokenValidator` seam) that knows three
//! fixed tokens: `admin-token`, `service-token` and `member-token`.

#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use oxstack_common::Error;
use oxstack_common::context::{AuthInfo, RoleRef, TokenValidator};
use oxstack_common::db::testing::{self, TestDb};
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_placement::{Placement, PlacementConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN: &str = "admin-token";
pub const SERVICE: &str = "service-token";
pub const MEMBER: &str = "member-token";
pub const MEMBER_PROJECT: &str = "member-project";

/// Maps the fixed tokens to project-scoped callers.
#[derive(Debug)]
pub struct FakeTokens;

fn caller(user: &str, project: &str, roles: &[&str]) -> AuthInfo {
    AuthInfo {
        user_id: user.into(),
        user_name: user.into(),
        user_domain_id: "default".into(),
        user_domain_name: "Default".into(),
        project_id: Some(project.into()),
        project_name: Some(project.into()),
        project_domain_id: Some("default".into()),
        project_domain_name: Some("Default".into()),
        roles: roles
            .iter()
            .map(|r| RoleRef {
                id: format!("{r}-id"),
                name: (*r).into(),
            })
            .collect(),
        methods: vec!["password".into()],
        ..AuthInfo::default()
    }
}

#[async_trait]
impl TokenValidator for FakeTokens {
    async fn validate(&self, token: &str) -> Result<AuthInfo, Error> {
        match token {
            ADMIN => Ok(caller("admin", "admin", &["admin", "member", "reader"])),
            SERVICE => Ok(caller("nova", "service", &["service"])),
            MEMBER => Ok(caller("alice", MEMBER_PROJECT, &["member", "reader"])),
            _ => Err(Error::unauthorized(
                "The request you have made requires authentication.",
            )),
        }
    }
}

pub struct TestCloud {
    pub router: axum::Router,
    pub placement: Placement,
    db: Option<TestDb>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The placement error code of an error body.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }
}

/// A cloud on SQLite.
pub async fn cloud() -> TestCloud {
    cloud_on(testing::sqlite().await).await
}

/// One cloud per reachable engine.
pub async fn clouds() -> Vec<TestCloud> {
    let mut out = Vec::new();
    for t in testing::engines().await {
        out.push(cloud_on(t).await);
    }
    out
}

pub async fn cloud_on(t: TestDb) -> TestCloud {
    t.db()
        .migrate(oxstack_placement::SERVICE, oxstack_placement::MIGRATIONS)
        .await
        .expect("migrate");
    let placement = Placement::open(&PlacementConfig::default(), t.db().clone()).expect("open");
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 1 << 20,
        auth: Some(Arc::new(FakeTokens)),
        identity_url: Some("http://127.0.0.1:5000".into()),
    };
    let router = stack.wrap("placement", ErrorStyle::Placement, placement.router());
    TestCloud {
        router,
        placement,
        db: Some(t),
    }
}

impl TestCloud {
    /// Another handle on the same service (without ownership of the database), for tasks.
    pub fn handle(&self) -> TestCloud {
        TestCloud {
            router: self.router.clone(),
            placement: self.placement.clone(),
            db: None,
        }
    }

    pub fn engine(&self) -> String {
        format!("{:?}", self.db.as_ref().map(|d| d.engine()))
    }

    pub async fn cleanup(mut self) {
        if let Some(d) = self.db.take() {
            d.cleanup().await;
        }
    }

    /// Sends a request at microversion `version` (None: no header).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        version: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        if let Some(v) = version {
            req = req.header("openstack-api-version", format!("placement {v}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    /// As the admin at `version`.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        version: &str,
        body: Option<Value>,
    ) -> Resp {
        self.call(method, path, Some(ADMIN), Some(version), body)
            .await
    }

    /// Creates a provider at 1.20+ (optionally under `parent`); returns its uuid.
    pub async fn provider(&self, name: &str, parent: Option<&str>) -> String {
        let mut body = json!({"name": name});
        if let Some(p) = parent {
            body["parent_provider_uuid"] = json!(p);
        }
        let r = self
            .admin(Method::POST, "/resource_providers", "1.36", Some(body))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["uuid"].as_str().expect("uuid").to_string()
    }

    /// Sets a compute-node-like inventory; returns the new generation.
    pub async fn inventory(&self, rp: &str, inventories: Value) -> i64 {
        let g = self
            .admin(
                Method::GET,
                &format!("/resource_providers/{rp}"),
                "1.36",
                None,
            )
            .await
            .body["generation"]
            .as_i64()
            .expect("generation");
        let r = self
            .admin(
                Method::PUT,
                &format!("/resource_providers/{rp}/inventories"),
                "1.36",
                Some(json!({"resource_provider_generation": g, "inventories": inventories})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["resource_provider_generation"]
            .as_i64()
            .expect("generation")
    }

    /// Claims for a new consumer at 1.36; returns the response.
    pub async fn claim(&self, consumer: &str, allocations: Value) -> Resp {
        self.admin(
            Method::PUT,
            &format!("/allocations/{consumer}"),
            "1.36",
            Some(json!({
                "allocations": allocations,
                "project_id": "p1",
                "user_id": "u1",
                "consumer_generation": null,
            })),
        )
        .await
    }
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
