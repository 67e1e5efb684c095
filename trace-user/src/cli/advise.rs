//! `trace advise`: hardening advice from a saved recording, offline.

use super::{AdviseArgs, input};
use crate::out;
use crate::render::{self, advice, coverage};

pub(super) fn run(args: &AdviseArgs) -> anyhow::Result<i32> {
    let (recording, dir) = input::recording_and_dir(&args.recording, args.out.as_deref())?;
    // The advice names the seccomp and AppArmor profiles of the format: write them there too
    // (not files.txt nor the coverage report).
    let mut markdown = String::new();
    let options = args.profile.options();
    let (selected, left_out) = render::selected(&recording, &options)?;
    if let Some(line) = render::left_out_note(&left_out) {
        note!("trace: {line}");
    }
    for file in render::profiles_and_advice(&selected, &options) {
        if [
            render::FILES_FILE,
            coverage::COVERAGE_FILE,
            coverage::COVERAGE_JSON_FILE,
        ]
        .contains(&file.file_name)
        {
            continue;
        }
        let written = out::write_atomic(&dir, file.file_name, file.contents.as_bytes())?;
        note!("trace: wrote {}", written.display());
        if file.file_name == advice::HARDENING_FILE {
            markdown = file.contents;
        }
    }
    show!("{markdown}");
    Ok(0)
}
