//! Argument values: argument 0 of a few calls a seccomp filter can narrow (`personality`,
//! `prctl`, `clone`; `trace_common::ARG_SYSCALLS`). The system call counter calls [`record`] for
//! them, in the target only, after runc's filter (phases 1 and 2: what the filter sees) and for
//! native (x86_64) calls. Each distinct (call, argument, value) goes into the bounded hash
//! `ARG_VALUES`; when it is full the value is counted in `ARG_LOST`, so the recording knows it may
//! lack values.
//!
//! Done inside `syscall_enter` rather than on `syscalls:sys_enter_*` tracepoints: enabling any of
//! those adds the kernel's perf callback to the `sys_enter` tracepoint, which every system call
//! of the machine then runs.

use aya_ebpf::{
    macros::map,
    maps::{HashMap, PerCpuArray},
};
use trace_common::{ARG_VALUE_ENTRIES, ArgValueKey, MAX_SLOTS};

use crate::{count, kernel::syscall_args};

/// Distinct values seen (`trace_common::ArgValueKey` -> 1).
#[map(name = "ARG_VALUES")]
static ARG_VALUES: HashMap<ArgValueKey, u8> = HashMap::with_max_entries(ARG_VALUE_ENTRIES, 0);

/// Values not kept because `ARG_VALUES` was full, per target slot, per CPU.
#[map(name = "ARG_LOST")]
static ARG_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_SLOTS, 0);

/// `BPF_NOEXIST`: insert only if absent.
const BPF_NOEXIST: u64 = 1;
/// The map is full.
const E2BIG: i32 = -7;

/// Keeps argument 0 of the current call, number `nr` (x86_64), of the target in `slot`.
#[inline(always)]
pub fn record(nr: u32, slot: u32) {
    let Ok(args) = syscall_args() else {
        return;
    };
    let key = ArgValueKey {
        nr,
        index: 0,
        // Slots are below MAX_SLOTS (256).
        slot: slot as u16,
        value: args[0],
    };
    // Check before insert: a value already there costs one lookup and no write.
    if ARG_VALUES.get_ptr(&key).is_none() && ARG_VALUES.insert(&key, &1, BPF_NOEXIST) == Err(E2BIG)
    {
        count(&ARG_LOST, slot);
    }
}
