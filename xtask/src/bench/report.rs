//! The bench's output: a table on stdout, the goals and whether they hold, and results.json with
//! the machine, the sizes, every raw sample and the summaries.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::json;

use super::service::ServiceResult;
use super::stats::Summary;
use super::storm::{RenderResult, StormResult};
use super::syscalls::{Location, Row, SyscallResults, Workload};
use super::tracers::{Config, Usage};
use super::{Bench, Sizes};
use crate::cli::BenchArgs;

/// trace may add at most this many ns per call above the floor, in the traced container.
const FLOOR_BUDGET_NS: f64 = 35.0;
/// ... per repeated file call (the stat loop) in the traced container.
const FILE_BUDGET_NS: f64 = 100.0;
/// ... per call, plain or file call, outside the traced container.
const BYSTANDER_BUDGET_NS: f64 = 15.0;
/// What 7 idle targets armed besides the one traced may add to a system call, anywhere.
const EIGHT_TARGETS_BUDGET_NS: f64 = 3.0;
/// trace's ratio to untraced on the tight loop.
const MAX_RATIO: f64 = 1.5;
/// Requests per second traced over untraced, for each service.
const MIN_SERVICE_RATIO: f64 = 0.98;

/// One cost goal and whether this run met it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Goal {
    pub what: String,
    pub measured: String,
    pub holds: bool,
}

/// Everything one bench run found.
pub struct Results {
    command: String,
    profile: &'static str,
    sizes: Sizes,
    syscalls: Option<SyscallResults>,
    storm: Option<StormResult>,
    service: Vec<ServiceResult>,
    render: Option<RenderResult>,
    goals: Vec<Goal>,
}

impl Results {
    pub fn new(
        bench: &Bench,
        args: &BenchArgs,
        syscalls: Option<SyscallResults>,
        storm: Option<StormResult>,
        service: Vec<ServiceResult>,
        render: Option<RenderResult>,
    ) -> Self {
        let goals = goals(syscalls.as_ref(), storm.as_ref(), &service);
        Results {
            command: command_line(args),
            profile: bench.profile,
            sizes: bench.sizes.clone(),
            syscalls,
            storm,
            service,
            render,
            goals,
        }
    }

    /// The table and the goals, as text.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let s = &self.sizes;
        let _ = writeln!(t, "\n$ {}", self.command);
        // Figures move by 2-4x between CPUs: each table names the one it was measured on.
        let _ = writeln!(t, "on {}", machine_line(&machine()));
        if let Some(syscalls) = &self.syscalls {
            self.syscall_table(syscalls, &mut t);
        }
        if let Some(storm) = &self.storm {
            let _ = writeln!(
                t,
                "\nFile storm: {} distinct files opened twice in a burst: {} of {} paths in the recording, {} events dropped \
                 ({} paths recorded in all); burst {:.0} ms untraced, {:.0} ms traced",
                storm.files,
                storm.recorded,
                storm.files,
                storm.dropped,
                storm.recording_files,
                ns_to_ms(storm.untraced.wall_ns),
                ns_to_ms(storm.traced.wall_ns)
            );
            for other in &storm.baselines {
                let _ = writeln!(
                    t,
                    "- under {}: {} of {} paths, {} dropped; burst {:.0} ms traced; peak RSS {:.1} MiB ({:.1} MiB anonymous)",
                    other.config,
                    other.recorded,
                    storm.files,
                    other.dropped,
                    ns_to_ms(other.traced.wall_ns),
                    kib_to_mib(other.trace_usage.max_rss_kib),
                    kib_to_mib(other.trace_usage.max_anon_kib)
                );
            }
        }
        for service in &self.service {
            let _ = writeln!(
                t,
                "\nService: {} and its twin on one CPU, {} connections each, {} s runs x {} rounds; the target's requests per second (median, min-max), \
                 per round over untraced, and per round over its twin relative to untraced (medians, min-max):",
                service.server.name(),
                service.connections,
                s.service_secs,
                s.service_rounds,
            );
            for c in &service.configs {
                let _ = writeln!(
                    t,
                    "- {}: {:.0} ({:.0}-{:.0}), {:.3} ({:.3}-{:.3}), against the twin {:.3} ({:.3}-{:.3})",
                    c.config.name(),
                    c.rps.median,
                    c.rps.min,
                    c.rps.max,
                    c.ratio.median,
                    c.ratio.min,
                    c.ratio.max,
                    c.twin_ratio.median,
                    c.twin_ratio.min,
                    c.twin_ratio.max
                );
                let _ = write!(
                    t,
                    "  CPU per request {:.1} us ({:.1}-{:.1})",
                    c.cpu_per_request_us.median, c.cpu_per_request_us.min, c.cpu_per_request_us.max
                );
                if let Some(n) = c.syscalls_per_request {
                    let _ = write!(
                        t,
                        ", system calls per request (trace's recording) {:.1} ({:.1}-{:.1})",
                        n.median, n.min, n.max
                    );
                }
                let _ = writeln!(t);
            }
            if let Some(b) = &service.bound {
                let _ = writeln!(
                    t,
                    "- traced/untraced at least {:.3}: against the twin {:.3}, times {:.4} for what every process pays \
                     ({:.1} calls per request at most {:.0} ns more each, over {:.1} us of CPU per request untraced)",
                    b.ratio,
                    b.against_twin,
                    b.bystander_ratio,
                    b.syscalls_per_request,
                    b.outsider_ns,
                    b.untraced_cpu_per_request_us
                );
            }
        }
        self.footprint(&mut t);
        let _ = writeln!(t, "\nGoals:");
        for goal in &self.goals {
            let _ = writeln!(
                t,
                "- [{}] {}: {}",
                if goal.holds { "holds" } else { "MISSED" },
                goal.what,
                goal.measured
            );
        }
        t
    }

    /// The system call rows of the table.
    fn syscall_table(&self, syscalls: &SyscallResults, t: &mut String) {
        let s = &self.sizes;
        let _ = writeln!(
            t,
            "\nSystem calls: ns per call, thread CPU time (median of {} interleaved rounds, min-max; each round's figure the fastest \
             of {} batches; the three locations side by side on one CPU); wall time median; getppid x{}, dd bs=1 x{}, stat x{} per run (strace: x{}, x{}, x{}, one batch)\n",
            s.rounds,
            s.batches,
            s.getppid_calls,
            s.dd_pairs * 2,
            s.stat_calls,
            s.strace_getppid_calls,
            s.strace_dd_pairs * 2,
            s.strace_stat_calls
        );
        let _ = writeln!(
            t,
            "| workload | where | config | ns/call (cpu) | wall | x untraced (cpu / wall) | + untraced | + floor | + neighbour, same time |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|");
        for workload in Workload::ALL {
            for location in Location::ALL {
                let baselines = (0..=u8::MAX).map(Config::TraceBaseline);
                let configs = [
                    Config::Untraced,
                    Config::Floor,
                    Config::Trace,
                    Config::TraceEight,
                ]
                .into_iter()
                .chain(baselines)
                .chain([Config::Bpftrace, Config::Strace]);
                for config in configs {
                    if let Some(row) = syscalls.row(workload, location, config) {
                        let _ = writeln!(t, "{}", table_row(row));
                    }
                }
            }
        }
    }

    /// The footprint lines of the table.
    fn footprint(&self, t: &mut String) {
        let _ = writeln!(t, "\nFootprint of trace ({} build):", self.profile);
        let none: &[Usage] = &[];
        for (what, usages) in [
            (
                "attached while the system call loops ran",
                self.syscalls.as_ref().map_or(none, |s| &s.trace_usage[..]),
            ),
            (
                "the file storm",
                self.storm
                    .as_ref()
                    .map_or(none, |s| std::slice::from_ref(&s.trace_usage)),
            ),
        ] {
            if let Some(line) = usage_line(usages) {
                let _ = writeln!(t, "- {what}: {line}");
            }
        }
        for service in &self.service {
            if let Some(line) = usage_line(&service.trace_usage) {
                let _ = writeln!(
                    t,
                    "- attached to {} under load: {line}",
                    service.server.name()
                );
            }
        }
        if let Some(render) = &self.render {
            let _ = writeln!(
                t,
                "- trace render of a {}-file recording: {:.0} ms, peak RSS {:.1} MiB ({:.1} MiB anonymous)",
                render.files,
                render.wall_ms,
                kib_to_mib(render.usage.max_rss_kib),
                kib_to_mib(render.usage.max_anon_kib)
            );
        }
    }

    /// Writes results.json (atomically enough for a bench: a temporary file, then a rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let value = json!({
            "command": self.command,
            "date": shell(&["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"]),
            "machine": machine(),
            "trace_build": self.profile,
            "sizes": self.sizes,
            "metric": "ns per system call from the workload's thread CPU time (CLOCK_THREAD_CPUTIME_ID); wall time (CLOCK_MONOTONIC) alongside; differences paired per round",
            "syscalls": self.syscalls,
            "storm": self.storm,
            "service": self.service,
            "render": self.render,
            "goals": self.goals,
        });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&value)? + "\n")
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }
}

fn table_row(row: &Row) -> String {
    let c = &row.cpu_ns_per_call;
    let dash = || "-".to_string();
    let above_untraced = if row.config == Config::Untraced {
        dash()
    } else {
        signed(row.above_untraced_ns.median)
    };
    format!(
        "| {} | {} | {} | {:.0} ({:.0}-{:.0}) | {:.0} | {:.2}{} | {} | {} | {} |",
        row.workload.name(),
        row.location.name(),
        row.config.name(),
        c.median,
        c.min,
        c.max,
        row.wall_ns_per_call.median,
        row.ratio_cpu,
        row.ratio_wall
            .map_or_else(String::new, |wall| format!(" / {wall:.2}")),
        above_untraced,
        row.above_floor_ns.map_or_else(dash, spread),
        row.above_neighbour_ns.map_or_else(dash, spread)
    )
}

/// `+median (+min..+max)`.
fn spread(s: Summary) -> String {
    format!(
        "{} ({}..{})",
        signed(s.median),
        signed(s.min),
        signed(s.max)
    )
}

fn signed(v: f64) -> String {
    format!("{v:+.0}")
}

#[allow(clippy::cast_precision_loss, reason = "figures for a table")]
fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[allow(clippy::cast_precision_loss, reason = "figures for a table")]
fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Medians of start-to-armed and CPU time, the largest peak RSS, over some trace sessions.
fn usage_line(usages: &[Usage]) -> Option<String> {
    let armed = Summary::of(&usages.iter().map(|u| u.armed_ms).collect::<Vec<_>>())?;
    let cpu = Summary::of(
        &usages
            .iter()
            .map(|u| u.user_ms + u.system_ms)
            .collect::<Vec<_>>(),
    )?;
    let life = Summary::of(&usages.iter().map(|u| u.lifetime_ms).collect::<Vec<_>>())?;
    let rss = usages.iter().map(|u| u.max_rss_kib).max()?;
    let anon = usages.iter().map(|u| u.max_anon_kib).max()?;
    Some(format!(
        "{} runs: start to armed {:.0} ms ({:.0}-{:.0}); CPU time {:.0} ms per run of {:.1} s; peak RSS {:.1} MiB, \
         of it anonymous (own heap and stacks, not the mapped ring buffer) {:.1} MiB",
        usages.len(),
        armed.median,
        armed.min,
        armed.max,
        cpu.median,
        life.median / 1000.0,
        kib_to_mib(rss),
        kib_to_mib(anon)
    ))
}

fn goals(
    syscalls: Option<&SyscallResults>,
    storm: Option<&StormResult>,
    service: &[ServiceResult],
) -> Vec<Goal> {
    let mut goals = Vec::new();
    if let Some(syscalls) = syscalls {
        syscall_goals(syscalls, &mut goals);
    }
    if let Some(storm) = storm {
        goals.push(Goal {
            what: "file storm: every distinct path recorded, 0 events dropped".into(),
            measured: format!(
                "{} of {} paths, {} dropped",
                storm.recorded, storm.files, storm.dropped
            ),
            holds: storm.complete(),
        });
    }
    for service in service {
        if let Some(trace) = service.config(Config::Trace) {
            goals.push(Goal {
                what: format!(
                    "{} requests per second traced/untraced at least {MIN_SERVICE_RATIO}",
                    service.server.name()
                ),
                measured: format!(
                    "{}measured directly {:.3} (per round {:.3}-{:.3}); against its twin on the same CPU {:.3} ({:.3}-{:.3})",
                    service.bound.map_or(String::new(), |b| format!(
                        "at least {:.3} from same-moment parts; ",
                        b.ratio
                    )),
                    trace.ratio.median,
                    trace.ratio.min,
                    trace.ratio.max,
                    trace.twin_ratio.median,
                    trace.twin_ratio.min,
                    trace.twin_ratio.max
                ),
                // The bound when there is one: the direct median moves by several percent
                // between runs here, either way.
                holds: service.bound.map_or(trace.ratio.median, |b| b.ratio) >= MIN_SERVICE_RATIO,
            });
        }
    }
    goals
}

fn syscall_goals(syscalls: &SyscallResults, goals: &mut Vec<Goal>) {
    let above_floor = |w, l, c| {
        syscalls
            .row(w, l, c)
            .and_then(|r| r.above_floor_ns)
            .map(|s| s.median)
    };
    for workload in Workload::ALL {
        for location in Location::ALL {
            let budget = match (location, workload.is_plain()) {
                (Location::Target, true) => FLOOR_BUDGET_NS,
                (Location::Target, false) => FILE_BUDGET_NS,
                (Location::Neighbour | Location::Host, _) => BYSTANDER_BUDGET_NS,
            };
            if let Some(ns) = above_floor(workload, location, Config::Trace) {
                goals.push(Goal {
                    what: format!(
                        "trace within {budget:.0} ns of the floor ({}, {})",
                        workload.name(),
                        location.name()
                    ),
                    measured: format!("{ns:+.1} ns per call"),
                    holds: ns <= budget,
                });
            }
        }
        for location in Location::ALL.into_iter().filter(|_| workload.is_plain()) {
            if let (Some(one), Some(eight)) = (
                above_floor(workload, location, Config::Trace),
                above_floor(workload, location, Config::TraceEight),
            ) {
                goals.push(Goal {
                    what: format!(
                        "8 targets armed within {EIGHT_TARGETS_BUDGET_NS:.0} ns of 1 ({}, {})",
                        workload.name(),
                        location.name()
                    ),
                    measured: format!(
                        "{:+.1} ns per call ({eight:+.1} against {one:+.1} above the floor)",
                        eight - one
                    ),
                    holds: eight - one <= EIGHT_TARGETS_BUDGET_NS,
                });
            }
        }
    }
    if let Some(row) = syscalls.row(Workload::Getppid, Location::Target, Config::Trace) {
        goals.push(Goal {
            what: format!(
                "trace at most {MAX_RATIO}x untraced on the tight loop (getppid, target)"
            ),
            measured: format!("{:.2}x", row.ratio_cpu),
            holds: row.ratio_cpu <= MAX_RATIO,
        });
    }
}

/// How this run was invoked, as a command line to paste.
fn command_line(args: &BenchArgs) -> String {
    let mut words = vec!["cargo xtask bench".to_string()];
    if args.quick {
        words.push("--quick".into());
    }
    if let Some(rounds) = args.rounds {
        words.push(format!("--rounds {rounds}"));
    }
    if let Some(calls) = args.syscalls {
        words.push(format!("--syscalls {calls}"));
    }
    if let Some(part) = args.only {
        words.push(format!("--only {}", format!("{part:?}").to_lowercase()));
    }
    for baseline in &args.baseline {
        words.push(format!("--baseline {}", baseline.display()));
    }
    words.join(" ")
}

/// The machine: kernel, CPU, memory, and the versions of what was compared.
fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    json!({
        "kernel": shell(&["uname", "-r"]),
        "cpus": std::thread::available_parallelism().map(std::num::NonZero::get).ok(),
        "cpu_model": model,
        "memory": meminfo.lines().next().map(str::to_string),
        "docker": shell(&["docker", "version", "--format", "{{.Server.Version}}"]),
        "bpftrace": shell(&["bpftrace", "--version"]),
        "strace": shell(&["strace", "--version"]).and_then(|v| v.lines().next().map(str::to_string)),
        "load_average": std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.trim().to_string()),
    })
}

/// The machine in one line: CPU model and count, kernel, load average.
fn machine_line(machine: &serde_json::Value) -> String {
    let text = |key: &str| machine[key].as_str().unwrap_or("unknown").to_owned();
    let cpus = machine["cpus"]
        .as_u64()
        .map_or_else(|| "? CPUs".to_owned(), |n| format!("{n} CPUs"));
    format!(
        "{} ({cpus}), kernel {}, load average {}",
        text("cpu_model"),
        text("kernel"),
        text("load_average")
    )
}

/// The trimmed stdout of a command, if it ran.
fn shell(argv: &[&str]) -> Option<String> {
    let output = Command::new(argv[0]).args(&argv[1..]).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_line_names_the_cpu() {
        let machine = json!({
            "cpu_model": "Intel Xeon Processor (Icelake)",
            "cpus": 2,
            "kernel": "6.18.0",
            "load_average": "0.10 0.20 0.30 1/200 42",
        });
        assert_eq!(
            machine_line(&machine),
            "Intel Xeon Processor (Icelake) (2 CPUs), kernel 6.18.0, load average 0.10 0.20 0.30 1/200 42"
        );
        assert!(machine_line(&json!({})).starts_with("unknown (? CPUs)"));
    }
}
