//! Which system calls a C library function makes: what a program that imports the function can
//! reach. Used for the coverage report (docs/coverage.md): a dynamically linked program's imports
//! are names of functions, not of system calls, and the two differ (`fork` makes `clone`,
//! `sleep` makes `clock_nanosleep`, `setrlimit` makes `prlimit64`) and differ by machine (on
//! aarch64 `rename` makes `renameat`, `alarm` makes `setitimer`: its generic table has no legacy
//! calls).
//!
//! The table is glibc's, version 2.36 (Debian 12): the x86-64 column measured with strace, one
//! call of each function, the aarch64 column read from the same glibc's Linux sources
//! (`sysdeps/unix/sysv/linux`: each wrapper uses the legacy call where the architecture has it,
//! else the `*at`, `p*` or `*2` call). Other C libraries differ in a few entries (musl makes
//! `fork` itself on x86-64 where glibc makes `clone`); the report is then approximate there.
//!
//! It lists the functions whose calls matter on rare paths (processes, signals, privileges, files
//! changed in place, waiting) and leaves out what every program does at its start (`read`,
//! `mmap`, `openat`, `newfstatat`): those are always observed.

use crate::recording::Machine;

/// One function: its name, the calls it makes on x86-64, and on aarch64 (empty: the same).
type Wrapper = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// The table, sorted by function name (a unit test keeps it sorted and checks every name).
const WRAPPERS: &[Wrapper] = &[
    ("_Exit", &["exit_group"], &[]),
    ("_exit", &["exit_group"], &[]),
    ("abort", &["tgkill"], &[]),
    ("accept", &["accept"], &[]),
    ("accept4", &["accept4"], &[]),
    ("access", &["access"], &["faccessat"]),
    ("alarm", &["alarm"], &["setitimer"]),
    ("bind", &["bind"], &[]),
    ("bsd_signal", &["rt_sigaction"], &[]),
    ("capset", &["capset"], &[]),
    ("chdir", &["chdir"], &[]),
    ("chmod", &["chmod"], &["fchmodat"]),
    ("chown", &["chown"], &["fchownat"]),
    ("chroot", &["chroot"], &[]),
    ("clock_nanosleep", &["clock_nanosleep"], &[]),
    ("clone", &["clone"], &[]),
    ("connect", &["connect"], &[]),
    ("creat", &["creat"], &["openat"]),
    ("daemon", &["clone", "setsid"], &[]),
    ("dup", &["dup"], &[]),
    ("dup2", &["dup2"], &["dup3"]),
    ("dup3", &["dup3"], &[]),
    ("epoll_create", &["epoll_create"], &["epoll_create1"]),
    ("epoll_create1", &["epoll_create1"], &[]),
    ("epoll_pwait", &["epoll_pwait"], &[]),
    ("epoll_wait", &["epoll_wait"], &["epoll_pwait"]),
    ("eventfd", &["eventfd2"], &[]),
    ("execl", &["execve"], &[]),
    ("execle", &["execve"], &[]),
    ("execlp", &["execve"], &[]),
    ("execv", &["execve"], &[]),
    ("execve", &["execve"], &[]),
    ("execveat", &["execveat"], &[]),
    ("execvp", &["execve"], &[]),
    ("execvpe", &["execve"], &[]),
    ("fchdir", &["fchdir"], &[]),
    ("fchmod", &["fchmod"], &[]),
    ("fchmodat", &["fchmodat"], &[]),
    ("fchown", &["fchown"], &[]),
    ("fchownat", &["fchownat"], &[]),
    ("fdatasync", &["fdatasync"], &[]),
    ("fexecve", &["execveat", "execve"], &[]),
    ("flock", &["flock"], &[]),
    ("fork", &["clone"], &[]),
    ("fsync", &["fsync"], &[]),
    ("ftruncate", &["ftruncate"], &[]),
    ("futimens", &["utimensat"], &[]),
    ("gethostname", &["uname"], &[]),
    ("initgroups", &["setgroups"], &[]),
    ("inotify_add_watch", &["inotify_add_watch"], &[]),
    ("inotify_init", &["inotify_init"], &["inotify_init1"]),
    ("inotify_init1", &["inotify_init1"], &[]),
    ("kill", &["kill"], &[]),
    ("killpg", &["kill"], &[]),
    ("lchown", &["lchown"], &["fchownat"]),
    ("link", &["link"], &["linkat"]),
    ("linkat", &["linkat"], &[]),
    ("listen", &["listen"], &[]),
    ("memfd_create", &["memfd_create"], &[]),
    ("mkdir", &["mkdir"], &["mkdirat"]),
    ("mkdirat", &["mkdirat"], &[]),
    ("mkfifo", &["mknodat"], &[]),
    ("mknod", &["mknodat"], &[]),
    ("mlock", &["mlock"], &[]),
    ("mlockall", &["mlockall"], &[]),
    ("mount", &["mount"], &[]),
    ("nanosleep", &["clock_nanosleep"], &[]),
    ("nice", &["getpriority", "setpriority"], &[]),
    ("pause", &["pause"], &["rt_sigsuspend"]),
    ("pclose", &["wait4"], &[]),
    ("personality", &["personality"], &[]),
    ("pipe", &["pipe2"], &[]),
    ("pipe2", &["pipe2"], &[]),
    ("poll", &["poll"], &["ppoll"]),
    ("popen", &["clone3", "pipe2"], &[]),
    ("posix_spawn", &["clone3", "execve"], &[]),
    ("posix_spawnp", &["clone3", "execve"], &[]),
    ("prctl", &["prctl"], &[]),
    ("prlimit", &["prlimit64"], &[]),
    ("pselect", &["pselect6"], &[]),
    ("pthread_create", &["clone3"], &[]),
    ("pthread_kill", &["tgkill"], &[]),
    ("pthread_sigmask", &["rt_sigprocmask"], &[]),
    ("ptrace", &["ptrace"], &[]),
    ("raise", &["tgkill"], &[]),
    ("readlink", &["readlink"], &["readlinkat"]),
    ("reboot", &["reboot"], &[]),
    ("recv", &["recvfrom"], &[]),
    ("recvmmsg", &["recvmmsg"], &[]),
    ("rename", &["rename"], &["renameat"]),
    ("renameat", &["renameat"], &[]),
    ("renameat2", &["renameat2"], &[]),
    ("rmdir", &["rmdir"], &["unlinkat"]),
    ("sched_setaffinity", &["sched_setaffinity"], &[]),
    ("sched_setscheduler", &["sched_setscheduler"], &[]),
    ("select", &["pselect6"], &[]),
    ("send", &["sendto"], &[]),
    ("sendfile", &["sendfile"], &[]),
    ("sendmmsg", &["sendmmsg"], &[]),
    ("setdomainname", &["setdomainname"], &[]),
    ("setegid", &["setresgid"], &[]),
    ("seteuid", &["setresuid"], &[]),
    ("setfsgid", &["setfsgid"], &[]),
    ("setfsuid", &["setfsuid"], &[]),
    ("setgid", &["setgid"], &[]),
    ("setgroups", &["setgroups"], &[]),
    ("sethostname", &["sethostname"], &[]),
    ("setitimer", &["setitimer"], &[]),
    ("setns", &["setns"], &[]),
    ("setpgid", &["setpgid"], &[]),
    ("setpgrp", &["setpgid"], &[]),
    ("setpriority", &["setpriority"], &[]),
    ("setregid", &["setregid"], &[]),
    ("setresgid", &["setresgid"], &[]),
    ("setresuid", &["setresuid"], &[]),
    ("setreuid", &["setreuid"], &[]),
    ("setrlimit", &["prlimit64"], &[]),
    ("setsid", &["setsid"], &[]),
    ("setuid", &["setuid"], &[]),
    ("shutdown", &["shutdown"], &[]),
    ("sigaction", &["rt_sigaction"], &[]),
    ("sigaltstack", &["sigaltstack"], &[]),
    ("signal", &["rt_sigaction"], &[]),
    ("signalfd", &["signalfd4"], &[]),
    ("sigpending", &["rt_sigpending"], &[]),
    ("sigprocmask", &["rt_sigprocmask"], &[]),
    ("sigqueue", &["rt_sigqueueinfo"], &[]),
    ("sigset", &["rt_sigaction"], &[]),
    ("sigsuspend", &["rt_sigsuspend"], &[]),
    ("sigtimedwait", &["rt_sigtimedwait"], &[]),
    ("sigwait", &["rt_sigtimedwait"], &[]),
    ("sigwaitinfo", &["rt_sigtimedwait"], &[]),
    ("sleep", &["clock_nanosleep"], &[]),
    ("socket", &["socket"], &[]),
    ("socketpair", &["socketpair"], &[]),
    ("symlink", &["symlink"], &["symlinkat"]),
    ("symlinkat", &["symlinkat"], &[]),
    ("sync", &["sync"], &[]),
    ("syncfs", &["syncfs"], &[]),
    ("system", &["clone3", "execve", "wait4"], &[]),
    ("tgkill", &["tgkill"], &[]),
    ("timer_create", &["timer_create"], &[]),
    ("timerfd_create", &["timerfd_create"], &[]),
    ("truncate", &["truncate"], &[]),
    ("umask", &["umask"], &[]),
    ("umount", &["umount2"], &[]),
    ("umount2", &["umount2"], &[]),
    ("unlink", &["unlink"], &["unlinkat"]),
    ("unlinkat", &["unlinkat"], &[]),
    ("unshare", &["unshare"], &[]),
    ("usleep", &["clock_nanosleep"], &[]),
    ("utime", &["utimensat"], &[]),
    ("utimensat", &["utimensat"], &[]),
    ("utimes", &["utimensat"], &[]),
    ("vfork", &["vfork"], &["clone"]),
    ("wait", &["wait4"], &[]),
    ("wait3", &["wait4"], &[]),
    ("wait4", &["wait4"], &[]),
    ("waitid", &["waitid"], &[]),
    ("waitpid", &["wait4"], &[]),
];

/// The table's entry for an imported name: the name itself, or without the `64` that glibc's
/// large-file aliases add (`setrlimit64`, `ftruncate64`), which are the same functions on 64-bit
/// machines.
fn entry(function: &str) -> Option<&'static Wrapper> {
    let find = |name: &str| {
        WRAPPERS
            .binary_search_by(|(f, _, _)| (*f).cmp(name))
            .ok()
            .map(|i| &WRAPPERS[i])
    };
    find(function).or_else(|| function.strip_suffix("64").and_then(find))
}

/// The system calls `function` (as imported) makes on `machine`; `None` when the table does not
/// list it.
pub fn syscalls_of(function: &str, machine: Machine) -> Option<&'static [&'static str]> {
    let (_, x86_64, aarch64) = entry(function)?;
    Some(match machine {
        Machine::Aarch64 if !aarch64.is_empty() => aarch64,
        _ => x86_64,
    })
}

/// Whether the table lists `function` (as imported): an import worth keeping.
pub fn is_listed(function: &str) -> bool {
    entry(function).is_some()
}

/// Whether a library is the C library or the dynamic loader itself, by its `DT_SONAME`: its
/// functions are what others import (glibc's `libc.so.6` and `ld-linux-*.so.2`, musl's
/// `libc.so` and `ld-musl-*.so.1`).
pub fn is_c_library(soname: &[u8]) -> bool {
    soname.starts_with(b"libc.so")
        || soname.starts_with(b"libc.musl-")
        || soname.starts_with(b"ld-linux")
        || soname.starts_with(b"ld-musl-")
        || soname.starts_with(b"ld64.so")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_names_real_calls() {
        assert!(
            WRAPPERS.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no repeats"
        );
        for (function, x86_64, aarch64) in WRAPPERS {
            for call in *x86_64 {
                assert!(Machine::X86_64.has(call), "{function}: {call} on x86_64");
            }
            let on_arm = if aarch64.is_empty() { x86_64 } else { aarch64 };
            for call in *on_arm {
                assert!(Machine::Aarch64.has(call), "{function}: {call} on aarch64");
            }
        }
    }

    #[test]
    fn functions_map_per_machine_with_large_file_aliases() {
        assert_eq!(syscalls_of("fork", Machine::X86_64), Some(&["clone"][..]));
        assert_eq!(
            syscalls_of("rename", Machine::X86_64),
            Some(&["rename"][..])
        );
        assert_eq!(
            syscalls_of("rename", Machine::Aarch64),
            Some(&["renameat"][..])
        );
        assert_eq!(
            syscalls_of("setrlimit64", Machine::X86_64),
            Some(&["prlimit64"][..])
        );
        assert_eq!(
            syscalls_of("usleep", Machine::Aarch64),
            Some(&["clock_nanosleep"][..])
        );
        assert_eq!(syscalls_of("strlen", Machine::X86_64), None);
        assert_eq!(syscalls_of("64", Machine::X86_64), None);
        assert!(is_listed("kill") && !is_listed("malloc"));
        assert!(is_c_library(b"libc.so.6") && is_c_library(b"ld-linux-x86-64.so.2"));
        assert!(!is_c_library(b"libcrypto.so.3"));
    }
}
