//! The probe's errors, each a one-line message saying what is wrong and what to do.

use std::io;

use aya::maps::MapError;
use aya::programs::ProgramError;

/// Errors of the probe, each a one-line message saying what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// This process may not load eBPF programs.
    #[error(
        "loading eBPF needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN), which this process lacks \
         (CapEff {cap_eff:#x}): run trace as root"
    )]
    NotPrivileged {
        /// The effective capability set from `/proc/self/status`.
        cap_eff: u64,
    },
    /// The capability set could not be read.
    #[error("cannot read this process's capabilities from {path}")]
    Capabilities {
        /// The file read.
        path: &'static str,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The kernel publishes no BTF.
    #[error("no kernel BTF at {path}: trace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf {
        /// Where BTF was expected.
        path: &'static str,
    },
    /// The kernel's BTF could not be parsed.
    #[error("cannot parse the kernel BTF at {path}")]
    Btf {
        /// The BTF file.
        path: &'static str,
        /// The parser's error.
        #[source]
        source: btf_rs::Error,
    },
    /// The probe was asked for no target slots or more than it can have.
    #[error("cannot record {asked} containers at once: 1 to {max} (--max-containers)")]
    Slots {
        /// What was asked.
        asked: u32,
        /// [`trace_common::MAX_SLOTS`].
        max: u32,
    },
    /// More running containers than target slots.
    #[error(
        "{running} running containers to record but only {slots} target slots: raise --max-containers"
    )]
    TooManyRunning {
        /// Running containers asked for.
        running: usize,
        /// Slots.
        slots: u32,
    },
    /// Running containers at different depths of the cgroup hierarchy.
    #[error(
        "cgroup id {cgroup_id} is at level {level}, the other targets at {expected}: containers \
         recorded together must be at one level of the cgroup v2 hierarchy"
    )]
    Level {
        /// The cgroup.
        cgroup_id: u64,
        /// Its level.
        level: u32,
        /// The other targets' level.
        expected: u32,
    },
    /// The number of possible CPUs could not be read (to clear per-CPU counters).
    #[error("cannot read the number of possible CPUs")]
    Cpus {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A target names no cgroup.
    #[error("cgroup id 0 is not a cgroup: nothing would be recorded")]
    NoTarget,
    /// The kernel cannot tell trace about new container cgroups.
    #[error("cannot record a container from its start: {why}")]
    CannotCatch {
        /// Why the `cgroup_mkdir` program could not be attached.
        why: String,
    },
    /// The embedded eBPF object could not be loaded (parsing it or creating its maps).
    #[error("loading the eBPF object failed")]
    Object {
        /// aya's error.
        #[source]
        source: aya::EbpfError,
    },
    /// The embedded object lacks a program or map this code expects (a build mismatch).
    #[error("the embedded eBPF object has no {kind} `{name}`: rebuild trace")]
    Missing {
        /// "program" or "map".
        kind: &'static str,
        /// Its name.
        name: &'static str,
    },
    /// The kernel refused a program (for example the verifier rejected it).
    #[error("loading eBPF program `{program}` failed")]
    LoadProgram {
        /// The program.
        program: &'static str,
        /// aya's error, with the verifier log if the verifier refused it.
        #[source]
        source: ProgramError,
    },
    /// A loaded program could not be attached.
    #[error("attaching eBPF program `{program}` to {attach_point} failed")]
    Attach {
        /// The program.
        program: &'static str,
        /// Where it was to be attached.
        attach_point: &'static str,
        /// aya's error.
        #[source]
        source: ProgramError,
    },
    /// A map could not be opened or read.
    #[error("reading eBPF map `{map}` failed")]
    Map {
        /// The map.
        map: &'static str,
        /// aya's error.
        #[source]
        source: MapError,
    },
}

impl ProbeError {
    pub(super) fn map(map: &'static str) -> impl FnOnce(MapError) -> ProbeError {
        move |source| ProbeError::Map { map, source }
    }
}
