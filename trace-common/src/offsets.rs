//! What the programs read of the kernel: tracepoint record layouts, x86 constants, and the
//! struct member offsets BTF gives ([`KernelOffsets`]).

/// Marks an offset BTF did not provide; the kernel side then skips that read.
pub const NO_OFFSET: u64 = u64::MAX;

/// x86 `TS_COMPAT`: set in `thread_info.status` while a task runs a 32-bit (ia32) system call.
pub const TS_COMPAT: u32 = 0x0002;
/// x86 `__X32_SYSCALL_BIT`: set in the number of x32-ABI system calls.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// `struct trace_event_raw_cgroup` (the `cgroup:cgroup_mkdir` record): `root`, the hierarchy id
/// (0 is the cgroup v2 hierarchy).
pub const CGROUP_MKDIR_ROOT_OFFSET: usize = 8;
/// ... `level`.
pub const CGROUP_MKDIR_LEVEL_OFFSET: usize = 12;
/// ... `id`.
pub const CGROUP_MKDIR_ID_OFFSET: usize = 16;
/// ... `__data_loc char[] path` (the cgroup's path in its hierarchy).
pub const CGROUP_MKDIR_PATH_OFFSET: usize = 24;

/// `struct syscall_trace_exit` (the `syscalls:sys_exit_*` tracepoint records): `__syscall_nr`.
pub const SYS_EXIT_NR_OFFSET: usize = 8;
/// `struct syscall_trace_exit`: `ret`.
pub const SYS_EXIT_RET_OFFSET: usize = 16;
/// `x86_64` `struct pt_regs`: offset of `r10`, the first of the eight registers the probe reads at
/// once (`r10 r9 r8 ax cx dx si di`), which hold the six system call arguments.
pub const PT_REGS_R10_OFFSET: u64 = 56;

/// Kernel struct member offsets in bytes, from the running kernel's BTF, [`NO_OFFSET`] where BTF
/// lacks the member. Passed to the programs as the [`GLOBAL_OFFSETS`](crate::GLOBAL_OFFSETS) global: Rust eBPF has no
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
