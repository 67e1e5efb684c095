//! File accesses: `syscalls:sys_exit_*` tracepoints of the file system calls.
//!
//! The exit tracepoints run only for their own system call, so tasks outside the target pay
//! nothing for them beyond the kernel's syscall-tracepoint slow path, which `sys_enter` already
//! turns on (measured in docs/probe.md). At the exit the user strings are read (at the entry
//! about 1 in 200 reads fail: the page is not faulted in yet) and the arguments come from the
//! registers the task saved on entry.
//!
//! Four programs, each attached to several tracepoints and told apart by `__syscall_nr`:
//! [`file_open`] (the object is the new fd), [`file_path`] (one path), [`file_two_paths`]
//! (rename, link, symlink) and [`file_fd`] (an fd: fchmod, fchown, ftruncate, getdents, fchdir,
//! mmap). [`emit`] turns a call into at most one record: a first sighting per dedup key.

use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use core::ffi::c_void;
use trace_common::open_flags::{O_CREAT, O_TRUNC, O_WRONLY};

use aya_ebpf::helpers::generated::bpf_probe_read_user_str;
use trace_common::{
    FileOp, FileRecord, PATH_BASE, PATH_MAX, PATH_REQUESTED, PATH_RESOLVED, PATH_SECOND_BASE,
    PATH_SECOND_REQUESTED, PATH_SLOTS, Phase, RECORD_FILE,
};

use crate::{
    Target, current_target, is_host_root,
    kernel::{
        AT_FDCWD, PathRef, dentry_ino, dirfd_path, exit_nr_ret, fd_file, file_f_path, fs_pwd,
        fs_root, syscall_args,
    },
    path::{
        Builder, DedupKey, KEY_OBJECT, KEY_STRINGS, SHORT_STR, Scratch, WALK_MASK, clear_short,
        combine, hash_record, hash_short, hash_str2, key_tag, record, remember, scratch, seen,
        walk, walked_outside,
    },
    runc_task,
};

// x86_64 system call numbers (the tracepoints do not fire for 32-bit compat calls).
const SYS_OPEN: i32 = 2;
const SYS_STAT: i32 = 4;
const SYS_LSTAT: i32 = 6;
const SYS_MMAP: i32 = 9;
const SYS_ACCESS: i32 = 21;
const SYS_EXECVE: i32 = 59;
const SYS_TRUNCATE: i32 = 76;
const SYS_FTRUNCATE: i32 = 77;
const SYS_GETDENTS: i32 = 78;
const SYS_CHDIR: i32 = 80;
const SYS_FCHDIR: i32 = 81;
const SYS_RENAME: i32 = 82;
const SYS_MKDIR: i32 = 83;
const SYS_RMDIR: i32 = 84;
const SYS_CREAT: i32 = 85;
const SYS_LINK: i32 = 86;
const SYS_UNLINK: i32 = 87;
const SYS_SYMLINK: i32 = 88;
const SYS_READLINK: i32 = 89;
const SYS_CHMOD: i32 = 90;
const SYS_FCHMOD: i32 = 91;
const SYS_CHOWN: i32 = 92;
const SYS_FCHOWN: i32 = 93;
const SYS_LCHOWN: i32 = 94;
const SYS_GETDENTS64: i32 = 217;
const SYS_OPENAT: i32 = 257;
const SYS_MKDIRAT: i32 = 258;
const SYS_FCHOWNAT: i32 = 260;
const SYS_NEWFSTATAT: i32 = 262;
const SYS_UNLINKAT: i32 = 263;
const SYS_RENAMEAT: i32 = 264;
const SYS_LINKAT: i32 = 265;
const SYS_SYMLINKAT: i32 = 266;
const SYS_READLINKAT: i32 = 267;
const SYS_FCHMODAT: i32 = 268;
const SYS_FACCESSAT: i32 = 269;
const SYS_RENAMEAT2: i32 = 316;
const SYS_EXECVEAT: i32 = 322;
const SYS_STATX: i32 = 332;
const SYS_OPENAT2: i32 = 437;
const SYS_FACCESSAT2: i32 = 439;
const SYS_FCHMODAT2: i32 = 452;

/// Open flags that change what an open means for a profile (access mode, create, truncate,
/// append, directory, no-follow, path-only, tmpfile). Opens differing only in other flags
/// (`O_CLOEXEC`, `O_NONBLOCK`, ...) are one fact.
const OPEN_FLAGS_KEY: u32 =
    0o3 | 0o100 | 0o200 | 0o1000 | 0o2000 | 0o200_000 | 0o400_000 | 0o10_000_000 | 0o20_000_000;
const AT_REMOVEDIR: u64 = 0x200;
const AT_EMPTY_PATH: u64 = 0x1000;
const PROT_EXEC: u64 = 0x4;
const MAP_ANONYMOUS: u64 = 0x20;

/// One file access, as [`emit`] records it.
pub struct FileCall {
    pub op: FileOp,
    /// The target (its phase, counter slot and cgroup id).
    pub target: Target,
    pub flags: u32,
    pub result: i64,
    /// The requested path: a user pointer (or a kernel one, see `path_in_kernel`), 0 for none.
    pub path: u64,
    pub path_in_kernel: bool,
    /// The directory a relative `path` is relative to (`AT_FDCWD`: the cwd); [`LITERAL`]: the
    /// path is literal text, never resolved (a symlink's target).
    pub dirfd: i64,
    /// The object after the call, walked for the resolved path (and the dedup key);
    /// [`PathRef::NONE`] for none.
    pub object: PathRef,
    /// The second path (rename, link, symlink: the new name), a user pointer, 0 for none.
    pub path2: u64,
    pub dirfd2: i64,
}

impl FileCall {
    #[inline(always)]
    pub fn new(op: FileOp, target: Target, result: i64) -> Self {
        FileCall {
            op,
            target,
            flags: 0,
            result,
            path: 0,
            path_in_kernel: false,
            dirfd: AT_FDCWD,
            object: PathRef::NONE,
            path2: 0,
            dirfd2: AT_FDCWD,
        }
    }

    #[inline(always)]
    fn at(mut self, dirfd: u64, path: u64) -> Self {
        // The dirfd argument is an int: sign-extend its low 32 bits.
        self.dirfd = i64::from(dirfd as i32);
        self.path = path;
        self
    }

    #[inline(always)]
    fn cwd(mut self, path: u64) -> Self {
        self.path = path;
        self
    }
}

/// `sys_exit` of `open`, `openat`, `openat2`, `creat`.
#[tracepoint]
pub fn file_open(ctx: TracePointContext) -> u32 {
    if let Some(target) = current_target() {
        let _ = try_file_open(&ctx, target);
    }
    0
}

fn try_file_open(ctx: &TracePointContext, target: Target) -> Result<(), i64> {
    let (nr, ret) = exit_nr_ret(ctx);
    let a = syscall_args()?;
    let mut call = match nr {
        SYS_OPEN => {
            let mut c = FileCall::new(FileOp::Open, target, ret).cwd(a[0]);
            c.flags = a[1] as u32;
            c
        }
        SYS_CREAT => {
            let mut c = FileCall::new(FileOp::Open, target, ret).cwd(a[0]);
            c.flags = O_CREAT | O_WRONLY | O_TRUNC;
            c
        }
        SYS_OPENAT => {
            let mut c = FileCall::new(FileOp::Open, target, ret).at(a[0], a[1]);
            c.flags = a[2] as u32;
            c
        }
        SYS_OPENAT2 => {
            let mut c = FileCall::new(FileOp::Open, target, ret).at(a[0], a[1]);
            // `struct open_how` starts with `__u64 flags`.
            // SAFETY: the helper reads user memory safely.
            c.flags = unsafe { bpf_probe_read_user(a[2] as *const u64) }.unwrap_or(0) as u32;
            c
        }
        _ => return Ok(()),
    };
    if ret >= 0 {
        call.object = file_f_path(fd_file(ret)?)?;
    }
    emit(&call)
}

/// `sys_exit` of the calls that take one path: unlink, unlinkat, rmdir, mkdir, mkdirat, chmod,
/// fchmodat, fchmodat2, chown, lchown, fchownat, truncate, stat, lstat, newfstatat, statx,
/// access, faccessat, faccessat2, readlink, readlinkat, chdir; and failed execve/execveat.
#[tracepoint]
pub fn file_path(ctx: TracePointContext) -> u32 {
    if let Some(target) = current_target() {
        let _ = try_file_path(&ctx, target);
    }
    0
}

fn try_file_path(ctx: &TracePointContext, target: Target) -> Result<(), i64> {
    let (nr, ret) = exit_nr_ret(ctx);
    let a = syscall_args()?;
    let call = match nr {
        SYS_UNLINK => FileCall::new(FileOp::Unlink, target, ret).cwd(a[0]),
        SYS_UNLINKAT => {
            let op = if a[2] & AT_REMOVEDIR != 0 {
                FileOp::Rmdir
            } else {
                FileOp::Unlink
            };
            FileCall::new(op, target, ret).at(a[0], a[1])
        }
        SYS_RMDIR => FileCall::new(FileOp::Rmdir, target, ret).cwd(a[0]),
        SYS_MKDIR => FileCall::new(FileOp::Mkdir, target, ret).cwd(a[0]),
        SYS_MKDIRAT => FileCall::new(FileOp::Mkdir, target, ret).at(a[0], a[1]),
        SYS_CHMOD => {
            let mut c = FileCall::new(FileOp::Chmod, target, ret).cwd(a[0]);
            c.flags = a[1] as u32;
            c
        }
        SYS_FCHMODAT | SYS_FCHMODAT2 => {
            let mut c = FileCall::new(FileOp::Chmod, target, ret).at(a[0], a[1]);
            c.flags = a[2] as u32;
            c
        }
        SYS_CHOWN | SYS_LCHOWN => FileCall::new(FileOp::Chown, target, ret).cwd(a[0]),
        SYS_FCHOWNAT => FileCall::new(FileOp::Chown, target, ret).at(a[0], a[1]),
        SYS_TRUNCATE => FileCall::new(FileOp::Truncate, target, ret).cwd(a[0]),
        SYS_STAT | SYS_LSTAT => FileCall::new(FileOp::Stat, target, ret).cwd(a[0]),
        // fstat by fd (AT_EMPTY_PATH with "") is not a path access.
        SYS_NEWFSTATAT if a[3] & AT_EMPTY_PATH == 0 => {
            FileCall::new(FileOp::Stat, target, ret).at(a[0], a[1])
        }
        SYS_STATX if a[2] & AT_EMPTY_PATH == 0 => {
            FileCall::new(FileOp::Stat, target, ret).at(a[0], a[1])
        }
        SYS_ACCESS => {
            let mut c = FileCall::new(FileOp::Access, target, ret).cwd(a[0]);
            c.flags = a[1] as u32;
            c
        }
        SYS_FACCESSAT | SYS_FACCESSAT2 => {
            let mut c = FileCall::new(FileOp::Access, target, ret).at(a[0], a[1]);
            c.flags = a[2] as u32;
            c
        }
        SYS_READLINK => FileCall::new(FileOp::Readlink, target, ret).cwd(a[0]),
        SYS_READLINKAT => FileCall::new(FileOp::Readlink, target, ret).at(a[0], a[1]),
        SYS_CHDIR => {
            let mut c = FileCall::new(FileOp::Chdir, target, ret).cwd(a[0]);
            if ret == 0 {
                c.object = fs_pwd()?;
            }
            c
        }
        // A successful exec is recorded by `sched_process_exec` (the caller's memory is gone).
        SYS_EXECVE if ret < 0 => FileCall::new(FileOp::Exec, target, ret).cwd(a[0]),
        SYS_EXECVEAT if ret < 0 => FileCall::new(FileOp::Exec, target, ret).at(a[0], a[1]),
        _ => return Ok(()),
    };
    emit(&call)
}

/// `sys_exit` of rename, renameat, renameat2, link, linkat, symlink, symlinkat.
#[tracepoint]
pub fn file_two_paths(ctx: TracePointContext) -> u32 {
    if let Some(target) = current_target() {
        let _ = try_file_two_paths(&ctx, target);
    }
    0
}

fn try_file_two_paths(ctx: &TracePointContext, target: Target) -> Result<(), i64> {
    let (nr, ret) = exit_nr_ret(ctx);
    let a = syscall_args()?;
    let mut call = match nr {
        SYS_RENAME | SYS_LINK => {
            let op = if nr == SYS_RENAME {
                FileOp::Rename
            } else {
                FileOp::Link
            };
            let mut c = FileCall::new(op, target, ret).cwd(a[0]);
            c.path2 = a[1];
            c
        }
        SYS_RENAMEAT | SYS_RENAMEAT2 | SYS_LINKAT => {
            let op = if nr == SYS_LINKAT {
                FileOp::Link
            } else {
                FileOp::Rename
            };
            let mut c = FileCall::new(op, target, ret).at(a[0], a[1]);
            c.dirfd2 = i64::from(a[2] as i32);
            c.path2 = a[3];
            if nr == SYS_RENAMEAT2 {
                c.flags = a[4] as u32;
            }
            c
        }
        SYS_SYMLINK => {
            let mut c = FileCall::new(FileOp::Symlink, target, ret).cwd(a[0]);
            c.path2 = a[1];
            c
        }
        SYS_SYMLINKAT => {
            let mut c = FileCall::new(FileOp::Symlink, target, ret).cwd(a[0]);
            c.dirfd2 = i64::from(a[1] as i32);
            c.path2 = a[2];
            c
        }
        _ => return Ok(()),
    };
    if call.op == FileOp::Symlink {
        // The target is text stored in the link, relative to the link's directory if at all.
        call.dirfd = LITERAL;
    }
    emit(&call)
}

/// `sys_exit` of fchmod, fchown, ftruncate, getdents, getdents64, fchdir and mmap (`PROT_EXEC`
/// mappings of a file only).
#[tracepoint]
pub fn file_fd(ctx: TracePointContext) -> u32 {
    if let Some(target) = current_target() {
        let _ = try_file_fd(&ctx, target);
    }
    0
}

fn try_file_fd(ctx: &TracePointContext, target: Target) -> Result<(), i64> {
    let (nr, ret) = exit_nr_ret(ctx);
    let a = syscall_args()?;
    let mut call = match nr {
        SYS_FCHMOD => {
            let mut c = FileCall::new(FileOp::Chmod, target, ret);
            c.flags = a[1] as u32;
            c
        }
        SYS_FCHOWN => FileCall::new(FileOp::Chown, target, ret),
        SYS_FTRUNCATE => FileCall::new(FileOp::Truncate, target, ret),
        // The count of bytes read is no part of the fact.
        SYS_GETDENTS | SYS_GETDENTS64 => FileCall::new(FileOp::Getdents, target, ret.min(0)),
        SYS_FCHDIR => FileCall::new(FileOp::Chdir, target, ret),
        SYS_MMAP => {
            // A failed mmap returns -errno; success an address (not a small negative number).
            if (-4095..0).contains(&ret) || a[2] & PROT_EXEC == 0 || a[3] & MAP_ANONYMOUS != 0 {
                return Ok(());
            }
            let mut c = FileCall::new(FileOp::MmapExec, target, 0);
            c.flags = a[2] as u32;
            c
        }
        _ => return Ok(()),
    };
    let fd = i64::from(if nr == SYS_MMAP { a[4] } else { a[0] } as i32);
    call.dirfd = LITERAL;
    call.object = file_f_path(fd_file(fd)?)?;
    emit(&call)
}

/// The `dirfd` of a path that is literal text (no file descriptor is negative but `AT_FDCWD`).
pub const LITERAL: i64 = i64::MIN;

/// No second string: its length and whether it was cut, as a plain value (see `PathRef::NONE`).
const NO_STR: (u64, bool) = (u64::MAX, false);

/// Records `call` unless its dedup key was seen: the requested path (and the absolute base of
/// a relative one), the resolved path of the object, and the second path with its base.
#[inline(always)]
pub fn emit(call: &FileCall) -> Result<(), i64> {
    let (Some(s), Some(rec)) = (scratch(), record()) else {
        return Err(-1);
    };
    let op = call.op as u32;
    let flags_key = if call.op == FileOp::Open {
        call.flags & OPEN_FLAGS_KEY
    } else {
        call.flags
    };

    // Objects are keyed by identity, before any string is read: repeats cost one lookup. (No
    // zeroed key first: a zeroed struct compiles to a byte-at-a-time `memset` on BPF.) Not an
    // exec: each name a program is executed by counts (a script's name, not only its interpreter),
    // so execs are keyed by the name with the object below.
    let object_key = call
        .object
        .some()
        .filter(|_| call.op != FileOp::Exec)
        .map(|object| DedupKey {
            a: object.dentry,
            b: object.vfsmnt,
            c: dentry_ino(object.dentry),
            d: key_tag(KEY_OBJECT, op, call.target.phase, call.result, flags_key),
            t: call.target.cgroup_id,
        });
    if let Some(key) = &object_key
        && seen(key)
    {
        return Ok(());
    }

    let header = size_of::<FileRecord>() as u64;
    let mut b = Builder::new(rec, header);
    // A failed call may well have no readable path or base (EFAULT, EBADF): only a successful
    // one marks a missing piece as incomplete.
    let mut paths = Paths::new(rec, call.result >= 0);

    // Plain values with a "none" value rather than `Option`s (see `PathRef::NONE`).
    let mut base = PathRef::NONE;
    let mut requested_len = 0;
    clear_short(rec, header);
    if call.path != 0 {
        let read = if call.path_in_kernel {
            b.kernel_str(call.path)
        } else {
            b.user_str(call.path)
        };
        paths.set(PATH_REQUESTED, read);
        if let Some((len, _)) = read {
            requested_len = len;
            if call.dirfd != LITERAL
                && b.byte_at(0) != b'/'
            {
                base = dirfd_path(call.dirfd).unwrap_or(PathRef::NONE);
                if base.some().is_none() {
                    paths.set(PATH_BASE, None);
                }
            }
        }
    }

    // The second string waits in the scratch space until its turn in the record.
    let mut second = NO_STR;
    let mut second_base = PathRef::NONE;
    if call.path2 != 0 {
        // SAFETY: `str2` (PATH_MAX bytes) is inside this CPU's scratch value; the helper reads
        // user memory safely and NUL-terminates.
        let n = unsafe {
            bpf_probe_read_user_str(
                (&raw mut (*s).str2).cast(),
                PATH_MAX as u32,
                call.path2 as *const c_void,
            )
        };
        if n > 0 {
            let len = (n as u64 - 1) & WALK_MASK;
            second = (len, n as u64 >= PATH_MAX as u64);
            // SAFETY: `str2` is inside the scratch value.
            if unsafe { (*s).str2[0] } != b'/' {
                second_base = dirfd_path(call.dirfd2).unwrap_or(PathRef::NONE);
                if second_base.some().is_none() {
                    paths.set(PATH_SECOND_BASE, None);
                }
            }
        } else {
            paths.set(PATH_SECOND_REQUESTED, None);
        }
    }

    let key = match object_key {
        Some(key) => key,
        None => {
            // Keyed by the strings and the directories they are relative to (and an exec's
            // executable).
            let identity = |p: PathRef| p.some().map_or(0, |p| combine(p.dentry, p.vfsmnt));
            let key = DedupKey {
                a: if requested_len <= SHORT_STR {
                    hash_short(rec, header, requested_len)
                } else {
                    hash_record(s, header, requested_len)
                } ^ u64::from(call.path == 0),
                b: if second == NO_STR {
                    identity(call.object)
                } else {
                    hash_str2(s, second.0)
                },
                c: combine(identity(base), identity(second_base)),
                d: key_tag(KEY_STRINGS, op, call.target.phase, call.result, flags_key),
                t: call.target.cgroup_id,
            };
            if seen(&key) {
                return Ok(());
            }
            key
        }
    };

    // A `docker exec` init (runc) reading /proc/self/...: harness, not the application; runc's
    // work before the entrypoint (other phases) is sorted out in userspace. Tested after the
    // lookup, which settles most calls: such a call is never remembered.
    if call.target.phase == Phase::Application && runc_task() {
        return Ok(());
    }

    let root = fs_root()?;
    // Paths from the host's root (runc before its pivot) or to objects outside the task's root
    // (a file runc opened before it) are host paths, not the container's.
    let mut outside = is_host_root(root.dentry);
    if let Some(base) = base.some() {
        paths.set(PATH_BASE, walk_into(&mut b, s, base, root, &mut outside));
    }
    if let Some(object) = call.object.some() {
        paths.set(
            PATH_RESOLVED,
            walk_into(&mut b, s, object, root, &mut outside),
        );
    }
    if second != NO_STR {
        let (len, cut) = second;
        // SAFETY: `str2` is inside the scratch value.
        let src = unsafe { (&raw const (*s).str2).cast::<u8>() };
        paths.set(
            PATH_SECOND_REQUESTED,
            b.bytes(src, len).map(|len| (len, cut)),
        );
        if let Some(base2) = second_base.some() {
            paths.set(
                PATH_SECOND_BASE,
                walk_into(&mut b, s, base2, root, &mut outside),
            );
        }
    }

    // The path fields of the header are already written (`Paths`).
    let head = rec.cast::<FileRecord>();
    // SAFETY: the record buffer starts 8-aligned and holds far more than the header.
    unsafe {
        (*head).kind = RECORD_FILE;
        (*head).pid = crate::path::current_pid();
        (*head).cgroup_id = call.target.cgroup_id;
        (*head).op = op;
        (*head).flags = call.flags;
        (*head).result = call.result;
        (*head).phase = call.target.phase as u8;
        (*head).outside_root = u8::from(outside);
    }
    if b.send(call.target.slot, RECORD_FILE) {
        remember(&key);
    }
    Ok(())
}

/// The path fields of the header of the file record being assembled. They live in the record
/// buffer (a map value) rather than on the stack: the verifier does not track their values there,
/// so the many combinations of present and absent paths do not multiply its work.
struct Paths {
    head: *mut FileRecord,
    /// Whether a piece that is absent although expected counts as truncated.
    strict: bool,
}

impl Paths {
    #[inline(always)]
    fn new(rec: *mut u8, strict: bool) -> Self {
        let head = rec.cast::<FileRecord>();
        // SAFETY: the record buffer starts 8-aligned and holds far more than the header.
        // Element by element: a whole-array store compiles to a byte-at-a-time `memset`.
        unsafe {
            let lens = (&raw mut (*head).lens).cast::<u16>();
            for slot in 0..PATH_SLOTS {
                core::ptr::write_volatile(lens.add(slot), 0);
            }
            core::ptr::write_volatile(&raw mut (*head).present, 0);
            core::ptr::write_volatile(&raw mut (*head).truncated, 0);
            core::ptr::write_volatile(&raw mut (*head).outside_root, 0);
            let pad = (&raw mut (*head).pad).cast::<u8>();
            for i in 0..2 {
                core::ptr::write_volatile(pad.add(i), 0);
            }
        }
        Paths { head, strict }
    }

    /// Slot `slot` got `len` bytes (cut if `cut`); `None`: it should be there but could not be
    /// read or did not fit, which counts as cut if `strict`.
    #[inline(always)]
    fn set(&mut self, slot: usize, piece: Option<(u64, bool)>) {
        let h = self.head;
        let (present, cut) = match piece {
            Some((len, cut)) => {
                // SAFETY: `slot` < PATH_SLOTS; the header is inside the record buffer.
                unsafe {
                    core::ptr::write_volatile(
                        (&raw mut (*h).lens).cast::<u16>().add(slot % PATH_SLOTS),
                        len as u16,
                    );
                }
                (1u8, cut)
            }
            None => (0, self.strict),
        };
        // SAFETY: the header is inside the record buffer.
        unsafe {
            let p = core::ptr::read_volatile(&raw const (*h).present);
            core::ptr::write_volatile(&raw mut (*h).present, p | (present << slot));
            let t = core::ptr::read_volatile(&raw const (*h).truncated);
            core::ptr::write_volatile(&raw mut (*h).truncated, t | (u8::from(cut) << slot));
        }
    }
}

/// Walks `path` up to `root` and appends the text: its length and whether it was cut.
#[inline(always)]
fn walk_into(
    b: &mut Builder,
    s: *mut Scratch,
    path: PathRef,
    root: PathRef,
    outside: &mut bool,
) -> Option<(u64, bool)> {
    let cut = walk(s, path, root).ok()?;
    *outside |= walked_outside(s);
    b.walked(s).map(|len| (len, cut))
}
