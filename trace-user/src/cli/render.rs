//! `trace render`: profiles from a saved recording.

use super::RenderArgs;
use super::input;
use crate::{out, render};

pub(super) fn run(args: &RenderArgs) -> anyhow::Result<i32> {
    let (recording, dir) = input::recording_and_dir(&args.recording, args.out.as_deref())?;
    let options = args.profile.options();
    if !options.include_syscalls.is_empty() {
        // The recording keeps what was included on purpose, so that it renders the same again.
        let mut kept = recording.clone();
        kept.include_syscalls(&options.include_syscalls);
        let written = out::write_atomic(&dir, render::RECORDING_FILE, kept.to_json().as_bytes())?;
        showln!("{}", written.display());
    }
    let (selected, left_out) = render::selected(&recording, &options)?;
    if let Some(line) = render::left_out_note(&left_out) {
        note!("trace: {line}");
    }
    for file in render::profiles_and_advice(&selected, &options) {
        let written = out::write_atomic(&dir, file.file_name, file.contents.as_bytes())?;
        showln!("{}", written.display());
    }
    Ok(0)
}
