//! Loads and attaches the eBPF programs, filters by cgroup in the kernel, reads the maps and the
//! ring buffer.
//!
//! The programs (crate `trace-ebpf`, embedded at build time) and what each needs are listed in one
//! table, [`FEATURES`] (also in docs/probe.md):
//!
//! - a raw tracepoint on `sys_enter` counts the system calls of the target cgroup v2 subtree per
//!   ABI and number in a per-CPU array ([`Probe::syscall_counts`]); it is mandatory;
//! - `syscalls:sys_exit_*` tracepoints of the file system calls, `sched:sched_process_exec` and
//!   the exits of `bind`/`listen` send first sightings of file accesses, executed programs and
//!   bound ports through a ring buffer ([`Probe::take_event_reader`], [`ProbeEvent`]); the paths
//!   are walked in the kernel, repeats are filtered there by an LRU set;
//! - `capability:cap_capable` and the exit of `socket` count capability checks and sockets
//!   ([`Probe::capability_counts`], [`Probe::socket_counts`]).
//!
//! The target is a cgroup that exists ([`Probe::attach`]: a running container) or one that will
//! be created ([`Probe::attach_pending`]: `trace run` arms the probe with the container's cgroup
//! names before starting it; `cgroup:cgroup_mkdir` sets the target inside the mkdir). Then the
//! system calls are counted per [`Phase`] of the startup (runc before its seccomp filter, runc
//! after it, the application: [`Probe::phase_syscall_counts`]) and records carry the phase.
//!
//! The optional programs that cannot be loaded or attached on this kernel are listed in
//! [`ProbeFeatures::missing`]; records the ring buffer had no room for are counted
//! ([`Probe::dropped_events`]).
//!
//! ```no_run
//! use trace_user::probe::{self, Probe, ProbeTarget};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! probe::preflight()?;
//! let mut probe = Probe::attach(ProbeTarget { cgroup_id: 4242, cgroup_level: 2 })?;
//! for gap in &probe.features().missing {
//!     eprintln!("not recorded: {} ({}: {})", gap.what, gap.attach_point, gap.why);
//! }
//! let mut reader = probe.take_event_reader().expect("first call");
//! let mut events = Vec::new();
//! for _ in 0..10 {
//!     reader.readable().await?; // a wakeup, or 100 ms
//!     reader.read_ready(&mut events);
//! }
//! for ((abi, nr), count) in probe.syscall_counts()?.counts {
//!     println!("{abi:?} {nr}: {count}");
//! }
//! println!("{} events, {} lost", events.len(), probe.dropped_events()?);
//! drop(probe); // detaches
//! # Ok(())
//! # }
//! ```

mod btf;
mod events;
mod features;
mod floor;
mod links;
mod reader;
mod tracefs;

use std::{
    collections::BTreeMap,
    fs, io,
    path::Path,
    time::{Duration, Instant},
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, MapError, PerCpuArray, RingBuf},
    programs::{ProgramError, RawTracePoint, TracePoint},
};
use trace_common::{
    Abi, ArgValueKey, CGROUP_MKDIR_ID_OFFSET, CGROUP_MKDIR_LEVEL_OFFSET, CGROUP_MKDIR_PATH_OFFSET,
    CGROUP_MKDIR_ROOT_OFFSET, CgroupName, GLOBAL_CAP_CRED_OFFSET, GLOBAL_CAP_FIELD_OFFSET,
    GLOBAL_CAP_RET_OFFSET, GLOBAL_COMPAT_STATUS_OFFSET, GLOBAL_OFFSETS, KernelOffsets,
    MAP_ARG_LOST, MAP_ARG_VALUES, MAP_CAPS, MAP_DROPPED, MAP_EVENTS, MAP_PENDING, MAP_SOCKETS,
    MAP_SYSCALLS, MAP_TARGET, NO_OFFSET, PENDING_NAMES, SYS_EXIT_NR_OFFSET, SYS_EXIT_RET_OFFSET,
    TargetState, slot_cap, slot_phase, slot_socket, slot_syscall,
};

pub use btf::VMLINUX_BTF;
pub use events::{BindEvent, DecodeError, ExecEvent, FileEvent, ProbeEvent, decode};
pub use features::{AttachPoint, FEATURES, Feature};
pub use floor::Floor;
pub use reader::{EventReader, POLL_INTERVAL};
pub use trace_common::{CapChecker, FileOp, Phase};

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
    /// Optional programs or attach points that could not be used: what is not recorded.
    pub missing: Vec<MissingFeature>,
    /// The programs in use, with what the verifier and the load cost.
    pub programs: Vec<LoadedProgram>,
}

/// Something the probe could not attach, and so does not record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingFeature {
    /// What a recording lacks, from [`FEATURES`], e.g. "executed programs and their arguments".
    pub what: &'static str,
    /// The program.
    pub program: &'static str,
    /// Where it was to attach, e.g. `tracepoint/syscalls/sys_exit_fchmodat2`.
    pub attach_point: String,
    /// Why, in one line.
    pub why: String,
}

/// A program the probe loaded and attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedProgram {
    /// The program.
    pub program: &'static str,
    /// Instructions the verifier processed (kernel >= 5.16).
    pub verified_insns: Option<u32>,
    /// Time to load it (verification included).
    pub load_time: Duration,
    /// Attach points it runs at.
    pub attached: usize,
}

/// Capability checks of one capability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapCount {
    /// Checks that granted it.
    pub granted: u64,
    /// Checks that refused it.
    pub denied: u64,
}

/// System call counts read from the kernel maps, summed over CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyscallCounts {
    /// Calls per (ABI, number); only entries with a count above zero.
    pub counts: BTreeMap<(Abi, u32), u64>,
    /// Calls whose number was outside every table.
    pub out_of_range: u64,
}

impl SyscallCounts {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &SyscallCounts) {
        for (&key, &n) in &other.counts {
            *self.counts.entry(key).or_default() += n;
        }
        self.out_of_range += other.out_of_range;
    }
}

/// System call counts per [`Phase`] of the target's startup ([`Probe::phase_syscall_counts`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhaseSyscallCounts {
    /// Phase 0: runc building the container, before its seccomp filter is in force.
    pub runc_before_filter: SyscallCounts,
    /// Phase 1: runc after installing the filter, until the entrypoint's exec (which is entered
    /// here): what a profile must allow besides the application. Empty if no filter was
    /// installed (`filter_seen` false, e.g. `seccomp=unconfined`).
    pub runc_after_filter: SyscallCounts,
    /// Phase 2: the application, from its first exec on. Everything when attached to a running
    /// container.
    pub application: SyscallCounts,
    /// A task of the target installed a seccomp filter before the first exec (also true from
    /// the start when the program that would see it is missing: then phase 0 is counted as 1).
    pub filter_seen: bool,
    /// A program was executed in the target: the application phase began (true from the start
    /// when attached to a running container, or when the program that would see it is missing).
    pub exec_seen: bool,
}

impl PhaseSyscallCounts {
    /// The counts of `phase`.
    pub fn phase(&self, phase: Phase) -> &SyscallCounts {
        match phase {
            Phase::RuncBeforeFilter => &self.runc_before_filter,
            Phase::RuncAfterFilter => &self.runc_after_filter,
            Phase::Application => &self.application,
        }
    }

    fn phase_mut(&mut self, phase: Phase) -> &mut SyscallCounts {
        match phase {
            Phase::RuncBeforeFilter => &mut self.runc_before_filter,
            Phase::RuncAfterFilter => &mut self.runc_after_filter,
            Phase::Application => &mut self.application,
        }
    }
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
    /// A pending probe was given no usable cgroup name.
    #[error(
        "cannot wait for cgroup name {name:?}: names must be 1 to 135 bytes without `/` or NUL, \
         and at most {PENDING_NAMES} of them"
    )]
    BadCgroupName {
        /// The name (or a summary when there are too many or none).
        name: String,
    },
    /// A pending probe cannot see cgroups appear on this kernel.
    #[error("cannot trace a container from its start: {why}")]
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
    fn map(map: &'static str) -> impl FnOnce(MapError) -> ProbeError {
        move |source| ProbeError::Map { map, source }
    }
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
    target: Array<MapData, PodTarget>,
    counters: PerCpuArray<MapData, u64>,
    caps: PerCpuArray<MapData, u64>,
    sockets: PerCpuArray<MapData, u64>,
    dropped: PerCpuArray<MapData, u64>,
    arg_values: HashMap<MapData, PodArgKey, u8>,
    arg_lost: PerCpuArray<MapData, u64>,
    events: Option<RingBuf<MapData>>,
    features: ProbeFeatures,
    /// The tracepoint links, detached concurrently when dropped (before `_ebpf`: fields drop in
    /// order).
    _links: links::Links,
    /// Owns the programs and the `sys_enter` link: dropping it detaches and unloads them.
    _ebpf: Ebpf,
}

/// [`KernelOffsets`] as an aya global.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct PodOffsets(KernelOffsets);

// SAFETY: `KernelOffsets` is `repr(C)` and made of `u64`s only: no padding, every bit pattern is
// a valid value.
unsafe impl aya::Pod for PodOffsets {}

/// [`TargetState`] as an aya map value.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct PodTarget(TargetState);

// SAFETY: `TargetState` is `repr(C)` integers with an explicit padding field (size asserted in
// trace-common): no padding bytes, every bit pattern is a valid value.
unsafe impl aya::Pod for PodTarget {}

/// [`CgroupName`] as an aya map value.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct PodName(CgroupName);

// SAFETY: `CgroupName` is `repr(C)`: two `u32`s and a byte array whose size is a multiple of 8
// (asserted in trace-common): no padding bytes, every bit pattern is a valid value.
unsafe impl aya::Pod for PodName {}

/// [`ArgValueKey`] as an aya map key.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct PodArgKey(ArgValueKey);

// SAFETY: `ArgValueKey` is `repr(C)` `u32, u32, u64` (size asserted in trace-common): no padding
// bytes, every bit pattern is a valid value.
unsafe impl aya::Pod for PodArgKey {}

/// How the probe finds its target.
enum Mode<'a> {
    /// A cgroup that exists: recorded as the application from the start.
    Running(ProbeTarget),
    /// The cgroup that will get one of these names (patterns for the kernel).
    Pending(&'a [CgroupName]),
}

impl Probe {
    /// Loads the embedded eBPF object, attaches the programs and sets the target: a cgroup that
    /// exists (a running container). Everything it does is counted as [`Phase::Application`].
    ///
    /// Fails only if the mandatory system call counter cannot run; optional programs that
    /// cannot be loaded or attached end up in [`ProbeFeatures::missing`]. Mounts tracefs at
    /// `/sys/kernel/tracing` if no tracefs is mounted (the tracepoints are found through it).
    pub fn attach(target: ProbeTarget) -> Result<Probe, ProbeError> {
        if target.cgroup_id == 0 {
            return Err(ProbeError::NoTarget);
        }
        Probe::load(&Mode::Running(target))
    }

    /// Arms the probe for a cgroup that does not exist yet: the first cgroup v2 created whose
    /// name (last path component) is one of `names` becomes the target, set in the kernel inside
    /// its mkdir(2), before any task can join it. For Docker: the full container id (cgroupfs
    /// driver, `/docker/<id>`) and `docker-<id>.scope` (systemd driver). Nothing is recorded until
    /// then ([`Probe::caught_cgroup`]).
    ///
    /// The target's system calls are counted per [`Phase`] of its startup
    /// ([`Probe::phase_syscall_counts`]), and records carry the phase. At most
    /// [`PENDING_NAMES`] names of 1 to 135 bytes without `/`. Fails as [`Probe::attach`] does,
    /// and if the kernel cannot report new cgroups (`cgroup:cgroup_mkdir`); without the phase
    /// programs the phases collapse upwards (listed in [`ProbeFeatures::missing`]).
    pub fn attach_pending(names: &[String]) -> Result<Probe, ProbeError> {
        let bad = |name: &str| ProbeError::BadCgroupName { name: name.into() };
        if names.is_empty() || names.len() > PENDING_NAMES as usize {
            return Err(bad(&format!("{} names", names.len())));
        }
        let patterns = names
            .iter()
            .map(|name| CgroupName::new(name.as_bytes()).ok_or_else(|| bad(name)))
            .collect::<Result<Vec<_>, _>>()?;
        Probe::load(&Mode::Pending(&patterns))
    }

    fn load(mode: &Mode<'_>) -> Result<Probe, ProbeError> {
        if !Path::new(VMLINUX_BTF).exists() {
            return Err(ProbeError::NoBtf { path: VMLINUX_BTF });
        }
        let layout = btf::kernel_layout()?;
        let compat_status_offset = layout.compat_status_offset.unwrap_or(NO_OFFSET);
        raise_memlock_rlimit();
        let tracefs = tracefs::ensure_mounted();
        let cap_fields = tracefs
            .as_ref()
            .ok()
            .and_then(|dir| cap_capable_fields(dir));
        let (cred_at, cap_at, ret_at) = cap_fields.unwrap_or((8, 32, 36));

        let offsets = PodOffsets(layout.offsets);
        let mut ebpf = EbpfLoader::new()
            // No CO-RE relocations in Rust eBPF: skip matching the object against kernel BTF.
            .btf(None)
            .override_global(GLOBAL_COMPAT_STATUS_OFFSET, &compat_status_offset, true)
            .override_global(GLOBAL_OFFSETS, &offsets, true)
            .override_global(GLOBAL_CAP_FIELD_OFFSET, &cap_at, true)
            .override_global(GLOBAL_CAP_RET_OFFSET, &ret_at, true)
            .override_global(GLOBAL_CAP_CRED_OFFSET, &cred_at, true)
            .load(embedded_object())
            .map_err(|source| ProbeError::Object { source })?;
        let counter = attach_syscall_counter(&mut ebpf)?;

        let pending = matches!(mode, Mode::Pending(_));
        let mut programs = vec![counter];
        let mut missing = Vec::new();
        let mut links = links::Links::default();
        for feature in FEATURES
            .iter()
            .filter(|f| !f.mandatory && (pending || !f.pending_only))
        {
            let env = AttachEnv {
                layout: &layout,
                tracefs: tracefs.as_deref().map_err(ToString::to_string),
                cap_fields_ok: cap_fields.is_some(),
            };
            if let Some(loaded) =
                attach_optional(&mut ebpf, feature, &env, &mut missing, &mut links)
            {
                programs.push(loaded);
            }
        }
        let state = initial_state(&mut ebpf, mode, &missing)?;
        let mut target = Array::try_from(ebpf.take_map(MAP_TARGET).ok_or(ProbeError::Missing {
            kind: "map",
            name: MAP_TARGET,
        })?)
        .map_err(ProbeError::map(MAP_TARGET))?;
        target
            .set(0, PodTarget(state), 0)
            .map_err(ProbeError::map(MAP_TARGET))?;
        for gap in &missing {
            log::warn!(
                "not recording {} ({} at {}): {}",
                gap.what,
                gap.program,
                gap.attach_point,
                gap.why
            );
        }

        let counters = take_array(&mut ebpf, MAP_SYSCALLS)?;
        let caps = take_array(&mut ebpf, MAP_CAPS)?;
        let sockets = take_array(&mut ebpf, MAP_SOCKETS)?;
        let dropped = take_array(&mut ebpf, MAP_DROPPED)?;
        let arg_lost = take_array(&mut ebpf, MAP_ARG_LOST)?;
        let arg_values = ebpf.take_map(MAP_ARG_VALUES).ok_or(ProbeError::Missing {
            kind: "map",
            name: MAP_ARG_VALUES,
        })?;
        let arg_values = HashMap::try_from(arg_values).map_err(ProbeError::map(MAP_ARG_VALUES))?;
        let events = ebpf.take_map(MAP_EVENTS).ok_or(ProbeError::Missing {
            kind: "map",
            name: MAP_EVENTS,
        })?;
        let events = RingBuf::try_from(events).map_err(ProbeError::map(MAP_EVENTS))?;
        Ok(Probe {
            target,
            counters,
            caps,
            sockets,
            dropped,
            arg_values,
            arg_lost,
            events: Some(events),
            features: ProbeFeatures {
                compat_abi: layout.compat_status_offset.is_some(),
                syscall_attach: SYSCALL_ATTACH,
                missing,
                programs,
            },
            _links: links,
            _ebpf: ebpf,
        })
    }

    /// The target's cgroup id and level: for a pending probe `None` until a cgroup with an
    /// expected name appeared, then that one's.
    pub fn caught_cgroup(&self) -> Result<Option<(u64, u32)>, ProbeError> {
        let state = self.target_state()?;
        Ok((state.cgroup_id != 0).then_some((state.cgroup_id, state.level)))
    }

    fn target_state(&self) -> Result<TargetState, ProbeError> {
        self.target
            .get(&0, 0)
            .map(|PodTarget(state)| state)
            .map_err(ProbeError::map(MAP_TARGET))
    }

    /// The features in use.
    pub fn features(&self) -> &ProbeFeatures {
        &self.features
    }

    /// The reader of the ring buffer the file, exec and socket records arrive in; `None` after
    /// the first call (there is one reader).
    pub fn take_event_reader(&mut self) -> Option<EventReader> {
        self.events.take().map(EventReader::new)
    }

    /// Reads the system call counters: what a profile must allow, the application's calls and
    /// those runc makes after installing its seccomp filter ([`Phase::RuncAfterFilter`]), not
    /// runc's setup before it. Cheap enough to call a few times a second for progress.
    pub fn syscall_counts(&self) -> Result<SyscallCounts, ProbeError> {
        let mut phases = self.phase_syscall_counts()?;
        let mut counts = std::mem::take(&mut phases.application);
        counts.add(&phases.runc_after_filter);
        Ok(counts)
    }

    /// Reads the system call counters per phase of the target's startup.
    ///
    /// One pass over the map: one lookup per slot, each returning every CPU's value (~3 x 3,073
    /// slots).
    pub fn phase_syscall_counts(&self) -> Result<PhaseSyscallCounts, ProbeError> {
        let state = self.target_state()?;
        let mut phases = PhaseSyscallCounts {
            filter_seen: state.filter_seen != 0,
            exec_seen: state.exec_seen != 0,
            ..PhaseSyscallCounts::default()
        };
        for (slot, total) in sum_slots(&self.counters, MAP_SYSCALLS)? {
            let Some((phase, slot)) = slot_phase(slot) else {
                continue;
            };
            let counts = phases.phase_mut(phase);
            match slot_syscall(slot) {
                Some(key) => {
                    counts.counts.insert(key, total);
                }
                None => counts.out_of_range += total,
            }
        }
        Ok(phases)
    }

    /// The application's capability checks per capability number (only those checked at least
    /// once).
    pub fn capability_counts(&self) -> Result<BTreeMap<u8, CapCount>, ProbeError> {
        self.capability_counts_of(CapChecker::Application)
    }

    /// Capability checks per capability counted for someone other than the application
    /// ([`CapChecker`]): runc, or the kernel with other credentials than the task's.
    pub fn capability_counts_of(
        &self,
        checker: CapChecker,
    ) -> Result<BTreeMap<u8, CapCount>, ProbeError> {
        let mut counts = BTreeMap::<u8, CapCount>::new();
        for (slot, total) in sum_slots(&self.caps, MAP_CAPS)? {
            let (cap, denied, by) = slot_cap(slot);
            let Ok(cap) = u8::try_from(cap) else { continue };
            if by != checker {
                continue;
            }
            let entry = counts.entry(cap).or_default();
            if denied {
                entry.denied += total;
            } else {
                entry.granted += total;
            }
        }
        Ok(counts)
    }

    /// `socket(2)` calls per (family, type without flags), failed ones included.
    pub fn socket_counts(&self) -> Result<BTreeMap<(u16, u16), u64>, ProbeError> {
        Ok(sum_slots(&self.sockets, MAP_SOCKETS)?
            .filter_map(|(slot, total)| Some((slot_socket(slot)?, total)))
            .collect())
    }

    /// The distinct (`x86_64` call number, argument index, value) triples the `syscall_enter`
    /// program kept, sorted, and how many it had no room for.
    pub fn argument_values(&self) -> Result<(Vec<ArgValueKey>, u64), ProbeError> {
        let mut values = self
            .arg_values
            .keys()
            .map(|key| key.map(|PodArgKey(key)| key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ProbeError::map(MAP_ARG_VALUES))?;
        values.sort_unstable();
        let lost = sum_slots(&self.arg_lost, MAP_ARG_LOST)?
            .map(|(_, n)| n)
            .sum();
        Ok((values, lost))
    }

    /// Records the kernel side could not write because the ring buffer was full (every record
    /// kind): events lost since attaching.
    pub fn dropped_events(&self) -> Result<u64, ProbeError> {
        Ok(sum_slots(&self.dropped, MAP_DROPPED)?.map(|(_, n)| n).sum())
    }
}

/// The eBPF object (crate `trace-ebpf`), embedded at build time.
fn embedded_object() -> &'static [u8] {
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/trace-ebpf.o"))
}

/// Every slot of a per-CPU counter array with a non-zero total over CPUs.
fn sum_slots(
    map: &PerCpuArray<MapData, u64>,
    name: &'static str,
) -> Result<impl Iterator<Item = (u32, u64)>, ProbeError> {
    let mut totals = Vec::new();
    for (slot, per_cpu) in (0u32..).zip(map.iter()) {
        let total: u64 = per_cpu.map_err(ProbeError::map(name))?.iter().sum();
        if total != 0 {
            totals.push((slot, total));
        }
    }
    Ok(totals.into_iter())
}

/// The target state to start from: a running cgroup is in the application phase; a pending probe
/// has no cgroup yet and waits for `patterns` (written to `PENDING` here). A pending probe
/// without a phase program counts that phase as the next one, which keeps what a profile must
/// allow in [`Probe::syscall_counts`]; without the `cgroup_mkdir` program it fails.
fn initial_state(
    ebpf: &mut Ebpf,
    mode: &Mode<'_>,
    missing: &[MissingFeature],
) -> Result<TargetState, ProbeError> {
    let lacks = |program: &str| missing.iter().find(|gap| gap.program == program);
    match *mode {
        Mode::Running(t) => Ok(TargetState {
            cgroup_id: t.cgroup_id,
            level: t.cgroup_level,
            exec_seen: 1,
            ..TargetState::default()
        }),
        Mode::Pending(patterns) => {
            if let Some(gap) = lacks(features::CATCH_PROGRAM) {
                return Err(ProbeError::CannotCatch {
                    why: format!("{}: {}", gap.attach_point, gap.why),
                });
            }
            write_pending(ebpf, patterns)?;
            Ok(TargetState {
                filter_seen: u32::from(lacks(features::PHASE_FILTER_PROGRAM).is_some()),
                exec_seen: u32::from(lacks(features::PHASE_EXEC_PROGRAM).is_some()),
                ..TargetState::default()
            })
        }
    }
}

/// Writes the patterns a pending probe waits for into `PENDING` (the other entries stay empty).
fn write_pending(ebpf: &mut Ebpf, patterns: &[CgroupName]) -> Result<(), ProbeError> {
    let map = ebpf.map_mut(MAP_PENDING).ok_or(ProbeError::Missing {
        kind: "map",
        name: MAP_PENDING,
    })?;
    let mut pending: Array<&mut MapData, PodName> =
        Array::try_from(map).map_err(ProbeError::map(MAP_PENDING))?;
    for (index, pattern) in (0u32..).zip(patterns) {
        pending
            .set(index, PodName(*pattern), 0)
            .map_err(ProbeError::map(MAP_PENDING))?;
    }
    Ok(())
}

fn take_array(
    ebpf: &mut Ebpf,
    name: &'static str,
) -> Result<PerCpuArray<MapData, u64>, ProbeError> {
    let map = ebpf
        .take_map(name)
        .ok_or(ProbeError::Missing { kind: "map", name })?;
    PerCpuArray::try_from(map).map_err(ProbeError::map(name))
}

/// Loads and attaches the mandatory system call counter.
fn attach_syscall_counter(ebpf: &mut Ebpf) -> Result<LoadedProgram, ProbeError> {
    attach_sys_enter(ebpf, SYSCALL_PROGRAM)
}

/// Loads `program` (a raw tracepoint program of the object) and attaches it to `sys_enter`.
fn attach_sys_enter(ebpf: &mut Ebpf, program: &'static str) -> Result<LoadedProgram, ProbeError> {
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
    Ok(LoadedProgram {
        program: name,
        verified_insns: program
            .info()
            .ok()
            .and_then(|i| i.verified_instruction_count()),
        load_time,
        attached: 1,
    })
}

/// What the optional programs depend on.
struct AttachEnv<'a> {
    layout: &'a btf::KernelLayout,
    /// The tracefs directory, or why there is none.
    tracefs: Result<&'a Path, String>,
    /// The `cap_capable` format had the fields the capability program reads.
    cap_fields_ok: bool,
}

/// Loads an optional program and attaches it where it can; everything that fails goes to
/// `missing`. Returns the program if it runs somewhere.
fn attach_optional(
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
        what: feature.lost,
        program: feature.program,
        attach_point: format!("tracepoint/{category}/{name}"),
        why,
    };
    let all_missing = |missing: &mut Vec<MissingFeature>, why: &str| {
        missing.extend(names.iter().map(|name| gap(name, why.to_owned())));
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
    for name in names {
        match check_format(tracefs, category, name) {
            Ok(()) => usable.push(*name),
            Err(why) => missing.push(gap(name, why)),
        }
    }
    if usable.is_empty() {
        return None;
    }

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
    (attached > 0).then(|| LoadedProgram {
        program: feature.program,
        verified_insns: program
            .info()
            .ok()
            .and_then(|i| i.verified_instruction_count()),
        load_time,
        attached,
    })
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
fn cap_capable_fields(tracefs: &Path) -> Option<(u64, u64, u64)> {
    let format = tracefs::read_format(tracefs, "capability", "cap_capable").ok()?;
    let cred = tracefs::field(&format, "cred").filter(|f| f.size == 8)?;
    let cap = tracefs::field(&format, "cap").filter(|f| f.size == 4)?;
    let ret = tracefs::field(&format, "ret").filter(|f| f.size == 4)?;
    Some((cred.offset as u64, cap.offset as u64, ret.offset as u64))
}

/// An error and its sources in one line; of a long verifier log only the first and last lines.
fn one_line(error: &dyn std::error::Error) -> String {
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
            [first, .., last] => format!("{first} ... {last}"),
        });
        next = e.source();
    }
    parts.join(": ")
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
