//! `trace mark NAME`: tells the session recording the exercise that step NAME starts now
//! (docs/coverage.md). Waits until the session took the mark, so that what the exercise does next
//! belongs to the new step.

use std::path::PathBuf;
use std::time::Duration;

use super::MarkArgs;
use crate::session::mark::{MARK_ENV, send};

/// How long the session may take to answer (it drains the probe's records first).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn run(args: &MarkArgs) -> anyhow::Result<i32> {
    let Some(socket) = std::env::var_os(MARK_ENV).filter(|s| !s.is_empty()) else {
        note!(
            "trace: {MARK_ENV} is not set (the exercise does not run under trace): step {} not marked",
            args.name
        );
        return Ok(0);
    };
    send(&PathBuf::from(socket), &args.name, ANSWER_TIMEOUT)
        .map_err(|why| anyhow::anyhow!("step {} not marked: {why}", args.name))?;
    note!("trace: step {} marked", args.name);
    Ok(0)
}
