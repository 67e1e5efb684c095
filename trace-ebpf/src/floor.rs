//! `floor`: an empty program on the attach point of [`crate::syscalls`] (raw tracepoint
//! `sys_enter`). trace never attaches it; `cargo xtask bench` does, to measure what the kernel's
//! tracepoint dispatch alone costs every system call: the floor any `sys_enter` program pays.

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};

/// Does nothing.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn floor(_ctx: RawTracePointContext) -> u32 {
    0
}
