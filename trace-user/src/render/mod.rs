//! Pure functions from a recording to the files trace writes. Same recording, same bytes.

pub mod seccomp;
pub mod summary;

use crate::recording::Recording;

/// One rendered output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// File name inside the output directory.
    pub file_name: &'static str,
    /// Its contents.
    pub contents: String,
}

/// Name of the recording file in an output directory.
pub const RECORDING_FILE: &str = "recording.json";
/// Name of the seccomp profile.
pub const SECCOMP_FILE: &str = "seccomp.json";

/// Every profile rendered from `recording` (not the recording itself), in a fixed order.
pub fn profiles(recording: &Recording) -> Vec<Rendered> {
    vec![Rendered {
        file_name: SECCOMP_FILE,
        contents: seccomp::render(recording),
    }]
}

#[cfg(test)]
mod tests;
