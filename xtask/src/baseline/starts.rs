//! Starting busybox under each profile, many starts at once.

use super::{Failure, Mode, PROGRESS_EVERY, Variant};
use anyhow::Result;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use trace_tests::docker;

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

/// Runs `docker run --rm --security-opt seccomp=PROFILE [nnp] IMAGE true` for every job, `parallel`
/// at a time, and adds the outcomes to the variants' tallies.
pub(super) fn start_all(
    image: &str,
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
                        let mut args = vec!["run", "--rm", "--security-opt", &paths[v]];
                        args.extend_from_slice(mode.docker_args());
                        args.extend([image, "true"]);
                        let output = docker(&args)?;
                        let failure =
                            (!output.status.success()).then(|| Failure::of(&output, &payloads[v]));
                        outcomes
                            .lock()
                            .expect("no worker panics holding the lock")
                            .push((v, mode, failure));
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if n.is_multiple_of(PROGRESS_EVERY) || n == jobs.len() {
                            eprintln!(
                                "runc-baseline: {n}/{} starts ({:.1} s)",
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
