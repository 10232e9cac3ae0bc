//! The Swift API in-process: SQLite and a file store in a temporary directory, the shared
//! HTTP stack in front (`ErrorStyle::PlainText`) and a fake token validator.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use oxstack_common::context::{AuthInfo, RoleRef, TokenValidator};
use oxstack_common::db::Db;
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_objectstore::{ObjectStore, ObjectStoreConfig, ObjectStoreOptions};
use tower::ServiceExt;

const A: &str = "tok-a";
const B: &str = "tok-b";
const RESELLER: &str = "tok-reseller";
const ACCT: &str = "/v1/AUTH_pa";

#[derive(Debug)]
struct FakeValidator;

fn auth(user: &str, project: &str, roles: &[&str]) -> AuthInfo {
    AuthInfo {
        user_id: user.into(),
        user_name: user.into(),
        project_id: Some(project.into()),
        project_name: Some(project.into()),
        roles: roles
            .iter()
            .map(|r| RoleRef {
                id: (*r).into(),
                name: (*r).into(),
            })
            .collect(),
        ..AuthInfo::default()
    }
}

#[async_trait]
impl TokenValidator for FakeValidator {
    async fn validate(&self, token: &str) -> Result<AuthInfo, oxstack_common::Error> {
        match token {
            A => Ok(auth("ua", "pa", &["member"])),
            B => Ok(auth("ub", "pb", &["member"])),
            RESELLER => Ok(auth("ur", "pr", &["ResellerAdmin"])),
            _ => Err(oxstack_common::Error::unauthorized("no")),
        }
    }
}

struct Cloud {
    router: axum::Router,
    dir: Arc<tempfile::TempDir>,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn h(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn cloud() -> Cloud {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    Cloud {
        router: router_at(dir.path()).await,
        dir,
    }
}

/// The service over the database and data directory under `dir` (opened as at start-up).
async fn router_at(dir: &std::path::Path) -> axum::Router {
    let db = Db::connect(&format!("sqlite://{}", dir.join("t.db").display()), 4)
        .await
        .expect("db");
    db.migrate(
        oxstack_objectstore::SERVICE,
        oxstack_objectstore::MIGRATIONS,
    )
    .await
    .expect("migrate");
    let os = ObjectStore::open(ObjectStoreOptions {
        config: ObjectStoreConfig::default(),
        data_dir: dir.join("objects"),
        db,
    })
    .await
    .expect("open");
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 1 << 20,
        auth: Some(Arc::new(FakeValidator)),
        identity_url: None,
    };
    stack.wrap("objectstore", ErrorStyle::PlainText, os.router())
}

impl Cloud {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("x-auth-token", t);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if method == "PUT" && !headers.iter().any(|(k, _)| *k == "content-length") {
            b = b.header("content-length", body.len().to_string());
        }
        let req = b.body(Body::from(body.to_vec())).expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 30)
            .await
            .expect("body")
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }
}

#[tokio::test]
async fn containers_objects_and_listings() {
    let c = cloud().await;
    let r = c.call("GET", "/info", None, &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"slo\""));
    assert_eq!(c.call("HEAD", ACCT, None, &[], b"").await.status, 401);
    let r = c.call("HEAD", ACCT, Some(A), &[], b"").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.h("x-account-container-count"), Some("0"));
    assert!(r.h("x-trans-id").is_some_and(|t| t.starts_with("tx")));
    assert_eq!(c.call("HEAD", ACCT, Some(B), &[], b"").await.status, 403);

    assert_eq!(
        c.call("PUT", &format!("{ACCT}/c1"), Some(A), &[], b"")
            .await
            .status,
        201
    );
    assert_eq!(
        c.call("PUT", &format!("{ACCT}/c1"), Some(A), &[], b"")
            .await
            .status,
        202
    );
    let r = c
        .call(
            "PUT",
            &format!("{ACCT}/c1/a/b.txt"),
            Some(A),
            &[("x-object-meta-color", "blue")],
            b"hello world",
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.h("etag"), Some("5eb63bbbe01eeed093cb22bb8f5acdc3"));
    let r = c
        .call(
            "PUT",
            &format!("{ACCT}/c1/bad"),
            Some(A),
            &[("etag", "00000000000000000000000000000000")],
            b"x",
        )
        .await;
    assert_eq!(r.status, 422);
    c.call("PUT", &format!("{ACCT}/c1/z"), Some(A), &[], b"zz")
        .await;

    let r = c
        .call("GET", &format!("{ACCT}/c1/a/b.txt"), Some(A), &[], b"")
        .await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "hello world"));
    assert_eq!(r.h("content-type"), Some("text/plain"));
    assert_eq!(r.h("x-object-meta-color"), Some("blue"));
    let r = c
        .call(
            "GET",
            &format!("{ACCT}/c1/a/b.txt"),
            Some(A),
            &[("range", "bytes=6-")],
            b"",
        )
        .await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (206, "world"));
    let r = c
        .call(
            "GET",
            &format!("{ACCT}/c1/a/b.txt"),
            Some(A),
            &[("range", "bytes=0-1,-2")],
            b"",
        )
        .await;
    assert_eq!(r.status, 206);
    assert!(
        r.h("content-type")
            .is_some_and(|t| t.starts_with("multipart/byteranges"))
    );
    let r = c
        .call(
            "GET",
            &format!("{ACCT}/c1/a/b.txt"),
            Some(A),
            &[("if-none-match", "5eb63bbbe01eeed093cb22bb8f5acdc3")],
            b"",
        )
        .await;
    assert_eq!(r.status, 304);

    let r = c
        .call("GET", &format!("{ACCT}/c1?delimiter=/"), Some(A), &[], b"")
        .await;
    assert_eq!(r.text(), "a/\nz\n");
    let r = c
        .call(
            "GET",
            &format!("{ACCT}/c1?format=json&prefix=a/"),
            Some(A),
            &[],
            b"",
        )
        .await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v[0]["name"], "a/b.txt");
    assert_eq!(v[0]["bytes"], 11);
    let r = c
        .call("HEAD", &format!("{ACCT}/c1"), Some(A), &[], b"")
        .await;
    assert_eq!(r.h("x-container-object-count"), Some("2"));
    assert_eq!(r.h("x-container-bytes-used"), Some("13"));

    // Copy, then ACLs.
    let r = c
        .call(
            "PUT",
            &format!("{ACCT}/c1/copy"),
            Some(A),
            &[("x-copy-from", "c1/a/b.txt")],
            b"",
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.h("x-copied-from"), Some("c1/a/b.txt"));
    assert_eq!(
        c.call("GET", &format!("{ACCT}/c1/copy"), Some(B), &[], b"")
            .await
            .status,
        403
    );
    c.call(
        "POST",
        &format!("{ACCT}/c1"),
        Some(A),
        &[("x-container-read", "pb:ub")],
        b"",
    )
    .await;
    assert_eq!(
        c.call("GET", &format!("{ACCT}/c1/copy"), Some(B), &[], b"")
            .await
            .text(),
        "hello world"
    );
    assert_eq!(
        c.call("GET", &format!("{ACCT}/c1/copy"), None, &[], b"")
            .await
            .status,
        401
    );

    assert_eq!(
        c.call("DELETE", &format!("{ACCT}/c1"), Some(A), &[], b"")
            .await
            .status,
        409
    );
    for o in ["a/b.txt", "z", "copy"] {
        assert_eq!(
            c.call("DELETE", &format!("{ACCT}/c1/{o}"), Some(A), &[], b"")
                .await
                .status,
            204
        );
    }
    assert_eq!(
        c.call("DELETE", &format!("{ACCT}/c1/z"), Some(A), &[], b"")
            .await
            .status,
        404
    );
    assert_eq!(
        c.call("DELETE", &format!("{ACCT}/c1"), Some(A), &[], b"")
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn quotas_large_objects_and_versions() {
    let c = cloud().await;
    c.call(
        "PUT",
        &format!("{ACCT}/c"),
        Some(A),
        &[("x-container-meta-quota-bytes", "5")],
        b"",
    )
    .await;
    assert_eq!(
        c.call("PUT", &format!("{ACCT}/c/big"), Some(A), &[], b"123456")
            .await
            .status,
        413
    );
    assert_eq!(
        c.call("PUT", &format!("{ACCT}/c/ok"), Some(A), &[], b"12345")
            .await
            .status,
        201
    );
    assert_eq!(
        c.call(
            "POST",
            ACCT,
            Some(A),
            &[("x-account-meta-quota-bytes", "1")],
            b""
        )
        .await
        .status,
        403
    );
    assert_eq!(
        c.call(
            "POST",
            ACCT,
            Some(RESELLER),
            &[("x-account-meta-quota-bytes", "100")],
            b""
        )
        .await
        .status,
        204
    );

    // DLO and SLO.
    c.call("PUT", &format!("{ACCT}/s"), Some(A), &[], b"").await;
    c.call("PUT", &format!("{ACCT}/s/seg/1"), Some(A), &[], b"abc")
        .await;
    c.call("PUT", &format!("{ACCT}/s/seg/2"), Some(A), &[], b"def")
        .await;
    c.call(
        "PUT",
        &format!("{ACCT}/s/dlo"),
        Some(A),
        &[("x-object-manifest", "s/seg/")],
        b"",
    )
    .await;
    assert_eq!(
        c.call("GET", &format!("{ACCT}/s/dlo"), Some(A), &[], b"")
            .await
            .text(),
        "abcdef"
    );
    let manifest = br#"[{"path": "/s/seg/2", "etag": null, "size_bytes": 3}, {"path": "s/seg/1"}]"#;
    let r = c
        .call(
            "PUT",
            &format!("{ACCT}/s/slo?multipart-manifest=put"),
            Some(A),
            &[],
            manifest,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = c
        .call(
            "GET",
            &format!("{ACCT}/s/slo"),
            Some(A),
            &[("range", "bytes=2-3")],
            b"",
        )
        .await;
    assert_eq!(r.text(), "fa");
    let r = c
        .call("HEAD", &format!("{ACCT}/s/slo"), Some(A), &[], b"")
        .await;
    assert_eq!(r.h("content-length"), Some("6"));
    assert_eq!(r.h("x-static-large-object"), Some("True"));
    let r = c
        .call(
            "DELETE",
            &format!("{ACCT}/s/slo?multipart-manifest=delete"),
            Some(A),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        c.call("HEAD", &format!("{ACCT}/s/seg/1"), Some(A), &[], b"")
            .await
            .status,
        404
    );

    // Versioned writes (stack mode).
    c.call("PUT", &format!("{ACCT}/old"), Some(A), &[], b"")
        .await;
    c.call(
        "PUT",
        &format!("{ACCT}/v"),
        Some(A),
        &[("x-versions-location", "old")],
        b"",
    )
    .await;
    c.call("PUT", &format!("{ACCT}/v/o"), Some(A), &[], b"one")
        .await;
    c.call("PUT", &format!("{ACCT}/v/o"), Some(A), &[], b"two")
        .await;
    let r = c
        .call("HEAD", &format!("{ACCT}/old"), Some(A), &[], b"")
        .await;
    assert_eq!(r.h("x-container-object-count"), Some("1"));
    assert_eq!(
        c.call("DELETE", &format!("{ACCT}/v/o"), Some(A), &[], b"")
            .await
            .status,
        204
    );
    assert_eq!(
        c.call("GET", &format!("{ACCT}/v/o"), Some(A), &[], b"")
            .await
            .text(),
        "one"
    );
    assert_eq!(
        c.call("DELETE", &format!("{ACCT}/v/o"), Some(A), &[], b"")
            .await
            .status,
        204
    );
    assert_eq!(
        c.call("GET", &format!("{ACCT}/v/o"), Some(A), &[], b"")
            .await
            .status,
        404
    );

    // Expiry: an object past its X-Delete-At is gone at once.
    c.call(
        "PUT",
        &format!("{ACCT}/v/e"),
        Some(A),
        &[("x-delete-after", "1")],
        b"x",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        c.call("GET", &format!("{ACCT}/v/e"), Some(A), &[], b"")
            .await
            .status,
        404
    );
}

/// A one-file ustar archive entry.
fn tar_file(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    let size = format!("{:011o}\0", data.len());
    h[124..136].copy_from_slice(size.as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h;
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[tokio::test]
async fn archives_extract_and_bulk_delete() {
    let c = cloud().await;
    let mut tar = tar_file("arch/one.txt", b"first");
    tar.extend(tar_file("arch/dir/two", b"second"));
    tar.extend(vec![0u8; 1024]);
    let r = c
        .call(
            "PUT",
            &format!("{ACCT}?extract-archive=tar"),
            Some(A),
            &[("accept", "application/json")],
            &tar,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("\"Number Files Created\": 2")
            || r.text().contains("\"Number Files Created\":2"),
        "{}",
        r.text()
    );
    assert_eq!(
        c.call("GET", &format!("{ACCT}/arch/dir/two"), Some(A), &[], b"")
            .await
            .text(),
        "second"
    );
    let r = c
        .call(
            "POST",
            &format!("{ACCT}?bulk-delete"),
            Some(A),
            &[("accept", "application/json")],
            b"arch/one.txt\narch/dir/two\narch\n",
        )
        .await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["Number Deleted"], 3, "{v}");
    assert_eq!(
        c.call("HEAD", &format!("{ACCT}/arch"), Some(A), &[], b"")
            .await
            .status,
        404
    );
}

/// What a crash leaves behind (a half-written temporary file, data whose row was never
/// committed) is removed when the service opens again; everything with a row stays, and so do
/// files the store did not name.
#[tokio::test]
async fn reopening_removes_what_a_crash_left() {
    let c = cloud().await;
    let obj = format!("{ACCT}/c1/keep");
    assert_eq!(
        c.call("PUT", &format!("{ACCT}/c1"), Some(A), &[], b"")
            .await
            .status,
        201
    );
    assert_eq!(
        c.call("PUT", &obj, Some(A), &[], b"kept bytes")
            .await
            .status,
        201
    );
    let objects = c.dir.path().join("objects");
    let part = objects.join("tmp").join("0123abcd.part");
    std::fs::write(&part, b"half").expect("part");
    let orphan = objects.join("data").join("ff").join("ff0123456789abcdef");
    std::fs::create_dir_all(orphan.parent().expect("parent")).expect("mkdir");
    std::fs::write(&orphan, b"no row names me").expect("orphan");
    let foreign = objects.join("data").join("ff").join("notes.txt");
    std::fs::write(&foreign, b"not a data key").expect("foreign");

    let reopened = Cloud {
        router: router_at(c.dir.path()).await,
        dir: c.dir.clone(),
    };
    assert!(!part.exists(), "temporary file left");
    assert!(!orphan.exists(), "orphaned data left");
    assert!(
        foreign.exists(),
        "a file the store did not name was removed"
    );
    let r = reopened.call("GET", &obj, Some(A), &[], b"").await;
    assert_eq!(
        (r.status, r.body.as_slice()),
        (StatusCode::OK, &b"kept bytes"[..])
    );
    let r = reopened
        .call("GET", &format!("{ACCT}/c1"), Some(A), &[], b"")
        .await;
    assert_eq!(r.text(), "keep\n");
}

#[tokio::test]
async fn symlinks_and_crossdomain() {
    let c = cloud().await;
    let r = c.call("GET", "/info", None, &[], b"").await;
    let info: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(info["symlink"]["symloop_max"], 2);
    assert_eq!(info["symlink"]["static_links"], true);
    assert!(info.get("crossdomain").is_some());
    let r = c.call("GET", "/crossdomain.xml", None, &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(
        r.text()
            .starts_with("<?xml version=\"1.0\"?>\n<!DOCTYPE cross-domain-policy")
    );
    assert!(
        r.text()
            .contains("<allow-access-from domain=\"*\" secure=\"false\" />")
    );
    assert!(r.text().ends_with("</cross-domain-policy>"));

    let put = |path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let path = format!("{ACCT}/{path}");
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body = body.to_vec();
        let c = &c;
        async move {
            let hs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            c.call("PUT", &path, Some(A), &hs, &body).await
        }
    };
    let get = |method: &'static str, path: &str, token: &'static str| {
        let path = format!("{ACCT}/{path}");
        let c = &c;
        async move { c.call(method, &path, Some(token), &[], b"").await }
    };
    put("c", &[], b"").await;
    put("d", &[], b"").await;
    assert_eq!(
        put("c/o", &[("x-object-meta-k", "target")], b"hello")
            .await
            .status,
        201
    );

    // A link: followed on GET/HEAD, itself with ?symlink=get.
    let link = [
        ("x-symlink-target", "c/o"),
        ("content-type", "application/symlink"),
    ];
    assert_eq!(put("d/l", &link, b"").await.status, 201);
    let r = get("GET", "d/l", A).await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "hello"));
    assert_eq!(r.h("content-location"), Some("/v1/AUTH_pa/c/o"));
    assert_eq!(r.h("x-object-meta-k"), Some("target"));
    assert_eq!(r.h("x-symlink-target"), None);
    let r = get("HEAD", "d/l", A).await;
    assert_eq!((r.status.as_u16(), r.h("content-length")), (200, Some("5")));
    let r = get("GET", "d/l?symlink=get", A).await;
    assert_eq!((r.status.as_u16(), r.body.len()), (200, 0));
    assert_eq!(r.h("x-symlink-target"), Some("c/o"));
    assert_eq!(r.h("x-symlink-target-account"), Some("AUTH_pa"));
    assert_eq!(r.h("content-type"), Some("application/symlink"));
    assert!(!r.headers.keys().any(|k| k.as_str().contains("sysmeta")));

    // Listings show where links point.
    let r = get("GET", "d?format=json", A).await;
    let list: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(list[0]["name"], "l");
    assert_eq!(list[0]["symlink_path"], "/v1/AUTH_pa/c/o");
    assert_eq!(list[0]["content_type"], "application/symlink");
    // Swift's XML listing has the five usual fields only.
    let r = get("GET", "d?format=xml", A).await;
    assert!(!r.text().contains("symlink_path"), "{}", r.text());
    let r = get("GET", "c?format=json", A).await;
    let list: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert!(list[0].get("symlink_path").is_none());

    // A body, a malformed target: refused.
    assert_eq!(put("d/x", &link, b"data").await.status, 400);
    assert_eq!(
        put("d/x", &[("x-symlink-target", "nocontainer")], b"")
            .await
            .status,
        412
    );

    // POST changes the link's metadata and points at the target; COPY copies the target
    // unless ?symlink=get.
    let r = c
        .call(
            "POST",
            &format!("{ACCT}/d/l"),
            Some(A),
            &[("x-object-meta-m", "1")],
            b"",
        )
        .await;
    assert_eq!(r.status, 307);
    assert_eq!(r.h("location"), Some("/v1/AUTH_pa/c/o"));
    let r = get("HEAD", "d/l?symlink=get", A).await;
    assert_eq!(
        (r.h("x-object-meta-m"), r.h("x-symlink-target")),
        (Some("1"), Some("c/o"))
    );
    assert_eq!(get("HEAD", "c/o", A).await.h("x-object-meta-m"), None);
    let copy = |path: &str, dest: &'static str| {
        let path = format!("{ACCT}/{path}");
        let c = &c;
        async move {
            c.call("COPY", &path, Some(A), &[("destination", dest)], b"")
                .await
        }
    };
    assert_eq!(copy("d/l", "d/copy").await.status, 201);
    let r = get("GET", "d/copy?symlink=get", A).await;
    assert_eq!(
        (r.text().as_str(), r.h("x-symlink-target")),
        ("hello", None)
    );
    assert_eq!(copy("d/l?symlink=get", "d/l2").await.status, 201);
    let r = get("GET", "d/l2?symlink=get", A).await;
    assert_eq!(r.h("x-symlink-target"), Some("c/o"));
    assert_eq!(get("GET", "d/l2", A).await.text(), "hello");

    // Links to links: two are followed, three are too many.
    assert_eq!(
        put("d/l3", &[("x-symlink-target", "d/l2")], b"")
            .await
            .status,
        201
    );
    assert_eq!(get("GET", "d/l3", A).await.text(), "hello");
    assert_eq!(
        put("d/l4", &[("x-symlink-target", "d/l3")], b"")
            .await
            .status,
        201
    );
    let r = get("GET", "d/l4", A).await;
    assert_eq!(r.status, 409);
    assert!(r.text().contains("Too many levels of symbolic links"));

    // Broken links: 404 when followed, the link itself still there; DELETE removes the
    // link only.
    assert_eq!(
        put("d/broken", &[("x-symlink-target", "c/missing")], b"")
            .await
            .status,
        201
    );
    assert_eq!(get("GET", "d/broken", A).await.status, 404);
    assert_eq!(get("HEAD", "d/broken?symlink=get", A).await.status, 200);
    assert_eq!(get("DELETE", "d/l2", A).await.status, 204);
    assert_eq!(get("GET", "c/o", A).await.text(), "hello");
    assert_eq!(get("DELETE", "c/o", A).await.status, 204);
    assert_eq!(get("GET", "d/l", A).await.status, 404);

    // Static links: the target must exist with the ETag given.
    put("c/s", &[], b"static").await;
    let etag = get("HEAD", "c/s", A)
        .await
        .h("etag")
        .expect("etag")
        .to_string();
    let r = put(
        "d/st",
        &[
            ("x-symlink-target", "c/s"),
            ("x-symlink-target-etag", "0123"),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, 409);
    let r = put(
        "d/st",
        &[
            ("x-symlink-target", "c/nothing"),
            ("x-symlink-target-etag", &etag),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, 409);
    let r = put(
        "d/st",
        &[
            ("x-symlink-target", "c/s"),
            ("x-symlink-target-etag", &etag),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(get("GET", "d/st", A).await.text(), "static");
    let r = get("GET", "d?format=json&prefix=st", A).await;
    let list: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(
        (
            list[0]["symlink_etag"].as_str(),
            list[0]["symlink_bytes"].as_i64()
        ),
        (Some(etag.as_str()), Some(6))
    );
    put("c/s", &[], b"changed").await;
    assert_eq!(get("GET", "d/st", A).await.status, 409);

    // Following a link needs read access to the target's container too.
    let r = c
        .call(
            "POST",
            &format!("{ACCT}/d"),
            Some(A),
            &[("x-container-read", "pb:ub")],
            b"",
        )
        .await;
    assert_eq!(r.status, 204);
    put("c/o", &[], b"again").await;
    assert_eq!(get("GET", "d/l", A).await.text(), "again");
    assert_eq!(get("GET", "d/l?symlink=get", B).await.status, 200);
    assert_eq!(get("GET", "d/l", B).await.status, 403);
}
