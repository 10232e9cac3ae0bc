//! The image service's policy defaults: Glance's secure-RBAC defaults, as data.
//!
//! Targets are built by [`crate::app`] the way Glance's `ImageTarget` presents an image:
//! `project_id` and `owner` are the image's owner, `visibility` its visibility, and
//! `member_id` the caller's project when the image is shared with it (Glance sets it only
//! for a shared image found through a membership).
//!
//! Metadata definitions (`glance/policies/metadef.py`) are checked against Glance's
//! `MetadefAPIPolicy` target: the namespace's owner as `project_id` and its visibility, or
//! just the caller's project where there is no namespace yet. Tasks
//! (`glance/policies/tasks.py`) are gated by `tasks_api_access` alone.

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

const METADEF_ADMIN: &str = "rule:metadef_admin";
/// Glance's `ADMIN_OR_PROJECT_READER_GET_NAMESPACE`: the owner's readers, and every reader
/// for a public namespace.
const ADMIN_OR_PROJECT_READER_GET_NAMESPACE: &str = "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))";
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
    RuleDefault::new("default", "").description("The rule Glance's task rules refer to."),
    RuleDefault::new("metadef_default", ""),
    RuleDefault::new("metadef_admin", ADMIN),
    rule!(
        "get_metadef_namespace",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "Get a specific namespace.",
        [("GET", "/v2/metadefs/namespaces/{namespace_name}")]
    ),
    rule!(
        "get_metadef_namespaces",
        ADMIN_OR_PROJECT_READER,
        "List namespace.",
        [("GET", "/v2/metadefs/namespaces")]
    ),
    rule!(
        "modify_metadef_namespace",
        METADEF_ADMIN,
        "Modify an existing namespace.",
        [("PUT", "/v2/metadefs/namespaces/{namespace_name}")]
    ),
    rule!(
        "add_metadef_namespace",
        METADEF_ADMIN,
        "Create a namespace.",
        [("POST", "/v2/metadefs/namespaces")]
    ),
    rule!(
        "delete_metadef_namespace",
        METADEF_ADMIN,
        "Delete a namespace.",
        [("DELETE", "/v2/metadefs/namespaces/{namespace_name}")]
    ),
    rule!(
        "get_metadef_object",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "Get a specific object from a namespace.",
        [(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}"
        )]
    ),
    rule!(
        "get_metadef_objects",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "Get objects from a namespace.",
        [("GET", "/v2/metadefs/namespaces/{namespace_name}/objects")]
    ),
    rule!(
        "modify_metadef_object",
        METADEF_ADMIN,
        "Update an object within a namespace.",
        [(
            "PUT",
            "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}"
        )]
    ),
    rule!(
        "add_metadef_object",
        METADEF_ADMIN,
        "Create an object within a namespace.",
        [("POST", "/v2/metadefs/namespaces/{namespace_name}/objects")]
    ),
    rule!(
        "delete_metadef_object",
        METADEF_ADMIN,
        "Delete an object within a namespace.",
        [(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}"
        )]
    ),
    rule!(
        "list_metadef_resource_types",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "List meta definition resource types.",
        [("GET", "/v2/metadefs/resource_types")]
    ),
    rule!(
        "get_metadef_resource_type",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "Get meta definition resource types associations.",
        [(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/resource_types"
        )]
    ),
    rule!(
        "add_metadef_resource_type_association",
        METADEF_ADMIN,
        "Create meta definition resource types association.",
        [(
            "POST",
            "/v2/metadefs/namespaces/{namespace_name}/resource_types"
        )]
    ),
    rule!(
        "remove_metadef_resource_type_association",
        METADEF_ADMIN,
        "Delete meta definition resource types association.",
        [(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/resource_types/{name}"
        )]
    ),
    rule!(
        "get_metadef_property",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "Get a specific meta definition property.",
        [(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}"
        )]
    ),
    rule!(
        "get_metadef_properties",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "List meta definition properties.",
        [("GET", "/v2/metadefs/namespaces/{namespace_name}/properties")]
    ),
    rule!(
        "modify_metadef_property",
        METADEF_ADMIN,
        "Update meta definition property.",
        [(
            "PUT",
            "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}"
        )]
    ),
    rule!(
        "add_metadef_property",
        METADEF_ADMIN,
        "Create meta definition property.",
        [(
            "POST",
            "/v2/metadefs/namespaces/{namespace_name}/properties"
        )]
    ),
    rule!(
        "remove_metadef_property",
        METADEF_ADMIN,
        "Delete meta definition property.",
        [(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}"
        )]
    ),
    rule!(
        "get_metadef_tag",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "Get tag definition.",
        [(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}"
        )]
    ),
    rule!(
        "get_metadef_tags",
        ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
        "List tag definitions.",
        [("GET", "/v2/metadefs/namespaces/{namespace_name}/tags")]
    ),
    rule!(
        "modify_metadef_tag",
        METADEF_ADMIN,
        "Update tag definition.",
        [(
            "PUT",
            "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}"
        )]
    ),
    rule!(
        "add_metadef_tag",
        METADEF_ADMIN,
        "Add tag definition.",
        [(
            "POST",
            "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}"
        )]
    ),
    rule!(
        "add_metadef_tags",
        METADEF_ADMIN,
        "Create tag definitions.",
        [("POST", "/v2/metadefs/namespaces/{namespace_name}/tags")]
    ),
    rule!(
        "delete_metadef_tag",
        METADEF_ADMIN,
        "Delete tag definition.",
        [(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}"
        )]
    ),
    rule!(
        "delete_metadef_tags",
        METADEF_ADMIN,
        "Delete tag definitions.",
        [("DELETE", "/v2/metadefs/namespaces/{namespace_name}/tags")]
    ),
    rule!(
        "get_task",
        "rule:default",
        "Get an image task.",
        [("GET", "/v2/tasks/{task_id}")]
    ),
    rule!(
        "get_tasks",
        "rule:default",
        "List tasks for all images.",
        [("GET", "/v2/tasks")]
    ),
    rule!(
        "add_task",
        "rule:default",
        "Create a task.",
        [("POST", "/v2/tasks")]
    ),
    rule!(
        "tasks_api_access",
        ADMIN,
        "Every call of the tasks API (`/v2/tasks`); import tasks of images are shown under `get_image`.",
        [
            ("GET", "/v2/tasks/{task_id}"),
            ("GET", "/v2/tasks"),
            ("POST", "/v2/tasks"),
            ("DELETE", "/v2/tasks/{task_id}"),
        ]
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
