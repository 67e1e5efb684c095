//! trace's kernel side: one raw tracepoint on `sys_enter` that counts the system calls made in the
//! target cgroup v2 subtree, per ABI and number, in a per-CPU array (layout: `trace_common`).
//!
//! Every task on the host runs this program on every system call, so the cgroup filter comes first
//! and costs one helper call; nothing else happens for other tasks.
#![no_std]
#![no_main]

use core::ffi::c_int;

use aya_ebpf::{
    helpers::{bpf_get_current_ancestor_cgroup_id, bpf_get_current_task, bpf_probe_read_kernel},
    macros::{map, raw_tracepoint},
    maps::PerCpuArray,
    programs::RawTracePointContext,
};
use trace_common::{Abi, NO_OFFSET, SYSCALL_SLOTS, TS_COMPAT, X32_SYSCALL_BIT, syscall_slot};

// Globals set by userspace at load time (names: `trace_common::GLOBAL_*`). They live in .rodata,
// which the loader freezes, so the verifier sees them as constants.

/// Cgroup v2 id of the traced subtree; 0 records nothing.
#[unsafe(no_mangle)]
static TARGET_CGROUP: u64 = 0;
/// Level of that cgroup in the v2 hierarchy (root is 0).
#[unsafe(no_mangle)]
static TARGET_LEVEL: u32 = 0;
/// Byte offset of `thread_info.status` in `task_struct`, or `NO_OFFSET`.
#[unsafe(no_mangle)]
static COMPAT_STATUS_OFFSET: u64 = NO_OFFSET;

/// Calls per slot (`trace_common::syscall_slot`), per CPU.
#[map(name = "SYSCALLS")]
static SYSCALLS: PerCpuArray<u64> = PerCpuArray::with_max_entries(SYSCALL_SLOTS, 0);

/// Reads a global without letting rustc fold its initial value into the code.
macro_rules! global {
    ($name:ident) => {
        // SAFETY: a plain load of a valid, aligned static; volatile only to keep the load.
        unsafe { core::ptr::read_volatile(&raw const $name) }
    };
}

/// `sys_enter(struct pt_regs *regs, long id)`: arg(0) is the register frame, arg(1) the number.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscall_enter(ctx: RawTracePointContext) -> u32 {
    match try_syscall_enter(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_syscall_enter(ctx: &RawTracePointContext) -> Result<(), i64> {
    let target = global!(TARGET_CGROUP);
    if target == 0 {
        return Ok(());
    }
    // The level is at most a few dozen: the cast cannot wrap.
    let level = global!(TARGET_LEVEL) as c_int;
    // SAFETY: the helper takes a plain integer and is allowed in raw tracepoints.
    if unsafe { bpf_get_current_ancestor_cgroup_id(level) } != target {
        return Ok(());
    }

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

    let counter = SYSCALLS.get_ptr_mut(syscall_slot(abi, nr)).ok_or(-1i64)?;
    // SAFETY: the pointer is this CPU's value of an existing slot, valid for the whole program
    // run; no other program touches this CPU's copy meanwhile (the program runs with preemption
    // and migration disabled).
    unsafe { *counter += 1 };
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

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
