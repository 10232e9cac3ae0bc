//! A fresh identity service per test: SQLite in a temporary directory, new key
//! repositories, bootstrap done, the whole shared HTTP stack in front; requests go through
//! the router in-process.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use oxstack_common::cache::InProcessCache;
use oxstack_common::db::Db;
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_identity::model::{Assignment, AssignmentKind};
use oxstack_identity::store::Store;
use oxstack_identity::{BootstrapSpec, CatalogEntry, Identity, IdentityConfig, IdentityOptions};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN_PASSWORD: &str = "s3cret-admin";
pub const URL: &str = "http://127.0.0.1:5000";

pub struct TestCloud {
    pub router: axum::Router,
    pub identity: Identity,
    pub admin_token: String,
    pub db: Db,
    _dir: tempfile::TempDir,
}

/// A response, with its body parsed as JSON (`Null` when empty or not JSON).
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

pub async fn cloud() -> TestCloud {
    cloud_with(|_| {}).await
}

pub async fn cloud_with(tweak: impl FnOnce(&mut IdentityConfig)) -> TestCloud {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        4,
    )
    .await
    .expect("db");
    db.migrate("identity", oxstack_identity::MIGRATIONS)
        .await
        .expect("migrate");
    let (fernet, creds) = (dir.path().join("fernet"), dir.path().join("credential"));
    oxstack_identity::token::setup(&fernet).expect("fernet keys");
    oxstack_identity::token::setup(&creds).expect("credential keys");
    let mut config = IdentityConfig {
        password_hash_rounds: 4,
        ..Default::default()
    };
    tweak(&mut config);
    let identity = Identity::open(IdentityOptions {
        config,
        fernet_key_dir: fernet,
        credential_key_dir: creds,
        db: db.clone(),
        cache: Arc::new(InProcessCache::default()),
        public_url: URL.into(),
    })
    .await
    .expect("open identity");
    identity
        .bootstrap(&BootstrapSpec {
            admin_password: ADMIN_PASSWORD.into(),
            region: "RegionOne".into(),
            catalog: vec![CatalogEntry {
                service_type: "identity".into(),
                name: "keystone".into(),
                url: format!("{URL}/v3"),
            }],
        })
        .await
        .expect("bootstrap");
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 1 << 20,
        auth: Some(identity.validator()),
        identity_url: Some(URL.into()),
    };
    let router = stack.wrap("identity", ErrorStyle::Keystone, identity.router());
    let mut c = TestCloud {
        router,
        identity,
        admin_token: String::new(),
        db,
        _dir: dir,
    };
    c.admin_token = c
        .password_token(
            "admin",
            ADMIN_PASSWORD,
            Some(json!({"project": {"name": "admin", "domain": {"id": "default"}}})),
        )
        .await;
    c
}

impl TestCloud {
    /// Sends a request; `token` goes in `X-Auth-Token`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
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

    /// The admin's project-scoped token: shorthand for `call` with it.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call(method, path, Some(&self.admin_token.clone()), body)
            .await
    }

    /// Issues a token for a user in the Default domain with a password; panics unless 201.
    pub async fn password_token(&self, user: &str, password: &str, scope: Option<Value>) -> String {
        let r = self.try_password_token(user, password, scope).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "token for {user}: {:?}",
            r.body
        );
        r.header("x-subject-token")
            .expect("x-subject-token")
            .to_string()
    }

    pub async fn try_password_token(
        &self,
        user: &str,
        password: &str,
        scope: Option<Value>,
    ) -> Resp {
        let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}}});
        if let Some(s) = scope {
            auth["scope"] = s;
        }
        self.call(
            Method::POST,
            "/v3/auth/tokens",
            None,
            Some(json!({ "auth": auth })),
        )
        .await
    }
}

/// Creates a user through the API; returns its view.
pub async fn create_user(c: &TestCloud, body: Value) -> Value {
    let r = c
        .admin(Method::POST, "/v3/users", Some(json!({ "user": body })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["user"].clone()
}

/// A new project; returns its id.
pub async fn create_project(c: &TestCloud, name: &str) -> String {
    let r = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": name}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["project"]["id"].as_str().expect("id").to_string()
}

/// Gives `user_id` the member role on `project_id` directly in the store.
pub async fn grant_member(c: &TestCloud, user_id: &str, project_id: &str) {
    let store = Store::new(c.db.clone());
    let role = store
        .role_get_by_name("member", None)
        .await
        .expect("store")
        .expect("bootstrap made the member role");
    store
        .assignment_create(&Assignment {
            kind: AssignmentKind::UserProject,
            actor_id: user_id.into(),
            target_id: project_id.into(),
            role_id: role.id,
            inherited: false,
        })
        .await
        .expect("assignment");
}

/// A non-admin user with the member role on a new project: `(user id, project id, token)`.
pub async fn member(c: &TestCloud, name: &str, password: &str) -> (String, String, String) {
    let u = create_user(c, json!({"name": name, "password": password})).await;
    let id = u["id"].as_str().expect("id").to_string();
    let project = create_project(c, &format!("{name}-project")).await;
    grant_member(c, &id, &project).await;
    let token = c
        .password_token(name, password, Some(json!({"project": {"id": project}})))
        .await;
    (id, project, token)
}
