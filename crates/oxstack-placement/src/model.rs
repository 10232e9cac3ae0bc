//! The placement data model, as the store returns it and the logic layer works on it.

/// A resource provider: something with inventory (a compute node, a NUMA node, a disk pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub uuid: String,
    pub name: String,
    /// Bumped on every change of its inventory, traits, aggregates or allocations.
    pub generation: i64,
    pub parent_uuid: Option<String>,
    /// The provider at the top of its tree (itself when it has no parent).
    pub root_uuid: String,
}

/// One resource class of a provider's inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub resource_class: String,
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub allocation_ratio: f64,
}

impl Inventory {
    /// What may be allocated in all: `(total - reserved) * allocation_ratio`, rounded down.
    pub fn capacity(&self) -> i64 {
        ((self.total - self.reserved) as f64 * self.allocation_ratio) as i64
    }
}

/// Placement's largest integer for inventory fields.
pub const MAX_INT: i64 = 2_147_483_647;

/// A consumer of resources (an instance, a migration), with its generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub uuid: String,
    pub project_id: String,
    pub user_id: String,
    pub generation: i64,
}

/// An amount of one resource class that one consumer uses on one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub consumer_uuid: String,
    pub provider_uuid: String,
    pub resource_class: String,
    pub used: i64,
}

/// The standard resource classes (os-resource-classes), in their canonical order.
pub const STANDARD_CLASSES: &[&str] = &[
    "VCPU",
    "MEMORY_MB",
    "DISK_GB",
    "PCI_DEVICE",
    "SRIOV_NET_VF",
    "NUMA_SOCKET",
    "NUMA_CORE",
    "NUMA_THREAD",
    "NUMA_MEMORY_MB",
    "IPV4_ADDRESS",
    "VGPU",
    "VGPU_DISPLAY_HEAD",
    "NET_BW_EGR_KILOBIT_PER_SEC",
    "NET_BW_IGR_KILOBIT_PER_SEC",
    "PCPU",
    "MEM_ENCRYPTION_CONTEXT",
    "FPGA",
    "PGPU",
    "NET_PACKET_RATE_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
];

/// The standard traits (os-traits), one per line.
const STANDARD_TRAITS_TEXT: &str = include_str!("standard_traits.txt");

/// The standard traits (os-traits).
pub fn standard_traits() -> impl Iterator<Item = &'static str> {
    STANDARD_TRAITS_TEXT.lines().filter(|l| !l.is_empty())
}

pub fn is_standard_trait(name: &str) -> bool {
    standard_traits().any(|t| t == name)
}

pub fn is_standard_class(name: &str) -> bool {
    STANDARD_CLASSES.contains(&name)
}

/// `CUSTOM_` followed by `[A-Z0-9_]+`.
pub fn is_custom_name(name: &str) -> bool {
    name.strip_prefix("CUSTOM_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    })
}
