//! Nova's instance state machine: `vm_state` (stable state), `task_state` (transition in
//! progress), `power_state` (what the hypervisor says) and the API `status` derived from the
//! first two (nova/compute/vm_states.py, task_states.py, power_state.py and
//! nova/api/openstack/common.py).

/// `vm_state` values.
pub mod vm {
    pub const ACTIVE: &str = "active";
    pub const BUILDING: &str = "building";
    pub const PAUSED: &str = "paused";
    pub const SUSPENDED: &str = "suspended";
    pub const STOPPED: &str = "stopped";
    pub const RESCUED: &str = "rescued";
    pub const RESIZED: &str = "resized";
    pub const SOFT_DELETED: &str = "soft-delete";
    pub const DELETED: &str = "deleted";
    pub const ERROR: &str = "error";
    pub const SHELVED: &str = "shelved";
    pub const SHELVED_OFFLOADED: &str = "shelved_offloaded";
}

/// `task_state` values.
pub mod task {
    pub const SCHEDULING: &str = "scheduling";
    pub const BLOCK_DEVICE_MAPPING: &str = "block_device_mapping";
    pub const NETWORKING: &str = "networking";
    pub const SPAWNING: &str = "spawning";
    pub const IMAGE_SNAPSHOT: &str = "image_snapshot";
    pub const IMAGE_BACKUP: &str = "image_backup";
    pub const IMAGE_SNAPSHOT_PENDING: &str = "image_snapshot_pending";
    pub const IMAGE_PENDING_UPLOAD: &str = "image_pending_upload";
    pub const IMAGE_UPLOADING: &str = "image_uploading";
    pub const UPDATING_PASSWORD: &str = "updating_password";
    pub const RESIZE_PREP: &str = "resize_prep";
    pub const RESIZE_MIGRATING: &str = "resize_migrating";
    pub const RESIZE_MIGRATED: &str = "resize_migrated";
    pub const RESIZE_FINISH: &str = "resize_finish";
    pub const RESIZE_REVERTING: &str = "resize_reverting";
    pub const RESIZE_CONFIRMING: &str = "resize_confirming";
    pub const REBOOTING: &str = "rebooting";
    pub const REBOOT_PENDING: &str = "reboot_pending";
    pub const REBOOT_STARTED: &str = "reboot_started";
    pub const REBOOTING_HARD: &str = "rebooting_hard";
    pub const REBOOT_PENDING_HARD: &str = "reboot_pending_hard";
    pub const REBOOT_STARTED_HARD: &str = "reboot_started_hard";
    pub const PAUSING: &str = "pausing";
    pub const UNPAUSING: &str = "unpausing";
    pub const SUSPENDING: &str = "suspending";
    pub const RESUMING: &str = "resuming";
    pub const POWERING_OFF: &str = "powering-off";
    pub const POWERING_ON: &str = "powering-on";
    pub const REBUILDING: &str = "rebuilding";
    pub const REBUILD_BLOCK_DEVICE_MAPPING: &str = "rebuild_block_device_mapping";
    pub const REBUILD_SPAWNING: &str = "rebuild_spawning";
    pub const MIGRATING: &str = "migrating";
    pub const DELETING: &str = "deleting";
    pub const SOFT_DELETING: &str = "soft-deleting";
    pub const RESTORING: &str = "restoring";
    pub const SHELVING: &str = "shelving";
    pub const SHELVING_IMAGE_PENDING_UPLOAD: &str = "shelving_image_pending_upload";
    pub const SHELVING_IMAGE_UPLOADING: &str = "shelving_image_uploading";
    pub const SHELVING_OFFLOADING: &str = "shelving_offloading";
    pub const UNSHELVING: &str = "unshelving";
    pub const RESCUING: &str = "rescuing";
    pub const UNRESCUING: &str = "unrescuing";
}

/// `power_state` values (integers on the wire).
pub mod power {
    pub const NOSTATE: i64 = 0;
    pub const RUNNING: i64 = 1;
    pub const PAUSED: i64 = 3;
    pub const SHUTDOWN: i64 = 4;
    pub const CRASHED: i64 = 6;
    pub const SUSPENDED: i64 = 7;
}

/// The API `status` of a server (Nova's `status_from_state`).
pub fn status(vm_state: &str, task_state: Option<&str>) -> &'static str {
    let t = task_state.unwrap_or("");
    let resize = matches!(
        t,
        task::RESIZE_PREP | task::RESIZE_MIGRATING | task::RESIZE_MIGRATED | task::RESIZE_FINISH
    );
    let rebuild = matches!(
        t,
        task::REBUILDING | task::REBUILD_BLOCK_DEVICE_MAPPING | task::REBUILD_SPAWNING
    );
    match vm_state {
        vm::ACTIVE => match t {
            task::REBOOTING | task::REBOOT_PENDING | task::REBOOT_STARTED => "REBOOT",
            task::REBOOTING_HARD | task::REBOOT_PENDING_HARD | task::REBOOT_STARTED_HARD => {
                "HARD_REBOOT"
            }
            task::UPDATING_PASSWORD => "PASSWORD",
            task::MIGRATING => "MIGRATING",
            _ if rebuild => "REBUILD",
            _ if resize => "RESIZE",
            _ => "ACTIVE",
        },
        vm::BUILDING => "BUILD",
        vm::STOPPED if resize => "RESIZE",
        vm::STOPPED if rebuild => "REBUILD",
        vm::STOPPED => "SHUTOFF",
        vm::RESIZED if t == task::RESIZE_REVERTING => "REVERT_RESIZE",
        vm::RESIZED => "VERIFY_RESIZE",
        vm::PAUSED if t == task::MIGRATING => "MIGRATING",
        vm::PAUSED => "PAUSED",
        vm::SUSPENDED => "SUSPENDED",
        vm::RESCUED => "RESCUE",
        vm::ERROR if rebuild => "REBUILD",
        vm::ERROR => "ERROR",
        vm::DELETED => "DELETED",
        vm::SOFT_DELETED => "SOFT_DELETED",
        vm::SHELVED => "SHELVED",
        vm::SHELVED_OFFLOADED => "SHELVED_OFFLOADED",
        _ => "UNKNOWN",
    }
}

/// The `(vm_state, task_states)` pairs a `status` filter matches (Nova's
/// `task_and_vm_state_from_status`); `None` for an unknown status.
pub fn vm_states_for_status(status: &str) -> Option<Vec<&'static str>> {
    const ALL: &[&str] = &[
        vm::ACTIVE,
        vm::BUILDING,
        vm::PAUSED,
        vm::SUSPENDED,
        vm::STOPPED,
        vm::RESCUED,
        vm::RESIZED,
        vm::SOFT_DELETED,
        vm::DELETED,
        vm::ERROR,
        vm::SHELVED,
        vm::SHELVED_OFFLOADED,
    ];
    let s = status.to_ascii_uppercase();
    let known = [
        "ACTIVE",
        "BUILD",
        "PAUSED",
        "SUSPENDED",
        "SHUTOFF",
        "RESCUE",
        "VERIFY_RESIZE",
        "REVERT_RESIZE",
        "SOFT_DELETED",
        "DELETED",
        "ERROR",
        "SHELVED",
        "SHELVED_OFFLOADED",
        "REBOOT",
        "HARD_REBOOT",
        "PASSWORD",
        "REBUILD",
        "MIGRATING",
        "RESIZE",
        "UNKNOWN",
    ];
    if !known.contains(&s.as_str()) {
        return None;
    }
    Some(
        ALL.iter()
            .copied()
            .filter(|v| status_could_be(v, &s))
            .collect(),
    )
}

fn status_could_be(vm_state: &str, status: &str) -> bool {
    // Any task state may apply; the exact status is checked again per row.
    [
        None,
        Some(task::REBOOTING),
        Some(task::REBOOTING_HARD),
        Some(task::UPDATING_PASSWORD),
        Some(task::REBUILDING),
        Some(task::MIGRATING),
        Some(task::RESIZE_PREP),
        Some(task::RESIZE_REVERTING),
    ]
    .into_iter()
    .any(|t| self::status(vm_state, t) == status)
}

/// What an action needs of the server's state (Nova's `check_instance_state`); `None` means
/// any value.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    pub vm_states: Option<&'static [&'static str]>,
    pub task_states: Option<&'static [Option<&'static str>]>,
}

/// `task_state` must be unset.
pub const NO_TASK: Option<&'static [Option<&'static str>]> = Some(&[None]);

impl Allowed {
    pub const fn new(
        vm_states: Option<&'static [&'static str]>,
        task_states: Option<&'static [Option<&'static str>]>,
    ) -> Self {
        Self {
            vm_states,
            task_states,
        }
    }

    pub fn permits(&self, vm_state: &str, task_state: Option<&str>) -> bool {
        self.vm_states.is_none_or(|v| v.contains(&vm_state))
            && self.task_states.is_none_or(|t| t.contains(&task_state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        assert_eq!(status(vm::ACTIVE, None), "ACTIVE");
        assert_eq!(
            status(vm::ACTIVE, Some(task::REBOOTING_HARD)),
            "HARD_REBOOT"
        );
        assert_eq!(status(vm::STOPPED, Some(task::RESIZE_PREP)), "RESIZE");
        assert_eq!(status(vm::RESIZED, None), "VERIFY_RESIZE");
        assert_eq!(status(vm::BUILDING, Some(task::SPAWNING)), "BUILD");
        assert_eq!(status(vm::ACTIVE, Some(task::POWERING_OFF)), "ACTIVE");
        assert_eq!(
            vm_states_for_status("shutoff").expect("known"),
            vec![vm::STOPPED]
        );
        assert!(vm_states_for_status("bogus").is_none());
        let a = Allowed::new(Some(&[vm::ACTIVE]), NO_TASK);
        assert!(a.permits(vm::ACTIVE, None));
        assert!(!a.permits(vm::ACTIVE, Some(task::REBOOTING)));
    }
}
