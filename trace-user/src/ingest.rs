//! Turns what the probe observed into recording entries: the one place that decides which
//! [`Access`] a kernel event stands for. Pure; the session feeds it events as they arrive and the
//! counters when the trace stops.

use crate::probe::{BindEvent, ExecEvent, FileEvent, ProbeEvent, ProbeFeatures};
use crate::recording::{
    Access, Category, Gap, GapKind, PathBytes, Recording, absolute, normalize, syscall_name,
};
use trace_common::open_flags::{
    O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_RDWR, O_TRUNC, O_WRONLY,
};
use trace_common::{Abi, FileOp, Phase};

const ENOENT: i64 = 2;
const ENOTDIR: i64 = 20;

/// Adds one event to the recording. Events whose paths were cut are not recorded as paths (a cut
/// path names another file); they count as dropped, so the summary warns.
pub fn event(recording: &mut Recording, event: &ProbeEvent) {
    match event {
        ProbeEvent::File(file) if runc_building(file) => {}
        ProbeEvent::Exec(exec) if exec.phase == Phase::RuncBeforeFilter => {}
        ProbeEvent::File(file) if file.truncated => recording.record_dropped(1),
        ProbeEvent::File(file) => file_event(recording, file),
        ProbeEvent::Exec(exec) if exec.truncated => recording.record_dropped(1),
        ProbeEvent::Exec(ExecEvent { path, argv, .. }) => {
            recording.record_exec(path, argv);
            recording.record_file(path, Access::Exec);
            if let Some(script) = script_name(recording, path, argv) {
                recording.record_script(&script, path);
            }
        }
        ProbeEvent::Bind(BindEvent {
            family,
            sock_type,
            port,
            ..
        })
        | ProbeEvent::Listen(BindEvent {
            family,
            sock_type,
            port,
            ..
        }) => {
            if *port != 0 {
                recording.record_bound_port(u32::from(*family), u32::from(*sock_type), *port);
            }
        }
        // Which container a cgroup is, is the session's business.
        ProbeEvent::CgroupCaught(_) | ProbeEvent::CgroupGone(_) => {}
    }
}

/// The script an exec of `interpreter` ran, when it was a `#!` script: the kernel runs the
/// interpreter with the script's name as it was executed after the interpreter and its optional
/// argument (`argv[1]` or `argv[2]`), and the exec's file record, which comes first, reported that
/// name as a link to the interpreter. An argument naming a path that really is a link to the
/// interpreter reads the same way: that path was executed too, so its execute permission stands.
fn script_name(recording: &Recording, interpreter: &[u8], argv: &[Vec<u8>]) -> Option<PathBytes> {
    let interpreter = normalize(interpreter);
    argv.iter().skip(1).take(2).find_map(|arg| {
        recording
            .links
            .iter()
            .filter(|(_, targets)| targets.contains(&interpreter))
            .map(|(name, _)| name)
            .find(|name| names_same_file(arg, name.as_bytes()))
            .cloned()
    })
}

/// Whether the argument `arg` names the absolute path `path`: the same path when absolute; when
/// relative (to a directory the exec does not say), its end, and only for an argument with a `/`
/// in it, as a program found through `PATH` is named absolutely (`sh -c true` names no script).
fn names_same_file(arg: &[u8], path: &[u8]) -> bool {
    if arg.first() == Some(&b'/') {
        return normalize(arg).as_bytes() == path;
    }
    let relative = normalize(arg);
    let tail = relative.as_bytes();
    arg.contains(&b'/') && tail.len() > 1 && path.ends_with(tail)
}

/// runc building the container before its seccomp filter (`trace run`): mounting, creating
/// device nodes and links, re-executing itself. None of it is the application's, so it is left
/// out; runc's reads of the image (e.g. `/etc/passwd` to resolve `--user`) stay, a minimal image
/// needs those files. So is whatever runc touched outside the container's root (`outside_root`:
/// from the host's root before it pivoted, or its exec fifo): host paths
/// (`/var/lib/docker/overlay2/<id>/merged/...`, `/run/docker/...`, `/proc/<host pid>/...`),
/// which name nothing in the container and change from one run to the next.
fn runc_building(e: &FileEvent) -> bool {
    const WRITES: u32 = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
    if e.phase == Phase::Application {
        return false;
    }
    e.outside_root
        || (e.phase == Phase::RuncBeforeFilter
            && !matches!(
                e.op,
                FileOp::Stat | FileOp::Access | FileOp::Readlink | FileOp::Getdents | FileOp::Chdir
            )
            && !(e.op == FileOp::Open && e.flags & WRITES == 0))
}

/// The absolute form of a requested path (relative ones joined to their base, lexically).
fn requested_path(requested: Option<&Vec<u8>>, base: Option<&Vec<u8>>) -> Option<PathBytes> {
    let requested = requested?;
    let base = PathBytes::new(base.cloned().unwrap_or_else(|| b"/".to_vec()));
    Some(absolute(&base, requested))
}

fn file_event(recording: &mut Recording, e: &FileEvent) {
    let requested = requested_path(e.requested.as_ref(), e.base.as_ref());
    let resolved = e.resolved.as_ref().map(|r| PathBytes::new(r.clone()));
    let second = requested_path(e.second_requested.as_ref(), e.second_base.as_ref());
    // The object itself: resolved when the kernel walked it, else the requested path.
    let object = resolved.clone().or_else(|| requested.clone());

    if e.result < 0 {
        // A failed lookup of a missing path is a probe; other failures leave no use to record.
        if matches!(-e.result, ENOENT | ENOTDIR)
            && e.op != FileOp::Symlink
            && let Some(path) = &requested
        {
            recording.record_file(path, Access::Probe);
        }
        return;
    }
    if let (Some(requested), Some(resolved)) = (&requested, &resolved)
        && requested != resolved
    {
        recording.record_link(requested, resolved);
    }
    let Some(object) = object else { return };
    match e.op {
        FileOp::Open => {
            let directory = e.flags & O_DIRECTORY != 0;
            for access in open_accesses(e.flags) {
                if directory {
                    recording.record_dir(&object, access);
                } else {
                    recording.record_file(&object, access);
                }
            }
        }
        FileOp::Unlink => recording.record_file(&object, Access::Delete),
        FileOp::Rmdir => recording.record_dir(&object, Access::Delete),
        FileOp::Mkdir => recording.record_dir(&object, Access::Create),
        FileOp::Rename => {
            recording.record_file(&object, Access::Rename);
            if let Some(new) = &second {
                recording.record_file(new, Access::Create);
            }
        }
        FileOp::Link => {
            if let Some(new) = &second {
                recording.record_file(new, Access::Link);
            }
        }
        // The first path of symlink(2) is the link's text, not a path that was used.
        FileOp::Symlink => {
            if let Some(new) = &second {
                recording.record_file(new, Access::Create);
            }
        }
        FileOp::Chmod => recording.record_file(&object, Access::Chmod),
        FileOp::Chown => recording.record_file(&object, Access::Chown),
        FileOp::Truncate => recording.record_file(&object, Access::Write),
        FileOp::Exec => recording.record_file(&object, Access::Exec),
        FileOp::MmapExec => recording.record_file(&object, Access::MmapExec),
        FileOp::Stat | FileOp::Access | FileOp::Readlink => {
            recording.record_file(&object, Access::Metadata);
        }
        FileOp::Getdents => recording.record_dir(&object, Access::List),
        FileOp::Chdir => recording.record_dir(&object, Access::Chdir),
    }
}

/// What a successful open with `flags` did.
fn open_accesses(flags: u32) -> Vec<Access> {
    let mut accesses = Vec::new();
    let writes = match flags & O_ACCMODE {
        O_WRONLY => true,
        O_RDWR => {
            accesses.push(Access::Read);
            true
        }
        _ => {
            accesses.push(Access::Read);
            false
        }
    };
    if writes || flags & O_TRUNC != 0 {
        accesses.push(if flags & O_APPEND != 0 && flags & O_TRUNC == 0 {
            Access::Append
        } else {
            Access::Write
        });
    }
    // O_CREAT alone does not say whether the file was new; the kernel side reports creation
    // only through the flags, so an O_CREAT open counts as creating (it may make the path).
    if flags & O_CREAT != 0 {
        accesses.push(Access::Create);
    }
    accesses
}

/// The probe's counters when the trace stops: capabilities, sockets, lost events.
pub struct Counters {
    /// Capability checks: number -> (granted, denied).
    pub capabilities: Vec<(u32, u64, u64)>,
    /// runc's capability checks: number -> (granted, denied).
    pub runc_capabilities: Vec<(u32, u64, u64)>,
    /// Checks with other credentials than the task's own: number -> (granted, denied).
    pub borrowed_capabilities: Vec<(u32, u64, u64)>,
    /// Sockets: (family, type) -> count.
    pub sockets: Vec<(u32, u32, u64)>,
    /// Argument values: (`x86_64` call number, argument index, value).
    pub arguments: Vec<(u32, u32, u64)>,
    /// Argument values the kernel side had no room for.
    pub arguments_lost: u64,
    /// Events the kernel could not send plus records userspace could not decode.
    pub dropped: u64,
}

/// Adds the counters, and marks each category the probe could record; programs that could not be
/// attached become gaps.
pub fn finish(recording: &mut Recording, counters: &Counters, features: &ProbeFeatures) {
    type Checks<'a> = &'a [(u32, u64, u64)];
    type AddChecks = fn(&mut Recording, u32, bool, u64);
    let record: [(Checks<'_>, AddChecks); 3] = [
        (&counters.capabilities, Recording::record_capability),
        (
            &counters.runc_capabilities,
            Recording::record_runc_capability,
        ),
        (
            &counters.borrowed_capabilities,
            Recording::record_borrowed_capability,
        ),
    ];
    for (checks, add) in record {
        for &(cap, granted, denied) in checks {
            if granted > 0 {
                add(recording, cap, true, granted);
            }
            if denied > 0 {
                add(recording, cap, false, denied);
            }
        }
    }
    for &(family, sock_type, count) in &counters.sockets {
        recording.record_socket(family, sock_type, count);
    }
    for &(nr, index, value) in &counters.arguments {
        if let Some(name) = syscall_name(Abi::X86_64, nr) {
            recording.record_argument(name.0, index, value);
        }
    }
    recording.record_arguments_lost(counters.arguments_lost);
    recording.record_dropped(counters.dropped);

    // A category is recorded when at least one of its programs is attached somewhere (a kernel
    // without, say, fchmodat2 still records every other file call; a gap names what is missing).
    let attached = |prefix: &str| {
        features
            .programs
            .iter()
            .any(|p| p.program.starts_with(prefix) && p.attached > 0)
    };
    // The system call counter (mandatory) also keeps the argument values.
    recording.mark_recorded(Category::Syscalls);
    recording.mark_recorded(Category::Arguments);
    for (category, prefix) in [
        (Category::Files, "file_"),
        (Category::Execs, "exec_"),
        (Category::Capabilities, "cap_"),
        (Category::Sockets, "socket_"),
    ] {
        if attached(prefix) {
            recording.mark_recorded(category);
        }
    }
    for gap in &features.missing {
        recording.gaps.push(Gap {
            kind: GapKind::FeatureMissing,
            detail: format!(
                "not recorded: {} ({} at {}: {})",
                gap.what, gap.program, gap.attach_point, gap.why
            ),
        });
    }
    if recording.events.dropped > 0 {
        recording.gaps.push(Gap {
            kind: GapKind::EventsDropped,
            detail: format!(
                "{} events were lost (ring buffer full or paths cut): the file, program and port lists may be incomplete",
                recording.events.dropped
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{ContainerInfo, HostInfo};

    fn recording() -> Recording {
        let container = ContainerInfo {
            id: "c".into(),
            name: "c".into(),
            image: "i".into(),
            image_id: "sha256:i".into(),
            mounts: std::collections::BTreeSet::new(),
            config: None,
            runtimes: std::collections::BTreeSet::new(),
        };
        let host = HostInfo {
            kernel: "k".into(),
            arch: "x86_64".into(),
        };
        Recording::started(container, host, "2026-11-28T00:00:00Z".into(), true)
    }

    fn file(op: FileOp, flags: u32, path: &str, phase: Phase) -> ProbeEvent {
        ProbeEvent::File(FileEvent {
            op,
            flags,
            result: 0,
            requested: Some(path.as_bytes().to_vec()),
            base: None,
            resolved: Some(path.as_bytes().to_vec()),
            second_requested: None,
            second_base: None,
            truncated: false,
            pid: 1,
            cgroup_id: 1,
            phase,
            outside_root: false,
        })
    }

    /// An exec of `name`, which the kernel resolved to `executable`, run with `argv`: its file
    /// record, then its exec record, in the order the probe sends them.
    fn exec(rec: &mut Recording, name: &str, executable: &str, argv: &[&str]) {
        let ProbeEvent::File(mut file) = file(FileOp::Exec, 0, name, Phase::Application) else {
            unreachable!()
        };
        file.resolved = Some(executable.as_bytes().to_vec());
        event(rec, &ProbeEvent::File(file));
        event(
            rec,
            &ProbeEvent::Exec(ExecEvent {
                path: executable.as_bytes().to_vec(),
                argv: argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
                truncated: false,
                pid: 1,
                cgroup_id: 1,
                phase: Phase::Application,
            }),
        );
    }

    #[test]
    fn a_script_is_executed_not_a_link_to_its_interpreter() {
        let mut rec = recording();
        // `#!/bin/sh` and `#!/usr/bin/env python3`, by absolute and relative name.
        exec(
            &mut rec,
            "/entry.sh",
            "/bin/busybox",
            &["/bin/sh", "/entry.sh", "serve"],
        );
        exec(
            &mut rec,
            "/app/run.py",
            "/usr/bin/env",
            &["/usr/bin/env", "python3", "./run.py"],
        );
        // Real symlinks executed stay links, whatever the arguments name.
        exec(&mut rec, "/bin/true", "/bin/busybox", &["true"]);
        exec(&mut rec, "/bin/sh", "/bin/busybox", &["sh", "-c", "true"]);
        for script in ["/entry.sh", "/app/run.py"] {
            let entry = &rec.files[&normalize(script.as_bytes())];
            assert!(entry.access.contains(&Access::Exec), "{script}: {entry:?}");
            assert!(!rec.links.contains_key(&normalize(script.as_bytes())));
        }
        for interpreter in ["/bin/busybox", "/usr/bin/env"] {
            assert!(
                rec.files[&normalize(interpreter.as_bytes())]
                    .access
                    .contains(&Access::Exec)
            );
        }
        for link in ["/bin/sh", "/bin/true"] {
            assert!(rec.links[&normalize(link.as_bytes())].contains(&normalize(b"/bin/busybox")));
            assert!(!rec.files.contains_key(&normalize(link.as_bytes())));
        }
    }

    #[test]
    fn runc_building_the_container_is_left_out_but_its_reads_stay() {
        let mut rec = recording();
        event(
            &mut rec,
            &file(FileOp::Mkdir, 0, "/dev/pts", Phase::RuncBeforeFilter),
        );
        event(
            &mut rec,
            &file(
                FileOp::Open,
                O_WRONLY | O_CREAT,
                "/dev/null",
                Phase::RuncBeforeFilter,
            ),
        );
        event(
            &mut rec,
            &file(FileOp::Open, 0, "/etc/passwd", Phase::RuncBeforeFilter),
        );
        event(
            &mut rec,
            &file(FileOp::Mkdir, 0, "/tmp/app", Phase::Application),
        );
        event(
            &mut rec,
            &file(
                FileOp::Open,
                O_WRONLY | O_APPEND,
                "/var/log/a",
                Phase::RuncAfterFilter,
            ),
        );
        let paths: Vec<String> = rec
            .files
            .keys()
            .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned())
            .collect();
        assert_eq!(paths, ["/etc/passwd", "/tmp/app", "/var/log/a"]);
        assert_eq!(
            rec.files[&"/var/log/a".into()]
                .access
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [Access::Append]
        );
    }

    #[test]
    fn runc_outside_the_containers_root_is_left_out() {
        let outside = |path: &str, phase| {
            let ProbeEvent::File(mut e) = file(FileOp::Open, 0, path, phase) else {
                unreachable!()
            };
            e.outside_root = true;
            ProbeEvent::File(e)
        };
        let mut rec = recording();
        event(
            &mut rec,
            &outside(
                "/var/lib/docker/overlay2/0123/merged/etc/hosts",
                Phase::RuncBeforeFilter,
            ),
        );
        event(
            &mut rec,
            &outside("/proc/15083/mountinfo", Phase::RuncBeforeFilter),
        );
        event(
            &mut rec,
            &outside(
                "/run/docker/runtime-runc/moby/0123/exec.fifo",
                Phase::RuncAfterFilter,
            ),
        );
        // The same read after the pivot, from the container's root: the image's file.
        event(
            &mut rec,
            &file(FileOp::Open, 0, "/etc/passwd", Phase::RuncBeforeFilter),
        );
        // The application's own accesses are never dropped.
        event(&mut rec, &outside("/mnt/elsewhere", Phase::Application));
        let paths: Vec<String> = rec
            .files
            .keys()
            .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned())
            .collect();
        assert_eq!(paths, ["/etc/passwd", "/mnt/elsewhere"]);
    }
}
