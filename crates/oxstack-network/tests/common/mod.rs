//! A fresh networking service per test behind the whole shared HTTP stack, with a fake
//! token validator (the documented fake of the `TokenValidator` seam) that knows fixed
//! tokens: `admin-token`, `member-token` (project `alice-project`) and `other-token`
//! (project `bob-project`). The events compute would be told of are recorded.

#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use oxstack_common::Error;
use oxstack_common::context::{AuthInfo, RoleRef, TokenValidator};
use oxstack_common::db::testing::{self, TestDb};
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_network::notifier::RecordingNotifier;
use oxstack_network::{Network, NetworkConfig};
use serde_json::Value;
use tower::ServiceExt;

pub const ADMIN: &str = "admin-token";
pub const MEMBER: &str = "member-token";
pub const OTHER: &str = "other-token";

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
            ADMIN => Ok(caller(
                "admin",
                "admin-project",
                &["admin", "member", "reader"],
            )),
            MEMBER => Ok(caller("alice", "alice-project", &["member", "reader"])),
            OTHER => Ok(caller("bob", "bob-project", &["member", "reader"])),
            _ => Err(Error::unauthorized(
                "The request you have made requires authentication.",
            )),
        }
    }
}

pub struct TestCloud {
    pub router: axum::Router,
    pub network: Network,
    /// What compute would have been told.
    pub compute_events: Arc<RecordingNotifier>,
    db: Option<TestDb>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
}

impl Resp {
    /// The Neutron error type of an error body.
    pub fn error_type(&self) -> &str {
        self.body["NeutronError"]["type"].as_str().unwrap_or("")
    }
}

pub async fn cloud() -> TestCloud {
    cloud_on(testing::sqlite().await).await
}

pub async fn cloud_on(t: TestDb) -> TestCloud {
    t.db()
        .migrate(oxstack_network::SERVICE, oxstack_network::MIGRATIONS)
        .await
        .expect("migrate");
    let compute_events = Arc::new(RecordingNotifier::default());
    let network = Network::open_with(
        &NetworkConfig::default(),
        t.db().clone(),
        compute_events.clone(),
    )
    .expect("open");
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 1 << 20,
        auth: Some(Arc::new(FakeTokens)),
        identity_url: Some("http://127.0.0.1:5000".into()),
    };
    let router = stack.wrap("network", ErrorStyle::Neutron, network.router());
    TestCloud {
        router,
        network,
        compute_events,
        db: Some(t),
    }
}

impl TestCloud {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp { status, body }
    }
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }
}

impl Drop for TestCloud {
    fn drop(&mut self) {
        drop(self.db.take());
    }
}
