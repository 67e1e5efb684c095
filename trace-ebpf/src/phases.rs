//! The target and the phases of its startup (`trace_common::TargetState`, `Phase`).
//!
//! - [`catch_cgroup`] (`cgroup:cgroup_mkdir`): a pending probe knows only the names the
//!   container's cgroup will get (`PENDING`). The tracepoint fires inside mkdir(2) once the cgroup
//!   exists, before its directory is made visible (`kernfs_activate`) and with `cgroup_mutex`
//!   held, so before any task can join it: setting the target there misses nothing.
//! - [`phase_filter`] (exits of `seccomp` and `prctl`): a task of the target that installed a
//!   seccomp filter ends phase 0 (runc before its filter) at the call's exit, so the call itself
//!   belongs to phase 0.
//! - [`phase_exec`] (`sched:sched_process_exec`): the first program executed in the target (the
//!   entrypoint) starts the application. Not counted: runc re-executing itself from a file
//!   descriptor (runc 1.1 copies its binary to a memfd and `fexecve`s it, which can race with its
//!   joining the cgroup).
//!
//! The phase belongs to the target, not to a task: during startup runc init is the only process
//! in the cgroup, and later `docker exec` runc inits (which install their filter too) are
//! application activity. Each transition writes one field from 0 to 1, never back.

use aya_ebpf::{
    EbpfContext as _,
    helpers::{bpf_probe_read_kernel_str_bytes, generated::bpf_probe_read_kernel},
    macros::{map, tracepoint},
    maps::Array,
    programs::TracePointContext,
};
use core::ffi::c_void;
use trace_common::{
    CGROUP_MKDIR_ID_OFFSET, CGROUP_MKDIR_LEVEL_OFFSET, CGROUP_MKDIR_PATH_OFFSET,
    CGROUP_MKDIR_ROOT_OFFSET, CGROUP_NAME_BYTES, CgroupName, PENDING_NAMES, Phase,
};

use crate::{
    files::exit_nr_ret,
    in_cgroup,
    kernel::{fs_root, syscall_args},
    target_state,
};

/// The cgroup names a pending probe waits for, as `/name` patterns (empty entries: `len` 0).
#[map(name = "PENDING")]
static PENDING: Array<CgroupName> = Array::with_max_entries(PENDING_NAMES, 0);

/// The root directory (`struct dentry *`) of the task that made the target's cgroup: runc, on
/// the host (`trace_common::MAP_HOST_ROOT`). 0 until a pending probe caught its cgroup.
#[map(name = "HOST_ROOT")]
static HOST_ROOT: Array<u64> = Array::with_max_entries(1, 0);

/// Whether `root` is the host's root directory, as [`HOST_ROOT`] knows it.
#[inline(always)]
pub fn is_host_root(root: u64) -> bool {
    HOST_ROOT
        .get(0)
        .is_some_and(|&host| host != 0 && host == root)
}

/// Offset of `__data_loc char[] filename` in the `sched_process_exec` record.
pub const EXEC_FILENAME_LOC_OFFSET: usize = 8;

const SYS_PRCTL: i32 = 157;
const SYS_SECCOMP: i32 = 317;
const SECCOMP_SET_MODE_FILTER: u64 = 1;
/// With it a successful `seccomp` returns the listener fd (> 0) instead of 0.
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u64 = 1 << 3;
const PR_SET_SECCOMP: u64 = 22;
const SECCOMP_MODE_FILTER: u64 = 2;

/// Words of a [`CgroupName`] pattern.
const NAME_WORDS: usize = CGROUP_NAME_BYTES / 8;

/// `cgroup:cgroup_mkdir(root, level, id, path)`.
#[tracepoint]
pub fn catch_cgroup(ctx: TracePointContext) -> u32 {
    match try_catch_cgroup(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_catch_cgroup(ctx: &TracePointContext) -> Result<(), i64> {
    let (target, state) = target_state().ok_or(-1)?;
    if state.cgroup_id != 0 {
        return Ok(());
    }
    let base = ctx.as_ptr().cast::<u8>();
    // SAFETY: direct loads at the fixed offsets of the record, which the verifier checks against
    // the context size; userspace checked them against the tracepoint's format.
    let (root, level, id, loc) = unsafe {
        (
            *base.add(CGROUP_MKDIR_ROOT_OFFSET).cast::<i32>(),
            *base.add(CGROUP_MKDIR_LEVEL_OFFSET).cast::<i32>(),
            *base.add(CGROUP_MKDIR_ID_OFFSET).cast::<u64>(),
            *base.add(CGROUP_MKDIR_PATH_OFFSET).cast::<u32>(),
        )
    };
    // Hierarchy 0 is cgroup v2; the v1 hierarchies of a hybrid host get the same names.
    if root != 0 || id == 0 || level < 0 {
        return Ok(());
    }
    // `__data_loc`: offset in the low 16 bits, length with the NUL in the high ones.
    let path = (base as u64).wrapping_add(u64::from(loc & 0xffff));
    let path_len = u64::from(loc >> 16).saturating_sub(1);
    for i in 0..PENDING_NAMES {
        let Some(name) = PENDING.get_ptr(i) else {
            continue;
        };
        if ends_with(path, path_len, name) {
            // The cgroup's maker (runc) works from the host's root: its dentry tells runc's own
            // work there from its work inside the container's root later.
            if let (Ok(root), Some(host)) = (fs_root(), HOST_ROOT.get_ptr_mut(0)) {
                // SAFETY: the array's one value, valid for the program run.
                unsafe { core::ptr::write_volatile(host, root.dentry) };
            }
            // The level first: the other programs test the id, then use the level.
            // SAFETY: `target` is the target array's value, valid for the program run.
            unsafe {
                core::ptr::write_volatile(&raw mut (*target).level, level as u32);
                core::ptr::write_volatile(&raw mut (*target).cgroup_id, id);
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Whether the `path_len` bytes at kernel address `path` end with `name`'s pattern (`/name`).
#[inline(always)]
fn ends_with(path: u64, path_len: u64, name: *const CgroupName) -> bool {
    // SAFETY: `name` is a value of the PENDING array, valid for the program run.
    let len = u64::from(unsafe { (*name).len });
    if len == 0 || len > CGROUP_NAME_BYTES as u64 || len > path_len {
        return false;
    }
    let mut tail = [0u64; NAME_WORDS];
    // SAFETY: `len` <= the size of `tail`; the helper reads kernel memory (the tracepoint
    // record) and fails cleanly on a bad address.
    let read = unsafe {
        bpf_probe_read_kernel(
            tail.as_mut_ptr().cast::<c_void>(),
            len as u32,
            path.wrapping_add(path_len - len) as *const c_void,
        )
    };
    if read != 0 {
        return false;
    }
    // Both sides are zero after `len` bytes: compare whole words.
    // SAFETY: `bytes` is 8-aligned in the 8-aligned value (asserted in trace-common) and holds
    // NAME_WORDS words.
    let pattern = unsafe { (&raw const (*name).bytes).cast::<u64>() };
    for (w, word) in tail.iter().enumerate() {
        // SAFETY: w < NAME_WORDS.
        if *word != unsafe { *pattern.add(w) } {
            return false;
        }
    }
    true
}

/// `sys_exit` of `seccomp` and `prctl`.
#[tracepoint]
pub fn phase_filter(ctx: TracePointContext) -> u32 {
    match try_phase_filter(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_phase_filter(ctx: &TracePointContext) -> Result<(), i64> {
    let (target, state) = target_state().ok_or(-1)?;
    // Only phase 0 ends here (in phase 2, e.g. when attached to a running container, a filter
    // is a `docker exec`'s: application activity).
    if state.filter_seen != 0 || state.exec_seen != 0 || !in_cgroup(&state) {
        return Ok(());
    }
    let (nr, ret) = exit_nr_ret(ctx);
    if nr != SYS_SECCOMP && nr != SYS_PRCTL {
        return Ok(());
    }
    let a = syscall_args()?;
    let installed = if nr == SYS_SECCOMP {
        // With TSYNC a failure can be a positive thread id; only NEW_LISTENER makes a positive
        // result a success.
        a[0] == SECCOMP_SET_MODE_FILTER
            && (ret == 0 || (ret > 0 && a[1] & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0))
    } else {
        a[0] == PR_SET_SECCOMP && a[1] == SECCOMP_MODE_FILTER && ret == 0
    };
    if installed {
        // SAFETY: `target` is the target array's value, valid for the program run.
        unsafe { core::ptr::write_volatile(&raw mut (*target).filter_seen, 1) };
    }
    Ok(())
}

/// `sched:sched_process_exec`.
#[tracepoint]
pub fn phase_exec(ctx: TracePointContext) -> u32 {
    match try_phase_exec(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_phase_exec(ctx: &TracePointContext) -> Result<(), i64> {
    let (target, state) = target_state().ok_or(-1)?;
    if state.exec_seen != 0 || !in_cgroup(&state) || runtime_self_exec(exec_filename(ctx)) {
        return Ok(());
    }
    // SAFETY: `target` is the target array's value, valid for the program run.
    unsafe { core::ptr::write_volatile(&raw mut (*target).exec_seen, 1) };
    Ok(())
}

/// The kernel address of the file name in a `sched_process_exec` record.
#[inline(always)]
pub fn exec_filename(ctx: &TracePointContext) -> u64 {
    // SAFETY: a direct load at a fixed offset of the tracepoint record (checked by the verifier
    // against the context size; userspace checked the offset against tracefs).
    let loc = unsafe {
        *ctx.as_ptr()
            .cast::<u8>()
            .add(EXEC_FILENAME_LOC_OFFSET)
            .cast::<u32>()
    };
    // `__data_loc`: the low 16 bits are the string's offset in the record.
    (ctx.as_ptr() as u64).wrapping_add(u64::from(loc & 0xffff))
}

/// The phase an exec of `filename` runs in when the target was in `phase`: every exec starts
/// (or continues) the application, except runc re-executing itself.
#[inline(always)]
pub fn exec_phase(phase: Phase, filename: u64) -> Phase {
    if runtime_self_exec(filename) {
        phase
    } else {
        Phase::Application
    }
}

/// Whether an exec of `filename` (kernel address) is of an open file descriptor, as the kernel
/// names `fexecve`/`execveat(fd, "", AT_EMPTY_PATH)` (`/dev/fd/N`), or through `/proc/self/`:
/// how container runtimes re-execute their own binary, never how they start an entrypoint.
#[inline(always)]
fn runtime_self_exec(filename: u64) -> bool {
    let mut head = [0u8; 16];
    // SAFETY: the helper reads kernel memory safely and stops at the NUL; `head` starts zeroed.
    if unsafe { bpf_probe_read_kernel_str_bytes(filename as *const u8, &mut head) }.is_err() {
        return false;
    }
    let word = |at: usize| {
        u64::from_le_bytes([
            head[at],
            head[at + 1],
            head[at + 2],
            head[at + 3],
            head[at + 4],
            head[at + 5],
            head[at + 6],
            head[at + 7],
        ])
    };
    let (w0, w1) = (word(0), word(8));
    let dev_fd = u64::from_le_bytes(*b"/dev/fd/");
    let proc_se = u64::from_le_bytes(*b"/proc/se");
    let lf = u64::from_le_bytes(*b"lf/\0\0\0\0\0");
    w0 == dev_fd || (w0 == proc_se && w1 & 0x00ff_ffff == lf)
}
