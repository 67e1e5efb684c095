//! Docker's default seccomp profile, as data, for profiles that are never looser than it.
//!
//! Transcribed (in this form, not copied) from moby's `profiles/seccomp/default.json` of Docker
//! 20.10.24, the engine trace targets, for the architectures trace renders (`x86_64` with its x86 and
//! x32 sub-architectures, aarch64), on kernels of 4.8 and later; plus the `socket` rules of moby's
//! current default (`default_linux.go`: every family but `AF_ALG` (38) and `AF_VSOCK` (40)), which
//! are stricter than 20.10's unconditional `socket`. The product never fetches it: this table is
//! the profile.
//!
//! What the default does with a name, [`treatment`]:
//! - [`Treatment::Allowed`]: in the unconditional allow list;
//! - [`Treatment::Filtered`]: allowed only with these argument filters (any one rule matching);
//! - [`Treatment::Enosys`]: refused with `ENOSYS` (`clone3`, so that glibc falls back to `clone`);
//! - [`Treatment::OnlyWithCapability`]: allowed only when the container has that capability
//!   (Docker adds the rule when the capability is granted; none of these is in Docker's default
//!   capability set);
//! - [`Treatment::Refused`]: not in the default at all (`EPERM`).

use super::{SeccompArg, SyscallRule};

/// `SCMP_ACT_ALLOW`.
const ALLOW: &str = "SCMP_ACT_ALLOW";

/// The unconditional allow list of Docker 20.10.24's default profile, without `socket` (filtered
/// here, as in moby's current default). Sorted; names of every architecture (`_llseek`,
/// `chown32`, ... are 32-bit names: a profile only uses the ones it observed).
pub const ALLOWED: &[&str] = &[
    "_llseek",
    "_newselect",
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioctl",
    "ioprio_get",
    "ioprio_set",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "setsid",
    "setsockopt",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Allowed only on these architectures (the default's `includes.arches`): (name, Go arch names).
pub const ALLOWED_ON_ARCH: &[(&str, &[&str])] = &[
    ("arch_prctl", &["amd64", "x32"]),
    ("arm_fadvise64_64", &["arm", "arm64"]),
    ("arm_sync_file_range", &["arm", "arm64"]),
    ("breakpoint", &["arm", "arm64"]),
    ("cacheflush", &["arm", "arm64"]),
    ("modify_ldt", &["amd64", "x32", "x86"]),
    ("set_tls", &["arm", "arm64"]),
    ("sync_file_range2", &["arm", "arm64"]),
];

/// Allowed on kernels 4.8 and later (the default's `minKernel`: from 4.8 seccomp runs after
/// ptrace, so a tracer cannot bypass it).
pub const ALLOWED_FROM_KERNEL_4_8: &[&str] = &["process_vm_readv", "process_vm_writev", "ptrace"];

/// Allowed only with a capability Docker does not grant by default: (capability, names).
/// `clone` and `clone3` are here too: with `CAP_SYS_ADMIN` they are allowed without filters.
pub const WITH_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "finit_module", "init_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &["kcmp", "pidfd_getfd", "process_madvise"],
    ),
    ("CAP_SYS_RAWIO", &["ioperm", "iopl"]),
    ("CAP_SYS_TIME", &["clock_settime", "settimeofday", "stime"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy"]),
    ("CAP_SYSLOG", &["syslog"]),
];

/// The `personality(2)` values the default allows: `PER_LINUX`, `UNAME26`, `PER_LINUX32`,
/// `UNAME26 | PER_LINUX32`, and `0xffffffff` (query the current persona).
pub const PERSONALITY_VALUES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The namespace flags `clone(2)` may not have without `CAP_SYS_ADMIN`: `CLONE_NEWNS`,
/// `CLONE_NEWUTS`, `CLONE_NEWIPC`, `CLONE_NEWUSER`, `CLONE_NEWPID`, `CLONE_NEWNET`,
/// `CLONE_NEWCGROUP` (`flags & 0x7E020000 == 0`, flags being argument 0 on `x86_64` and aarch64).
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// `AF_ALG`: the kernel crypto API, refused by moby's current default.
pub const AF_ALG: u64 = 38;
/// `AF_VSOCK`: host/guest sockets, refused by moby's current default.
pub const AF_VSOCK: u64 = 40;

/// What Docker's default profile does with a system call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Treatment {
    /// Allowed unconditionally.
    Allowed,
    /// Allowed only by these rules (each with argument filters).
    Filtered(Vec<SyscallRule>),
    /// Refused with `ENOSYS`.
    Enosys,
    /// Allowed only with this capability.
    OnlyWithCapability(&'static str),
    /// Not allowed.
    Refused,
}

fn arg(index: u32, value: u64, value_two: u64, op: &str) -> SeccompArg {
    SeccompArg {
        index,
        value,
        value_two,
        op: op.to_owned(),
    }
}

fn filtered(name: &str, args: Vec<SeccompArg>, comment: &str) -> SyscallRule {
    SyscallRule {
        names: vec![name.to_owned()],
        action: ALLOW.to_owned(),
        errno_ret: None,
        args,
        includes: None,
        comment: Some(comment.to_owned()),
    }
}

/// The rules with which the default allows `name`, when it filters its arguments.
fn filter_rules(name: &str) -> Option<Vec<SyscallRule>> {
    match name {
        "personality" => Some(
            PERSONALITY_VALUES
                .iter()
                .map(|&v| {
                    filtered(
                        name,
                        vec![arg(0, v, 0, "SCMP_CMP_EQ")],
                        &format!("Docker's default: personality({v:#x}) only."),
                    )
                })
                .collect(),
        ),
        "clone" => Some(vec![filtered(
            name,
            vec![arg(0, CLONE_NAMESPACE_FLAGS, 0, "SCMP_CMP_MASKED_EQ")],
            "Docker's default: clone without namespace flags (flags & 0x7E020000 == 0).",
        )]),
        "socket" => Some(vec![
            filtered(
                name,
                vec![arg(0, AF_ALG, 0, "SCMP_CMP_LT")],
                "Docker's default: socket families below AF_ALG (38).",
            ),
            filtered(
                name,
                vec![arg(0, AF_ALG + 1, 0, "SCMP_CMP_EQ")],
                "Docker's default: socket family 39, between AF_ALG and AF_VSOCK.",
            ),
            filtered(
                name,
                vec![arg(0, AF_VSOCK, 0, "SCMP_CMP_GT")],
                "Docker's default: socket families above AF_VSOCK (40).",
            ),
        ]),
        _ => None,
    }
}

/// What Docker's default profile does with `name` on a kernel of 4.8 or later, on an `x86_64` or
/// aarch64 host (architecture-only names count as allowed: a profile holds only names observed
/// on the architecture it was recorded on).
pub fn treatment(name: &str) -> Treatment {
    if let Some(rules) = filter_rules(name) {
        return Treatment::Filtered(rules);
    }
    if name == "clone3" {
        return Treatment::Enosys;
    }
    if ALLOWED.binary_search(&name).is_ok()
        || ALLOWED_ON_ARCH.iter().any(|(n, _)| *n == name)
        || ALLOWED_FROM_KERNEL_4_8.contains(&name)
    {
        return Treatment::Allowed;
    }
    WITH_CAPABILITY
        .iter()
        .find(|(_, names)| names.contains(&name))
        .map_or(Treatment::Refused, |(cap, _)| {
            Treatment::OnlyWithCapability(cap)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_is_sorted_without_repeats_and_leaves_out_the_filtered_calls() {
        assert!(ALLOWED.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        assert_eq!(
            ALLOWED.len(),
            345,
            "Docker 20.10.24's 346 names less socket"
        );
        for filtered in [
            "socket",
            "personality",
            "clone",
            "clone3",
            "mount",
            "unshare",
            "setns",
        ] {
            assert!(
                !ALLOWED.contains(&filtered),
                "{filtered} is not unconditional"
            );
        }
        for common in [
            "read",
            "write",
            "openat",
            "execve",
            "mmap",
            "futex",
            "socketcall",
        ] {
            assert_eq!(treatment(common), Treatment::Allowed, "{common}");
        }
    }

    #[test]
    fn conditional_calls_carry_the_defaults_filters() {
        let Treatment::Filtered(personality) = treatment("personality") else {
            panic!("personality is filtered")
        };
        let values: Vec<u64> = personality.iter().map(|r| r.args[0].value).collect();
        assert_eq!(values, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
        assert!(personality.iter().all(|r| r.args[0].op == "SCMP_CMP_EQ"));
        let Treatment::Filtered(clone) = treatment("clone") else {
            panic!("clone is filtered")
        };
        assert_eq!(
            (clone.len(), clone[0].args[0].clone()),
            (1, arg(0, 0x7E02_0000, 0, "SCMP_CMP_MASKED_EQ"))
        );
        // Every namespace flag is in the mask.
        for flag in [
            libc::CLONE_NEWNS,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWCGROUP,
        ] {
            let flag = u64::try_from(flag).unwrap();
            assert_eq!(CLONE_NAMESPACE_FLAGS & flag, flag);
        }
        let Treatment::Filtered(socket) = treatment("socket") else {
            panic!("socket is filtered")
        };
        let allows = |family: u64| {
            socket.iter().any(|r| {
                let a = &r.args[0];
                match a.op.as_str() {
                    "SCMP_CMP_LT" => family < a.value,
                    "SCMP_CMP_EQ" => family == a.value,
                    "SCMP_CMP_GT" => family > a.value,
                    op => panic!("unexpected {op}"),
                }
            })
        };
        assert_eq!(u64::try_from(libc::AF_ALG).unwrap(), AF_ALG);
        assert_eq!(u64::try_from(libc::AF_VSOCK).unwrap(), AF_VSOCK);
        assert!(!allows(AF_ALG) && !allows(AF_VSOCK));
        assert!(
            (0..100)
                .filter(|f| *f != AF_ALG && *f != AF_VSOCK)
                .all(allows)
        );
    }

    #[test]
    fn privileged_calls_need_a_capability_and_clone3_gets_enosys() {
        assert_eq!(treatment("clone3"), Treatment::Enosys);
        assert_eq!(
            treatment("mount"),
            Treatment::OnlyWithCapability("CAP_SYS_ADMIN")
        );
        assert_eq!(
            treatment("chroot"),
            Treatment::OnlyWithCapability("CAP_SYS_CHROOT")
        );
        assert_eq!(treatment("kexec_load"), Treatment::Refused);
        assert_eq!(treatment("add_key"), Treatment::Refused);
        // No name is in two classes.
        for (_, names) in WITH_CAPABILITY {
            for name in *names {
                assert!(ALLOWED.binary_search(name).is_err(), "{name}");
            }
        }
    }
}
