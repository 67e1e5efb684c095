//! The target and the phases of its startup (`trace_common::TargetState`, `Phase`).
//!
//! - [`catch_cgroup`] (`cgroup:cgroup_mkdir`): every new container cgroup (named by a container
//!   id, `trace_common::CgroupRecord`) becomes a target with a free counter slot and is announced
//!   to userspace, which keeps the containers it wants and releases the others. The tracepoint
//!   fires inside mkdir(2) once the cgroup exists, before its directory is made visible
//!   (`kernfs_activate`) and with `cgroup_mutex` held, so before any task can join it: setting
//!   the target there misses nothing, and two mkdirs never race.
//! - [`drop_cgroup`] (`cgroup:cgroup_rmdir`): a target's cgroup is removed once its tasks are
//!   gone; its entry is cleared and userspace told, which reads its counters and frees its slot.
//! - [`phase_filter`] (exits of `seccomp` and `prctl`): a task of the target that installed a
//!   seccomp filter ends phase 0 (runc before its filter) at the call's exit, so the call itself
//!   belongs to phase 0.
//! - [`phase_exec`] (`sched:sched_process_exec`): the first program executed in the target (the
//!   entrypoint) starts the application. Not counted: runc re-executing itself from a file
//!   descriptor (runc 1.1 copies its binary to a memfd and `fexecve`s it, which can race with its
//!   joining the cgroup).
//!
//! The phase belongs to the target (one life of a container), not to a task: during startup runc
//! init is the only process in the cgroup, and later `docker exec` runc inits (which install
//! their filter too) are application activity. Each transition writes one field from 0 to 1,
//! never back; a restarted container is a new cgroup, whose startup is seen again.

use aya_ebpf::{
    EbpfContext as _,
    helpers::{bpf_probe_read_kernel_str_bytes, generated::bpf_probe_read_kernel},
    macros::{map, tracepoint},
    maps::{Queue, RingBuf},
    programs::TracePointContext,
};
use core::ffi::c_void;
use trace_common::{
    CGROUP_EVENTS_BYTES, CGROUP_MKDIR_ID_OFFSET, CGROUP_MKDIR_LEVEL_OFFSET,
    CGROUP_MKDIR_PATH_OFFSET, CGROUP_MKDIR_ROOT_OFFSET, CONTAINER_ID_BYTES, CgroupRecord,
    MAX_SLOTS, NO_SLOT, Phase, RECORD_CGROUP, RECORD_CGROUP_GONE,
};

use crate::{
    CONFIG, HOST_ROOT, INDEX_MASK, OVERFLOW, TARGETS, current_target, global,
    kernel::{exit_nr_ret, fs_root, syscall_args},
};

/// Free target slots; userspace fills it at load and puts back each slot it has cleared.
#[map(name = "FREE_SLOTS")]
static FREE_SLOTS: Queue<u32> = Queue::with_max_entries(MAX_SLOTS, 0);

/// Container cgroups caught and gone (`trace_common::CgroupRecord`), for userspace.
#[map(name = "CGROUP_EVENTS")]
static CGROUP_EVENTS: RingBuf = RingBuf::with_byte_size(CGROUP_EVENTS_BYTES, 0);

/// Offset of `__data_loc char[] filename` in the `sched_process_exec` record.
pub const EXEC_FILENAME_LOC_OFFSET: usize = 8;

const SYS_PRCTL: i32 = 157;
const SYS_SECCOMP: i32 = 317;
const SECCOMP_SET_MODE_FILTER: u64 = 1;
/// With it a successful `seccomp` returns the listener fd (> 0) instead of 0.
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u64 = 1 << 3;
const PR_SET_SECCOMP: u64 = 22;
const SECCOMP_MODE_FILTER: u64 = 2;
/// `BPF_NOEXIST`: insert only if absent.
const BPF_NOEXIST: u64 = 1;
/// The systemd drivers' suffix of a container cgroup's name.
const SCOPE: &[u8; 6] = b".scope";
/// What precedes the id in the name of the scope Podman makes for conmon, its monitor, under the
/// systemd driver (`libpod-conmon-<id>.scope`): not a container cgroup.
const CONMON: &[u8; 7] = b"conmon-";

/// The fields of a `cgroup:cgroup_mkdir` / `cgroup_rmdir` record.
struct CgroupEvent {
    root: i32,
    level: i32,
    id: u64,
    /// Kernel address and length (without the NUL) of the cgroup's path.
    path: u64,
    path_len: u64,
}

#[inline(always)]
fn cgroup_event(ctx: &TracePointContext) -> CgroupEvent {
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
    // `__data_loc`: offset in the low 16 bits, length with the NUL in the high ones.
    CgroupEvent {
        root,
        level,
        id,
        path: (base as u64).wrapping_add(u64::from(loc & 0xffff)),
        path_len: u64::from(loc >> 16).saturating_sub(1),
    }
}

/// `cgroup:cgroup_mkdir(root, level, id, path)`.
#[tracepoint]
pub fn catch_cgroup(ctx: TracePointContext) -> u32 {
    match try_catch_cgroup(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_catch_cgroup(ctx: &TracePointContext) -> Result<(), i64> {
    let e = cgroup_event(ctx);
    // Hierarchy 0 is cgroup v2; the v1 hierarchies of a hybrid host get the same names.
    if e.root != 0 || e.id == 0 || e.level <= 0 {
        return Ok(());
    }
    let mut rec = CgroupRecord {
        kind: RECORD_CGROUP,
        slot: NO_SLOT,
        cgroup_id: e.id,
        level: e.level as u32,
        pad: 0,
        container_id: [0; CONTAINER_ID_BYTES],
    };
    if !container_id(&e, &mut rec.container_id) {
        return Ok(());
    }
    let config = CONFIG.get_ptr_mut(0).ok_or(-1)?;
    // SAFETY: the array's one value, valid for the program run.
    let level = unsafe { core::ptr::read_volatile(&raw const (*config).level) };
    if level != 0 && level != rec.level {
        return announce(&rec);
    }
    let Ok(Some(slot)) = FREE_SLOTS.pop() else {
        return announce(&rec);
    };
    // SAFETY: as above.
    let (filter_seen, exec_seen) = unsafe {
        (
            core::ptr::read_volatile(&raw const (*config).initial_filter_seen),
            core::ptr::read_volatile(&raw const (*config).initial_exec_seen),
        )
    };
    let entry = TARGETS
        .get_ptr_mut(e.id as u32 & global!(INDEX_MASK))
        .ok_or(-1)?;
    // SAFETY: `entry` is a value of TARGETS, `config` CONFIG's: valid for the program run.
    // cgroup_mutex serialises this program; the id goes in last.
    unsafe {
        if core::ptr::read_volatile(&raw const (*entry).cgroup_id) == 0 {
            core::ptr::write_volatile(&raw mut (*entry).slot, slot);
            core::ptr::write_volatile(&raw mut (*entry).filter_seen, filter_seen);
            core::ptr::write_volatile(&raw mut (*entry).exec_seen, exec_seen);
            core::ptr::write_volatile(&raw mut (*entry).cgroup_id, e.id);
        } else {
            let value = trace_common::TargetEntry {
                cgroup_id: e.id,
                slot,
                filter_seen,
                exec_seen,
                pad: 0,
            };
            if OVERFLOW.insert(&e.id, &value, BPF_NOEXIST).is_err() {
                let _ = FREE_SLOTS.push(&slot, 0);
                return announce(&rec);
            }
            core::ptr::write_volatile(&raw mut (*config).overflow, 1);
        }
        if level == 0 {
            core::ptr::write_volatile(&raw mut (*config).level, rec.level);
        }
    }
    // The cgroup's maker (the runtime) works from the host's root: its dentry tells runc's own
    // work there from its work inside the container's root later.
    if let (Ok(root), Some(host)) = (fs_root(), HOST_ROOT.get_ptr_mut(0)) {
        // SAFETY: the array's one value, valid for the program run.
        unsafe { core::ptr::write_volatile(host, root.dentry) };
    }
    rec.slot = slot;
    announce(&rec)
}

/// Whether the cgroup of `e` is named by a container id (64 lowercase hex digits at the end of
/// the name, after `/` or `-` but not after `conmon-`, optionally followed by `.scope`); copies
/// the id to `id`.
#[inline(always)]
fn container_id(e: &CgroupEvent, id: &mut [u8; CONTAINER_ID_BYTES]) -> bool {
    let mut end = e.path_len;
    let mut tail = [0u8; 8];
    if end >= SCOPE.len() as u64
        && read_kernel(&mut tail[..SCOPE.len()], e.path + end - SCOPE.len() as u64)
        && tail[..SCOPE.len()] == *SCOPE
    {
        end -= SCOPE.len() as u64;
    }
    let digits = CONTAINER_ID_BYTES as u64;
    if end <= digits || !read_kernel(&mut tail[..1], e.path + end - digits - 1) {
        return false;
    }
    if tail[0] != b'/' && tail[0] != b'-' {
        return false;
    }
    let conmon = CONMON.len() as u64;
    if tail[0] == b'-'
        && end >= digits + conmon
        && read_kernel(&mut tail[..CONMON.len()], e.path + end - digits - conmon)
        && tail[..CONMON.len()] == *CONMON
    {
        return false;
    }
    if !read_kernel(id, e.path + end - digits) {
        return false;
    }
    id.iter()
        .all(|&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Copies `dst.len()` bytes of kernel memory at `src`.
#[inline(always)]
fn read_kernel(dst: &mut [u8], src: u64) -> bool {
    // SAFETY: `dst` is writable for its length; the helper reads kernel memory (the tracepoint
    // record) and fails cleanly on a bad address.
    unsafe {
        bpf_probe_read_kernel(
            dst.as_mut_ptr().cast::<c_void>(),
            dst.len() as u32,
            src as *const c_void,
        ) == 0
    }
}

/// Sends a cgroup record (with a wakeup: they are rare and userspace acts on them).
#[inline(always)]
fn announce(rec: &CgroupRecord) -> Result<(), i64> {
    CGROUP_EVENTS
        .output::<CgroupRecord>(rec, 0)
        .map_err(i64::from)
}

/// `cgroup:cgroup_rmdir(root, level, id, path)`.
#[tracepoint]
pub fn drop_cgroup(ctx: TracePointContext) -> u32 {
    match try_drop_cgroup(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_drop_cgroup(ctx: &TracePointContext) -> Result<(), i64> {
    let e = cgroup_event(ctx);
    if e.root != 0 || e.id == 0 {
        return Ok(());
    }
    let config = CONFIG.get_ptr(0).ok_or(-1)?;
    let entry = TARGETS
        .get_ptr_mut(e.id as u32 & global!(INDEX_MASK))
        .ok_or(-1)?;
    // SAFETY: values of CONFIG, TARGETS and OVERFLOW, valid for the program run.
    let slot = unsafe {
        if core::ptr::read_volatile(&raw const (*entry).cgroup_id) == e.id {
            let slot = core::ptr::read_volatile(&raw const (*entry).slot);
            core::ptr::write_volatile(&raw mut (*entry).cgroup_id, 0);
            slot
        } else if core::ptr::read_volatile(&raw const (*config).overflow) != 0 {
            let Some(value) = OVERFLOW.get(&e.id) else {
                return Ok(());
            };
            let slot = value.slot;
            let _ = OVERFLOW.remove(&e.id);
            slot
        } else {
            return Ok(());
        }
    };
    announce(&CgroupRecord {
        kind: RECORD_CGROUP_GONE,
        slot,
        cgroup_id: e.id,
        level: e.level as u32,
        pad: 0,
        container_id: [0; CONTAINER_ID_BYTES],
    })
}

/// `sys_exit` of `seccomp` and `prctl`.
#[tracepoint]
pub fn phase_filter(ctx: TracePointContext) -> u32 {
    match try_phase_filter(&ctx) {
        Ok(()) | Err(_) => 0,
    }
}

fn try_phase_filter(ctx: &TracePointContext) -> Result<(), i64> {
    let target = current_target().ok_or(-1)?;
    // Only phase 0 ends here (in phase 2, e.g. when attached to a running container, a filter
    // is a `docker exec`'s: application activity).
    if target.phase != Phase::RuncBeforeFilter {
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
        // SAFETY: `entry` is the target's map value, valid for the program run.
        unsafe { core::ptr::write_volatile(&raw mut (*target.entry).filter_seen, 1) };
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
    let target = current_target().ok_or(-1)?;
    if target.phase == Phase::Application || runtime_self_exec(exec_filename(ctx)) {
        return Ok(());
    }
    // SAFETY: `entry` is the target's map value, valid for the program run.
    unsafe { core::ptr::write_volatile(&raw mut (*target.entry).exec_seen, 1) };
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
