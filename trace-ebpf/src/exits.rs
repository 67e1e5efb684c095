//! System call exits: one BTF tracepoint program on `sys_exit`, [`syscall_exit`], which every
//! system call of the machine passes, hands the calls trace records to their programs by number
//! (`bpf_tail_call` into [`EXITS`], filled by userspace: the file programs, `socket_exit`,
//! `phase_filter`).
//!
//! What a task pays on its other calls is the tracepoint's program run and four instructions: the
//! number from the saved registers, a bound, the tail call into an empty slot. A recorded call
//! jumps to its program, whose first act is the cgroup check; only the target's calls go further.
//! The per-syscall `syscalls:sys_exit_<name>` tracepoints this replaces cost every task on the
//! machine the kernel's perf path (a perf record filled, `trace_call_bpf`) on each of those
//! calls before the program's check could run (docs/probe.md, "Exit-side attachment").
//!
//! The programs read the number, the arguments and the result from the `struct pt_regs` the
//! tracepoint passes, as plain loads through its BTF pointer, and skip 32-bit (ia32) calls, whose
//! numbers are of another table (the classic tracepoints never fired for them either).

use aya_ebpf::{
    macros::{btf_tracepoint, map},
    maps::ProgramArray,
    programs::BtfTracePointContext,
};
use trace_common::{EXIT_SLOTS, PT_REGS_R10_OFFSET};

use crate::syscalls::in_compat_syscall;

/// The programs of the recorded calls, indexed by `x86_64` system call number; filled by
/// userspace.
#[map(name = "EXITS")]
static EXITS: ProgramArray = ProgramArray::with_max_entries(EXIT_SLOTS, 0);

/// `sys_exit(struct pt_regs *regs, long ret)`: every system call's exit.
#[btf_tracepoint(function = "sys_exit")]
pub fn syscall_exit(ctx: BtfTracePointContext) -> u32 {
    // -1 (`rt_sigreturn`, a number a tracer cancelled) and x32 numbers are out of range.
    let nr = regs(&ctx, ORIG_AX);
    if nr < u64::from(EXIT_SLOTS) {
        // SAFETY: the context is the program's own; an empty slot falls through.
        unsafe { EXITS.tail_call(&ctx, nr as u32) };
    }
    0
}

/// Index of `orig_ax` (the system call number) among the registers from `r10` on.
const ORIG_AX: usize = 8;

/// Register `index` of the frame the tracepoint passes, counted from `r10`: `r10 r9 r8 ax cx dx
/// si di orig_ax` (`x86_64`, checked by userspace against BTF).
#[inline(always)]
fn regs(ctx: &BtfTracePointContext, index: usize) -> u64 {
    let frame: *const u8 = ctx.arg(0);
    let r = frame
        .wrapping_add(PT_REGS_R10_OFFSET as usize)
        .cast::<u64>();
    // SAFETY: a BTF pointer to the task's `struct pt_regs` (the verifier checks each load against
    // its layout); the fields from `r10` to `orig_ax` are nine consecutive u64.
    unsafe { core::ptr::read_volatile(r.wrapping_add(index)) }
}

/// A system call at its exit.
pub struct Exit {
    /// The `x86_64` number.
    pub nr: i32,
    /// What it returned.
    pub ret: i64,
    /// Its six arguments (`di si dx r10 r8 r9`): what the caller passed.
    pub args: [u64; 6],
}

/// The call the tracepoint fired for, unless it is a 32-bit one. For the programs in [`EXITS`],
/// after their cgroup check.
#[inline(always)]
pub fn exit_call(ctx: &BtfTracePointContext) -> Option<Exit> {
    if in_compat_syscall() {
        return None;
    }
    let ret: i64 = ctx.arg(1);
    Some(Exit {
        // Below EXIT_SLOTS: the dispatcher checked it.
        nr: regs(ctx, ORIG_AX) as i32,
        ret,
        args: [
            regs(ctx, 7),
            regs(ctx, 6),
            regs(ctx, 5),
            regs(ctx, 0),
            regs(ctx, 2),
            regs(ctx, 1),
        ],
    })
}
