//! `cargo xtask runtime-baseline [--runtime crun]` (also `runc-baseline`): measure which calls of
//! an OCI runtime's baseline the runtime really needs.
//!
//! Every profile trace writes allows the baseline of the runtime that started the container
//! (`RUNC_BASELINE` in trace-user/src/platform/runc.rs, `CRUN_BASELINE` in .../crun.rs, each held
//! by a unit test to the JSON this writes): calls the runtime makes in the container's process
//! after it has installed the seccomp filter and before it executes the entrypoint. This measures
//! that set on the Docker engine of this machine, with the runtime Docker knows by `--runtime`
//! (runc, or crun, which `cargo xtask setup` adds), in both of its modes (default, and
//! `no-new-privileges`, where the runtime installs the filter later). Below, "runc" stands for
//! whichever runtime is measured:
//!
//! 1. the real profile: `trace render` of a recording with no system calls at all, so that it
//!    allows the baseline and nothing else; busybox `true` must start under it every time;
//! 2. leave-one-out: the same profile without one baseline call at a time, started `--starts` times
//!    per mode;
//! 3. the reverse check, run first: the payload (the image's `/bin/true`) run on the host under
//!    strace, with the profile's refusals injected (every call outside it fails with `EPERM`, the
//!    `ENOSYS` rule's calls with `ENOSYS`), once with the whole profile and once per left-out call.
//!    A call that fails the payload there is needed by the payload itself, whatever runc does.
//!
//! A failed start is put down to runc when docker reports a runc error ("OCI runtime ... failed") or
//! another daemon error, or when the container exits differently from the payload under strace
//! (runc's init process writes its errors to the container's stderr once `docker start` has begun,
//! which is always the case with `no-new-privileges`). It is put down to the payload when it exits
//! exactly as the payload did under strace (status and first line of stderr).
//!
//! Prints a table to stdout and writes the results as JSON (default `bench/RUNTIME-baseline.json`).
//! Fails if a start under the whole baseline failed.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use trace_tests::{TestImage, ensure_image, workspace_root};

use crate::cli::RuncBaselineArgs;
use crate::cmd::{self, cargo, one_line, target_dir};

mod outcome;
mod profile;
mod report;
mod starts;
mod strace;
#[cfg(test)]
mod tests;

use outcome::{Culprit, Exit, Failure, Mode, Tally};
use profile::{baseline_names, render_empty_profile, variant, without};
use report::{results_json, table};
use starts::{jobs, start_all};
use strace::{needed_by, payload_check};

/// The recording the empty profile is rendered from (its calls and unknown calls are cleared).
const FIXTURE: &str = "trace-user/tests/data/recording-v1.json";
/// How the baseline rule's comment starts in a rendered profile.
const BASELINE_COMMENT: &str = " baseline: ";
/// The payload: `docker run IMAGE true` finds it here in the test image.
const PAYLOAD: &str = "/bin/true";
/// The environment Docker gives a container of an image without `ENV`.
const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Docker 20.10 ignores `defaultErrnoRet`: calls outside the profile fail with EPERM.
const EPERM: u64 = 1;
/// Print a progress line after this many starts.
const PROGRESS_EVERY: usize = 50;

/// One profile to start under: the whole baseline, or the baseline without `removed`.
struct Variant {
    removed: Option<String>,
    path: PathBuf,
    tallies: [Tally; 2],
    /// The reverse check: `Ok(None)` when the payload runs under this profile, `Ok(Some(exit))`
    /// when it fails, `Err(why)` when it could not be checked.
    payload: Result<Option<Exit>, String>,
}

pub fn run(args: &RuncBaselineArgs) -> Result<()> {
    let started = Instant::now();
    let full_starts = args.full_starts.unwrap_or(args.starts);
    if args.starts == 0 || full_starts == 0 || args.jobs == 0 {
        bail!("--starts, --full-starts and --jobs must be at least 1");
    }
    cmd::run(cargo().args(["build", "-p", "trace-user", "--bin", "trace"]))?;
    let trace = target_dir().join("debug/trace");
    let image = match &args.image {
        Some(tag) => tag.clone(),
        None => ensure_image(TestImage::Busybox)?,
    };
    let dir = target_dir().join(format!("{}-baseline", args.runtime));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let profile = render_empty_profile(&trace, &dir, &args.runtime)?;
    let baseline = baseline_names(&profile)?;
    eprintln!(
        "runtime-baseline: {} calls in the baseline of `trace render`; image {image}",
        baseline.len()
    );
    let mut variants = vec![variant(&dir, "full", None, &profile)?];
    for name in &baseline {
        let without = without(&profile, name)?;
        variants.push(variant(
            &dir,
            &format!("without-{name}"),
            Some(name),
            &without,
        )?);
    }

    // 3. The payload on its own, first: the failed starts are told apart with it.
    match payload_check(&image, &dir, &variants) {
        Ok(results) => {
            for (variant, result) in variants.iter_mut().zip(results) {
                variant.payload = Ok(result);
            }
        }
        Err(e) => {
            let why = one_line(&e);
            eprintln!("runtime-baseline: payload check skipped: {why}");
            for variant in &mut variants {
                variant.payload = Err(why.clone());
            }
        }
    }

    // 1. The whole baseline: every start must succeed.
    let phase = Instant::now();
    let full_jobs: Vec<(usize, Mode)> = jobs(0..1, full_starts);
    start_all(&image, &args.runtime, &mut variants, &full_jobs, args.jobs)?;
    let full_ok = variants[0].tallies.iter().all(|t| t.failed() == 0);
    for mode in Mode::ALL {
        let tally = &variants[0].tallies[mode as usize];
        if tally.failed() > 0 {
            eprintln!(
                "runtime-baseline: FAILURE: {} of {} starts failed under the FULL baseline ({} mode):",
                tally.failed(),
                tally.starts,
                mode.key()
            );
            for (failure, n) in &tally.failures {
                eprintln!(
                    "runtime-baseline:   {n}x {}: {}",
                    failure.culprit.key(&args.runtime),
                    failure.text
                );
            }
        }
    }
    let full_secs = phase.elapsed().as_secs_f64();
    eprintln!("runtime-baseline: full baseline: {full_starts} starts per mode in {full_secs:.1} s");

    // 2. Leave-one-out.
    let phase = Instant::now();
    let loo_jobs = jobs(1..variants.len(), args.starts);
    start_all(&image, &args.runtime, &mut variants, &loo_jobs, args.jobs)?;
    let loo_secs = phase.elapsed().as_secs_f64();

    print!("{}", table(&variants, &args.runtime));
    let elapsed = started.elapsed().as_secs_f64();
    let out = workspace_root().join(args.out());
    let json = results_json(&image, args, full_starts, &variants, [full_secs, loo_secs]);
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(&json).expect("a JSON value serializes") + "\n";
    fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "runtime-baseline: {} starts in {elapsed:.1} s (full baseline {full_secs:.1} s, leave-one-out \
         {loo_secs:.1} s); wrote {}",
        full_jobs.len() + loo_jobs.len(),
        args.out().display()
    );
    if !full_ok {
        bail!(
            "busybox did not always start under the full {} baseline (see above)",
            args.runtime
        );
    }
    Ok(())
}
