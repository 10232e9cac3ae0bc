//! The compute schema, append-only. Portable SQL (see `oxstack_common::db`): BIGINT for
//! integers, flags and microsecond timestamps, VARCHAR for keys.

use oxstack_common::db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial compute schema",
        sql: r#"
CREATE TABLE compute_flavor (
    flavorid VARCHAR(255) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    memory_mb BIGINT NOT NULL,
    vcpus BIGINT NOT NULL,
    root_gb BIGINT NOT NULL,
    ephemeral_gb BIGINT NOT NULL,
    swap BIGINT NOT NULL,
    rxtx_factor DOUBLE PRECISION NOT NULL,
    is_public BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT compute_flavor_name UNIQUE (name)
);
CREATE TABLE compute_flavor_extra_spec (
    flavorid VARCHAR(255) NOT NULL,
    spec_key VARCHAR(255) NOT NULL,
    spec_value VARCHAR(255) NOT NULL,
    PRIMARY KEY (flavorid, spec_key)
);
CREATE TABLE compute_flavor_access (
    flavorid VARCHAR(255) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    PRIMARY KEY (flavorid, project_id)
);
CREATE TABLE compute_keypair (
    id BIGINT NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    fingerprint VARCHAR(255) NOT NULL,
    public_key TEXT NOT NULL,
    key_type VARCHAR(16) NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, name)
);
CREATE TABLE compute_instance (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    image_ref VARCHAR(255) NOT NULL,
    flavor TEXT NOT NULL,
    old_flavor TEXT,
    new_flavor TEXT,
    vm_state VARCHAR(255) NOT NULL,
    task_state VARCHAR(255),
    power_state BIGINT NOT NULL,
    host VARCHAR(255),
    node VARCHAR(255),
    availability_zone VARCHAR(255),
    key_name VARCHAR(255),
    key_data TEXT,
    user_data {longtext},
    config_drive VARCHAR(255) NOT NULL,
    access_ip_v4 VARCHAR(64),
    access_ip_v6 VARCHAR(64),
    locked_by VARCHAR(16),
    reservation_id VARCHAR(255) NOT NULL,
    launch_index BIGINT NOT NULL,
    hostname VARCHAR(255) NOT NULL,
    progress BIGINT NOT NULL,
    security_groups TEXT NOT NULL,
    networks TEXT NOT NULL,
    launched_at BIGINT,
    terminated_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX compute_instance_project ON compute_instance (project_id, deleted);
CREATE INDEX compute_instance_host ON compute_instance (host, deleted);
CREATE INDEX compute_instance_created ON compute_instance (created_at);
CREATE TABLE compute_instance_metadata (
    instance_uuid VARCHAR(36) NOT NULL,
    meta_key VARCHAR(255) NOT NULL,
    meta_value VARCHAR(255) NOT NULL,
    PRIMARY KEY (instance_uuid, meta_key)
);
CREATE TABLE compute_instance_tag (
    instance_uuid VARCHAR(36) NOT NULL,
    tag VARCHAR(80) NOT NULL,
    PRIMARY KEY (instance_uuid, tag)
);
CREATE TABLE compute_instance_fault (
    instance_uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    code BIGINT NOT NULL,
    message VARCHAR(255) NOT NULL,
    details TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE compute_instance_action (
    instance_uuid VARCHAR(36) NOT NULL,
    request_id VARCHAR(255) NOT NULL,
    action VARCHAR(255) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    start_time BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    message VARCHAR(255),
    PRIMARY KEY (instance_uuid, request_id)
);
CREATE TABLE compute_instance_action_event (
    instance_uuid VARCHAR(36) NOT NULL,
    request_id VARCHAR(255) NOT NULL,
    event VARCHAR(255) NOT NULL,
    start_time BIGINT NOT NULL,
    finish_time BIGINT,
    result VARCHAR(255),
    traceback TEXT,
    host VARCHAR(255),
    PRIMARY KEY (instance_uuid, request_id, event)
);
CREATE TABLE compute_service (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    host VARCHAR(255) NOT NULL,
    service_binary VARCHAR(255) NOT NULL,
    topic VARCHAR(255) NOT NULL,
    disabled BIGINT NOT NULL,
    disabled_reason VARCHAR(255),
    forced_down BIGINT NOT NULL,
    last_seen_up BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT,
    CONSTRAINT compute_service_host_binary UNIQUE (host, service_binary)
);
CREATE TABLE compute_node (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    host VARCHAR(255) NOT NULL,
    hypervisor_hostname VARCHAR(255) NOT NULL,
    hypervisor_type VARCHAR(255) NOT NULL,
    hypervisor_version BIGINT NOT NULL,
    host_ip VARCHAR(64) NOT NULL,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    local_gb BIGINT NOT NULL,
    service_id BIGINT NOT NULL,
    CONSTRAINT compute_node_host UNIQUE (host, hypervisor_hostname)
);
CREATE TABLE compute_quota (
    project_id VARCHAR(255) NOT NULL,
    resource VARCHAR(255) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
CREATE TABLE compute_quota_class (
    class_name VARCHAR(255) NOT NULL,
    resource VARCHAR(255) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);
CREATE TABLE compute_server_group (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    policy VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE compute_server_group_member (
    group_uuid VARCHAR(36) NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (group_uuid, instance_uuid)
);
"#,
    },
    Migration {
        version: 2,
        name: "instance system metadata",
        sql: r#"
CREATE TABLE compute_instance_system_metadata (
    instance_uuid VARCHAR(36) NOT NULL,
    meta_key VARCHAR(255) NOT NULL,
    meta_value TEXT,
    PRIMARY KEY (instance_uuid, meta_key)
);
"#,
    },
    Migration {
        version: 3,
        name: "compute node cpu_info",
        sql: r#"
ALTER TABLE compute_node ADD cpu_info {longtext};
"#,
    },
    Migration {
        version: 4,
        name: "instance network info cache",
        sql: r#"
ALTER TABLE compute_instance ADD network_info {longtext};
"#,
    },
    Migration {
        version: 5,
        name: "block device mappings",
        sql: r#"
CREATE TABLE compute_block_device_mapping (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    instance_uuid VARCHAR(36) NOT NULL,
    volume_id VARCHAR(36),
    attachment_id VARCHAR(36),
    device_name VARCHAR(255),
    source_type VARCHAR(255) NOT NULL,
    destination_type VARCHAR(255) NOT NULL,
    delete_on_termination BIGINT NOT NULL,
    tag VARCHAR(255),
    boot_index BIGINT,
    created_at BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    CONSTRAINT compute_bdm_device UNIQUE (instance_uuid, device_name, deleted)
);
CREATE INDEX compute_bdm_volume ON compute_block_device_mapping (volume_id);
"#,
    },
    Migration {
        version: 6,
        name: "instance disk config",
        sql: r#"
ALTER TABLE compute_instance ADD auto_disk_config BIGINT NOT NULL DEFAULT 0;
"#,
    },
    Migration {
        version: 7,
        name: "host aggregates",
        sql: r#"
CREATE TABLE compute_aggregate (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL UNIQUE,
    name VARCHAR(255) NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE TABLE compute_aggregate_host (
    aggregate_id BIGINT NOT NULL,
    host VARCHAR(255) NOT NULL,
    PRIMARY KEY (aggregate_id, host)
);
CREATE TABLE compute_aggregate_metadata (
    aggregate_id BIGINT NOT NULL,
    meta_key VARCHAR(255) NOT NULL,
    meta_value VARCHAR(255) NOT NULL,
    PRIMARY KEY (aggregate_id, meta_key)
);
"#,
    },
    Migration {
        version: 8,
        name: "instance vcpus and memory_mb",
        // The current flavor's vCPUs and RAM beside its JSON, so quota usage is summed by
        // the database (from this covering index alone) instead of parsing every server's
        // flavor on each create. NULL on servers created before this migration (their flavor
        // is parsed, as before).
        sql: r#"
ALTER TABLE compute_instance ADD vcpus BIGINT;
ALTER TABLE compute_instance ADD memory_mb BIGINT;
CREATE INDEX compute_instance_usage ON compute_instance (project_id, deleted, vcpus, memory_mb);
"#,
    },
    Migration {
        version: 9,
        name: "instance list order indexes",
        // A project's server list in Nova's default order (`created_at desc, id desc`) reads
        // its page straight from this index, starting after the marker with a seek instead
        // of sorting every server. (Lists of all projects walk `compute_instance_created`; an
        // index led by `deleted` alone would be picked by SQLite for the scheduler's
        // count of servers per host, reading every row instead of the host index.)
        sql: r#"
CREATE INDEX compute_instance_list ON compute_instance (project_id, deleted, created_at, uuid);
"#,
    },
];
