//! trace's kernel side: what the processes of one cgroup v2 subtree do.
//!
//! - [`syscalls`]: a raw tracepoint on `sys_enter` counts every system call per ABI and number.
//! - [`files`]: `syscalls:sys_exit_*` tracepoints of the file system calls send one record per
//!   first sighting of a file access, with the paths walked in the kernel ([`path`]).
//! - [`exec`]: `sched:sched_process_exec` sends the executed program's path and arguments.
//! - [`caps`]: `capability:cap_capable` counts capability checks per capability and verdict.
//! - [`sockets`]: the exits of `socket`, `bind` and `listen` count sockets and send bound ports.
//! - [`args`]: the counter keeps the distinct values of argument 0 of `personality`, `prctl`,
//!   `clone` (for argument-level seccomp rules).
//! - [`phases`]: `cgroup:cgroup_mkdir` makes every new container cgroup a target inside its
//!   mkdir, before any task can join it, and `cgroup:cgroup_rmdir` drops it; the exits of
//!   `seccomp`/`prctl` and `sched:sched_process_exec` move a target through its startup phases.
//! - [`floor`]: an empty `sys_enter` program that trace never attaches (benchmarks measure the
//!   cost of the attach point with it).
//!
//! Every program starts with the cgroup filter ([`current_target`]): one helper call for the
//! task's cgroup at the targets' level and one inlined array lookup of that id, whatever the
//! number of targets; nothing else happens for tasks outside the targets. Counters, dedup and
//! records are per target. Records go through one ring buffer without a wakeup per record;
//! userspace polls it. Layouts and names shared with userspace are in `trace_common`.
#![no_std]
#![no_main]

mod args;
mod caps;
mod exec;
mod files;
mod floor;
mod kernel;
mod path;
mod phases;
mod sockets;
mod syscalls;

use aya_ebpf::{
    helpers::{bpf_get_current_ancestor_cgroup_id, generated::bpf_get_current_comm},
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use trace_common::{
    CAP_SLOTS, DEDUP_ENTRIES, DROPPED_SLOTS, EVENTS_BYTES, INDEX_SLOTS, KernelOffsets, MAX_SLOTS,
    NO_OFFSET, Phase, RUNC_COMM_PREFIX, SOCKET_SLOTS, TargetConfig, TargetEntry,
};

// Globals set by userspace at load time (names: `trace_common::GLOBAL_*`). They live in .rodata,
// which the loader freezes, so the verifier sees them as constants.

/// Byte offset of `thread_info.status` in `task_struct`, or `NO_OFFSET`.
#[unsafe(no_mangle)]
static COMPAT_STATUS_OFFSET: u64 = NO_OFFSET;
/// Kernel struct offsets from BTF.
#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = KernelOffsets::NONE;
/// Offsets of `cap` and `ret` in the `capability:cap_capable` record (from its tracefs format).
#[unsafe(no_mangle)]
static CAP_FIELD_OFFSET: u64 = 32;
#[unsafe(no_mangle)]
static CAP_RET_OFFSET: u64 = 36;
/// Offset of `cred` in the `capability:cap_capable` record.
#[unsafe(no_mangle)]
static CAP_CRED_OFFSET: u64 = 8;
/// Masks a cgroup id into an index of `TARGETS`.
#[unsafe(no_mangle)]
static INDEX_MASK: u32 = INDEX_SLOTS - 1;
/// Bytes pending in `EVENTS` from which a record wakes userspace (`trace_common::wakeup_bytes`
/// of the size userspace gave the ring).
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 1 << 20;

/// Reads a global (or one field of it) without letting rustc fold its initial value.
macro_rules! global {
    ($($place:tt)+) => {
        // SAFETY: a plain load of a valid, aligned static; volatile only to keep the load.
        unsafe { core::ptr::read_volatile(&raw const $($place)+) }
    };
}
pub(crate) use global;

/// File, exec and socket records for userspace (`trace_common::FileRecord`, ...); userspace sizes
/// it at load (`trace_common::events_bytes`).
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_BYTES, 0);

/// Records that could not be written (ring buffer full), per target slot and record kind, per
/// CPU. The counter maps are declared for [`MAX_SLOTS`] targets; userspace loads them sized for
/// the slots it uses.
#[map(name = "DROPPED")]
static DROPPED: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_SLOTS * DROPPED_SLOTS, 0);

/// Capability checks per target slot and (capability, verdict, checker), per CPU
/// (`trace_common::cap_slot`).
#[map(name = "CAPS")]
static CAPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_SLOTS * CAP_SLOTS, 0);

/// `socket(2)` calls per target slot and (family, type), per CPU (`trace_common::socket_slot`).
#[map(name = "SOCKETS")]
static SOCKETS: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_SLOTS * SOCKET_SLOTS, 0);

/// Facts already sent (see [`path::DedupKey`]): a hit means the record would repeat one.
#[map(name = "SEEN")]
static SEEN: LruHashMap<path::DedupKey, u8> = LruHashMap::with_max_entries(DEDUP_ENTRIES, 0);

/// The root directory (`struct dentry *`) of the task that made the last container cgroup caught:
/// the runtime, on the host (`trace_common::MAP_HOST_ROOT`). 0 until one was caught.
#[map(name = "HOST_ROOT")]
static HOST_ROOT: Array<u64> = Array::with_max_entries(1, 0);

/// Whether `root` is the host's root directory, as [`HOST_ROOT`] knows it.
#[inline(always)]
fn is_host_root(root: u64) -> bool {
    HOST_ROOT
        .get(0)
        .is_some_and(|&host| host != 0 && host == root)
}

/// Where the targets are (`trace_common::TargetConfig`): written by userspace and by
/// `phases::catch_cgroup`, read first by every program.
#[map(name = "CONFIG")]
static CONFIG: Array<TargetConfig> = Array::with_max_entries(1, 0);

/// The targets, indexed by `cgroup_id & INDEX_MASK` (`trace_common::TargetEntry`): one inlined
/// lookup finds a task's target. A target whose entry is taken goes to [`OVERFLOW`].
#[map(name = "TARGETS")]
static TARGETS: Array<TargetEntry> = Array::with_max_entries(INDEX_SLOTS, 0);

/// Targets whose [`TARGETS`] entry was taken, by cgroup id.
#[map(name = "OVERFLOW")]
static OVERFLOW: HashMap<u64, TargetEntry> = HashMap::with_max_entries(MAX_SLOTS, 0);

/// The current task's target: its entry (for the phase programs to update), cgroup id, counter
/// slot and phase.
#[derive(Clone, Copy)]
pub struct Target {
    pub entry: *mut TargetEntry,
    pub cgroup_id: u64,
    pub slot: u32,
    pub phase: Phase,
}

/// The target the current task belongs to, if any: its cgroup at the targets' level, looked up
/// in [`TARGETS`] (and in [`OVERFLOW`] when something went there). Comes first in every
/// recording program.
#[inline(always)]
fn current_target() -> Option<Target> {
    let config = CONFIG.get_ptr(0)?;
    // SAFETY: the array's one value, valid for the program run; volatile loads take what another
    // CPU wrote.
    let level = unsafe { core::ptr::read_volatile(&raw const (*config).level) };
    if level == 0 {
        return None;
    }
    // The level is at most a few dozen: the cast cannot wrap.
    // SAFETY: the helper takes a plain integer and is allowed in every tracing program.
    let id = unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) };
    if id == 0 {
        return None;
    }
    let mut entry = TARGETS.get_ptr_mut(id as u32 & global!(INDEX_MASK))?;
    // SAFETY: as above; the id first, then what was written before it.
    if unsafe { core::ptr::read_volatile(&raw const (*entry).cgroup_id) } != id {
        // SAFETY: as above.
        if unsafe { core::ptr::read_volatile(&raw const (*config).overflow) } == 0 {
            return None;
        }
        entry = OVERFLOW.get_ptr_mut(&id)?;
    }
    // SAFETY: `entry` is a value of one of the two maps, valid for the program run.
    let (slot, filter_seen, exec_seen) = unsafe {
        (
            core::ptr::read_volatile(&raw const (*entry).slot),
            core::ptr::read_volatile(&raw const (*entry).filter_seen),
            core::ptr::read_volatile(&raw const (*entry).exec_seen),
        )
    };
    Some(Target {
        entry,
        cgroup_id: id,
        slot,
        phase: trace_common::phase_of(filter_seen, exec_seen),
    })
}

/// Whether the current task is one of runc's init processes (`comm` starts with `runc:[`): in
/// the application phase, the init of a `docker exec`, which is harness, not application.
///
/// Reads `comm` into two words and compares the first one masked: aya's helper zeroes a byte
/// array and `starts_with` compares bytes, which compile to byte-at-a-time `memset`/`memcmp`
/// subprograms on BPF.
#[inline(always)]
fn runc_task() -> bool {
    const PREFIX_MASK: u64 = (1 << (8 * RUNC_COMM_PREFIX.len())) - 1;
    let p = RUNC_COMM_PREFIX;
    let prefix = u64::from_le_bytes([p[0], p[1], p[2], p[3], p[4], p[5], 0, 0]);
    // Not zeroed (that too would be a `memset`): the helper's buffer may be uninitialized.
    let mut comm = core::mem::MaybeUninit::<[u64; 2]>::uninit();
    // SAFETY: `comm` is 16 writable bytes (TASK_COMM_LEN); the helper writes at most that.
    let rc = unsafe { bpf_get_current_comm(comm.as_mut_ptr().cast(), 16) };
    // SAFETY: on success the helper wrote the whole buffer (zero-padded).
    rc == 0 && unsafe { comm.assume_init() }[0] & PREFIX_MASK == prefix
}

/// Adds one to this CPU's copy of `slot` in a per-CPU counter array.
#[inline(always)]
fn count(map: &PerCpuArray<u64>, slot: u32) {
    if let Some(counter) = map.get_ptr_mut(slot) {
        // SAFETY: the pointer is this CPU's value of an existing slot, valid for the whole
        // program run; tracing programs do not nest on a CPU, so nothing else writes it meanwhile.
        unsafe { *counter += 1 };
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
