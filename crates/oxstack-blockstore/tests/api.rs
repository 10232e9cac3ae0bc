//! The Cinder API through the whole shared HTTP stack, with a fake token validator and the
//! fake (or file) driver: versions, microversions, volumes and their state machine, types,
//! snapshots, attachments, quotas, and restart recovery.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use oxstack_blockstore::driver::{FakeDriver, VolumeDriver};
use oxstack_blockstore::image::FakeImageClient;
use oxstack_blockstore::{BlockStore, BlockStoreConfig, BlockStoreOptions};
use oxstack_common::context::{AuthInfo, RoleRef, TokenValidator};
use oxstack_common::db::Db;
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: &str = "admin-token";
const MEMBER: &str = "member-token";
const READER: &str = "reader-token";
const OTHER: &str = "other-token";
const P1: &str = "11111111111111111111111111111111";
const P2: &str = "22222222222222222222222222222222";
const PADMIN: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[derive(Debug)]
struct FakeTokens;

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

const IMAGE: &str = "70a599e0-31e7-49b7-b260-868f441e862b";

fn images() -> Arc<FakeImageClient> {
    let i = FakeImageClient::default();
    i.add(
        json!({"id": IMAGE, "name": "cirros", "status": "active", "disk_format": "raw",
               "container_format": "bare", "size": 1048576, "min_disk": 0, "min_ram": 0,
               "checksum": "abc", "hw_disk_bus": "virtio"}),
        vec![0u8; 1 << 20],
    );
    Arc::new(i)
}

struct Cloud {
    router: axum::Router,
    db: Db,
    dir: tempfile::TempDir,
    images: Arc<FakeImageClient>,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn open(
    db: Db,
    dir: &std::path::Path,
    driver: Option<Arc<dyn VolumeDriver>>,
) -> axum::Router {
    open_with(db, dir, driver, images(), BlockStoreConfig::default()).await
}

/// The API over `db` with `images`, the given driver (the file driver when `None`) and
/// `config` (its driver name follows `driver`).
async fn open_with(
    db: Db,
    dir: &std::path::Path,
    driver: Option<Arc<dyn VolumeDriver>>,
    images: Arc<FakeImageClient>,
    config: BlockStoreConfig,
) -> axum::Router {
    let bs = BlockStore::open(BlockStoreOptions {
        config: BlockStoreConfig {
            driver: if driver.is_some() { "fake" } else { "file" }.into(),
            ..config
        },
        db,
        volumes_dir: dir.join("volumes"),
        public_url: "http://127.0.0.1:8776".into(),
        driver,
        image: images,
    })
    .await
    .expect("open");
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 1 << 20,
        auth: Some(Arc::new(FakeTokens)),
        identity_url: Some("http://127.0.0.1:5000".into()),
    };
    stack.wrap("blockstore", ErrorStyle::Nova, bs.router())
}

async fn cloud_with(driver: Option<Arc<dyn VolumeDriver>>) -> Cloud {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        4,
    )
    .await
    .expect("db");
    db.migrate("blockstore", oxstack_blockstore::MIGRATIONS)
        .await
        .expect("migrate");
    let images = images();
    let router = open_with(
        db.clone(),
        dir.path(),
        driver,
        images.clone(),
        BlockStoreConfig::default(),
    )
    .await;
    Cloud {
        router,
        db,
        dir,
        images,
    }
}

async fn cloud() -> Cloud {
    cloud_with(Some(Arc::new(FakeDriver::default()))).await
}

impl Cloud {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        mv: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("x-auth-token", token);
        if let Some(v) = mv {
            req = req.header("openstack-api-version", format!("volume {v}"));
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
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        Resp {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
    async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, token, None, None).await
    }
    async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body), None).await
    }
    async fn volume(&self, token: &str, project: &str, size: i64) -> String {
        let r = self
            .post(
                &format!("/v3/{project}/volumes"),
                token,
                json!({"volume": {"size": size, "name": "v"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        assert_eq!(r.body["volume"]["status"], "creating");
        r.body["volume"]["id"].as_str().expect("id").to_string()
    }
    async fn wait(&self, project: &str, kind: &str, id: &str, status: &str) -> Value {
        let one = kind.trim_end_matches('s');
        for _ in 0..300 {
            let r = self.get(&format!("/v3/{project}/{kind}/{id}"), ADMIN).await;
            if status == "gone" && r.status == StatusCode::NOT_FOUND {
                return Value::Null;
            }
            if r.body[one]["status"] == status {
                return r.body[one].clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{kind} {id} never reached {status}");
    }
}

#[tokio::test]
async fn versions_and_microversions() {
    let c = cloud().await;
    let r = c.get("/", MEMBER).await;
    assert_eq!(r.status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(r.body["versions"][0]["id"], "v3.0");
    assert_eq!(r.body["versions"][0]["min_version"], "3.0");
    assert_eq!(r.body["versions"][0]["version"], "3.60");
    let r = c.get("/v3/", MEMBER).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .call(
            Method::GET,
            &format!("/v3/{P1}/volumes"),
            MEMBER,
            None,
            Some("3.27"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers
            .get("openstack-api-version")
            .and_then(|v| v.to_str().ok()),
        Some("volume 3.27")
    );
    let r = c
        .call(
            Method::GET,
            &format!("/v3/{P1}/volumes"),
            MEMBER,
            None,
            Some("3.61"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    let r = c
        .call(
            Method::GET,
            &format!("/v3/{P1}/volumes"),
            MEMBER,
            None,
            Some("3.x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn volume_lifecycle_and_state_checks() {
    let c = cloud().await;
    let base = format!("/v3/{P1}");
    // Validation: size required and positive; unknown type, snapshot and source are 404.
    for body in [
        json!({"volume": {}}),
        json!({"volume": {"size": 0}}),
        json!({"volume": {"size": -1}}),
        json!({"volume": {"size": "x"}}),
    ] {
        let r = c.post(&format!("{base}/volumes"), MEMBER, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert!(r.body["badRequest"]["message"].is_string());
    }
    for (k, v) in [
        ("volume_type", "nope"),
        ("snapshot_id", "5f6a5cfa-3fb3-4c5e-8a2e-4f0a2c9e1a11"),
        ("source_volid", "5f6a5cfa-3fb3-4c5e-8a2e-4f0a2c9e1a11"),
    ] {
        let r = c
            .post(
                &format!("{base}/volumes"),
                MEMBER,
                json!({"volume": {"size": 1, k: v}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{k}: {:?}", r.body);
        assert_eq!(r.body["itemNotFound"]["code"], 404);
    }
    let r = c
        .post(
            &format!("{base}/volumes"),
            READER,
            json!({"volume": {"size": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let id = c.volume(MEMBER, P1, 1).await;
    c.wait(P1, "volumes", &id, "available").await;
    let v = c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"].clone();
    assert_eq!(v["volume_type"], "__DEFAULT__");
    assert_eq!(v["bootable"], "false");
    assert_eq!(v["os-vol-tenant-attr:tenant_id"], P1);
    assert!(v.get("os-vol-host-attr:host").is_none(), "admin only");
    // Other projects do not see it.
    assert_eq!(
        c.get(&format!("/v3/{P2}/volumes/{id}"), OTHER).await.status,
        StatusCode::NOT_FOUND
    );

    // Update, metadata, list filters.
    let r = c
        .call(
            Method::PUT,
            &format!("{base}/volumes/{id}"),
            MEMBER,
            Some(json!({"volume": {"name": "renamed", "metadata": {"a": "1"}}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["volume"]["name"], "renamed");
    let r = c
        .post(
            &format!("{base}/volumes/{id}/metadata"),
            MEMBER,
            json!({"metadata": {"b": "2"}}),
        )
        .await;
    assert_eq!(r.body["metadata"], json!({"a": "1", "b": "2"}));
    let r = c
        .get(
            &format!("{base}/volumes/detail?metadata=%7B%27a%27%3A+%271%27%7D"),
            MEMBER,
        )
        .await;
    assert_eq!(r.body["volumes"].as_array().map(Vec::len), Some(1));
    let r = c.get(&format!("{base}/volumes?name=nothing"), MEMBER).await;
    assert_eq!(r.body["volumes"], json!([]));
    let r = c
        .get(&format!("{base}/volumes?status=available&limit=1"), MEMBER)
        .await;
    assert_eq!(r.body["volumes"][0]["id"], id.as_str());
    assert!(
        r.body["volumes_links"][0]["href"]
            .as_str()
            .expect("next")
            .contains("marker=")
    );

    // Extend: bigger only; in-use only from 3.42.
    let act = format!("{base}/volumes/{id}/action");
    assert_eq!(
        c.post(&act, MEMBER, json!({"os-extend": {"new_size": 1}}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.post(&act, MEMBER, json!({"os-extend": {"new_size": 2}}))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let v = c.wait(P1, "volumes", &id, "available").await;
    assert_eq!(v["size"], 2);

    // Bootable and read-only flags.
    assert_eq!(
        c.post(&act, MEMBER, json!({"os-set_bootable": {"bootable": true}}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        c.post(
            &act,
            MEMBER,
            json!({"os-update_readonly_flag": {"readonly": true}})
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    let v = c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"].clone();
    assert_eq!(v["bootable"], "true");
    assert_eq!(v["metadata"]["readonly"], "True");

    // Reset status is for admins; deleting in a busy state is 400.
    assert_eq!(
        c.post(
            &act,
            MEMBER,
            json!({"os-reset_status": {"status": "error"}})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.post(
            &act,
            ADMIN,
            json!({"os-reset_status": {"status": "in-use"}})
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    let r = c
        .call(
            Method::DELETE,
            &format!("{base}/volumes/{id}"),
            MEMBER,
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        c.post(
            &act,
            ADMIN,
            json!({"os-reset_status": {"status": "available"}})
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );

    // Snapshots block deletion unless cascading.
    let r = c
        .post(
            &format!("{base}/snapshots"),
            MEMBER,
            json!({"snapshot": {"volume_id": id, "name": "s"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let sid = r.body["snapshot"]["id"].as_str().expect("id").to_string();
    let s = c.wait(P1, "snapshots", &sid, "available").await;
    assert_eq!(s["os-extended-snapshot-attributes:progress"], "100%");
    let r = c
        .call(
            Method::DELETE,
            &format!("{base}/volumes/{id}"),
            MEMBER,
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .get(&format!("{base}/snapshots?sort=bogus:asc"), MEMBER)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .get(&format!("{base}/snapshots/detail?offset=1"), MEMBER)
        .await;
    assert_eq!(r.body["snapshots"], json!([]));
    let r = c
        .post(
            &format!("{base}/snapshots"),
            MEMBER,
            json!({"snapshot": {"volume_id": null}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A volume from the snapshot is at least its size.
    let r = c
        .post(
            &format!("{base}/volumes"),
            MEMBER,
            json!({"volume": {"snapshot_id": sid, "size": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(
            &format!("{base}/volumes"),
            MEMBER,
            json!({"volume": {"snapshot_id": sid}}),
        )
        .await;
    let v2 = r.body["volume"]["id"].as_str().expect("id").to_string();
    assert_eq!(c.wait(P1, "volumes", &v2, "available").await["size"], 2);
    let r = c
        .call(
            Method::DELETE,
            &format!("{base}/volumes/{id}?cascade=true"),
            MEMBER,
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    c.wait(P1, "volumes", &id, "gone").await;
    c.wait(P1, "snapshots", &sid, "gone").await;

    // Quotas show usage; limits too.
    let r = c
        .get(&format!("{base}/os-quota-sets/{P1}?usage=true"), MEMBER)
        .await;
    assert_eq!(r.body["quota_set"]["volumes"]["in_use"], 1);
    let r = c.get(&format!("{base}/limits"), MEMBER).await;
    assert_eq!(r.body["limits"]["absolute"]["totalGigabytesUsed"], 2);
    let r = c
        .call(
            Method::PUT,
            &format!("/v3/{PADMIN}/os-quota-sets/{P1}"),
            ADMIN,
            Some(json!({"quota_set": {"volumes": 1}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .post(
            &format!("{base}/volumes"),
            MEMBER,
            json!({"volume": {"size": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", r.body);
}

#[tokio::test]
async fn volumes_from_images_with_the_file_driver() {
    if std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let c = cloud_with(None).await;
    let base = format!("/v3/{P1}");
    let r = c
        .post(
            &format!("{base}/volumes"),
            MEMBER,
            json!({"volume": {"size": 1, "imageRef": "5f6a5cfa-3fb3-4c5e-8a2e-4f0a2c9e1a11"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .post(
            &format!("{base}/volumes"),
            MEMBER,
            json!({"volume": {"size": 1, "imageRef": IMAGE}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["volume"]["id"].as_str().expect("id").to_string();
    c.wait(P1, "volumes", &id, "available").await;
    let v = c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"].clone();
    assert_eq!(v["bootable"], "true");
    assert_eq!(v["volume_image_metadata"]["image_id"], IMAGE);
    assert_eq!(v["volume_image_metadata"]["hw_disk_bus"], "virtio");
    let file = c
        .dir
        .path()
        .join("volumes")
        .join(format!("volume-{id}.raw"));
    assert_eq!(std::fs::metadata(&file).expect("file").len(), 1 << 30);
    assert_eq!(
        std::fs::read_dir(c.dir.path().join("volumes").join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
}

#[tokio::test]
async fn volume_types_extra_specs_and_access() {
    let c = cloud().await;
    let a = format!("/v3/{PADMIN}");
    let r = c.post(&format!("{a}/types"), ADMIN, json!({"volume_type": {"name": "gold", "extra_specs": {"k": "v"}, "os-volume-type-access:is_public": false}})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let tid = r.body["volume_type"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(r.body["volume_type"]["is_public"], false);
    assert_eq!(
        c.post(
            &format!("{a}/types"),
            ADMIN,
            json!({"volume_type": {"name": "gold"}})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        c.post(
            &format!("/v3/{P1}/types"),
            MEMBER,
            json!({"volume_type": {"name": "x"}})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Private: invisible to P1 until granted.
    let r = c
        .post(
            &format!("/v3/{P1}/volumes"),
            MEMBER,
            json!({"volume": {"size": 1, "volume_type": "gold"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .post(
            &format!("{a}/types/{tid}/action"),
            ADMIN,
            json!({"addProjectAccess": {"project": P1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = c
        .get(&format!("{a}/types/{tid}/os-volume-type-access"), ADMIN)
        .await;
    assert_eq!(r.body["volume_type_access"][0]["project_id"], P1);
    let r = c.get(&format!("/v3/{P1}/types"), MEMBER).await;
    let names: Vec<&str> = r.body["volume_types"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"gold") && names.contains(&"__DEFAULT__"),
        "{names:?}"
    );
    assert!(
        r.body["volume_types"][0].get("extra_specs").is_none(),
        "admin only"
    );
    // Extra specs.
    let r = c
        .call(
            Method::PUT,
            &format!("{a}/types/{tid}/extra_specs/k"),
            ADMIN,
            Some(json!({"k": "w"})),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"k": "w"}));
    let r = c.get(&format!("{a}/types/{tid}/extra_specs"), ADMIN).await;
    assert_eq!(r.body, json!({"extra_specs": {"k": "w"}}));
    // In use: cannot be deleted.
    let r = c
        .post(
            &format!("/v3/{P1}/volumes"),
            MEMBER,
            json!({"volume": {"size": 1, "volume_type": tid}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        c.call(
            Method::DELETE,
            &format!("{a}/types/{tid}"),
            ADMIN,
            None,
            None
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn attachments_api_and_legacy_actions() {
    let c = cloud().await;
    let base = format!("/v3/{P1}");
    let id = c.volume(MEMBER, P1, 1).await;
    c.wait(P1, "volumes", &id, "available").await;
    // 3.27+ only.
    let r = c
        .post(
            &format!("{base}/attachments"),
            MEMBER,
            json!({"attachment": {"volume_uuid": id}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let server = "8b5a7d9e-4c39-4d3a-9d3e-123456789abc";
    let r = c
        .call(
            Method::POST,
            &format!("{base}/attachments"),
            MEMBER,
            Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": server}})),
            Some("3.44"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["attachment"]["status"], "reserved");
    let aid = r.body["attachment"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"]["status"],
        "reserved"
    );
    let r = c
        .call(
            Method::PUT,
            &format!("{base}/attachments/{aid}"),
            MEMBER,
            Some(json!({"attachment": {"connector": {"host": "h1", "mountpoint": "/dev/vdb"}}})),
            Some("3.44"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let ci = &r.body["attachment"]["connection_info"];
    assert_eq!(ci["driver_volume_type"], "file");
    assert_eq!(ci["data"]["format"], "raw");
    assert!(
        ci["data"]["device_path"]
            .as_str()
            .expect("path")
            .contains(&id)
    );
    let r = c
        .call(
            Method::POST,
            &format!("{base}/attachments/{aid}/action"),
            MEMBER,
            Some(json!({"os-complete": null})),
            Some("3.44"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let v = c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"].clone();
    assert_eq!(v["status"], "in-use");
    assert_eq!(v["attachments"][0]["server_id"], server);
    assert_eq!(v["attachments"][0]["device"], "/dev/vdb");
    // In use: no delete, no extend before 3.42.
    assert_eq!(
        c.call(
            Method::DELETE,
            &format!("{base}/volumes/{id}"),
            MEMBER,
            None,
            None
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.post(
            &format!("{base}/volumes/{id}/action"),
            MEMBER,
            json!({"os-extend": {"new_size": 2}})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let r = c
        .call(
            Method::DELETE,
            &format!("{base}/attachments/{aid}"),
            MEMBER,
            None,
            Some("3.44"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"]["status"],
        "available"
    );

    // Legacy: reserve → attach → begin_detaching → detach.
    let act = format!("{base}/volumes/{id}/action");
    assert_eq!(
        c.post(&act, MEMBER, json!({"os-reserve": null}))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        c.post(&act, MEMBER, json!({"os-reserve": null}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let r = c
        .post(
            &act,
            MEMBER,
            json!({"os-initialize_connection": {"connector": {"host": "h1"}}}),
        )
        .await;
    assert_eq!(r.body["connection_info"]["driver_volume_type"], "file");
    assert_eq!(
        c.post(
            &act,
            MEMBER,
            json!({"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdc"}})
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    let v = c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"].clone();
    assert_eq!(v["status"], "in-use");
    assert_eq!(v["metadata"]["attached_mode"], "rw");
    assert_eq!(
        c.post(&act, MEMBER, json!({"os-begin_detaching": null}))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        c.post(&act, MEMBER, json!({"os-detach": {}})).await.status,
        StatusCode::ACCEPTED
    );
    let v = c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"].clone();
    assert_eq!(v["status"], "available");
    assert_eq!(v["attachments"], json!([]));
}

#[tokio::test]
async fn interrupted_creation_is_settled_on_restart_with_the_file_driver() {
    if std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let c = cloud_with(None).await;
    let id = c.volume(MEMBER, P1, 1).await;
    c.wait(P1, "volumes", &id, "available").await;
    let file = c
        .dir
        .path()
        .join("volumes")
        .join(format!("volume-{id}.raw"));
    assert!(file.exists());
    // Simulate a crash mid-create: the row says creating and a partial file is left.
    sqlx::query("UPDATE blockstore_volume SET status = 'creating' WHERE id = ?")
        .bind(id.clone())
        .execute(c.db.pool())
        .await
        .expect("update");
    let router = open(c.db.clone(), c.dir.path(), None).await;
    let c2 = Cloud {
        router,
        db: c.db.clone(),
        dir: c.dir,
        images: c.images,
    };
    let v = c2.get(&format!("/v3/{P1}/volumes/{id}"), MEMBER).await.body["volume"].clone();
    assert_eq!(v["status"], "error");
    assert!(!file.exists(), "half-made file removed");
    // An error volume can be deleted.
    let r = c2
        .call(
            Method::DELETE,
            &format!("/v3/{P1}/volumes/{id}"),
            MEMBER,
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    c2.wait(P1, "volumes", &id, "gone").await;
}

/// `os-volume_upload_image` on `id` as `token` at microversion `mv`.
async fn upload(c: &Cloud, id: &str, token: &str, mv: &str, body: Value) -> Resp {
    c.call(
        Method::POST,
        &format!("/v3/{P1}/volumes/{id}/action"),
        token,
        Some(json!({ "os-volume_upload_image": body })),
        Some(mv),
    )
    .await
}

#[tokio::test]
async fn volume_upload_to_image() {
    let c = cloud().await;
    let base = format!("/v3/{P1}");
    let r = c
        .post(
            &format!("{base}/volumes"),
            MEMBER,
            json!({"volume": {"size": 1, "imageRef": IMAGE, "description": "d"}}),
        )
        .await;
    let id = r.body["volume"]["id"].as_str().expect("id").to_string();
    c.wait(P1, "volumes", &id, "available").await;

    // 3.0: Cinder's answer; the image service's defaults for visibility and protected.
    let r = upload(
        &c,
        &id,
        MEMBER,
        "3.0",
        json!({"image_name": "img-raw", "force": false, "disk_format": "raw",
               "container_format": "bare"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let u = &r.body["os-volume_upload_image"];
    assert_eq!(u["id"], id.as_str());
    assert_eq!(u["status"], "uploading");
    assert_eq!(u["size"], 1);
    assert_eq!(u["display_description"], "d");
    assert_eq!(u["image_name"], "img-raw");
    assert_eq!(u["disk_format"], "raw");
    assert_eq!(u["container_format"], "bare");
    assert_eq!(u["volume_type"]["name"], "__DEFAULT__");
    assert_eq!(u["volume_type"]["deleted"], false);
    assert!(u["updated_at"].is_string());
    assert_eq!(u["visibility"], "shared");
    assert_eq!(u["protected"], false);
    let image_id = u["image_id"].as_str().expect("image id").to_string();
    c.wait(P1, "volumes", &id, "available").await;
    let (rec, data) = c.images.get(&image_id).expect("image made");
    assert_eq!(rec["status"], "active");
    assert_eq!(rec["name"], "img-raw");
    assert_eq!(
        rec["hw_disk_bus"], "virtio",
        "custom image properties copied"
    );
    assert!(rec.get("checksum").is_none() && rec.get("min_ram").is_none());
    assert_eq!(data, format!("fake raw image of volume {id}").into_bytes());

    // 3.1: visibility and protected are passed; defaults private and false.
    let r = upload(
        &c,
        &id,
        MEMBER,
        "3.1",
        json!({"image_name": "img-q", "disk_format": "qcow2", "protected": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let u = &r.body["os-volume_upload_image"];
    assert_eq!(u["visibility"], "private");
    assert_eq!(u["protected"], true);
    c.wait(P1, "volumes", &id, "available").await;
    let (rec, data) = c
        .images
        .get(u["image_id"].as_str().expect("id"))
        .expect("image");
    assert_eq!(
        (rec["disk_format"].as_str(), rec["protected"].as_bool()),
        (Some("qcow2"), Some(true))
    );
    assert_eq!(
        data,
        format!("fake qcow2 image of volume {id}").into_bytes()
    );
    // disk_format defaults to raw, container_format to bare.
    let r = upload(&c, &id, MEMBER, "3.1", json!({"image_name": "img-d"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["os-volume_upload_image"]["disk_format"], "raw");
    assert_eq!(r.body["os-volume_upload_image"]["container_format"], "bare");
    c.wait(P1, "volumes", &id, "available").await;
}

#[tokio::test]
async fn volume_upload_to_image_refusals_and_failures() {
    let driver = Arc::new(FakeDriver::default());
    let c = cloud_with(Some(driver.clone())).await;
    let base = format!("/v3/{P1}");
    let id = c.volume(MEMBER, P1, 1).await;
    c.wait(P1, "volumes", &id, "available").await;
    let images_before = c.images.ids();

    // Validation (Cinder's schema), policy and visibility.
    for (mv, body) in [
        ("3.0", json!({})),
        ("3.0", json!({"image_name": ""})),
        ("3.0", json!({"image_name": 5})),
        ("3.0", json!({"image_name": "i", "disk_format": "iso"})),
        ("3.0", json!({"image_name": "i", "force": "maybe"})),
        ("3.0", json!({"image_name": "i", "visibility": "private"})),
        ("3.0", json!({"image_name": "i", "bogus": 1})),
        ("3.1", json!({"image_name": "i", "visibility": "everyone"})),
        ("3.1", json!({"image_name": "i", "protected": "perhaps"})),
    ] {
        let r = upload(&c, &id, MEMBER, mv, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let ok = json!({"image_name": "i"});
    assert_eq!(
        upload(&c, &id, READER, "3.1", ok.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        upload(&c, &id, OTHER, "3.1", ok.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    let missing = "5f6a5cfa-3fb3-4c5e-8a2e-4f0a2c9e1a11";
    assert_eq!(
        upload(&c, missing, MEMBER, "3.1", ok.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    let r = upload(
        &c,
        &id,
        MEMBER,
        "3.1",
        json!({"image_name": "i", "visibility": "public"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "public images are for admins"
    );
    assert_eq!(c.images.ids(), images_before, "nothing was created");

    // The image service refuses the image: its message, and the volume is released.
    c.images
        .fail_creates
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let r = upload(&c, &id, MEMBER, "3.1", ok.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(
        r.body["badRequest"]["message"],
        "You are not allowed to create images."
    );
    assert_eq!(
        c.get(&format!("{base}/volumes/{id}"), MEMBER).await.body["volume"]["status"],
        "available"
    );
    c.images
        .fail_creates
        .store(false, std::sync::atomic::Ordering::SeqCst);

    // The upload fails: the image is deleted and the volume is available again.
    c.images
        .fail_uploads
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let r = upload(&c, &id, MEMBER, "3.1", ok.clone()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let image_id = r.body["os-volume_upload_image"]["image_id"]
        .as_str()
        .expect("id")
        .to_string();
    c.wait(P1, "volumes", &id, "available").await;
    for _ in 0..300 {
        if c.images.get(&image_id).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        c.images.get(&image_id).is_none(),
        "the failed image is deleted"
    );
    c.images
        .fail_uploads
        .store(false, std::sync::atomic::Ordering::SeqCst);

    // Only an available volume, whatever `force` says while forcing is disabled.
    let act = format!("{base}/volumes/{id}/action");
    let server = "8a9b5c3e-0a6f-4d2b-9a61-2b0f3c4d5e6f";
    assert_eq!(
        c.post(
            &act,
            MEMBER,
            json!({"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdc"}})
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    for force in [false, true] {
        let r = upload(
            &c,
            &id,
            MEMBER,
            "3.1",
            json!({"image_name": "i", "force": force}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert_eq!(
            r.body["badRequest"]["message"],
            format!("Invalid volume: Volume {id} status must be available")
        );
    }
    // With `enable_force_upload`, an in-use volume is uploaded and stays in-use.
    let forcing = Cloud {
        router: open_with(
            c.db.clone(),
            c.dir.path(),
            Some(driver.clone()),
            c.images.clone(),
            BlockStoreConfig {
                enable_force_upload: true,
                ..Default::default()
            },
        )
        .await,
        db: c.db.clone(),
        dir: tempfile::tempdir().expect("tmp"),
        images: c.images.clone(),
    };
    let r = upload(&forcing, &id, MEMBER, "3.1", json!({"image_name": "i"})).await;
    assert_eq!(
        r.body["badRequest"]["message"],
        format!("Invalid volume: Volume {id} status must be available")
    );
    let r = upload(
        &forcing,
        &id,
        MEMBER,
        "3.1",
        json!({"image_name": "i", "force": "true"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["os-volume_upload_image"]["status"], "uploading");
    let image_id = r.body["os-volume_upload_image"]["image_id"]
        .as_str()
        .expect("id")
        .to_string();
    forcing.wait(P1, "volumes", &id, "in-use").await;
    let (rec, _) = c.images.get(&image_id).expect("image");
    assert_eq!(rec["status"], "active");
}

fn have_qemu_img() -> bool {
    std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn volume_upload_converts_with_the_file_driver() {
    if !have_qemu_img() {
        eprintln!("qemu-img missing; skipped");
        return;
    }
    let c = cloud_with(None).await;
    let id = c.volume(MEMBER, P1, 1).await;
    c.wait(P1, "volumes", &id, "available").await;
    let r = upload(
        &c,
        &id,
        MEMBER,
        "3.1",
        json!({"image_name": "q", "disk_format": "qcow2"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let image_id = r.body["os-volume_upload_image"]["image_id"]
        .as_str()
        .expect("id")
        .to_string();
    c.wait(P1, "volumes", &id, "available").await;
    let (rec, data) = c.images.get(&image_id).expect("image");
    assert_eq!(rec["status"], "active");
    assert_eq!(&data[..4], b"QFI\xfb", "a qcow2 image");
    assert!(data.len() < 1 << 20, "an empty volume converts small");
    let tmp = c.dir.path().join("volumes").join("tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).expect("tmp").count(),
        0,
        "scratch removed"
    );
}

#[tokio::test]
async fn restart_releases_uploads_and_removes_orphaned_disks() {
    if !have_qemu_img() {
        eprintln!("qemu-img missing; skipped");
        return;
    }
    let c = cloud_with(None).await;
    let vols = c.dir.path().join("volumes");
    let uploading = c.volume(MEMBER, P1, 1).await;
    let orphan = c.volume(MEMBER, P1, 1).await;
    c.wait(P1, "volumes", &uploading, "available").await;
    c.wait(P1, "volumes", &orphan, "available").await;
    // A crash mid-upload, and a disk whose record is gone.
    sqlx::query("UPDATE blockstore_volume SET status = 'uploading' WHERE id = ?")
        .bind(uploading.clone())
        .execute(c.db.pool())
        .await
        .expect("update");
    sqlx::query("DELETE FROM blockstore_volume WHERE id = ?")
        .bind(orphan.clone())
        .execute(c.db.pool())
        .await
        .expect("delete");
    let stray_snapshot = vols.join("snapshot-0b8f1f0e-2c1d-4e5f-8a9b-0c1d2e3f4a5b.part");
    std::fs::write(&stray_snapshot, b"half").expect("write");
    let unrelated = vols.join("notes.txt");
    std::fs::write(&unrelated, b"mine").expect("write");
    std::fs::create_dir_all(vols.join("tmp")).expect("tmp");
    std::fs::write(vols.join("tmp").join(format!("upload-{orphan}")), b"x").expect("write");

    let router = open(c.db.clone(), c.dir.path(), None).await;
    let c2 = Cloud {
        router,
        db: c.db.clone(),
        dir: c.dir,
        images: c.images,
    };
    let v = c2
        .get(&format!("/v3/{P1}/volumes/{uploading}"), MEMBER)
        .await
        .body["volume"]
        .clone();
    assert_eq!(v["status"], "available");
    assert!(vols.join(format!("volume-{uploading}.raw")).exists());
    assert!(
        !vols.join(format!("volume-{orphan}.raw")).exists(),
        "orphaned disk removed"
    );
    assert!(!stray_snapshot.exists(), "orphaned snapshot data removed");
    assert!(unrelated.exists(), "files not named like disks are kept");
    assert!(!vols.join("tmp").exists(), "scratch removed");
}
