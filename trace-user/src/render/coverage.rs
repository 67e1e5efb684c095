//! coverage.md and coverage.json: where the exercise was thin. From the recording alone:
//!
//! - the system calls the programs and libraries the container ran can reach (their imports
//!   mapped by [`crate::platform::libc`], a static program's scanned calls; `recording.reach`)
//!   and that were never observed, ranked: process control, signals, privilege changes and the
//!   known rare paths (files changed in place, waiting) first, each with what reaches it and
//!   whether the profile refuses it. Never added to a profile: `--include-syscall` does that on
//!   purpose;
//! - the calls included on purpose, with why;
//! - with marked steps (`trace mark NAME`): the calls made only during the startup, and the step
//!   that first made each later call and first used each later file.
//!
//! docs/coverage.md describes both files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use super::advice::quote::{code_span, markdown};
use super::seccomp::{self, ERRNO_ENOSYS};
use super::{Options, Rendered};
use crate::platform::{libc, oci_runtime};
use crate::recording::{Linking, PathBytes, Recording, STARTUP_STEP, Skip};

/// Name of the Markdown report.
pub const COVERAGE_FILE: &str = "coverage.md";
/// Name of the JSON report.
pub const COVERAGE_JSON_FILE: &str = "coverage.json";

/// The calls of each rank but the last, sorted.
const PROCESS: &[&str] = &[
    "clone",
    "clone3",
    "execve",
    "execveat",
    "fork",
    "pidfd_open",
    "ptrace",
    "setns",
    "setpgid",
    "setsid",
    "unshare",
    "vfork",
    "wait4",
    "waitid",
];
/// See [`PROCESS`].
const SIGNALS: &[&str] = &[
    "alarm",
    "kill",
    "pause",
    "pidfd_send_signal",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "setitimer",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "tgkill",
    "timer_create",
    "timer_settime",
    "tkill",
];
/// See [`PROCESS`].
const PRIVILEGES: &[&str] = &[
    "capset",
    "chroot",
    "mlock",
    "mlockall",
    "mount",
    "personality",
    "pivot_root",
    "prctl",
    "prlimit64",
    "reboot",
    "sched_setaffinity",
    "sched_setscheduler",
    "seccomp",
    "setdomainname",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "sethostname",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "setuid",
    "umount2",
];
/// See [`PROCESS`].
const RARE: &[&str] = &[
    "chdir",
    "chmod",
    "chown",
    "clock_nanosleep",
    "creat",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "fdatasync",
    "flock",
    "fsync",
    "ftruncate",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "lchown",
    "link",
    "linkat",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "nanosleep",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "symlink",
    "symlinkat",
    "sync",
    "syncfs",
    "truncate",
    "umask",
    "unlink",
    "unlinkat",
    "utimensat",
];

/// How a call is ranked: the kinds of calls whose paths exercises miss most come first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    /// Creating, replacing, waiting for processes, sessions and namespaces.
    ProcessControl,
    /// Sending, catching, blocking and waiting for signals; timers that signal.
    Signals,
    /// Changing users, groups, capabilities, limits, the root, mounts.
    Privileges,
    /// Paths few exercises take: files renamed, removed, relinked, re-permissioned or synced in
    /// place (log rotation, configuration reloads), directories changed, sleeping and retrying.
    RarePaths,
    /// Everything else.
    Other,
}

impl Rank {
    /// The rank of system call `name`.
    pub fn of(name: &str) -> Rank {
        [
            (PROCESS, Rank::ProcessControl),
            (SIGNALS, Rank::Signals),
            (PRIVILEGES, Rank::Privileges),
            (RARE, Rank::RarePaths),
        ]
        .into_iter()
        .find(|(names, _)| names.contains(&name))
        .map_or(Rank::Other, |(_, rank)| rank)
    }

    fn title(self) -> &'static str {
        match self {
            Rank::ProcessControl => "Process control",
            Rank::Signals => "Signals",
            Rank::Privileges => "Privilege changes",
            Rank::RarePaths => "Rare paths: files changed in place, waiting",
            Rank::Other => "Other",
        }
    }
}

/// What the profile does with a call the exercise did not make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InProfile {
    /// Refused with `EPERM`: the path that makes it fails under the profile.
    Refused,
    /// Refused with `ENOSYS`, which C libraries answer by falling back to an older call.
    Enosys,
    /// Allowed anyway (the OCI runtime's baseline, or observed while the runtime started the
    /// container).
    Allowed,
}

/// A binary that reaches a call, and through what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReachedFrom {
    /// The program or library, by its path in the image.
    pub path: PathBytes,
    /// The imported functions that make the call; empty for a static program's own code.
    pub via: Vec<String>,
}

/// A call reachable and never observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unseen {
    /// The system call.
    pub syscall: String,
    /// Its rank.
    pub rank: Rank,
    /// What the profile does with it.
    pub profile: InProfile,
    /// What reaches it, by path.
    pub reached_from: Vec<ReachedFrom>,
}

/// A call included on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Included {
    /// The system call.
    pub syscall: String,
    /// Why (empty when no reason was given).
    pub reason: String,
    /// Whether the recording observed it after all.
    pub observed: bool,
}

/// What the image reading found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReachSummary {
    /// Programs and libraries read.
    pub binaries: usize,
    /// Of them, dynamically linked, static, and C libraries.
    pub dynamic: usize,
    /// See `dynamic`.
    pub r#static: usize,
    /// See `dynamic`.
    pub c_library: usize,
    /// Executed or mapped paths not read, and why.
    pub not_read: Vec<NotRead>,
}

/// A path not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotRead {
    /// The path.
    pub path: PathBytes,
    /// Why.
    pub why: Skip,
}

/// A call or file first used after the startup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirstIn<T> {
    /// The call (with its ABI) or the file.
    pub item: T,
    /// The step that first used it.
    pub step: String,
}

/// The exercise's steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Steps {
    /// The marked steps, in order (the startup is before the first).
    pub names: Vec<String>,
    /// Calls made during the startup and never after it: `abi/name`.
    pub startup_only: Vec<String>,
    /// Calls first made after the startup: `abi/name`, with the step.
    pub first_made_after_startup: Vec<FirstIn<String>>,
    /// Files first used after the startup.
    pub files_first_used_after_startup: Vec<FirstIn<PathBytes>>,
}

/// The whole report; coverage.json is this value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The container's name.
    pub container: String,
    /// Its image.
    pub image: String,
    /// The OCI runtimes whose baseline the profile allows (`runc`, `crun`, `runc and crun`).
    pub runtime: String,
    /// What was read from the image; `None` when the recording has no reach.
    pub reach: Option<ReachSummary>,
    /// Reachable and not observed, ranked, then by name.
    pub unseen: Vec<Unseen>,
    /// Included on purpose.
    pub included: Vec<Included>,
    /// The steps, when the exercise marked any.
    pub steps: Option<Steps>,
}

/// The report for `recording` with the profiles of `options`.
pub fn coverage(recording: &Recording, options: &Options) -> Coverage {
    let observed: BTreeSet<&str> = recording
        .syscalls
        .values()
        .flat_map(|calls| calls.keys().map(String::as_str))
        .collect();
    let included: BTreeSet<&str> = recording
        .included_syscalls
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    let profile = seccomp::profile_with(recording, &options.seccomp);
    let in_profile = |name: &str| {
        let rule = profile
            .syscalls
            .iter()
            .find(|rule| rule.names.iter().any(|n| n == name));
        match rule {
            Some(rule) if rule.action == "SCMP_ACT_ALLOW" => InProfile::Allowed,
            Some(rule) if rule.errno_ret == Some(ERRNO_ENOSYS) => InProfile::Enosys,
            _ => InProfile::Refused,
        }
    };
    let mut reached: BTreeMap<String, BTreeMap<PathBytes, BTreeSet<String>>> = BTreeMap::new();
    let summary = recording.reach.as_ref().map(|reach| {
        for (path, binary) in &reach.binaries {
            let mut add = |call: &str, via: Option<&str>| {
                if observed.contains(call) || included.contains(call) {
                    return;
                }
                let vias = reached
                    .entry(call.to_owned())
                    .or_default()
                    .entry(path.clone())
                    .or_default();
                vias.extend(via.map(str::to_owned));
            };
            for function in &binary.imports {
                for call in libc::syscalls_of(function, binary.machine).unwrap_or_default() {
                    add(call, Some(function));
                }
            }
            for call in &binary.syscalls {
                add(call, None);
            }
        }
        let count = |linking| {
            reach
                .binaries
                .values()
                .filter(|b| b.linking == linking)
                .count()
        };
        ReachSummary {
            binaries: reach.binaries.len(),
            dynamic: count(Linking::Dynamic),
            r#static: count(Linking::Static),
            c_library: count(Linking::Libc),
            not_read: reach
                .skipped
                .iter()
                .map(|(path, why)| NotRead {
                    path: path.clone(),
                    why: *why,
                })
                .collect(),
        }
    });
    let mut unseen: Vec<Unseen> = reached
        .into_iter()
        .map(|(syscall, from)| Unseen {
            rank: Rank::of(&syscall),
            profile: in_profile(&syscall),
            reached_from: from
                .into_iter()
                .map(|(path, via)| ReachedFrom {
                    path,
                    via: via.into_iter().collect(),
                })
                .collect(),
            syscall,
        })
        .collect();
    unseen.sort_by(|a, b| (a.rank, &a.syscall).cmp(&(b.rank, &b.syscall)));
    Coverage {
        container: recording.container.name.clone(),
        image: recording.container.image.clone(),
        runtime: oci_runtime::names(&oci_runtime::baselines(&recording.container.runtimes)),
        reach: summary,
        unseen,
        included: recording
            .included_syscalls
            .iter()
            .map(|i| Included {
                syscall: i.name.clone(),
                reason: i.reason.clone(),
                observed: observed.contains(i.name.as_str()),
            })
            .collect(),
        steps: steps(recording),
    }
}

fn steps(recording: &Recording) -> Option<Steps> {
    if recording.steps.is_empty() {
        return None;
    }
    let startup = recording.startup_step_syscalls();
    let mut startup_only = Vec::new();
    let mut first_made = Vec::new();
    for (abi, calls) in &recording.syscalls {
        for name in calls.keys() {
            let item = format!("{}/{name}", abi.name());
            let in_startup = startup.get(abi).is_some_and(|c| c.contains_key(name));
            let later = recording
                .steps
                .iter()
                .any(|s| s.syscalls.get(abi).is_some_and(|c| c.contains_key(name)));
            if in_startup && !later {
                startup_only.push(item);
            } else if !in_startup {
                first_made.push(FirstIn {
                    item,
                    step: recording.first_step_of_syscall(*abi, name).to_owned(),
                });
            }
        }
    }
    let files = recording
        .steps
        .iter()
        .flat_map(|step| {
            step.files.iter().map(|path| FirstIn {
                item: path.clone(),
                step: step.name.clone(),
            })
        })
        .collect();
    Some(Steps {
        names: recording.steps.iter().map(|s| s.name.clone()).collect(),
        startup_only,
        first_made_after_startup: first_made,
        files_first_used_after_startup: files,
    })
}

/// coverage.md and coverage.json for `recording`, with the profiles of `options`.
pub fn render(recording: &Recording, options: &Options) -> Vec<Rendered> {
    let report = coverage(recording, options);
    let mut json = serde_json::to_string_pretty(&report).expect("the report serializes");
    json.push('\n');
    vec![
        Rendered {
            file_name: COVERAGE_FILE,
            contents: markdown_report(&report),
        },
        Rendered {
            file_name: COVERAGE_JSON_FILE,
            contents: json,
        },
    ]
}

fn path_text(path: &PathBytes) -> String {
    markdown(path.as_bytes())
}

fn text(s: &str) -> String {
    markdown(s.as_bytes())
}

/// A system call or function name (checked when the recording was read: letters, digits, `_`, and
/// the ABI's `/`) as code.
fn name(s: &str) -> String {
    code_span(s)
}

/// The report as Markdown: every string from the recording escaped.
pub fn markdown_report(report: &Coverage) -> String {
    let mut md = format!(
        "# Coverage of the exercise: {} (image {})\n\n",
        text(&report.container),
        text(&report.image)
    );
    md.push_str(
        "The system calls the programs and libraries this container ran can make and that the \
         exercise never made them make: the paths the profiles were not tested on (a reload, log \
         rotation, an error path, a signal). They are not in the profiles: extend the exercise \
         until they are observed, or add one on purpose with `--include-syscall NAME=REASON`.\n\n",
    );
    unseen_section(&mut md, report);
    included_section(&mut md, report);
    steps_section(&mut md, report);
    not_read_section(&mut md, report);
    md
}

fn unseen_section(md: &mut String, report: &Coverage) {
    let Some(reach) = &report.reach else {
        md.push_str(
            "The image was not read when this recording was made (an older trace, or an image \
             the engine no longer had): which calls its binaries can make is not known.\n\n",
        );
        return;
    };
    let _ = writeln!(
        md,
        "Read from the image: {} binaries ({} dynamically linked, {} static, {} C libraries); \
         paths executed or mapped but not read: {}.\n",
        reach.binaries,
        reach.dynamic,
        reach.r#static,
        reach.c_library,
        reach.not_read.len()
    );
    let mut by_rank: BTreeMap<Rank, Vec<&Unseen>> = BTreeMap::new();
    for unseen in report
        .unseen
        .iter()
        .filter(|u| u.profile != InProfile::Allowed)
    {
        by_rank.entry(unseen.rank).or_default().push(unseen);
    }
    let _ = writeln!(
        md,
        "## Reachable and not observed: {} system calls\n",
        by_rank.values().map(Vec::len).sum::<usize>()
    );
    if by_rank.is_empty() {
        md.push_str("None: the exercise made every call its binaries are known to reach.\n\n");
    }
    for (rank, calls) in by_rank {
        let _ = writeln!(
            md,
            "### {}\n\n| call | profile | reached from |\n|---|---|---|",
            rank.title()
        );
        for unseen in calls {
            let profile = match unseen.profile {
                InProfile::Enosys => "ENOSYS (libc falls back)",
                _ => "refused",
            };
            let _ = writeln!(
                md,
                "| {} | {profile} | {} |",
                name(&unseen.syscall),
                reached_from(&unseen.reached_from)
            );
        }
        md.push('\n');
    }
    let allowed: Vec<String> = report
        .unseen
        .iter()
        .filter(|u| u.profile == InProfile::Allowed)
        .map(|u| name(&u.syscall))
        .collect();
    if !allowed.is_empty() {
        let _ = writeln!(
            md,
            "Also reachable and not observed, but allowed by the profile for {}: {}.\n",
            report.runtime,
            allowed.join(", ")
        );
    }
}

fn reached_from(from: &[ReachedFrom]) -> String {
    let parts: Vec<String> = from
        .iter()
        .map(|r| {
            if r.via.is_empty() {
                format!("{} (its code)", path_text(&r.path))
            } else {
                let via: Vec<String> = r.via.iter().map(|v| name(v)).collect();
                format!("{} ({})", path_text(&r.path), via.join(", "))
            }
        })
        .collect();
    parts.join("; ")
}

fn included_section(md: &mut String, report: &Coverage) {
    if report.included.is_empty() {
        return;
    }
    md.push_str(
        "## Included on purpose\n\nAllowed by the profiles though not observed \
         (`--include-syscall`):\n\n| call | why | observed |\n|---|---|---|\n",
    );
    for included in &report.included {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            name(&included.syscall),
            if included.reason.is_empty() {
                "(no reason given)".to_owned()
            } else {
                text(&included.reason)
            },
            if included.observed { "yes" } else { "no" }
        );
    }
    md.push('\n');
}

fn steps_section(md: &mut String, report: &Coverage) {
    let Some(steps) = &report.steps else {
        return;
    };
    let names: Vec<String> = steps.names.iter().map(|n| text(n)).collect();
    let _ = writeln!(
        md,
        "## Steps\n\nThe exercise marked {} step{} after the {STARTUP_STEP}: {}.\n",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    let only: Vec<String> = steps.startup_only.iter().map(|c| name(c)).collect();
    let _ = writeln!(
        md,
        "### Made only during the {STARTUP_STEP}: {} system calls\n\n{}\n",
        only.len(),
        if only.is_empty() {
            "None.".to_owned()
        } else {
            only.join(", ")
        }
    );
    let _ = writeln!(
        md,
        "### First made after the {STARTUP_STEP}: {} system calls\n",
        steps.first_made_after_startup.len()
    );
    if !steps.first_made_after_startup.is_empty() {
        md.push_str("| call | first made in |\n|---|---|\n");
        for first in &steps.first_made_after_startup {
            let _ = writeln!(md, "| {} | {} |", name(&first.item), text(&first.step));
        }
        md.push('\n');
    }
    if !steps.files_first_used_after_startup.is_empty() {
        md.push_str(
            "### Files first used after the startup\n\n| file | first used in |\n|---|---|\n",
        );
        for first in &steps.files_first_used_after_startup {
            let _ = writeln!(md, "| {} | {} |", path_text(&first.item), text(&first.step));
        }
        md.push('\n');
    }
}

fn not_read_section(md: &mut String, report: &Coverage) {
    let Some(reach) = report.reach.as_ref().filter(|r| !r.not_read.is_empty()) else {
        return;
    };
    md.push_str("## Not read from the image\n\n| path | why |\n|---|---|\n");
    for not_read in &reach.not_read {
        let _ = writeln!(
            md,
            "| {} | {} |",
            path_text(&not_read.path),
            not_read.why.describe()
        );
    }
    md.push('\n');
}

#[cfg(test)]
#[path = "coverage_tests.rs"]
mod tests;
