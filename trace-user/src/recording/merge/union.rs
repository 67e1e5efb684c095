//! The union of two recordings with their provenance in full: every item with the keys of
//! every source that saw it, then compacted back to the source indexes of the result.

use super::{Items, Listed, PortSources, Provenance, SocketSources, Source, SourceKey, SourceSet};
use crate::recording::steps::merged_steps;
use crate::recording::{
    BoundPort, Capability, CapabilityUse, Category, ContainerInfo, ExecUse, Gap, GapKind, Life,
    PathBytes, Recording, RuntimeInfo, SCHEMA_NAME, SCHEMA_VERSION, SocketFamily, SocketType,
    SocketUse, Startup, SyscallsByAbi, Tool, UnknownSyscall, execs::EXEC_SAMPLES,
};
use crate::recording::{IncludedSyscall, Reach, Step};
use std::collections::{BTreeMap, BTreeSet};
use trace_common::Abi;

/// The sources that saw an item, by key.
pub(super) type Seen = BTreeSet<SourceKey>;

/// A recording with its provenance in full: every item with the keys of every source that saw it.
pub(super) struct Expanded<'a> {
    recording: &'a Recording,
    pub(super) sources: BTreeMap<SourceKey, Source>,
    syscalls: BTreeMap<(Abi, String), Seen>,
    files: BTreeMap<PathBytes, Seen>,
    execs: BTreeMap<PathBytes, Seen>,
    capabilities: BTreeMap<Capability, Seen>,
    sockets: BTreeMap<(SocketFamily, SocketType), Seen>,
    bound_ports: BTreeMap<BoundPort, Seen>,
}

/// Every item with the sources that saw it: those listed, or all of them when not listed.
pub(super) fn expand<K: Ord + Clone>(
    items: BTreeSet<K>,
    listed: &BTreeMap<K, &SourceSet>,
    keys: &[SourceKey],
) -> BTreeMap<K, Seen> {
    items
        .into_iter()
        .map(|item| {
            let seen = match listed.get(&item) {
                Some(set) => set.iter().filter_map(|&i| keys.get(i).cloned()).collect(),
                None => keys.iter().cloned().collect(),
            };
            (item, seen)
        })
        .collect()
}

/// The union of two item maps.
pub(super) fn union_seen<K: Ord + Clone>(
    a: &BTreeMap<K, Seen>,
    b: &BTreeMap<K, Seen>,
) -> BTreeMap<K, Seen> {
    let mut out = a.clone();
    for (key, seen) in b {
        out.entry(key.clone())
            .or_default()
            .extend(seen.iter().cloned());
    }
    out
}

/// The items not seen by every source, with the indices of those that saw them.
pub(super) fn compact<K: Ord + Clone>(
    seen: &BTreeMap<K, Seen>,
    index: &BTreeMap<&SourceKey, usize>,
) -> BTreeMap<K, SourceSet> {
    seen.iter()
        .filter(|(_, seen)| seen.len() < index.len())
        .map(|(key, seen)| (key.clone(), seen.iter().map(|k| index[k]).collect()))
        .collect()
}

/// Adds the counts of `from` to `into`.
pub(in crate::recording) fn add_counts(into: &mut SyscallsByAbi, from: &SyscallsByAbi) {
    for (abi, calls) in from {
        let into = into.entry(*abi).or_default();
        for (name, count) in calls {
            let total = into.entry(name.clone()).or_default();
            *total = total.saturating_add(*count);
        }
    }
}

impl<'a> Expanded<'a> {
    pub(super) fn of(recording: &'a Recording) -> Expanded<'a> {
        let sources: Vec<Source> = recording.source_list();
        let keys: Vec<SourceKey> = sources.iter().map(Source::key).collect();
        let items = Items::of(recording);
        let listed = Listed::of(&recording.provenance);
        Expanded {
            recording,
            syscalls: expand(items.syscalls, &listed.syscalls, &keys),
            files: expand(items.files, &listed.files, &keys),
            execs: expand(items.execs, &listed.execs, &keys),
            capabilities: expand(items.capabilities, &listed.capabilities, &keys),
            sockets: expand(items.sockets, &listed.sockets, &keys),
            bound_ports: expand(items.bound_ports, &listed.bound_ports, &keys),
            sources: keys.into_iter().zip(sources).collect(),
        }
    }

    /// The merged recording of two expanded recordings with disjoint sources; `sources` is the
    /// union of theirs, sorted by key.
    pub(super) fn union(&self, other: &Expanded<'_>, sources: Vec<Source>) -> Recording {
        let (a, b) = (self.recording, other.recording);
        let first = &sources[0];

        let mut syscalls = a.syscalls.clone();
        add_counts(&mut syscalls, &b.syscalls);

        let unknown_syscalls = merged_unknown(&a.unknown_syscalls, &b.unknown_syscalls);
        let mut files = a.files.clone();
        for (path, used) in &b.files {
            let entry = files.entry(path.clone()).or_default();
            entry.access.extend(used.access.iter().copied());
            entry.dir |= used.dir;
        }
        let (found_at_attach, lives) = merged_lives(a, b);
        let mut links = a.links.clone();
        for (requested, resolved) in &b.links {
            links
                .entry(requested.clone())
                .or_default()
                .extend(resolved.iter().cloned());
        }
        let mut execs = a.execs.clone();
        for (path, run) in &b.execs {
            let entry: &mut ExecUse = execs.entry(path.clone()).or_default();
            entry.count = entry.count.saturating_add(run.count);
            entry.argv.extend(run.argv.iter().cloned());
            // The smallest samples of the union: the same whatever the grouping.
            while entry.argv.len() > EXEC_SAMPLES {
                entry.argv.pop_last();
            }
        }
        let capabilities = added_checks(&a.capabilities, &b.capabilities);
        let runc_capabilities = added_checks(&a.runc_capabilities, &b.runc_capabilities);
        let borrowed_capabilities =
            added_checks(&a.borrowed_capabilities, &b.borrowed_capabilities);
        let identity = match (&a.identity, &b.identity) {
            (Some(x), Some(y)) => Some(x.union(y)),
            (x, y) => x.clone().or_else(|| y.clone()),
        };
        // Kept only when every source recorded the same configuration.
        let config = (a.container.config == b.container.config)
            .then(|| a.container.config.clone())
            .flatten();
        let sockets = merged_sockets(&a.sockets, &b.sockets);
        let startup = merged_startup(a.startup.as_ref(), b.startup.as_ref());

        let mut events = a.events.clone();
        events.recorded = a
            .events
            .recorded
            .intersection(&b.events.recorded)
            .copied()
            .collect();
        events.dropped = a.events.dropped.saturating_add(b.events.dropped);
        let startup_seen = sources.iter().any(|s| s.startup_seen);
        let gaps = merged_gaps(a, b, &sources, startup_seen);

        let mut mounts = a.container.mounts.clone();
        mounts.extend(b.container.mounts.iter().cloned());
        // The last to stop; among equal times the last in order, so the choice is deterministic.
        let last = sources
            .iter()
            .max_by(|x, y| x.stopped_at.cmp(&y.stopped_at))
            .unwrap_or(first);

        let provenance = self.provenance(other);
        let (steps, included_syscalls, reach) = merged_coverage(a, b);

        Recording {
            schema: SCHEMA_NAME.into(),
            schema_version: SCHEMA_VERSION,
            tool: Tool::current(),
            container: ContainerInfo {
                id: first.id.clone(),
                name: first.name.clone(),
                image: first.image.clone(),
                image_id: first.image_id.clone(),
                mounts,
                config,
                runtimes: merged_runtimes(&a.container, &b.container),
            },
            host: first.host.clone(),
            started_at: first.started_at.clone(),
            stopped_at: last.stopped_at.clone(),
            stop_reason: last.stop_reason.clone(),
            startup_seen,
            syscalls,
            unknown_syscalls,
            gaps,
            files,
            found_at_attach,
            links,
            execs,
            capabilities,
            runc_capabilities,
            borrowed_capabilities,
            identity,
            sockets,
            bound_ports: a.bound_ports.union(&b.bound_ports).copied().collect(),
            arguments: a.arguments.union(&b.arguments),
            events,
            lives,
            startup,
            steps,
            included_syscalls,
            reach,
            provenance,
            sources,
        }
    }

    /// The provenance of the union of two expanded recordings with disjoint sources.
    pub(super) fn provenance(&self, other: &Expanded<'_>) -> Provenance {
        let index: BTreeMap<&SourceKey, usize> = self
            .sources
            .keys()
            .chain(other.sources.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, key)| (key, i))
            .collect();
        Provenance {
            syscalls: compact(&union_seen(&self.syscalls, &other.syscalls), &index)
                .into_iter()
                .fold(BTreeMap::new(), |mut by_abi, ((abi, name), set)| {
                    by_abi
                        .entry(abi)
                        .or_insert_with(BTreeMap::new)
                        .insert(name, set);
                    by_abi
                }),
            files: compact(&union_seen(&self.files, &other.files), &index),
            execs: compact(&union_seen(&self.execs, &other.execs), &index),
            capabilities: compact(&union_seen(&self.capabilities, &other.capabilities), &index),
            sockets: compact(&union_seen(&self.sockets, &other.sockets), &index)
                .into_iter()
                .map(|((family, sock_type), sources)| SocketSources {
                    family,
                    sock_type,
                    sources,
                })
                .collect(),
            bound_ports: compact(&union_seen(&self.bound_ports, &other.bound_ports), &index)
                .into_iter()
                .map(|(p, sources)| PortSources {
                    family: p.family,
                    sock_type: p.sock_type,
                    port: p.port,
                    sources,
                })
                .collect(),
        }
    }
}

/// The parts of a merge the coverage report reads: the steps ([`merged_steps`]), the calls
/// included on purpose and what the image's binaries reach (unions).
fn merged_coverage(
    a: &Recording,
    b: &Recording,
) -> (Vec<Step>, BTreeSet<IncludedSyscall>, Option<Reach>) {
    let reach = match (&a.reach, &b.reach) {
        (Some(x), Some(y)) => Some(x.union(y)),
        (x, y) => x.clone().or_else(|| y.clone()),
    };
    let included = a
        .included_syscalls
        .union(&b.included_syscalls)
        .cloned()
        .collect();
    (merged_steps(a, b), included, reach)
}

/// The gaps of a merge: both inputs' gaps; a `partly_recorded` gap per category one input holds
/// and the other does not; `hosts_differ` recomputed from all sources; `startup_missed` dropped
/// when some source saw the startup. Each rule depends only on the set of sources, so the result
/// does not depend on how the merges were grouped.
pub(super) fn merged_gaps(
    a: &Recording,
    b: &Recording,
    sources: &[Source],
    startup_seen: bool,
) -> Vec<Gap> {
    let mut gaps: BTreeSet<Gap> = a
        .gaps
        .iter()
        .chain(&b.gaps)
        .filter(|g| g.kind != GapKind::HostsDiffer)
        .filter(|g| !(startup_seen && g.kind == GapKind::StartupMissed))
        .cloned()
        .collect();
    let partly: BTreeSet<Category> = a
        .events
        .recorded
        .symmetric_difference(&b.events.recorded)
        .copied()
        .collect();
    gaps.extend(partly.into_iter().map(partly_recorded));
    // Set when the configurations differ (a source without one counts as different from one
    // with); inherited from then on, so it is there exactly when not all sources agree, however
    // the merges were grouped.
    if a.container.config != b.container.config {
        gaps.insert(Gap {
            kind: GapKind::ConfigsDiffer,
            detail: "the merged recordings' containers were configured differently, or some did not record their configuration: advice from the configuration is left out".into(),
        });
    }
    let hosts: BTreeSet<(&str, &str)> = sources
        .iter()
        .map(|s| (s.host.kernel.as_str(), s.host.arch.as_str()))
        .collect();
    if hosts.len() > 1 {
        let list: Vec<String> = hosts.iter().map(|(k, a)| format!("{k} {a}")).collect();
        gaps.insert(Gap {
            kind: GapKind::HostsDiffer,
            detail: format!(
                "the merged recordings come from different hosts ({}); \"host\" is the first recording's",
                list.join(", ")
            ),
        });
    }
    gaps.into_iter().collect()
}

/// Both capability check maps: counts per capability add up.
pub(super) fn added_checks(
    a: &BTreeMap<Capability, CapabilityUse>,
    b: &BTreeMap<Capability, CapabilityUse>,
) -> BTreeMap<Capability, CapabilityUse> {
    let mut out = a.clone();
    for (cap, checks) in b {
        let entry = out.entry(*cap).or_default();
        entry.granted = entry.granted.saturating_add(checks.granted);
        entry.denied = entry.denied.saturating_add(checks.denied);
    }
    out
}

/// Both lists of calls without a name: counts per (ABI, number) add up.
pub(super) fn merged_unknown(a: &[UnknownSyscall], b: &[UnknownSyscall]) -> Vec<UnknownSyscall> {
    let mut unknown: BTreeMap<(Option<Abi>, Option<u32>), u64> = BTreeMap::new();
    for u in a.iter().chain(b) {
        let count = unknown.entry((u.abi, u.nr)).or_default();
        *count = count.saturating_add(u.count);
    }
    unknown
        .into_iter()
        .map(|((abi, nr), count)| UnknownSyscall { abi, nr, count })
        .collect()
}

/// Both socket lists: counts per (family, type) add up.
pub(super) fn merged_sockets(a: &[SocketUse], b: &[SocketUse]) -> Vec<SocketUse> {
    let mut sockets: BTreeMap<(SocketFamily, SocketType), u64> = BTreeMap::new();
    for s in a.iter().chain(b) {
        let count = sockets.entry((s.family, s.sock_type)).or_default();
        *count = count.saturating_add(s.count);
    }
    sockets
        .into_iter()
        .map(|((family, sock_type), count)| SocketUse {
            family,
            sock_type,
            count,
        })
        .collect()
}

/// Both startups: counts add up; a filter was installed if it was in either.
pub(super) fn merged_startup(a: Option<&Startup>, b: Option<&Startup>) -> Option<Startup> {
    match (a, b) {
        (None, None) => None,
        (Some(s), None) | (None, Some(s)) => Some(s.clone()),
        (Some(x), Some(y)) => {
            let mut merged = Startup {
                filter_installed: x.filter_installed || y.filter_installed,
                runc_before_filter: x.runc_before_filter.clone(),
                runc_after_filter: x.runc_after_filter.clone(),
            };
            add_counts(&mut merged.runc_before_filter, &y.runc_before_filter);
            add_counts(&mut merged.runc_after_filter, &y.runc_after_filter);
            Some(merged)
        }
    }
}

pub(super) fn partly_recorded(category: Category) -> Gap {
    Gap {
        kind: GapKind::PartlyRecorded,
        detail: format!(
            "{} were recorded by some merged recordings only: the merged recording does not claim them complete, so profiles treat them as not recorded",
            category.name()
        ),
    }
}

/// The union of what two recordings found at attach, and their lives, sorted.
pub(super) fn merged_lives(a: &Recording, b: &Recording) -> (BTreeSet<PathBytes>, Vec<Life>) {
    let found = a
        .found_at_attach
        .union(&b.found_at_attach)
        .cloned()
        .collect();
    let mut lives = a.lives.clone();
    lives.extend(b.lives.iter().cloned());
    lives.sort();
    (found, lives)
}

/// The runtimes that started the sources: a source that does not say was started by runc under
/// Docker, which the union keeps when another source names its runtime.
fn merged_runtimes(a: &ContainerInfo, b: &ContainerInfo) -> BTreeSet<RuntimeInfo> {
    if a.runtimes.is_empty() && b.runtimes.is_empty() {
        return BTreeSet::new();
    }
    let named = |c: &ContainerInfo| {
        if c.runtimes.is_empty() {
            BTreeSet::from([RuntimeInfo::assumed()])
        } else {
            c.runtimes.clone()
        }
    };
    named(a).union(&named(b)).cloned().collect()
}
