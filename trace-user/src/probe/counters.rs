//! The counters of one target slot, read from the per-CPU maps and summed over CPUs, and cleared
//! before the slot is reused.

use std::collections::BTreeMap;

use aya::maps::{HashMap, MapData, PerCpuArray, PerCpuValues};
use trace_common::{
    Abi, ArgValueKey, CAP_SLOTS, CapChecker, DROPPED_SLOTS, MAP_ARG_LOST, MAP_ARG_VALUES, MAP_CAPS,
    MAP_DROPPED, MAP_SOCKETS, MAP_SYSCALLS, PHASE_SYSCALL_SLOTS, Phase, SOCKET_SLOTS, slot_cap,
    slot_phase, slot_socket, slot_syscall,
};

use super::ProbeError;

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

/// System call counts per [`Phase`] of a target's startup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhaseSyscallCounts {
    /// Phase 0: runc building the container, before its seccomp filter is in force.
    pub runc_before_filter: SyscallCounts,
    /// Phase 1: runc after installing the filter, until the entrypoint's exec (which is entered
    /// here): what a profile must allow besides the application. Empty if no filter was
    /// installed (e.g. `seccomp=unconfined`).
    pub runc_after_filter: SyscallCounts,
    /// Phase 2: the application, from its first exec on. Everything when attached to a running
    /// container.
    pub application: SyscallCounts,
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

    pub(super) fn phase_mut(&mut self, phase: Phase) -> &mut SyscallCounts {
        match phase {
            Phase::RuncBeforeFilter => &mut self.runc_before_filter,
            Phase::RuncAfterFilter => &mut self.runc_after_filter,
            Phase::Application => &mut self.application,
        }
    }
}

/// Everything counted for one target slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotCounts {
    /// System calls per phase.
    pub syscalls: PhaseSyscallCounts,
    /// Capability checks per checker and capability number.
    pub capabilities: BTreeMap<CapChecker, BTreeMap<u8, CapCount>>,
    /// `socket(2)` calls per (family, type without flags), failed ones included.
    pub sockets: BTreeMap<(u16, u16), u64>,
    /// The distinct (`x86_64` call number, argument index, value) triples kept, sorted.
    pub arguments: Vec<(u32, u32, u64)>,
    /// Argument values there was no room for.
    pub arguments_lost: u64,
    /// Records the kernel side could not write (the ring buffer was full).
    pub dropped: u64,
}

impl SlotCounts {
    /// The system calls a profile must allow: the application's and those runc makes after
    /// installing its seccomp filter ([`Phase::RuncAfterFilter`]), not runc's setup before it.
    pub fn allowed_syscalls(&self) -> SyscallCounts {
        let mut counts = self.syscalls.application.clone();
        counts.add(&self.syscalls.runc_after_filter);
        counts
    }

    /// Adds `other` (another life of the same container) to these.
    pub fn add(&mut self, other: &SlotCounts) {
        for phase in Phase::ALL {
            self.syscalls
                .phase_mut(phase)
                .add(other.syscalls.phase(phase));
        }
        for (checker, caps) in &other.capabilities {
            let mine = self.capabilities.entry(*checker).or_default();
            for (cap, count) in caps {
                let entry = mine.entry(*cap).or_default();
                entry.granted += count.granted;
                entry.denied += count.denied;
            }
        }
        for (key, n) in &other.sockets {
            *self.sockets.entry(*key).or_default() += n;
        }
        self.arguments.extend(other.arguments.iter().copied());
        self.arguments.sort_unstable();
        self.arguments.dedup();
        self.arguments_lost += other.arguments_lost;
        self.dropped += other.dropped;
    }
}

/// [`ArgValueKey`] as an aya map key.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(super) struct PodArgKey(pub(super) ArgValueKey);

// SAFETY: `ArgValueKey` is `repr(C)` `u32, u16, u16, u64` (size asserted in trace-common): no
// padding bytes, every bit pattern is a valid value.
unsafe impl aya::Pod for PodArgKey {}

/// The per-CPU counter maps, each with one block of slots per target slot.
pub(super) struct Counters {
    pub(super) syscalls: PerCpuArray<MapData, u64>,
    pub(super) caps: PerCpuArray<MapData, u64>,
    pub(super) sockets: PerCpuArray<MapData, u64>,
    pub(super) dropped: PerCpuArray<MapData, u64>,
    pub(super) arg_values: HashMap<MapData, PodArgKey, u8>,
    pub(super) arg_lost: PerCpuArray<MapData, u64>,
}

/// A counter map, the size of one target's block in it, and its name.
#[cfg(test)]
type Block<'a> = (&'a PerCpuArray<MapData, u64>, u32, &'static str);

impl Counters {
    #[cfg(test)]
    fn blocks(&self) -> [Block<'_>; 5] {
        [
            (&self.syscalls, PHASE_SYSCALL_SLOTS, MAP_SYSCALLS),
            (&self.caps, CAP_SLOTS, MAP_CAPS),
            (&self.sockets, SOCKET_SLOTS, MAP_SOCKETS),
            (&self.dropped, DROPPED_SLOTS, MAP_DROPPED),
            (&self.arg_lost, 1, MAP_ARG_LOST),
        ]
    }

    /// Reads everything counted for `slot`: one lookup per counter (~10,000, each returning
    /// every CPU's value).
    pub(super) fn read(&self, slot: u32) -> Result<SlotCounts, ProbeError> {
        let mut counts = SlotCounts::default();
        for (index, total) in block_totals(&self.syscalls, slot, PHASE_SYSCALL_SLOTS, MAP_SYSCALLS)?
        {
            let Some((phase, index)) = slot_phase(index) else {
                continue;
            };
            let phase = counts.syscalls.phase_mut(phase);
            match slot_syscall(index) {
                Some(key) => {
                    phase.counts.insert(key, total);
                }
                None => phase.out_of_range += total,
            }
        }
        for (index, total) in block_totals(&self.caps, slot, CAP_SLOTS, MAP_CAPS)? {
            let (cap, denied, checker) = slot_cap(index);
            let Ok(cap) = u8::try_from(cap) else { continue };
            let entry = counts
                .capabilities
                .entry(checker)
                .or_default()
                .entry(cap)
                .or_default();
            if denied {
                entry.denied += total;
            } else {
                entry.granted += total;
            }
        }
        counts.sockets = block_totals(&self.sockets, slot, SOCKET_SLOTS, MAP_SOCKETS)?
            .into_iter()
            .filter_map(|(index, total)| Some((slot_socket(index)?, total)))
            .collect();
        counts.dropped = block_totals(&self.dropped, slot, DROPPED_SLOTS, MAP_DROPPED)?
            .into_iter()
            .map(|(_, n)| n)
            .sum();
        counts.arguments_lost = block_totals(&self.arg_lost, slot, 1, MAP_ARG_LOST)?
            .into_iter()
            .map(|(_, n)| n)
            .sum();
        counts.arguments = self
            .argument_keys()?
            .into_iter()
            .filter(|key| u32::from(key.slot) == slot)
            .map(|key| (key.nr, u32::from(key.index), key.value))
            .collect();
        counts.arguments.sort_unstable();
        Ok(counts)
    }

    /// Sets every counter of `slot` back to zero and forgets its argument values, for the next
    /// target that gets the slot.
    pub(super) fn clear(&mut self, slot: u32) -> Result<(), ProbeError> {
        let cpus = aya::util::nr_cpus().map_err(|(_, e)| ProbeError::Cpus { source: e })?;
        for (map, size, name) in [
            (&mut self.syscalls, PHASE_SYSCALL_SLOTS, MAP_SYSCALLS),
            (&mut self.caps, CAP_SLOTS, MAP_CAPS),
            (&mut self.sockets, SOCKET_SLOTS, MAP_SOCKETS),
            (&mut self.dropped, DROPPED_SLOTS, MAP_DROPPED),
            (&mut self.arg_lost, 1, MAP_ARG_LOST),
        ] {
            for (index, _) in block_totals(map, slot, size, name)? {
                let zeros = PerCpuValues::try_from(vec![0u64; cpus])
                    .map_err(|source| ProbeError::Cpus { source })?;
                map.set(slot * size + index, zeros, 0)
                    .map_err(ProbeError::map(name))?;
            }
        }
        for key in self.argument_keys()? {
            if u32::from(key.slot) == slot {
                // Already gone is fine.
                let _ = self.arg_values.remove(&PodArgKey(key));
            }
        }
        Ok(())
    }

    fn argument_keys(&self) -> Result<Vec<ArgValueKey>, ProbeError> {
        self.arg_values
            .keys()
            .map(|key| key.map(|PodArgKey(key)| key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ProbeError::map(MAP_ARG_VALUES))
    }

    /// Whether `slot` has any counter above zero (a cleared slot has none).
    #[cfg(test)]
    pub(super) fn any(&self, slot: u32) -> Result<bool, ProbeError> {
        for (map, size, name) in self.blocks() {
            if !block_totals(map, slot, size, name)?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The counters of `slot`'s block (of `size` counters) in `map` with a non-zero total over CPUs,
/// as (index in the block, total).
fn block_totals(
    map: &PerCpuArray<MapData, u64>,
    slot: u32,
    size: u32,
    name: &'static str,
) -> Result<Vec<(u32, u64)>, ProbeError> {
    let mut totals = Vec::new();
    for index in 0..size {
        let per_cpu = map
            .get(&(slot * size + index), 0)
            .map_err(ProbeError::map(name))?;
        let total: u64 = per_cpu.iter().sum();
        if total != 0 {
            totals.push((index, total));
        }
    }
    Ok(totals)
}
