//! Store tests on every engine.

use std::collections::BTreeMap;

use oxstack_common::db::testing;

use super::*;
use crate::model::{Fault, Flavor, FlavorSnapshot, Instance, InstanceAction, Keypair, ServerGroup};

fn flavor() -> Flavor {
    Flavor {
        id: "42".into(),
        name: "m1.nano".into(),
        memory_mb: 128,
        vcpus: 1,
        root_gb: 1,
        ephemeral_gb: 0,
        swap: 0,
        rxtx_factor: 1.0,
        is_public: true,
        disabled: false,
        description: None,
        extra_specs: BTreeMap::from([("hw:cpu_policy".into(), "shared".into())]),
        created_at: 1,
    }
}

pub(crate) fn instance(uuid: &str, project: &str, created_at: i64) -> Instance {
    Instance {
        uuid: uuid.into(),
        name: format!("vm-{uuid}"),
        description: None,
        project_id: project.into(),
        user_id: "u1".into(),
        image_ref: "img".into(),
        flavor: FlavorSnapshot::from(&flavor()),
        old_flavor: None,
        new_flavor: None,
        vm_state: "building".into(),
        task_state: Some("scheduling".into()),
        power_state: 0,
        host: None,
        node: None,
        availability_zone: None,
        key_name: None,
        key_data: None,
        user_data: None,
        config_drive: String::new(),
        access_ip_v4: None,
        access_ip_v6: None,
        locked_by: None,
        reservation_id: "r-1".into(),
        launch_index: 0,
        hostname: "vm".into(),
        progress: 0,
        security_groups: vec!["default".into()],
        networks: "\"auto\"".into(),
        network_info: Vec::new(),
        launched_at: None,
        terminated_at: None,
        created_at,
        updated_at: created_at,
        deleted: false,
        auto_disk_config: false,
        metadata: BTreeMap::from([("a".into(), "1".into())]),
        tags: vec!["t1".into()],
    }
}

#[tokio::test]
async fn compute_store_on_every_engine() {
    for t in testing::engines().await {
        let db = t.db();
        db.migrate("compute", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db.clone());

        // Flavors.
        s.flavor_create(&flavor()).await.expect("flavor");
        assert!(matches!(
            s.flavor_create(&flavor()).await,
            Err(StoreError::Duplicate)
        ));
        let f = s.flavor_get("42").await.expect("get").expect("found");
        assert_eq!(
            f.extra_specs.get("hw:cpu_policy").map(String::as_str),
            Some("shared")
        );
        s.flavor_access_add("42", "p1").await.expect("access");
        assert!(matches!(
            s.flavor_access_add("42", "p1").await,
            Err(StoreError::Duplicate)
        ));
        assert_eq!(s.flavor_access_list("42").await.expect("list"), vec!["p1"]);
        assert_eq!(s.flavor_list().await.expect("list").len(), 1);

        // Keypairs.
        let k = Keypair {
            id: 0,
            user_id: "u1".into(),
            name: "k".into(),
            fingerprint: "aa".into(),
            public_key: "ssh-ed25519 AAAA".into(),
            key_type: "ssh".into(),
            created_at: 1,
        };
        assert_eq!(s.keypair_create(&k).await.expect("kp"), 1);
        assert!(matches!(
            s.keypair_create(&k).await,
            Err(StoreError::Duplicate)
        ));
        assert_eq!(s.keypair_count("u1").await.expect("count"), 1);

        // Instances.
        s.group_create(&ServerGroup {
            uuid: "g1".into(),
            name: "g".into(),
            project_id: "p1".into(),
            user_id: "u1".into(),
            policy: "affinity".into(),
            members: vec![],
            created_at: 1,
        })
        .await
        .expect("group");
        s.instance_create(&[
            NewInstance {
                instance: instance("i1", "p1", 10),
                group: Some("g1".into()),
            },
            NewInstance {
                instance: instance("i2", "p1", 20),
                group: None,
            },
        ])
        .await
        .expect("create");
        let list = s
            .instance_list(&InstanceFilter {
                project_id: Some("p1".into()),
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(
            list.iter().map(|i| i.uuid.as_str()).collect::<Vec<_>>(),
            ["i2", "i1"]
        );
        assert_eq!(list[0].metadata.get("a").map(String::as_str), Some("1"));
        assert_eq!(list[1].tags, vec!["t1"]);
        assert_eq!(s.instance_usage("p1").await.expect("usage"), (2, 2, 256));
        assert_eq!(
            s.group_get("g1").await.expect("g").expect("found").members,
            vec!["i1"]
        );

        // Conditional state change.
        let u = InstanceUpdate {
            vm_state: Some("active".into()),
            task_state: Some(None),
            expect_task_state: Some(vec![Some("spawning".into())]),
            ..Default::default()
        };
        assert!(!s.instance_update("i1", &u).await.expect("cas miss"));
        let vif = crate::model::Vif {
            port_id: "port-1".into(),
            network_label: "private".into(),
            fixed_ips: vec![crate::clients::FixedIp {
                subnet_id: "s1".into(),
                ip_address: "10.0.0.5".into(),
            }],
            ..Default::default()
        };
        let u = InstanceUpdate {
            expect_task_state: Some(vec![Some("scheduling".into()), None]),
            network_info: Some(vec![vif.clone()]),
            ..u
        };
        assert!(s.instance_update("i1", &u).await.expect("cas hit"));
        let i = s
            .instance_get("i1", false)
            .await
            .expect("get")
            .expect("found");
        assert_eq!((i.vm_state.as_str(), i.task_state), ("active", None));
        assert_eq!(i.network_info, vec![vif]);
        let soft = InstanceUpdate {
            deleted: Some(true),
            ..Default::default()
        };
        assert!(s.instance_update("i2", &soft).await.expect("delete"));
        assert!(s.instance_get("i2", false).await.expect("get").is_none());
        assert!(s.instance_get("i2", true).await.expect("get").is_some());

        // Usage follows the current flavor, counts only live servers, and still counts a
        // server written before migration 8 (no vcpus / memory_mb: its flavor is parsed).
        assert_eq!(s.instance_usage("p1").await.expect("usage"), (1, 1, 128));
        let mut big = FlavorSnapshot::from(&flavor());
        (big.vcpus, big.memory_mb) = (4, 2048);
        let resized = InstanceUpdate {
            flavor: Some(big),
            host: Some(Some("h1".into())),
            ..Default::default()
        };
        assert!(s.instance_update("i1", &resized).await.expect("resize"));
        assert_eq!(s.instance_usage("p1").await.expect("usage"), (1, 4, 2048));
        s.instance_create(&[NewInstance {
            instance: instance("i3", "p1", 30),
            group: None,
        }])
        .await
        .expect("create");
        db.query("UPDATE compute_instance SET vcpus = NULL, memory_mb = NULL WHERE uuid = ?")
            .bind("i3")
            .execute(db.pool())
            .await
            .expect("legacy row");
        assert_eq!(s.instance_usage("p1").await.expect("usage"), (2, 5, 2176));
        assert_eq!(
            s.instance_count_by_host().await.expect("by host"),
            std::collections::HashMap::from([("h1".to_string(), 1)])
        );
        let hosts = s
            .instance_hosts(&["i1".into(), "i2".into(), "i3".into(), "nope".into()])
            .await
            .expect("hosts");
        assert_eq!(
            hosts,
            std::collections::HashMap::from([("i1".to_string(), "h1".to_string())])
        );
        assert!(s.instance_hosts(&[]).await.expect("none").is_empty());
        let gone = InstanceUpdate {
            deleted: Some(true),
            ..Default::default()
        };
        assert!(s.instance_update("i3", &gone).await.expect("delete"));

        // Metadata, tags, faults, actions.
        s.instance_metadata_set("i1", &BTreeMap::from([("b".into(), "2".into())]), false)
            .await
            .expect("meta");
        assert_eq!(s.instance_metadata("i1").await.expect("meta").len(), 2);
        assert!(!s.instance_tag_add("i1", "t1").await.expect("dup tag"));
        assert!(s.instance_tag_add("i1", "t2").await.expect("tag"));
        s.instance_fault_set(
            "i1",
            &Fault {
                code: 500,
                message: "boom".into(),
                details: None,
                created_at: 5,
            },
        )
        .await
        .expect("fault");
        assert_eq!(
            s.instance_fault_get("i1")
                .await
                .expect("f")
                .expect("found")
                .code,
            500
        );
        let a = InstanceAction {
            instance_uuid: "i1".into(),
            request_id: "req-1".into(),
            action: "create".into(),
            project_id: "p1".into(),
            user_id: "u1".into(),
            start_time: 1,
            updated_at: 1,
            message: None,
        };
        s.action_start(&a).await.expect("action");
        s.action_start(&a).await.expect("idempotent");
        s.event_start(
            "i1",
            "req-1",
            "compute__do_build_and_run_instance",
            Some("h1"),
        )
        .await
        .expect("ev");
        s.event_finish(
            "i1",
            "req-1",
            "compute__do_build_and_run_instance",
            Some("boom"),
        )
        .await
        .expect("ev");
        let acts = s.action_list("i1").await.expect("list");
        assert_eq!(acts[0].message.as_deref(), Some("Error"));
        assert_eq!(
            s.event_list("i1", "req-1").await.expect("ev")[0]
                .result
                .as_deref(),
            Some("Error")
        );

        // Services and nodes.
        let svc = s
            .service_ensure("h1", "nova-compute", "compute")
            .await
            .expect("svc");
        assert_eq!(
            s.service_ensure("h1", "nova-compute", "compute")
                .await
                .expect("again")
                .id,
            svc.id
        );
        s.service_update(svc.id, Some((true, Some("maint".into()))), Some(true))
            .await
            .expect("upd");
        let svc2 = s
            .service_get_by_host("h1", "nova-compute")
            .await
            .expect("g")
            .expect("found");
        assert!(svc2.disabled && svc2.forced_down);

        // Quotas.
        s.quota_set("p1", &BTreeMap::from([("instances".into(), 3)]))
            .await
            .expect("quota");
        s.quota_set("p1", &BTreeMap::from([("instances".into(), 4)]))
            .await
            .expect("quota");
        assert_eq!(
            s.quota_get("p1").await.expect("q").get("instances"),
            Some(&4)
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn block_device_mappings_on_every_engine() {
    use crate::model::BlockDeviceMapping;
    for t in testing::engines().await {
        let db = t.db();
        db.migrate("compute", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db.clone());
        let bdm = |uuid: &str, inst: &str, vol: &str, dev: &str, at: i64| BlockDeviceMapping {
            uuid: uuid.into(),
            instance_uuid: inst.into(),
            volume_id: Some(vol.into()),
            attachment_id: None,
            device_name: Some(dev.into()),
            source_type: "volume".into(),
            destination_type: "volume".into(),
            delete_on_termination: at == 2,
            tag: (at == 2).then(|| "t".into()),
            boot_index: None,
            created_at: at,
        };
        s.bdm_create(&bdm("b1", "i1", "v1", "/dev/vdb", 1))
            .await
            .expect("create");
        s.bdm_create(&bdm("b2", "i1", "v2", "/dev/vdc", 2))
            .await
            .expect("create");
        s.bdm_create(&bdm("b3", "i2", "v3", "/dev/vdb", 3))
            .await
            .expect("other server, same device");
        // One device of one server holds one volume.
        assert!(matches!(
            s.bdm_create(&bdm("b4", "i1", "v4", "/dev/vdb", 4)).await,
            Err(StoreError::Duplicate)
        ));
        let l = s.bdm_list("i1").await.expect("list");
        assert_eq!(
            l.iter().map(|m| m.uuid.as_str()).collect::<Vec<_>>(),
            ["b1", "b2"]
        );
        assert!(l[1].delete_on_termination && l[1].tag.as_deref() == Some("t"));
        s.bdm_set_attachment("b1", Some("a1")).await.expect("set");
        let m = s
            .bdm_get_by_volume("i1", "v1")
            .await
            .expect("get")
            .expect("found");
        assert_eq!(m.attachment_id.as_deref(), Some("a1"));
        assert_eq!(
            s.bdm_list_of(&["i1".into(), "i2".into()])
                .await
                .expect("of")
                .len(),
            3
        );
        assert_eq!(s.bdm_list_by_volume("v3").await.expect("by").len(), 1);
        s.bdm_delete("b1", 10).await.expect("delete");
        assert!(
            s.bdm_get_by_volume("i1", "v1")
                .await
                .expect("get")
                .is_none()
        );
        // The device is free again once its mapping is deleted.
        s.bdm_create(&bdm("b5", "i1", "v5", "/dev/vdb", 5))
            .await
            .expect("reuse device");
        t.cleanup().await;
    }
}
