//! Merged recordings: the union of several recordings of one image, with which recording saw what
//! (docs/recording.md, "Merged recordings").
//!
//! A merged recording is an ordinary [`Recording`] (renderers need nothing else) plus
//! [`Recording::sources`], the recordings it was made from, and [`Recording::provenance`], which of
//! them saw each system call, file, program, capability, socket and bound port. A recording of one
//! run has neither: it is its own only source, and it is written exactly as before.
//!
//! [`Recording::merge`] is commutative and associative, so any number of recordings can be merged
//! in any order and grouping with the same result. A source is identified by its container id and
//! start time; merging a recording with one it is already part of changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use trace_common::Abi;

use super::{
    BoundPort, Capability, CapabilityUse, Category, ContainerInfo, ExecUse, Gap, GapKind, HostInfo,
    Life, PathBytes, Recording, SCHEMA_NAME, SCHEMA_VERSION, SocketFamily, SocketType, SocketUse,
    Startup, StopReason, SyscallsByAbi, Tool, UnknownSyscall, execs::EXEC_SAMPLES,
};

/// One recording a merged recording was made from: what identifies the run and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The traced container's full id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The image as the container was created from it.
    pub image: String,
    /// The image's content id.
    pub image_id: String,
    /// The machine it ran on (kept per source so a merge of different kernels can say so).
    pub host: HostInfo,
    /// When that recording started.
    pub started_at: String,
    /// When it stopped.
    pub stopped_at: String,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Whether it saw the container's startup.
    pub startup_seen: bool,
}

impl Source {
    /// The source a recording of one run stands for.
    pub fn of(recording: &Recording) -> Source {
        Source {
            id: recording.container.id.clone(),
            name: recording.container.name.clone(),
            image: recording.container.image.clone(),
            image_id: recording.container.image_id.clone(),
            host: recording.host.clone(),
            started_at: recording.started_at.clone(),
            stopped_at: recording.stopped_at.clone(),
            stop_reason: recording.stop_reason.clone(),
            startup_seen: recording.startup_seen,
        }
    }

    /// What identifies a source, in the order sources are listed: start time, then container id.
    /// Two recordings with the same key are the same recording.
    pub fn key(&self) -> SourceKey {
        (self.started_at.clone(), self.id.clone())
    }
}

/// `(started_at, container id)`: identifies a source and orders the sources.
pub type SourceKey = (String, String);

/// Indices into [`Recording::sources`], ascending.
pub type SourceSet = BTreeSet<usize>;

/// Which sources saw each item of a merged recording. An item seen by every source is left out,
/// so what is listed is what only some runs reached (and every item is listed at most once).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// System calls per ABI.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub syscalls: BTreeMap<Abi, BTreeMap<String, SourceSet>>,
    /// File paths (the keys of `files`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<PathBytes, SourceSet>,
    /// Executed programs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub execs: BTreeMap<PathBytes, SourceSet>,
    /// Capabilities checked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capabilities: BTreeMap<Capability, SourceSet>,
    /// Sockets per (family, type), sorted like `sockets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sockets: Vec<SocketSources>,
    /// Bound ports, sorted like `bound_ports`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bound_ports: Vec<PortSources>,
}

impl Provenance {
    /// Whether nothing is listed (a recording of one run, or every source saw everything).
    pub fn is_empty(&self) -> bool {
        *self == Provenance::default()
    }
}

/// The sources that created sockets of one family and type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketSources {
    /// Address family.
    pub family: SocketFamily,
    /// Socket type.
    #[serde(rename = "type")]
    pub sock_type: SocketType,
    /// The sources.
    pub sources: SourceSet,
}

/// The sources that bound one port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSources {
    /// Address family.
    pub family: SocketFamily,
    /// Socket type.
    #[serde(rename = "type")]
    pub sock_type: SocketType,
    /// The port.
    pub port: u16,
    /// The sources.
    pub sources: SourceSet,
}

/// How to merge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeOptions {
    /// Merge recordings of different images (the merged `container` is the first source's).
    pub allow_different_images: bool,
}

/// Why two recordings cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// The recordings are of different images.
    #[error("recordings of different images: {first} and {second}")]
    DifferentImages {
        /// `image (image_id)` of the first source.
        first: String,
        /// `image (image_id)` of a source with another image id.
        second: String,
    },
    /// Both recordings contain this source, but neither contains all of the other's: the source's
    /// counts would be added twice.
    #[error(
        "both merged recordings contain the recording of container {id} started at {started_at}, and neither contains the other; merge the original recordings instead"
    )]
    SharedSource {
        /// Container id of the shared source.
        id: String,
        /// Its start time.
        started_at: String,
    },
    /// Two recordings with the same source(s) but different contents.
    #[error(
        "two different recordings claim to be the recording of container {id} started at {started_at}"
    )]
    Conflicting {
        /// Container id.
        id: String,
        /// Start time.
        started_at: String,
    },
}

/// Why the `sources` and `provenance` of a recording are not consistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourcesError {
    /// `sources` with a single entry: a recording of one run is written without `sources`.
    #[error("\"sources\" has one entry; a recording of one run has no \"sources\"")]
    OneSource,
    /// Sources out of order or repeated.
    #[error("\"sources\" is not sorted by started_at, then id, without repeats")]
    NotSorted,
    /// `provenance` in a recording without `sources`.
    #[error("\"provenance\" without \"sources\"")]
    ProvenanceWithoutSources,
    /// A provenance entry that is not in canonical form.
    #[error("provenance of {item}: {problem}")]
    BadEntry {
        /// The item, e.g. `files "/etc/passwd"`.
        item: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl Recording {
    /// The sources of this recording: [`Recording::sources`], or the recording itself for a
    /// recording of one run.
    pub fn source_list(&self) -> Vec<Source> {
        if self.sources.is_empty() {
            vec![Source::of(self)]
        } else {
            self.sources.clone()
        }
    }

    /// The union of `self` and `other` (see the module documentation and docs/recording.md).
    /// Commutative and associative; when the sources of one are all sources of the other, the
    /// result is the other, unchanged.
    pub fn merge(&self, other: &Recording, options: MergeOptions) -> Result<Recording, MergeError> {
        let (a, b) = (Expanded::of(self), Expanded::of(other));
        let (a_keys, b_keys): (BTreeSet<_>, BTreeSet<_>) =
            (a.sources.keys().collect(), b.sources.keys().collect());
        if a_keys == b_keys {
            return if self == other {
                Ok(self.clone())
            } else {
                let (started_at, id) = a_keys.first().map(|k| (*k).clone()).unwrap_or_default();
                Err(MergeError::Conflicting { id, started_at })
            };
        }
        if a_keys.is_subset(&b_keys) {
            return Ok(other.clone());
        }
        if b_keys.is_subset(&a_keys) {
            return Ok(self.clone());
        }
        if let Some((started_at, id)) = a_keys.intersection(&b_keys).next() {
            return Err(MergeError::SharedSource {
                id: id.clone(),
                started_at: started_at.clone(),
            });
        }

        let mut sources = a.sources.clone();
        sources.extend(b.sources.clone());
        let sources: Vec<Source> = sources.into_values().collect();
        let first = &sources[0];
        if !options.allow_different_images
            && let Some(other_image) = sources.iter().find(|s| s.image_id != first.image_id)
        {
            let describe = |s: &Source| format!("{} ({})", s.image, s.image_id);
            return Err(MergeError::DifferentImages {
                first: describe(first),
                second: describe(other_image),
            });
        }
        Ok(a.union(&b, sources))
    }

    /// Checks that `sources` and `provenance` are in the canonical form [`Recording::merge`]
    /// writes: two or more sources, sorted; every listed set non-empty, within `sources`, not
    /// every source, and about an item the recording has.
    pub fn check_sources(&self) -> Result<(), SourcesError> {
        let n = self.sources.len();
        if n == 1 {
            return Err(SourcesError::OneSource);
        }
        if n == 0 {
            return if self.provenance.is_empty() {
                Ok(())
            } else {
                Err(SourcesError::ProvenanceWithoutSources)
            };
        }
        if !self.sources.windows(2).all(|w| w[0].key() < w[1].key()) {
            return Err(SourcesError::NotSorted);
        }
        let listed = Listed::of(&self.provenance);
        let items = Items::of(self);
        check_entries("syscalls", &listed.syscalls, &items.syscalls, n)?;
        check_entries("files", &listed.files, &items.files, n)?;
        check_entries("execs", &listed.execs, &items.execs, n)?;
        check_entries("capabilities", &listed.capabilities, &items.capabilities, n)?;
        check_entries("sockets", &listed.sockets, &items.sockets, n)?;
        check_entries("bound_ports", &listed.bound_ports, &items.bound_ports, n)?;
        let sockets = self.provenance.sockets.iter();
        let ports = self.provenance.bound_ports.iter();
        if !strictly_sorted(sockets.map(|s| (s.family, s.sock_type)))
            || !strictly_sorted(ports.map(|p| (p.family, p.sock_type, p.port)))
        {
            return Err(SourcesError::BadEntry {
                item: "sockets or bound_ports".into(),
                problem: "entries are not sorted, or repeated",
            });
        }
        Ok(())
    }
}

fn strictly_sorted<T: Ord>(items: impl Iterator<Item = T>) -> bool {
    let items: Vec<T> = items.collect();
    items.windows(2).all(|w| w[0] < w[1])
}

fn check_entries<K: Ord + std::fmt::Debug>(
    category: &str,
    listed: &BTreeMap<K, &SourceSet>,
    items: &BTreeSet<K>,
    sources: usize,
) -> Result<(), SourcesError> {
    for (key, set) in listed {
        let problem = if !items.contains(key) {
            "the recording has no such item"
        } else if set.is_empty() {
            "no sources listed"
        } else if set.len() >= sources {
            "every source listed (leave it out)"
        } else if set.last().is_some_and(|&i| i >= sources) {
            "a source index beyond \"sources\""
        } else {
            continue;
        };
        return Err(SourcesError::BadEntry {
            item: format!("{category} {key:?}"),
            problem,
        });
    }
    Ok(())
}

/// The items of each kind that provenance is kept for, under one key type per kind.
#[derive(Default)]
struct Items {
    syscalls: BTreeSet<(Abi, String)>,
    files: BTreeSet<PathBytes>,
    execs: BTreeSet<PathBytes>,
    capabilities: BTreeSet<Capability>,
    sockets: BTreeSet<(SocketFamily, SocketType)>,
    bound_ports: BTreeSet<BoundPort>,
}

impl Items {
    fn of(recording: &Recording) -> Items {
        Items {
            syscalls: recording
                .syscalls
                .iter()
                .flat_map(|(abi, calls)| calls.keys().map(|name| (*abi, name.clone())))
                .collect(),
            files: recording.files.keys().cloned().collect(),
            execs: recording.execs.keys().cloned().collect(),
            capabilities: recording.capabilities.keys().copied().collect(),
            sockets: recording
                .sockets
                .iter()
                .map(|s| (s.family, s.sock_type))
                .collect(),
            bound_ports: recording.bound_ports.clone(),
        }
    }
}

/// The provenance entries under the keys of [`Items`].
struct Listed<'a> {
    syscalls: BTreeMap<(Abi, String), &'a SourceSet>,
    files: BTreeMap<PathBytes, &'a SourceSet>,
    execs: BTreeMap<PathBytes, &'a SourceSet>,
    capabilities: BTreeMap<Capability, &'a SourceSet>,
    sockets: BTreeMap<(SocketFamily, SocketType), &'a SourceSet>,
    bound_ports: BTreeMap<BoundPort, &'a SourceSet>,
}

impl<'a> Listed<'a> {
    fn of(provenance: &'a Provenance) -> Listed<'a> {
        Listed {
            syscalls: provenance
                .syscalls
                .iter()
                .flat_map(|(abi, calls)| {
                    calls.iter().map(|(name, set)| ((*abi, name.clone()), set))
                })
                .collect(),
            files: provenance
                .files
                .iter()
                .map(|(k, v)| (k.clone(), v))
                .collect(),
            execs: provenance
                .execs
                .iter()
                .map(|(k, v)| (k.clone(), v))
                .collect(),
            capabilities: provenance
                .capabilities
                .iter()
                .map(|(k, v)| (*k, v))
                .collect(),
            sockets: provenance
                .sockets
                .iter()
                .map(|s| ((s.family, s.sock_type), &s.sources))
                .collect(),
            bound_ports: provenance
                .bound_ports
                .iter()
                .map(|p| {
                    let port = BoundPort {
                        family: p.family,
                        sock_type: p.sock_type,
                        port: p.port,
                    };
                    (port, &p.sources)
                })
                .collect(),
        }
    }
}

/// The sources that saw an item, by key.
type Seen = BTreeSet<SourceKey>;

/// A recording with its provenance in full: every item with the keys of every source that saw it.
struct Expanded<'a> {
    recording: &'a Recording,
    sources: BTreeMap<SourceKey, Source>,
    syscalls: BTreeMap<(Abi, String), Seen>,
    files: BTreeMap<PathBytes, Seen>,
    execs: BTreeMap<PathBytes, Seen>,
    capabilities: BTreeMap<Capability, Seen>,
    sockets: BTreeMap<(SocketFamily, SocketType), Seen>,
    bound_ports: BTreeMap<BoundPort, Seen>,
}

/// Every item with the sources that saw it: those listed, or all of them when not listed.
fn expand<K: Ord + Clone>(
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
fn union_seen<K: Ord + Clone>(a: &BTreeMap<K, Seen>, b: &BTreeMap<K, Seen>) -> BTreeMap<K, Seen> {
    let mut out = a.clone();
    for (key, seen) in b {
        out.entry(key.clone())
            .or_default()
            .extend(seen.iter().cloned());
    }
    out
}

/// The items not seen by every source, with the indices of those that saw them.
fn compact<K: Ord + Clone>(
    seen: &BTreeMap<K, Seen>,
    index: &BTreeMap<&SourceKey, usize>,
) -> BTreeMap<K, SourceSet> {
    seen.iter()
        .filter(|(_, seen)| seen.len() < index.len())
        .map(|(key, seen)| (key.clone(), seen.iter().map(|k| index[k]).collect()))
        .collect()
}

fn add_counts(into: &mut SyscallsByAbi, from: &SyscallsByAbi) {
    for (abi, calls) in from {
        let into = into.entry(*abi).or_default();
        for (name, count) in calls {
            let total = into.entry(name.clone()).or_default();
            *total = total.saturating_add(*count);
        }
    }
}

impl<'a> Expanded<'a> {
    fn of(recording: &'a Recording) -> Expanded<'a> {
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
    fn union(&self, other: &Expanded<'_>, sources: Vec<Source>) -> Recording {
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
            provenance,
            sources,
        }
    }

    /// The provenance of the union of two expanded recordings with disjoint sources.
    fn provenance(&self, other: &Expanded<'_>) -> Provenance {
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

/// The gaps of a merge: both inputs' gaps; a `partly_recorded` gap per category one input holds
/// and the other does not; `hosts_differ` recomputed from all sources; `startup_missed` dropped
/// when some source saw the startup. Each rule depends only on the set of sources, so the result
/// does not depend on how the merges were grouped.
fn merged_gaps(a: &Recording, b: &Recording, sources: &[Source], startup_seen: bool) -> Vec<Gap> {
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
fn added_checks(
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
fn merged_unknown(a: &[UnknownSyscall], b: &[UnknownSyscall]) -> Vec<UnknownSyscall> {
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
fn merged_sockets(a: &[SocketUse], b: &[SocketUse]) -> Vec<SocketUse> {
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
fn merged_startup(a: Option<&Startup>, b: Option<&Startup>) -> Option<Startup> {
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

fn partly_recorded(category: Category) -> Gap {
    Gap {
        kind: GapKind::PartlyRecorded,
        detail: format!(
            "{} were recorded by some merged recordings only: the merged recording does not claim them complete, so profiles treat them as not recorded",
            category.name()
        ),
    }
}

/// The union of what two recordings found at attach, and their lives, sorted.
fn merged_lives(a: &Recording, b: &Recording) -> (BTreeSet<PathBytes>, Vec<Life>) {
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

#[cfg(test)]
mod tests;
