//! Points 1 and 2 of the bench: system call cost under each configuration, for the traced
//! container, a neighbour container and the host, in interleaved rounds.
//!
//! Every round runs every configuration in a rotated order; a configuration starts its tracer,
//! runs each workload in the three locations side by side, pinned to one CPU (strace only in the
//! target), and stops it. The workload times itself (`loop`, tests/images/bench/loop.c): thread
//! CPU time and wall time around the timed calls, after a warm-up.

use std::process::Command;

use anyhow::{Context, Result};
use trace_tests::Container;

use super::Bench;
use super::cpus::Cpus;
use super::stats::{Summary, paired_differences};
use super::tracers::{self, Config, Target, Usage};

/// The workload program's path inside the bench image.
const LOOP_IN_IMAGE: &str = "/usr/local/bin/loop";
const STRACE_IN_IMAGE: &str = "/usr/bin/strace";

/// Where a workload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// In the container being traced.
    Target,
    /// In another container, not traced.
    Neighbour,
    /// On the host, outside any container.
    Host,
}

impl Location {
    pub const ALL: [Location; 3] = [Location::Target, Location::Neighbour, Location::Host];

    pub fn name(self) -> &'static str {
        match self {
            Location::Target => "target",
            Location::Neighbour => "neighbour",
            Location::Host => "host",
        }
    }
}

/// What the workload does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// A tight loop of `getppid()`.
    Getppid,
    /// 1-byte `read` of /dev/zero and `write` to /dev/null, as `dd bs=1` does.
    Dd,
    /// `stat()` of one path, again and again: a file call, which trace checks against the paths
    /// it has sent on every call (what nginx does 4 times per request): what a repeated file call
    /// costs, in the target and outside it.
    Stat,
}

impl Workload {
    pub const ALL: [Workload; 3] = [Workload::Getppid, Workload::Dd, Workload::Stat];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Getppid => "getppid",
            Workload::Dd => "dd bs=1",
            Workload::Stat => "stat",
        }
    }

    fn mode(self) -> &'static str {
        match self {
            Workload::Getppid => "getppid",
            Workload::Dd => "dd",
            Workload::Stat => "stat",
        }
    }

    /// Whether it makes plain calls (under the plain-call budgets), not file calls.
    pub fn is_plain(self) -> bool {
        matches!(self, Workload::Getppid | Workload::Dd)
    }
}

/// One timed run, as the workload printed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    pub syscalls: u64,
    pub wall_ns: u64,
    pub cpu_ns: u64,
}

impl Sample {
    /// Parses `syscalls=N wall_ns=N cpu_ns=N`.
    pub fn parse(line: &str) -> Option<Sample> {
        let mut fields = line.split_whitespace().map(|f| f.split_once('='));
        let mut next = |key: &str| match fields.next()? {
            Some((k, v)) if k == key => v.parse::<u64>().ok(),
            _ => None,
        };
        let sample = Sample {
            syscalls: next("syscalls")?,
            wall_ns: next("wall_ns")?,
            cpu_ns: next("cpu_ns")?,
        };
        (sample.syscalls > 0).then_some(sample)
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "ns and call counts of a run fit an f64"
    )]
    pub fn cpu_per_call(&self) -> f64 {
        self.cpu_ns as f64 / self.syscalls as f64
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "ns and call counts of a run fit an f64"
    )]
    pub fn wall_per_call(&self) -> f64 {
        self.wall_ns as f64 / self.syscalls as f64
    }
}

/// The runs of one (workload, location, configuration), one per round.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    pub workload: Workload,
    pub location: Location,
    pub config: Config,
    pub samples: Vec<Sample>,
}

/// What a series shows, against the untraced and floor series of the same rounds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub workload: Workload,
    pub location: Location,
    pub config: Config,
    /// Thread CPU time per call, ns.
    pub cpu_ns_per_call: Summary,
    /// Wall time per call, ns.
    pub wall_ns_per_call: Summary,
    /// Median CPU time per call over the untraced one's.
    pub ratio_cpu: f64,
    /// strace's rows (it runs alone): median wall time per call over the untraced median CPU
    /// time (the loops run side by side on one CPU, so their own wall time is mostly waiting).
    pub ratio_wall: Option<f64>,
    /// Paired per-round CPU ns per call above untraced.
    pub above_untraced_ns: Summary,
    /// Paired per-round CPU ns per call above the floor (none for the floor and untraced).
    pub above_floor_ns: Option<Summary>,
    /// Target rows: paired per-round CPU ns per call above the neighbour's run of the same
    /// configuration, which ran at the same time on the same CPU: what the configuration costs
    /// the traced container beyond what it costs everyone, without the machine's drift.
    pub above_neighbour_ns: Option<Summary>,
}

/// Everything the system call part measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyscallResults {
    pub series: Vec<Series>,
    pub rows: Vec<Row>,
    /// What each trace process used (its sessions here are short: one workload set each).
    pub trace_usage: Vec<Usage>,
}

impl SyscallResults {
    pub fn row(&self, workload: Workload, location: Location, config: Config) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.workload == workload && r.location == location && r.config == config)
    }

    /// The most trace added to a system call outside the target: the largest median, ns above
    /// untraced, of trace's neighbour and host rows, over every workload (the stat loop's
    /// included: a file call outside the target also runs the file programs' filter).
    pub fn outsider_ns(&self) -> Option<f64> {
        self.rows
            .iter()
            .filter(|r| r.config == Config::Trace && r.location != Location::Target)
            .map(|r| r.above_untraced_ns.median)
            .max_by(f64::total_cmp)
    }
}

/// Idle containers recorded besides the target by `trace, 8 targets`.
const IDLE_TARGETS: usize = 7;

pub fn run(bench: &Bench) -> Result<SyscallResults> {
    let target = Container::run(&bench.image, "trace-bench-target", &[], &[])?;
    let neighbour = Container::run(&bench.image, "trace-bench-neighbour", &[], &[])?;
    // Seven idle targets for `trace, 8 targets`: what the others pay must not grow with them.
    let idle = (0..IDLE_TARGETS)
        .map(|_| Container::run(&bench.image, "trace-bench-idle", &[], &[]))
        .collect::<Result<Vec<_>>>()?;
    let idle_names: Vec<&str> = idle.iter().map(Container::name).collect();
    let cgroup_dir = super::cgroup::dir(target.pid()?)?;
    // The workloads run side by side on the last CPU; tracers and Docker get the others.
    let cpus = Cpus::split()?;
    let cpu = cpus.measured_or_only();
    let _pinned = cpus.pin_rest()?;
    let out = tempfile::tempdir()?;
    let mut configs = vec![
        Config::Untraced,
        Config::Floor,
        Config::Trace,
        Config::TraceEight,
        Config::Bpftrace,
        Config::Strace,
    ];
    for (i, baseline) in Config::baselines(&bench.baseline).into_iter().enumerate() {
        configs.insert(3 + i, baseline);
    }
    let mut series: Vec<Series> = Vec::new();
    let mut trace_usage = Vec::new();
    let rounds = bench.sizes.rounds;
    for round in 0..rounds {
        let mut order = configs.clone();
        order.rotate_left(usize::try_from(round)? % configs.len());
        for config in order {
            let tracer_target = Target {
                name: target.name(),
                idle: &idle_names,
                cgroup_dir: Some(&cgroup_dir),
            };
            let session = tracers::start(bench, config, &tracer_target, out.path())?;
            let locations: &[Location] = if config == Config::Strace {
                &[Location::Target]
            } else {
                &Location::ALL
            };
            for workload in Workload::ALL {
                let containers = locations.iter().map(|location| match location {
                    Location::Target => Some(target.name()),
                    Location::Neighbour => Some(neighbour.name()),
                    Location::Host => None,
                });
                let commands: Vec<Command> = containers
                    .map(|container| workload_command(bench, container, workload, config, cpu))
                    .collect();
                let samples = run_side_by_side(commands)?;
                for (&location, sample) in locations.iter().zip(samples) {
                    eprintln!(
                        "bench: round {}/{rounds}: {:<12} {:<8} {:<9} {:7.1} ns/call cpu, {:7.1} wall",
                        round + 1,
                        config.name(),
                        workload.name(),
                        location.name(),
                        sample.cpu_per_call(),
                        sample.wall_per_call()
                    );
                    push_sample(&mut series, workload, location, config, sample);
                }
            }
            if let Some(session) = session {
                let (usage, _) = session.stop()?;
                if config == Config::Trace {
                    trace_usage.push(usage);
                }
            }
        }
    }
    let rows = rows(&series);
    Ok(SyscallResults {
        series,
        rows,
        trace_usage,
    })
}

fn push_sample(
    series: &mut Vec<Series>,
    workload: Workload,
    location: Location,
    config: Config,
    sample: Sample,
) {
    if let Some(s) = series
        .iter_mut()
        .find(|s| s.workload == workload && s.location == location && s.config == config)
    {
        s.samples.push(sample);
    } else {
        series.push(Series {
            workload,
            location,
            config,
            samples: vec![sample],
        });
    }
}

/// The command that runs the workload once (in `container`, or on the host), pinned to `cpu`
/// (strace: not pinned, one batch).
fn workload_command(
    bench: &Bench,
    container: Option<&str>,
    workload: Workload,
    config: Config,
    cpu: usize,
) -> Command {
    let strace = config == Config::Strace;
    let sizes = &bench.sizes;
    let count = match (workload, strace) {
        (Workload::Getppid, false) => sizes.getppid_calls,
        (Workload::Getppid, true) => sizes.strace_getppid_calls,
        (Workload::Dd, false) => sizes.dd_pairs,
        (Workload::Dd, true) => sizes.strace_dd_pairs,
        (Workload::Stat, false) => sizes.stat_calls,
        (Workload::Stat, true) => sizes.strace_stat_calls,
    };
    let mut cmd = match container {
        Some(name) => {
            let mut cmd = Command::new("docker");
            cmd.args(["exec", name]);
            if strace {
                cmd.args([STRACE_IN_IMAGE, "-f", "-c", "-o", "/dev/null"]);
            }
            cmd.arg(LOOP_IN_IMAGE);
            cmd
        }
        None => Command::new(&bench.host_loop),
    };
    cmd.args([workload.mode(), &count.to_string()]);
    if !strace {
        cmd.args([sizes.batches.to_string(), cpu.to_string()]);
    }
    cmd
}

/// Starts every command at once and returns their timings, in order: the locations run side by
/// side on one CPU, so that their differences are measured on the same machine at the same time.
fn run_side_by_side(commands: Vec<Command>) -> Result<Vec<Sample>> {
    let running: Vec<_> = commands
        .into_iter()
        .map(|mut cmd| std::thread::spawn(move || super::output(&mut cmd)))
        .collect();
    running
        .into_iter()
        .map(|run| {
            let stdout = run
                .join()
                .map_err(|_| anyhow::anyhow!("a workload thread panicked"))??;
            stdout
                .lines()
                .find_map(Sample::parse)
                .with_context(|| format!("the workload printed no timing: {stdout:?}"))
        })
        .collect()
}

/// The rows of the table: every series against the untraced and floor ones of its workload and
/// location.
fn rows(series: &[Series]) -> Vec<Row> {
    let per_call =
        |s: &Series| -> Vec<f64> { s.samples.iter().map(Sample::cpu_per_call).collect() };
    let find = |w, l, c| {
        series
            .iter()
            .find(|s: &&Series| s.workload == w && s.location == l && s.config == c)
    };
    let mut rows = Vec::new();
    for s in series {
        let (Some(untraced), cpu, wall) = (
            find(s.workload, s.location, Config::Untraced),
            per_call(s),
            s.samples
                .iter()
                .map(Sample::wall_per_call)
                .collect::<Vec<_>>(),
        ) else {
            continue;
        };
        let (Some(cpu_summary), Some(wall_summary)) = (Summary::of(&cpu), Summary::of(&wall))
        else {
            continue;
        };
        let base = per_call(untraced);
        let Some(base_cpu) = Summary::of(&base) else {
            continue;
        };
        let Some(above_untraced) = Summary::of(&paired_differences(&cpu, &base)) else {
            continue;
        };
        let above_floor = match s.config {
            Config::Untraced | Config::Floor => None,
            _ => find(s.workload, s.location, Config::Floor)
                .and_then(|floor| Summary::of(&paired_differences(&cpu, &per_call(floor)))),
        };
        let above_neighbour = match s.location {
            Location::Target => find(s.workload, Location::Neighbour, s.config)
                .and_then(|n| Summary::of(&paired_differences(&cpu, &per_call(n)))),
            Location::Neighbour | Location::Host => None,
        };
        rows.push(Row {
            workload: s.workload,
            location: s.location,
            config: s.config,
            cpu_ns_per_call: cpu_summary,
            wall_ns_per_call: wall_summary,
            ratio_cpu: cpu_summary.median / base_cpu.median,
            ratio_wall: (s.config == Config::Strace).then(|| wall_summary.median / base_cpu.median),
            above_untraced_ns: above_untraced,
            above_floor_ns: above_floor,
            above_neighbour_ns: above_neighbour,
        });
    }
    rows
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "exact small values")]
mod tests {
    use super::*;

    #[test]
    fn samples_parse_the_workload_line() {
        let s = Sample::parse("syscalls=200 wall_ns=5000 cpu_ns=4000").unwrap();
        assert_eq!((s.cpu_per_call(), s.wall_per_call()), (20.0, 25.0));
        assert_eq!(Sample::parse("syscalls=0 wall_ns=1 cpu_ns=1"), None);
        assert_eq!(Sample::parse("wall_ns=1 syscalls=1 cpu_ns=1"), None);
        assert_eq!(Sample::parse("usage: loop"), None);
    }

    #[test]
    fn rows_pair_rounds_with_untraced_and_floor() {
        let sample = |cpu_ns| Sample {
            syscalls: 10,
            wall_ns: cpu_ns,
            cpu_ns,
        };
        let series = |config, values: &[u64]| Series {
            workload: Workload::Getppid,
            location: Location::Target,
            config,
            samples: values.iter().map(|&v| sample(v)).collect(),
        };
        let all = [
            series(Config::Untraced, &[1000, 2000]),
            series(Config::Floor, &[1500, 2500]),
            series(Config::Trace, &[1700, 2600]),
        ];
        let rows = rows(&all);
        let trace = rows.iter().find(|r| r.config == Config::Trace).unwrap();
        assert_eq!(trace.above_untraced_ns.median, 65.0);
        assert_eq!(trace.above_floor_ns.unwrap().median, 15.0);
        assert!((trace.ratio_cpu - 215.0 / 150.0).abs() < 1e-9);
        assert!(
            rows.iter()
                .find(|r| r.config == Config::Floor)
                .unwrap()
                .above_floor_ns
                .is_none()
        );
    }
}
