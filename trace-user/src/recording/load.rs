//! Reading and writing recording.json, and reading older schema versions.

use std::io::Read;
use std::path::Path;

use super::{Category, Invalid, Recording, SCHEMA_NAME, SCHEMA_VERSION, SourcesError};

/// The largest recording.json trace reads: 64 MiB, several times a recording of a container that
/// used 200,000 files. Reading holds a few times the file's size in memory.
pub const MAX_RECORDING_BYTES: u64 = 64 << 20;

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
        "{path}: recording schema version {found} is not supported (this trace reads versions 1 to {SCHEMA_VERSION}); use a newer trace"
    )]
    UnsupportedVersion {
        /// The file.
        path: String,
        /// The version found.
        found: u64,
    },
    /// A merged recording whose `sources` and `provenance` do not agree (v4).
    #[error("{path}: inconsistent sources or provenance")]
    Sources {
        /// The file.
        path: String,
        /// What is inconsistent.
        #[source]
        source: SourcesError,
    },
    /// Some other JSON document.
    #[error("{path}: not a trace recording (no \"schema\": \"{SCHEMA_NAME}\")")]
    NotARecording {
        /// The file.
        path: String,
    },
    /// A field no trace run could have written.
    #[error("{path}: not a valid trace recording: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        #[source]
        source: Invalid,
    },
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_RECORDING_BYTES`].
    #[error(
        "{path}: larger than the {} MiB a recording may be",
        MAX_RECORDING_BYTES >> 20
    )]
    TooLarge {
        /// The file.
        path: String,
    },
}

/// The fields read before the rest, to tell what the document is (the others are skipped, not
/// kept).
#[derive(serde::Deserialize)]
struct Header {
    schema: Option<serde_json::Value>,
    schema_version: Option<serde_json::Value>,
}

impl Recording {
    /// Parses a recording, checking its schema name and version first so that a recording from a
    /// newer trace gets a clear error rather than a confusing field error. `path` names the source
    /// in errors.
    ///
    /// Version 1 (syscalls only) is converted on load: it reads as a version 2 recording whose
    /// `events.recorded` is just `syscalls`, so renderers say that files, programs, capabilities
    /// and sockets were not recorded. Versions 2 to 7 lack only optional fields (`startup`,
    /// `sources`, `provenance`, `container.config`, `runc_capabilities`, `identity`, `lives`,
    /// `container.config.process`, `steps`, `included_syscalls`, `reach`). A merged recording's `sources` and `provenance` are checked
    /// with [`Recording::check_sources`].
    pub fn from_json(text: &str, path: &str) -> Result<Recording, RecordingError> {
        let malformed = |source| RecordingError::Malformed {
            path: path.to_owned(),
            source,
        };
        let not_a_recording = || RecordingError::NotARecording {
            path: path.to_owned(),
        };
        let header: Header = serde_json::from_str(text).map_err(malformed)?;
        if header.schema.as_ref().and_then(serde_json::Value::as_str) != Some(SCHEMA_NAME) {
            return Err(not_a_recording());
        }
        let version = header
            .schema_version
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(not_a_recording)?;
        // Versions 2 to 7 lack only optional fields; version 1 also the kinds of observation.
        let mut recording: Recording = match version {
            1..=7 => serde_json::from_str(text).map_err(malformed)?,
            v if v == u64::from(SCHEMA_VERSION) => serde_json::from_str(text).map_err(malformed)?,
            found => {
                return Err(RecordingError::UnsupportedVersion {
                    path: path.to_owned(),
                    found,
                });
            }
        };
        if version == 1 {
            recording.events.recorded = [Category::Syscalls].into();
        }
        recording.schema_version = SCHEMA_VERSION;
        recording
            .check_sources()
            .map_err(|source| RecordingError::Sources {
                path: path.to_owned(),
                source,
            })?;
        recording
            .validate()
            .map_err(|source| RecordingError::Invalid {
                path: path.to_owned(),
                source,
            })?;
        Ok(recording)
    }

    /// Reads and parses the recording at `path` (see [`Recording::from_json`]), refusing one
    /// larger than [`MAX_RECORDING_BYTES`].
    pub fn read(path: &Path) -> Result<Recording, RecordingError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| RecordingError::Read {
            path: shown.clone(),
            source,
        })?;
        Recording::read_from(file, &shown)
    }

    /// Reads and parses a recording from `input` (standard input, ...), named `shown` in errors,
    /// with the same limit as [`Recording::read`].
    pub fn read_from(input: impl Read, shown: &str) -> Result<Recording, RecordingError> {
        let mut text = String::new();
        // One byte more than allowed tells an input that is too large, whatever its metadata says.
        input
            .take(MAX_RECORDING_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|source| RecordingError::Read {
                path: shown.to_owned(),
                source,
            })?;
        if text.len() as u64 > MAX_RECORDING_BYTES {
            return Err(RecordingError::TooLarge {
                path: shown.to_owned(),
            });
        }
        Recording::from_json(&text, shown)
    }

    /// The recording as pretty JSON with a trailing newline (maps are sorted, so output is stable).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a recording always serializes");
        text.push('\n');
        text
    }
}
