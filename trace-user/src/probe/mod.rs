//! Loads and attaches the eBPF programs, filters by cgroup in the kernel, reads the maps and the
//! ring buffers.
//!
//! The programs (crate `trace-ebpf`, embedded at build time) and what each needs are listed in one
//! table, [`FEATURES`] (also in docs/probe.md):
//!
//! - a raw tracepoint on `sys_enter` counts the system calls of each target per phase, ABI and
//!   number in a per-CPU array ([`Probe::counts`]); it is mandatory;
//! - `syscalls:sys_exit_*` tracepoints of the file system calls, `sched:sched_process_exec` and
//!   the exits of `bind`/`listen` send first sightings of file accesses, executed programs and
//!   bound ports through a ring buffer ([`Probe::take_event_reader`], [`ProbeEvent`]); the paths
//!   are walked in the kernel, repeats are filtered there by an LRU set;
//! - `capability:cap_capable` and the exit of `socket` count capability checks and sockets;
//! - `cgroup:cgroup_mkdir` makes every new container cgroup a target before any task can join it
//!   and announces it ([`ProbeEvent::CgroupCaught`]); `cgroup:cgroup_rmdir` drops it
//!   ([`ProbeEvent::CgroupGone`]).
//!
//! A target is one cgroup (one life of a container) with a counter slot of its own. The probe is
//! loaded with a number of slots ([`ProbeOptions`]) and the running containers to record from
//! now on; containers started later are caught by the kernel as their cgroups are made, and the
//! caller keeps those it wants and [`Probe::release`]s the others. For each target, system calls
//! are counted per [`Phase`] of its startup (runc before its seccomp filter, runc after it, the
//! application); a running container is in the application phase from the start.
//!
//! The optional programs that cannot be loaded or attached on this kernel are listed in
//! [`ProbeFeatures::missing`]; records the ring buffer had no room for are counted per target.
//!
//! ```no_run
//! use trace_user::probe::{self, Probe, ProbeOptions, ProbeTarget};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! probe::preflight()?;
//! let running = [ProbeTarget { cgroup_id: 4242, cgroup_level: 2 }];
//! let mut probe = Probe::load(&ProbeOptions { slots: 4, running: &running, index_mask: None, without: &[] })?;
//! for gap in &probe.features().missing {
//!     eprintln!("not recorded: {} ({}: {})", gap.what, gap.attach_point, gap.why);
//! }
//! let slot = probe.running_slots()[0];
//! let mut reader = probe.take_event_reader().expect("first call");
//! let mut events = Vec::new();
//! for _ in 0..10 {
//!     reader.readable().await?; // a wakeup, or 100 ms
//!     reader.read_ready(&mut events);
//! }
//! for ((abi, nr), count) in probe.counts(slot)?.allowed_syscalls().counts {
//!     println!("{abi:?} {nr}: {count}");
//! }
//! drop(probe); // detaches
//! # Ok(())
//! # }
//! ```

mod attach;
mod btf;
mod counters;
mod error;
mod events;
mod features;
mod floor;
mod links;
mod preflight;
mod reader;
mod tracefs;

use std::{path::Path, time::Duration};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, Queue, RingBuf},
};
use trace_common::{
    CAP_SLOTS, DROPPED_SLOTS, GLOBAL_CAP_CRED_OFFSET, GLOBAL_CAP_FIELD_OFFSET,
    GLOBAL_CAP_RET_OFFSET, GLOBAL_COMPAT_STATUS_OFFSET, GLOBAL_INDEX_MASK, GLOBAL_OFFSETS,
    GLOBAL_WAKEUP_BYTES, INDEX_SLOTS, KernelOffsets, MAP_ARG_LOST, MAP_ARG_VALUES, MAP_CAPS,
    MAP_CGROUP_EVENTS, MAP_CONFIG, MAP_DROPPED, MAP_EVENTS, MAP_FREE_SLOTS, MAP_OVERFLOW,
    MAP_SOCKETS, MAP_SYSCALLS, MAP_TARGETS, MAX_SLOTS, NO_OFFSET, PHASE_SYSCALL_SLOTS,
    SOCKET_SLOTS, TargetConfig, TargetEntry,
};

use attach::{AttachEnv, SYSCALL_ATTACH, attach_optional, attach_syscall_counter};
pub use btf::VMLINUX_BTF;
pub use counters::{CapCount, PhaseSyscallCounts, SlotCounts, SyscallCounts};
pub use error::ProbeError;
pub use events::{BindEvent, CgroupEvent, DecodeError, ExecEvent, FileEvent, ProbeEvent, decode};
pub use features::{AttachPoint, FEATURES, Feature};
pub use floor::Floor;
pub use preflight::preflight;
pub use reader::{EventReader, POLL_INTERVAL};
pub use trace_common::{CapChecker, FileOp, NO_SLOT, Phase};

/// How long a released target's programs may still be running with its slot (they run for
/// microseconds, without sleeping) before its counters are cleared.
const RELEASE_GRACE: Duration = Duration::from_millis(5);

/// A running cgroup v2 to trace, with everything below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeTarget {
    /// Inode number of the cgroup v2 directory (what `bpf_get_current_cgroup_id()` returns).
    pub cgroup_id: u64,
    /// Depth of that cgroup in the v2 hierarchy (root is 0, `/docker/<id>` is 2).
    pub cgroup_level: u32,
}

/// What to load the probe for.
#[derive(Clone, Copy, Debug)]
pub struct ProbeOptions<'a> {
    /// Target slots: how many container cgroups can be recorded at once (1 to
    /// [`trace_common::MAX_SLOTS`]). Each costs ~72 KiB of system call counters per CPU.
    pub slots: u32,
    /// Running containers' cgroups to record from now on (all at one level), in the application
    /// phase; their slots are [`Probe::running_slots`].
    pub running: &'a [ProbeTarget],
    /// Masks cgroup ids into the target index (default `INDEX_SLOTS - 1`); tests use small masks
    /// to send targets to the overflow map.
    pub index_mask: Option<u32>,
    /// Optional programs not to load: tests compare a stand-in (an `FExit` attach point) with
    /// the program it stands in for.
    pub without: &'a [&'static str],
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
    /// What a recording lacks: from [`FEATURES`] when the whole program is missing (e.g.
    /// "executed programs and their arguments"), else the one system call's calls.
    pub what: String,
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

/// The loaded and attached programs; dropping it detaches them.
pub struct Probe {
    counters: counters::Counters,
    targets: Array<MapData, PodEntry>,
    overflow: HashMap<MapData, u64, PodEntry>,
    config: Array<MapData, PodConfig>,
    free_slots: Queue<MapData, u32>,
    index_mask: u32,
    running_slots: Vec<u32>,
    events: Option<EventReader>,
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

/// [`TargetEntry`] as an aya map value.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct PodEntry(TargetEntry);

// SAFETY: `TargetEntry` is `repr(C)` integers with an explicit padding field (size asserted in
// trace-common): no padding bytes, every bit pattern is a valid value.
unsafe impl aya::Pod for PodEntry {}

/// [`TargetConfig`] as an aya map value.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct PodConfig(TargetConfig);

// SAFETY: `TargetConfig` is `repr(C)` `u32`s (size asserted in trace-common): no padding bytes,
// every bit pattern is a valid value.
unsafe impl aya::Pod for PodConfig {}

impl Probe {
    /// Loads the embedded eBPF object sized for `options.slots` targets, registers the running
    /// targets, then attaches the programs: from then on every new container cgroup is caught.
    ///
    /// Fails only if the mandatory system call counter cannot run (or the options are wrong);
    /// optional programs that cannot be loaded or attached end up in
    /// [`ProbeFeatures::missing`]. Mounts tracefs at `/sys/kernel/tracing` if no tracefs is
    /// mounted (the tracepoints are found through it).
    pub fn load(options: &ProbeOptions<'_>) -> Result<Probe, ProbeError> {
        let slots = options.slots;
        check_options(options)?;
        if !Path::new(VMLINUX_BTF).exists() {
            return Err(ProbeError::NoBtf { path: VMLINUX_BTF });
        }
        let layout = btf::kernel_layout()?;
        let compat_status_offset = layout.compat_status_offset.unwrap_or(NO_OFFSET);
        attach::raise_memlock_rlimit();
        let tracefs = tracefs::ensure_mounted();
        let cap_fields = tracefs
            .as_ref()
            .ok()
            .and_then(|dir| attach::cap_capable_fields(dir));
        let (cred_at, cap_at, ret_at) = cap_fields.unwrap_or((8, 32, 36));
        let index_mask = options.index_mask.unwrap_or(INDEX_SLOTS - 1) & (INDEX_SLOTS - 1);

        let offsets = PodOffsets(layout.offsets);
        let events_bytes = events_bytes_here();
        let wakeup_bytes = trace_common::wakeup_bytes(events_bytes);
        let mut ebpf = EbpfLoader::new()
            // No CO-RE relocations in Rust eBPF: skip matching the object against kernel BTF.
            .btf(None)
            .override_global(GLOBAL_COMPAT_STATUS_OFFSET, &compat_status_offset, true)
            .override_global(GLOBAL_OFFSETS, &offsets, true)
            .override_global(GLOBAL_CAP_FIELD_OFFSET, &cap_at, true)
            .override_global(GLOBAL_CAP_RET_OFFSET, &ret_at, true)
            .override_global(GLOBAL_CAP_CRED_OFFSET, &cred_at, true)
            .override_global(GLOBAL_INDEX_MASK, &index_mask, true)
            .override_global(GLOBAL_WAKEUP_BYTES, &wakeup_bytes, true)
            .map_max_entries(MAP_EVENTS, events_bytes)
            .map_max_entries(MAP_SYSCALLS, slots * PHASE_SYSCALL_SLOTS)
            .map_max_entries(MAP_CAPS, slots * CAP_SLOTS)
            .map_max_entries(MAP_SOCKETS, slots * SOCKET_SLOTS)
            .map_max_entries(MAP_DROPPED, slots * DROPPED_SLOTS)
            .map_max_entries(MAP_ARG_LOST, slots)
            .map_max_entries(MAP_FREE_SLOTS, slots)
            .map_max_entries(MAP_OVERFLOW, slots)
            .load(embedded_object())
            .map_err(|source| ProbeError::Object { source })?;

        let mut targets: Array<MapData, PodEntry> = take_map(&mut ebpf, MAP_TARGETS)?;
        let mut overflow: HashMap<MapData, u64, PodEntry> = take_map(&mut ebpf, MAP_OVERFLOW)?;
        let mut config: Array<MapData, PodConfig> = take_map(&mut ebpf, MAP_CONFIG)?;
        let mut free_slots: Queue<MapData, u32> = take_map(&mut ebpf, MAP_FREE_SLOTS)?;
        // Before anything is attached: the kernel side only ever adds to this.
        let any_overflow = write_targets(&mut targets, &mut overflow, options.running, index_mask)?;
        let running_slots: Vec<u32> = (0..slots).take(options.running.len()).collect();
        for slot in (0..slots).skip(options.running.len()) {
            free_slots
                .push(slot, 0)
                .map_err(ProbeError::map(MAP_FREE_SLOTS))?;
        }

        let (programs, missing, links) = attach_all(
            &mut ebpf,
            &layout,
            tracefs.as_deref(),
            cap_fields.is_some(),
            options.without,
        )?;
        // Without a phase program, a caught cgroup's phases collapse upwards (what a profile
        // must allow is kept). The counter and the catch are attached already: the level goes
        // in last, and with it recording starts.
        let lacks = |program: &str| missing.iter().any(|gap| gap.program == program);
        let initial = TargetConfig {
            level: options.running.first().map_or(0, |t| t.cgroup_level),
            overflow: u32::from(any_overflow),
            initial_filter_seen: u32::from(lacks(features::PHASE_FILTER_PROGRAM)),
            initial_exec_seen: u32::from(lacks(features::PHASE_EXEC_PROGRAM)),
        };
        config
            .set(0, PodConfig(initial), 0)
            .map_err(ProbeError::map(MAP_CONFIG))?;

        let counters = counters::Counters {
            syscalls: take_map(&mut ebpf, MAP_SYSCALLS)?,
            caps: take_map(&mut ebpf, MAP_CAPS)?,
            sockets: take_map(&mut ebpf, MAP_SOCKETS)?,
            dropped: take_map(&mut ebpf, MAP_DROPPED)?,
            arg_values: take_map(&mut ebpf, MAP_ARG_VALUES)?,
            arg_lost: take_map(&mut ebpf, MAP_ARG_LOST)?,
        };
        let events: RingBuf<MapData> = take_map(&mut ebpf, MAP_EVENTS)?;
        let cgroup_events: RingBuf<MapData> = take_map(&mut ebpf, MAP_CGROUP_EVENTS)?;
        Ok(Probe {
            counters,
            targets,
            overflow,
            config,
            free_slots,
            index_mask,
            running_slots,
            events: Some(EventReader::new(events, cgroup_events)),
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

    /// The slots of [`ProbeOptions::running`], in its order.
    pub fn running_slots(&self) -> &[u32] {
        &self.running_slots
    }

    /// Whether new containers can be caught from their start (the `cgroup_mkdir` program runs).
    pub fn catches_new_containers(&self) -> Result<(), ProbeError> {
        match self
            .features
            .missing
            .iter()
            .find(|gap| gap.program == features::CATCH_PROGRAM)
        {
            Some(gap) => Err(ProbeError::CannotCatch {
                why: format!("{}: {}", gap.attach_point, gap.why),
            }),
            None => Ok(()),
        }
    }

    /// The features in use.
    pub fn features(&self) -> &ProbeFeatures {
        &self.features
    }

    /// The reader of the ring buffers the cgroup, file, exec and socket records arrive in;
    /// `None` after the first call (there is one reader).
    pub fn take_event_reader(&mut self) -> Option<EventReader> {
        self.events.take()
    }

    /// Reads everything counted for the target in `slot` so far. Cheap enough to call a few
    /// times a second (~10,000 map lookups).
    pub fn counts(&self, slot: u32) -> Result<SlotCounts, ProbeError> {
        self.counters.read(slot)
    }

    /// Stops recording `cgroup_id` (if the kernel has not dropped it already), clears the
    /// counters of its `slot` and gives the slot back for the next container cgroup. Read the
    /// counts first: they are gone afterwards.
    pub fn release(&mut self, slot: u32, cgroup_id: u64) -> Result<(), ProbeError> {
        let index = index_of(cgroup_id, self.index_mask);
        let entry = self
            .targets
            .get(&index, 0)
            .map_err(ProbeError::map(MAP_TARGETS))?;
        if entry.0.cgroup_id == cgroup_id {
            let mut cleared = entry;
            cleared.0.cgroup_id = 0;
            self.targets
                .set(index, cleared, 0)
                .map_err(ProbeError::map(MAP_TARGETS))?;
        } else {
            // Absent already is fine.
            let _ = self.overflow.remove(&cgroup_id);
        }
        std::thread::sleep(RELEASE_GRACE);
        self.counters.clear(slot)?;
        self.free_slots
            .push(slot, 0)
            .map_err(ProbeError::map(MAP_FREE_SLOTS))
    }

    /// Catches new containers at cgroup `level` only, unless a target set the level already (it
    /// is the first caught container's otherwise): the caller knows where its containers will be.
    pub fn expect_level(&mut self, level: u32) -> Result<(), ProbeError> {
        let PodConfig(mut config) = self
            .config
            .get(&0, 0)
            .map_err(ProbeError::map(MAP_CONFIG))?;
        if config.level == 0 {
            config.level = level;
            self.config
                .set(0, PodConfig(config), 0)
                .map_err(ProbeError::map(MAP_CONFIG))?;
        }
        Ok(())
    }

    /// The targets' level in the cgroup v2 hierarchy (0 until the first is known).
    pub fn level(&self) -> Result<u32, ProbeError> {
        self.config
            .get(&0, 0)
            .map(|PodConfig(config)| config.level)
            .map_err(ProbeError::map(MAP_CONFIG))
    }
}

/// The size of the record ring buffer on this machine ([`trace_common::events_bytes`] of its
/// online CPUs).
fn events_bytes_here() -> u32 {
    let cpus = aya::util::online_cpus().map_or(1, |cpus| cpus.len());
    trace_common::events_bytes(u32::try_from(cpus).unwrap_or(u32::MAX))
}

/// Refuses options no probe can be loaded with: no slots or too many, more running targets than
/// slots, a zero cgroup id, targets at different levels.
fn check_options(options: &ProbeOptions<'_>) -> Result<(), ProbeError> {
    let slots = options.slots;
    if slots == 0 || slots > MAX_SLOTS {
        return Err(ProbeError::Slots {
            asked: slots,
            max: MAX_SLOTS,
        });
    }
    if options.running.len() > slots as usize {
        return Err(ProbeError::TooManyRunning {
            running: options.running.len(),
            slots,
        });
    }
    if let Some(bad) = options.running.iter().find(|t| t.cgroup_id == 0) {
        log::debug!("bad running target {bad:?}");
        return Err(ProbeError::NoTarget);
    }
    if let Some(first) = options.running.first()
        && let Some(other) = options
            .running
            .iter()
            .find(|t| t.cgroup_level != first.cgroup_level)
    {
        return Err(ProbeError::Level {
            cgroup_id: other.cgroup_id,
            level: other.cgroup_level,
            expected: first.cgroup_level,
        });
    }
    Ok(())
}

/// Attaches the mandatory counter, then every optional program it can; returns the programs in
/// use, what is missing, and the links.
fn attach_all(
    ebpf: &mut Ebpf,
    layout: &btf::KernelLayout,
    tracefs: Result<&Path, &std::io::Error>,
    cap_fields_ok: bool,
    without: &[&str],
) -> Result<(Vec<LoadedProgram>, Vec<MissingFeature>, links::Links), ProbeError> {
    let counter = attach_syscall_counter(ebpf)?;
    let mut programs = vec![counter];
    let mut missing = Vec::new();
    let mut links = links::Links::default();
    let env = AttachEnv {
        layout,
        tracefs: tracefs.map_err(ToString::to_string),
        cap_fields_ok,
    };
    for feature in FEATURES
        .iter()
        .filter(|f| !f.mandatory && !without.contains(&f.program))
    {
        let loaded = match feature.attach {
            AttachPoint::FExit {
                function,
                instead_of,
            } => {
                if programs
                    .iter()
                    .any(|p: &LoadedProgram| p.program == instead_of)
                {
                    continue;
                }
                let loaded = attach::attach_fexit(ebpf, feature, function, &mut missing);
                if loaded.is_some() {
                    // It records what the other would have: nothing is missing.
                    missing.retain(|m| m.program != instead_of);
                }
                loaded
            }
            _ => attach_optional(ebpf, feature, &env, &mut missing, &mut links),
        };
        programs.extend(loaded);
    }
    for gap in &missing {
        log::warn!(
            "not recording {} ({} at {}): {}",
            gap.what,
            gap.program,
            gap.attach_point,
            gap.why
        );
    }
    Ok((programs, missing, links))
}

/// Writes the running targets into the index (slots 0, 1, ... in order), to the overflow map when
/// their entry is taken; returns whether any went there.
fn write_targets(
    targets: &mut Array<MapData, PodEntry>,
    overflow: &mut HashMap<MapData, u64, PodEntry>,
    running: &[ProbeTarget],
    index_mask: u32,
) -> Result<bool, ProbeError> {
    let mut any_overflow = false;
    for (slot, target) in (0u32..).zip(running) {
        let entry = PodEntry(TargetEntry {
            cgroup_id: target.cgroup_id,
            slot,
            filter_seen: 1,
            exec_seen: 1,
            pad: 0,
        });
        let index = index_of(target.cgroup_id, index_mask);
        let taken = targets
            .get(&index, 0)
            .map_err(ProbeError::map(MAP_TARGETS))?
            .0
            .cgroup_id
            != 0;
        if taken {
            overflow
                .insert(target.cgroup_id, entry, 0)
                .map_err(ProbeError::map(MAP_OVERFLOW))?;
            any_overflow = true;
        } else {
            targets
                .set(index, entry, 0)
                .map_err(ProbeError::map(MAP_TARGETS))?;
        }
    }
    Ok(any_overflow)
}

/// The index of `cgroup_id` in `TARGETS`: its low bits, as the kernel side computes it.
fn index_of(cgroup_id: u64, mask: u32) -> u32 {
    // Truncation is the point: the mask keeps only low bits.
    #[allow(clippy::cast_possible_truncation)]
    let low = cgroup_id as u32;
    low & mask
}

/// The eBPF object (crate `trace-ebpf`), embedded at build time.
fn embedded_object() -> &'static [u8] {
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/trace-ebpf.o"))
}

/// Takes map `name` out of the object as the map type `M`.
fn take_map<M>(ebpf: &mut Ebpf, name: &'static str) -> Result<M, ProbeError>
where
    M: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .ok_or(ProbeError::Missing { kind: "map", name })?;
    M::try_from(map).map_err(ProbeError::map(name))
}

#[cfg(test)]
mod tests;
