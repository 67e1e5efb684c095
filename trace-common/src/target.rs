//! The targets: which cgroups are recorded, in which slot, and the [`Phase`] of a container's
//! startup a system call belongs to.

/// Entries of [`MAP_TARGETS`](crate::MAP_TARGETS) (a power of two).
pub const INDEX_SLOTS: u32 = 1024;
/// The most target slots a probe can have: each slot is one container cgroup recorded at once,
/// with its own counters. Userspace sizes the counter maps for the slots it asks for.
pub const MAX_SLOTS: u32 = 256;
/// A [`CgroupRecord`](crate::CgroupRecord)'s slot when no slot was free (or the cgroup was at another level than the
/// targets): nothing of that cgroup is recorded.
pub const NO_SLOT: u32 = u32::MAX;

/// Where the targets are in the cgroup v2 hierarchy, the one entry of [`MAP_CONFIG`](crate::MAP_CONFIG).
///
/// `level` 0 records nothing. Userspace sets it for the running containers it attaches to; the
/// `cgroup_mkdir` program sets it with the first container cgroup it catches when it is 0. All
/// targets are at this level (Docker's are at 2: `/docker/<id>`, `/system.slice/docker-<id>.scope`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetConfig {
    /// The targets' level in the v2 hierarchy (root is 0).
    pub level: u32,
    /// 1 once a target went to [`MAP_OVERFLOW`](crate::MAP_OVERFLOW): a miss in [`MAP_TARGETS`](crate::MAP_TARGETS) must look there too.
    pub overflow: u32,
    /// What a caught cgroup's `filter_seen` starts as (1 when the program that would see the
    /// filter is missing, so the phases collapse upwards).
    pub initial_filter_seen: u32,
    /// What a caught cgroup's `exec_seen` starts as (1 without the exec program).
    pub initial_exec_seen: u32,
}

const _: () = assert!(size_of::<TargetConfig>() == 16 && align_of::<TargetConfig>() == 4);

/// One container cgroup being recorded (a value of [`MAP_TARGETS`](crate::MAP_TARGETS) or [`MAP_OVERFLOW`](crate::MAP_OVERFLOW)): its
/// counter slot and how far its startup has got.
///
/// A cgroup is one life of a container: a restarted container gets a new cgroup, a new entry and
/// a new slot, and its startup is seen again. `cgroup_id` 0 is an empty entry. Writers store
/// `slot` and the flags before `cgroup_id`, readers load `cgroup_id` first. `filter_seen` and
/// `exec_seen` only ever go from 0 to 1, each written by one program, so no update can be lost
/// without atomics.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetEntry {
    /// Cgroup v2 id of the traced subtree (what `bpf_get_current_ancestor_cgroup_id()` returns
    /// at the targets' level for its tasks).
    pub cgroup_id: u64,
    /// Its counter slot, below the number of slots the probe was loaded with.
    pub slot: u32,
    /// 1 once a task of the target installed a seccomp filter before the first exec.
    pub filter_seen: u32,
    /// 1 once a task of the target executed a program (the entrypoint): the application runs.
    pub exec_seen: u32,
    /// Zero.
    pub pad: u32,
}

const _: () = assert!(size_of::<TargetEntry>() == 24 && align_of::<TargetEntry>() == 8);

impl TargetEntry {
    /// The phase the target is in.
    #[allow(clippy::inline_always, reason = "runs on every traced syscall")]
    #[inline(always)]
    pub const fn phase(&self) -> Phase {
        phase_of(self.filter_seen, self.exec_seen)
    }
}

/// The phase of a target whose filter and exec flags are these.
#[allow(clippy::inline_always, reason = "runs on every traced syscall")]
#[inline(always)]
pub const fn phase_of(filter_seen: u32, exec_seen: u32) -> Phase {
    if exec_seen != 0 {
        Phase::Application
    } else if filter_seen != 0 {
        Phase::RuncAfterFilter
    } else {
        Phase::RuncBeforeFilter
    }
}

/// The phases of a container's life the probe keeps apart, so that the container runtime's own
/// setup is not taken for the application. The phase belongs to the target, not to a task.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "user",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Phase {
    /// From the first system call in the cgroup until a task in it installed a seccomp filter
    /// (the exit of a successful `seccomp(SECCOMP_SET_MODE_FILTER)` or
    /// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)`): runc building the container. A profile
    /// need not allow these calls (the filter is not in force yet).
    RuncBeforeFilter = 0,
    /// From the filter until the first program executed in the cgroup: runc after its filter is
    /// in place. A profile must allow these. Empty when no filter is installed.
    RuncAfterFilter = 1,
    /// From the first exec on (the entrypoint); the only phase when attaching to a running
    /// container.
    Application = 2,
}

/// Number of [`Phase`]s.
pub const PHASES: u32 = 3;

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 3] = [
        Phase::RuncBeforeFilter,
        Phase::RuncAfterFilter,
        Phase::Application,
    ];

    /// The phase numbered `n` (a record's `phase` byte), if any.
    pub const fn from_u8(n: u8) -> Option<Phase> {
        match n {
            0 => Some(Phase::RuncBeforeFilter),
            1 => Some(Phase::RuncAfterFilter),
            2 => Some(Phase::Application),
            _ => None,
        }
    }

    /// The phase's name as recordings spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::RuncBeforeFilter => "runc_before_filter",
            Phase::RuncAfterFilter => "runc_after_filter",
            Phase::Application => "application",
        }
    }
}

/// The name runc gives its init processes (`runc:[0:PARENT]`, `runc:[1:CHILD]`, `runc:[2:INIT]`):
/// a task whose `comm` starts with it is runc, not the application (`docker exec`'s init runs in
/// the container's cgroup).
pub const RUNC_COMM_PREFIX: &[u8; 6] = b"runc:[";
