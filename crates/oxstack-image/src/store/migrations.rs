//! The image schema, append-only. Portable SQL (see `oxstack_common::db`).
//!
//! Deleted images are removed (Glance soft-deletes; nothing here reads deleted rows, and a
//! deleted image answers 404 either way). Custom properties are strings (the image schema's
//! `additionalProperties` is `{"type": "string"}`), one row each.
//!
//! Version 2 (expand only) adds metadata definitions and tasks. Metadef children refer to
//! their namespace by its internal id, so renaming a namespace touches one row. Property and
//! object definitions are kept as the JSON documents clients send (Glance's `json_schema`
//! column). Tag names are unique without regard to case (Glance relies on MySQL's collation
//! for that): `name_key` is the lowercased name. The resource types Glance's shipped
//! definitions use are seeded, protected, as `glance-manage db load_metadefs` would.

use oxstack_common::db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial image schema",
        sql: r#"
CREATE TABLE image_image (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255),
    status VARCHAR(30) NOT NULL,
    visibility VARCHAR(16) NOT NULL,
    protected BIGINT NOT NULL,
    os_hidden BIGINT NOT NULL,
    checksum VARCHAR(32),
    os_hash_algo VARCHAR(64),
    os_hash_value VARCHAR(128),
    size BIGINT,
    virtual_size BIGINT,
    min_disk BIGINT NOT NULL,
    min_ram BIGINT NOT NULL,
    disk_format VARCHAR(20),
    container_format VARCHAR(20),
    owner VARCHAR(255),
    location TEXT,
    staging TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX image_image_owner ON image_image (owner);
CREATE INDEX image_image_visibility ON image_image (visibility);
CREATE INDEX image_image_created ON image_image (created_at);
CREATE TABLE image_property (
    image_id VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
);
CREATE TABLE image_tag (
    image_id VARCHAR(36) NOT NULL,
    value VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, value)
);
CREATE TABLE image_member (
    image_id VARCHAR(36) NOT NULL,
    member VARCHAR(255) NOT NULL,
    status VARCHAR(20) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member)
);
CREATE INDEX image_member_member ON image_member (member);
"#,
    },
    Migration {
        version: 2,
        name: "metadata definitions and tasks",
        sql: r#"
CREATE TABLE image_metadef_namespace (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    namespace VARCHAR(80) NOT NULL,
    display_name VARCHAR(80),
    description TEXT,
    visibility VARCHAR(32) NOT NULL,
    protected BIGINT NOT NULL,
    owner VARCHAR(255),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX image_metadef_namespace_name ON image_metadef_namespace (namespace);
CREATE TABLE image_metadef_object (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    namespace_id VARCHAR(36) NOT NULL,
    name VARCHAR(80) NOT NULL,
    description TEXT,
    required TEXT,
    json_schema TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX image_metadef_object_name ON image_metadef_object (namespace_id, name);
CREATE TABLE image_metadef_property (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    namespace_id VARCHAR(36) NOT NULL,
    name VARCHAR(80) NOT NULL,
    json_schema TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX image_metadef_property_name ON image_metadef_property (namespace_id, name);
CREATE TABLE image_metadef_tag (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    namespace_id VARCHAR(36) NOT NULL,
    name VARCHAR(80) NOT NULL,
    name_key VARCHAR(80) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX image_metadef_tag_name ON image_metadef_tag (namespace_id, name_key);
CREATE TABLE image_metadef_resource_type (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(80) NOT NULL,
    protected BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX image_metadef_resource_type_name ON image_metadef_resource_type (name);
CREATE TABLE image_metadef_association (
    namespace_id VARCHAR(36) NOT NULL,
    resource_type_id VARCHAR(36) NOT NULL,
    prefix VARCHAR(80),
    properties_target VARCHAR(80),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, resource_type_id)
);
CREATE INDEX image_metadef_association_type ON image_metadef_association (resource_type_id);
INSERT INTO image_metadef_resource_type (id, name, protected, created_at, updated_at) VALUES
    ('00000000-0000-4000-8000-000000000001', 'OS::Glance::Image', 1, 0, 0),
    ('00000000-0000-4000-8000-000000000002', 'OS::Cinder::Volume', 1, 0, 0),
    ('00000000-0000-4000-8000-000000000003', 'OS::Nova::Flavor', 1, 0, 0),
    ('00000000-0000-4000-8000-000000000004', 'OS::Nova::Aggregate', 1, 0, 0),
    ('00000000-0000-4000-8000-000000000005', 'OS::Nova::Server', 1, 0, 0),
    ('00000000-0000-4000-8000-000000000006', 'OS::Trove::Instance', 1, 0, 0);
CREATE TABLE image_task (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    type VARCHAR(30) NOT NULL,
    status VARCHAR(30) NOT NULL,
    owner VARCHAR(255),
    image_id VARCHAR(36),
    request_id VARCHAR(64),
    user_id VARCHAR(64),
    input TEXT,
    result TEXT,
    message TEXT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX image_task_image ON image_task (image_id);
CREATE INDEX image_task_created ON image_task (created_at);
"#,
    },
];
