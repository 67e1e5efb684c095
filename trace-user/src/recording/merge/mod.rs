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

use trace_common::Abi;

use super::{BoundPort, Capability, PathBytes, Recording, SocketFamily, SocketType};

mod confidence;
mod provenance;
mod union;

pub use confidence::{ItemCounts, ItemKind, LeftOut, MinRunsError, SeenIn, SeenItem};

pub use provenance::{
    MergeError, MergeOptions, PortSources, Provenance, SocketSources, Source, SourceKey, SourceSet,
    SourcesError,
};
use union::Expanded;
pub(super) use union::add_counts;

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

#[cfg(test)]
mod tests;
