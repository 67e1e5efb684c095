//! Loading and attaching the programs: the mandatory system call counter, and the optional
//! programs of [`FEATURES`], each checked against this kernel's tracepoints first.

use std::{io, path::Path, time::Instant};

use aya::{
    Ebpf,
    programs::{FExit, RawTracePoint, TracePoint},
};
use trace_common::{
    CGROUP_MKDIR_ID_OFFSET, CGROUP_MKDIR_LEVEL_OFFSET, CGROUP_MKDIR_PATH_OFFSET,
    CGROUP_MKDIR_ROOT_OFFSET, SYS_EXIT_NR_OFFSET, SYS_EXIT_RET_OFFSET,
};

use super::{AttachPoint, Feature, LoadedProgram, MissingFeature, ProbeError, btf, links, tracefs};

/// The eBPF program counting system calls (a function name in trace-ebpf).
const SYSCALL_PROGRAM: &str = "syscall_enter";
/// The raw tracepoint it attaches to.
const SYSCALL_TRACEPOINT: &str = "sys_enter";
/// [`super::ProbeFeatures::syscall_attach`] for it.
pub(super) const SYSCALL_ATTACH: &str = "raw_tracepoint/sys_enter";

/// Loads and attaches the mandatory system call counter.
pub(super) fn attach_syscall_counter(ebpf: &mut Ebpf) -> Result<LoadedProgram, ProbeError> {
    attach_sys_enter(ebpf, SYSCALL_PROGRAM)
}

/// Loads `program` (a raw tracepoint program of the object) and attaches it to `sys_enter`.
pub(super) fn attach_sys_enter(
    ebpf: &mut Ebpf,
    program: &'static str,
) -> Result<LoadedProgram, ProbeError> {
    let name = program;
    let load_error = |source| ProbeError::LoadProgram {
        program: name,
        source,
    };
    let program: &mut RawTracePoint = ebpf
        .program_mut(name)
        .ok_or(ProbeError::Missing {
            kind: "program",
            name,
        })?
        .try_into()
        .map_err(load_error)?;
    let started = Instant::now();
    program.load().map_err(load_error)?;
    let load_time = started.elapsed();
    program
        .attach(SYSCALL_TRACEPOINT)
        .map_err(|source| ProbeError::Attach {
            program: name,
            attach_point: SYSCALL_ATTACH,
            source,
        })?;
    Ok(loaded(name, program.info(), load_time, 1))
}

/// What the probe reports of a program it attached `attached` times.
fn loaded(
    program: &'static str,
    info: Result<aya::programs::ProgramInfo, aya::programs::ProgramError>,
    load_time: std::time::Duration,
    attached: usize,
) -> LoadedProgram {
    LoadedProgram {
        program,
        verified_insns: info.ok().and_then(|i| i.verified_instruction_count()),
        load_time,
        attached,
    }
}

/// What the optional programs depend on.
pub(super) struct AttachEnv<'a> {
    pub(super) layout: &'a btf::KernelLayout,
    /// The tracefs directory, or why there is none.
    pub(super) tracefs: Result<&'a Path, String>,
    /// The `cap_capable` format had the fields the capability program reads.
    pub(super) cap_fields_ok: bool,
}

/// Loads an optional program and attaches it where it can; everything that fails goes to
/// `missing`. Returns the program if it runs somewhere.
pub(super) fn attach_optional(
    ebpf: &mut Ebpf,
    feature: &Feature,
    env: &AttachEnv<'_>,
    missing: &mut Vec<MissingFeature>,
    links: &mut links::Links,
) -> Option<LoadedProgram> {
    let AttachPoint::Tracepoints { category, names } = feature.attach else {
        return None;
    };
    let gap = |name: &str, why: String| MissingFeature {
        what: feature.lost.to_owned(),
        program: feature.program,
        attach_point: format!("tracepoint/{category}/{name}"),
        why,
    };
    // The program itself cannot run: one gap for all its attach points, not one each.
    let all_missing = |missing: &mut Vec<MissingFeature>, why: &str| {
        let points = match names {
            [one] => (*one).to_owned(),
            _ => format!("{{{}}}", names.join(",")),
        };
        missing.push(gap(&points, why.to_owned()));
    };
    if !(feature.layout_ok)(env.layout) {
        all_missing(
            missing,
            "this kernel's BTF lacks a struct member the program reads",
        );
        return None;
    }
    let tracefs = match &env.tracefs {
        Ok(dir) => *dir,
        Err(e) => {
            all_missing(missing, &format!("no tracefs and mounting it failed: {e}"));
            return None;
        }
    };
    if category == "capability" && !env.cap_fields_ok {
        all_missing(
            missing,
            "no capability:cap_capable tracepoint with int fields `cap` and `ret` (a recent kernel has it)",
        );
        return None;
    }
    let mut usable = Vec::new();
    let mut unusable = Vec::new();
    for name in names {
        match check_format(tracefs, category, name) {
            Ok(()) => usable.push(*name),
            Err(why) => unusable.push((*name, why)),
        }
    }
    if usable.is_empty() {
        missing.extend(unusable.into_iter().map(|(name, why)| gap(name, why)));
        return None;
    }
    some_missing(feature, category, unusable, missing);

    let program: &mut TracePoint = match ebpf.program_mut(feature.program).map(TryInto::try_into) {
        Some(Ok(program)) => program,
        Some(Err(e)) => {
            all_missing(missing, &one_line(&e));
            return None;
        }
        None => {
            all_missing(missing, "the embedded eBPF object lacks it: rebuild trace");
            return None;
        }
    };
    let started = Instant::now();
    if let Err(e) = program.load() {
        log::debug!("loading {} failed: {e:?}", feature.program);
        all_missing(
            missing,
            &format!("the kernel refused the program: {}", one_line(&e)),
        );
        return None;
    }
    let load_time = started.elapsed();
    let mut attached = 0;
    for name in usable {
        match program
            .attach(category, name)
            .and_then(|id| program.take_link(id))
        {
            Ok(link) => {
                links.push(link);
                attached += 1;
            }
            Err(e) => missing.push(gap(name, one_line(&e))),
        }
    }
    (attached > 0).then(|| loaded(feature.program, program.info(), load_time, attached))
}

/// The attach points of a program that runs elsewhere which it cannot use: each is one system
/// call's exit missing, or nothing at all when the kernel has no such call (`fchmodat2` before
/// 6.6).
fn some_missing(
    feature: &Feature,
    category: &str,
    unusable: Vec<(&str, String)>,
    missing: &mut Vec<MissingFeature>,
) {
    let mut kallsyms = None;
    for (name, why) in unusable {
        let call = name.strip_prefix("sys_exit_").unwrap_or(name);
        let symbols = kallsyms.get_or_insert_with(|| std::fs::read_to_string(KALLSYMS).ok());
        if category == "syscalls"
            && let Some(symbols) = symbols
            && !has_syscall(symbols, call)
        {
            log::info!("this kernel has no {call} system call: nothing to record at {name}");
            continue;
        }
        missing.push(MissingFeature {
            what: format!(
                "`{call}` calls (the other calls of {} are recorded)",
                feature.program
            ),
            program: feature.program,
            attach_point: format!("tracepoint/{category}/{name}"),
            why,
        });
    }
}

/// The kernel's symbols, where its system call entry points are named.
const KALLSYMS: &str = "/proc/kallsyms";

/// Whether the kernel whose symbols are `kallsyms` has the system call `call`: an entry point
/// `__x64_sys_<call>` (x86-64's wrappers) or `sys_<call>` (kernels without them).
fn has_syscall(kallsyms: &str, call: &str) -> bool {
    let wrapped = format!("__x64_sys_{call}");
    let plain = format!("sys_{call}");
    kallsyms.lines().any(|line| {
        line.split_whitespace()
            .nth(2)
            .is_some_and(|symbol| symbol == wrapped || symbol == plain)
    })
}

/// Loads and attaches an fexit program on `function` (the program stays attached as long as the
/// probe holds it); what fails goes to `missing`.
pub(super) fn attach_fexit(
    ebpf: &mut Ebpf,
    feature: &Feature,
    function: &str,
    missing: &mut Vec<MissingFeature>,
) -> Option<LoadedProgram> {
    let started = Instant::now();
    let attached = (|| {
        let btf = aya::Btf::from_sys_fs().map_err(|e| format!("the kernel's BTF: {e}"))?;
        let program: &mut FExit = ebpf
            .program_mut(feature.program)
            .ok_or("the embedded eBPF object lacks it: rebuild trace")?
            .try_into()
            .map_err(|e| one_line(&e))?;
        program
            .load(function, &btf)
            .map_err(|e| format!("the kernel refused the program: {}", one_line(&e)))?;
        let load_time = started.elapsed();
        program.attach().map_err(|e| one_line(&e))?;
        Ok::<_, String>(loaded(feature.program, program.info(), load_time, 1))
    })();
    attached
        .map_err(|why| {
            missing.push(MissingFeature {
                what: feature.lost.to_owned(),
                program: feature.program,
                attach_point: format!("fexit/{function}"),
                why,
            });
        })
        .ok()
}

/// Checks a tracepoint's record layout against what the program reads: syscall exits
/// `__syscall_nr` and `ret`, `sched_process_exec`'s `filename` (a `__data_loc` at 8).
fn check_format(tracefs: &Path, category: &str, name: &str) -> Result<(), String> {
    let format = tracefs::read_format(tracefs, category, name)
        .map_err(|e| format!("no such tracepoint on this kernel ({e})"))?;
    let expect = |field: &str, offset: usize, size: usize| match tracefs::field(&format, field) {
        Some(f) if f.offset == offset && f.size == size => Ok(()),
        found => Err(format!(
            "field `{field}` is {found:?}, the program reads {size} bytes at {offset}"
        )),
    };
    match category {
        "syscalls" => {
            expect("__syscall_nr", SYS_EXIT_NR_OFFSET, 4)?;
            expect("ret", SYS_EXIT_RET_OFFSET, 8)
        }
        "sched" => expect("filename", 8, 4),
        "cgroup" => {
            expect("root", CGROUP_MKDIR_ROOT_OFFSET, 4)?;
            expect("level", CGROUP_MKDIR_LEVEL_OFFSET, 4)?;
            expect("id", CGROUP_MKDIR_ID_OFFSET, 8)?;
            expect("path", CGROUP_MKDIR_PATH_OFFSET, 4)
        }
        _ => Ok(()),
    }
}

/// Offsets of `cred`, `cap` and `ret` in the `capability:cap_capable` record, if `cred` is a
/// pointer and the others `int`s.
pub(super) fn cap_capable_fields(tracefs: &Path) -> Option<(u64, u64, u64)> {
    let format = tracefs::read_format(tracefs, "capability", "cap_capable").ok()?;
    let cred = tracefs::field(&format, "cred").filter(|f| f.size == 8)?;
    let cap = tracefs::field(&format, "cap").filter(|f| f.size == 4)?;
    let ret = tracefs::field(&format, "ret").filter(|f| f.size == 4)?;
    Some((cred.offset as u64, cap.offset as u64, ret.offset as u64))
}

/// An error and its sources in one line; of a long verifier log only the first line and the one
/// that says why (the last line that is neither an instruction, a source line nor a statistic).
pub(super) fn one_line(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        parts.push(match lines.as_slice() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [first, rest @ ..] => {
                let why = rest
                    .iter()
                    .rev()
                    .find(|l| says_why(l))
                    .or(rest.last())
                    .unwrap_or(first);
                format!("{first} ... {why}")
            }
        });
        next = e.source();
    }
    parts.join(": ")
}

/// Whether a verifier log line is a message rather than an instruction (`12: (85) call ...`),
/// a register state (`R1=ctx() ...`), a source line (`; ...`) or the closing statistics.
fn says_why(line: &str) -> bool {
    const STATISTICS: [&str; 5] = [
        "processed ",
        "verification time",
        "stack depth",
        "max_states_per_insn",
        "mark_precise",
    ];
    let numbered = line
        .split_once(':')
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let state = line.starts_with('R') && line[1..].starts_with(|c: char| c.is_ascii_digit()) && {
        let word = line.split_whitespace().next().unwrap_or("");
        word.contains('=')
    };
    !numbered && !state && !line.starts_with(';') && !STATISTICS.iter().any(|s| line.starts_with(s))
}

/// Lifts `RLIMIT_MEMLOCK` for kernels that still charge BPF memory to it (before 5.11). Newer
/// kernels charge the memory cgroup instead, and the limit may be capped (as in some sandboxes),
/// so a failure is only logged.
pub(super) fn raise_memlock_rlimit() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit only reads the struct, which lives across the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &raw const unlimited) } != 0 {
        log::debug!(
            "cannot raise RLIMIT_MEMLOCK ({}); fine on kernels >= 5.11",
            io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_calls_are_found_by_their_entry_points() {
        let symbols = "ffffffff816d6520 T __pfx___x64_sys_fchmodat2\n\
                       ffffffff816d6530 T __x64_sys_fchmodat2\n\
                       ffffffff816d7b60 T sys_openat\n\
                       ffffffff816d7b70 t __do_sys_statx [kernel]\n";
        assert!(has_syscall(symbols, "fchmodat2"));
        assert!(has_syscall(symbols, "openat"));
        assert!(!has_syscall(symbols, "statx"));
        assert!(!has_syscall(symbols, "fchmodat"));
        assert!(!has_syscall(symbols, "chmod"));
    }

    /// This machine's kernel, read as trace reads it (root only: others see no addresses but
    /// the names are there too).
    #[test]
    fn this_kernel_has_openat_and_no_made_up_call() {
        let Ok(symbols) = std::fs::read_to_string(KALLSYMS) else {
            trace_tests::cannot_run(
                "this_kernel_has_openat_and_no_made_up_call",
                &format!("no {KALLSYMS}"),
            );
            return;
        };
        assert!(has_syscall(&symbols, "openat"));
        assert!(!has_syscall(&symbols, "no_such_call_here"));
    }
}
