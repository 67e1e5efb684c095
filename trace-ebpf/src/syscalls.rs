//! System call counting: a raw tracepoint on `sys_enter` adds one per call to the per-CPU
//! `SYSCALLS` array, per startup phase of the target, ABI and number (layout:
//! `trace_common::phase_syscall_slot`).
//!
//! Every task on the host runs this program on every system call, so the cgroup filter comes
//! first and nothing else happens for other tasks.

use aya_ebpf::{
    helpers::{bpf_get_current_task, bpf_probe_read_kernel},
    macros::{map, raw_tracepoint},
    maps::PerCpuArray,
    programs::RawTracePointContext,
};
use trace_common::{
    ARG_SYSCALLS, Abi, NO_OFFSET, PHASE_SYSCALL_SLOTS, Phase, TS_COMPAT, X32_SYSCALL_BIT,
    phase_syscall_slot,
};

use crate::{COMPAT_STATUS_OFFSET, count, global, target_phase};

/// Calls per slot (`trace_common::phase_syscall_slot`), per CPU.
#[map(name = "SYSCALLS")]
static SYSCALLS: PerCpuArray<u64> = PerCpuArray::with_max_entries(PHASE_SYSCALL_SLOTS, 0);

/// `sys_enter(struct pt_regs *regs, long id)`: arg(0) is the register frame, arg(1) the number.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscall_enter(ctx: RawTracePointContext) -> u32 {
    match try_syscall_enter(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_syscall_enter(ctx: &RawTracePointContext) -> Result<(), i64> {
    let Some(phase) = target_phase() else {
        return Ok(());
    };
    let id: i64 = ctx.arg(1);
    // Negative numbers (e.g. `syscall(-1)`) become huge and land in the out-of-range slot.
    let id = id as u64;
    let (abi, nr) = if in_compat_syscall()? {
        (Abi::X86, id)
    } else if id & X32_SYSCALL_BIT != 0 {
        (Abi::X32, id & !X32_SYSCALL_BIT)
    } else {
        (Abi::X86_64, id)
    };
    count(&SYSCALLS, phase_syscall_slot(phase, abi, nr));
    if abi == Abi::X86_64 && phase != Phase::RuncBeforeFilter && ARG_SYSCALLS.contains(&nr) {
        // The numbers are below 512: the cast keeps them.
        crate::args::record(nr as u32);
    }
    Ok(())
}

/// Whether the current task is in a 32-bit (ia32) system call: x86 sets `TS_COMPAT` in
/// `thread_info.status` on entry. False when BTF gave no offset (non-x86 kernels).
#[inline(always)]
fn in_compat_syscall() -> Result<bool, i64> {
    let offset = global!(COMPAT_STATUS_OFFSET);
    if offset == NO_OFFSET {
        return Ok(false);
    }
    // SAFETY: the helper takes no arguments; it returns the current task_struct's address.
    let task = unsafe { bpf_get_current_task() };
    let status = task.wrapping_add(offset) as *const u32;
    // SAFETY: bpf_probe_read_kernel checks the address and fails cleanly on a bad one; the offset
    // comes from this kernel's BTF, so it points at `thread_info.status` of the current task.
    let status = unsafe { bpf_probe_read_kernel(status) }.map_err(i64::from)?;
    Ok(status & TS_COMPAT != 0)
}
