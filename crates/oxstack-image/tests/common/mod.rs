//! A fresh image service per test: SQLite and a file store in a temporary directory, the
//! whole shared HTTP stack in front (`ErrorStyle::PlainText`), and a fake token validator
//! (the documented fake of the `TokenValidator` seam) that knows four fixed tokens.
//! Requests go through the router in-process.

#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use oxstack_common::context::{AuthInfo, RoleRef, TokenValidator};
use oxstack_common::db::Db;
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_image::{Image, ImageConfig, ImageOptions};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const URL: &str = "http://127.0.0.1:9292";
/// Admin of the `admin` project.
pub const ADMIN: &str = "tok-admin";
/// Member (and so reader) of project A.
pub const A: &str = "tok-a-member";
/// Member of project B.
pub const B: &str = "tok-b-member";
/// Reader (only) of project A.
pub const A_READER: &str = "tok-a-reader";
pub const PROJECT_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const PROJECT_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
pub const PROJECT_ADMIN: &str = "adadadadadadadadadadadadadadadad";

/// Maps the fixed test tokens to what identity would say about them.
#[derive(Debug)]
pub struct FakeValidator;

fn auth(user: &str, project: &str, roles: &[&str]) -> AuthInfo {
    AuthInfo {
        user_id: format!("user-{user}"),
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
        expires_at: i64::MAX,
        ..AuthInfo::default()
    }
}

#[async_trait]
impl TokenValidator for FakeValidator {
    async fn validate(&self, token: &str) -> Result<AuthInfo, oxstack_common::Error> {
        match token {
            ADMIN => Ok(auth("admin", PROJECT_ADMIN, &["admin", "member", "reader"])),
            A => Ok(auth("alice", PROJECT_A, &["member", "reader"])),
            B => Ok(auth("bob", PROJECT_B, &["member", "reader"])),
            A_READER => Ok(auth("rita", PROJECT_A, &["reader"])),
            _ => Err(oxstack_common::Error::unauthorized(
                "The request you have made requires authentication.",
            )),
        }
    }
}

pub struct TestCloud {
    pub router: axum::Router,
    pub db: Db,
    pub dir: tempfile::TempDir,
}

/// A response; `body` is the JSON body (`Null` when empty or not JSON), `raw` the bytes.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

pub async fn cloud() -> TestCloud {
    cloud_with(|_| {}).await
}

pub async fn cloud_with(tweak: impl FnOnce(&mut ImageConfig)) -> TestCloud {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        4,
    )
    .await
    .expect("db");
    db.migrate("image", oxstack_image::MIGRATIONS)
        .await
        .expect("migrate");
    let mut config = ImageConfig::default();
    tweak(&mut config);
    let image = Image::open(ImageOptions {
        config,
        store_dir: dir.path().join("images"),
        db: db.clone(),
        public_url: URL.into(),
    })
    .await
    .expect("open image");
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 1 << 20,
        auth: Some(Arc::new(FakeValidator)),
        identity_url: Some("http://127.0.0.1:5000".into()),
    };
    let router = stack.wrap("image", ErrorStyle::PlainText, image.router());
    TestCloud { router, db, dir }
}

impl TestCloud {
    /// Sends a request with a JSON body (or none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("content-type", "application/json")]
        } else {
            &[]
        };
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send(method, path, token, headers, Body::from(bytes))
            .await
    }

    /// Sends any request.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body).expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .expect("body")
            .to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            raw,
        }
    }

    /// Creates an image as `token`; panics unless 201. Returns its id.
    pub async fn create(&self, token: &str, body: Value) -> String {
        let r = self
            .call(Method::POST, "/v2/images", Some(token), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create: {}", r.text());
        r.body["id"].as_str().expect("id").to_string()
    }

    /// A raw/bare image with a name, as `token`.
    pub async fn create_named(&self, token: &str, name: &str) -> String {
        self.create(
            token,
            json!({"name": name, "disk_format": "raw", "container_format": "bare"}),
        )
        .await
    }

    /// `PUT .../file` with `data`.
    pub async fn upload(&self, token: &str, id: &str, data: Vec<u8>) -> Resp {
        self.send(
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(token),
            &[("content-type", "application/octet-stream")],
            Body::from(data),
        )
        .await
    }

    /// `PATCH` with the v2.1 JSON-patch media type.
    pub async fn patch(&self, token: &str, id: &str, ops: Value) -> Resp {
        self.send(
            Method::PATCH,
            &format!("/v2/images/{id}"),
            Some(token),
            &[(
                "content-type",
                "application/openstack-images-v2.1-json-patch",
            )],
            Body::from(ops.to_string()),
        )
        .await
    }

    pub async fn get(&self, token: &str, path: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Files under the store directory (recursively), excluding directories.
    pub fn stored_files(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p, base, out);
                    } else if let Ok(rel) = p.strip_prefix(base) {
                        out.push(rel.display().to_string());
                    }
                }
            }
        }
        let base = self.dir.path().join("images");
        let mut out = Vec::new();
        walk(&base, &base, &mut out);
        out.sort();
        out
    }
}
