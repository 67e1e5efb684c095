//! Loads and attaches the eBPF programs, filters by cgroup in the kernel, reads the maps.
//!
//! One raw tracepoint on `sys_enter` (crate `trace-ebpf`, embedded at build time) counts the
//! system calls of the target cgroup v2 subtree, per ABI and number, in a per-CPU array. Nothing is
//! sent per call: [`Probe::syscall_counts`] sums the array when asked.
//!
//! ```no_run
//! use trace_user::probe::{self, Probe, ProbeTarget};
//!
//! probe::preflight()?;
//! let probe = Probe::attach(ProbeTarget { cgroup_id: 4242, cgroup_level: 2 })?;
//! // ... let the container work ...
//! for ((abi, nr), count) in probe.syscall_counts()?.counts {
//!     println!("{abi:?} {nr}: {count}");
//! }
//! drop(probe); // detaches
//! # Ok::<(), probe::ProbeError>(())
//! ```

mod btf;

use std::{collections::BTreeMap, fs, io, path::Path};

use aya::{
    Ebpf, EbpfLoader,
    maps::{MapData, MapError, PerCpuArray},
    programs::{ProgramError, RawTracePoint},
};
use trace_common::{
    Abi, GLOBAL_COMPAT_STATUS_OFFSET, GLOBAL_TARGET_CGROUP, GLOBAL_TARGET_LEVEL, MAP_SYSCALLS,
    NO_OFFSET, slot_syscall,
};

pub use btf::VMLINUX_BTF;

/// The eBPF program counting system calls (a function name in trace-ebpf).
const SYSCALL_PROGRAM: &str = "syscall_enter";
/// The raw tracepoint it attaches to.
const SYSCALL_TRACEPOINT: &str = "sys_enter";
/// [`ProbeFeatures::syscall_attach`] for it.
const SYSCALL_ATTACH: &str = "raw_tracepoint/sys_enter";

const PROC_STATUS: &str = "/proc/self/status";
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// What to trace: a cgroup v2 and everything below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeTarget {
    /// Inode number of the cgroup v2 directory (what `bpf_get_current_cgroup_id()` returns).
    pub cgroup_id: u64,
    /// Depth of that cgroup in the v2 hierarchy (root is 0, `/docker/<id>` is 2).
    pub cgroup_level: u32,
}

/// Kernel features the probe found and used; a missing one is a gap the recording reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeFeatures {
    /// 32-bit compat calls are told apart from 64-bit ones (needs `thread_info.status` in BTF).
    pub compat_abi: bool,
    /// The attach point used for system calls, e.g. `raw_tracepoint/sys_enter`.
    pub syscall_attach: &'static str,
}

/// System call counts read from the kernel maps, summed over CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyscallCounts {
    /// Calls per (ABI, number); only entries with a count above zero.
    pub counts: BTreeMap<(Abi, u32), u64>,
    /// Calls whose number was outside every table.
    pub out_of_range: u64,
}

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
    /// The target names no cgroup.
    #[error("cgroup id 0 is not a cgroup: nothing would be recorded")]
    NoTarget,
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

/// Checks, before anything is started, that this process may load BPF and the kernel has what the
/// probe needs (BTF). Errors say what to do.
///
/// It also reads the kernel's BTF (once per process: ~3 ms, or ~150 ms on kernels that cannot
/// mmap it), so that [`Probe::attach`] is quick.
pub fn preflight() -> Result<(), ProbeError> {
    let status = fs::read_to_string(PROC_STATUS).map_err(|source| ProbeError::Capabilities {
        path: PROC_STATUS,
        source,
    })?;
    let cap_eff = parse_cap_eff(&status).ok_or_else(|| ProbeError::Capabilities {
        path: PROC_STATUS,
        source: io::Error::new(io::ErrorKind::InvalidData, "no CapEff line"),
    })?;
    if !may_load_bpf(cap_eff) {
        return Err(ProbeError::NotPrivileged { cap_eff });
    }
    if !Path::new(VMLINUX_BTF).exists() {
        return Err(ProbeError::NoBtf { path: VMLINUX_BTF });
    }
    btf::kernel_layout().map(drop)
}

/// The `CapEff:` mask of a `/proc/<pid>/status` text.
fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// `CAP_BPF` with `CAP_PERFMON` (tracing programs, kernel reads), or `CAP_SYS_ADMIN` (older kernels).
fn may_load_bpf(cap_eff: u64) -> bool {
    let has = |cap: u32| cap_eff & (1u64 << cap) != 0;
    (has(CAP_BPF) && has(CAP_PERFMON)) || has(CAP_SYS_ADMIN)
}

/// The loaded and attached programs; dropping it detaches them.
pub struct Probe {
    counters: PerCpuArray<MapData, u64>,
    features: ProbeFeatures,
    /// Owns the programs and their links: dropping it closes the link fds, which detaches the
    /// programs, and unloads them.
    _ebpf: Ebpf,
}

impl Probe {
    /// Loads the embedded eBPF object, sets the target and attaches the programs.
    pub fn attach(target: ProbeTarget) -> Result<Probe, ProbeError> {
        if target.cgroup_id == 0 {
            return Err(ProbeError::NoTarget);
        }
        if !Path::new(VMLINUX_BTF).exists() {
            return Err(ProbeError::NoBtf { path: VMLINUX_BTF });
        }
        let layout = btf::kernel_layout()?;
        let compat_status_offset = layout.compat_status_offset.unwrap_or(NO_OFFSET);
        raise_memlock_rlimit();

        let object = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/trace-ebpf.o"));
        let mut ebpf = EbpfLoader::new()
            // No CO-RE relocations in Rust eBPF: skip matching the object against kernel BTF.
            .btf(None)
            .override_global(GLOBAL_TARGET_CGROUP, &target.cgroup_id, true)
            .override_global(GLOBAL_TARGET_LEVEL, &target.cgroup_level, true)
            .override_global(GLOBAL_COMPAT_STATUS_OFFSET, &compat_status_offset, true)
            .load(object)
            .map_err(|source| ProbeError::Object { source })?;

        let load_error = |source| ProbeError::LoadProgram {
            program: SYSCALL_PROGRAM,
            source,
        };
        let program: &mut RawTracePoint = ebpf
            .program_mut(SYSCALL_PROGRAM)
            .ok_or(ProbeError::Missing {
                kind: "program",
                name: SYSCALL_PROGRAM,
            })?
            .try_into()
            .map_err(load_error)?;
        program.load().map_err(load_error)?;
        program
            .attach(SYSCALL_TRACEPOINT)
            .map_err(|source| ProbeError::Attach {
                program: SYSCALL_PROGRAM,
                attach_point: SYSCALL_ATTACH,
                source,
            })?;

        let map = ebpf.take_map(MAP_SYSCALLS).ok_or(ProbeError::Missing {
            kind: "map",
            name: MAP_SYSCALLS,
        })?;
        let counters = PerCpuArray::try_from(map).map_err(|source| ProbeError::Map {
            map: MAP_SYSCALLS,
            source,
        })?;
        Ok(Probe {
            counters,
            features: ProbeFeatures {
                compat_abi: layout.compat_status_offset.is_some(),
                syscall_attach: SYSCALL_ATTACH,
            },
            _ebpf: ebpf,
        })
    }

    /// The features in use.
    pub fn features(&self) -> &ProbeFeatures {
        &self.features
    }

    /// Reads the system call counters (cheap enough to call a few times a second for progress).
    ///
    /// One pass over the map: one lookup per slot, each returning every CPU's value.
    pub fn syscall_counts(&self) -> Result<SyscallCounts, ProbeError> {
        let mut counts = SyscallCounts::default();
        for (slot, per_cpu) in (0u32..).zip(self.counters.iter()) {
            let per_cpu = per_cpu.map_err(|source| ProbeError::Map {
                map: MAP_SYSCALLS,
                source,
            })?;
            let total: u64 = per_cpu.iter().sum();
            if total == 0 {
                continue;
            }
            match slot_syscall(slot) {
                Some(key) => {
                    counts.counts.insert(key, total);
                }
                None => counts.out_of_range += total,
            }
        }
        Ok(counts)
    }
}

/// Lifts `RLIMIT_MEMLOCK` for kernels that still charge BPF memory to it (before 5.11). Newer
/// kernels charge the memory cgroup instead, and the limit may be capped (as in some sandboxes),
/// so a failure is only logged.
fn raise_memlock_rlimit() {
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
mod tests;
