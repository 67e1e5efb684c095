//! The maps and globals both sides name: their names, their sizes, and the key of the argument
//! values map.

/// Name of the per-CPU `u64` array that counts system calls: per target slot a block of
/// [`PHASE_SYSCALL_SLOTS`](crate::PHASE_SYSCALL_SLOTS), in it [`PHASES`](crate::PHASES) blocks of [`SYSCALL_SLOTS`](crate::SYSCALL_SLOTS), one per [`Phase`](crate::Phase)
/// ([`target_syscall_slot`](crate::target_syscall_slot)).
pub const MAP_SYSCALLS: &str = "SYSCALLS";

/// Name of the one-entry array holding the [`TargetConfig`](crate::TargetConfig): the cgroup level of the targets.
pub const MAP_CONFIG: &str = "CONFIG";
/// Name of the array of [`TargetEntry`](crate::TargetEntry)s, [`INDEX_SLOTS`](crate::INDEX_SLOTS) of them, indexed by the low bits of the
/// cgroup id ([`GLOBAL_INDEX_MASK`]): a task finds its target with one inlined array lookup.
pub const MAP_TARGETS: &str = "TARGETS";
/// Name of the hash map (cgroup id -> [`TargetEntry`](crate::TargetEntry)) of the targets whose [`MAP_TARGETS`] entry
/// was taken by another target; looked at only when [`TargetConfig::overflow`](crate::TargetConfig::overflow) is set.
pub const MAP_OVERFLOW: &str = "OVERFLOW";
/// Name of the queue of free target slots (`u32`): the `cgroup_mkdir` program takes one for each
/// new container cgroup; userspace puts a slot back once it has read and cleared its counters.
pub const MAP_FREE_SLOTS: &str = "FREE_SLOTS";
/// Name of the ring buffer of [`CgroupRecord`](crate::CgroupRecord)s: container cgroups caught and gone. Apart from
/// [`MAP_EVENTS`] so that a flood of file records can never push one out.
pub const MAP_CGROUP_EVENTS: &str = "CGROUP_EVENTS";
/// Size of [`MAP_CGROUP_EVENTS`] in bytes (about 3,000 records).
pub const CGROUP_EVENTS_BYTES: u32 = 256 << 10;
/// One `u64`: the root directory (`struct dentry *`) of the task that made the last container
/// cgroup caught (the container runtime, on the host); 0 until one was caught.
pub const MAP_HOST_ROOT: &str = "HOST_ROOT";
/// Global: masks a cgroup id into an index of [`MAP_TARGETS`] (`INDEX_SLOTS - 1`; tests use
/// smaller masks to exercise [`MAP_OVERFLOW`]).
pub const GLOBAL_INDEX_MASK: &str = "INDEX_MASK";
/// Global: byte offset of `thread_info.status` in `task_struct` (from BTF), or [`NO_OFFSET`](crate::NO_OFFSET).
pub const GLOBAL_COMPAT_STATUS_OFFSET: &str = "COMPAT_STATUS_OFFSET";

/// Name of the ring buffer carrying [`FileRecord`](crate::FileRecord), [`ExecRecord`](crate::ExecRecord) and [`SocketRecord`](crate::SocketRecord) records.
pub const MAP_EVENTS: &str = "EVENTS";
/// Name of the per-CPU `u64` array counting records that could not be written, per target slot
/// and record kind (index `slot * DROPPED_SLOTS + kind`, see [`DROPPED_SLOTS`](crate::DROPPED_SLOTS)).
pub const MAP_DROPPED: &str = "DROPPED";
/// Name of the per-CPU `u64` array counting capability checks, index `slot * CAP_SLOTS +`
/// [`cap_slot`](crate::cap_slot) for the target in counter slot `slot`.
pub const MAP_CAPS: &str = "CAPS";
/// Name of the per-CPU `u64` array counting `socket(2)` calls, index `slot * SOCKET_SLOTS +`
/// [`socket_slot`](crate::socket_slot) for the target in counter slot `slot`.
pub const MAP_SOCKETS: &str = "SOCKETS";

/// Name of the hash map of argument values seen ([`ArgValueKey`] -> `u8` 1), at most
/// [`ARG_VALUE_ENTRIES`] entries.
pub const MAP_ARG_VALUES: &str = "ARG_VALUES";
/// Name of the per-CPU `u64` array (one slot per target slot) counting values [`MAP_ARG_VALUES`]
/// had no room for.
pub const MAP_ARG_LOST: &str = "ARG_LOST";
/// Entries of [`MAP_ARG_VALUES`]: distinct (call, argument, value) triples kept.
pub const ARG_VALUE_ENTRIES: u32 = 4096;
/// The `x86_64` numbers of the calls whose argument 0 values are kept: `clone` (56),
/// `personality` (135), `prctl` (157). trace-user checks the names against its syscall table.
pub const ARG_SYSCALLS: [u64; 3] = [56, 135, 157];

/// One distinct argument value of a system call ([`MAP_ARG_VALUES`]' key): the native (`x86_64`)
/// call number, the argument's index, the target's counter slot, the value as the register held
/// it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArgValueKey {
    /// The system call number (`x86_64` table).
    pub nr: u32,
    /// The argument, from 0.
    pub index: u16,
    /// The target's counter slot (below [`MAX_SLOTS`](crate::MAX_SLOTS)).
    pub slot: u16,
    /// Its value.
    pub value: u64,
}

const _: () = assert!(size_of::<ArgValueKey>() == 16 && align_of::<ArgValueKey>() == 8);

/// Global: the kernel struct offsets the programs use ([`KernelOffsets`](crate::KernelOffsets), from BTF).
pub const GLOBAL_OFFSETS: &str = "OFFSETS";
/// Global: byte offset of the `cap` field in the `capability:cap_capable` tracepoint record.
pub const GLOBAL_CAP_FIELD_OFFSET: &str = "CAP_FIELD_OFFSET";
/// Global: byte offset of the `ret` field in the `capability:cap_capable` tracepoint record.
pub const GLOBAL_CAP_RET_OFFSET: &str = "CAP_RET_OFFSET";
/// Name of the global holding the offset of `cred` in the `capability:cap_capable` record.
pub const GLOBAL_CAP_CRED_OFFSET: &str = "CAP_CRED_OFFSET";

/// Size of [`MAP_EVENTS`] in bytes as the object declares it, the most [`events_bytes`] gives;
/// userspace sizes the map at load.
pub const EVENTS_BYTES: u32 = 64 << 20;
/// The least [`events_bytes`] gives.
pub const EVENTS_BYTES_MIN: u32 = 8 << 20;
/// [`MAP_EVENTS`] per CPU that can write records at once.
pub const EVENTS_BYTES_PER_CPU: u32 = 4 << 20;

/// Size of [`MAP_EVENTS`] for a machine of `cpus` CPUs: [`EVENTS_BYTES_PER_CPU`] each, a power of
/// two between [`EVENTS_BYTES_MIN`] and [`EVENTS_BYTES`]. Records are first sightings only, and
/// userspace is woken once [`wakeup_bytes`] are pending; what the ring must hold is what every
/// CPU can write while the reader is woken and catches up (docs/probe.md, "The ring buffer").
pub fn events_bytes(cpus: u32) -> u32 {
    cpus.saturating_mul(EVENTS_BYTES_PER_CPU)
        .checked_next_power_of_two()
        .unwrap_or(EVENTS_BYTES)
        .clamp(EVENTS_BYTES_MIN, EVENTS_BYTES)
}

/// Global: the kernel side asks for no wakeup per record (`BPF_RB_NO_WAKEUP`) and forces one when
/// this many bytes are pending ([`wakeup_bytes`]); userspace also polls every
/// [`POLL_INTERVAL_MS`].
pub const GLOBAL_WAKEUP_BYTES: &str = "WAKEUP_BYTES";

/// [`GLOBAL_WAKEUP_BYTES`] for a ring of `ring_bytes`: an eighth of it.
pub fn wakeup_bytes(ring_bytes: u32) -> u64 {
    u64::from(ring_bytes / 8)
}
/// How often userspace drains the ring buffer when no wakeup came.
pub const POLL_INTERVAL_MS: u64 = 100;
/// Entries of the kernel's dedup set (an LRU hash): first sightings only reach the ring buffer.
pub const DEDUP_ENTRIES: u32 = 65_536;
