//! The recording: what was observed, as plain data. No I/O beyond (de)serializing; it is the
//! source of truth every profile is rendered from (`trace render recording.json`).

mod syscalls;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trace_common::Abi;

pub use syscalls::{SyscallName, syscall_name};

/// The recording format's version. Raised on every change to the schema; older versions that can
/// still be read are listed in [`Recording::from_json`].
pub const SCHEMA_VERSION: u32 = 1;

/// Identifies the document as a trace recording.
pub const SCHEMA_NAME: &str = "trace-recording";

/// Everything one trace observed of one container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// Always [`SCHEMA_NAME`].
    pub schema: String,
    /// The schema version this document follows.
    pub schema_version: u32,
    /// The trace build that made the recording.
    pub tool: Tool,
    /// The traced container.
    pub container: ContainerInfo,
    /// The machine it ran on.
    pub host: HostInfo,
    /// When recording started and stopped (RFC 3339, UTC, seconds).
    pub started_at: String,
    /// See `started_at`.
    pub stopped_at: String,
    /// Why recording stopped.
    pub stop_reason: StopReason,
    /// Whether the container was traced from its first instruction. Attaching to a running container
    /// misses its startup, so a profile from such a recording may not cover it.
    pub startup_seen: bool,
    /// System calls per ABI: name -> number of calls. Only ABIs with calls appear.
    pub syscalls: BTreeMap<Abi, BTreeMap<String, u64>>,
    /// Calls whose number has no name in the syscall table (never allowed by a profile).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_syscalls: Vec<UnknownSyscall>,
    /// What this recording may have missed; empty when nothing is known to be missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
}

/// The program that wrote a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// Always "trace".
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Tool {
    /// This build of trace.
    pub fn current() -> Self {
        Tool {
            name: "trace".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The traced container, as Docker described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Full container id.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// The image as the container was created from it (a tag or an id).
    pub image: String,
    /// The image's content id (`sha256:...`).
    pub image_id: String,
}

/// The tracing host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Machine architecture (`uname -m`).
    pub arch: String,
}

/// Why recording stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// The exercise command exited with this status (a signal number is reported as 128 + signo).
    CommandExited {
        /// Exit status.
        status: i32,
    },
    /// `--duration` elapsed.
    Duration,
    /// trace received SIGINT or SIGTERM.
    Signal {
        /// `SIGINT` or `SIGTERM`.
        signal: String,
    },
    /// The container stopped.
    ContainerExited,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::CommandExited { status } => {
                write!(f, "the command exited with status {status}")
            }
            StopReason::Duration => f.write_str("the duration elapsed"),
            StopReason::Signal { signal } => write!(f, "{signal} received"),
            StopReason::ContainerExited => f.write_str("the container stopped"),
        }
    }
}

/// A system call number that has no name in the syscall table of its ABI.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnknownSyscall {
    /// The ABI, or `None` for numbers outside every table (e.g. `syscall(-1)`).
    pub abi: Option<Abi>,
    /// The number (absent for out-of-range calls).
    pub nr: Option<u32>,
    /// Number of calls.
    pub count: u64,
}

/// Something the recording may have missed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// Attached to a running container: its startup (and runc's work after installing the
    /// seccomp filter) was not seen.
    StartupMissed,
    /// The kernel gave no way to tell 32-bit compat calls from 64-bit ones.
    CompatAbiUnknown,
    /// Calls without a name in the syscall table were made.
    UnknownSyscalls,
}

/// A known gap, with a sentence for humans.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Gap {
    /// What kind of gap.
    pub kind: GapKind,
    /// What it means for the profiles.
    pub detail: String,
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// Not JSON of the recording's shape.
    #[error("{path}: not a valid trace recording")]
    Malformed {
        /// The file.
        path: String,
        /// The parse error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A recording from another (newer) version of trace.
    #[error(
        "{path}: recording schema version {found} is not supported (this trace reads version {SCHEMA_VERSION}); use a newer trace"
    )]
    UnsupportedVersion {
        /// The file.
        path: String,
        /// The version found.
        found: u64,
    },
    /// Some other JSON document.
    #[error("{path}: not a trace recording (no \"schema\": \"{SCHEMA_NAME}\")")]
    NotARecording {
        /// The file.
        path: String,
    },
}

impl Recording {
    /// Parses a recording, checking its schema name and version first so that a recording from a
    /// newer trace gets a clear error rather than a confusing field error. `path` names the source
    /// in errors.
    pub fn from_json(text: &str, path: &str) -> Result<Recording, RecordingError> {
        let malformed = |source| RecordingError::Malformed {
            path: path.to_owned(),
            source,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(malformed)?;
        if value.get("schema").and_then(serde_json::Value::as_str) != Some(SCHEMA_NAME) {
            return Err(RecordingError::NotARecording {
                path: path.to_owned(),
            });
        }
        match value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
        {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(found) => {
                return Err(RecordingError::UnsupportedVersion {
                    path: path.to_owned(),
                    found,
                });
            }
            None => {
                return Err(RecordingError::NotARecording {
                    path: path.to_owned(),
                });
            }
        }
        serde_json::from_value(value).map_err(malformed)
    }

    /// The recording as pretty JSON with a trailing newline (maps are sorted, so output is stable).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a recording always serializes");
        text.push('\n');
        text
    }

    /// Number of distinct system calls observed, over all ABIs.
    pub fn distinct_syscalls(&self) -> usize {
        self.syscalls.values().map(BTreeMap::len).sum()
    }

    /// Total number of calls observed, over all ABIs.
    pub fn total_calls(&self) -> u64 {
        self.syscalls
            .values()
            .flat_map(BTreeMap::values)
            .sum::<u64>()
            + self.unknown_syscalls.iter().map(|u| u.count).sum::<u64>()
    }
}

/// Builds the `syscalls` and `unknown_syscalls` parts of a recording from raw counts per
/// (ABI, number) and the count of out-of-range calls, naming each number from the syscall table.
pub fn name_syscalls(
    counts: &BTreeMap<(Abi, u32), u64>,
    out_of_range: u64,
) -> (BTreeMap<Abi, BTreeMap<String, u64>>, Vec<UnknownSyscall>) {
    let mut named: BTreeMap<Abi, BTreeMap<String, u64>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (&(abi, nr), &count) in counts {
        if count == 0 {
            continue;
        }
        match syscall_name(abi, nr) {
            Some(SyscallName(name)) => {
                *named
                    .entry(abi)
                    .or_default()
                    .entry(name.to_owned())
                    .or_default() += count;
            }
            None => unknown.push(UnknownSyscall {
                abi: Some(abi),
                nr: Some(nr),
                count,
            }),
        }
    }
    if out_of_range > 0 {
        unknown.push(UnknownSyscall {
            abi: None,
            nr: None,
            count: out_of_range,
        });
    }
    unknown.sort();
    (named, unknown)
}

#[cfg(test)]
mod tests;
