//! One recording session: wait for the first stop condition while the probe records, showing live
//! progress on a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::process::Child;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::ingest;
use crate::probe::{EventReader, Probe, ProbeEvent};
use crate::recording::{Recording, StopReason};
use crate::target::docker;

/// How often the container's state is checked and the progress line redrawn.
const TICK: Duration = Duration::from_millis(500);
/// How long a still-running exercise gets after SIGTERM before SIGKILL.
const EXERCISE_GRACE: Duration = Duration::from_secs(5);

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
        tokio::select! {
            _ = self.interrupt.recv() => 128 + libc::SIGINT,
            _ = self.terminate.recv() => 128 + libc::SIGTERM,
        }
    }
}

/// What ended the session.
#[derive(Debug)]
pub struct Outcome {
    /// Why recording stopped.
    pub reason: StopReason,
    /// The exit code trace should return.
    pub exit_code: i32,
}

/// What a session watches and fills.
pub struct Watched<'a> {
    /// The Docker API, to notice the container stopping.
    pub docker: &'a bollard::Docker,
    /// The container.
    pub container_id: &'a str,
    /// The attached probe (its counters feed the progress line).
    pub probe: &'a Probe,
    /// Its events, when it has any.
    pub events: Option<&'a mut EventReader>,
    /// Where the events go.
    pub recording: &'a mut Recording,
}

/// An exercise running while the session records: resolves to its exit code.
pub type Exercise<'a> = std::pin::Pin<&'a mut (dyn std::future::Future<Output = i32> + 'a)>;

/// Waits for the first of: the exercise ends, `duration` elapses, SIGINT/SIGTERM, the container
/// stops, feeding the probe's events into the recording meanwhile (and once more at the end).
pub async fn wait_for_stop(
    watched: Watched<'_>,
    exercise: Option<Exercise<'_>>,
    duration: Option<Duration>,
    signals: &mut StopSignals,
) -> Outcome {
    let Watched {
        docker,
        container_id,
        probe,
        mut events,
        recording,
    } = watched;
    let started = Instant::now();
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut progress = Progress::new();
    let mut ticker = tokio::time::interval(TICK);
    let exercise_exit = async {
        match exercise {
            Some(exercise) => exercise.await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(exercise_exit);
    let mut batch = Vec::new();
    let outcome = loop {
        tokio::select! {
            status = &mut exercise_exit => {
                break Outcome { reason: StopReason::CommandExited { status }, exit_code: status };
            }
            () = sleep_until(deadline) => break Outcome { reason: StopReason::Duration, exit_code: 0 },
            _ = signals.interrupt.recv() => break signal_outcome("SIGINT", libc::SIGINT),
            _ = signals.terminate.recv() => break signal_outcome("SIGTERM", libc::SIGTERM),
            _ = readable(events.as_deref_mut()) => drain(events.as_deref_mut(), &mut batch, recording),
            _ = ticker.tick() => {
                if !docker::is_running(docker, container_id).await.unwrap_or(true) {
                    break Outcome { reason: StopReason::ContainerExited, exit_code: 0 };
                }
                progress.draw(started, probe, recording);
            }
        }
    };
    drain(events, &mut batch, recording);
    progress.finish();
    outcome
}

async fn readable(events: Option<&mut EventReader>) -> std::io::Result<()> {
    match events {
        Some(reader) => reader.readable().await,
        None => std::future::pending().await,
    }
}

/// Moves every event the kernel has sent into the recording.
fn drain(events: Option<&mut EventReader>, batch: &mut Vec<ProbeEvent>, recording: &mut Recording) {
    if let Some(reader) = events {
        reader.read_ready(batch);
        for event in batch.drain(..) {
            ingest::event(recording, &event);
        }
    }
}

fn signal_outcome(name: &str, signo: i32) -> Outcome {
    Outcome {
        reason: StopReason::Signal {
            signal: name.to_owned(),
        },
        exit_code: 128 + signo,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Waits for a host process and returns its exit code (127 when waiting fails).
pub async fn wait_child(child: &mut Child) -> i32 {
    child.wait().await.map_or(127, exit_code)
}

/// A process's exit status as a shell reports it (128 + signal for a killed process).
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// Terminates an exercise that is still running (SIGTERM, then SIGKILL after a grace period).
pub async fn finish_exercise(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: kill(2) with a pid we spawned and have not reaped; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    if tokio::time::timeout(EXERCISE_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// The live progress line on stderr, drawn only when stderr is a terminal.
struct Progress {
    enabled: bool,
    drawn: bool,
}

impl Progress {
    fn new() -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    fn draw(&mut self, started: Instant, probe: &Probe, recording: &Recording) {
        if !self.enabled {
            return;
        }
        let Ok(counts) = probe.syscall_counts() else {
            return;
        };
        let distinct = counts.counts.len();
        let calls: u64 = counts.counts.values().sum();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[Ktrace: {:.1}s, {distinct} distinct syscalls, {calls} calls, {} files",
            started.elapsed().as_secs_f64(),
            recording.files.len()
        );
        let _ = err.flush();
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}
