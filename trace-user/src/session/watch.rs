//! What a session waits on besides its events: SIGINT and SIGTERM, the deadline, and the live
//! progress line on a terminal.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::recording::StopReason;

/// SIGINT and SIGTERM, installed before anything is attached so that neither can kill trace
/// between attaching and writing.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    /// Installs the handlers (needs a tokio runtime).
    pub fn install() -> std::io::Result<Self> {
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for SIGINT or SIGTERM; returns the exit code trace should give (128 + signal).
    pub async fn received(&mut self) -> i32 {
        self.stop().await.exit_code
    }

    /// Waits for SIGINT or SIGTERM; returns the outcome it makes.
    pub async fn stop(&mut self) -> Outcome {
        tokio::select! {
            _ = self.interrupt.recv() => signal_outcome("SIGINT", libc::SIGINT),
            _ = self.terminate.recv() => signal_outcome("SIGTERM", libc::SIGTERM),
        }
    }
}

/// What ended the recording.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Why recording stopped.
    pub reason: StopReason,
    /// The exit code of what stopped it: the exercise's status, 128 + a signal, else 0.
    pub exit_code: i32,
}

fn signal_outcome(name: &str, signo: i32) -> Outcome {
    Outcome {
        reason: StopReason::Signal {
            signal: name.to_owned(),
        },
        exit_code: 128 + signo,
    }
}

/// Sleeps until `deadline`, or forever without one.
pub async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// How often the containers' states are checked and the progress line redrawn.
pub const TICK: Duration = Duration::from_millis(500);

/// The live progress line on stderr (see `crate::term`: only on a terminal, not with `--quiet`).
#[derive(Debug, Default)]
pub struct Progress {
    live: crate::term::Live,
}

impl Progress {
    /// A progress line starting now.
    pub fn new() -> Self {
        Progress::default()
    }

    /// Redraws the line: the time so far, the containers recorded and the files seen.
    pub fn draw(&mut self, containers: usize, running: usize, files: usize) {
        self.live.set(&format!(
            "trace: {:.1}s, {containers} containers recorded ({running} running), {files} files",
            self.live.elapsed().as_secs_f64(),
        ));
    }

    /// Ends the line.
    pub fn finish(&mut self) {
        self.live.finish();
    }
}
