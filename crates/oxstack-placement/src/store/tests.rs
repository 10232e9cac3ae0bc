//! Store tests on every engine.

use oxstack_common::db::testing;

use super::*;
use crate::model::{Inventory, Provider};

fn provider(uuid: &str, name: &str) -> Provider {
    Provider {
        uuid: uuid.into(),
        name: name.into(),
        generation: 0,
        parent_uuid: None,
        root_uuid: uuid.into(),
    }
}

fn vcpu(total: i64) -> Inventory {
    Inventory {
        resource_class: "VCPU".into(),
        total,
        reserved: 0,
        min_unit: 1,
        max_unit: 2 * total,
        step_size: 1,
        allocation_ratio: 2.0,
    }
}

fn claim(consumer: &str, provider: &str, n: i64) -> ConsumerWrite {
    ConsumerWrite {
        consumer_uuid: consumer.into(),
        project_id: "p".into(),
        user_id: "u".into(),
        expected_generation: None,
        allocations: vec![(provider.into(), "VCPU".into(), n)],
    }
}

#[tokio::test]
async fn providers_inventories_and_claims_on_every_engine() {
    for t in testing::engines().await {
        let db = t.db();
        db.migrate("placement", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db.clone());
        let p = "11111111-1111-1111-1111-111111111111";
        s.provider_create(&provider(p, "host1"))
            .await
            .expect("create");
        assert!(matches!(
            s.provider_create(&provider("22222222-2222-2222-2222-222222222222", "host1"))
                .await,
            Err(StoreError::Duplicate)
        ));
        assert_eq!(s.inventory_set(p, 0, &[vcpu(4)]).await.expect("inv"), 1);
        assert!(matches!(
            s.inventory_set(p, 0, &[vcpu(4)]).await,
            Err(StoreError::Conflict(_))
        ));
        let inv = s.inventory_list(p).await.expect("list");
        assert_eq!(inv, vec![vcpu(4)], "{:?}", t.engine());
        // capacity 8 (ratio 2.0)
        s.allocations_replace(&[claim("c1", p, 6)])
            .await
            .expect("claim");
        assert!(matches!(
            s.allocations_replace(&[claim("c2", p, 3)]).await,
            Err(StoreError::Capacity(_))
        ));
        // Replacing c1's own allocation does not count it twice.
        s.allocations_replace(&[claim("c1", p, 8)])
            .await
            .expect("replace");
        assert_eq!(s.usages_for_provider(p).await.expect("usage")["VCPU"], 8);
        assert_eq!(
            s.usages_for_project("p", Some("u")).await.expect("usages")["VCPU"],
            8
        );
        assert_eq!(s.snapshot().await.expect("snapshot").usages[p]["VCPU"], 8);
        assert_eq!(
            s.provider_get(p).await.expect("get").expect("p").generation,
            3
        );
        // Shrinking below usage or removing an allocated class is refused.
        assert!(matches!(
            s.inventory_set(p, 3, &[vcpu(3)]).await,
            Err(StoreError::InUse(_))
        ));
        assert!(matches!(
            s.inventory_set(p, 3, &[]).await,
            Err(StoreError::InUse(_))
        ));
        assert!(matches!(
            s.provider_delete(p).await,
            Err(StoreError::InUse(_))
        ));
        // Consumer generations.
        let c = s.consumer_get("c1").await.expect("c").expect("exists");
        assert_eq!(c.generation, 1);
        let mut stale = claim("c1", p, 1);
        stale.expected_generation = Some(Some(0));
        assert!(matches!(
            s.allocations_replace(&[stale]).await,
            Err(StoreError::Conflict(_))
        ));
        let mut gone = claim("c1", p, 1);
        gone.allocations.clear();
        s.allocations_replace(&[gone]).await.expect("delete");
        assert!(s.consumer_get("c1").await.expect("c").is_none());
        assert_eq!(
            s.usages_for_project("p", None).await.expect("usages").len(),
            0
        );
        s.provider_traits_set(p, 4, &["CUSTOM_A".into()])
            .await
            .expect("traits");
        s.provider_aggregates_set(p, Some(5), &["agg".into()])
            .await
            .expect("aggs");
        let snap = s.snapshot().await.expect("snapshot");
        assert_eq!(snap.providers.len(), 1);
        assert!(snap.traits[p].contains("CUSTOM_A"));
        s.provider_delete(p).await.expect("delete");
        assert!(s.provider_get(p).await.expect("get").is_none());
        t.cleanup().await;
    }
}
