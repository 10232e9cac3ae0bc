//! Authorization as data: the role × operation matrix of Neutron's defaults, as a snapshot
//! (`UPDATE_SNAPSHOTS=1` to accept a reviewed change).

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn persona_matrix_snapshot() {
    let c = cloud().await;
    let p = oxstack_common::policy::PERSONA_PROJECT_ID;
    let matrix = c.network.policy().persona_matrix(|_| {
        json!({"project_id": p, "tenant_id": p, "network_project_id": p, "shared": false, "external": false})
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy_matrix.txt");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &matrix).expect("write snapshot");
    }
    let want = std::fs::read_to_string(&path).expect("snapshot (UPDATE_SNAPSHOTS=1 to create)");
    assert_eq!(
        matrix, want,
        "policy matrix changed; review and UPDATE_SNAPSHOTS=1"
    );
}
