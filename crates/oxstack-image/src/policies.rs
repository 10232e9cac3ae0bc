//! The image service's policy defaults: Glance's secure-RBAC defaults, as data.
//!
//! Targets are built by [`crate::app`] the way Glance's `ImageTarget` presents an image:
//! `project_id` and `owner` are the image's owner, `visibility` its visibility, and
//! `member_id` the caller's project when the image is shared with it (Glance sets it only
//! for a shared image found through a membership).

use oxstack_common::policy::RuleDefault;

const PROJECT: &[&str] = &["project"];

macro_rules! rule {
    ($name:literal, $check:expr, $desc:literal, [$(($m:literal, $p:literal)),* $(,)?]) => {
        RuleDefault {
            name: $name,
            check_str: $check,
            scope_types: PROJECT,
            description: $desc,
            operations: &[$(($m, $p)),*],
            deprecated: None,
        }
    };
}

const ADMIN: &str = "rule:context_is_admin";
const ADMIN_OR_PROJECT_MEMBER: &str =
    "rule:context_is_admin or (role:member and project_id:%(project_id)s)";
const ADMIN_OR_PROJECT_READER: &str =
    "rule:context_is_admin or (role:reader and project_id:%(project_id)s)";
const ADMIN_OR_PROJECT_READER_GET_IMAGE: &str = "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))";
const ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE: &str = "rule:context_is_admin or (role:member and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))";
const ADMIN_OR_PROJECT_MEMBER_CREATE_IMAGE: &str =
    "rule:context_is_admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)";
const ADMIN_OR_SHARED_MEMBER: &str =
    "rule:context_is_admin or (role:member and project_id:%(member_id)s)";
const ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER: &str = "rule:context_is_admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)";

/// Every image rule.
pub const DEFAULTS: &[RuleDefault] = &[
    RuleDefault::new("context_is_admin", "role:admin")
        .description("Defines the rule for the is_admin:True check."),
    RuleDefault::new("service_api", "role:service or role:admin")
        .description("Default rule for the service-to-service API."),
    rule!(
        "add_image",
        ADMIN_OR_PROJECT_MEMBER_CREATE_IMAGE,
        "Create new image.",
        [("POST", "/v2/images")]
    ),
    rule!(
        "delete_image",
        ADMIN_OR_PROJECT_MEMBER,
        "Deletes the image.",
        [("DELETE", "/v2/images/{image_id}")]
    ),
    rule!(
        "get_image",
        ADMIN_OR_PROJECT_READER_GET_IMAGE,
        "Get specified image.",
        [("GET", "/v2/images/{image_id}")]
    ),
    rule!(
        "get_images",
        ADMIN_OR_PROJECT_READER,
        "Get all available images.",
        [("GET", "/v2/images")]
    ),
    rule!(
        "modify_image",
        ADMIN_OR_PROJECT_MEMBER,
        "Updates given image.",
        [
            ("PATCH", "/v2/images/{image_id}"),
            ("PUT", "/v2/images/{image_id}/stage"),
            ("POST", "/v2/images/{image_id}/import"),
        ]
    ),
    rule!(
        "publicize_image",
        ADMIN,
        "Publicize given image.",
        [("PATCH", "/v2/images/{image_id}")]
    ),
    rule!(
        "communitize_image",
        ADMIN_OR_PROJECT_MEMBER,
        "Communitize given image.",
        [("PATCH", "/v2/images/{image_id}")]
    ),
    rule!(
        "download_image",
        ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE,
        "Downloads given image.",
        [("GET", "/v2/images/{image_id}/file")]
    ),
    rule!(
        "upload_image",
        ADMIN_OR_PROJECT_MEMBER,
        "Uploads data to specified image.",
        [("PUT", "/v2/images/{image_id}/file")]
    ),
    rule!(
        "add_member",
        ADMIN_OR_PROJECT_MEMBER,
        "Create image member.",
        [("POST", "/v2/images/{image_id}/members")]
    ),
    rule!(
        "delete_member",
        ADMIN_OR_PROJECT_MEMBER,
        "Delete image member.",
        [("DELETE", "/v2/images/{image_id}/members/{member_id}")]
    ),
    rule!(
        "get_member",
        ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER,
        "Show image member details.",
        [("GET", "/v2/images/{image_id}/members/{member_id}")]
    ),
    rule!(
        "get_members",
        ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER,
        "List image members.",
        [("GET", "/v2/images/{image_id}/members")]
    ),
    rule!(
        "modify_member",
        ADMIN_OR_SHARED_MEMBER,
        "Update image member.",
        [("PUT", "/v2/images/{image_id}/members/{member_id}")]
    ),
    rule!(
        "deactivate",
        ADMIN_OR_PROJECT_MEMBER,
        "Deactivate image.",
        [("POST", "/v2/images/{image_id}/actions/deactivate")]
    ),
    rule!(
        "reactivate",
        ADMIN_OR_PROJECT_MEMBER,
        "Reactivate image.",
        [("POST", "/v2/images/{image_id}/actions/reactivate")]
    ),
    rule!(
        "copy_image",
        ADMIN,
        "Copy existing image to other stores.",
        [("POST", "/v2/images/{image_id}/import")]
    ),
    RuleDefault {
        name: "stores_info_detail",
        check_str: "rule:context_is_admin or rule:service_api",
        scope_types: PROJECT,
        description: "Expose store specific information.",
        operations: &[("GET", "/v2/info/stores/detail")],
        deprecated: None,
    },
];

#[cfg(test)]
mod tests {
    use oxstack_common::policy::{Enforcer, PERSONA_PROJECT_ID};
    use serde_json::json;

    use super::DEFAULTS;

    /// Who may do what, as a reviewable snapshot: a change to the defaults shows up here.
    #[test]
    fn persona_matrix() {
        let e = Enforcer::new(DEFAULTS).expect("defaults load");
        let target = json!({
            "project_id": PERSONA_PROJECT_ID,
            "owner": PERSONA_PROJECT_ID,
            "visibility": "private",
        });
        let matrix = e.persona_matrix(|_| target.clone());
        if std::env::var_os("OXSTACK_UPDATE_SNAPSHOTS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/policies.matrix");
            std::fs::write(path, &matrix).expect("write snapshot");
            return;
        }
        let expected = include_str!("policies.matrix");
        assert_eq!(matrix, expected, "policy matrix changed:\n{matrix}");
    }

    #[test]
    fn a_member_of_a_shared_image_may_read_and_accept_but_not_modify() {
        let e = Enforcer::new(DEFAULTS).expect("defaults load");
        let mut member = oxstack_common::policy::Persona {
            scope: oxstack_common::policy::Scope::Project,
            role: "member",
        }
        .auth_info();
        member.project_id = Some("B".into());
        let shared =
            json!({"project_id": "A", "owner": "A", "visibility": "shared", "member_id": "B"});
        assert!(e.enforce("get_image", &member, &shared));
        assert!(e.enforce("download_image", &member, &shared));
        assert!(e.enforce("modify_member", &member, &shared));
        assert!(!e.enforce("modify_image", &member, &shared));
        assert!(!e.enforce("add_member", &member, &shared));
        let private = json!({"project_id": "A", "owner": "A", "visibility": "private"});
        assert!(!e.enforce("get_image", &member, &private));
        let public = json!({"project_id": "A", "owner": "A", "visibility": "public"});
        assert!(e.enforce("get_image", &member, &public));
        assert!(!e.enforce("delete_image", &member, &public));
    }
}
