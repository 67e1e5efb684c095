//! `trace check --against DIR RECORDING.json`: drift of a recording from committed profiles.
//! Exit status: 0 everything observed is allowed, 1 drift, 2 the check could not be made (a
//! missing or malformed file; clap's usage errors are 2 as well).

use super::CheckArgs;
use crate::check;

/// Exit status when the check could not be made.
pub const EXIT_ERROR: i32 = 2;

pub(super) fn run(args: &CheckArgs) -> i32 {
    let result = (|| {
        let recording = check::read_recording(&args.recording)?;
        let committed = check::load_committed(&args.against)?;
        Ok::<_, anyhow::Error>(check::report(
            &recording,
            &committed,
            &args.against,
            args.strict,
            args.format == "json",
        ))
    })();
    match result {
        Ok(code) => code,
        Err(e) => {
            say!("trace: error: {e:#}");
            EXIT_ERROR
        }
    }
}
