//! The placement service's policy defaults, as placement ships them (placement/policies/):
//! every API is for admins and services only, except `GET /usages`, which a reader of the
//! project may also call. All rules are for project-scoped tokens.

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

const ADMIN_OR_SERVICE: &str = "rule:admin_or_service_api";
const ADMIN_OR_PROJECT_READER_OR_SERVICE: &str = "rule:admin_or_project_reader_or_service_api";

/// Every placement rule.
pub const DEFAULTS: &[RuleDefault] = &[
    RuleDefault::new("admin_api", "role:admin")
        .scope_types(PROJECT)
        .description("Default rule for most placement APIs."),
    RuleDefault::new("service_api", "role:service")
        .scope_types(PROJECT)
        .description("Default rule for service-to-service placement APIs."),
    RuleDefault::new("admin_or_service_api", "role:admin or role:service")
        .scope_types(PROJECT)
        .description("Default rule for most placement APIs."),
    RuleDefault::new(
        "project_reader_api",
        "role:reader and project_id:%(target.project_id)s",
    )
    .description("Default rule for project level reader APIs."),
    RuleDefault::new(
        "admin_or_project_reader_or_service_api",
        "role:admin or rule:project_reader_api or role:service",
    )
    .scope_types(PROJECT)
    .description("Default rule for project level reader APIs."),
    rule!(
        "placement:resource_providers:list",
        ADMIN_OR_SERVICE,
        "List resource providers.",
        [("GET", "/resource_providers")]
    ),
    rule!(
        "placement:resource_providers:create",
        ADMIN_OR_SERVICE,
        "Create resource provider.",
        [("POST", "/resource_providers")]
    ),
    rule!(
        "placement:resource_providers:show",
        ADMIN_OR_SERVICE,
        "Show resource provider.",
        [("GET", "/resource_providers/{uuid}")]
    ),
    rule!(
        "placement:resource_providers:update",
        ADMIN_OR_SERVICE,
        "Update resource provider.",
        [("PUT", "/resource_providers/{uuid}")]
    ),
    rule!(
        "placement:resource_providers:delete",
        ADMIN_OR_SERVICE,
        "Delete resource provider.",
        [("DELETE", "/resource_providers/{uuid}")]
    ),
    rule!(
        "placement:resource_providers:inventories:list",
        ADMIN_OR_SERVICE,
        "List resource provider inventories.",
        [("GET", "/resource_providers/{uuid}/inventories")]
    ),
    rule!(
        "placement:resource_providers:inventories:create",
        ADMIN_OR_SERVICE,
        "Create one resource provider inventory.",
        [("POST", "/resource_providers/{uuid}/inventories")]
    ),
    rule!(
        "placement:resource_providers:inventories:show",
        ADMIN_OR_SERVICE,
        "Show resource provider inventory.",
        [(
            "GET",
            "/resource_providers/{uuid}/inventories/{resource_class}"
        )]
    ),
    rule!(
        "placement:resource_providers:inventories:update",
        ADMIN_OR_SERVICE,
        "Update resource provider inventory.",
        [
            ("PUT", "/resource_providers/{uuid}/inventories"),
            (
                "PUT",
                "/resource_providers/{uuid}/inventories/{resource_class}"
            )
        ]
    ),
    rule!(
        "placement:resource_providers:inventories:delete",
        ADMIN_OR_SERVICE,
        "Delete resource provider inventory.",
        [
            ("DELETE", "/resource_providers/{uuid}/inventories"),
            (
                "DELETE",
                "/resource_providers/{uuid}/inventories/{resource_class}"
            )
        ]
    ),
    rule!(
        "placement:resource_providers:aggregates:list",
        ADMIN_OR_SERVICE,
        "List resource provider aggregates.",
        [("GET", "/resource_providers/{uuid}/aggregates")]
    ),
    rule!(
        "placement:resource_providers:aggregates:update",
        ADMIN_OR_SERVICE,
        "Update resource provider aggregates.",
        [("PUT", "/resource_providers/{uuid}/aggregates")]
    ),
    rule!(
        "placement:resource_providers:usages",
        ADMIN_OR_SERVICE,
        "List resource provider usages.",
        [("GET", "/resource_providers/{uuid}/usages")]
    ),
    rule!(
        "placement:usages",
        ADMIN_OR_PROJECT_READER_OR_SERVICE,
        "List total resource usages for a given project.",
        [("GET", "/usages")]
    ),
    rule!(
        "placement:resource_classes:list",
        ADMIN_OR_SERVICE,
        "List resource classes.",
        [("GET", "/resource_classes")]
    ),
    rule!(
        "placement:resource_classes:create",
        ADMIN_OR_SERVICE,
        "Create resource class.",
        [("POST", "/resource_classes")]
    ),
    rule!(
        "placement:resource_classes:show",
        ADMIN_OR_SERVICE,
        "Show resource class.",
        [("GET", "/resource_classes/{name}")]
    ),
    rule!(
        "placement:resource_classes:update",
        ADMIN_OR_SERVICE,
        "Update resource class.",
        [("PUT", "/resource_classes/{name}")]
    ),
    rule!(
        "placement:resource_classes:delete",
        ADMIN_OR_SERVICE,
        "Delete resource class.",
        [("DELETE", "/resource_classes/{name}")]
    ),
    rule!(
        "placement:traits:list",
        ADMIN_OR_SERVICE,
        "List traits.",
        [("GET", "/traits")]
    ),
    rule!(
        "placement:traits:show",
        ADMIN_OR_SERVICE,
        "Show trait.",
        [("GET", "/traits/{name}")]
    ),
    rule!(
        "placement:traits:update",
        ADMIN_OR_SERVICE,
        "Update trait.",
        [("PUT", "/traits/{name}")]
    ),
    rule!(
        "placement:traits:delete",
        ADMIN_OR_SERVICE,
        "Delete trait.",
        [("DELETE", "/traits/{name}")]
    ),
    rule!(
        "placement:resource_providers:traits:list",
        ADMIN_OR_SERVICE,
        "List resource provider traits.",
        [("GET", "/resource_providers/{uuid}/traits")]
    ),
    rule!(
        "placement:resource_providers:traits:update",
        ADMIN_OR_SERVICE,
        "Update resource provider traits.",
        [("PUT", "/resource_providers/{uuid}/traits")]
    ),
    rule!(
        "placement:resource_providers:traits:delete",
        ADMIN_OR_SERVICE,
        "Delete resource provider traits.",
        [("DELETE", "/resource_providers/{uuid}/traits")]
    ),
    rule!(
        "placement:resource_providers:allocations:list",
        ADMIN_OR_SERVICE,
        "List resource provider allocations.",
        [("GET", "/resource_providers/{uuid}/allocations")]
    ),
    rule!(
        "placement:allocations:manage",
        ADMIN_OR_SERVICE,
        "Manage allocations.",
        [("POST", "/allocations")]
    ),
    rule!(
        "placement:allocations:list",
        ADMIN_OR_SERVICE,
        "List allocations.",
        [("GET", "/allocations/{consumer_uuid}")]
    ),
    rule!(
        "placement:allocations:update",
        ADMIN_OR_SERVICE,
        "Update allocations.",
        [("PUT", "/allocations/{consumer_uuid}")]
    ),
    rule!(
        "placement:allocations:delete",
        ADMIN_OR_SERVICE,
        "Delete allocations.",
        [("DELETE", "/allocations/{consumer_uuid}")]
    ),
    rule!(
        "placement:allocation_candidates:list",
        ADMIN_OR_SERVICE,
        "List allocation candidates.",
        [("GET", "/allocation_candidates")]
    ),
    rule!(
        "placement:reshaper:reshape",
        "rule:service_api",
        "Reshape Inventory and Allocations.",
        [("POST", "/reshaper")]
    ),
];
