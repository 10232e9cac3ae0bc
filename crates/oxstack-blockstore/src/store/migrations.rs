//! The block storage schema, append-only. Portable SQL (see `oxstack_common::db`): BIGINT for
//! integers, flags and microsecond timestamps, VARCHAR for keys, TEXT for JSON maps.

use oxstack_common::db::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial block storage schema",
    sql: r#"
CREATE TABLE blockstore_volume_type (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    is_public BIGINT NOT NULL,
    extra_specs TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT blockstore_volume_type_name UNIQUE (name)
);
CREATE TABLE blockstore_type_access (
    type_id VARCHAR(36) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    PRIMARY KEY (type_id, project_id)
);
CREATE TABLE blockstore_volume (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    name VARCHAR(255),
    description TEXT,
    size BIGINT NOT NULL,
    status VARCHAR(64) NOT NULL,
    attach_status VARCHAR(64) NOT NULL,
    migration_status VARCHAR(64),
    volume_type_id VARCHAR(36) NOT NULL,
    availability_zone VARCHAR(255) NOT NULL,
    host VARCHAR(255),
    bootable BIGINT NOT NULL,
    multiattach BIGINT NOT NULL,
    snapshot_id VARCHAR(36),
    source_volid VARCHAR(36),
    format VARCHAR(16) NOT NULL,
    metadata TEXT NOT NULL,
    image_metadata TEXT NOT NULL,
    admin_metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE INDEX blockstore_volume_project ON blockstore_volume (project_id);
CREATE TABLE blockstore_snapshot (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    volume_id VARCHAR(36) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    name VARCHAR(255),
    description TEXT,
    size BIGINT NOT NULL,
    status VARCHAR(64) NOT NULL,
    progress VARCHAR(16) NOT NULL,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE INDEX blockstore_snapshot_volume ON blockstore_snapshot (volume_id);
CREATE TABLE blockstore_attachment (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    volume_id VARCHAR(36) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    instance_uuid VARCHAR(36),
    attached_host VARCHAR(255),
    mountpoint VARCHAR(255),
    attach_status VARCHAR(64) NOT NULL,
    attach_mode VARCHAR(8) NOT NULL,
    connector TEXT,
    attach_time BIGINT,
    detach_time BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX blockstore_attachment_volume ON blockstore_attachment (volume_id);
CREATE TABLE blockstore_quota (
    project_id VARCHAR(255) NOT NULL,
    resource VARCHAR(255) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
"#,
}];
