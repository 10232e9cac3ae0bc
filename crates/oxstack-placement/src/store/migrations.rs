//! The placement schema, append-only. Portable SQL (see `oxstack_common::db`).
//!
//! Providers are keyed by their uuid (no surrogate integer ids: portable auto-increment
//! does not exist). Standard resource classes and traits live in code; only custom ones
//! are rows. Allocations and inventories name their resource class by name.

use oxstack_common::db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial placement schema",
        sql: r#"
CREATE TABLE placement_provider (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    generation BIGINT NOT NULL,
    parent_uuid VARCHAR(36),
    root_uuid VARCHAR(36) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT placement_provider_name UNIQUE (name)
);
CREATE INDEX placement_provider_root ON placement_provider (root_uuid);
CREATE INDEX placement_provider_parent ON placement_provider (parent_uuid);
CREATE TABLE placement_inventory (
    provider_uuid VARCHAR(36) NOT NULL,
    resource_class VARCHAR(255) NOT NULL,
    total BIGINT NOT NULL,
    reserved BIGINT NOT NULL,
    min_unit BIGINT NOT NULL,
    max_unit BIGINT NOT NULL,
    step_size BIGINT NOT NULL,
    allocation_ratio DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (provider_uuid, resource_class)
);
CREATE INDEX placement_inventory_class ON placement_inventory (resource_class);
CREATE TABLE placement_consumer (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX placement_consumer_project ON placement_consumer (project_id, user_id);
CREATE TABLE placement_allocation (
    consumer_uuid VARCHAR(36) NOT NULL,
    provider_uuid VARCHAR(36) NOT NULL,
    resource_class VARCHAR(255) NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (consumer_uuid, provider_uuid, resource_class)
);
CREATE INDEX placement_allocation_provider ON placement_allocation (provider_uuid, resource_class);
CREATE TABLE placement_resource_class (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE placement_trait (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE placement_provider_trait (
    provider_uuid VARCHAR(36) NOT NULL,
    trait VARCHAR(255) NOT NULL,
    PRIMARY KEY (provider_uuid, trait)
);
CREATE INDEX placement_provider_trait_trait ON placement_provider_trait (trait);
CREATE TABLE placement_provider_aggregate (
    provider_uuid VARCHAR(36) NOT NULL,
    aggregate_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (provider_uuid, aggregate_uuid)
);
CREATE INDEX placement_provider_aggregate_agg ON placement_provider_aggregate (aggregate_uuid);
"#,
    },
    Migration {
        version: 2,
        name: "covering index of usage sums",
        // Usage is summed per provider and class on every claim and every candidate query; with
        // `used` in the index the database reads the index alone instead of one table row per
        // allocation.
        sql: r#"
CREATE INDEX placement_allocation_usage ON placement_allocation (provider_uuid, resource_class, used);
"#,
    },
];
