//! A fresh compute service per test: SQLite in a temporary directory, a fake token
//! validator, fake image service and placement, in-process bus and coordination, and one
//! compute agent with the fake driver; requests go through the whole shared HTTP stack.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use oxstack_common::bus::InProcessBus;
use oxstack_common::context::{AuthInfo, RoleRef, TokenValidator};
use oxstack_common::coord::InProcessCoordination;
use oxstack_common::db::Db;
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_common::{Error, Result};
use oxstack_compute::agent::{AgentHandle, FakeDriver, HostResources};
use oxstack_compute::clients::{FakeImageClient, FakeNetwork, FakePlacement, FakeVolumeClient};
use oxstack_compute::{Compute, ComputeConfig, ComputeOptions};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const IMAGE: &str = "70a599e0-31e7-49b7-b260-868f441e862b";
pub const ADMIN: &str = "admin-token";
pub const MEMBER: &str = "member-token";
pub const READER: &str = "reader-token";
pub const OTHER: &str = "other-token";
pub const P1: &str = "11111111111111111111111111111111";
pub const P2: &str = "22222222222222222222222222222222";
pub const PADMIN: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// Tokens are their own names: admin (project PADMIN), member and reader of P1, member of P2.
#[derive(Debug)]
pub struct FakeTokens;

fn auth(user: &str, project: &str, roles: &[&str]) -> AuthInfo {
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
                id: r.to_string(),
                name: r.to_string(),
            })
            .collect(),
        methods: vec!["password".into()],
        expires_at: i64::MAX / 2,
        ..Default::default()
    }
}

#[async_trait]
impl TokenValidator for FakeTokens {
    async fn validate(&self, token: &str) -> Result<AuthInfo> {
        match token {
            ADMIN => Ok(auth("u-admin", PADMIN, &["admin", "member", "reader"])),
            MEMBER => Ok(auth("u-member", P1, &["member", "reader"])),
            READER => Ok(auth("u-reader", P1, &["reader"])),
            OTHER => Ok(auth("u-other", P2, &["member", "reader"])),
            _ => Err(Error::unauthorized(
                "The request you have made requires authentication.",
            )),
        }
    }
}

pub struct TestCloud {
    pub router: axum::Router,
    pub compute: Compute,
    pub opts: ComputeOptions,
    pub placement: Arc<FakePlacement>,
    pub image: Arc<FakeImageClient>,
    pub network: Arc<FakeNetwork>,
    pub volume: Arc<FakeVolumeClient>,
    pub driver: Arc<FakeDriver>,
    pub agent: AgentHandle,
    pub db: Db,
    pub dir: Arc<tempfile::TempDir>,
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
}

pub fn fake_driver() -> Arc<FakeDriver> {
    Arc::new(FakeDriver::new(HostResources {
        vcpus: 8,
        memory_mb: 8192,
        disk_gb: 100,
    }))
}

pub async fn cloud() -> TestCloud {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        4,
    )
    .await
    .expect("db");
    db.migrate("compute", oxstack_compute::MIGRATIONS)
        .await
        .expect("migrate");
    let placement = Arc::new(FakePlacement::default());
    let image = Arc::new(FakeImageClient::default());
    image.add(IMAGE, "cirros");
    let network = Arc::new(FakeNetwork::default());
    let volume = Arc::new(FakeVolumeClient::default());
    let opts = ComputeOptions {
        config: ComputeConfig {
            keypair_generate_algorithm: "ed25519".into(),
            build_retries: 1,
            ..Default::default()
        },
        db: db.clone(),
        bus: Arc::new(InProcessBus::default()),
        coord: Arc::new(InProcessCoordination::default()),
        image: image.clone(),
        placement: placement.clone(),
        network: Some(network.clone()),
        volume: Some(volume.clone()),
        public_url: "http://127.0.0.1:8774".into(),
    };
    reopen(
        opts,
        Fakes {
            placement,
            image,
            network,
            volume,
        },
        db,
        Arc::new(dir),
        fake_driver(),
        "host1",
    )
    .await
}

/// The fake services a cloud talks to (kept across a [`reopen`]).
#[derive(Debug, Clone)]
pub struct Fakes {
    pub placement: Arc<FakePlacement>,
    pub image: Arc<FakeImageClient>,
    pub network: Arc<FakeNetwork>,
    pub volume: Arc<FakeVolumeClient>,
}

/// Opens the service on `opts` (a new process over the same database) with an agent.
pub async fn reopen(
    opts: ComputeOptions,
    fakes: Fakes,
    db: Db,
    dir: Arc<tempfile::TempDir>,
    driver: Arc<FakeDriver>,
    host: &str,
) -> TestCloud {
    let Fakes {
        placement,
        image,
        network,
        volume,
    } = fakes;
    let compute = Compute::open(opts.clone()).await.expect("open compute");
    let agent = compute
        .start_agent(host, driver.clone())
        .await
        .expect("agent");
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 1 << 20,
        auth: Some(Arc::new(FakeTokens)),
        identity_url: Some("http://127.0.0.1:5000".into()),
    };
    let router = stack.wrap("compute", ErrorStyle::Nova, compute.router());
    TestCloud {
        router,
        compute,
        opts,
        placement,
        image,
        network,
        volume,
        driver,
        agent,
        db,
        dir,
    }
}

impl TestCloud {
    pub fn fakes(&self) -> Fakes {
        Fakes {
            placement: self.placement.clone(),
            image: self.image.clone(),
            network: self.network.clone(),
            volume: self.volume.clone(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        mv: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        if let Some(v) = mv {
            req = req.header("openstack-api-version", format!("compute {v}"));
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

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body), None)
            .await
    }

    /// Creates the `m1.tiny` flavor (id 1) as admin.
    pub async fn flavor(&self, id: &str, vcpus: i64, ram: i64) {
        let r = self
            .post("/v2.1/flavors", ADMIN, json!({"flavor": {"name": format!("f-{id}"), "id": id, "vcpus": vcpus, "ram": ram, "disk": 1}}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    /// Creates a server as `token`; returns its id.
    pub async fn server(&self, token: &str, name: &str, flavor: &str) -> String {
        let r = self
            .post(
                "/v2.1/servers",
                token,
                json!({"server": {"name": name, "imageRef": IMAGE, "flavorRef": flavor}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        r.body["server"]["id"].as_str().expect("id").to_string()
    }

    /// Waits until the server reaches `status` (or 404 for `DELETED`).
    pub async fn wait(&self, id: &str, status: &str) -> Value {
        for _ in 0..200 {
            let r = self.get(&format!("/v2.1/servers/{id}"), ADMIN).await;
            if status == "DELETED" && r.status == StatusCode::NOT_FOUND {
                return Value::Null;
            }
            if r.body["server"]["status"] == status
                && r.body["server"]["OS-EXT-STS:task_state"].is_null()
            {
                return r.body["server"].clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let r = self.get(&format!("/v2.1/servers/{id}"), ADMIN).await;
        panic!("server {id} never reached {status}: {:?}", r.body);
    }
}
