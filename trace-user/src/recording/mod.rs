//! The recording: what was observed, as plain data. No I/O beyond (de)serializing; it is the
//! source of truth every profile is rendered from (`trace render recording.json`). The schema is
//! documented in docs/recording.md.
//!
//! The probe side fills it through pure, order-independent methods, one per kind of observation:
//!
//! ```
//! use trace_user::recording::{Access, Category, Recording, absolute};
//! let mut recording = Recording::from_json(
//!     include_str!("../../tests/data/recording-v1.json"), "recording.json").unwrap();
//! recording.mark_recorded(Category::Files);
//! let cwd = absolute(&"/srv".into(), b"app");
//! recording.record_file(absolute(&cwd, b"conf/../app.conf"), Access::Read);
//! recording.record_link("/bin/sh", "/bin/busybox");
//! recording.record_exec("/bin/busybox", &["sh", "-c", "true"]);
//! recording.record_capability(10, true, 1); // CAP_NET_BIND_SERVICE
//! recording.record_socket(2, 1 | 0o4000, 1); // AF_INET, SOCK_STREAM | SOCK_NONBLOCK
//! recording.record_bound_port(2, 1, 80);
//! recording.record_dropped(0);
//! assert!(recording.files.contains_key(&"/srv/app/app.conf".into()));
//! ```

mod arguments;
mod capabilities;
mod config;
mod events;
mod execs;
mod files;
mod included;
mod load;
mod merge;
mod paths;
mod reach;
mod sockets;
mod steps;
mod syscalls;
mod validate;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use trace_common::Abi;

pub use arguments::ArgumentValues;
pub use capabilities::{CAPABILITY_NAMES, Capability, CapabilityUse};
pub use config::{ContainerConfig, FilePrivilege, Identity, MountConfig, ProcessConfig};
pub use events::{Category, Events};
pub use execs::{EXEC_SAMPLE_ARG_BYTES, EXEC_SAMPLE_ARGS, EXEC_SAMPLES, ExecUse};
pub use files::{Access, FileUse, Links};
pub use included::{IncludeError, IncludedSyscall, MAX_REASON_CHARS};
pub use load::{MAX_RECORDING_BYTES, RecordingError};
pub use merge::{
    ItemCounts, ItemKind, LeftOut, MergeError, MergeOptions, MinRunsError, PortSources, Provenance,
    SeenIn, SeenItem, SocketSources, Source, SourceKey, SourceSet, SourcesError,
};
pub use paths::{
    ArgBytes, ByteTextError, PathBytes, absolute, decode, encode, normalize, reorders,
};
pub use reach::{Binary, Linking, MAX_SYMBOL_BYTES, Machine, Reach, Skip, is_symbol_name};
pub use sockets::{BoundPort, FAMILY_NAMES, SOCK_TYPE_MASK, SocketFamily, SocketType, SocketUse};
pub use steps::{MAX_STEP_NAME, MAX_STEPS, Mark, STARTUP_STEP, Step, is_step_name};
pub use syscalls::{
    SyscallName, aarch64_has, aarch64_name, is_profile_syscall_name, is_syscall_name, syscall_name,
};
pub use validate::Invalid;

/// The recording format's version. Raised on every change to the schema; older versions that can
/// still be read are listed in [`Recording::from_json`].
pub const SCHEMA_VERSION: u32 = 8;

/// Identifies the document as a trace recording.
pub const SCHEMA_NAME: &str = "trace-recording";

/// Everything one trace observed of one container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// Always [`SCHEMA_NAME`].
    pub schema: String,
    /// The schema version this document follows.
    pub schema_version: u32,
    /// The trace build that made the recording.
    pub tool: Tool,
    /// The traced container.
    pub container: ContainerInfo,
    /// The machine it ran on.
    pub host: HostInfo,
    /// When recording started and stopped (RFC 3339, UTC, seconds).
    pub started_at: String,
    /// See `started_at`.
    pub stopped_at: String,
    /// Why recording stopped.
    pub stop_reason: StopReason,
    /// Whether the container was traced from its first instruction. Attaching to a running container
    /// misses its startup, so a profile from such a recording may not cover it.
    pub startup_seen: bool,
    /// System calls per ABI: name -> number of calls. Only ABIs with calls appear.
    pub syscalls: BTreeMap<Abi, BTreeMap<String, u64>>,
    /// Calls whose number has no name in the syscall table (never allowed by a profile).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_syscalls: Vec<UnknownSyscall>,
    /// What this recording may have missed; empty when nothing is known to be missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
    /// Paths used (after symlinks when known) and how (v2). Meaningful only when
    /// `events.recorded` has [`Category::Files`].
    #[serde(default)]
    pub files: BTreeMap<PathBytes, FileUse>,
    /// Requested paths that led to other paths through symlinks (v2; with `files`).
    #[serde(default)]
    pub links: Links,
    /// Paths of `files` found in /proc when trace attached to the running container (v6): the
    /// executables, mapped files, open files and working directories of its processes then, what
    /// is still known of a startup that was not seen.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub found_at_attach: BTreeSet<PathBytes>,
    /// Executed programs (v2; [`Category::Execs`]).
    #[serde(default)]
    pub execs: BTreeMap<PathBytes, ExecUse>,
    /// Capability checks by outcome (v2; [`Category::Capabilities`]). Since v5 the application's
    /// only: runc's are in `runc_capabilities`.
    #[serde(default)]
    pub capabilities: BTreeMap<Capability, CapabilityUse>,
    /// Capability checks by runc (v5): with `trace run` its work before the entrypoint, and the
    /// init of each `docker exec` (harness, not application).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runc_capabilities: BTreeMap<Capability, CapabilityUse>,
    /// Capability checks the kernel made in the container's tasks with credentials other than
    /// the task's own (v5): overlayfs works on the image's layers with the credentials of whoever
    /// mounted it, so these are not privileges the application holds or needs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub borrowed_capabilities: BTreeMap<Capability, CapabilityUse>,
    /// Who the container's processes were and which executed programs could raise privileges
    /// (v5); absent when not observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Sockets created per (family, type), sorted, one entry each (v2; [`Category::Sockets`]).
    #[serde(default)]
    pub sockets: Vec<SocketUse>,
    /// Ports bound (v2; with `sockets`).
    #[serde(default)]
    pub bound_ports: BTreeSet<BoundPort>,
    /// Distinct values of argument 0 of `personality`, `prctl` and `clone`, made by runc after
    /// its filter and by the application (v5; [`Category::Arguments`]).
    #[serde(default, skip_serializing_if = "ArgumentValues::is_empty")]
    pub arguments: ArgumentValues,
    /// Which kinds of observation this recording holds, and how many events were lost (v2).
    #[serde(default)]
    pub events: Events,
    /// The container's lives while it was recorded (v6): one per start (a restart, by a restart
    /// policy or `docker restart`, is a new life), with how each ended. Empty in older recordings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lives: Vec<Life>,
    /// What runc did in the container before the entrypoint started (v3; only when the startup
    /// was seen). `syscalls` then holds the application's calls alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Startup>,
    /// The exercise's steps after the startup (v8): what each marked step did and first used.
    /// Empty when the exercise marked none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// System calls added to the profiles on purpose, with why (v8): not observed.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub included_syscalls: BTreeSet<IncludedSyscall>,
    /// What the programs and libraries it ran could call, read from the image when recording
    /// stopped (v8); absent when the image could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<Reach>,
    /// The recordings this one was merged from (v4), sorted by `started_at`, then container id;
    /// two or more. Empty in a recording of one run, which is its own only source
    /// ([`Recording::source_list`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Which of `sources` saw each system call, file, program, capability, socket and bound port
    /// (v4); items every source saw are left out. Empty in a recording of one run.
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
}

/// System calls per ABI: name -> number of calls.
pub type SyscallsByAbi = BTreeMap<Abi, BTreeMap<String, u64>>;

/// runc's work inside a container traced from its first instruction, split where runc installs
/// the seccomp filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Startup {
    /// Whether a seccomp filter was installed at all (not with `seccomp=unconfined`).
    pub filter_installed: bool,
    /// Calls runc made before installing the filter (building the root file system, ...): they
    /// never pass through the filter, so profiles leave them out. Kept for review.
    pub runc_before_filter: SyscallsByAbi,
    /// Calls runc made after installing the filter, up to the entrypoint's `execve`: a profile must
    /// allow them or the container cannot start.
    pub runc_after_filter: SyscallsByAbi,
}

impl Recording {
    /// A recording that starts now, with nothing observed yet. Until [`Recording::stopped`] is
    /// called its stop time is its start time and its stop reason a placeholder.
    pub fn started(
        container: ContainerInfo,
        host: HostInfo,
        started_at: String,
        startup_seen: bool,
    ) -> Self {
        Recording {
            schema: SCHEMA_NAME.into(),
            schema_version: SCHEMA_VERSION,
            tool: Tool::current(),
            container,
            host,
            stopped_at: started_at.clone(),
            started_at,
            stop_reason: StopReason::Duration,
            startup_seen,
            syscalls: BTreeMap::new(),
            unknown_syscalls: Vec::new(),
            gaps: Vec::new(),
            files: BTreeMap::new(),
            found_at_attach: BTreeSet::new(),
            links: Links::default(),
            execs: BTreeMap::new(),
            capabilities: BTreeMap::new(),
            runc_capabilities: BTreeMap::new(),
            borrowed_capabilities: BTreeMap::new(),
            identity: None,
            sockets: Vec::new(),
            bound_ports: BTreeSet::new(),
            arguments: ArgumentValues::default(),
            events: Events::default(),
            lives: Vec::new(),
            startup: None,
            steps: Vec::new(),
            included_syscalls: BTreeSet::new(),
            reach: None,
            sources: Vec::new(),
            provenance: Provenance::default(),
        }
    }

    /// Closes the recording: when and why it stopped, and the system calls counted, named per
    /// ABI (numbers without a name are kept, and reported as a gap).
    pub fn stopped(
        &mut self,
        stopped_at: String,
        reason: StopReason,
        counts: &BTreeMap<(Abi, u32), u64>,
        out_of_range: u64,
    ) {
        self.stopped_at = stopped_at;
        self.stop_reason = reason;
        let (syscalls, unknown) = name_syscalls(counts, out_of_range);
        self.syscalls = syscalls;
        self.unknown_syscalls = unknown;
        if !self.unknown_syscalls.is_empty() {
            self.gaps.push(Gap {
                kind: GapKind::UnknownSyscalls,
                detail: "calls without a name in the syscall table were made; no profile can allow them by name"
                    .into(),
            });
        }
        self.gaps.sort();
        self.gaps.dedup();
    }
}

/// One life of the container: from a start (or from when trace attached) to its end.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Life {
    /// When trace first saw it (RFC 3339, UTC, seconds): its start, or when trace attached.
    pub seen_at: String,
    /// Whether it was recorded from its first instruction.
    pub startup_seen: bool,
    /// How it ended; absent while it still ran when recording stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ending>,
}

/// How a life of the container ended.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ending {
    /// When (RFC 3339, UTC, seconds).
    pub at: String,
    /// Its exit code as Docker reports it (128 + signal for a process killed by a signal).
    pub exit_code: i64,
    /// The kernel's OOM killer ended it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
    /// It was stopped or killed on request (`docker stop`, `docker kill`, compose down, trace
    /// itself) rather than ending on its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requested: bool,
}

impl Ending {
    /// A crash: it ended on its own with a non-zero status, or the OOM killer ended it.
    pub fn crashed(&self) -> bool {
        self.oom_killed || (!self.requested && self.exit_code != 0)
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.oom_killed {
            return write!(f, "killed by the OOM killer (exit code {})", self.exit_code);
        }
        let how = if self.requested {
            "stopped on request, "
        } else {
            ""
        };
        match self.exit_code {
            129..=159 => write!(
                f,
                "{how}killed by signal {} (exit code {})",
                self.exit_code - 128,
                self.exit_code
            ),
            code => write!(f, "{how}exited with code {code}"),
        }
    }
}

/// The program that wrote a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// Always "trace".
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Tool {
    /// This build of trace.
    pub fn current() -> Self {
        Tool {
            name: "trace".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The traced container, as Docker described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Full container id.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// The image as the container was created from it (a tag or an id).
    pub image: String,
    /// The image's content id (`sha256:...`).
    pub image_id: String,
    /// Where volumes and bind mounts are mounted in the container (v2). Docker's own bind mounts
    /// (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`) may be listed too; renderers treat them
    /// as mounts either way.
    #[serde(default)]
    pub mounts: BTreeSet<PathBytes>,
    /// Its configuration (v5), for hardening advice; absent in older recordings, and in a merged
    /// recording whose sources were configured differently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The engine and OCI runtime that started it (v8): one for a recording, every source's for
    /// a merged one; empty in older recordings and when the engine did not say (runc under
    /// Docker is then assumed). The seccomp profile allows what these runtimes call after they
    /// install it ([`crate::platform::oci_runtime`]).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub runtimes: BTreeSet<RuntimeInfo>,
}

/// The engine and OCI runtime that started a container, as the engine reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuntimeInfo {
    /// The engine: `docker` or `podman`.
    pub engine: String,
    /// The engine's version (`20.10.24+dfsg1`, `4.3.1`).
    pub engine_version: String,
    /// The OCI runtime: `runc`, `crun`, or the engine's name for another.
    pub name: String,
    /// Its version (`1.1.5+ds1`, `1.8.1`); empty when the engine does not say.
    pub version: String,
}

impl RuntimeInfo {
    /// What started a container whose recording does not say: runc under Docker, versions
    /// unknown.
    pub fn assumed() -> Self {
        RuntimeInfo {
            engine: "docker".into(),
            engine_version: String::new(),
            name: "runc".into(),
            version: String::new(),
        }
    }
}

/// The tracing host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Machine architecture (`uname -m`).
    pub arch: String,
}

/// Why recording stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// The exercise command exited with this status (a signal number is reported as 128 + signo).
    CommandExited {
        /// Exit status.
        status: i32,
    },
    /// `--duration` elapsed.
    Duration,
    /// trace received SIGINT or SIGTERM.
    Signal {
        /// `SIGINT` or `SIGTERM`.
        signal: String,
    },
    /// The container stopped.
    ContainerExited,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::CommandExited { status } => {
                write!(f, "the command exited with status {status}")
            }
            StopReason::Duration => f.write_str("the duration elapsed"),
            StopReason::Signal { signal } => write!(f, "{signal} received"),
            StopReason::ContainerExited => f.write_str("the container stopped"),
        }
    }
}

/// A system call number that has no name in the syscall table of its ABI.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnknownSyscall {
    /// The ABI, or `None` for numbers outside every table (e.g. `syscall(-1)`).
    pub abi: Option<Abi>,
    /// The number (absent for out-of-range calls).
    pub nr: Option<u32>,
    /// Number of calls.
    pub count: u64,
}

/// Something the recording may have missed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// Attached to a running container: its startup (and runc's work after installing the
    /// seccomp filter) was not seen.
    StartupMissed,
    /// The kernel gave no way to tell 32-bit compat calls from 64-bit ones.
    CompatAbiUnknown,
    /// Calls without a name in the syscall table were made.
    UnknownSyscalls,
    /// A probe program could not be loaded or attached: what it records is missing.
    FeatureMissing,
    /// Events were lost (ring buffer full, paths cut, undecodable records).
    EventsDropped,
    /// A merged recording: a category some sources recorded and others did not, so the merged
    /// recording does not claim it (v4).
    PartlyRecorded,
    /// A merged recording: the sources ran on different kernels or architectures (v4).
    HostsDiffer,
    /// A merged recording: the sources' containers were configured differently, or some did not
    /// record their configuration (v5); advice from the configuration is left out.
    ConfigsDiffer,
    /// The container crashed while it was recorded (v6): it exited non-zero on its own or was
    /// OOM-killed. The profiles hold what it did up to then, its crash path included.
    ContainerCrashed,
    /// The container started while trace had no free target slot, or at another cgroup level
    /// than the other targets (v6): that life was not recorded.
    LifeMissed,
}

/// A known gap, with a sentence for humans.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Gap {
    /// What kind of gap.
    pub kind: GapKind,
    /// What it means for the profiles.
    pub detail: String,
}

impl Recording {
    /// Number of distinct system calls observed, over all ABIs.
    pub fn distinct_syscalls(&self) -> usize {
        self.syscalls.values().map(BTreeMap::len).sum()
    }

    /// Total number of calls observed, over all ABIs.
    pub fn total_calls(&self) -> u64 {
        self.syscalls
            .values()
            .flat_map(BTreeMap::values)
            .sum::<u64>()
            + self.unknown_syscalls.iter().map(|u| u.count).sum::<u64>()
    }
}

/// Builds the `syscalls` and `unknown_syscalls` parts of a recording from raw counts per
/// (ABI, number) and the count of out-of-range calls, naming each number from the syscall table.
pub fn name_syscalls(
    counts: &BTreeMap<(Abi, u32), u64>,
    out_of_range: u64,
) -> (BTreeMap<Abi, BTreeMap<String, u64>>, Vec<UnknownSyscall>) {
    let mut named: BTreeMap<Abi, BTreeMap<String, u64>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (&(abi, nr), &count) in counts {
        if count == 0 {
            continue;
        }
        match syscall_name(abi, nr) {
            Some(SyscallName(name)) => {
                *named
                    .entry(abi)
                    .or_default()
                    .entry(name.to_owned())
                    .or_default() += count;
            }
            None => unknown.push(UnknownSyscall {
                abi: Some(abi),
                nr: Some(nr),
                count,
            }),
        }
    }
    if out_of_range > 0 {
        unknown.push(UnknownSyscall {
            abi: None,
            nr: None,
            count: out_of_range,
        });
    }
    unknown.sort();
    (named, unknown)
}

#[cfg(test)]
mod tests;
