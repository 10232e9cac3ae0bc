//! Servers and the block storage service (a fake Cinder): `os-volume_attachments` (attach,
//! list, show, detach, swap), device names, Nova's error codes, `volumes_attached`, volumes
//! taken back (and deleted when asked) on server delete, and failed attaches leaving nothing.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::*;
use oxstack_compute::model::BlockDeviceMapping;
use oxstack_compute::store::Store;
use serde_json::{Value, json};

const MISSING: &str = "6f2b0f3c-9999-4a1e-9c55-0a1b2c3d4e5f";

async fn cloud_with_server() -> (TestCloud, String) {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm", "1").await;
    c.wait(&id, "ACTIVE").await;
    (c, id)
}

fn path(server: &str) -> String {
    format!("/v2.1/servers/{server}/os-volume_attachments")
}

async fn attach(c: &TestCloud, server: &str, body: Value, mv: &str) -> Resp {
    c.call(
        Method::POST,
        &path(server),
        Some(MEMBER),
        Some(json!({ "volumeAttachment": body })),
        Some(mv),
    )
    .await
}

async fn act(c: &TestCloud, server: &str, body: Value) -> Resp {
    c.post(&format!("/v2.1/servers/{server}/action"), MEMBER, body)
        .await
}

async fn del(c: &TestCloud, server: &str, volume: &str) -> Resp {
    c.call(
        Method::DELETE,
        &format!("{}/{volume}", path(server)),
        Some(MEMBER),
        None,
        None,
    )
    .await
}

async fn put(c: &TestCloud, server: &str, volume: &str, token: &str, body: Value) -> Resp {
    c.call(
        Method::PUT,
        &format!("{}/{volume}", path(server)),
        Some(token),
        Some(body),
        None,
    )
    .await
}

async fn wait_volume(c: &TestCloud, id: &str, status: &str) {
    for _ in 0..200 {
        if c.volume.volume(id).map(|v| v.status).as_deref() == Some(status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "volume {id} never became {status}: {:?}",
        c.volume.volume(id)
    );
}

#[tokio::test]
async fn attach_list_show_and_detach() {
    let (c, id) = cloud_with_server().await;
    let v1 = c.volume.add_volume(1);
    let v2 = c.volume.add_volume(2);

    let r = attach(&c, &id, json!({"volumeId": v1}), "2.1").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let first = r.body["volumeAttachment"].clone();
    assert_eq!(
        first,
        json!({"id": v1, "volumeId": v1, "serverId": id, "device": "/dev/vdb"})
    );
    assert_eq!(c.volume.volume(&v1).expect("v1").status, "in-use");
    assert_eq!(c.driver.volumes(&id), vec![v1.clone()]);
    let a = c.volume.attachments();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].status, "attached");
    assert_eq!(a[0].connector.as_ref().expect("connector")["host"], "host1");

    // The next one gets the next letter; a tag is accepted from 2.49 (not shown before 2.70).
    let r = attach(&c, &id, json!({"volumeId": v2, "tag": "data"}), "2.49").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["volumeAttachment"]["device"], "/dev/vdc");
    assert!(r.body["volumeAttachment"].get("tag").is_none());

    let r = c.get(&path(&id), READER).await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.body["volumeAttachments"]
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(list.len(), 2);
    assert!(list.contains(&first), "{list:?}");
    let r = c
        .get(&format!("{}?limit=1&offset=1", path(&id)), MEMBER)
        .await;
    assert_eq!(r.body["volumeAttachments"][0]["volumeId"], json!(v2));
    assert_eq!(
        r.body["volumeAttachments"].as_array().map(Vec::len),
        Some(1)
    );
    let r = c.get(&format!("{}?limit=-1", path(&id)), MEMBER).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = c.get(&format!("{}/{v1}", path(&id)), READER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["volumeAttachment"], first);

    // volumes_attached: ids, with delete_on_termination from 2.3.
    let r = c.get(&format!("/v2.1/servers/{id}"), MEMBER).await;
    assert_eq!(
        r.body["server"]["os-extended-volumes:volumes_attached"],
        json!([{"id": v1}, {"id": v2}])
    );
    let r = c
        .call(
            Method::GET,
            "/v2.1/servers/detail",
            Some(MEMBER),
            None,
            Some("2.3"),
        )
        .await;
    assert_eq!(
        r.body["servers"][0]["os-extended-volumes:volumes_attached"],
        json!([
            {"id": v1, "delete_on_termination": false},
            {"id": v2, "delete_on_termination": false},
        ])
    );

    // Detach: 202, then the volume is free and unplugged.
    let r = c
        .call(
            Method::DELETE,
            &format!("{}/{v1}", path(&id)),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    wait_volume(&c, &v1, "available").await;
    for _ in 0..100 {
        if c.get(&format!("{}/{v1}", path(&id)), MEMBER).await.status == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = c.get(&format!("{}/{v1}", path(&id)), MEMBER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["itemNotFound"]["message"],
        format!("Instance {id} is not attached to volume {v1}")
    );
    assert_eq!(c.driver.volumes(&id), vec![v2.clone()]);
    assert_eq!(c.volume.attachments().len(), 1);
    // The freed device is given again.
    let r = attach(&c, &id, json!({"volumeId": v1}), "2.1").await;
    assert_eq!(r.body["volumeAttachment"]["device"], "/dev/vdb");

    // The instance actions record both operations.
    let r = c
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"), MEMBER)
        .await;
    let actions: Vec<&str> = r.body["instanceActions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(actions.contains(&"attach_volume"), "{actions:?}");
    assert!(actions.contains(&"detach_volume"), "{actions:?}");
}

#[tokio::test]
async fn refusals_carry_novas_codes() {
    let (c, id) = cloud_with_server().await;
    let v = c.volume.add_volume(1);
    let code = |r: &Resp| r.status;

    // Unknown server or volume: 404.
    assert_eq!(
        code(&attach(&c, MISSING, json!({"volumeId": v}), "2.1").await),
        StatusCode::NOT_FOUND
    );
    let r = attach(&c, &id, json!({"volumeId": MISSING}), "2.1").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["itemNotFound"]["message"],
        format!("Volume {MISSING} could not be found.")
    );
    // Bad bodies: 400.
    for (body, mv) in [
        (json!({}), "2.1"),
        (json!({"volumeId": "not-a-uuid"}), "2.1"),
        (json!({"volumeId": 5}), "2.1"),
        (json!({"volumeId": v, "bogus": 1}), "2.1"),
        (json!({"volumeId": v, "tag": "t"}), "2.48"),
        (json!({"volumeId": v, "tag": "a/b"}), "2.49"),
        (
            json!({"volumeId": v, "delete_on_termination": true}),
            "2.60",
        ),
        (json!({"volumeId": v, "device": "vdb"}), "2.1"),
        (json!({"volumeId": v, "device": "/dev/"}), "2.1"),
    ] {
        let r = attach(&c, &id, body.clone(), mv).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} {:?}", r.body);
        assert!(r.body["badRequest"]["message"].is_string(), "{:?}", r.body);
    }
    let r = c
        .call(
            Method::POST,
            &path(&id),
            Some(MEMBER),
            Some(json!({"volume": {}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A volume that is not available: 400 with Cinder's words.
    let busy = c.volume.add_volume(1);
    c.volume.set_status(&busy, "error");
    let r = attach(&c, &id, json!({"volumeId": busy}), "2.1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["badRequest"]["message"],
        format!("Invalid volume: volume '{busy}' status must be 'available'. Currently in 'error'")
    );

    // Attached once: again to this server, or to another, is 400 (Nova's InvalidVolume).
    let r = attach(&c, &id, json!({"volumeId": v, "device": "/dev/vdb"}), "2.1").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = attach(&c, &id, json!({"volumeId": v}), "2.1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("already attached")),
        "{:?}",
        r.body
    );
    let other = c.server(MEMBER, "vm2", "1").await;
    c.wait(&other, "ACTIVE").await;
    assert_eq!(
        code(&attach(&c, &other, json!({"volumeId": v}), "2.1").await),
        StatusCode::BAD_REQUEST
    );
    // A device in use (or the root's): 409.
    let v2 = c.volume.add_volume(1);
    for dev in ["/dev/vdb", "/dev/vda"] {
        let r = attach(&c, &id, json!({"volumeId": v2, "device": dev}), "2.1").await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert_eq!(
            r.body["conflictingRequest"]["message"],
            format!("The supplied device path ({dev}) is in use.")
        );
    }
    assert_eq!(c.volume.volume(&v2).expect("v2").status, "available");

    // States that cannot attach: 409 (suspended); stopped servers can.
    assert_eq!(
        act(&c, &other, json!({"suspend": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&other, "SUSPENDED").await;
    let r = attach(&c, &other, json!({"volumeId": v2}), "2.1").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'attach_volume' instance {other} while it is in vm_state suspended")
    );
    assert_eq!(
        act(&c, &other, json!({"resume": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&other, "ACTIVE").await;
    assert_eq!(
        act(&c, &other, json!({"os-stop": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&other, "SHUTOFF").await;
    assert_eq!(
        code(&attach(&c, &other, json!({"volumeId": v2}), "2.1").await),
        StatusCode::OK
    );
    // A locked server: 409 for its member.
    let r = c
        .post(
            &format!("/v2.1/servers/{other}/action"),
            ADMIN,
            json!({"lock": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let v3 = c.volume.add_volume(1);
    assert_eq!(
        code(&attach(&c, &other, json!({"volumeId": v3}), "2.1").await),
        StatusCode::CONFLICT
    );

    // Detach: unknown volume 404, a volume not attached here 404.
    assert_eq!(del(&c, &id, MISSING).await.status, StatusCode::NOT_FOUND);
    assert_eq!(del(&c, &id, &v3).await.status, StatusCode::NOT_FOUND);
    assert_eq!(del(&c, MISSING, &v).await.status, StatusCode::NOT_FOUND);
    // A volume whose status says it is not attached cannot be detached: 400.
    c.volume.set_status(&v, "detaching");
    assert_eq!(del(&c, &id, &v).await.status, StatusCode::BAD_REQUEST);
    c.volume.set_status(&v, "in-use");

    // Swap is admin-only; volumes here never migrate, so Nova's 409.
    let body = json!({"volumeAttachment": {"volumeId": v3}});
    assert_eq!(
        put(&c, &id, &v, MEMBER, body.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let r = put(&c, &id, &v, ADMIN, body).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(
        put(
            &c,
            &id,
            &v,
            ADMIN,
            json!({"volumeAttachment": {"volumeId": "x"}})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn other_projects_see_nothing_and_readers_change_nothing() {
    let (c, id) = cloud_with_server().await;
    let v = c.volume.add_volume(1);
    assert_eq!(
        attach(&c, &id, json!({"volumeId": v}), "2.1").await.status,
        StatusCode::OK
    );
    let one = format!("{}/{v}", path(&id));
    let body = Some(json!({"volumeAttachment": {"volumeId": v}}));
    for (m, p, token, body, want) in [
        (Method::GET, path(&id), OTHER, None, StatusCode::NOT_FOUND),
        (Method::GET, one.clone(), OTHER, None, StatusCode::NOT_FOUND),
        (
            Method::POST,
            path(&id),
            OTHER,
            body.clone(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            one.clone(),
            OTHER,
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            one.clone(),
            OTHER,
            body.clone(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            path(&id),
            READER,
            body.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::DELETE,
            one.clone(),
            READER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (Method::GET, path(&id), READER, None, StatusCode::OK),
    ] {
        let r = c.call(m.clone(), &p, Some(token), body, None).await;
        assert_eq!(r.status, want, "{m} {p} as {token}: {:?}", r.body);
    }
    assert_eq!(c.driver.volumes(&id), vec![v]);
}

#[tokio::test]
async fn failed_attaches_leave_nothing_behind() {
    let (c, id) = cloud_with_server().await;
    let v = c.volume.add_volume(1);

    // The hypervisor refuses.
    c.driver.fail_volume_attach(true);
    let r = attach(&c, &id, json!({"volumeId": v}), "2.1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(
        r.body["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("Volume {v} could not be attached."))),
        "{:?}",
        r.body
    );
    c.driver.fail_volume_attach(false);
    assert!(c.volume.attachments().is_empty());
    assert_eq!(c.volume.volume(&v).expect("v").status, "available");
    assert_eq!(
        c.get(&path(&id), MEMBER).await.body["volumeAttachments"],
        json!([])
    );

    // Cinder fails to complete: the plugged disk is unplugged again.
    c.volume.fail("attachment_complete", true);
    let r = attach(&c, &id, json!({"volumeId": v}), "2.1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    c.volume.fail("attachment_complete", false);
    assert!(c.volume.attachments().is_empty());
    assert!(c.driver.volumes(&id).is_empty());

    // Cinder refuses the reservation: Nova's InvalidInput 400, no mapping left.
    c.volume.fail("attachment_create", true);
    let r = attach(&c, &id, json!({"volumeId": v}), "2.1").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{:?}", r.body);
    c.volume.fail("attachment_create", false);
    assert_eq!(
        c.get(&path(&id), MEMBER).await.body["volumeAttachments"],
        json!([])
    );

    // And a good attach still works, on the first device.
    let r = attach(&c, &id, json!({"volumeId": v}), "2.1").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["volumeAttachment"]["device"], "/dev/vdb");
}

#[tokio::test]
async fn server_delete_takes_volumes_back_and_deletes_those_asked() {
    let (c, id) = cloud_with_server().await;
    let keep = c.volume.add_volume(1);
    let doomed = c.volume.add_volume(1);
    assert_eq!(
        attach(&c, &id, json!({"volumeId": keep}), "2.1")
            .await
            .status,
        StatusCode::OK
    );
    // delete_on_termination needs 2.79 (beyond this API): record such a mapping directly,
    // as boot-from-volume will.
    use oxstack_compute::clients::VolumeClient;
    let a = c
        .volume
        .attachment_create("t", P1, &doomed, &id)
        .await
        .expect("reserve");
    c.volume
        .attachment_complete(P1, &a.id)
        .await
        .expect("complete");
    Store::new(c.db.clone())
        .bdm_create(&BlockDeviceMapping {
            uuid: "bdm-doomed".into(),
            instance_uuid: id.clone(),
            volume_id: Some(doomed.clone()),
            attachment_id: Some(a.id.clone()),
            device_name: Some("/dev/vdc".into()),
            source_type: "volume".into(),
            destination_type: "volume".into(),
            delete_on_termination: true,
            tag: None,
            boot_index: None,
            created_at: 1,
        })
        .await
        .expect("bdm");
    let r = c
        .call(
            Method::GET,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            None,
            Some("2.3"),
        )
        .await;
    assert_eq!(
        r.body["server"]["os-extended-volumes:volumes_attached"],
        json!([
            {"id": doomed, "delete_on_termination": true},
            {"id": keep, "delete_on_termination": false},
        ])
    );

    let r = c
        .call(
            Method::DELETE,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    c.wait(&id, "DELETED").await;
    assert_eq!(c.volume.volume(&keep).expect("kept").status, "available");
    assert!(c.volume.volume(&doomed).is_none());
    assert!(c.volume.attachments().is_empty());
    assert!(
        Store::new(c.db.clone())
            .bdm_list(&id)
            .await
            .expect("bdms")
            .is_empty()
    );
}

#[tokio::test]
async fn shelved_offloaded_servers_attach_locally_and_connect_on_unshelve() {
    let (c, id) = cloud_with_server().await;
    assert_eq!(
        act(&c, &id, json!({"shelve": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "SHELVED_OFFLOADED").await;
    let v = c.volume.add_volume(1);
    // Before 2.20 a shelved server cannot attach; tags cannot be given to offloaded ones.
    assert_eq!(
        attach(&c, &id, json!({"volumeId": v}), "2.19").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        attach(&c, &id, json!({"volumeId": v, "tag": "x"}), "2.49")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let r = attach(&c, &id, json!({"volumeId": v}), "2.20").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["volumeAttachment"]["device"], Value::Null);
    assert_eq!(c.volume.volume(&v).expect("v").status, "in-use");
    // No device yet: the show leaves it out, as Nova does.
    let r = c.get(&format!("{}/{v}", path(&id)), MEMBER).await;
    assert!(
        r.body["volumeAttachment"].get("device").is_none(),
        "{:?}",
        r.body
    );

    // Unshelve plugs it in on the host, with a device name.
    assert_eq!(
        act(&c, &id, json!({"unshelve": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "ACTIVE").await;
    assert_eq!(c.driver.volumes(&id), vec![v.clone()]);
    let r = c.get(&format!("{}/{v}", path(&id)), MEMBER).await;
    assert_eq!(r.body["volumeAttachment"]["device"], "/dev/vdb");
}

#[tokio::test]
async fn without_block_storage_no_volume_can_be_found() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let mut opts = c.opts.clone();
    opts.volume = None;
    let c = reopen(
        opts,
        c.fakes(),
        c.db.clone(),
        c.dir.clone(),
        fake_driver(),
        "host2",
    )
    .await;
    let id = c.server(MEMBER, "vm", "1").await;
    c.wait(&id, "ACTIVE").await;
    let r = attach(&c, &id, json!({"volumeId": MISSING}), "2.1").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = c.get(&path(&id), MEMBER).await;
    assert_eq!(r.body, json!({"volumeAttachments": []}));
}

async fn create_server(c: &TestCloud, server: Value, mv: &str) -> Resp {
    let mut s = json!({"name": "bfv", "flavorRef": "1"});
    if let (Some(o), Value::Object(extra)) = (s.as_object_mut(), server) {
        o.extend(extra);
    }
    c.call(
        Method::POST,
        "/v2.1/servers",
        Some(MEMBER),
        Some(json!({ "server": s })),
        Some(mv),
    )
    .await
}

#[tokio::test]
async fn servers_boot_from_existing_volumes() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let root = c.volume.add_volume(1);
    c.volume.set_bootable(&root, true);
    let data = c.volume.add_volume(1);
    let r = create_server(
        &c,
        json!({"imageRef": "", "block_device_mapping_v2": [
            {"boot_index": "0", "uuid": root, "source_type": "volume",
             "destination_type": "volume", "delete_on_termination": false},
            {"boot_index": -1, "uuid": data, "source_type": "volume",
             "destination_type": "volume"},
        ]}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["server"]["id"].as_str().expect("id").to_string();
    let s = c.wait(&id, "ACTIVE").await;
    assert_eq!(s["image"], "");
    assert_eq!(c.driver.volumes(&id), vec![root.clone(), data.clone()]);
    assert_eq!(c.volume.volume(&root).expect("root").status, "in-use");
    assert_eq!(c.volume.volume(&data).expect("data").status, "in-use");
    let r = c.get(&path(&id), MEMBER).await;
    assert_eq!(
        r.body["volumeAttachments"],
        json!([
            {"id": root, "volumeId": root, "serverId": id, "device": "/dev/vda"},
            {"id": data, "volumeId": data, "serverId": id, "device": "/dev/vdb"},
        ])
    );
    // The root volume stays; the other one can go.
    let r = del(&c, &id, &root).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["badRequest"]["message"],
        "Cannot detach a root device volume"
    );
    // A restart of the host (the fake hypervisor forgets everything) brings the server
    // back with its volumes.
    let c = reopen(
        c.opts.clone(),
        c.fakes(),
        c.db.clone(),
        c.dir.clone(),
        fake_driver(),
        "host1",
    )
    .await;
    c.wait(&id, "ACTIVE").await;
    assert_eq!(c.driver.volumes(&id), vec![root.clone(), data.clone()]);

    let r = c
        .call(
            Method::DELETE,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    c.wait(&id, "DELETED").await;
    assert_eq!(c.volume.volume(&root).expect("kept").status, "available");
    assert_eq!(c.volume.volume(&data).expect("kept").status, "available");
    assert!(c.volume.attachments().is_empty());
}

#[tokio::test]
async fn servers_boot_from_volumes_made_from_images() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let r = create_server(
        &c,
        json!({"block_device_mapping_v2": [
            {"boot_index": 0, "uuid": IMAGE, "source_type": "image",
             "destination_type": "volume", "volume_size": 2, "delete_on_termination": true},
            {"source_type": "blank", "destination_type": "volume", "volume_size": 1},
        ]}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["server"]["id"].as_str().expect("id").to_string();
    c.wait(&id, "ACTIVE").await;
    let vols = c.driver.volumes(&id);
    assert_eq!(vols.len(), 2);
    let root = c.volume.volume(&vols[0]).expect("root");
    assert!(
        root.bootable && root.size == 2 && root.status == "in-use",
        "{root:?}"
    );
    let r = c
        .call(
            Method::GET,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            None,
            Some("2.3"),
        )
        .await;
    assert_eq!(
        r.body["server"]["os-extended-volumes:volumes_attached"],
        json!([
            {"id": vols[0], "delete_on_termination": true},
            {"id": vols[1], "delete_on_termination": false},
        ])
    );
    let r = c
        .call(
            Method::DELETE,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    c.wait(&id, "DELETED").await;
    // delete_on_termination: the root volume goes, the blank one stays.
    assert!(c.volume.volume(&vols[0]).is_none());
    assert_eq!(c.volume.volume(&vols[1]).expect("kept").status, "available");
}

#[tokio::test]
async fn bad_block_device_mappings_are_refused() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let plain = c.volume.add_volume(1);
    let bootable = c.volume.add_volume(1);
    c.volume.set_bootable(&bootable, true);
    let vol = |uuid: &str, boot: i64| {
        json!({"boot_index": boot, "uuid": uuid, "source_type": "volume",
               "destination_type": "volume"})
    };
    for (server, why) in [
        (
            json!({"imageRef": "", "block_device_mapping_v2": [vol(&plain, 0)]}),
            "not bootable",
        ),
        (
            json!({"imageRef": IMAGE, "block_device_mapping_v2": [
                {"source_type": "image", "uuid": IMAGE, "boot_index": 0,
                 "destination_type": "local", "delete_on_termination": true},
                {"source_type": "volume", "uuid": plain, "destination_type": "invalid"},
            ]}),
            "bad destination in the 2nd item",
        ),
        (
            json!({"imageRef": "", "block_device_mapping_v2": [vol(MISSING, 0)]}),
            "missing volume",
        ),
        (
            json!({"imageRef": "", "block_device_mapping_v2": [
                {"boot_index": 0, "uuid": IMAGE, "source_type": "image",
                 "destination_type": "volume"}]}),
            "image to volume without a size",
        ),
        (
            json!({"imageRef": "", "block_device_mapping_v2": [
                vol(&bootable, 0), vol(&plain, 0)]}),
            "two boot devices",
        ),
        (
            json!({"imageRef": "", "block_device_mapping_v2": "x"}),
            "not a list",
        ),
        (
            json!({"imageRef": "", "max_count": 2, "block_device_mapping_v2": [
                vol(&bootable, 0)]}),
            "one volume for two servers",
        ),
    ] {
        let r = create_server(&c, server, "2.1").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {:?}", r.body);
    }
    // Nothing was left behind.
    let r = c.get("/v2.1/servers", MEMBER).await;
    assert_eq!(r.body["servers"], json!([]));
    assert_eq!(c.volume.volume(&bootable).expect("v").status, "available");
    assert!(c.volume.attachments().is_empty());
}

#[tokio::test]
async fn the_volume_and_snapshot_proxies_up_to_2_35() {
    let (c, id) = cloud_with_server().await;
    let call = |m: Method, p: &str, token: &str, body: Option<Value>, mv: &str| {
        let (m, p, token, mv) = (m, p.to_string(), token.to_string(), mv.to_string());
        let c = &c;
        async move { c.call(m, &p, Some(&token), body, Some(&mv)).await }
    };
    let r = call(
        Method::POST,
        "/v2.1/os-volumes",
        MEMBER,
        Some(json!({"volume": {"size": 1, "display_name": "v1"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let v = r.body["volume"].clone();
    let vid = v["id"].as_str().expect("id").to_string();
    assert_eq!(v["displayName"], "v1");
    assert_eq!(v["size"], 1);
    assert_eq!(v["attachments"], json!([{}]));
    assert!(r.header("location").is_some_and(|l| l.ends_with(&vid)));

    // Attached, it shows its server and device.
    assert_eq!(
        attach(&c, &id, json!({"volumeId": vid}), "2.1")
            .await
            .status,
        StatusCode::OK
    );
    let r = call(
        Method::GET,
        &format!("/v2.1/os-volumes/{vid}"),
        READER,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["volume"]["attachments"],
        json!([{"id": vid, "volumeId": vid, "serverId": id, "device": "/dev/vdb"}])
    );
    // In use: Cinder refuses the delete (400).
    let r = call(
        Method::DELETE,
        &format!("/v2.1/os-volumes/{vid}"),
        MEMBER,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);

    let r = call(
        Method::GET,
        "/v2.1/os-volumes/detail?limit=1",
        MEMBER,
        None,
        "2.35",
    )
    .await;
    assert_eq!(r.body["volumes"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        call(Method::GET, "/v2.1/os-volumes", MEMBER, None, "2.36")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for body in [
        json!({"volume": {}}),
        json!({"volume": {"size": "abc"}}),
        json!({"volume": {"size": 0}}),
        json!({"volume": {"size": "0"}}),
        json!({"volume": {"size": 1, "bogus": 1}}),
    ] {
        let r = call(
            Method::POST,
            "/v2.1/os-volumes",
            MEMBER,
            Some(body.clone()),
            "2.1",
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let r = call(
        Method::POST,
        "/v2.1/os-volumes",
        READER,
        Some(json!({"volume": {"size": 1}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        Method::GET,
        &format!("/v2.1/os-volumes/{MISSING}"),
        MEMBER,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["itemNotFound"]["message"],
        format!("Volume {MISSING} could not be found.")
    );

    // Snapshots: an attached volume needs force.
    let snap = |force: Option<bool>| {
        let mut s = json!({"volume_id": vid, "display_name": "s1"});
        if let Some(f) = force {
            s["force"] = json!(f);
        }
        json!({ "snapshot": s })
    };
    let r = call(
        Method::POST,
        "/v2.1/os-snapshots",
        MEMBER,
        Some(snap(None)),
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = call(
        Method::POST,
        "/v2.1/os-snapshots",
        MEMBER,
        Some(snap(Some(true))),
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sid = r.body["snapshot"]["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["snapshot"]["volumeId"], json!(vid));
    assert_eq!(r.body["snapshot"]["displayName"], "s1");
    let r = call(
        Method::GET,
        "/v2.1/os-snapshots/detail",
        READER,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.body["snapshots"][0]["id"], json!(sid));
    let r = call(
        Method::GET,
        &format!("/v2.1/os-snapshots/{sid}"),
        READER,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.body["snapshot"]["status"], "available");
    for bad in [
        json!({"snapshot": {}}),
        json!({"snapshot": {"volume_id": "x"}}),
    ] {
        let r = call(Method::POST, "/v2.1/os-snapshots", MEMBER, Some(bad), "2.1").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = call(
        Method::DELETE,
        &format!("/v2.1/os-snapshots/{sid}"),
        MEMBER,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = call(
        Method::GET,
        &format!("/v2.1/os-snapshots/{sid}"),
        MEMBER,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["itemNotFound"]["message"],
        format!("Snapshot {sid} could not be found.")
    );

    // Detached, it can be deleted.
    assert_eq!(del(&c, &id, &vid).await.status, StatusCode::ACCEPTED);
    wait_volume(&c, &vid, "available").await;
    let r = call(
        Method::DELETE,
        &format!("/v2.1/os-volumes/{vid}"),
        MEMBER,
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(c.volume.volume(&vid).is_none());
}
