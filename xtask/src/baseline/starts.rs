//! Starting busybox under each profile, many starts at once.

use super::{Failure, Mode, PROGRESS_EVERY, Variant};
use anyhow::{Context, Result};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use std::time::Instant;
use trace_tests::docker;

/// How long one start may take: a runtime whose init died under the profile can leave its
/// `start` waiting forever for the init (crun 1.8 without `pselect6`).
const START_DEADLINE: Duration = Duration::from_secs(30);

/// Numbers the containers of this process.
static NEXT_NAME: AtomicUsize = AtomicUsize::new(0);

/// `starts` starts of each of the variants `range`, in both modes, interleaved so that concurrent
/// starts mix profiles and modes.
pub(super) fn jobs(range: std::ops::Range<usize>, starts: u32) -> Vec<(usize, Mode)> {
    let mut jobs = Vec::new();
    for _ in 0..starts {
        for v in range.clone() {
            for mode in Mode::ALL {
                jobs.push((v, mode));
            }
        }
    }
    jobs
}

/// Runs `docker run --rm --runtime RUNTIME --security-opt seccomp=PROFILE [nnp] IMAGE true` for
/// every job, `parallel`
/// at a time, and adds the outcomes to the variants' tallies.
pub(super) fn start_all(
    image: &str,
    runtime: &str,
    variants: &mut [Variant],
    jobs: &[(usize, Mode)],
    parallel: u32,
) -> Result<()> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Mode, Option<Failure>)>> = Mutex::new(Vec::new());
    let paths: Vec<String> = variants
        .iter()
        .map(|v| format!("seccomp={}", v.path.display()))
        .collect();
    let payloads: Vec<_> = variants.iter().map(|v| v.payload.clone()).collect();
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some(&(v, mode)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let n = NEXT_NAME.fetch_add(1, Ordering::Relaxed);
                        let name = format!("trace-baseline-{}-{n}", std::process::id());
                        let mut args = vec![
                            "run",
                            "--rm",
                            "--name",
                            &name,
                            "--runtime",
                            runtime,
                            "--security-opt",
                            &paths[v],
                        ];
                        args.extend_from_slice(mode.docker_args());
                        args.extend([image, "true"]);
                        let failure = match start_within(&args, &name, runtime)? {
                            Some(output) => (!output.status.success())
                                .then(|| Failure::of(&output, &payloads[v])),
                            None => Some(Failure::hung(runtime, START_DEADLINE)),
                        };
                        outcomes
                            .lock()
                            .expect("no worker panics holding the lock")
                            .push((v, mode, failure));
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if n.is_multiple_of(PROGRESS_EVERY) || n == jobs.len() {
                            eprintln!(
                                "runtime-baseline: {n}/{} starts ({:.1} s)",
                                jobs.len(),
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a start worker panicked")?;
        }
        Ok(())
    })?;
    for (v, mode, failure) in outcomes.into_inner().expect("workers are done") {
        let tally = &mut variants[v].tallies[mode as usize];
        tally.starts += 1;
        if let Some(failure) = failure {
            *tally.failures.entry(failure).or_default() += 1;
        }
    }
    Ok(())
}

/// Runs `docker ARGS...` (a `docker run --name NAME`); its output, or `None` when it did not end
/// within [`START_DEADLINE`]: the runtime's `start` of that container is then killed (by its pid,
/// found by the container's id on its command line) and the container removed.
fn start_within(args: &[&str], name: &str, runtime: &str) -> Result<Option<Output>> {
    let mut child = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run docker")?;
    let started = Instant::now();
    while started.elapsed() < START_DEADLINE {
        if child.try_wait()?.is_some() {
            return Ok(Some(child.wait_with_output()?));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = docker(&["inspect", "--format", "{{.Id}}", name])?;
    let id = String::from_utf8_lossy(&id.stdout).trim().to_owned();
    if !id.is_empty() {
        for pid in runtime_starts(runtime, &id) {
            // SAFETY: kill(2) with a pid read from /proc and a valid signal number.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = child.wait();
    let _ = docker(&["rm", "-f", name]);
    Ok(None)
}

/// The pids of `RUNTIME ... start ID` processes.
fn runtime_starts(runtime: &str, id: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let program = std::path::Path::new(std::str::from_utf8(argv.first()?).ok()?);
            let starts = program.file_name()? == runtime
                && argv
                    .windows(2)
                    .any(|w| w[0] == b"start" && w[1] == id.as_bytes());
            starts.then_some(pid)
        })
        .collect()
}
