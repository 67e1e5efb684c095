//! Argument values: `syscalls:sys_enter_*` tracepoints of a few calls whose arguments a seccomp
//! filter can narrow (`personality`, `prctl`, `clone`: argument 0). Each distinct (call,
//! argument, value) goes into the bounded hash `ARG_VALUES`; when it is full the value is
//! counted in `ARG_LOST`, so the recording knows it may lack values.
//!
//! The tracepoints fire only for their own call: the other calls pay nothing. Values are taken
//! from runc after its filter and from the application (phases 1 and 2: what the filter sees),
//! not from runc's setup before it.

use aya_ebpf::{
    EbpfContext as _,
    macros::{map, tracepoint},
    maps::{HashMap, PerCpuArray},
    programs::TracePointContext,
};
use trace_common::{
    ARG_VALUE_ENTRIES, ArgValueKey, Phase, SYS_ENTER_ARG0_OFFSET, SYS_EXIT_NR_OFFSET,
};

use crate::{count, target_phase};

/// Distinct values seen (`trace_common::ArgValueKey` -> 1).
#[map(name = "ARG_VALUES")]
static ARG_VALUES: HashMap<ArgValueKey, u8> = HashMap::with_max_entries(ARG_VALUE_ENTRIES, 0);

/// Values not kept because `ARG_VALUES` was full, per CPU (one slot).
#[map(name = "ARG_LOST")]
static ARG_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// `BPF_NOEXIST`: insert only if absent.
const BPF_NOEXIST: u64 = 1;
/// The map is full.
const E2BIG: i32 = -7;

/// `sys_enter` of personality, prctl, clone: argument 0.
#[tracepoint]
pub fn arg_values(ctx: TracePointContext) -> u32 {
    if matches!(
        target_phase(),
        Some(Phase::RuncAfterFilter | Phase::Application)
    ) {
        let base = ctx.as_ptr().cast::<u8>();
        // SAFETY: direct loads at fixed offsets of the record (checked by the verifier against
        // the context size; userspace checked them against each tracepoint's format).
        let (nr, value) = unsafe {
            (
                *base.add(SYS_EXIT_NR_OFFSET).cast::<i32>(),
                *base.add(SYS_ENTER_ARG0_OFFSET).cast::<u64>(),
            )
        };
        let key = ArgValueKey {
            nr: nr as u32,
            index: 0,
            value,
        };
        // Check before insert: a value already there costs one lookup and no write.
        if ARG_VALUES.get_ptr(&key).is_none()
            && ARG_VALUES.insert(&key, &1, BPF_NOEXIST) == Err(E2BIG)
        {
            count(&ARG_LOST, 0);
        }
    }
    0
}
