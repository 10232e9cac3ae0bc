//! API tests of rebuild, shelve / unshelve, rescue / unrescue and the version list.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use oxstack_compute::agent::ComputeDriver;
use oxstack_compute::clients::ImageClient;
use serde_json::json;

const IMAGE2: &str = "5e1f0a6b-8f63-4a7e-9c55-0d8e1b0b4b2e";

#[tokio::test]
async fn version_list_starts_with_v2_0() {
    let c = cloud().await;
    let r = c.call(Method::GET, "/", None, None, None).await;
    assert_eq!(r.body["versions"][0]["id"], "v2.0");
    assert_eq!(r.body["versions"][1]["id"], "v2.1");
    let href = r.body["versions"][0]["links"][0]["href"]
        .as_str()
        .expect("href")
        .to_string();
    let r = c.call(Method::GET, "/v2/", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"]["id"], "v2.0");
    assert_eq!(r.body["version"]["links"][0]["href"], href.as_str());
}

#[tokio::test]
async fn rebuild_changes_image_and_keeps_the_server() {
    let c = cloud().await;
    c.image.add(IMAGE2, "other");
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/action");

    // Errors: unknown server, missing or unknown image, bad name.
    let r = c
        .post(
            "/v2.1/servers/00000000-0000-0000-0000-000000000000/action",
            MEMBER,
            json!({"rebuild": {"imageRef": IMAGE2}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.post(&path, MEMBER, json!({"rebuild": {}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(
            &path,
            MEMBER,
            json!({"rebuild": {"imageRef": "00000000-0000-0000-0000-000000000000"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(
            &path,
            MEMBER,
            json!({"rebuild": {"imageRef": IMAGE2, "name": ""}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(&path, READER, json!({"rebuild": {"imageRef": IMAGE2}}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = c
        .post(
            &path,
            MEMBER,
            json!({"rebuild": {"imageRef": IMAGE2, "name": "vm1r", "metadata": {"rebuild": "server"},
                   "adminPass": "rebuildPassw0rd", "accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let s = &r.body["server"];
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["image"]["id"], IMAGE2);
    assert_eq!(s["adminPass"], "rebuildPassw0rd");
    assert_eq!(s["accessIPv6"], "::babe:dc0c:1602");
    assert!(s.get("OS-EXT-STS:vm_state").is_none());
    // A rebuild in progress refuses another.
    let again = c
        .post(&path, MEMBER, json!({"rebuild": {"imageRef": IMAGE2}}))
        .await;
    assert!(
        again.status == StatusCode::CONFLICT || again.status == StatusCode::ACCEPTED,
        "{:?}",
        again.body
    );
    let s = c.wait(&id, "ACTIVE").await;
    assert_eq!(s["name"], "vm1r");
    assert_eq!(s["metadata"], json!({"rebuild": "server"}));
    assert_eq!(s["image"]["id"], IMAGE2);

    // 2.57: key_name and user_data in the answer; a stopped server stays stopped.
    assert_eq!(
        c.post(&path, MEMBER, json!({"os-stop": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "SHUTOFF").await;
    let r = c
        .call(
            Method::POST,
            &path,
            Some(MEMBER),
            Some(json!({"rebuild": {"imageRef": IMAGE}})),
            Some("2.57"),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(r.body["server"]["key_name"].is_null());
    assert!(r.body["server"]["user_data"].is_null());
    c.wait(&id, "SHUTOFF").await;
    let r = c
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"), MEMBER)
        .await;
    let actions: Vec<_> = r.body["instanceActions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(actions.contains(&"rebuild"), "{actions:?}");
}

#[tokio::test]
async fn shelve_unshelve_and_rescue() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/action");
    let act = |body: serde_json::Value| c.post(&path, MEMBER, body);

    // Unshelve and unrescue need a shelved or rescued server.
    assert_eq!(
        act(json!({"unshelve": null})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        act(json!({"unrescue": null})).await.status,
        StatusCode::CONFLICT
    );
    // Paused servers shelve too.
    assert_eq!(
        act(json!({"pause": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "PAUSED").await;
    c.image
        .image_patch(
            "",
            IMAGE,
            &[
                json!({"op": "add", "path": "/kernel_id", "value": "k1"}),
                json!({"op": "add", "path": "/owner_specified.openstack.md5", "value": "x"}),
            ],
        )
        .await
        .expect("patch");
    assert_eq!(
        act(json!({"shelve": null})).await.status,
        StatusCode::ACCEPTED
    );
    let s = c.wait(&id, "SHELVED_OFFLOADED").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 0);
    assert!(!c.driver.list().await.contains(&id));
    // The root disk went into `<name>-shelved`, which inherits what booting it needs (not
    // what describes the original upload).
    let shelved = c
        .image
        .image_records("", &[("name".into(), "vm1-shelved".into())], None)
        .await
        .expect("records");
    assert_eq!(shelved.len(), 1, "{shelved:?}");
    let rec = &shelved[0];
    assert_eq!(
        (&rec["status"], &rec["kernel_id"], &rec["instance_uuid"]),
        (&json!("active"), &json!("k1"), &json!(id))
    );
    assert!(rec.get("owner_specified.openstack.md5").is_none(), "{rec}");
    let shelved_id = rec["id"].as_str().expect("id").to_string();
    let (_, data) = c.image.image_download("", &shelved_id).await.expect("data");
    assert_eq!(&data[..4], b"QFI\xfb");
    // Offloading an offloaded server: 409; members may not offload at all.
    assert_eq!(
        c.post(&path, ADMIN, json!({"shelveOffload": null}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        act(json!({"shelveOffload": null})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        act(json!({"shelve": null})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        act(json!({"unshelve": null})).await.status,
        StatusCode::ACCEPTED
    );
    let s = c.wait(&id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    // It booted from the shelved image, which is gone now.
    assert_eq!(c.driver.image_of(&id), Some(shelved_id.clone()));
    assert_eq!(
        c.image.image_record("", &shelved_id).await.expect("get"),
        None
    );

    // Rescue answers a password; a rescued server cannot be rescued again.
    let r = act(json!({"rescue": {"adminPass": "pw"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"adminPass": "pw"}));
    c.wait(&id, "RESCUE").await;
    assert_eq!(
        act(json!({"rescue": null})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        act(json!({"rescue": {"bogus": 1}})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        act(json!({"unrescue": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "ACTIVE").await;
    let r = act(json!({"rescue": {}})).await;
    assert!(r.body["adminPass"].as_str().is_some_and(|p| p.len() >= 8));
    c.wait(&id, "RESCUE").await;

    // Locked servers refuse members.
    let id2 = c.server(MEMBER, "vm2", "1").await;
    c.wait(&id2, "ACTIVE").await;
    let p2 = format!("/v2.1/servers/{id2}/action");
    assert_eq!(
        c.post(&p2, ADMIN, json!({"lock": null})).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        c.post(&p2, MEMBER, json!({"shelve": null})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        c.post(&p2, OTHER, json!({"shelve": null})).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn x509_keypairs_are_generated() {
    let c = cloud().await;
    let r = c
        .call(
            Method::POST,
            "/v2.1/os-keypairs",
            Some(MEMBER),
            Some(json!({"keypair": {"name": "cert", "type": "x509"}})),
            Some("2.2"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let k = &r.body["keypair"];
    assert_eq!(k["type"], "x509");
    assert!(
        k["public_key"]
            .as_str()
            .is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----"))
    );
    assert!(
        k["private_key"]
            .as_str()
            .is_some_and(|p| p.starts_with("-----BEGIN RSA PRIVATE KEY-----"))
    );
    assert_eq!(
        k["fingerprint"].as_str().map(|f| f.split(':').count()),
        Some(20)
    );
    let r = c
        .call(
            Method::GET,
            "/v2.1/os-keypairs/cert",
            Some(MEMBER),
            None,
            Some("2.2"),
        )
        .await;
    assert_eq!(r.body["keypair"]["type"], "x509");
    // An unknown type is refused.
    let r = c
        .call(
            Method::POST,
            "/v2.1/os-keypairs",
            Some(MEMBER),
            Some(json!({"keypair": {"name": "bad", "type": "pgp"}})),
            Some("2.2"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn restore_force_delete_and_migrate_refuse() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/action");
    let missing = "/v2.1/servers/00000000-0000-0000-0000-000000000000/action";
    // Never soft-deleted: 409; unknown servers 404.
    for a in ["restore", "forceDelete"] {
        assert_eq!(
            c.post(&path, MEMBER, json!({ a: null })).await.status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            c.post(missing, MEMBER, json!({ a: null })).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // Cold migration: admins only, 404 for unknown servers, no other host to go to.
    assert_eq!(
        c.post(missing, ADMIN, json!({"migrate": null}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.post(&path, MEMBER, json!({"migrate": null})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.post(&path, ADMIN, json!({"migrate": null})).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn private_flavors_start_without_access_and_is_public_filters_are_strict() {
    let c = cloud().await;
    let r = c
        .post(
            "/v2.1/flavors",
            ADMIN,
            json!({"flavor": {"name": "priv", "ram": 64, "vcpus": 1, "disk": 0, "id": "p1",
                              "os-flavor-access:is_public": "False"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c.get("/v2.1/flavors/p1/os-flavor-access", ADMIN).await;
    assert_eq!(r.body["flavor_access"], json!([]));
    for v in ["f", "false", "no", "0"] {
        let r = c
            .get(&format!("/v2.1/flavors/detail?is_public={v}"), ADMIN)
            .await;
        assert!(
            r.body["flavors"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["id"] == "p1")),
            "{v}: {:?}",
            r.body
        );
    }
    let r = c.get("/v2.1/flavors?is_public=maybe", ADMIN).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn server_diagnostics_for_admins() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/diagnostics");
    let r = c.get(&path, ADMIN).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["memory"], 512 * 1024);
    let r = c
        .call(Method::GET, &path, Some(ADMIN), None, Some("2.48"))
        .await;
    assert_eq!(r.body["state"], "running");
    assert_eq!(r.body["num_cpus"], 1);
    assert_eq!(r.body["memory_details"]["maximum"], 512);
    assert_eq!(c.get(&path, MEMBER).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        c.get(
            "/v2.1/servers/00000000-0000-0000-0000-000000000000/diagnostics",
            ADMIN
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn change_password() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/action");
    let r = c
        .post(
            &path,
            MEMBER,
            json!({"changePassword": {"adminPass": "n3w"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(
        c.post(&path, MEMBER, json!({"changePassword": {}}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.post(&path, READER, json!({"changePassword": {"adminPass": "x"}}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.post(&path, MEMBER, json!({"os-stop": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "SHUTOFF").await;
    assert_eq!(
        c.post(&path, MEMBER, json!({"changePassword": {"adminPass": "x"}}))
            .await
            .status,
        StatusCode::CONFLICT
    );
}

/// The server's task and the image's status, until both are `(task, status)`.
async fn snapshot_at(c: &TestCloud, id: &str, image: &str, task: &str, status: &str) {
    use oxstack_compute::clients::ImageClient;
    for _ in 0..200 {
        let r = c.get(&format!("/v2.1/servers/{id}"), ADMIN).await;
        let record = c.image.image_record("", image).await.expect("record");
        if r.body["server"]["OS-EXT-STS:task_state"] == task
            && record.as_ref().is_some_and(|i| i["status"] == status)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the snapshot of {id} never reached task {task} with its image {status}");
}

#[tokio::test]
async fn a_snapshot_in_progress_goes_through_nova_states_and_refuses_another() {
    use oxstack_compute::clients::ImageClient;
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/action");
    let snap = json!({"createImage": {"name": "snap"}});
    c.driver.hold_snapshots();
    let r = c
        .call(
            Method::POST,
            &path,
            Some(MEMBER),
            Some(snap.clone()),
            Some("2.45"),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let image = r.body["image_id"].as_str().expect("image_id").to_string();
    let (cr, pr, sr) = (&c, &path, &snap);
    let second = move || async move {
        cr.call(
            Method::POST,
            pr,
            Some(MEMBER),
            Some(sr.clone()),
            Some("2.45"),
        )
        .await
    };
    let ir = &image;
    let shown = move |progress: i64| async move {
        let r = cr.get(&format!("/v2.1/images/{ir}"), MEMBER).await;
        assert_eq!(
            (
                r.body["image"]["status"].as_str(),
                r.body["image"]["progress"].as_i64()
            ),
            (Some("SAVING"), Some(progress)),
            "{:?}",
            r.body
        );
    };

    // The driver copies the disk: the image is queued; a second snapshot is refused.
    snapshot_at(&c, &id, &image, "image_pending_upload", "queued").await;
    shown(25).await;
    let r = second().await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!(
            "Cannot 'createImage' instance {id} while it is in task_state image_pending_upload"
        )
    );

    // The data streams to the image service: the image is saving.
    c.driver.snapshot_steps(1);
    snapshot_at(&c, &id, &image, "image_uploading", "saving").await;
    shown(50).await;
    let r = second().await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'createImage' instance {id} while it is in task_state image_uploading")
    );

    // Done: the image is active with the data, the server free for another snapshot.
    c.driver.release_snapshots();
    c.wait(&id, "ACTIVE").await;
    let info = c
        .image
        .image_get("", &image)
        .await
        .expect("get")
        .expect("image");
    assert_eq!(
        (info.status.as_str(), info.size),
        ("active", Some(3 * 65536 + 16))
    );
    let r = second().await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    c.wait(&id, "ACTIVE").await;

    // An image deleted while it is saving: the snapshot stops, the server is left as it was.
    c.driver.hold_snapshots();
    c.driver.snapshot_steps(1);
    let r = second().await;
    let image = r.body["image_id"].as_str().expect("image_id").to_string();
    snapshot_at(&c, &id, &image, "image_uploading", "saving").await;
    let r = c
        .call(
            Method::DELETE,
            &format!("/v2.1/images/{image}"),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    c.driver.release_snapshots();
    c.wait(&id, "ACTIVE").await;
    assert!(c.image.image_get("", &image).await.expect("get").is_none());
}

#[tokio::test]
async fn create_image_uploads_the_disk_or_deletes_the_image() {
    use oxstack_compute::clients::ImageClient;
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/action");
    let snap = json!({"createImage": {"name": "snap", "metadata": {"k": "v"}}});
    let r = c
        .call(
            Method::POST,
            &path,
            Some(MEMBER),
            Some(snap.clone()),
            Some("2.45"),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let image = r.body["image_id"].as_str().expect("image_id").to_string();
    c.wait(&id, "ACTIVE").await;
    let info = c.image.image_get("", &image).await.expect("get");
    let info = info.expect("the snapshot image exists");
    // An empty qcow2 of the flavor's 1 GiB root disk: header, refcounts, a 2-entry L1.
    assert_eq!(
        (info.status.as_str(), info.size),
        ("active", Some(3 * 65536 + 16))
    );
    let (_, data) = c.image.image_download("", &image).await.expect("data");
    assert_eq!(&data[..4], b"QFI\xfb");
    assert_eq!(&data[24..32], &(1u64 << 30).to_be_bytes());

    // The hypervisor lost the server: the snapshot fails, its image is deleted and the
    // server is left as it was.
    c.driver.destroy(&id).await.expect("destroy");
    let r = c
        .call(Method::POST, &path, Some(MEMBER), Some(snap), Some("2.45"))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let image = r.body["image_id"].as_str().expect("image_id").to_string();
    c.wait(&id, "ACTIVE").await;
    assert!(c.image.image_get("", &image).await.expect("get").is_none());
}

#[tokio::test]
async fn disk_config_follows_create_update_rebuild_and_resize() {
    let c = cloud().await;
    c.image.add(IMAGE2, "other");
    c.flavor("1", 1, 512).await;
    c.flavor("2", 1, 1024).await;
    let dcf = |r: &Resp| r.body["server"]["OS-DCF:diskConfig"].clone();
    let r = c
        .post(
            "/v2.1/servers",
            MEMBER,
            json!({"server": {"name": "d", "imageRef": IMAGE, "flavorRef": "1", "OS-DCF:diskConfig": "AUTO"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(dcf(&r), "AUTO");
    let id = r.body["server"]["id"].as_str().expect("id").to_string();
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}");
    let r = c
        .call(
            Method::PUT,
            &path,
            Some(MEMBER),
            Some(json!({"server": {"OS-DCF:diskConfig": "MANUAL"}})),
            None,
        )
        .await;
    assert_eq!(dcf(&r), "MANUAL");
    let r = c
        .post(
            &format!("{path}/action"),
            MEMBER,
            json!({"rebuild": {"imageRef": IMAGE2, "OS-DCF:diskConfig": "AUTO"}}),
        )
        .await;
    assert_eq!(dcf(&r), "AUTO");
    c.wait(&id, "ACTIVE").await;
    let r = c
        .post(
            &format!("{path}/action"),
            MEMBER,
            json!({"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "MANUAL"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    c.wait(&id, "VERIFY_RESIZE").await;
    assert_eq!(dcf(&c.get(&path, MEMBER).await), "MANUAL");
    for bad in [json!({"server": {"OS-DCF:diskConfig": "auto"}})] {
        let r = c
            .call(Method::PUT, &path, Some(MEMBER), Some(bad), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}
