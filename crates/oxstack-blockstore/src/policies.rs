//! The block storage policy defaults, as Cinder registers them (cinder/policies/*.py,
//! secure-RBAC defaults: project scope; `admin`, project `member` and `reader`). Targets are
//! Cinder's flat dictionaries: `{"project_id": ..., "user_id": ...}`.

use oxstack_common::policy::RuleDefault;

const ADMIN: &str = "rule:admin_api";
const MEMBER: &str = "rule:project_member_or_admin";
const READER: &str = "rule:project_reader_or_admin";
const ANY: &str = "@";
const P: &[&str] = &["project"];

macro_rules! rules {
    ($( $name:literal => $check:expr, $desc:literal, [$( ($m:literal, $p:literal) ),*] ;)*) => {
        &[ $( RuleDefault::new($name, $check).scope_types(P).description($desc).operations(&[$(($m, $p)),*]), )* ]
    };
}

/// Base rules others refer to.
pub const BASE: &[RuleDefault] = &[
    RuleDefault::new("context_is_admin", "role:admin")
        .description("Decides what is required for the 'is_admin:True' check to succeed."),
    RuleDefault::new("admin_api", "rule:context_is_admin")
        .description("Default rule for most Admin APIs."),
    RuleDefault::new(
        "project_member_api",
        "role:member and project_id:%(project_id)s",
    )
    .description("Default rule for Project level non admin APIs."),
    RuleDefault::new(
        "project_reader_api",
        "role:reader and project_id:%(project_id)s",
    )
    .description("Default rule for Project level read only APIs."),
    RuleDefault::new(
        "project_member_or_admin",
        "rule:project_member_api or rule:context_is_admin",
    )
    .description("Default rule for Project Member or admin APIs."),
    RuleDefault::new(
        "project_reader_or_admin",
        "rule:project_reader_api or rule:context_is_admin",
    )
    .description("Default rule for Project reader or admin APIs."),
];

/// Every API rule.
pub const API: &[RuleDefault] = rules! {
    "volume:create" => MEMBER, "Create volume.", [("POST", "/volumes")];
    "volume:create_from_image" => MEMBER, "Create volume from image.", [("POST", "/volumes")];
    "volume:get" => READER, "Show volume.", [("GET", "/volumes/{volume_id}")];
    "volume:get_all" => READER, "List volumes or get summary of volumes.", [("GET", "/volumes"), ("GET", "/volumes/detail"), ("GET", "/volumes/summary")];
    "volume:update" => MEMBER, "Update volume or update a volume's bootable status.", [("PUT", "/volumes"), ("POST", "/volumes/{volume_id}/action (os-set_bootable)")];
    "volume:delete" => MEMBER, "Delete volume.", [("DELETE", "/volumes/{volume_id}")];
    "volume:force_delete" => ADMIN, "Force Delete a volume.", [("DELETE", "/volumes/{volume_id}")];
    "volume:extend" => MEMBER, "Extend a volume.", [("POST", "/volumes/{volume_id}/action (os-extend)")];
    "volume:extend_attached_volume" => MEMBER, "Extend a attached volume.", [("POST", "/volumes/{volume_id}/action (os-extend)")];
    "volume:update_readonly_flag" => MEMBER, "Update volume read-only flag.", [("POST", "/volumes/{volume_id}/action (os-update_readonly_flag)")];
    "volume:retype" => MEMBER, "Retype a volume.", [("POST", "/volumes/{volume_id}/action (os-retype)")];
    "volume_extension:volume_admin_actions:reset_status" => ADMIN, "Reset status of a volume.", [("POST", "/volumes/{volume_id}/action (os-reset_status)")];
    "volume_extension:volume_admin_actions:force_delete" => ADMIN, "Force delete a volume.", [("POST", "/volumes/{volume_id}/action (os-force_delete)")];
    "volume_extension:volume_admin_actions:force_detach" => ADMIN, "Force detach a volume.", [("POST", "/volumes/{volume_id}/action (os-force_detach)")];
    "volume_extension:snapshot_admin_actions:reset_status" => ADMIN, "Reset status of a snapshot.", [("POST", "/snapshots/{snapshot_id}/action (os-reset_status)")];
    "snapshot_extension:snapshot_actions:update_snapshot_status" => MEMBER, "Update database fields of snapshot.", [("POST", "/snapshots/{snapshot_id}/action (update_snapshot_status)")];
    "volume_extension:snapshot_admin_actions:force_delete" => ADMIN, "Force delete a snapshot.", [("POST", "/snapshots/{snapshot_id}/action (os-force_delete)")];
    "volume_extension:volume_host_attribute" => ADMIN, "List or show volume with host attribute.", [("GET", "/volumes/{volume_id}"), ("GET", "/volumes/detail")];
    "volume_extension:volume_mig_status_attribute" => ADMIN, "List or show volume with migration status attribute.", [("GET", "/volumes/{volume_id}"), ("GET", "/volumes/detail")];
    "volume_extension:volume_tenant_attribute" => READER, "List or show volume with tenant attribute.", [("GET", "/volumes/{volume_id}"), ("GET", "/volumes/detail")];
    "volume:get_volume_metadata" => READER, "Show volume's metadata or one specified metadata with a given key.", [("GET", "/volumes/{volume_id}/metadata"), ("GET", "/volumes/{volume_id}/metadata/{key}")];
    "volume:create_volume_metadata" => MEMBER, "Create volume metadata.", [("POST", "/volumes/{volume_id}/metadata")];
    "volume:update_volume_metadata" => MEMBER, "Replace a volume's metadata dictionary or update a single metadatum with a given key.", [("PUT", "/volumes/{volume_id}/metadata"), ("PUT", "/volumes/{volume_id}/metadata/{key}")];
    "volume:delete_volume_metadata" => MEMBER, "Delete a volume's metadatum with the given key.", [("DELETE", "/volumes/{volume_id}/metadata/{key}")];
    "volume_extension:volume_image_metadata:show" => READER, "Include volume's image metadata in volume detail/list responses.", [("GET", "/volumes/{volume_id}")];
    "volume_extension:volume_image_metadata:set" => MEMBER, "Set image metadata for a volume", [("POST", "/volumes/{volume_id}/action (os-set_image_metadata)")];
    "volume_extension:volume_image_metadata:remove" => MEMBER, "Remove specific image metadata from a volume", [("POST", "/volumes/{volume_id}/action (os-unset_image_metadata)")];
    "volume_extension:volume_actions:attach" => MEMBER, "Attach a volume.", [("POST", "/volumes/{volume_id}/action (os-attach)")];
    "volume_extension:volume_actions:detach" => MEMBER, "Detach a volume.", [("POST", "/volumes/{volume_id}/action (os-detach)")];
    "volume_extension:volume_actions:reserve" => MEMBER, "Mark volume as reserved.", [("POST", "/volumes/{volume_id}/action (os-reserve)")];
    "volume_extension:volume_actions:unreserve" => MEMBER, "Unmark volume as reserved.", [("POST", "/volumes/{volume_id}/action (os-unreserve)")];
    "volume_extension:volume_actions:begin_detaching" => MEMBER, "Begin detach volumes.", [("POST", "/volumes/{volume_id}/action (os-begin_detaching)")];
    "volume_extension:volume_actions:roll_detaching" => MEMBER, "Roll back volume status to 'in-use'.", [("POST", "/volumes/{volume_id}/action (os-roll_detaching)")];
    "volume_extension:volume_actions:initialize_connection" => MEMBER, "Initialize volume attachment.", [("POST", "/volumes/{volume_id}/action (os-initialize_connection)")];
    "volume_extension:volume_actions:terminate_connection" => MEMBER, "Terminate volume attachment.", [("POST", "/volumes/{volume_id}/action (os-terminate_connection)")];
    "volume_extension:volume_actions:upload_image" => MEMBER, "Upload a volume to image.", [("POST", "/volumes/{volume_id}/action (os-volume_upload_image)")];
    "volume_extension:volume_actions:upload_public" => ADMIN, "Upload a volume to image with public visibility.", [("POST", "/volumes/{volume_id}/action (os-volume_upload_image)")];
    "volume:attachment_create" => MEMBER, "Create attachment.", [("POST", "/attachments")];
    "volume:attachment_update" => MEMBER, "Update attachment.", [("PUT", "/attachments/{attachment_id}")];
    "volume:attachment_delete" => MEMBER, "Delete attachment.", [("DELETE", "/attachments/{attachment_id}")];
    "volume:attachment_complete" => MEMBER, "Mark a volume attachment process as completed (in-use)", [("POST", "/attachments/{attachment_id}/action (os-complete)")];
    "volume:attachment_get" => READER, "Show attachment.", [("GET", "/attachments/{attachment_id}")];
    "volume:attachment_get_all" => READER, "List attachments.", [("GET", "/attachments"), ("GET", "/attachments/detail")];
    "volume:create_snapshot" => MEMBER, "Create snapshot.", [("POST", "/snapshots")];
    "volume:get_snapshot" => READER, "Show snapshot.", [("GET", "/snapshots/{snapshot_id}")];
    "volume:get_all_snapshots" => READER, "List snapshots.", [("GET", "/snapshots"), ("GET", "/snapshots/detail")];
    "volume:update_snapshot" => MEMBER, "Update snapshot.", [("PUT", "/snapshots/{snapshot_id}")];
    "volume:delete_snapshot" => MEMBER, "Delete snapshot.", [("DELETE", "/snapshots/{snapshot_id}")];
    "volume:get_snapshot_metadata" => READER, "Show snapshot's metadata or one specified metadata with a given key.", [("GET", "/snapshots/{snapshot_id}/metadata"), ("GET", "/snapshots/{snapshot_id}/metadata/{key}")];
    "volume:update_snapshot_metadata" => MEMBER, "Update snapshot's metadata or one specified metadata with a given key.", [("POST", "/snapshots/{snapshot_id}/metadata"), ("PUT", "/snapshots/{snapshot_id}/metadata/{key}")];
    "volume:delete_snapshot_metadata" => MEMBER, "Delete snapshot's specified metadata with a given key.", [("DELETE", "/snapshots/{snapshot_id}/metadata/{key}")];
    "volume_extension:extended_snapshot_attributes" => READER, "List or show snapshots with extended attributes.", [("GET", "/snapshots/{snapshot_id}"), ("GET", "/snapshots/detail")];
    "volume_extension:types_manage" => ADMIN, "Create, update and delete volume type.", [("POST", "/types"), ("PUT", "/types"), ("DELETE", "/types")];
    "volume_extension:types_extra_specs:create" => ADMIN, "Create type extra specs.", [("POST", "/types/{type_id}/extra_specs")];
    "volume_extension:types_extra_specs:update" => ADMIN, "Update type extra specs.", [("PUT", "/types/{type_id}/extra_specs/{extra_spec_key}")];
    "volume_extension:types_extra_specs:delete" => ADMIN, "Delete type extra specs.", [("DELETE", "/types/{type_id}/extra_specs/{extra_spec_key}")];
    "volume_extension:types_extra_specs:index" => READER, "List type extra specs.", [("GET", "/types/{type_id}/extra_specs")];
    "volume_extension:types_extra_specs:show" => READER, "Show one specified type extra specs.", [("GET", "/types/{type_id}/extra_specs/{extra_spec_key}")];
    "volume_extension:access_types_extra_specs" => ADMIN, "Include the volume type's extra_specs attribute in the volume type list or show requests.", [("GET", "/types/{type_id}"), ("GET", "/types")];
    "volume_extension:access_types_qos_specs_id" => ADMIN, "Include the volume type's QoS specifications ID attribute in the volume type list or show requests.", [("GET", "/types/{type_id}"), ("GET", "/types")];
    "volume_extension:volume_type_access" => READER, "Volume type access related APIs.", [("GET", "/types"), ("GET", "/types/detail"), ("GET", "/types/{type_id}"), ("POST", "/types")];
    "volume_extension:volume_type_access:addProjectAccess" => ADMIN, "Add volume type access for project.", [("POST", "/types/{type_id}/action (addProjectAccess)")];
    "volume_extension:volume_type_access:removeProjectAccess" => ADMIN, "Remove volume type access for project.", [("POST", "/types/{type_id}/action (removeProjectAccess)")];
    "volume_extension:volume_type_access:get_all_for_type" => ADMIN, "List private volume type access detail, that is, list the projects that have access to this volume type.", [("GET", "/types/{type_id}/os-volume-type-access")];
    "volume_extension:quotas:show" => READER, "Show project quota (including usage and default).", [("GET", "/os-quota-sets/{project_id}"), ("GET", "/os-quota-sets/{project_id}/default")];
    "volume_extension:quotas:update" => ADMIN, "Update project quota.", [("PUT", "/os-quota-sets/{project_id}")];
    "volume_extension:quotas:delete" => ADMIN, "Delete project quota.", [("DELETE", "/os-quota-sets/{project_id}")];
    "volume_extension:quota_classes" => ADMIN, "Show or update project quota class.", [("GET", "/os-quota-class-sets/{project_id}"), ("PUT", "/os-quota-class-sets/{project_id}")];
    "limits_extension:used_limits" => READER, "Show limits with used limit attributes.", [("GET", "/limits")];
    "volume_extension:services:index" => ADMIN, "List all services.", [("GET", "/os-services")];
    "volume_extension:services:update" => ADMIN, "Update service, including failover_host, thaw, freeze, disable, enable, set-log and get-log actions.", [("PUT", "/os-services/{action}")];
    "volume_extension:availability_zone_list" => ANY, "List availability zones.", [("GET", "/os-availability-zone")];
    "volume_extension:capabilities" => ADMIN, "Show backend capabilities.", [("GET", "/capabilities/{host_name}")];
    "volume_extension:scheduler_stats:get_pools" => ADMIN, "List all backend pools.", [("GET", "/scheduler-stats/get_pools")];
};

/// Every default, base rules first.
pub fn all() -> Vec<RuleDefault> {
    BASE.iter().chain(API.iter()).copied().collect()
}

#[cfg(test)]
mod tests {
    use oxstack_common::policy::{Enforcer, PERSONA_PROJECT_ID};
    use serde_json::json;

    #[test]
    fn defaults_load_and_matrix_is_stable() {
        let e = Enforcer::new(&super::all()).expect("defaults load");
        let m = e.persona_matrix(
            |_| json!({"project_id": PERSONA_PROJECT_ID, "user_id": "another-user"}),
        );
        let row = |name: &str| {
            m.lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("{name} in matrix"))
                .split_whitespace()
                .skip(1)
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(row("volume:get"), "sss sss +++");
        assert_eq!(row("volume:create"), "sss sss ++-");
        assert_eq!(row("volume_extension:types_manage"), "sss sss +--");
        assert_eq!(
            row("volume_extension:volume_admin_actions:reset_status"),
            "sss sss +--"
        );
    }
}
