//! Reads of the current task's kernel structures, with the offsets userspace found in BTF
//! (`OFFSETS`, `trace_common::KernelOffsets`). Every read goes through `bpf_probe_read_kernel`,
//! which fails cleanly on a bad address, so a wrong offset costs a lost record, never a crash.

use aya_ebpf::{
    EbpfContext as _,
    helpers::{
        bpf_get_current_task, bpf_get_current_task_btf, bpf_probe_read_kernel,
        generated::bpf_task_pt_regs,
    },
    programs::TracePointContext,
};
use trace_common::{PT_REGS_R10_OFFSET, SYS_EXIT_NR_OFFSET, SYS_EXIT_RET_OFFSET};

use crate::{OFFSETS, global};

/// `AT_FDCWD`: the "directory fd" meaning the current working directory.
pub const AT_FDCWD: i64 = -100;

/// Reads a `T` at kernel address `addr`.
#[inline(always)]
pub fn read<T>(addr: u64) -> Result<T, i64> {
    // SAFETY: bpf_probe_read_kernel copies from any address and fails (without faulting) when it
    // is not readable kernel memory.
    unsafe { bpf_probe_read_kernel(addr as *const T) }.map_err(i64::from)
}

/// Reads a pointer-sized field at `base + offset`, failing on a null base or result.
#[inline(always)]
pub fn read_ptr(base: u64, offset: u64) -> Result<u64, i64> {
    if base == 0 {
        return Err(-1);
    }
    let value: u64 = read(base.wrapping_add(offset))?;
    if value == 0 { Err(-1) } else { Ok(value) }
}

/// The current task_struct's address.
#[inline(always)]
pub fn current_task() -> u64 {
    // SAFETY: the helper takes no arguments.
    unsafe { bpf_get_current_task() }
}

/// A `struct path`: the mount (`struct vfsmount *`) and the dentry.
#[derive(Clone, Copy)]
pub struct PathRef {
    pub vfsmnt: u64,
    pub dentry: u64,
}

impl PathRef {
    /// No object: a plain zero value rather than `Option::None`, whose payload stays
    /// uninitialized on the stack. A verifier before 6.3 refuses to read uninitialized stack,
    /// and it may follow a path the compiler knows cannot happen (a bound learned on a
    /// register is not carried to its spilled copy) into such a read.
    pub const NONE: Self = Self {
        vfsmnt: 0,
        dentry: 0,
    };

    /// The path, unless it is [`PathRef::NONE`].
    #[inline(always)]
    pub fn some(self) -> Option<Self> {
        (self.dentry != 0).then_some(self)
    }
}

/// The `struct path` at `addr`.
#[inline(always)]
pub fn read_path(addr: u64) -> Result<PathRef, i64> {
    Ok(PathRef {
        vfsmnt: read_ptr(addr, global!(OFFSETS.path_mnt))?,
        dentry: read_ptr(addr, global!(OFFSETS.path_dentry))?,
    })
}

/// The current task's root directory (`task->fs->root`): where the path walk stops.
#[inline(always)]
pub fn fs_root() -> Result<PathRef, i64> {
    let fs = read_ptr(current_task(), global!(OFFSETS.task_fs))?;
    read_path(fs.wrapping_add(global!(OFFSETS.fs_root)))
}

/// The current task's working directory (`task->fs->pwd`).
#[inline(always)]
pub fn fs_pwd() -> Result<PathRef, i64> {
    let fs = read_ptr(current_task(), global!(OFFSETS.task_fs))?;
    read_path(fs.wrapping_add(global!(OFFSETS.fs_pwd)))
}

/// The `struct file *` behind the current task's descriptor `fd`.
#[inline(always)]
pub fn fd_file(fd: i64) -> Result<u64, i64> {
    if fd < 0 {
        return Err(-1);
    }
    let files = read_ptr(current_task(), global!(OFFSETS.task_files))?;
    let fdt = read_ptr(files, global!(OFFSETS.files_fdt))?;
    let max_fds: u32 = read(fdt.wrapping_add(global!(OFFSETS.fdtable_max_fds)))?;
    if fd as u64 >= u64::from(max_fds) {
        return Err(-1);
    }
    let fds = read_ptr(fdt, global!(OFFSETS.fdtable_fd))?;
    read_ptr(fds, (fd as u64) * 8)
}

/// The path (`file->f_path`) of a `struct file *`.
#[inline(always)]
pub fn file_f_path(file: u64) -> Result<PathRef, i64> {
    read_path(file.wrapping_add(global!(OFFSETS.file_f_path)))
}

/// The path of the current task's descriptor `fd`, or of its working directory for `AT_FDCWD`.
#[inline(always)]
pub fn dirfd_path(dirfd: i64) -> Result<PathRef, i64> {
    if dirfd == AT_FDCWD {
        fs_pwd()
    } else {
        file_f_path(fd_file(dirfd)?)
    }
}

/// The inode number of a dentry's inode, 0 for a negative dentry.
#[inline(always)]
pub fn dentry_ino(dentry: u64) -> u64 {
    match read_ptr(dentry, global!(OFFSETS.dentry_d_inode)) {
        Ok(inode) => read(inode.wrapping_add(global!(OFFSETS.inode_i_ino))).unwrap_or(0),
        Err(_) => 0,
    }
}

/// The six arguments of the current system call, from the registers the task saved on entry
/// (x86_64: `di si dx r10 r8 r9`). At `sys_exit` they still hold what the caller passed.
///
/// `bpf_task_pt_regs` returns a BTF pointer (`struct pt_regs *`): the verifier lets the program
/// load its fields directly (a faulting load is caught and reads 0), six loads instead of a
/// `bpf_probe_read_kernel` call, which this runs on every file system call of the target.
#[inline(always)]
pub fn syscall_args() -> Result<[u64; 6], i64> {
    // SAFETY: the helpers take no argument / the BTF task pointer the first one returned; both
    // are allowed in tracing programs (kernel >= 5.15).
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) };
    if regs == 0 {
        return Err(-1);
    }
    // r10 r9 r8 ax cx dx si di, from `r10` on.
    let r = (regs as u64).wrapping_add(PT_REGS_R10_OFFSET) as *const u64;
    // SAFETY: `r` points into the task's `struct pt_regs`, whose fields from r10 to di are eight
    // consecutive u64 (x86_64 ABI, checked by the verifier against BTF).
    let reg = |i: usize| unsafe { core::ptr::read_volatile(r.add(i)) };
    Ok([reg(7), reg(6), reg(5), reg(0), reg(2), reg(1)])
}

/// `(syscall number, return value)` of a `syscalls:sys_exit_*` record.
#[inline(always)]
pub fn exit_nr_ret(ctx: &TracePointContext) -> (i32, i64) {
    let base = ctx.as_ptr().cast::<u8>();
    // SAFETY: direct loads at the fixed offsets of `struct syscall_trace_exit`, which the
    // verifier checks against the context size; userspace checked them against tracefs.
    unsafe {
        (
            *base.add(SYS_EXIT_NR_OFFSET).cast::<i32>(),
            *base.add(SYS_EXIT_RET_OFFSET).cast::<i64>(),
        )
    }
}
