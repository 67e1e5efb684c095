//! Provenance: the recordings a merged recording was made from ([`Source`]) and which of them
//! saw each item ([`Provenance`]), with the options and errors of a merge.

use crate::recording::{
    Capability, HostInfo, PathBytes, Recording, SocketFamily, SocketType, StopReason,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use trace_common::Abi;

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
