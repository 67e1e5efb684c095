//! Reading and writing recording.json, and reading older schema versions.

use super::{Category, Recording, SCHEMA_NAME, SCHEMA_VERSION, SourcesError};

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
}

impl Recording {
    /// Parses a recording, checking its schema name and version first so that a recording from a
    /// newer trace gets a clear error rather than a confusing field error. `path` names the source
    /// in errors.
    ///
    /// Version 1 (syscalls only) is converted on load: it reads as a version 2 recording whose
    /// `events.recorded` is just `syscalls`, so renderers say that files, programs, capabilities
    /// and sockets were not recorded. Versions 2 to 4 lack only optional fields (`startup`,
    /// `sources`, `provenance`, `container.config`, `runc_capabilities`, `identity`). A merged recording's `sources` and `provenance` are checked with
    /// [`Recording::check_sources`].
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
        let version = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| RecordingError::NotARecording {
                path: path.to_owned(),
            })?;
        let mut recording: Recording = match version {
            1 => {
                let mut recording: Recording = serde_json::from_value(value).map_err(malformed)?;
                recording.events.recorded = [Category::Syscalls].into();
                recording
            }
            // Versions 2 to 5 lack only optional fields.
            2..=5 => serde_json::from_value(value).map_err(malformed)?,
            v if v == u64::from(SCHEMA_VERSION) => {
                serde_json::from_value(value).map_err(malformed)?
            }
            found => {
                return Err(RecordingError::UnsupportedVersion {
                    path: path.to_owned(),
                    found,
                });
            }
        };
        recording.schema_version = SCHEMA_VERSION;
        recording
            .check_sources()
            .map_err(|source| RecordingError::Sources {
                path: path.to_owned(),
                source,
            })?;
        Ok(recording)
    }

    /// The recording as pretty JSON with a trailing newline (maps are sorted, so output is stable).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a recording always serializes");
        text.push('\n');
        text
    }
}
