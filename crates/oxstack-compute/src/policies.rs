//! The compute policy defaults, as Nova registers them (nova/policies/*.py, secure-RBAC
//! defaults: project scope; `admin`, project `member` and `reader`). Targets are Nova's flat
//! dictionaries: `{"project_id": ..., "user_id": ...}`.

use oxstack_common::policy::RuleDefault;

const ADMIN: &str = "rule:context_is_admin";
const MEMBER: &str = "rule:project_member_or_admin";
const READER: &str = "rule:project_reader_or_admin";
const ANY: &str = "@";
const KEYPAIR_OWNER: &str = "(rule:context_is_admin) or user_id:%(user_id)s";
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
    "os_compute_api:servers:index" => READER, "List all servers", [("GET", "/servers")];
    "os_compute_api:servers:detail" => READER, "List all servers with detailed information", [("GET", "/servers/detail")];
    "os_compute_api:servers:index:get_all_tenants" => ADMIN, "List all servers for all projects", [("GET", "/servers")];
    "os_compute_api:servers:detail:get_all_tenants" => ADMIN, "List all servers with details for all projects", [("GET", "/servers/detail")];
    "os_compute_api:servers:allow_all_filters" => ADMIN, "Allow all filters when listing servers", [("GET", "/servers")];
    "os_compute_api:servers:show" => READER, "Show a server", [("GET", "/servers/{server_id}")];
    "os_compute_api:ips:index" => READER, "List IP addresses that are assigned to a server", [("GET", "/servers/{server_id}/ips")];
    "os_compute_api:ips:show" => READER, "Show IP addresses details for a network label of a server", [("GET", "/servers/{server_id}/ips/{network_label}")];
    "os_compute_api:os-attach-interfaces:list" => READER, "List port interfaces attached to a server", [("GET", "/servers/{server_id}/os-interface")];
    "os_compute_api:os-attach-interfaces:show" => READER, "Show details of a port interface attached to a server", [("GET", "/servers/{server_id}/os-interface/{port_id}")];
    "os_compute_api:os-attach-interfaces:create" => MEMBER, "Attach an interface to a server", [("POST", "/servers/{server_id}/os-interface")];
    "os_compute_api:os-volumes-attachments:index" => READER, "List volume attachments for an instance", [("GET", "/servers/{server_id}/os-volume_attachments")];
    "os_compute_api:os-volumes-attachments:create" => MEMBER, "Attach a volume to an instance", [("POST", "/servers/{server_id}/os-volume_attachments")];
    "os_compute_api:os-volumes-attachments:show" => READER, "Show details of a volume attachment", [("GET", "/servers/{server_id}/os-volume_attachments/{volume_id}")];
    "os_compute_api:os-volumes-attachments:update" => MEMBER, "Update a volume attachment. New 'update' policy about 'swap + update' request (which is possible only >2.85) only <swap policy> is checked. We expect <swap policy> to be always superset of this policy permission", [("PUT", "/servers/{server_id}/os-volume_attachments/{volume_id}")];
    "os_compute_api:os-volumes-attachments:swap" => ADMIN, "Update a volume attachment with a different volumeId", [("PUT", "/servers/{server_id}/os-volume_attachments/{volume_id}")];
    "os_compute_api:os-volumes-attachments:delete" => MEMBER, "Detach a volume from an instance", [("DELETE", "/servers/{server_id}/os-volume_attachments/{volume_id}")];
    "os_compute_api:os-volumes:list" => READER, "List volumes (proxy to the block storage service, up to 2.35)", [("GET", "/os-volumes")];
    "os_compute_api:os-volumes:detail" => READER, "List volumes with details (proxy, up to 2.35)", [("GET", "/os-volumes/detail")];
    "os_compute_api:os-volumes:show" => READER, "Show a volume (proxy, up to 2.35)", [("GET", "/os-volumes/{volume_id}")];
    "os_compute_api:os-volumes:create" => MEMBER, "Create a volume (proxy, up to 2.35)", [("POST", "/os-volumes")];
    "os_compute_api:os-volumes:delete" => MEMBER, "Delete a volume (proxy, up to 2.35)", [("DELETE", "/os-volumes/{volume_id}")];
    "os_compute_api:os-volumes:snapshots:list" => READER, "List snapshots (proxy, up to 2.35)", [("GET", "/os-snapshots")];
    "os_compute_api:os-volumes:snapshots:detail" => READER, "List snapshots with details (proxy, up to 2.35)", [("GET", "/os-snapshots/detail")];
    "os_compute_api:os-volumes:snapshots:show" => READER, "Show a snapshot (proxy, up to 2.35)", [("GET", "/os-snapshots/{snapshot_id}")];
    "os_compute_api:os-volumes:snapshots:create" => MEMBER, "Create a snapshot (proxy, up to 2.35)", [("POST", "/os-snapshots")];
    "os_compute_api:os-volumes:snapshots:delete" => MEMBER, "Delete a snapshot (proxy, up to 2.35)", [("DELETE", "/os-snapshots/{snapshot_id}")];
    "os_compute_api:os-security-groups:list" => READER, "List security groups of server", [("GET", "/servers/{server_id}/os-security-groups")];
    "os_compute_api:os-security-groups:add" => MEMBER, "Add security groups to server", [("POST", "/servers/{server_id}/action (addSecurityGroup)")];
    "os_compute_api:os-security-groups:remove" => MEMBER, "Remove security groups from server", [("POST", "/servers/{server_id}/action (removeSecurityGroup)")];
    "os_compute_api:os-security-groups:get" => READER, "List security groups (proxy to the networking service; removed at 2.36)", [("GET", "/os-security-groups")];
    "os_compute_api:os-security-groups:show" => READER, "Show a security group (proxy; removed at 2.36)", [("GET", "/os-security-groups/{security_group_id}")];
    "os_compute_api:os-security-groups:create" => MEMBER, "Create a security group (proxy; removed at 2.36)", [("POST", "/os-security-groups")];
    "os_compute_api:os-security-groups:update" => MEMBER, "Update a security group (proxy; removed at 2.36)", [("PUT", "/os-security-groups/{security_group_id}")];
    "os_compute_api:os-security-groups:delete" => MEMBER, "Delete a security group (proxy; removed at 2.36)", [("DELETE", "/os-security-groups/{security_group_id}")];
    "os_compute_api:os-security-groups:rule:create" => MEMBER, "Create a security group rule (proxy; removed at 2.36)", [("POST", "/os-security-group-rules")];
    "os_compute_api:os-security-groups:rule:delete" => MEMBER, "Delete a security group rule (proxy; removed at 2.36)", [("DELETE", "/os-security-group-rules/{security_group_rule_id}")];
    "os_compute_api:os-networks:list" => READER, "List networks (proxy; removed at 2.36)", [("GET", "/os-networks")];
    "os_compute_api:os-networks:view" => READER, "Show a network (proxy; removed at 2.36)", [("GET", "/os-networks/{network_id}")];
    "os_compute_api:os-tenant-networks:list" => READER, "List project networks (proxy; removed at 2.36)", [("GET", "/os-tenant-networks")];
    "os_compute_api:os-tenant-networks:view" => READER, "Show a project network (proxy; removed at 2.36)", [("GET", "/os-tenant-networks/{network_id}")];
    "os_compute_api:os-floating-ips:list" => READER, "List floating IPs (proxy; removed at 2.36)", [("GET", "/os-floating-ips")];
    "os_compute_api:os-floating-ips:show" => READER, "Show a floating IP (proxy; removed at 2.36)", [("GET", "/os-floating-ips/{floating_ip_id}")];
    "os_compute_api:os-floating-ips:create" => MEMBER, "Allocate a floating IP (proxy; removed at 2.36)", [("POST", "/os-floating-ips")];
    "os_compute_api:os-floating-ips:delete" => MEMBER, "Release a floating IP (proxy; removed at 2.36)", [("DELETE", "/os-floating-ips/{floating_ip_id}")];
    "os_compute_api:os-floating-ips:add" => MEMBER, "Associate a floating IP with a server (removed at 2.44)", [("POST", "/servers/{server_id}/action (addFloatingIp)")];
    "os_compute_api:os-floating-ips:remove" => MEMBER, "Disassociate a floating IP from a server (removed at 2.44)", [("POST", "/servers/{server_id}/action (removeFloatingIp)")];
    "os_compute_api:os-attach-interfaces:delete" => MEMBER, "Detach an interface from a server", [("DELETE", "/servers/{server_id}/os-interface/{port_id}")];
    "os_compute_api:servers:show:flavor-extra-specs" => READER, "Starting with microversion 2.47, the flavor and its extra specs used for a server is also returned in the response", [("GET", "/servers/{server_id}")];
    "os_compute_api:servers:show:host_status" => ADMIN, "Show a server with additional host status information", [("GET", "/servers/{server_id}")];
    "os_compute_api:servers:show:host_status:unknown-only" => ADMIN, "Show a server with additional host status information, only if host status is UNKNOWN", [("GET", "/servers/{server_id}")];
    "os_compute_api:servers:create" => MEMBER, "Create a server", [("POST", "/servers")];
    "os_compute_api:servers:create:forced_host" => ADMIN, "Create a server on the specified host and/or node", [("POST", "/servers")];
    "os_compute_api:servers:create:attach_network" => MEMBER, "Create a server with the requested network attached to it", [("POST", "/servers")];
    "os_compute_api:servers:create:zero_disk_flavor" => ADMIN, "Create a server with a flavor with a zero disk from an image", [("POST", "/servers")];
    "os_compute_api:servers:delete" => MEMBER, "Delete a server", [("DELETE", "/servers/{server_id}")];
    "os_compute_api:servers:update" => MEMBER, "Update a server", [("PUT", "/servers/{server_id}")];
    "os_compute_api:servers:reboot" => MEMBER, "Reboot a server", [("POST", "/servers/{server_id}/action (reboot)")];
    "os_compute_api:servers:resize" => MEMBER, "Resize a server", [("POST", "/servers/{server_id}/action (resize)")];
    "os_compute_api:os-hosts:list" => ADMIN, "List physical hosts (deprecated, up to 2.42)", [("GET", "/os-hosts")];
    "os_compute_api:os-hosts:show" => ADMIN, "Show physical host (deprecated, up to 2.42)", [("GET", "/os-hosts/{host_name}")];
    "os_compute_api:os-hosts:update" => ADMIN, "Update physical host (deprecated, up to 2.42)", [("PUT", "/os-hosts/{host_name}")];
    "os_compute_api:os-hosts:reboot" => ADMIN, "Reboot physical host (deprecated, up to 2.42)", [("GET", "/os-hosts/{host_name}/reboot")];
    "os_compute_api:os-hosts:shutdown" => ADMIN, "Shutdown physical host (deprecated, up to 2.42)", [("GET", "/os-hosts/{host_name}/shutdown")];
    "os_compute_api:os-hosts:start" => ADMIN, "Start physical host (deprecated, up to 2.42)", [("GET", "/os-hosts/{host_name}/startup")];
    "os_compute_api:os-simple-tenant-usage:list" => ADMIN, "List per tenant usage statistics for all tenants", [("GET", "/os-simple-tenant-usage")];
    "os_compute_api:os-simple-tenant-usage:show" => READER, "Show usage statistics for a specific tenant", [("GET", "/os-simple-tenant-usage/{tenant_id}")];
    "os_compute_api:os-deferred-delete:restore" => MEMBER, "Restore a soft deleted server", [("POST", "/servers/{server_id}/action (restore)")];
    "os_compute_api:os-deferred-delete:force" => MEMBER, "Force delete a server before deferred cleanup", [("POST", "/servers/{server_id}/action (forceDelete)")];
    "os_compute_api:os-migrate-server:migrate" => ADMIN, "Cold migrate a server to a host", [("POST", "/servers/{server_id}/action (migrate)")];
    "os_compute_api:os-server-diagnostics" => ADMIN, "Show the usage data for a server", [("GET", "/servers/{server_id}/diagnostics")];
    "os_compute_api:os-admin-password" => MEMBER, "Change the administrative password for a server", [("POST", "/servers/{server_id}/action (changePassword)")];
    "os_compute_api:servers:rebuild" => MEMBER, "Rebuild a server", [("POST", "/servers/{server_id}/action (rebuild)")];
    "os_compute_api:os-shelve:shelve" => MEMBER, "Shelve server", [("POST", "/servers/{server_id}/action (shelve)")];
    "os_compute_api:os-shelve:shelve_offload" => ADMIN, "Shelf-offload (remove) server", [("POST", "/servers/{server_id}/action (shelveOffload)")];
    "os_compute_api:os-shelve:unshelve" => MEMBER, "Unshelve (restore) shelved server", [("POST", "/servers/{server_id}/action (unshelve)")];
    "os_compute_api:os-rescue" => MEMBER, "Rescue a server", [("POST", "/servers/{server_id}/action (rescue)")];
    "os_compute_api:os-rescue:unrescue" => MEMBER, "Unrescue a server", [("POST", "/servers/{server_id}/action (unrescue)")];
    "os_compute_api:servers:confirm_resize" => MEMBER, "Confirm a server resize", [("POST", "/servers/{server_id}/action (confirmResize)")];
    "os_compute_api:servers:revert_resize" => MEMBER, "Revert a server resize", [("POST", "/servers/{server_id}/action (revertResize)")];
    "os_compute_api:os-server-password:show" => READER, "Show the encrypted administrative password of a server", [("GET", "/servers/{server_id}/os-server-password")];
    "os_compute_api:os-server-password:clear" => MEMBER, "Clear the encrypted administrative password of a server", [("DELETE", "/servers/{server_id}/os-server-password")];
    "os_compute_api:os-server-external-events:create" => ADMIN, "Create one or more external events", [("POST", "/os-server-external-events")];
    "os_compute_api:os-admin-actions:inject_network_info" => ADMIN, "Inject network information into the server", [("POST", "/servers/{server_id}/action (injectNetworkInfo)")];
    "os_compute_api:os-aggregates:index" => ADMIN, "List all aggregates", [("GET", "/os-aggregates")];
    "os_compute_api:os-aggregates:create" => ADMIN, "Create an aggregate", [("POST", "/os-aggregates")];
    "os_compute_api:os-aggregates:show" => ADMIN, "Show details for an aggregate", [("GET", "/os-aggregates/{aggregate_id}")];
    "os_compute_api:os-aggregates:update" => ADMIN, "Update name and/or availability zone of an aggregate", [("PUT", "/os-aggregates/{aggregate_id}")];
    "os_compute_api:os-aggregates:delete" => ADMIN, "Delete an aggregate", [("DELETE", "/os-aggregates/{aggregate_id}")];
    "os_compute_api:os-aggregates:add_host" => ADMIN, "Add a host to an aggregate", [("POST", "/os-aggregates/{aggregate_id}/action (add_host)")];
    "os_compute_api:os-aggregates:remove_host" => ADMIN, "Remove a host from an aggregate", [("POST", "/os-aggregates/{aggregate_id}/action (remove_host)")];
    "os_compute_api:os-aggregates:set_metadata" => ADMIN, "Create or replace metadata for an aggregate", [("POST", "/os-aggregates/{aggregate_id}/action (set_metadata)")];
    "os_compute_api:os-create-backup" => MEMBER, "Create a back up of a server", [("POST", "/servers/{server_id}/action (createBackup)")];
    "os_compute_api:servers:create_image" => MEMBER, "Create an image from a server", [("POST", "/servers/{server_id}/action (createImage)")];
    "os_compute_api:servers:start" => MEMBER, "Start a server", [("POST", "/servers/{server_id}/action (os-start)")];
    "os_compute_api:servers:stop" => MEMBER, "Stop a server", [("POST", "/servers/{server_id}/action (os-stop)")];
    "os_compute_api:os-extended-server-attributes" => ADMIN, "Return extended attributes for server", [("GET", "/servers/{id}")];
    "os_compute_api:os-pause-server:pause" => MEMBER, "Pause a server", [("POST", "/servers/{server_id}/action (pause)")];
    "os_compute_api:os-pause-server:unpause" => MEMBER, "Unpause a paused server", [("POST", "/servers/{server_id}/action (unpause)")];
    "os_compute_api:os-suspend-server:suspend" => MEMBER, "Suspend server", [("POST", "/servers/{server_id}/action (suspend)")];
    "os_compute_api:os-suspend-server:resume" => MEMBER, "Resume suspended server", [("POST", "/servers/{server_id}/action (resume)")];
    "os_compute_api:os-lock-server:lock" => MEMBER, "Lock a server", [("POST", "/servers/{server_id}/action (lock)")];
    "os_compute_api:os-lock-server:unlock" => MEMBER, "Unlock a server", [("POST", "/servers/{server_id}/action (unlock)")];
    "os_compute_api:os-lock-server:unlock:unlock_override" => ADMIN, "Unlock a server, regardless who locked the server", [("POST", "/servers/{server_id}/action (unlock)")];
    "os_compute_api:os-console-output" => MEMBER, "Show console output for a server", [("POST", "/servers/{server_id}/action (os-getConsoleOutput)")];
    "os_compute_api:os-admin-actions:reset_state" => ADMIN, "Reset the state of a given server", [("POST", "/servers/{server_id}/action (os-resetState)")];
    "os_compute_api:os-instance-actions:list" => READER, "List actions for a server", [("GET", "/servers/{server_id}/os-instance-actions")];
    "os_compute_api:os-instance-actions:show" => READER, "Show action details for a server", [("GET", "/servers/{server_id}/os-instance-actions/{request_id}")];
    "os_compute_api:os-instance-actions:events" => ADMIN, "Add events details in action details for a server", [("GET", "/servers/{server_id}/os-instance-actions/{request_id}")];
    "os_compute_api:os-instance-actions:events:details" => ADMIN, "Add details for the instance action events", [("GET", "/servers/{server_id}/os-instance-actions/{request_id}")];
    "os_compute_api:server-metadata:index" => READER, "List all metadata of a server", [("GET", "/servers/{server_id}/metadata")];
    "os_compute_api:server-metadata:show" => READER, "Show metadata for a server", [("GET", "/servers/{server_id}/metadata/{key}")];
    "os_compute_api:server-metadata:create" => MEMBER, "Create metadata for a server", [("POST", "/servers/{server_id}/metadata")];
    "os_compute_api:server-metadata:update_all" => MEMBER, "Replace metadata for a server", [("PUT", "/servers/{server_id}/metadata")];
    "os_compute_api:server-metadata:update" => MEMBER, "Update metadata from a server", [("PUT", "/servers/{server_id}/metadata/{key}")];
    "os_compute_api:server-metadata:delete" => MEMBER, "Delete metadata from a server", [("DELETE", "/servers/{server_id}/metadata/{key}")];
    "os_compute_api:os-server-tags:index" => READER, "List all tags for given server", [("GET", "/servers/{server_id}/tags")];
    "os_compute_api:os-server-tags:show" => READER, "Check tag existence on the server", [("GET", "/servers/{server_id}/tags/{tag}")];
    "os_compute_api:os-server-tags:update" => MEMBER, "Add a single tag to the server", [("PUT", "/servers/{server_id}/tags/{tag}")];
    "os_compute_api:os-server-tags:update_all" => MEMBER, "Replace all tags on specified server", [("PUT", "/servers/{server_id}/tags")];
    "os_compute_api:os-server-tags:delete" => MEMBER, "Delete a single tag from the specified server", [("DELETE", "/servers/{server_id}/tags/{tag}")];
    "os_compute_api:os-server-tags:delete_all" => MEMBER, "Delete all the server tags", [("DELETE", "/servers/{server_id}/tags")];
    "os_compute_api:os-flavor-manage:create" => ADMIN, "Create a flavor", [("POST", "/flavors")];
    "os_compute_api:os-flavor-manage:update" => ADMIN, "Update a flavor", [("PUT", "/flavors/{flavor_id}")];
    "os_compute_api:os-flavor-manage:delete" => ADMIN, "Delete a flavor", [("DELETE", "/flavors/{flavor_id}")];
    "os_compute_api:os-flavor-extra-specs:index" => READER, "List extra specs for a flavor", [("GET", "/flavors/{flavor_id}/os-extra_specs")];
    "os_compute_api:os-flavor-extra-specs:show" => READER, "Show an extra spec for a flavor", [("GET", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")];
    "os_compute_api:os-flavor-extra-specs:create" => ADMIN, "Create extra specs for a flavor", [("POST", "/flavors/{flavor_id}/os-extra_specs")];
    "os_compute_api:os-flavor-extra-specs:update" => ADMIN, "Update an extra spec for a flavor", [("PUT", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")];
    "os_compute_api:os-flavor-extra-specs:delete" => ADMIN, "Delete an extra spec for a flavor", [("DELETE", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")];
    "os_compute_api:os-flavor-access" => ADMIN, "List flavor access information", [("GET", "/flavors/{flavor_id}/os-flavor-access")];
    "os_compute_api:os-flavor-access:add_tenant_access" => ADMIN, "Add flavor access to a tenant", [("POST", "/flavors/{flavor_id}/action (addTenantAccess)")];
    "os_compute_api:os-flavor-access:remove_tenant_access" => ADMIN, "Remove flavor access from a tenant", [("POST", "/flavors/{flavor_id}/action (removeTenantAccess)")];
    "os_compute_api:os-keypairs:index" => KEYPAIR_OWNER, "List all keypairs", [("GET", "/os-keypairs")];
    "os_compute_api:os-keypairs:create" => KEYPAIR_OWNER, "Create a keypair", [("POST", "/os-keypairs")];
    "os_compute_api:os-keypairs:show" => KEYPAIR_OWNER, "Show details of a keypair", [("GET", "/os-keypairs/{keypair_name}")];
    "os_compute_api:os-keypairs:delete" => KEYPAIR_OWNER, "Delete a keypair", [("DELETE", "/os-keypairs/{keypair_name}")];
    "os_compute_api:limits" => ANY, "Show rate and absolute limits for the current user project", [("GET", "/limits")];
    "os_compute_api:limits:other_project" => ADMIN, "Show rate and absolute limits of other project", [("GET", "/limits")];
    "os_compute_api:os-quota-sets:show" => READER, "Show a quota", [("GET", "/os-quota-sets/{tenant_id}")];
    "os_compute_api:os-quota-sets:update" => ADMIN, "Update the quotas", [("PUT", "/os-quota-sets/{tenant_id}")];
    "os_compute_api:os-quota-sets:defaults" => ANY, "List default quotas", [("GET", "/os-quota-sets/{tenant_id}/defaults")];
    "os_compute_api:os-quota-sets:delete" => ADMIN, "Revert quotas to defaults", [("DELETE", "/os-quota-sets/{tenant_id}")];
    "os_compute_api:os-quota-sets:detail" => READER, "Show the detail of quota", [("GET", "/os-quota-sets/{tenant_id}/detail")];
    "os_compute_api:os-quota-class-sets:show" => ADMIN, "List quotas for specific quota classs", [("GET", "/os-quota-class-sets/{quota_class}")];
    "os_compute_api:os-quota-class-sets:update" => ADMIN, "Update quotas for specific quota class", [("PUT", "/os-quota-class-sets/{quota_class}")];
    "os_compute_api:os-availability-zone:list" => ANY, "List availability zone information without host information", [("GET", "/os-availability-zone")];
    "os_compute_api:os-availability-zone:detail" => ADMIN, "List detailed availability zone information with host information", [("GET", "/os-availability-zone/detail")];
    "os_compute_api:os-services:list" => ADMIN, "List all running Compute services in a region", [("GET", "/os-services")];
    "os_compute_api:os-services:update" => ADMIN, "Update a Compute service", [("PUT", "/os-services/{service_id}")];
    "os_compute_api:os-services:delete" => ADMIN, "Delete a Compute service", [("DELETE", "/os-services/{service_id}")];
    "os_compute_api:os-hypervisors:list" => ADMIN, "List all hypervisors", [("GET", "/os-hypervisors")];
    "os_compute_api:os-hypervisors:list-detail" => ADMIN, "List all hypervisors with details", [("GET", "/os-hypervisors/details")];
    "os_compute_api:os-hypervisors:statistics" => ADMIN, "Show summary statistics for all hypervisors over all compute nodes", [("GET", "/os-hypervisors/statistics")];
    "os_compute_api:os-hypervisors:uptime" => ADMIN, "Show the uptime of a hypervisor", [("GET", "/os-hypervisors/{hypervisor_id}/uptime")];
    "os_compute_api:os-hypervisors:show" => ADMIN, "Show details for a hypervisor", [("GET", "/os-hypervisors/{hypervisor_id}")];
    "os_compute_api:os-hypervisors:search" => ADMIN, "Search hypervisor by hypervisor_hostname pattern", [("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/search")];
    "os_compute_api:os-hypervisors:servers" => ADMIN, "List all servers on hypervisors that can match the provided hypervisor_hostname pattern", [("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/servers")];
    "os_compute_api:os-server-groups:index" => READER, "List all server groups", [("GET", "/os-server-groups")];
    "os_compute_api:os-server-groups:index:all_projects" => ADMIN, "List all server groups for all projects", [("GET", "/os-server-groups")];
    "os_compute_api:os-server-groups:show" => READER, "Show details of a server group", [("GET", "/os-server-groups/{server_group_id}")];
    "os_compute_api:os-server-groups:create" => MEMBER, "Create a new server group", [("POST", "/os-server-groups")];
    "os_compute_api:os-server-groups:delete" => MEMBER, "Delete a server group", [("DELETE", "/os-server-groups/{server_group_id}")];
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
        // Project readers may read, members may act, admins may administer; nothing is open
        // to system- or domain-scoped tokens.
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
        assert_eq!(row("os_compute_api:servers:show"), "sss sss +++");
        assert_eq!(row("os_compute_api:servers:create"), "sss sss ++-");
        assert_eq!(row("os_compute_api:os-services:list"), "sss sss +--");
        assert_eq!(row("os_compute_api:os-keypairs:index"), "sss sss +--");
        assert_eq!(
            row("os_compute_api:os-volumes-attachments:index"),
            "sss sss +++"
        );
        assert_eq!(
            row("os_compute_api:os-volumes-attachments:create"),
            "sss sss ++-"
        );
        assert_eq!(
            row("os_compute_api:os-volumes-attachments:swap"),
            "sss sss +--"
        );
    }
}
