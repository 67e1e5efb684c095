//! trace's kernel side: what the processes of one cgroup v2 subtree do.
//!
//! - [`syscalls`]: a raw tracepoint on `sys_enter` counts every system call per ABI and number.
//! - [`files`]: `syscalls:sys_exit_*` tracepoints of the file system calls send one record per
//!   first sighting of a file access, with the paths walked in the kernel ([`path`]).
//! - [`exec`]: `sched:sched_process_exec` sends the executed program's path and arguments.
//! - [`caps`]: `capability:cap_capable` counts capability checks per capability and verdict.
//! - [`sockets`]: the exits of `socket`, `bind` and `listen` count sockets and send bound ports.
//! - [`args`]: `syscalls:sys_enter_*` of `personality`, `prctl`, `clone` keep the distinct
//!   values of argument 0 (for argument-level seccomp rules).
//! - [`phases`]: `cgroup:cgroup_mkdir` sets the target when the expected cgroup appears (a probe
//!   armed before the container exists); the exits of `seccomp`/`prctl` and
//!   `sched:sched_process_exec` move the target through its startup phases.
//! - [`floor`]: an empty `sys_enter` program that trace never attaches (benchmarks measure the
//!   cost of the attach point with it).
//!
//! Every program starts with the cgroup filter ([`target_phase`]): one inlined array lookup of
//! the target, one helper call, nothing else happens for tasks outside the target. Records go through one ring buffer without a wakeup per
//! record; userspace polls it. Layouts and names shared with userspace are in `trace_common`.
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
    maps::{Array, LruHashMap, PerCpuArray, RingBuf},
};
use trace_common::{
    CAP_SLOTS, DEDUP_ENTRIES, DROPPED_SLOTS, EVENTS_BYTES, KernelOffsets, NO_OFFSET, Phase,
    RUNC_COMM_PREFIX, SOCKET_SLOTS, TargetState,
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

/// Reads a global (or one field of it) without letting rustc fold its initial value.
macro_rules! global {
    ($($place:tt)+) => {
        // SAFETY: a plain load of a valid, aligned static; volatile only to keep the load.
        unsafe { core::ptr::read_volatile(&raw const $($place)+) }
    };
}
pub(crate) use global;

/// File, exec and socket records for userspace (`trace_common::FileRecord`, ...).
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_BYTES, 0);

/// Records that could not be written (ring buffer full), per record kind, per CPU.
#[map(name = "DROPPED")]
static DROPPED: PerCpuArray<u64> = PerCpuArray::with_max_entries(DROPPED_SLOTS, 0);

/// Capability checks per (capability, verdict), per CPU (`trace_common::cap_slot`).
#[map(name = "CAPS")]
static CAPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(CAP_SLOTS, 0);

/// `socket(2)` calls per (family, type), per CPU (`trace_common::socket_slot`).
#[map(name = "SOCKETS")]
static SOCKETS: PerCpuArray<u64> = PerCpuArray::with_max_entries(SOCKET_SLOTS, 0);

/// Facts already sent (see [`path::DedupKey`]): a hit means the record would repeat one.
#[map(name = "SEEN")]
static SEEN: LruHashMap<path::DedupKey, u8> = LruHashMap::with_max_entries(DEDUP_ENTRIES, 0);

/// The traced cgroup and its startup phase (`trace_common::TargetState`): written by userspace
/// (attaching to a running cgroup) or by `phases::catch_cgroup` (a pending probe), read first by
/// every program. A map, not a read-only global, because the kernel side sets it; the verifier
/// inlines the lookup of an array.
#[map(name = "TARGET")]
static TARGET: Array<TargetState> = Array::with_max_entries(1, 0);

/// The target's state, read once: `None` if the map has no entry (never: arrays are
/// preallocated, but the verifier wants the check).
#[inline(always)]
fn target_state() -> Option<(*mut TargetState, TargetState)> {
    let state = TARGET.get_ptr_mut(0)?;
    // SAFETY: the pointer is the array's one value, valid for the program run; a volatile read
    // takes one snapshot, whatever another CPU writes meanwhile.
    Some((state, unsafe { core::ptr::read_volatile(state) }))
}

/// Whether the current task is in `state`'s cgroup or below it (false while there is none).
#[inline(always)]
fn in_cgroup(state: &TargetState) -> bool {
    if state.cgroup_id == 0 {
        return false;
    }
    // The level is at most a few dozen: the cast cannot wrap.
    // SAFETY: the helper takes a plain integer and is allowed in every tracing program.
    unsafe { bpf_get_current_ancestor_cgroup_id(state.level as i32) == state.cgroup_id }
}

/// The target's phase if the current task is in the target cgroup or below it. Comes first in
/// every recording program; the phase is read once per run.
#[inline(always)]
fn target_phase() -> Option<Phase> {
    let (_, state) = target_state()?;
    in_cgroup(&state).then(|| state.phase())
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
