//! The ring-buffer records: a `#[repr(C)]` header whose first field is the record kind, then the
//! byte strings whose lengths it gives.

/// Record kind of a [`CgroupRecord`]: a container cgroup was made (and caught, unless its slot
/// is [`NO_SLOT`](crate::NO_SLOT)).
pub const RECORD_CGROUP: u32 = 5;
/// Record kind of a [`CgroupRecord`]: a caught container cgroup was removed (its tasks are gone;
/// its counters are final).
pub const RECORD_CGROUP_GONE: u32 = 6;
/// Bytes of a container id in a cgroup name (64 hex digits).
pub const CONTAINER_ID_BYTES: usize = 64;

/// A container cgroup caught or gone ([`MAP_CGROUP_EVENTS`](crate::MAP_CGROUP_EVENTS)). Nothing follows it.
///
/// A container cgroup is a new cgroup v2 directory whose name is 64 lowercase hex digits (the
/// container id), alone or after a `-` and optionally followed by `.scope`: `/docker/<id>`,
/// `docker-<id>.scope`, `libpod-<id>.scope`, `/libpod_parent/libpod-<id>`,
/// `cri-containerd-<id>.scope`; not `libpod-conmon-<id>.scope`, where Podman's systemd driver puts
/// conmon, its monitor (and the runtime conmon starts), beside the container.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgroupRecord {
    /// [`RECORD_CGROUP`] or [`RECORD_CGROUP_GONE`].
    pub kind: u32,
    /// The slot it was given, or [`NO_SLOT`](crate::NO_SLOT).
    pub slot: u32,
    /// Its cgroup id.
    pub cgroup_id: u64,
    /// Its level in the v2 hierarchy.
    pub level: u32,
    /// Zero.
    pub pad: u32,
    /// The container id from its name (zero in a [`RECORD_CGROUP_GONE`] record).
    pub container_id: [u8; CONTAINER_ID_BYTES],
}

const _: () = assert!(size_of::<CgroupRecord>() == 88 && align_of::<CgroupRecord>() == 8);

/// Longest path recorded, in bytes (the kernel's `PATH_MAX`, NUL included there, not here).
pub const PATH_MAX: usize = 4096;
/// Longest argument area of an executed program recorded, in bytes (NUL-separated).
pub const ARGV_MAX: usize = 2048;

/// Record kind of a [`FileRecord`].
pub const RECORD_FILE: u32 = 1;
/// Record kind of an [`ExecRecord`].
pub const RECORD_EXEC: u32 = 2;
/// Record kind of a [`SocketRecord`] for a successful `bind(2)`.
pub const RECORD_BIND: u32 = 3;
/// Record kind of a [`SocketRecord`] for a successful `listen(2)`.
pub const RECORD_LISTEN: u32 = 4;
/// Slots of [`MAP_DROPPED`](crate::MAP_DROPPED): one per record kind (slot 0 unused).
pub const DROPPED_SLOTS: u32 = 5;

/// What a file record describes. Which system calls produce which operation is in docs/probe.md.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "user",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum FileOp {
    /// `open`, `openat`, `openat2`, `creat`; flags are the open flags.
    Open = 1,
    /// `unlink`, `unlinkat` without `AT_REMOVEDIR`.
    Unlink = 2,
    /// `rmdir`, `unlinkat` with `AT_REMOVEDIR`.
    Rmdir = 3,
    /// `mkdir`, `mkdirat`.
    Mkdir = 4,
    /// `rename`, `renameat`, `renameat2` (second path: the new name; flags: renameat2's flags).
    Rename = 5,
    /// `link`, `linkat` (second path: the new link).
    Link = 6,
    /// `symlink`, `symlinkat` (first path: the link's target text, never resolved; second: the link).
    Symlink = 7,
    /// `chmod`, `fchmodat`, `fchmodat2`, `fchmod` (flags: the new mode).
    Chmod = 8,
    /// `chown`, `lchown`, `fchownat`, `fchown`.
    Chown = 9,
    /// `truncate`, `ftruncate`.
    Truncate = 10,
    /// A program started (`sched_process_exec`) or a failed `execve`/`execveat`.
    Exec = 11,
    /// `mmap` of a file with `PROT_EXEC` (flags: the protection), e.g. shared libraries.
    MmapExec = 12,
    /// `stat`, `lstat`, `newfstatat`, `statx` by path.
    Stat = 13,
    /// `access`, `faccessat`, `faccessat2` (flags: the mode asked for).
    Access = 14,
    /// `readlink`, `readlinkat`.
    Readlink = 15,
    /// `getdents64`, `getdents`: a directory listed.
    Getdents = 16,
    /// `chdir`, `fchdir`.
    Chdir = 17,
}

impl FileOp {
    /// Every operation, in number order.
    pub const ALL: [FileOp; 17] = [
        FileOp::Open,
        FileOp::Unlink,
        FileOp::Rmdir,
        FileOp::Mkdir,
        FileOp::Rename,
        FileOp::Link,
        FileOp::Symlink,
        FileOp::Chmod,
        FileOp::Chown,
        FileOp::Truncate,
        FileOp::Exec,
        FileOp::MmapExec,
        FileOp::Stat,
        FileOp::Access,
        FileOp::Readlink,
        FileOp::Getdents,
        FileOp::Chdir,
    ];

    /// The operation numbered `n`, if any.
    pub const fn from_u32(n: u32) -> Option<FileOp> {
        if n == 0 || n as usize > FileOp::ALL.len() {
            return None;
        }
        Some(FileOp::ALL[n as usize - 1])
    }

    /// The operation's name as recordings spell it.
    pub const fn name(self) -> &'static str {
        match self {
            FileOp::Open => "open",
            FileOp::Unlink => "unlink",
            FileOp::Rmdir => "rmdir",
            FileOp::Mkdir => "mkdir",
            FileOp::Rename => "rename",
            FileOp::Link => "link",
            FileOp::Symlink => "symlink",
            FileOp::Chmod => "chmod",
            FileOp::Chown => "chown",
            FileOp::Truncate => "truncate",
            FileOp::Exec => "exec",
            FileOp::MmapExec => "mmap_exec",
            FileOp::Stat => "stat",
            FileOp::Access => "access",
            FileOp::Readlink => "readlink",
            FileOp::Getdents => "getdents",
            FileOp::Chdir => "chdir",
        }
    }
}

/// The `x86_64` `open(2)` flags both sides read (the kernel side keys file records by them, userspace
/// tells accesses apart by them).
pub mod open_flags {
    /// The access mode bits.
    pub const O_ACCMODE: u32 = 0o3;
    /// Write only.
    pub const O_WRONLY: u32 = 0o1;
    /// Read and write.
    pub const O_RDWR: u32 = 0o2;
    /// Create if missing.
    pub const O_CREAT: u32 = 0o100;
    /// Truncate.
    pub const O_TRUNC: u32 = 0o1000;
    /// Append.
    pub const O_APPEND: u32 = 0o2000;
    /// Must be a directory.
    pub const O_DIRECTORY: u32 = 0o200_000;
    /// A path-only descriptor.
    pub const O_PATH: u32 = 0o10_000_000;
}

/// Path slots of a [`FileRecord`], in the order their bytes follow the header.
pub const PATH_REQUESTED: usize = 0;
/// The absolute directory a relative requested path is relative to (cwd or the dirfd's file).
pub const PATH_BASE: usize = 1;
/// The absolute path of the object after the call (the kernel's `d_path` walk of the file).
pub const PATH_RESOLVED: usize = 2;
/// The second path of rename, link and symlink: the new name, as passed.
pub const PATH_SECOND_REQUESTED: usize = 3;
/// The absolute directory the second path is relative to, if relative.
pub const PATH_SECOND_BASE: usize = 4;
/// Number of path slots.
pub const PATH_SLOTS: usize = 5;

/// Header of a file record, followed by the present paths' bytes (no NULs), concatenated in slot
/// order ([`PATH_REQUESTED`], ...).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRecord {
    /// [`RECORD_FILE`].
    pub kind: u32,
    /// Process id (thread group id) in the host's pid namespace.
    pub pid: u32,
    /// The target's cgroup id.
    pub cgroup_id: u64,
    /// A [`FileOp`] number.
    pub op: u32,
    /// Open flags for [`FileOp::Open`], the mode for `Chmod` and `Access`, the protection for
    /// `MmapExec`, renameat2's flags for `Rename`; 0 otherwise.
    pub flags: u32,
    /// The system call's return value, or `-errno`.
    pub result: i64,
    /// Bytes of each path slot.
    pub lens: [u16; PATH_SLOTS],
    /// Bit `i` set: path slot `i` is present (an empty present path is `""`).
    pub present: u8,
    /// Bit `i` set: path slot `i` is incomplete: cut (longer than [`PATH_MAX`]: a walk keeps the
    /// end, a string the start), or absent although expected (unreadable, or the record full).
    pub truncated: u8,
    /// The target's [`Phase`](crate::Phase) when the call returned.
    pub phase: u8,
    /// 1: the paths are not inside the container: the task's root directory was the host's
    /// (the root of the task that made the target's cgroup, runc on the host; [`MAP_HOST_ROOT`](crate::MAP_HOST_ROOT)):
    /// runc working before it pivots into the container's root file system; or a walked path
    /// reached the top of the mount tree without meeting the task's root (a file runc opened
    /// before the pivot, e.g. its exec fifo; a detached mount).
    pub outside_root: u8,
    /// Zero.
    pub pad: [u8; 2],
}

const _: () = assert!(size_of::<FileRecord>() == 48 && align_of::<FileRecord>() == 8);

/// Header of an exec record, followed by `argv_len` bytes of the argument area (each argument
/// NUL-terminated, as in the process's memory) and `path_len` bytes of the executable's absolute
/// path.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecRecord {
    /// [`RECORD_EXEC`].
    pub kind: u32,
    /// Process id in the host's pid namespace.
    pub pid: u32,
    /// The target's cgroup id.
    pub cgroup_id: u64,
    /// Bytes of the argument area that follow.
    pub argv_len: u16,
    /// Bytes of the path that follow the arguments.
    pub path_len: u16,
    /// Bit 0: the path is incomplete (cut or unreadable); bit 1: the argument area was cut at
    /// [`ARGV_MAX`] or could not be read.
    pub truncated: u8,
    /// The target's [`Phase`](crate::Phase) once this program started (the exec of the entrypoint is the
    /// first of [`Phase::Application`](crate::Phase::Application)).
    pub phase: u8,
    /// Zero.
    pub pad: u16,
}

const _: () = assert!(size_of::<ExecRecord>() == 24 && align_of::<ExecRecord>() == 8);

/// A successful `bind(2)` ([`RECORD_BIND`]) or `listen(2)` ([`RECORD_LISTEN`]) of an `AF_INET` or
/// `AF_INET6` socket. Nothing follows it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketRecord {
    /// [`RECORD_BIND`] or [`RECORD_LISTEN`].
    pub kind: u32,
    /// Process id in the host's pid namespace.
    pub pid: u32,
    /// The target's cgroup id.
    pub cgroup_id: u64,
    /// Address family (`AF_INET` 2, `AF_INET6` 10).
    pub family: u16,
    /// Socket type (`SOCK_STREAM` 1, `SOCK_DGRAM` 2, ...).
    pub sock_type: u16,
    /// Port in host byte order: for bind the port asked for (0: any), for listen the bound one.
    pub port: u16,
    /// The target's [`Phase`](crate::Phase) when the call returned.
    pub phase: u8,
    /// Zero.
    pub pad: u8,
}

const _: () = assert!(size_of::<SocketRecord>() == 24 && align_of::<SocketRecord>() == 8);
