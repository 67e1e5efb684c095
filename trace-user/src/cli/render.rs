//! `trace render`: profiles from a saved recording.

use std::path::{Path, PathBuf};

use super::RenderArgs;
use crate::recording::Recording;
use crate::{out, render};

pub(super) fn run(args: &RenderArgs) -> anyhow::Result<i32> {
    let (recording, dir) = load(&args.recording, args.out.as_deref())?;
    for file in render::profiles_and_advice(&recording, &args.profile.options()) {
        let written = out::write_atomic(&dir, file.file_name, file.contents.as_bytes())?;
        showln!("{}", written.display());
    }
    Ok(0)
}

/// Reads a saved recording and prepares the output directory: `out`, or the recording's own.
pub(super) fn load(path: &Path, out: Option<&Path>) -> anyhow::Result<(Recording, PathBuf)> {
    let recording = Recording::read(path)?;
    let dir = match out {
        Some(dir) => dir,
        None => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    };
    out::prepare_dir(dir)?;
    Ok((recording, dir.to_path_buf()))
}
