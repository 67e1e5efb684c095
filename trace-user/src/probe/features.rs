//! The one place that says which program records what, where it attaches, which kernel feature
//! it needs and what a recording lacks without it. docs/probe.md shows the same table (a test
//! checks that it names every program and attach point).

use trace_common::{KernelOffsets, NO_OFFSET};

use super::btf::KernelLayout;

/// Where a program attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachPoint {
    /// A raw tracepoint (`raw_tracepoint/<name>`).
    RawTracepoint(&'static str),
    /// An fexit program on the kernel function `function`, attached only when the program
    /// `instead_of` could not be: the same observation where its tracepoint is missing.
    FExit {
        /// The kernel function (it must be in the kernel's BTF).
        function: &'static str,
        /// The program it stands in for.
        instead_of: &'static str,
    },
    /// Classic tracepoints `<category>/<name>`, the same program on each.
    Tracepoints {
        /// The tracefs event category, e.g. `syscalls`.
        category: &'static str,
        /// The events.
        names: &'static [&'static str],
    },
}

/// One eBPF program and what depends on it.
#[derive(Clone, Copy, Debug)]
pub struct Feature {
    /// The program (a function name in trace-ebpf).
    pub program: &'static str,
    /// Where it attaches.
    pub attach: AttachPoint,
    /// What it records.
    pub records: &'static str,
    /// The kernel features it needs beyond the basics (BTF, eBPF, cgroup v2).
    pub needs: &'static str,
    /// What a recording lacks when it cannot be loaded or attached.
    pub lost: &'static str,
    /// Whether this kernel's layout (BTF) has everything the program reads.
    pub layout_ok: fn(&KernelLayout) -> bool,
    /// Without it trace cannot record at all.
    pub mandatory: bool,
}

/// The syscall-exit tracepoints of the file programs (`syscalls/sys_exit_<name>`).
const OPEN_EXITS: &[&str] = &[
    "sys_exit_open",
    "sys_exit_openat",
    "sys_exit_openat2",
    "sys_exit_creat",
];
const PATH_EXITS: &[&str] = &[
    "sys_exit_unlink",
    "sys_exit_unlinkat",
    "sys_exit_rmdir",
    "sys_exit_mkdir",
    "sys_exit_mkdirat",
    "sys_exit_chmod",
    "sys_exit_fchmodat",
    "sys_exit_fchmodat2",
    "sys_exit_chown",
    "sys_exit_lchown",
    "sys_exit_fchownat",
    "sys_exit_truncate",
    "sys_exit_newstat",
    "sys_exit_newlstat",
    "sys_exit_newfstatat",
    "sys_exit_statx",
    "sys_exit_access",
    "sys_exit_faccessat",
    "sys_exit_faccessat2",
    "sys_exit_readlink",
    "sys_exit_readlinkat",
    "sys_exit_chdir",
    "sys_exit_execve",
    "sys_exit_execveat",
];
const TWO_PATH_EXITS: &[&str] = &[
    "sys_exit_rename",
    "sys_exit_renameat",
    "sys_exit_renameat2",
    "sys_exit_link",
    "sys_exit_linkat",
    "sys_exit_symlink",
    "sys_exit_symlinkat",
];
const FD_EXITS: &[&str] = &[
    "sys_exit_fchmod",
    "sys_exit_fchown",
    "sys_exit_ftruncate",
    "sys_exit_getdents",
    "sys_exit_getdents64",
    "sys_exit_fchdir",
    "sys_exit_mmap",
];
const SOCKET_EXITS: &[&str] = &["sys_exit_socket", "sys_exit_bind", "sys_exit_listen"];
const FILTER_EXITS: &[&str] = &["sys_exit_seccomp", "sys_exit_prctl"];
/// The program that makes each new container cgroup a target (no container can be recorded
/// from its start without it).
pub const CATCH_PROGRAM: &str = "catch_cgroup";
/// The program that drops a target whose cgroup is removed.
pub const DROP_PROGRAM: &str = "drop_cgroup";
/// The program that ends phase 0 at a seccomp filter install.
pub const PHASE_FILTER_PROGRAM: &str = "phase_filter";
/// The program that starts the application phase at the first exec.
pub const PHASE_EXEC_PROGRAM: &str = "phase_exec";

/// What the file programs need besides the path walk: syscall exit tracepoints, the argument
/// registers at a known place, `bpf_task_pt_regs` (5.15), `bpf_loop` (5.17), a ring buffer (5.8).
const FILE_NEEDS: &str = "syscall exit tracepoints (CONFIG_FTRACE_SYSCALLS, tracefs), \
                          bpf_task_pt_regs (5.15), bpf_loop (5.17), BPF ring buffer (5.8)";

/// Every program, the mandatory one first.
pub const FEATURES: &[Feature] = &[
    Feature {
        program: "syscall_enter",
        attach: AttachPoint::RawTracepoint("sys_enter"),
        records: "system calls per ABI and number",
        needs: "raw tracepoints (4.17), bpf_get_current_ancestor_cgroup_id (5.6)",
        lost: "everything: trace cannot record without it",
        layout_ok: |_| true,
        mandatory: true,
    },
    Feature {
        program: "file_open",
        attach: AttachPoint::Tracepoints {
            category: "syscalls",
            names: OPEN_EXITS,
        },
        records: "opens: flags, result, requested path, its base, resolved path",
        needs: FILE_NEEDS,
        lost: "opened files (file lists and AppArmor file rules miss them)",
        layout_ok: |l| l.pt_regs_ok && has(&l.offsets, &WALK_OFFSETS),
        mandatory: false,
    },
    Feature {
        program: "file_path",
        attach: AttachPoint::Tracepoints {
            category: "syscalls",
            names: PATH_EXITS,
        },
        records: "unlink, rmdir, mkdir, chmod, chown, truncate, stat, access, readlink, chdir \
                  by path, failed execs: result, requested path, its base",
        needs: FILE_NEEDS,
        lost: "deletes, directory creation, mode and owner changes, metadata probes by path",
        layout_ok: |l| l.pt_regs_ok && has(&l.offsets, &WALK_OFFSETS),
        mandatory: false,
    },
    Feature {
        program: "file_two_paths",
        attach: AttachPoint::Tracepoints {
            category: "syscalls",
            names: TWO_PATH_EXITS,
        },
        records: "rename, link, symlink: both paths with their bases",
        needs: FILE_NEEDS,
        lost: "renames, hard links and symlinks created",
        layout_ok: |l| l.pt_regs_ok && has(&l.offsets, &WALK_OFFSETS),
        mandatory: false,
    },
    Feature {
        program: "file_fd",
        attach: AttachPoint::Tracepoints {
            category: "syscalls",
            names: FD_EXITS,
        },
        records: "fchmod, fchown, ftruncate, getdents, fchdir, mmap PROT_EXEC of a file: the \
                  file's resolved path",
        needs: FILE_NEEDS,
        lost: "shared libraries mapped executable, directory listings, changes through an fd",
        layout_ok: |l| l.pt_regs_ok && has(&l.offsets, &WALK_OFFSETS),
        mandatory: false,
    },
    Feature {
        program: "exec_done",
        attach: AttachPoint::Tracepoints {
            category: "sched",
            names: &["sched_process_exec"],
        },
        records: "executed programs: path as passed, resolved path, arguments",
        needs: "sched:sched_process_exec tracepoint (tracefs), bpf_loop (5.17), BPF ring buffer",
        lost: "executed programs and their arguments",
        layout_ok: |l| has(&l.offsets, &WALK_OFFSETS) && has(&l.offsets, &EXEC_OFFSETS),
        mandatory: false,
    },
    Feature {
        program: "cap_check",
        attach: AttachPoint::Tracepoints {
            category: "capability",
            names: &["cap_capable"],
        },
        records: "capability checks per capability, granted or denied",
        needs: "capability:cap_capable tracepoint (recent kernels: in 6.18, not in 6.1/6.6)",
        lost: "capability checks (no cap-drop/cap-add advice)",
        layout_ok: |_| true,
        mandatory: false,
    },
    Feature {
        program: "cap_check_fexit",
        attach: AttachPoint::FExit {
            function: "cap_capable",
            instead_of: "cap_check",
        },
        records: "the same as `cap_check`, on kernels without its tracepoint",
        needs: "fexit (BPF trampolines, 5.5) and `cap_capable` in the kernel's BTF",
        lost: "capability checks (no cap-drop/cap-add advice)",
        layout_ok: |_| true,
        mandatory: false,
    },
    Feature {
        program: "socket_exit",
        attach: AttachPoint::Tracepoints {
            category: "syscalls",
            names: SOCKET_EXITS,
        },
        records: "socket() per family and type; bind and listen of AF_INET/AF_INET6: port",
        needs: "syscall exit tracepoints (tracefs), bpf_task_pt_regs (5.15), BPF ring buffer",
        lost: "socket families and types, bound and listening ports",
        layout_ok: |l| l.pt_regs_ok && has(&l.offsets, &SOCKET_OFFSETS),
        mandatory: false,
    },
    Feature {
        program: CATCH_PROGRAM,
        attach: AttachPoint::Tracepoints {
            category: "cgroup",
            names: &["cgroup_mkdir"],
        },
        records: "new container cgroups (named by a container id): each becomes a target inside \
                  mkdir(2), before any task can join it, and is announced to userspace",
        needs: "the cgroup:cgroup_mkdir tracepoint (4.19, tracefs), BPF queue maps (4.20)",
        lost: "recording containers from their start: only running containers can be recorded",
        layout_ok: |_| true,
        mandatory: false,
    },
    Feature {
        program: DROP_PROGRAM,
        attach: AttachPoint::Tracepoints {
            category: "cgroup",
            names: &["cgroup_rmdir"],
        },
        records: "removed container cgroups: the target is dropped and userspace told, which \
                  reads its final counters and frees its slot",
        needs: "the cgroup:cgroup_rmdir tracepoint (4.19, tracefs)",
        lost: "the end of a container's life: its slot is freed only when trace stops, so a \
               container restarting many times may run out of slots",
        layout_ok: |_| true,
        mandatory: false,
    },
    Feature {
        program: PHASE_FILTER_PROGRAM,
        attach: AttachPoint::Tracepoints {
            category: "syscalls",
            names: FILTER_EXITS,
        },
        records: "the end of phase 0 (runc before its seccomp filter): a successful \
                  seccomp(SECCOMP_SET_MODE_FILTER) or prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)",
        needs: "syscall exit tracepoints (tracefs), bpf_task_pt_regs (5.15)",
        lost: "runc's setup before its filter told apart: it counts as runc after the filter \
               (what a profile allows)",
        layout_ok: |l| l.pt_regs_ok,
        mandatory: false,
    },
    Feature {
        program: PHASE_EXEC_PROGRAM,
        attach: AttachPoint::Tracepoints {
            category: "sched",
            names: &["sched_process_exec"],
        },
        records: "the start of the application phase: the first program executed in the target",
        needs: "the sched:sched_process_exec tracepoint (tracefs)",
        lost: "runc's startup told apart from the application: everything counts as application",
        layout_ok: |_| true,
        mandatory: false,
    },
];

type OffsetField = fn(&KernelOffsets) -> u64;

/// The offsets of the path walk and of the fd lookup.
const WALK_OFFSETS: [OffsetField; 20] = [
    |o| o.task_fs,
    |o| o.task_files,
    |o| o.fs_root,
    |o| o.fs_pwd,
    |o| o.files_fdt,
    |o| o.fdtable_max_fds,
    |o| o.fdtable_fd,
    |o| o.file_f_path,
    |o| o.path_mnt,
    |o| o.path_dentry,
    |o| o.dentry_d_parent,
    |o| o.dentry_d_name,
    |o| o.dentry_d_inode,
    |o| o.qstr_len,
    |o| o.qstr_name,
    |o| o.inode_i_ino,
    |o| o.mount_mnt_parent,
    |o| o.mount_mnt_mountpoint,
    |o| o.mount_mnt,
    |o| o.vfsmount_mnt_root,
];

const EXEC_OFFSETS: [OffsetField; 4] = [
    |o| o.task_mm,
    |o| o.mm_exe_file,
    |o| o.mm_arg_start,
    |o| o.mm_arg_end,
];

const SOCKET_OFFSETS: [OffsetField; 9] = [
    |o| o.task_files,
    |o| o.files_fdt,
    |o| o.fdtable_max_fds,
    |o| o.fdtable_fd,
    |o| o.file_private_data,
    |o| o.socket_type,
    |o| o.socket_sk,
    |o| o.sock_family,
    |o| o.sock_num,
];

fn has(offsets: &KernelOffsets, fields: &[OffsetField]) -> bool {
    fields.iter().all(|field| field(offsets) != NO_OFFSET)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/probe.md shows this table: it must name every program and attach point.
    #[test]
    fn docs_name_every_program_and_attach_point() {
        let docs = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/probe.md"));
        for feature in FEATURES {
            assert!(
                docs.contains(&format!("`{}`", feature.program)),
                "docs/probe.md does not name `{}`",
                feature.program
            );
            match feature.attach {
                AttachPoint::RawTracepoint(name) => assert!(docs.contains(name), "{name}"),
                AttachPoint::FExit { function, .. } => {
                    assert!(docs.contains(&format!("fexit/{function}")), "{function}");
                }
                AttachPoint::Tracepoints { category, names } => {
                    assert!(docs.contains(category), "{category}");
                    for name in names {
                        let short = name
                            .strip_prefix("sys_exit_")
                            .or_else(|| name.strip_prefix("sys_enter_"))
                            .unwrap_or(name);
                        assert!(docs.contains(short), "docs/probe.md lacks {name}");
                    }
                }
            }
        }
        assert!(FEATURES[0].mandatory);
        assert!(FEATURES[1..].iter().all(|f| !f.mandatory));
    }
}
