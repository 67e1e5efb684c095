//! Pure functions from a recording to the files trace writes. Same recording, same bytes.
//! One module per output: [`seccomp`], [`apparmor`], [`files`], [`advice`], [`coverage`], and the
//! [`summary`] printed after a recording.

pub mod advice;
pub mod apparmor;
pub mod coverage;
pub mod files;
pub mod seccomp;
pub mod summary;

use crate::recording::{IncludedSyscall, LeftOut, MinRunsError, Recording};

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
/// Name of the Security Profiles Operator `SeccompProfile` (`--format spo`).
pub const SPO_SECCOMP_FILE: &str = "seccomp-profile.yaml";
/// Name of the Security Profiles Operator `AppArmorProfile` (`--format spo`).
pub const SPO_APPARMOR_FILE: &str = "apparmor-profile.yaml";

/// The format of the profiles (docs/formats.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Docker/Podman seccomp.json and an AppArmor profile.
    #[default]
    Docker,
    /// The OCI runtime spec's `LinuxSeccomp` as seccomp.json, and an AppArmor profile.
    Oci,
    /// Kubernetes Security Profiles Operator `SeccompProfile` and `AppArmorProfile` (YAML).
    Spo,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "docker" => Ok(Format::Docker),
            "oci" => Ok(Format::Oci),
            "spo" => Ok(Format::Spo),
            _ => Err(format!("unknown format {s:?} (docker, oci, spo)")),
        }
    }
}

/// How to render: the format, the seccomp options, and where the advice names the profiles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Output format.
    pub format: Format,
    /// Architectures and Docker-default-relative mode.
    pub seccomp: seccomp::SeccompOptions,
    /// The directory the advice names the profiles in (`--profile-path`), as written in its
    /// `docker run` line and compose snippet; `None`: relative to the output directory
    /// (`seccomp.json`), so the advice is the same wherever it is written.
    pub profile_path: Option<String>,
    /// Of a merged recording, only what was seen in at least this many of its runs goes into the
    /// profiles and the advice (`--min-runs`; 0 or 1: everything). Applied by [`selected`],
    /// before anything is rendered.
    pub min_runs: usize,
    /// System calls the profiles allow on purpose though not observed (`--include-syscall`),
    /// added to the recording by [`selected`] (and kept in recording.json by the commands that
    /// write it).
    pub include_syscalls: Vec<IncludedSyscall>,
}

/// The recording the profiles and the advice are rendered from: `recording` less what was seen
/// in fewer than `options.min_runs` of its runs ([`Recording::seen_in_at_least`]), with the
/// calls `options.include_syscalls` adds, and what that left out. The recording itself
/// (recording.json) is never filtered.
pub fn selected(
    recording: &Recording,
    options: &Options,
) -> Result<(Recording, LeftOut), MinRunsError> {
    let (mut selected, left_out) = recording.seen_in_at_least(options.min_runs)?;
    selected.include_syscalls(&options.include_syscalls);
    Ok((selected, left_out))
}

/// The note on what `--min-runs` left out, when it was given (more than 1).
pub fn left_out_note(left_out: &LeftOut) -> Option<String> {
    (left_out.min_runs > 1).then(|| {
        format!(
            "--min-runs {}: left out of the profiles what fewer of the {} runs saw: {}",
            left_out.min_runs, left_out.runs, left_out.items
        )
    })
}

/// Every profile rendered from `recording` with `options`, in a fixed order: the seccomp profile,
/// the AppArmor profile, files.txt.
pub fn profiles_with(recording: &Recording, options: &Options) -> Vec<Rendered> {
    let profile = seccomp::profile_with(recording, &options.seccomp);
    let files = Rendered {
        file_name: FILES_FILE,
        contents: files::render(recording),
    };
    match options.format {
        Format::Docker => vec![
            Rendered {
                file_name: SECCOMP_FILE,
                contents: seccomp::json_text(&profile),
            },
            Rendered {
                file_name: APPARMOR_FILE,
                contents: apparmor::render(recording),
            },
            files,
        ],
        Format::Oci => vec![
            Rendered {
                file_name: SECCOMP_FILE,
                contents: seccomp::json_text(&seccomp::oci::linux_seccomp(&profile)),
            },
            Rendered {
                file_name: APPARMOR_FILE,
                contents: apparmor::render(recording),
            },
            files,
        ],
        Format::Spo => {
            let name =
                seccomp::spo::object_name(&recording.container.name, &recording.container.id);
            let description = format!(
                "Written by trace from container {} (image {})",
                recording.container.name, recording.container.image
            );
            let mut seccomp_header = vec![format!(
                "Security Profiles Operator SeccompProfile written by trace from container {} (image {}).",
                recording.container.name, recording.container.image
            )];
            seccomp_header.extend(profile.syscalls.iter().filter_map(|rule| {
                Some(format!(
                    "{}: {}",
                    rule.names.join(" "),
                    rule.comment.as_ref()?
                ))
            }));
            let (apparmor, notes) =
                apparmor::spo::apparmor_profile(recording, name.clone(), description.clone());
            let mut apparmor_header = vec![format!(
                "Security Profiles Operator AppArmorProfile written by trace from container {} (image {}).",
                recording.container.name, recording.container.image
            )];
            apparmor_header.extend(notes);
            vec![
                Rendered {
                    file_name: SPO_SECCOMP_FILE,
                    contents: seccomp::spo::yaml_text(
                        &seccomp_header,
                        &seccomp::spo::seccomp_profile(&profile, name, description),
                    ),
                },
                Rendered {
                    file_name: SPO_APPARMOR_FILE,
                    contents: seccomp::spo::yaml_text(&apparmor_header, &apparmor),
                },
                files,
            ]
        }
    }
}

/// Every profile rendered from `recording` (not the recording itself) with the default options,
/// in a fixed order: seccomp.json, apparmor.profile, files.txt.
pub fn profiles(recording: &Recording) -> Vec<Rendered> {
    profiles_with(recording, &Options::default())
}

/// Every profile (see [`profiles_with`]), the hardening advice ([`advice`]) naming them as
/// `options.profile_path` says, and the coverage report ([`coverage`]). No I/O: the same
/// recording and options give the same bytes in any output directory.
pub fn profiles_and_advice(recording: &Recording, options: &Options) -> Vec<Rendered> {
    let mut files = profiles_with(recording, options);
    files.extend(advice::render(recording, options));
    files.extend(coverage::render(recording, options));
    files
}

#[cfg(test)]
mod formats_tests;
#[cfg(test)]
mod tests;
