//! System call counting: a raw tracepoint on `sys_enter` adds one per call to the per-CPU
//! `SYSCALLS` array, per target slot, startup phase of the target, ABI and number (layout:
//! `trace_common::target_syscall_slot`).
//!
//! Every task on the host runs this program on every system call, so the cgroup filter comes
//! first and nothing else happens for other tasks.

use aya_ebpf::{
    helpers::bpf_get_current_task_btf,
    macros::{map, raw_tracepoint},
    maps::PerCpuArray,
    programs::RawTracePointContext,
};
use trace_common::{
    ARG_SYSCALLS, Abi, MAX_SLOTS, NO_OFFSET, PHASE_SYSCALL_SLOTS, Phase, TS_COMPAT,
    X32_SYSCALL_BIT, target_syscall_slot,
};

use crate::{COMPAT_STATUS_OFFSET, count, current_target, global};

/// Calls per slot (`trace_common::target_syscall_slot`), per CPU; sized by userspace for the
/// target slots it uses.
#[map(name = "SYSCALLS")]
static SYSCALLS: PerCpuArray<u64> =
    PerCpuArray::with_max_entries(MAX_SLOTS * PHASE_SYSCALL_SLOTS, 0);

/// `sys_enter(struct pt_regs *regs, long id)`: arg(0) is the register frame, arg(1) the number.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscall_enter(ctx: RawTracePointContext) -> u32 {
    match try_syscall_enter(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_syscall_enter(ctx: &RawTracePointContext) -> Result<(), i64> {
    let Some(target) = current_target() else {
        return Ok(());
    };
    let phase = target.phase;
    let id: i64 = ctx.arg(1);
    // Negative numbers (e.g. `syscall(-1)`) become huge and land in the out-of-range slot.
    let id = id as u64;
    let (abi, nr) = if in_compat_syscall() {
        (Abi::X86, id)
    } else if id & X32_SYSCALL_BIT != 0 {
        (Abi::X32, id & !X32_SYSCALL_BIT)
    } else {
        (Abi::X86_64, id)
    };
    count(&SYSCALLS, target_syscall_slot(target.slot, phase, abi, nr));
    if abi == Abi::X86_64 && phase != Phase::RuncBeforeFilter && ARG_SYSCALLS.contains(&nr) {
        // The numbers are below 512: the cast keeps them.
        crate::args::record(nr as u32, target.slot);
    }
    Ok(())
}

/// Whether the current task is in a 32-bit (ia32) system call: x86 sets `TS_COMPAT` in
/// `thread_info.status` on entry. False when BTF gave no offset (non-x86 kernels).
///
/// A direct load through the BTF task pointer (the verifier checks the offset against
/// `task_struct`), not `bpf_probe_read_kernel`: this runs on every system call of the target.
#[inline(always)]
fn in_compat_syscall() -> bool {
    let offset = global!(COMPAT_STATUS_OFFSET);
    if offset == NO_OFFSET {
        return false;
    }
    // SAFETY: the helper takes no arguments; it returns the current task_struct (never null).
    let task = unsafe { bpf_get_current_task_btf() } as u64;
    // SAFETY: the offset comes from this kernel's BTF: it is `thread_info.status` of the
    // current task, a u32 inside its task_struct.
    let status = unsafe { core::ptr::read_volatile(task.wrapping_add(offset) as *const u32) };
    status & TS_COMPAT != 0
}
