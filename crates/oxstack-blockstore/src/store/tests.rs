//! Store tests on every engine.

use oxstack_common::db::testing;

use super::*;
use crate::model::{Attachment, Snapshot, Volume, VolumeType};

pub(crate) fn volume(id: &str, project: &str, created_at: i64) -> Volume {
    Volume {
        id: id.into(),
        project_id: project.into(),
        user_id: "u1".into(),
        name: Some(format!("vol-{id}")),
        description: None,
        size: 1,
        status: "creating".into(),
        attach_status: "detached".into(),
        migration_status: None,
        volume_type_id: "t1".into(),
        availability_zone: "nova".into(),
        host: None,
        bootable: false,
        multiattach: false,
        snapshot_id: None,
        source_volid: None,
        format: "raw".into(),
        metadata: Meta::from([("k".into(), "v".into())]),
        image_metadata: Meta::new(),
        admin_metadata: Meta::new(),
        created_at,
        updated_at: None,
    }
}

#[tokio::test]
async fn blockstore_store_on_every_engine() {
    for t in testing::engines().await {
        let db = t.db();
        db.migrate("blockstore", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db.clone());

        // Types and access.
        let ty = VolumeType {
            id: "t1".into(),
            name: "gold".into(),
            description: None,
            is_public: false,
            extra_specs: Meta::from([("volume_backend_name".into(), "file".into())]),
            created_at: 1,
        };
        s.type_create(&ty).await.expect("type");
        assert!(matches!(
            s.type_create(&ty).await,
            Err(StoreError::Duplicate)
        ));
        assert_eq!(
            s.type_get_by_name("gold")
                .await
                .expect("get")
                .expect("found"),
            ty
        );
        s.type_access_add("t1", "p1").await.expect("access");
        assert!(matches!(
            s.type_access_add("t1", "p1").await,
            Err(StoreError::Duplicate)
        ));
        assert_eq!(s.type_access_list("t1").await.expect("list"), vec!["p1"]);

        // Volumes: create, compare-and-swap status, save, list.
        let mut v = volume("v1", "p1", 10);
        s.volume_create(&v).await.expect("volume");
        s.volume_create(&volume("v2", "p2", 20))
            .await
            .expect("volume");
        assert!(
            s.volume_cas_status("v1", &["creating"], "available", 11)
                .await
                .expect("cas")
        );
        assert!(
            !s.volume_cas_status("v1", &["creating"], "error", 12)
                .await
                .expect("cas")
        );
        v.status = "available".into();
        v.updated_at = Some(11);
        assert_eq!(s.volume_get("v1").await.expect("get").expect("found"), v);
        v.size = 2;
        v.metadata.insert("a".into(), "b".into());
        s.volume_save(&v).await.expect("save");
        assert_eq!(s.volume_get("v1").await.expect("get").expect("found"), v);
        assert_eq!(s.volume_list(Some("p1")).await.expect("list").len(), 1);
        assert_eq!(s.volume_list(None).await.expect("list")[0].id, "v2");
        assert_eq!(
            s.volume_list_in(&["creating"]).await.expect("list").len(),
            1
        );
        assert_eq!(s.volume_count_of_type("t1").await.expect("count"), 2);

        // Snapshots.
        let snap = Snapshot {
            id: "s1".into(),
            volume_id: "v1".into(),
            project_id: "p1".into(),
            user_id: "u1".into(),
            name: None,
            description: Some("d".into()),
            size: 2,
            status: "creating".into(),
            progress: "0%".into(),
            metadata: Meta::new(),
            created_at: 30,
            updated_at: None,
        };
        s.snapshot_create(&snap).await.expect("snapshot");
        assert_eq!(
            s.snapshot_get("s1").await.expect("get").expect("found"),
            snap
        );
        assert_eq!(
            s.snapshot_list_of_volume("v1").await.expect("list").len(),
            1
        );
        s.snapshot_delete("s1").await.expect("delete");
        assert!(s.snapshot_get("s1").await.expect("get").is_none());

        // Attachments go with their volume.
        let a = Attachment {
            id: "a1".into(),
            volume_id: "v1".into(),
            project_id: "p1".into(),
            instance_uuid: Some("i1".into()),
            attached_host: None,
            mountpoint: None,
            attach_status: "reserved".into(),
            attach_mode: "rw".into(),
            connector: None,
            attach_time: None,
            detach_time: None,
            created_at: 40,
        };
        s.attachment_create(&a).await.expect("attachment");
        assert_eq!(
            s.attachment_get("a1").await.expect("get").expect("found"),
            a
        );
        assert_eq!(s.attachment_list(Some("p1")).await.expect("list").len(), 1);
        s.volume_delete("v1").await.expect("delete");
        assert!(s.attachment_get("a1").await.expect("get").is_none());

        // Quotas.
        s.quota_set("p1", "volumes", 5).await.expect("quota");
        s.quota_set("p1", "volumes", 7).await.expect("quota");
        assert_eq!(
            s.quota_get("p1").await.expect("get").get("volumes"),
            Some(&7)
        );
        s.quota_delete("p1").await.expect("delete");
        assert!(s.quota_get("p1").await.expect("get").is_empty());

        assert!(s.type_delete("t1").await.expect("delete"));
        t.cleanup().await;
    }
}
