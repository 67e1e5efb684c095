//! `trace render`: profiles from a saved recording.

use std::path::Path;

use anyhow::Context;

use super::RenderArgs;
use crate::recording::Recording;
use crate::{out, render};

pub(super) fn run(args: &RenderArgs) -> anyhow::Result<i32> {
    let path = &args.recording;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let recording = Recording::from_json(&text, &path.display().to_string())?;
    let dir = match &args.out {
        Some(dir) => dir.as_path(),
        None => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    };
    out::prepare_dir(dir)?;
    for file in render::profiles_with(&recording, &args.profile.options()) {
        let written = out::write_atomic(dir, file.file_name, file.contents.as_bytes())?;
        println!("{}", written.display());
    }
    Ok(0)
}
