//! Confidence: in how many of a recording's runs each item was seen (k of n), and the recording
//! less the items seen in fewer than m runs (`--min-runs`).
//!
//! Read from [`Recording::provenance`]: an item it does not list was seen by every source. A
//! recording of one run is its only run, so everything in it was seen in 1 of 1.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use trace_common::Abi;

use super::{Items, Listed};
use crate::recording::{BoundPort, Capability, PathBytes, Recording, SocketFamily, SocketType};

/// For each system call (per ABI), file, executed program, capability, socket (family, type) and
/// bound port of a recording: in how many of its runs it was seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenIn {
    /// n: the runs the recording was made from (1 for a recording of one run).
    pub runs: usize,
    /// System calls per (ABI, name).
    pub syscalls: BTreeMap<(Abi, String), usize>,
    /// File paths.
    pub files: BTreeMap<PathBytes, usize>,
    /// Executed programs.
    pub execs: BTreeMap<PathBytes, usize>,
    /// Capabilities.
    pub capabilities: BTreeMap<Capability, usize>,
    /// Sockets per (family, type).
    pub sockets: BTreeMap<(SocketFamily, SocketType), usize>,
    /// Bound ports.
    pub bound_ports: BTreeMap<BoundPort, usize>,
}

/// The kinds of item a [`SeenIn`] counts runs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemKind {
    /// A system call.
    Syscall,
    /// A file path.
    File,
    /// An executed program.
    Exec,
    /// A capability.
    Capability,
    /// A socket family and type.
    Socket,
    /// A bound port.
    BoundPort,
}

impl ItemKind {
    /// Every kind, in the order they are listed.
    pub const ALL: [ItemKind; 6] = [
        ItemKind::Syscall,
        ItemKind::File,
        ItemKind::Exec,
        ItemKind::Capability,
        ItemKind::Socket,
        ItemKind::BoundPort,
    ];

    /// The kind's name for one item, then for several.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            ItemKind::Syscall => ("system call", "system calls"),
            ItemKind::File => ("file", "files"),
            ItemKind::Exec => ("program", "programs"),
            ItemKind::Capability => ("capability", "capabilities"),
            ItemKind::Socket => ("socket", "sockets"),
            ItemKind::BoundPort => ("bound port", "bound ports"),
        }
    }
}

/// One item, named for people, with the number of runs it was seen in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenItem {
    /// Its kind.
    pub kind: ItemKind,
    /// Its name: `unlink (x86_64)`, `/srv/upload`, `CAP_NET_BIND_SERVICE`, `inet stream`,
    /// `inet stream 80`.
    pub name: String,
    /// k: the runs it was seen in.
    pub runs: usize,
}

/// A number of items of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItemCounts {
    /// Per kind, in the order of [`ItemKind::ALL`].
    pub counts: [usize; 6],
}

impl ItemCounts {
    /// The number of items of `kind`.
    pub fn of(&self, kind: ItemKind) -> usize {
        self.counts[kind as usize]
    }

    /// The number of items of every kind.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    fn add(&mut self, kind: ItemKind) {
        self.counts[kind as usize] += 1;
    }
}

impl fmt::Display for ItemCounts {
    /// `2 system calls, 1 file` (kinds without items left out), or `nothing`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = ItemKind::ALL
            .into_iter()
            .filter(|&kind| self.of(kind) > 0)
            .map(|kind| {
                let (one, many) = kind.names();
                let n = self.of(kind);
                format!("{n} {}", if n == 1 { one } else { many })
            })
            .collect();
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What keeping only the items seen in at least `min_runs` runs left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeftOut {
    /// m: the runs an item had to be seen in (0 or 1: everything is kept).
    pub min_runs: usize,
    /// n: the runs of the recording.
    pub runs: usize,
    /// The items left out, per kind.
    pub items: ItemCounts,
}

/// Why a recording cannot be filtered to the items seen in at least m runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MinRunsError {
    /// m is larger than the number of runs.
    #[error(
        "--min-runs {min_runs} asks for more runs than the recording has: it is {}",
        runs_phrase(*runs)
    )]
    MoreThanRuns {
        /// m.
        min_runs: usize,
        /// n.
        runs: usize,
    },
}

fn runs_phrase(runs: usize) -> String {
    if runs == 1 {
        "of 1 run (merge recordings with `trace merge` first)".to_owned()
    } else {
        format!("merged from {runs} runs")
    }
}

impl SeenIn {
    /// Every item with the runs it was seen in, kind by kind in the order of [`ItemKind::ALL`],
    /// each kind's items in their order in the recording.
    pub fn items(&self) -> Vec<SeenItem> {
        fn each<'a, K>(
            kind: ItemKind,
            map: &'a BTreeMap<K, usize>,
            name: impl Fn(&K) -> String + 'a,
        ) -> impl Iterator<Item = SeenItem> + 'a {
            map.iter().map(move |(key, &runs)| SeenItem {
                kind,
                name: name(key),
                runs,
            })
        }
        let mut items: Vec<SeenItem> = Vec::new();
        items.extend(each(ItemKind::Syscall, &self.syscalls, |(abi, name)| {
            format!("{name} ({})", abi.name())
        }));
        items.extend(each(ItemKind::File, &self.files, ToString::to_string));
        items.extend(each(ItemKind::Exec, &self.execs, ToString::to_string));
        items.extend(each(ItemKind::Capability, &self.capabilities, |c| {
            c.to_string()
        }));
        items.extend(each(ItemKind::Socket, &self.sockets, |(family, ty)| {
            format!("{family} {ty}")
        }));
        items.extend(each(ItemKind::BoundPort, &self.bound_ports, |p| {
            format!("{} {} {}", p.family, p.sock_type, p.port)
        }));
        items
    }

    /// The items seen in every run, and those seen in some runs only, per kind.
    pub fn every_and_some(&self) -> (ItemCounts, ItemCounts) {
        let (mut every, mut some) = (ItemCounts::default(), ItemCounts::default());
        for item in self.items() {
            if item.runs >= self.runs {
                every.add(item.kind);
            } else {
                some.add(item.kind);
            }
        }
        (every, some)
    }
}

impl Recording {
    /// In how many of this recording's runs each item was seen ([`SeenIn`]).
    pub fn seen_in(&self) -> SeenIn {
        fn runs_of<K: Ord + Clone>(
            keys: &BTreeSet<K>,
            listed: &BTreeMap<K, &super::SourceSet>,
            runs: usize,
        ) -> BTreeMap<K, usize> {
            keys.iter()
                .map(|key| (key.clone(), listed.get(key).map_or(runs, |set| set.len())))
                .collect()
        }
        let runs = self.sources.len().max(1);
        let items = Items::of(self);
        let listed = Listed::of(&self.provenance);
        SeenIn {
            runs,
            syscalls: runs_of(&items.syscalls, &listed.syscalls, runs),
            files: runs_of(&items.files, &listed.files, runs),
            execs: runs_of(&items.execs, &listed.execs, runs),
            capabilities: runs_of(&items.capabilities, &listed.capabilities, runs),
            sockets: runs_of(&items.sockets, &listed.sockets, runs),
            bound_ports: runs_of(&items.bound_ports, &listed.bound_ports, runs),
        }
    }

    /// This recording less the system calls, files, programs, capabilities, sockets and bound
    /// ports seen in fewer than `min_runs` of its runs (their provenance too, and the files found
    /// at attach that are left out), and what was left out. `min_runs` 0 or 1 keeps everything;
    /// more than the recording's runs is an error.
    pub fn seen_in_at_least(&self, min_runs: usize) -> Result<(Recording, LeftOut), MinRunsError> {
        let seen = self.seen_in();
        if min_runs > seen.runs {
            return Err(MinRunsError::MoreThanRuns {
                min_runs,
                runs: seen.runs,
            });
        }
        let mut left_out = LeftOut {
            min_runs,
            runs: seen.runs,
            items: ItemCounts::default(),
        };
        let mut kept = self.clone();
        if min_runs <= 1 {
            return Ok((kept, left_out));
        }
        let keep = |runs: Option<&usize>| runs.is_some_and(|&k| k >= min_runs);
        let mut count = |kind: ItemKind, keeps: bool| {
            if !keeps {
                left_out.items.add(kind);
            }
            keeps
        };

        for (abi, calls) in &mut kept.syscalls {
            calls.retain(|name, _| {
                count(
                    ItemKind::Syscall,
                    keep(seen.syscalls.get(&(*abi, name.clone()))),
                )
            });
        }
        kept.syscalls.retain(|_, calls| !calls.is_empty());
        kept.files
            .retain(|path, _| count(ItemKind::File, keep(seen.files.get(path))));
        kept.execs
            .retain(|path, _| count(ItemKind::Exec, keep(seen.execs.get(path))));
        kept.capabilities
            .retain(|cap, _| count(ItemKind::Capability, keep(seen.capabilities.get(cap))));
        kept.sockets.retain(|s| {
            count(
                ItemKind::Socket,
                keep(seen.sockets.get(&(s.family, s.sock_type))),
            )
        });
        kept.bound_ports
            .retain(|p| count(ItemKind::BoundPort, keep(seen.bound_ports.get(p))));

        let files = &kept.files;
        kept.found_at_attach.retain(|path| files.contains_key(path));
        let provenance = &mut kept.provenance;
        for (abi, calls) in &mut provenance.syscalls {
            calls.retain(|name, _| keep(seen.syscalls.get(&(*abi, name.clone()))));
        }
        provenance.syscalls.retain(|_, calls| !calls.is_empty());
        provenance
            .files
            .retain(|path, _| keep(seen.files.get(path)));
        provenance
            .execs
            .retain(|path, _| keep(seen.execs.get(path)));
        provenance
            .capabilities
            .retain(|cap, _| keep(seen.capabilities.get(cap)));
        provenance
            .sockets
            .retain(|s| keep(seen.sockets.get(&(s.family, s.sock_type))));
        provenance.bound_ports.retain(|p| {
            let port = BoundPort {
                family: p.family,
                sock_type: p.sock_type,
                port: p.port,
            };
            keep(seen.bound_ports.get(&port))
        });
        Ok((kept, left_out))
    }
}
