//! System call counting: a raw tracepoint on `sys_enter` adds one per call to the per-CPU
//! `SYSCALLS` array, per startup phase of the target, ABI and number (layout:
//! `trace_common::phase_syscall_slot`).
//!
//! Every task on the host runs this program on every system call, so the cgroup filter comes
//! first and nothing else happens for other tasks; it reads the task's cgroup with plain loads
//! (no helper call) where it can, and so does the ABI check.

use aya_ebpf::{
    helpers::{bpf_get_current_task, bpf_get_current_task_btf, bpf_probe_read_kernel},
    macros::{map, raw_tracepoint},
    maps::PerCpuArray,
    programs::RawTracePointContext,
};
use trace_common::{
    Abi, NO_OFFSET, PHASE_SYSCALL_SLOTS, TS_COMPAT, TargetState, X32_SYSCALL_BIT,
    phase_syscall_slot,
};

use crate::{
    COMPAT_STATUS_OFFSET, DIRECT_LOADS, OFFSETS, count, global, in_cgroup, target_state,
};

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
    let Some((_, state)) = target_state() else {
        return Ok(());
    };
    if state.cgroup_id == 0 {
        return Ok(());
    }
    // One helper call for both direct reads (0: helpers only).
    let task = if global!(DIRECT_LOADS) == 0 {
        0
    } else {
        current_task_btf()
    };
    if !in_target_cgroup(&state, task) {
        return Ok(());
    }
    let phase = state.phase();
    let id: i64 = ctx.arg(1);
    // Negative numbers (e.g. `syscall(-1)`) become huge and land in the out-of-range slot.
    let id = id as u64;
    let (abi, nr) = if in_compat_syscall(task)? {
        (Abi::X86, id)
    } else if id & X32_SYSCALL_BIT != 0 {
        (Abi::X32, id & !X32_SYSCALL_BIT)
    } else {
        (Abi::X86_64, id)
    };
    count(&SYSCALLS, phase_syscall_slot(phase, abi, nr));
    Ok(())
}

/// Whether the current task is in a 32-bit (ia32) system call: x86 sets `TS_COMPAT` in
/// `thread_info.status` on entry. False when BTF gave no offset (non-x86 kernels). `task` is the
/// BTF-typed current task, or 0 to read through a helper.
#[inline(always)]
fn in_compat_syscall(task: u64) -> Result<bool, i64> {
    let offset = global!(COMPAT_STATUS_OFFSET);
    if offset == NO_OFFSET {
        return Ok(false);
    }
    let status: u32 = if task == 0 {
        // SAFETY: the helper takes no arguments.
        let task = unsafe { bpf_get_current_task() };
        // SAFETY: bpf_probe_read_kernel checks the address and fails cleanly on a bad one.
        unsafe { bpf_probe_read_kernel(task.wrapping_add(offset) as *const u32) }
            .map_err(i64::from)?
    } else {
        // SAFETY: a BTF-typed task pointer and an offset from this kernel's BTF (a constant to
        // the verifier), which checks the load against the kernel's `task_struct`.
        unsafe { load(task, offset) }
    };
    Ok(status & TS_COMPAT != 0)
}

/// Whether the current task is in `state`'s cgroup or below it: [`in_cgroup`] (its answer in
/// every case), with the common cases read straight from the task by plain loads instead of a
/// helper call, which this program makes on every system call of the machine. A task whose
/// cgroup is above the target's level is not in it; one at the target's level is in it when its
/// cgroup is the target; a deeper one takes the helper. `task` is the BTF-typed current task, or
/// 0 for the helper alone.
#[inline(always)]
fn in_target_cgroup(state: &TargetState, task: u64) -> bool {
    if state.cgroup_id == 0 {
        return false;
    }
    let task_cgroups = global!(OFFSETS.task_cgroups);
    let dfl_cgrp = global!(OFFSETS.css_set_dfl_cgrp);
    let level_at = global!(OFFSETS.cgroup_level);
    let kn_at = global!(OFFSETS.cgroup_kn);
    let id_at = global!(OFFSETS.kernfs_node_id);
    // `task` is 0 only when DIRECT_LOADS is, and the offsets are constants to the verifier: the
    // dead branch is never checked.
    if task == 0
        || task_cgroups == NO_OFFSET
        || dfl_cgrp == NO_OFFSET
        || level_at == NO_OFFSET
        || kn_at == NO_OFFSET
        || id_at == NO_OFFSET
    {
        return in_cgroup(state);
    }
    // SAFETY: BTF-typed pointers walked with offsets from this kernel's BTF; the verifier checks
    // each load against the kernel's types, and a null pointer reads as 0 (probe loads).
    let (level, cgroup) = unsafe {
        let css_set: u64 = load(task, task_cgroups);
        let cgroup: u64 = load(css_set, dfl_cgrp);
        let level: i32 = load(cgroup, level_at);
        (level, cgroup)
    };
    // The level is at most a few dozen: the cast cannot wrap.
    let target_level = state.level as i32;
    if level < target_level {
        false
    } else if level == target_level {
        // SAFETY: as above.
        let id: u64 = unsafe { load(load::<u64>(cgroup, kn_at), id_at) };
        id == state.cgroup_id
    } else {
        in_cgroup(state)
    }
}

/// The current task, as the BTF-typed pointer direct loads need.
#[inline(always)]
fn current_task_btf() -> u64 {
    // SAFETY: the helper takes no arguments.
    unsafe { bpf_get_current_task_btf() as u64 }
}

/// A plain load of a `T` at `base + offset`.
///
/// # Safety
/// `base` must be a BTF-typed kernel pointer and `offset` a constant the verifier can check
/// against its type.
#[inline(always)]
unsafe fn load<T>(base: u64, offset: u64) -> T {
    // SAFETY: the caller's contract; the verifier turns it into a fault-safe kernel load.
    unsafe { core::ptr::read_volatile(base.wrapping_add(offset) as *const T) }
}
