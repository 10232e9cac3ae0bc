//! The networking schema, append-only. Portable SQL (see `oxstack_common::db`).
//!
//! Every Neutron resource has the same row shape: its id, owner, the id of the resource it
//! hangs off (`parent_id`: a subnet's or port's network, a rule's group, ...), the standard
//! attributes (revision, timestamps) and its API attributes as JSON in `body`. What must be
//! unique across concurrent requests has its own keyed table: IP allocations per subnet, MAC
//! addresses per network, segmentation ids, the default security group of each project.

use oxstack_common::db::Migration;

macro_rules! resource_table {
    ($t:literal) => {
        concat!(
            "CREATE TABLE ",
            $t,
            " (\n    id VARCHAR(36) NOT NULL PRIMARY KEY,\n    project_id VARCHAR(255) NOT NULL,\n    parent_id VARCHAR(36),\n    body {longtext} NOT NULL,\n    revision_number BIGINT NOT NULL,\n    created_at BIGINT NOT NULL,\n    updated_at BIGINT NOT NULL\n);\nCREATE INDEX ",
            $t,
            "_project ON ",
            $t,
            " (project_id);\nCREATE INDEX ",
            $t,
            "_parent ON ",
            $t,
            " (parent_id);\n"
        )
    };
}

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial network schema",
    sql: concat!(
        resource_table!("neutron_network"),
        resource_table!("neutron_subnet"),
        resource_table!("neutron_subnetpool"),
        resource_table!("neutron_port"),
        resource_table!("neutron_router"),
        resource_table!("neutron_floatingip"),
        resource_table!("neutron_security_group"),
        resource_table!("neutron_security_group_rule"),
        r#"CREATE TABLE neutron_ip_allocation (
    subnet_id VARCHAR(36) NOT NULL,
    ip_address VARCHAR(64) NOT NULL,
    network_id VARCHAR(36) NOT NULL,
    port_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (subnet_id, ip_address)
);
CREATE INDEX neutron_ip_allocation_port ON neutron_ip_allocation (port_id);
CREATE TABLE neutron_mac_address (
    network_id VARCHAR(36) NOT NULL,
    mac_address VARCHAR(32) NOT NULL,
    port_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (network_id, mac_address)
);
CREATE INDEX neutron_mac_address_port ON neutron_mac_address (port_id);
CREATE TABLE neutron_segment (
    network_type VARCHAR(16) NOT NULL,
    physical_network VARCHAR(64) NOT NULL,
    segmentation_id BIGINT NOT NULL,
    network_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (network_type, physical_network, segmentation_id)
);
CREATE INDEX neutron_segment_network ON neutron_segment (network_id);
CREATE TABLE neutron_default_security_group (
    project_id VARCHAR(255) NOT NULL PRIMARY KEY,
    security_group_id VARCHAR(36) NOT NULL
);
CREATE TABLE neutron_quota (
    project_id VARCHAR(255) NOT NULL,
    resource VARCHAR(64) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
"#
    ),
}];
