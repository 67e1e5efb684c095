//! Which kinds of observation a recording holds, and what was lost.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Recording;

/// A kind of observation. A recording says which kinds it holds, so an empty list (nothing seen)
/// can be told from an absent one (not recorded, e.g. a v1 recording).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// `syscalls` and `unknown_syscalls`.
    Syscalls,
    /// `files` and `links`.
    Files,
    /// `execs`.
    Execs,
    /// `capabilities`.
    Capabilities,
    /// `sockets` and `bound_ports`.
    Sockets,
    /// `arguments` (v5).
    Arguments,
}

impl Category {
    /// The name used in recording.json.
    pub fn name(self) -> &'static str {
        match self {
            Category::Syscalls => "syscalls",
            Category::Files => "files",
            Category::Execs => "execs",
            Category::Capabilities => "capabilities",
            Category::Sockets => "sockets",
            Category::Arguments => "arguments",
        }
    }
}

/// What the probe delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Events {
    /// The kinds of observation this recording holds.
    pub recorded: BTreeSet<Category>,
    /// Events the probe could not deliver (a full ring buffer): the recording may miss accesses.
    pub dropped: u64,
}

impl Recording {
    /// Declares that this recording holds observations of `category` (even if none were made).
    pub fn mark_recorded(&mut self, category: Category) {
        self.events.recorded.insert(category);
    }

    /// Adds `count` events lost on the way from the kernel.
    pub fn record_dropped(&mut self, count: u64) {
        self.events.dropped = self.events.dropped.saturating_add(count);
    }
}
