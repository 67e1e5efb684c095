//! `cargo xtask bench`: what tracing costs, side by side with an empty program (the floor),
//! bpftrace and strace, in one run (docs/bench.md).
//!
//! 1. setup, `trace` and the `floor` example built, the bench image (`trace-test/bench:local`:
//!    the static workload program `loop` and strace) and the nginx image;
//! 2. [`syscalls`]: the tight `getppid` loop, dd-like 1-byte reads and writes and a `stat` loop,
//!    timed from inside, in the traced container, in a neighbour container and on the host,
//!    under each configuration ([`tracers`]), in interleaved rounds;
//! 3. [`storm`]: 200,000 distinct files opened twice in a burst: every path recorded, none dropped;
//! 4. [`service`]: nginx and python's http.server under a loopback load ([`loadgen`]), requests
//!    per second untraced, under the floor and traced;
//! 5. the footprint of trace: peak RSS, CPU time, start to armed, rendering a 100,000-file
//!    recording;
//!
//! then a table on stdout and everything (raw samples included) in bench/results.json
//! ([`report`]).

mod cgroup;
mod cpus;
mod loadgen;
mod report;
mod service;
mod stats;
mod storm;
mod syscalls;
mod tracers;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use trace_tests::{Linking, TestImage, compile_c, ensure_image, is_root, workspace_root};

use crate::cli::{BenchArgs, BenchPart};
use crate::cmd::{self, cargo, target_dir};
use crate::setup;

/// How big each part is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sizes {
    /// Interleaved rounds of every system call configuration.
    pub rounds: u32,
    /// `getppid` calls per run (split into `batches`).
    pub getppid_calls: u64,
    /// Timed batches per run of a system call workload; the run's figure is its fastest batch
    /// (least CPU time): interference only adds time.
    pub batches: u64,
    /// 1-byte read+write pairs per timed dd run.
    pub dd_pairs: u64,
    /// `stat()` calls per timed run.
    pub stat_calls: u64,
    /// The same under strace (ptrace is ~100x slower).
    pub strace_getppid_calls: u64,
    /// See `strace_getppid_calls`.
    pub strace_dd_pairs: u64,
    /// See `strace_getppid_calls`.
    pub strace_stat_calls: u64,
    /// Distinct files of the storm.
    pub storm_files: u64,
    /// Files of the recording `trace render` renders.
    pub render_files: u64,
    /// Seconds of load per service run.
    pub service_secs: u64,
    /// Service rounds (one run per configuration each).
    pub service_rounds: u32,
    /// Concurrent connections per server, the target and its twin (python's http.server: at
    /// most 4).
    pub service_connections: usize,
}

impl Sizes {
    fn new(args: &BenchArgs) -> Self {
        let mut sizes = if args.quick {
            Sizes {
                rounds: 2,
                getppid_calls: 200_000,
                batches: 4,
                dd_pairs: 100_000,
                stat_calls: 50_000,
                strace_getppid_calls: 5_000,
                strace_dd_pairs: 2_500,
                strace_stat_calls: 2_500,
                storm_files: 2_000,
                render_files: 2_000,
                service_secs: 1,
                service_rounds: 1,
                service_connections: 4,
            }
        } else {
            Sizes {
                rounds: 15,
                getppid_calls: 5_000_000,
                batches: 50,
                dd_pairs: 2_500_000,
                stat_calls: 1_000_000,
                strace_getppid_calls: 50_000,
                strace_dd_pairs: 25_000,
                strace_stat_calls: 25_000,
                storm_files: 200_000,
                render_files: 100_000,
                service_secs: 1,
                service_rounds: 20,
                service_connections: 8,
            }
        };
        if let Some(rounds) = args.rounds {
            sizes.rounds = rounds.max(1);
        }
        if let Some(calls) = args.syscalls {
            sizes.getppid_calls = calls.max(10);
            sizes.dd_pairs = (calls / 2).max(10);
            sizes.stat_calls = (calls / 5).max(10);
        }
        sizes
    }
}

/// The programs and containers every part uses.
pub struct Bench {
    /// The `trace` binary under test.
    pub trace: PathBuf,
    /// Other trace binaries to compare with (`--baseline`).
    pub baseline: Vec<PathBuf>,
    /// The `floor` example: trace-ebpf's empty `sys_enter` program.
    pub floor: PathBuf,
    /// The workload program, built for the host.
    pub host_loop: PathBuf,
    /// The bench image's tag.
    pub image: String,
    /// The cargo profile `trace` was built with.
    pub profile: &'static str,
    pub sizes: Sizes,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if !is_root() {
        bail!("the bench needs root (eBPF and Docker): run `cargo xtask bench` as root");
    }
    setup::run()?;
    let profile = "release";
    cmd::run(cargo().args([
        "build",
        "--release",
        "-p",
        "trace-user",
        "--bin",
        "trace",
        "--example",
        "floor",
    ]))?;
    let image = ensure_image(TestImage::Bench)?;
    let host_loop = target_dir().join("bench/loop");
    compile_c(
        &workspace_root().join("tests/images/bench/loop.c"),
        &host_loop,
        Linking::Static,
    )
    .context("compiling the workload for the host")?;
    let bench = Bench {
        trace: target_dir().join(profile).join("trace"),
        floor: target_dir().join(profile).join("examples/floor"),
        baseline: args.baseline.clone(),
        host_loop,
        image,
        profile,
        sizes: Sizes::new(args),
    };
    let out = args.out.clone().unwrap_or_else(|| {
        if args.quick {
            target_dir().join("bench/results-quick.json")
        } else {
            workspace_root().join("bench/results.json")
        }
    });

    let part = |p| args.only.is_none_or(|only| only == p);
    let syscalls = if part(BenchPart::Syscalls) {
        Some(syscalls::run(&bench)?)
    } else {
        None
    };
    let (storm, render) = if part(BenchPart::Storm) {
        let storm = storm::run(&bench)?;
        let render = storm::render_time(&bench, &storm)?;
        (Some(storm), Some(render))
    } else {
        (None, None)
    };
    let service = if part(BenchPart::Service) {
        let outsider_ns = syscalls
            .as_ref()
            .and_then(syscalls::SyscallResults::outsider_ns);
        service::run(&bench, outsider_ns)?
    } else {
        Vec::new()
    };
    let results = report::Results::new(&bench, args, syscalls, storm, service, render);
    print!("{}", results.table());
    results.write(&out)?;
    eprintln!("bench: wrote {}", out.display());
    Ok(())
}

/// Runs `cmd` to completion, failing unless it exits with 0; returns its stdout.
pub fn output(cmd: &mut Command) -> Result<String> {
    let shown = cmd::show(cmd);
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A duration in milliseconds, for results.
#[allow(
    clippy::cast_precision_loss,
    reason = "milliseconds of a benchmark fit an f64"
)]
pub fn millis(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}
