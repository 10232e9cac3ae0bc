//! The store on every engine: SQLite always, MariaDB and PostgreSQL when reachable.

use std::collections::BTreeMap;

use oxstack_common::db::testing;

use super::*;
use crate::model::{Image, Member, Stored};

fn image(id: &str, owner: &str, visibility: &str, created_at: i64) -> Image {
    Image {
        id: id.into(),
        name: Some(format!("name-{id}")),
        status: "queued".into(),
        visibility: visibility.into(),
        protected: false,
        os_hidden: false,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        size: None,
        virtual_size: None,
        min_disk: 0,
        min_ram: 0,
        disk_format: Some("raw".into()),
        container_format: Some("bare".into()),
        owner: Some(owner.into()),
        location: None,
        staging: None,
        created_at,
        updated_at: created_at,
        tags: vec!["t1".into(), "t2".into()],
        properties: BTreeMap::from([("os_distro".to_string(), "debian".to_string())]),
    }
}

fn ids(mut v: Vec<Image>) -> Vec<String> {
    let mut out: Vec<String> = v.drain(..).map(|i| i.id).collect();
    out.sort();
    out
}

#[tokio::test]
async fn images_and_members_on_every_engine() {
    for t in testing::engines().await {
        let engine = t.engine();
        let db = t.db().clone();
        db.migrate("image", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db);

        for im in [
            image("a-private", "A", "private", 1),
            image("a-shared", "A", "shared", 2),
            image("a-public", "A", "public", 3),
            image("a-community", "A", "community", 4),
            image("b-private", "B", "private", 5),
        ] {
            s.image_create(&im).await.expect("create");
        }
        assert!(
            matches!(
                s.image_create(&image("a-private", "A", "private", 9)).await,
                Err(StoreError::Duplicate)
            ),
            "{engine:?}"
        );
        let got = s
            .image_get("a-private")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(got, image("a-private", "A", "private", 1), "{engine:?}");

        // Members.
        let m = Member {
            image_id: "a-shared".into(),
            member_id: "B".into(),
            status: "pending".into(),
            created_at: 10,
            updated_at: 10,
        };
        s.member_create(&m).await.expect("member");
        assert!(matches!(
            s.member_create(&m).await,
            Err(StoreError::Duplicate)
        ));
        assert_eq!(s.member_count("a-shared").await.expect("count"), 1);

        let as_b = |status: Option<&str>, visibility: Option<&str>| ImageQuery {
            project_id: Some("B".into()),
            member_status: status.map(str::to_string),
            visibility: visibility.map(str::to_string),
            ..Default::default()
        };
        // Pending membership: not listed by default (accepted), listed with `all`.
        assert_eq!(
            ids(s
                .image_list(&as_b(Some("accepted"), None))
                .await
                .expect("list")),
            ["a-public", "b-private"],
            "{engine:?}"
        );
        assert_eq!(
            ids(s.image_list(&as_b(None, None)).await.expect("list")),
            ["a-public", "a-shared", "b-private"]
        );
        assert!(
            s.member_update("a-shared", "B", "accepted", 11)
                .await
                .expect("update")
        );
        assert!(
            !s.member_update("a-shared", "C", "accepted", 11)
                .await
                .expect("update")
        );
        assert_eq!(
            ids(s
                .image_list(&as_b(Some("accepted"), None))
                .await
                .expect("list")),
            ["a-public", "a-shared", "b-private"]
        );
        // Community images only when asked for, or one's own.
        assert_eq!(
            ids(s
                .image_list(&as_b(Some("accepted"), Some("community")))
                .await
                .expect("list")),
            ["a-community"]
        );
        let as_a = ImageQuery {
            project_id: Some("A".into()),
            member_status: Some("accepted".into()),
            ..Default::default()
        };
        assert_eq!(s.image_list(&as_a).await.expect("list").len(), 4);
        let admin = ImageQuery {
            admin: true,
            project_id: Some("admin".into()),
            visibility: Some("all".into()),
            ..Default::default()
        };
        let all = s.image_list(&admin).await.expect("list");
        assert_eq!(all.len(), 5);
        assert!(
            all.iter()
                .all(|i| i.tags == ["t1", "t2"] && i.properties.len() == 1)
        );
        let filtered = ImageQuery {
            name: Some(vec!["name-a-public".into(), "name-b-private".into()]),
            owner: Some("B".into()),
            ..admin.clone()
        };
        assert_eq!(
            ids(s.image_list(&filtered).await.expect("list")),
            ["b-private"]
        );

        // Update, status transitions, data.
        let mut im = got.clone();
        im.name = None;
        im.tags = vec!["x".into()];
        im.properties.clear();
        im.updated_at = 20;
        assert!(s.image_update(&im).await.expect("update"));
        let got = s
            .image_get("a-private")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            (got.name, got.tags, got.properties.len()),
            (None, vec!["x".to_string()], 0)
        );
        assert!(
            s.image_set_status("a-private", &["queued"], "saving", 21)
                .await
                .expect("status")
        );
        assert!(
            !s.image_set_status("a-private", &["queued"], "saving", 21)
                .await
                .expect("status")
        );
        let data = Stored {
            location: "a-private".into(),
            size: 5,
            checksum: "c".into(),
            hash_value: "h".into(),
            virtual_size: Some(5),
        };
        assert!(
            s.image_set_data("a-private", "saving", "active", &data, 22)
                .await
                .expect("data")
        );
        let got = s
            .image_get("a-private")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            (got.status.as_str(), got.size, got.os_hash_algo.as_deref()),
            ("active", Some(5), Some("sha512"))
        );
        let staged = Some(Stored {
            location: "staging/a-shared".into(),
            ..data.clone()
        });
        assert!(
            s.image_set_staging("a-shared", "queued", "uploading", &staged, 23)
                .await
                .expect("stage")
        );
        assert_eq!(
            s.image_get("a-shared")
                .await
                .expect("get")
                .expect("exists")
                .staging,
            staged
        );
        let u = s.usage("A").await.expect("usage");
        assert_eq!(
            u,
            Usage {
                image_count: 4,
                size_total: 5,
                stage_total: 5,
                uploading: 1
            }
        );

        // Tags.
        assert!(s.tag_add("a-private", "y", 30).await.expect("tag"));
        assert!(s.tag_add("a-private", "y", 31).await.expect("tag again"));
        assert!(!s.tag_add("nope", "y", 31).await.expect("tag on missing"));
        assert!(s.tag_remove("a-private", "x", 32).await.expect("untag"));
        assert!(
            !s.tag_remove("a-private", "x", 32)
                .await
                .expect("untag again")
        );
        assert_eq!(
            s.image_get("a-private")
                .await
                .expect("get")
                .expect("exists")
                .tags,
            ["y"]
        );

        // Delete takes members, tags and properties along.
        assert!(s.image_delete("a-shared").await.expect("delete").is_some());
        assert!(s.image_delete("a-shared").await.expect("delete").is_none());
        assert!(s.member_list("a-shared").await.expect("members").is_empty());
        assert!(
            s.member_get("a-shared", "B")
                .await
                .expect("member")
                .is_none()
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn metadefs_and_tasks_on_every_engine() {
    use crate::model::{Association, MetadefObject, MetadefProperty, MetadefTag, Namespace, Task};
    use serde_json::json;

    for t in testing::engines().await {
        let engine = t.engine();
        let db = t.db().clone();
        db.migrate("image", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db);
        let ns = |id: &str, name: &str, owner: &str, visibility: &str, at: i64| Namespace {
            id: id.into(),
            namespace: name.into(),
            display_name: None,
            description: Some("d".into()),
            visibility: visibility.into(),
            protected: false,
            owner: Some(owner.into()),
            created_at: at,
            updated_at: at,
        };
        s.namespace_create(&ns("n1", "one", "A", "public", 1))
            .await
            .expect("ns");
        s.namespace_create(&ns("n2", "two", "B", "private", 2))
            .await
            .expect("ns");
        assert!(
            matches!(
                s.namespace_create(&ns("n3", "one", "A", "public", 3)).await,
                Err(StoreError::Duplicate)
            ),
            "{engine:?}"
        );
        let q = NamespaceQuery {
            project_id: Some("A".into()),
            sort_key: "created_at",
            sort_desc: true,
            ..Default::default()
        };
        let names = |v: Vec<Namespace>| v.into_iter().map(|n| n.namespace).collect::<Vec<_>>();
        assert_eq!(
            names(s.namespace_list(&q).await.expect("list")),
            ["one"],
            "{engine:?}"
        );
        let admin = NamespaceQuery {
            admin: true,
            ..q.clone()
        };
        assert_eq!(
            names(s.namespace_list(&admin).await.expect("list")),
            ["two", "one"]
        );

        // Seeded resource types, and one made by its first association.
        let types = s.resource_type_list().await.expect("types");
        assert_eq!(types.len(), 6, "{engine:?}");
        assert_eq!(types[0].name, "OS::Glance::Image");
        let assoc = |name: &str| Association {
            namespace_id: "n1".into(),
            name: name.into(),
            prefix: Some("p_".into()),
            properties_target: None,
            created_at: 5,
            updated_at: 5,
        };
        s.association_create(&assoc("OS::Glance::Image"))
            .await
            .expect("assoc");
        s.association_create(&assoc("New::Type"))
            .await
            .expect("assoc new");
        assert!(matches!(
            s.association_create(&assoc("New::Type")).await,
            Err(StoreError::Duplicate)
        ));
        assert_eq!(s.resource_type_list().await.expect("types").len(), 7);
        let by_type = NamespaceQuery {
            resource_types: Some(vec!["New::Type".into()]),
            ..admin.clone()
        };
        assert_eq!(
            names(s.namespace_list(&by_type).await.expect("list")),
            ["one"]
        );
        assert!(s.association_delete("n1", "New::Type").await.expect("del"));
        assert!(
            !s.association_delete("n1", "New::Type")
                .await
                .expect("del again")
        );

        // Objects, properties and tags.
        let obj = MetadefObject {
            id: "o1".into(),
            namespace_id: "n1".into(),
            name: "obj".into(),
            description: None,
            required: Some(vec!["p".into()]),
            properties: json!({"p": {"title": "P", "type": "string"}})
                .as_object()
                .cloned(),
            created_at: 6,
            updated_at: 6,
        };
        s.object_create(&obj).await.expect("object");
        assert_eq!(
            s.object_get("n1", "obj").await.expect("get"),
            Some(obj.clone())
        );
        let prop = MetadefProperty {
            id: "p1".into(),
            namespace_id: "n1".into(),
            name: "prop".into(),
            schema: json!({"title": "T", "type": "integer"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            created_at: 7,
            updated_at: 7,
        };
        s.property_create(&prop).await.expect("property");
        assert_eq!(s.property_list("n1").await.expect("list"), [prop]);
        let tag = |id: &str, name: &str| MetadefTag {
            id: id.into(),
            namespace_id: "n1".into(),
            name: name.into(),
            created_at: 8,
            updated_at: 8,
        };
        s.tags_create("n1", &[tag("t1", "Alpha"), tag("t2", "beta")], true)
            .await
            .expect("tags");
        assert!(
            matches!(
                s.tags_create("n1", &[tag("t3", "ALPHA")], false).await,
                Err(StoreError::Duplicate)
            ),
            "{engine:?}"
        );
        assert_eq!(s.tag_list("n1").await.expect("tags").len(), 2);

        // Renaming keeps the contents; deleting takes them along.
        let mut one = s.namespace_get("one").await.expect("get").expect("exists");
        one.namespace = "uno".into();
        assert!(s.namespace_update(&one).await.expect("rename"));
        assert!(s.object_get("n1", "obj").await.expect("get").is_some());
        assert!(s.namespace_delete("n1").await.expect("delete"));
        assert!(s.object_list("n1").await.expect("objects").is_empty());
        assert!(s.tag_list("n1").await.expect("tags").is_empty());
        assert!(s.association_list("n1").await.expect("assoc").is_empty());

        // Tasks.
        let task = Task {
            id: "t1".into(),
            kind: "api_image_import".into(),
            status: "processing".into(),
            owner: Some("A".into()),
            image_id: Some("img".into()),
            request_id: Some("req-1".into()),
            user_id: Some("u".into()),
            input: Some(json!({"image_id": "img"})),
            result: None,
            message: None,
            expires_at: None,
            created_at: 10,
            updated_at: 10,
        };
        s.task_create(&task).await.expect("task");
        let done = Task {
            status: "success".into(),
            result: Some(json!({"image_id": "img"})),
            expires_at: Some(100),
            updated_at: 11,
            ..task.clone()
        };
        assert!(s.task_finish(&done).await.expect("finish"));
        assert_eq!(s.task_get("t1").await.expect("get"), Some(done.clone()));
        assert_eq!(
            s.task_list(Some("img"), None, 50).await.expect("list"),
            std::slice::from_ref(&done)
        );
        assert!(
            s.task_list(None, Some("B"), 50)
                .await
                .expect("list")
                .is_empty()
        );
        assert!(
            s.task_list(Some("img"), None, 101)
                .await
                .expect("list")
                .is_empty()
        );
        s.task_purge_expired(101).await.expect("purge");
        assert_eq!(s.task_get("t1").await.expect("get"), None);
        t.cleanup().await;
    }
}
