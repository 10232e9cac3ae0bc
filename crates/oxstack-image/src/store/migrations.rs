//! The image schema, append-only. Portable SQL (see `oxstack_common::db`).
//!
//! Deleted images are removed (Glance soft-deletes; nothing here reads deleted rows, and a
//! deleted image answers 404 either way). Custom properties are strings (the image schema's
//! `additionalProperties` is `{"type": "string"}`), one row each.

use oxstack_common::db::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
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
}];
