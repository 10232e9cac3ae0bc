//! Neutron's policy defaults (secure RBAC, as in neutron/conf/policies/*.py), in the flat
//! target convention Neutron's rules read: `project_id` / `tenant_id` of the resource,
//! `network_project_id` of the network a subnet or port is on, `shared` and `external` flags.

use oxstack_common::policy::RuleDefault;

const P: &[&str] = &["project"];

macro_rules! rule {
    ($name:expr, $check:expr, $desc:expr, $method:expr, $path:expr) => {
        RuleDefault::new($name, $check)
            .scope_types(P)
            .description($desc)
            .operations(&[($method, $path)])
    };
}

pub const DEFAULTS: &[RuleDefault] = &[
    RuleDefault::new("context_is_admin", "role:admin"),
    RuleDefault::new("admin_only", "rule:context_is_admin"),
    RuleDefault::new(
        "project_member",
        "role:member and project_id:%(project_id)s",
    ),
    RuleDefault::new(
        "project_reader",
        "role:reader and project_id:%(project_id)s",
    ),
    RuleDefault::new(
        "admin_or_project_member",
        "rule:context_is_admin or rule:project_member",
    ),
    RuleDefault::new(
        "admin_or_project_reader",
        "rule:context_is_admin or rule:project_reader",
    ),
    RuleDefault::new(
        "network_owner",
        "role:member and project_id:%(network_project_id)s",
    ),
    RuleDefault::new("shared", "'True':%(shared)s"),
    RuleDefault::new("external", "'True':%(external)s"),
    // networks
    rule!(
        "create_network",
        "rule:admin_or_project_member",
        "Create a network.",
        "POST",
        "/networks"
    ),
    rule!(
        "create_network:shared",
        "rule:admin_only",
        "Create a shared network.",
        "POST",
        "/networks"
    ),
    rule!(
        "create_network:router:external",
        "rule:admin_only",
        "Create an external network.",
        "POST",
        "/networks"
    ),
    rule!(
        "create_network:provider",
        "rule:admin_only",
        "Set provider attributes.",
        "POST",
        "/networks"
    ),
    rule!(
        "get_network",
        "rule:admin_or_project_reader or rule:shared or rule:external",
        "Get a network.",
        "GET",
        "/networks/{id}"
    ),
    rule!(
        "get_network:provider",
        "rule:admin_only",
        "See provider attributes.",
        "GET",
        "/networks/{id}"
    ),
    rule!(
        "update_network",
        "rule:admin_or_project_member",
        "Update a network.",
        "PUT",
        "/networks/{id}"
    ),
    rule!(
        "update_network:shared",
        "rule:admin_only",
        "Update the shared flag.",
        "PUT",
        "/networks/{id}"
    ),
    rule!(
        "update_network:router:external",
        "rule:admin_only",
        "Update the external flag.",
        "PUT",
        "/networks/{id}"
    ),
    rule!(
        "update_network:provider",
        "rule:admin_only",
        "Update provider attributes.",
        "PUT",
        "/networks/{id}"
    ),
    rule!(
        "delete_network",
        "rule:admin_or_project_member",
        "Delete a network.",
        "DELETE",
        "/networks/{id}"
    ),
    // subnets
    rule!(
        "create_subnet",
        "rule:admin_or_project_member or rule:network_owner",
        "Create a subnet.",
        "POST",
        "/subnets"
    ),
    rule!(
        "get_subnet",
        "rule:admin_or_project_reader or rule:shared",
        "Get a subnet.",
        "GET",
        "/subnets/{id}"
    ),
    rule!(
        "update_subnet",
        "rule:admin_or_project_member or rule:network_owner",
        "Update a subnet.",
        "PUT",
        "/subnets/{id}"
    ),
    rule!(
        "delete_subnet",
        "rule:admin_or_project_member or rule:network_owner",
        "Delete a subnet.",
        "DELETE",
        "/subnets/{id}"
    ),
    rule!(
        "create_subnetpool",
        "rule:admin_or_project_member",
        "Create a subnet pool.",
        "POST",
        "/subnetpools"
    ),
    rule!(
        "create_subnetpool:shared",
        "rule:admin_only",
        "Create a shared subnet pool.",
        "POST",
        "/subnetpools"
    ),
    rule!(
        "get_subnetpool",
        "rule:admin_or_project_reader or rule:shared",
        "Get a subnet pool.",
        "GET",
        "/subnetpools/{id}"
    ),
    rule!(
        "update_subnetpool",
        "rule:admin_or_project_member",
        "Update a subnet pool.",
        "PUT",
        "/subnetpools/{id}"
    ),
    rule!(
        "delete_subnetpool",
        "rule:admin_or_project_member",
        "Delete a subnet pool.",
        "DELETE",
        "/subnetpools/{id}"
    ),
    // ports
    rule!(
        "create_port",
        "rule:admin_or_project_member or rule:network_owner or (role:member and rule:shared)",
        "Create a port.",
        "POST",
        "/ports"
    ),
    rule!(
        "create_port:privileged",
        "rule:context_is_admin or rule:network_owner",
        "Set device_owner, mac_address, fixed IPs or binding on a port.",
        "POST",
        "/ports"
    ),
    rule!(
        "get_port",
        "rule:admin_or_project_reader or (role:reader and project_id:%(network_project_id)s)",
        "Get a port.",
        "GET",
        "/ports/{id}"
    ),
    rule!(
        "get_port:binding",
        "rule:admin_only",
        "See binding:vif_type, vif_details, profile.",
        "GET",
        "/ports/{id}"
    ),
    rule!(
        "update_port",
        "rule:admin_or_project_member or rule:network_owner",
        "Update a port.",
        "PUT",
        "/ports/{id}"
    ),
    rule!(
        "update_port:privileged",
        "rule:context_is_admin or rule:network_owner",
        "Change device_owner, mac_address or binding.",
        "PUT",
        "/ports/{id}"
    ),
    rule!(
        "delete_port",
        "rule:admin_or_project_member or rule:network_owner",
        "Delete a port.",
        "DELETE",
        "/ports/{id}"
    ),
    // security groups
    rule!(
        "create_security_group",
        "rule:admin_or_project_member",
        "Create a security group.",
        "POST",
        "/security-groups"
    ),
    rule!(
        "get_security_group",
        "rule:admin_or_project_reader",
        "Get a security group.",
        "GET",
        "/security-groups/{id}"
    ),
    rule!(
        "update_security_group",
        "rule:admin_or_project_member",
        "Update a security group.",
        "PUT",
        "/security-groups/{id}"
    ),
    rule!(
        "delete_security_group",
        "rule:admin_or_project_member",
        "Delete a security group.",
        "DELETE",
        "/security-groups/{id}"
    ),
    rule!(
        "create_security_group_rule",
        "rule:admin_or_project_member",
        "Create a security group rule.",
        "POST",
        "/security-group-rules"
    ),
    rule!(
        "get_security_group_rule",
        "rule:admin_or_project_reader",
        "Get a security group rule.",
        "GET",
        "/security-group-rules/{id}"
    ),
    rule!(
        "delete_security_group_rule",
        "rule:admin_or_project_member",
        "Delete a security group rule.",
        "DELETE",
        "/security-group-rules/{id}"
    ),
    // routers
    rule!(
        "create_router",
        "rule:admin_or_project_member",
        "Create a router.",
        "POST",
        "/routers"
    ),
    rule!(
        "create_router:external_gateway_info:privileged",
        "rule:admin_only",
        "Set enable_snat or external fixed IPs.",
        "POST",
        "/routers"
    ),
    rule!(
        "get_router",
        "rule:admin_or_project_reader",
        "Get a router.",
        "GET",
        "/routers/{id}"
    ),
    rule!(
        "update_router",
        "rule:admin_or_project_member",
        "Update a router.",
        "PUT",
        "/routers/{id}"
    ),
    rule!(
        "update_router:external_gateway_info:privileged",
        "rule:admin_only",
        "Change enable_snat or external fixed IPs.",
        "PUT",
        "/routers/{id}"
    ),
    rule!(
        "delete_router",
        "rule:admin_or_project_member",
        "Delete a router.",
        "DELETE",
        "/routers/{id}"
    ),
    rule!(
        "add_router_interface",
        "rule:admin_or_project_member",
        "Add an interface to a router.",
        "PUT",
        "/routers/{id}/add_router_interface"
    ),
    rule!(
        "remove_router_interface",
        "rule:admin_or_project_member",
        "Remove an interface from a router.",
        "PUT",
        "/routers/{id}/remove_router_interface"
    ),
    // floating IPs
    rule!(
        "create_floatingip",
        "rule:admin_or_project_member",
        "Create a floating IP.",
        "POST",
        "/floatingips"
    ),
    rule!(
        "create_floatingip:floating_ip_address",
        "rule:admin_only",
        "Ask for a given floating IP address.",
        "POST",
        "/floatingips"
    ),
    rule!(
        "get_floatingip",
        "rule:admin_or_project_reader",
        "Get a floating IP.",
        "GET",
        "/floatingips/{id}"
    ),
    rule!(
        "update_floatingip",
        "rule:admin_or_project_member",
        "Update a floating IP.",
        "PUT",
        "/floatingips/{id}"
    ),
    rule!(
        "delete_floatingip",
        "rule:admin_or_project_member",
        "Delete a floating IP.",
        "DELETE",
        "/floatingips/{id}"
    ),
    // quotas and availability
    rule!(
        "get_quota",
        "rule:admin_or_project_reader",
        "Get a project's quotas.",
        "GET",
        "/quotas/{project_id}"
    ),
    rule!(
        "get_quotas",
        "rule:admin_only",
        "List every project's quotas.",
        "GET",
        "/quotas"
    ),
    rule!(
        "update_quota",
        "rule:admin_only",
        "Update a project's quotas.",
        "PUT",
        "/quotas/{project_id}"
    ),
    rule!(
        "delete_quota",
        "rule:admin_only",
        "Reset a project's quotas.",
        "DELETE",
        "/quotas/{project_id}"
    ),
    rule!(
        "get_network_ip_availability",
        "rule:admin_only",
        "Get IP availability of networks.",
        "GET",
        "/network-ip-availabilities"
    ),
];
