//! System call exits: one BTF tracepoint program on `sys_exit`, [`syscall_exit`], runs at every
//! system call exit of the machine and tail-calls the program userspace put in `EXIT_PROGRAMS` at
//! the call's number (the file, socket and phase programs); for every other number the tail call
//! finds an empty slot and the run ends there.
//!
//! It replaces one classic `syscalls:sys_exit_<call>` tracepoint per call: enabling those runs
//! the kernel's `perf_syscall_exit` at every exit, which tests its own bitmap of enabled calls,
//! then for an enabled one fills a perf record and runs the program through `trace_call_bpf`.
//! That dispatch was about a third of what trace cost a web server (docs/probe.md). Here a call
//! nobody records costs one load and an empty tail call, and one that is recorded gets the saved
//! registers as a BTF pointer: the number, the arguments and the result are plain loads.

use aya_ebpf::{
    macros::{btf_tracepoint, map},
    maps::ProgramArray,
    programs::BtfTracePointContext,
};
use trace_common::{EXIT_SLOTS, Phase};

use crate::{
    kernel::{in_compat_syscall, syscall_nr, syscall_regs},
    target_phase,
};

/// The program recording the exit of each `x86_64` system call number (empty: none).
#[map(name = "EXIT_PROGRAMS")]
static EXIT_PROGRAMS: ProgramArray = ProgramArray::with_max_entries(EXIT_SLOTS, 0);

/// `sys_exit(struct pt_regs *regs, long ret)`: dispatches on the number in `regs->orig_ax`.
#[btf_tracepoint(function = "sys_exit")]
pub fn syscall_exit(ctx: BtfTracePointContext) -> u32 {
    let nr = syscall_nr(ctx.arg(0));
    if nr < u64::from(EXIT_SLOTS) {
        // SAFETY: `ctx` is this program's context, which the tail-called programs (loaded for
        // the same attach point) take too. On success it does not return; on an empty slot it
        // does, and the run ends.
        // The check above keeps the number below 512: the cast keeps it.
        unsafe { EXIT_PROGRAMS.tail_call(&ctx, nr as u32) };
    }
    0
}

/// A system call at its exit.
pub struct Exit {
    /// The `x86_64` number.
    pub nr: i32,
    /// The result (`-errno` on failure).
    pub ret: i64,
    /// The arguments as the caller passed them.
    pub args: [u64; 6],
}

/// The exit in `ctx`, unless it is a 32-bit (ia32) call: their numbers are another table's.
/// (x32 numbers carry bit 30 and never reach a slot.)
#[inline(always)]
pub fn native_exit(ctx: &BtfTracePointContext) -> Option<Exit> {
    if in_compat_syscall() {
        return None;
    }
    let (nr, args) = syscall_regs(ctx.arg(0)).ok()?;
    Some(Exit {
        // The dispatcher only calls for numbers below 512.
        nr: nr as i32,
        ret: ctx.arg(1),
        args,
    })
}

/// The exit in `ctx` and the target's phase, if the current task is in the target and the call
/// native: what the recording programs start with.
#[inline(always)]
pub fn target_exit(ctx: &BtfTracePointContext) -> Option<(Phase, Exit)> {
    let phase = target_phase()?;
    Some((phase, native_exit(ctx)?))
}
