//! Pure functions from a recording to the files trace writes. Same recording, same bytes.
//! One module per output: [`seccomp`], [`apparmor`], [`files`], and the [`summary`] printed after a
//! recording.

pub mod advice;
pub mod apparmor;
pub mod files;
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
/// Name of the AppArmor profile.
pub const APPARMOR_FILE: &str = "apparmor.profile";
/// Name of the used-file list.
pub const FILES_FILE: &str = "files.txt";

/// Every profile rendered from `recording` (not the recording itself), in a fixed order:
/// seccomp.json, apparmor.profile, files.txt.
pub fn profiles(recording: &Recording) -> Vec<Rendered> {
    vec![
        Rendered {
            file_name: SECCOMP_FILE,
            contents: seccomp::render(recording),
        },
        Rendered {
            file_name: APPARMOR_FILE,
            contents: apparmor::render(recording),
        },
        Rendered {
            file_name: FILES_FILE,
            contents: files::render(recording),
        },
    ]
}

/// Every profile (see [`profiles`]) and the hardening advice ([`advice`]) for profiles in `dir`
/// (named absolute in the advised flags when it exists, so they work from any directory).
pub fn profiles_and_advice(recording: &Recording, dir: &std::path::Path) -> Vec<Rendered> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut files = profiles(recording);
    files.extend(advice::render(recording, &dir.to_string_lossy()));
    files
}

#[cfg(test)]
mod tests;
