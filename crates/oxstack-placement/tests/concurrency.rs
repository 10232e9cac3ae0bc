//! Claims are atomic: 200 concurrent claims through the router against one host with room
//! for exactly N never oversubscribe it, on every engine.

mod common;

use axum::http::{Method, StatusCode};
use common::{clouds, new_uuid};
use serde_json::json;

const CLAIMS: usize = 200;
/// Room for exactly this many 1-VCPU/512-MB claims: VCPU capacity (24 - 4) * 2.0 = 40,
/// memory would fit more.
const ROOM: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_oversubscribe_on_every_engine() {
    for c in clouds().await {
        let engine = c.engine();
        let host = c.provider("host-1", None).await;
        c.inventory(
            &host,
            json!({
                "VCPU": {"total": 24, "reserved": 4, "allocation_ratio": 2.0},
                "MEMORY_MB": {"total": 65536, "reserved": 512},
            }),
        )
        .await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CLAIMS {
            let c = c.handle();
            let host = host.clone();
            tasks.spawn(async move {
                let r = c
                    .claim(
                        &new_uuid(),
                        json!({ host: {"resources": {"VCPU": 1, "MEMORY_MB": 512}} }),
                    )
                    .await;
                (r.status, r.code().to_string(), r.body.to_string())
            });
        }
        let (mut ok, mut refused) = (0, 0);
        while let Some(r) = tasks.join_next().await {
            let (status, code, body) = r.expect("task");
            match status {
                StatusCode::NO_CONTENT => ok += 1,
                StatusCode::CONFLICT => {
                    // Refused for capacity, never because the race was lost too often.
                    assert_ne!(code, "placement.concurrent_update", "{engine}: {body}");
                    assert!(body.contains("exceed the capacity"), "{engine}: {body}");
                    refused += 1;
                }
                s => panic!("{engine}: unexpected {s}: {body}"),
            }
        }
        assert_eq!(ok, ROOM, "{engine}: exactly the room is claimed");
        assert_eq!(refused, CLAIMS - ROOM, "{engine}");
        let u = c
            .admin(
                Method::GET,
                &format!("/resource_providers/{host}/usages"),
                "1.36",
                None,
            )
            .await;
        assert_eq!(u.body["usages"]["VCPU"], json!(ROOM), "{engine}");
        assert_eq!(u.body["usages"]["MEMORY_MB"], json!(ROOM * 512), "{engine}");
        // Every claim bumped the generation once (plus one for the inventory).
        assert_eq!(
            u.body["resource_provider_generation"],
            json!(ROOM + 1),
            "{engine}"
        );
        let a = c
            .admin(
                Method::GET,
                &format!("/resource_providers/{host}/allocations"),
                "1.36",
                None,
            )
            .await;
        assert_eq!(
            a.body["allocations"].as_object().map(|m| m.len()),
            Some(ROOM),
            "{engine}"
        );
        c.cleanup().await;
    }
}
