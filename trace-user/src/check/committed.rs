//! Reading committed profiles and recordings from disk, and printing a drift report.

use std::path::Path;

use anyhow::Context;

use super::{Committed, apparmor, check, render_json, render_text, seccomp};
use crate::recording::Recording;
use crate::render;

/// Exit status when the recording fits the profiles.
pub const EXIT_OK: i32 = 0;
/// Exit status on drift.
pub const EXIT_DRIFT: i32 = 1;

/// Reads a recording.json.
pub fn read_recording(path: &Path) -> anyhow::Result<Recording> {
    Ok(Recording::read(path)?)
}

/// Prints the report of `recording` against `committed` on stdout; returns the exit status.
pub fn report(
    recording: &Recording,
    committed: &Committed,
    against: &Path,
    strict: bool,
    json: bool,
) -> i32 {
    let report = check(recording, committed, &against.display().to_string(), strict);
    if json {
        show!("{}", render_json(&report));
    } else {
        show!("{}", render_text(&report));
    }
    if report.drift { EXIT_DRIFT } else { EXIT_OK }
}
fn read_optional(dir: &Path, name: &str) -> anyhow::Result<Option<String>> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Reads the committed profiles of `dir`: seccomp.json (Docker or OCI) or seccomp-profile.yaml,
/// apparmor.profile or apparmor-profile.yaml, and recording.json when present. At least one
/// profile must be there.
pub fn load_committed(dir: &Path) -> anyhow::Result<Committed> {
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let mut committed = Committed::default();
    for name in [render::SECCOMP_FILE, render::SPO_SECCOMP_FILE] {
        if let Some(text) = read_optional(dir, name)? {
            let allowed = seccomp::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(name).display()))?;
            committed.seccomp = Some((name.to_owned(), allowed));
            break;
        }
    }
    if let Some(text) = read_optional(dir, render::APPARMOR_FILE)? {
        let rules = apparmor::parse(&text)
            .with_context(|| format!("{}", dir.join(render::APPARMOR_FILE).display()))?;
        committed.apparmor = Some((render::APPARMOR_FILE.to_owned(), "apparmor", rules));
    } else if let Some(text) = read_optional(dir, render::SPO_APPARMOR_FILE)? {
        let path = dir.join(render::SPO_APPARMOR_FILE);
        super::yaml_brackets(&text).with_context(|| format!("{}", path.display()))?;
        let profile = serde_norway::from_str(&text)
            .with_context(|| format!("{}: not an AppArmorProfile", path.display()))?;
        let rules = apparmor::from_spo(&profile).with_context(|| format!("{}", path.display()))?;
        committed.apparmor = Some((render::SPO_APPARMOR_FILE.to_owned(), "spo", rules));
    }
    anyhow::ensure!(
        committed.seccomp.is_some() || committed.apparmor.is_some(),
        "no profile to check against in {} (seccomp.json, seccomp-profile.yaml, apparmor.profile or apparmor-profile.yaml)",
        dir.display()
    );
    if dir.join(render::RECORDING_FILE).is_file() {
        let recording = read_recording(&dir.join(render::RECORDING_FILE))?;
        committed.recording = Some((render::RECORDING_FILE.to_owned(), recording));
    }
    Ok(committed)
}
