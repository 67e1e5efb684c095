//! Types and constants shared by trace's eBPF programs (`trace-ebpf`) and its userspace (`trace-user`).
//!
//! Several containers are recorded at once, each container cgroup (one life of a container) a
//! target with a counter slot of its own: a [`TargetEntry`] in [`MAP_TARGETS`], found by the
//! cgroup id at the targets' level ([`TargetConfig`]). New container cgroups are caught as they
//! are made and announced to userspace ([`CgroupRecord`]), which keeps the ones it wants.
//!
//! The kernel side counts system calls in one per-CPU array: per target slot, per [`Phase`] of
//! the container's startup, slot `abi * SYSCALLS_PER_ABI + nr`, plus one last slot for numbers
//! outside the table. Both sides compute slots with [`target_syscall_slot`], so the layout is
//! defined once.
//!
//! File accesses, executed programs and bound or listening sockets travel through one ring buffer
//! ([`MAP_EVENTS`]) as `#[repr(C)]` records: a header ([`FileRecord`], [`ExecRecord`],
//! [`SocketRecord`]) whose first field is the record kind ([`RECORD_FILE`], ...), followed by
//! variable-length byte strings whose lengths the header gives. Capability checks and `socket(2)`
//! calls are only counted, in per-CPU arrays ([`cap_slot`], [`socket_slot`]).
#![no_std]
#![deny(missing_docs)]

/// Name of the per-CPU `u64` array that counts system calls: per target slot a block of
/// [`PHASE_SYSCALL_SLOTS`], in it [`PHASES`] blocks of [`SYSCALL_SLOTS`], one per [`Phase`]
/// ([`target_syscall_slot`]).
pub const MAP_SYSCALLS: &str = "SYSCALLS";

/// Name of the one-entry array holding the [`TargetConfig`]: the cgroup level of the targets.
pub const MAP_CONFIG: &str = "CONFIG";
/// Name of the array of [`TargetEntry`]s, [`INDEX_SLOTS`] of them, indexed by the low bits of the
/// cgroup id ([`GLOBAL_INDEX_MASK`]): a task finds its target with one inlined array lookup.
pub const MAP_TARGETS: &str = "TARGETS";
/// Name of the hash map (cgroup id -> [`TargetEntry`]) of the targets whose [`MAP_TARGETS`] entry
/// was taken by another target; looked at only when [`TargetConfig::overflow`] is set.
pub const MAP_OVERFLOW: &str = "OVERFLOW";
/// Name of the queue of free target slots (`u32`): the `cgroup_mkdir` program takes one for each
/// new container cgroup; userspace puts a slot back once it has read and cleared its counters.
pub const MAP_FREE_SLOTS: &str = "FREE_SLOTS";
/// Name of the ring buffer of [`CgroupRecord`]s: container cgroups caught and gone. Apart from
/// [`MAP_EVENTS`] so that a flood of file records can never push one out.
pub const MAP_CGROUP_EVENTS: &str = "CGROUP_EVENTS";
/// Size of [`MAP_CGROUP_EVENTS`] in bytes (about 3,000 records).
pub const CGROUP_EVENTS_BYTES: u32 = 256 << 10;
/// One `u64`: the root directory (`struct dentry *`) of the task that made the last container
/// cgroup caught (the container runtime, on the host); 0 until one was caught.
pub const MAP_HOST_ROOT: &str = "HOST_ROOT";
/// Global: masks a cgroup id into an index of [`MAP_TARGETS`] (`INDEX_SLOTS - 1`; tests use
/// smaller masks to exercise [`MAP_OVERFLOW`]).
pub const GLOBAL_INDEX_MASK: &str = "INDEX_MASK";
/// Global: byte offset of `thread_info.status` in `task_struct` (from BTF), or [`NO_OFFSET`].
pub const GLOBAL_COMPAT_STATUS_OFFSET: &str = "COMPAT_STATUS_OFFSET";

/// Marks an offset BTF did not provide; the kernel side then skips that read.
pub const NO_OFFSET: u64 = u64::MAX;

/// x86 `TS_COMPAT`: set in `thread_info.status` while a task runs a 32-bit (ia32) system call.
pub const TS_COMPAT: u32 = 0x0002;
/// x86 `__X32_SYSCALL_BIT`: set in the number of x32-ABI system calls.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

// ---------------------------------------------------------------------------------------------
// The target and its phases.

/// Entries of [`MAP_TARGETS`] (a power of two).
pub const INDEX_SLOTS: u32 = 1024;
/// The most target slots a probe can have: each slot is one container cgroup recorded at once,
/// with its own counters. Userspace sizes the counter maps for the slots it asks for.
pub const MAX_SLOTS: u32 = 256;
/// A [`CgroupRecord`]'s slot when no slot was free (or the cgroup was at another level than the
/// targets): nothing of that cgroup is recorded.
pub const NO_SLOT: u32 = u32::MAX;

/// Where the targets are in the cgroup v2 hierarchy, the one entry of [`MAP_CONFIG`].
///
/// `level` 0 records nothing. Userspace sets it for the running containers it attaches to; the
/// `cgroup_mkdir` program sets it with the first container cgroup it catches when it is 0. All
/// targets are at this level (Docker's are at 2: `/docker/<id>`, `/system.slice/docker-<id>.scope`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetConfig {
    /// The targets' level in the v2 hierarchy (root is 0).
    pub level: u32,
    /// 1 once a target went to [`MAP_OVERFLOW`]: a miss in [`MAP_TARGETS`] must look there too.
    pub overflow: u32,
    /// What a caught cgroup's `filter_seen` starts as (1 when the program that would see the
    /// filter is missing, so the phases collapse upwards).
    pub initial_filter_seen: u32,
    /// What a caught cgroup's `exec_seen` starts as (1 without the exec program).
    pub initial_exec_seen: u32,
}

const _: () = assert!(size_of::<TargetConfig>() == 16 && align_of::<TargetConfig>() == 4);

/// One container cgroup being recorded (a value of [`MAP_TARGETS`] or [`MAP_OVERFLOW`]): its
/// counter slot and how far its startup has got.
///
/// A cgroup is one life of a container: a restarted container gets a new cgroup, a new entry and
/// a new slot, and its startup is seen again. `cgroup_id` 0 is an empty entry. Writers store
/// `slot` and the flags before `cgroup_id`, readers load `cgroup_id` first. `filter_seen` and
/// `exec_seen` only ever go from 0 to 1, each written by one program, so no update can be lost
/// without atomics.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetEntry {
    /// Cgroup v2 id of the traced subtree (what `bpf_get_current_ancestor_cgroup_id()` returns
    /// at the targets' level for its tasks).
    pub cgroup_id: u64,
    /// Its counter slot, below the number of slots the probe was loaded with.
    pub slot: u32,
    /// 1 once a task of the target installed a seccomp filter before the first exec.
    pub filter_seen: u32,
    /// 1 once a task of the target executed a program (the entrypoint): the application runs.
    pub exec_seen: u32,
    /// Zero.
    pub pad: u32,
}

const _: () = assert!(size_of::<TargetEntry>() == 24 && align_of::<TargetEntry>() == 8);

impl TargetEntry {
    /// The phase the target is in.
    #[allow(clippy::inline_always, reason = "runs on every traced syscall")]
    #[inline(always)]
    pub const fn phase(&self) -> Phase {
        phase_of(self.filter_seen, self.exec_seen)
    }
}

/// The phase of a target whose filter and exec flags are these.
#[allow(clippy::inline_always, reason = "runs on every traced syscall")]
#[inline(always)]
pub const fn phase_of(filter_seen: u32, exec_seen: u32) -> Phase {
    if exec_seen != 0 {
        Phase::Application
    } else if filter_seen != 0 {
        Phase::RuncAfterFilter
    } else {
        Phase::RuncBeforeFilter
    }
}

/// The phases of a container's life the probe keeps apart, so that the container runtime's own
/// setup is not taken for the application. The phase belongs to the target, not to a task.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "user",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Phase {
    /// From the first system call in the cgroup until a task in it installed a seccomp filter
    /// (the exit of a successful `seccomp(SECCOMP_SET_MODE_FILTER)` or
    /// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)`): runc building the container. A profile
    /// need not allow these calls (the filter is not in force yet).
    RuncBeforeFilter = 0,
    /// From the filter until the first program executed in the cgroup: runc after its filter is
    /// in place. A profile must allow these. Empty when no filter is installed.
    RuncAfterFilter = 1,
    /// From the first exec on (the entrypoint); the only phase when attaching to a running
    /// container.
    Application = 2,
}

/// Number of [`Phase`]s.
pub const PHASES: u32 = 3;

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 3] = [
        Phase::RuncBeforeFilter,
        Phase::RuncAfterFilter,
        Phase::Application,
    ];

    /// The phase numbered `n` (a record's `phase` byte), if any.
    pub const fn from_u8(n: u8) -> Option<Phase> {
        match n {
            0 => Some(Phase::RuncBeforeFilter),
            1 => Some(Phase::RuncAfterFilter),
            2 => Some(Phase::Application),
            _ => None,
        }
    }

    /// The phase's name as recordings spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::RuncBeforeFilter => "runc_before_filter",
            Phase::RuncAfterFilter => "runc_after_filter",
            Phase::Application => "application",
        }
    }
}

/// Record kind of a [`CgroupRecord`]: a container cgroup was made (and caught, unless its slot
/// is [`NO_SLOT`]).
pub const RECORD_CGROUP: u32 = 5;
/// Record kind of a [`CgroupRecord`]: a caught container cgroup was removed (its tasks are gone;
/// its counters are final).
pub const RECORD_CGROUP_GONE: u32 = 6;
/// Bytes of a container id in a cgroup name (64 hex digits).
pub const CONTAINER_ID_BYTES: usize = 64;

/// A container cgroup caught or gone ([`MAP_CGROUP_EVENTS`]). Nothing follows it.
///
/// A container cgroup is a new cgroup v2 directory whose name is 64 lowercase hex digits (the
/// container id), alone or after a `-` and optionally followed by `.scope`: `/docker/<id>`,
/// `docker-<id>.scope`, `libpod-<id>.scope`, `cri-containerd-<id>.scope`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgroupRecord {
    /// [`RECORD_CGROUP`] or [`RECORD_CGROUP_GONE`].
    pub kind: u32,
    /// The slot it was given, or [`NO_SLOT`].
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

/// `struct trace_event_raw_cgroup` (the `cgroup:cgroup_mkdir` record): `root`, the hierarchy id
/// (0 is the cgroup v2 hierarchy).
pub const CGROUP_MKDIR_ROOT_OFFSET: usize = 8;
/// ... `level`.
pub const CGROUP_MKDIR_LEVEL_OFFSET: usize = 12;
/// ... `id`.
pub const CGROUP_MKDIR_ID_OFFSET: usize = 16;
/// ... `__data_loc char[] path` (the cgroup's path in its hierarchy).
pub const CGROUP_MKDIR_PATH_OFFSET: usize = 24;

/// Slots per ABI: every Linux syscall table is below 1024 entries.
pub const SYSCALLS_PER_ABI: u32 = 1024;

/// The system call ABIs the probe keeps apart.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "user", derive(serde::Serialize, serde::Deserialize))]
pub enum Abi {
    /// Native 64-bit x86 (`syscall` from a 64-bit task).
    #[cfg_attr(feature = "user", serde(rename = "x86_64"))]
    X86_64 = 0,
    /// 32-bit x86 compat calls (`int 0x80`, `sysenter`, 32-bit programs).
    #[cfg_attr(feature = "user", serde(rename = "x86"))]
    X86 = 1,
    /// The x32 ABI (64-bit registers, 32-bit pointers; numbers carry [`X32_SYSCALL_BIT`]).
    #[cfg_attr(feature = "user", serde(rename = "x32"))]
    X32 = 2,
}

impl Abi {
    /// Every ABI, in slot order.
    pub const ALL: [Abi; 3] = [Abi::X86_64, Abi::X86, Abi::X32];

    /// The ABI's name as recordings spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::X86 => "x86",
            Abi::X32 => "x32",
        }
    }
}

/// Number of slots in [`MAP_SYSCALLS`]: every ABI's table plus one overflow slot.
#[allow(clippy::cast_possible_truncation, reason = "3 ABIs")]
pub const SYSCALL_SLOTS: u32 = Abi::ALL.len() as u32 * SYSCALLS_PER_ABI + 1;
/// The slot counting system call numbers outside every table (e.g. `syscall(-1)`).
pub const OUT_OF_RANGE_SLOT: u32 = SYSCALL_SLOTS - 1;

/// The counter slot of system call `nr` of `abi`; [`OUT_OF_RANGE_SLOT`] for numbers off the table.
#[allow(
    clippy::inline_always,
    reason = "runs on every traced syscall in the eBPF program"
)]
#[allow(
    clippy::cast_possible_truncation,
    reason = "nr < SYSCALLS_PER_ABI is checked first"
)]
#[inline(always)]
pub const fn syscall_slot(abi: Abi, nr: u64) -> u32 {
    if nr < SYSCALLS_PER_ABI as u64 {
        abi as u32 * SYSCALLS_PER_ABI + nr as u32
    } else {
        OUT_OF_RANGE_SLOT
    }
}

/// Slots of [`MAP_SYSCALLS`]: [`SYSCALL_SLOTS`] per phase.
pub const PHASE_SYSCALL_SLOTS: u32 = PHASES * SYSCALL_SLOTS;

/// The [`MAP_SYSCALLS`] slot of system call `nr` of `abi` made in `phase`.
#[allow(clippy::inline_always, reason = "runs on every traced syscall")]
#[inline(always)]
pub const fn phase_syscall_slot(phase: Phase, abi: Abi, nr: u64) -> u32 {
    phase as u32 * SYSCALL_SLOTS + syscall_slot(abi, nr)
}

/// The [`MAP_SYSCALLS`] index of system call `nr` of `abi` made in `phase` by the target in
/// counter slot `slot`.
#[allow(clippy::inline_always, reason = "runs on every traced syscall")]
#[inline(always)]
pub const fn target_syscall_slot(slot: u32, phase: Phase, abi: Abi, nr: u64) -> u32 {
    slot * PHASE_SYSCALL_SLOTS + phase_syscall_slot(phase, abi, nr)
}

/// The phase and the [`syscall_slot`] of a slot within one target's block of [`MAP_SYSCALLS`];
/// `None` beyond the block.
pub const fn slot_phase(slot: u32) -> Option<(Phase, u32)> {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "checked below PHASES first"
    )]
    let phase = if slot / SYSCALL_SLOTS < PHASES {
        Phase::from_u8((slot / SYSCALL_SLOTS) as u8)
    } else {
        None
    };
    match phase {
        Some(phase) => Some((phase, slot % SYSCALL_SLOTS)),
        None => None,
    }
}

/// The ABI and number a slot counts, or `None` for [`OUT_OF_RANGE_SLOT`] and beyond.
pub const fn slot_syscall(slot: u32) -> Option<(Abi, u32)> {
    let abi = match slot / SYSCALLS_PER_ABI {
        0 => Abi::X86_64,
        1 => Abi::X86,
        2 => Abi::X32,
        _ => return None,
    };
    Some((abi, slot % SYSCALLS_PER_ABI))
}

// ---------------------------------------------------------------------------------------------
// Maps and globals of the file, exec, capability and socket programs.

/// Name of the ring buffer carrying [`FileRecord`], [`ExecRecord`] and [`SocketRecord`] records.
pub const MAP_EVENTS: &str = "EVENTS";
/// Name of the per-CPU `u64` array counting records that could not be written, per target slot
/// and record kind (index `slot * DROPPED_SLOTS + kind`, see [`DROPPED_SLOTS`]).
pub const MAP_DROPPED: &str = "DROPPED";
/// Name of the per-CPU `u64` array counting capability checks, index `slot * CAP_SLOTS +`
/// [`cap_slot`] for the target in counter slot `slot`.
pub const MAP_CAPS: &str = "CAPS";
/// Name of the per-CPU `u64` array counting `socket(2)` calls, index `slot * SOCKET_SLOTS +`
/// [`socket_slot`] for the target in counter slot `slot`.
pub const MAP_SOCKETS: &str = "SOCKETS";

/// Name of the hash map of argument values seen ([`ArgValueKey`] -> `u8` 1), at most
/// [`ARG_VALUE_ENTRIES`] entries.
pub const MAP_ARG_VALUES: &str = "ARG_VALUES";
/// Name of the per-CPU `u64` array (one slot per target slot) counting values [`MAP_ARG_VALUES`]
/// had no room for.
pub const MAP_ARG_LOST: &str = "ARG_LOST";
/// Entries of [`MAP_ARG_VALUES`]: distinct (call, argument, value) triples kept.
pub const ARG_VALUE_ENTRIES: u32 = 4096;
/// The `x86_64` numbers of the calls whose argument 0 values are kept: `clone` (56),
/// `personality` (135), `prctl` (157). trace-user checks the names against its syscall table.
pub const ARG_SYSCALLS: [u64; 3] = [56, 135, 157];

/// One distinct argument value of a system call ([`MAP_ARG_VALUES`]' key): the native (`x86_64`)
/// call number, the argument's index, the target's counter slot, the value as the register held
/// it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArgValueKey {
    /// The system call number (`x86_64` table).
    pub nr: u32,
    /// The argument, from 0.
    pub index: u16,
    /// The target's counter slot (below [`MAX_SLOTS`]).
    pub slot: u16,
    /// Its value.
    pub value: u64,
}

const _: () = assert!(size_of::<ArgValueKey>() == 16 && align_of::<ArgValueKey>() == 8);

/// Global: the kernel struct offsets the programs use ([`KernelOffsets`], from BTF).
pub const GLOBAL_OFFSETS: &str = "OFFSETS";
/// Global: byte offset of the `cap` field in the `capability:cap_capable` tracepoint record.
pub const GLOBAL_CAP_FIELD_OFFSET: &str = "CAP_FIELD_OFFSET";
/// Global: byte offset of the `ret` field in the `capability:cap_capable` tracepoint record.
pub const GLOBAL_CAP_RET_OFFSET: &str = "CAP_RET_OFFSET";
/// Name of the global holding the offset of `cred` in the `capability:cap_capable` record.
pub const GLOBAL_CAP_CRED_OFFSET: &str = "CAP_CRED_OFFSET";

/// Size of [`MAP_EVENTS`] in bytes (a power of two; 64 MiB carried 100k distinct opens without loss).
pub const EVENTS_BYTES: u32 = 64 << 20;
/// The kernel side asks for no wakeup per record (`BPF_RB_NO_WAKEUP`) and forces one when this
/// many bytes are pending; userspace also polls every [`POLL_INTERVAL_MS`].
pub const WAKEUP_PENDING_BYTES: u64 = 1 << 20;
/// How often userspace drains the ring buffer when no wakeup came.
pub const POLL_INTERVAL_MS: u64 = 100;
/// Entries of the kernel's dedup set (an LRU hash): first sightings only reach the ring buffer.
pub const DEDUP_ENTRIES: u32 = 65_536;

/// Longest path recorded, in bytes (the kernel's `PATH_MAX`, NUL included there, not here).
pub const PATH_MAX: usize = 4096;
/// Longest argument area of an executed program recorded, in bytes (NUL-separated).
pub const ARGV_MAX: usize = 2048;

/// `struct syscall_trace_exit` (the `syscalls:sys_exit_*` tracepoint records): `__syscall_nr`.
pub const SYS_EXIT_NR_OFFSET: usize = 8;
/// `struct syscall_trace_exit`: `ret`.
pub const SYS_EXIT_RET_OFFSET: usize = 16;
/// `x86_64` `struct pt_regs`: offset of `r10`, the first of the eight registers the probe reads at
/// once (`r10 r9 r8 ax cx dx si di`), which hold the six system call arguments.
pub const PT_REGS_R10_OFFSET: u64 = 56;

/// Kernel struct member offsets in bytes, from the running kernel's BTF, [`NO_OFFSET`] where BTF
/// lacks the member. Passed to the programs as the [`GLOBAL_OFFSETS`] global: Rust eBPF has no
/// CO-RE relocations.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs, reason = "each field is `struct.member` spelled out")]
pub struct KernelOffsets {
    pub task_fs: u64,
    pub task_files: u64,
    pub task_mm: u64,
    pub fs_root: u64,
    pub fs_pwd: u64,
    pub files_fdt: u64,
    pub fdtable_max_fds: u64,
    pub fdtable_fd: u64,
    pub file_f_path: u64,
    pub file_private_data: u64,
    pub path_mnt: u64,
    pub path_dentry: u64,
    pub dentry_d_parent: u64,
    pub dentry_d_name: u64,
    pub dentry_d_inode: u64,
    pub qstr_len: u64,
    pub qstr_name: u64,
    pub inode_i_ino: u64,
    pub mount_mnt_parent: u64,
    pub mount_mnt_mountpoint: u64,
    pub mount_mnt: u64,
    pub vfsmount_mnt_root: u64,
    pub mm_exe_file: u64,
    pub mm_arg_start: u64,
    pub mm_arg_end: u64,
    pub socket_type: u64,
    pub socket_sk: u64,
    pub sock_family: u64,
    pub sock_num: u64,
    pub task_real_cred: u64,
}

impl KernelOffsets {
    /// Every offset unknown.
    pub const NONE: KernelOffsets = KernelOffsets {
        task_fs: NO_OFFSET,
        task_files: NO_OFFSET,
        task_mm: NO_OFFSET,
        task_real_cred: NO_OFFSET,
        fs_root: NO_OFFSET,
        fs_pwd: NO_OFFSET,
        files_fdt: NO_OFFSET,
        fdtable_max_fds: NO_OFFSET,
        fdtable_fd: NO_OFFSET,
        file_f_path: NO_OFFSET,
        file_private_data: NO_OFFSET,
        path_mnt: NO_OFFSET,
        path_dentry: NO_OFFSET,
        dentry_d_parent: NO_OFFSET,
        dentry_d_name: NO_OFFSET,
        dentry_d_inode: NO_OFFSET,
        qstr_len: NO_OFFSET,
        qstr_name: NO_OFFSET,
        inode_i_ino: NO_OFFSET,
        mount_mnt_parent: NO_OFFSET,
        mount_mnt_mountpoint: NO_OFFSET,
        mount_mnt: NO_OFFSET,
        vfsmount_mnt_root: NO_OFFSET,
        mm_exe_file: NO_OFFSET,
        mm_arg_start: NO_OFFSET,
        mm_arg_end: NO_OFFSET,
        socket_type: NO_OFFSET,
        socket_sk: NO_OFFSET,
        sock_family: NO_OFFSET,
        sock_num: NO_OFFSET,
    };
}

const _: () = assert!(size_of::<KernelOffsets>() == 30 * 8);

// ---------------------------------------------------------------------------------------------
// Ring-buffer records.

/// Record kind of a [`FileRecord`].
pub const RECORD_FILE: u32 = 1;
/// Record kind of an [`ExecRecord`].
pub const RECORD_EXEC: u32 = 2;
/// Record kind of a [`SocketRecord`] for a successful `bind(2)`.
pub const RECORD_BIND: u32 = 3;
/// Record kind of a [`SocketRecord`] for a successful `listen(2)`.
pub const RECORD_LISTEN: u32 = 4;
/// Slots of [`MAP_DROPPED`]: one per record kind (slot 0 unused).
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
    /// The target's [`Phase`] when the call returned.
    pub phase: u8,
    /// 1: the paths are not inside the container: the task's root directory was the host's
    /// (the root of the task that made the target's cgroup, runc on the host; [`MAP_HOST_ROOT`]):
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
    /// The target's [`Phase`] once this program started (the exec of the entrypoint is the
    /// first of [`Phase::Application`]).
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
    /// The target's [`Phase`] when the call returned.
    pub phase: u8,
    /// Zero.
    pub pad: u8,
}

const _: () = assert!(size_of::<SocketRecord>() == 24 && align_of::<SocketRecord>() == 8);

// ---------------------------------------------------------------------------------------------
// Counters.

/// Capabilities counted (`CAP_LAST_CAP` is 40 in 6.18; numbers above 63 are not counted).
pub const CAP_COUNT: u32 = 64;
/// Who a capability check is counted for ([`cap_slot`]).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CapChecker {
    /// The application: a task of the container with its own credentials.
    Application = 0,
    /// runc: its work before the entrypoint, and the init of each `docker exec`.
    Runc = 1,
    /// The kernel acting with credentials other than the task's own (`cred != real_cred`): e.g.
    /// overlayfs, which works on the layers with the credentials of whoever mounted it.
    OtherCredentials = 2,
}

impl CapChecker {
    /// Every checker, in slot order.
    pub const ALL: [CapChecker; 3] = [
        CapChecker::Application,
        CapChecker::Runc,
        CapChecker::OtherCredentials,
    ];
}

/// Slots of [`MAP_CAPS`]: granted and denied per capability, per [`CapChecker`].
pub const CAP_SLOTS: u32 = CAP_COUNT * 2 * 3;

/// The [`MAP_CAPS`] slot of capability `cap` with its verdict and checker; `None` for `cap` >=
/// [`CAP_COUNT`].
#[allow(clippy::inline_always, reason = "called in the eBPF program")]
#[inline(always)]
pub const fn cap_slot(cap: u32, denied: bool, checker: CapChecker) -> Option<u32> {
    if cap < CAP_COUNT {
        Some(checker as u32 * CAP_COUNT * 2 + cap * 2 + denied as u32)
    } else {
        None
    }
}

/// The capability, verdict (`true`: denied) and checker a [`MAP_CAPS`] slot counts.
pub const fn slot_cap(slot: u32) -> (u32, bool, CapChecker) {
    let checker = match slot / (CAP_COUNT * 2) {
        0 => CapChecker::Application,
        1 => CapChecker::Runc,
        _ => CapChecker::OtherCredentials,
    };
    ((slot / 2) % CAP_COUNT, slot % 2 == 1, checker)
}

/// The name runc gives its init processes (`runc:[0:PARENT]`, `runc:[1:CHILD]`, `runc:[2:INIT]`):
/// a task whose `comm` starts with it is runc, not the application (`docker exec`'s init runs in
/// the container's cgroup).
pub const RUNC_COMM_PREFIX: &[u8; 6] = b"runc:[";

/// Address families counted (`AF_MAX` is 46 in 6.18).
pub const SOCKET_FAMILIES: u32 = 64;
/// Socket types counted (`type & SOCK_TYPE_MASK`, i.e. without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`).
pub const SOCKET_TYPES: u32 = 16;
/// Slots of [`MAP_SOCKETS`]: one per (family, type), plus one for families out of range.
pub const SOCKET_SLOTS: u32 = SOCKET_FAMILIES * SOCKET_TYPES + 1;
/// `SOCK_TYPE_MASK`: the type without the flags.
pub const SOCK_TYPE_MASK: u32 = 0xf;

/// The [`MAP_SOCKETS`] slot of a `socket(family, type, _)` call (`type` with its flags).
#[allow(clippy::inline_always, reason = "called in the eBPF program")]
#[inline(always)]
pub const fn socket_slot(family: u32, sock_type: u32) -> u32 {
    if family < SOCKET_FAMILIES {
        family * SOCKET_TYPES + (sock_type & SOCK_TYPE_MASK)
    } else {
        SOCKET_SLOTS - 1
    }
}

/// The (family, type) a [`MAP_SOCKETS`] slot counts; `None` for the out-of-range slot.
#[allow(clippy::cast_possible_truncation, reason = "both parts are below 64")]
pub const fn slot_socket(slot: u32) -> Option<(u16, u16)> {
    if slot >= SOCKET_SLOTS - 1 {
        return None;
    }
    Some(((slot / SOCKET_TYPES) as u16, (slot % SOCKET_TYPES) as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip() {
        for abi in Abi::ALL {
            for nr in [0u64, 1, 333, u64::from(SYSCALLS_PER_ABI) - 1] {
                let slot = syscall_slot(abi, nr);
                assert!(slot < OUT_OF_RANGE_SLOT);
                assert_eq!(slot_syscall(slot), Some((abi, u32::try_from(nr).unwrap())));
            }
        }
        assert_eq!(
            syscall_slot(Abi::X86, u64::from(SYSCALLS_PER_ABI)),
            OUT_OF_RANGE_SLOT
        );
        assert_eq!(syscall_slot(Abi::X86_64, u64::MAX), OUT_OF_RANGE_SLOT);
        assert_eq!(slot_syscall(OUT_OF_RANGE_SLOT), None);
    }

    #[test]
    fn phase_slots_round_trip() {
        for phase in Phase::ALL {
            assert_eq!(Phase::from_u8(phase as u8), Some(phase));
            for (abi, nr) in [(Abi::X86_64, 0u64), (Abi::X32, 1023), (Abi::X86, 5000)] {
                let slot = phase_syscall_slot(phase, abi, nr);
                assert!(slot < PHASE_SYSCALL_SLOTS);
                assert_eq!(slot_phase(slot), Some((phase, syscall_slot(abi, nr))));
            }
        }
        assert_eq!(Phase::from_u8(3), None);
        assert_eq!(slot_phase(PHASE_SYSCALL_SLOTS), None);
        assert_eq!(phase_of(0, 0), Phase::RuncBeforeFilter);
        assert_eq!(phase_of(1, 0), Phase::RuncAfterFilter);
        assert_eq!(phase_of(0, 1), Phase::Application);
        assert_eq!(phase_of(1, 1), Phase::Application);
        let entry = TargetEntry {
            slot: 3,
            ..TargetEntry::default()
        };
        assert_eq!(
            target_syscall_slot(entry.slot, entry.phase(), Abi::X86_64, 1),
            3 * PHASE_SYSCALL_SLOTS + 1
        );
    }

    #[test]
    fn file_ops_round_trip() {
        for (n, op) in (1u32..).zip(FileOp::ALL) {
            assert_eq!(op as u32, n);
            assert_eq!(FileOp::from_u32(n), Some(op));
        }
        assert_eq!(FileOp::from_u32(0), None);
        assert_eq!(FileOp::from_u32(18), None);
    }

    #[test]
    fn counter_slots_round_trip() {
        for cap in [0u32, 7, 10, 40, 63] {
            for denied in [false, true] {
                for checker in CapChecker::ALL {
                    let slot = cap_slot(cap, denied, checker).unwrap();
                    assert!(slot < CAP_SLOTS);
                    assert_eq!(slot_cap(slot), (cap, denied, checker));
                }
            }
        }
        assert_eq!(cap_slot(64, false, CapChecker::Application), None);
        // SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC counts as SOCK_STREAM.
        let slot = socket_slot(2, 1 | 0o4000 | 0o2_000_000);
        assert_eq!(slot_socket(slot), Some((2, 1)));
        assert_eq!(socket_slot(64, 1), SOCKET_SLOTS - 1);
        assert_eq!(slot_socket(SOCKET_SLOTS - 1), None);
        assert_eq!(slot_socket(socket_slot(63, 15)), Some((63, 15)));
    }
}
