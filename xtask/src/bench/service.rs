//! Point 4: real services under load. nginx (`trace-test/nginx:local`, keep-alive) and python's
//! `http.server` (`trace-test/python:local`, HTTP/1.0: a connection per request) answer `GET /`
//! from the loopback load generator ([`super::loadgen`]).
//!
//! Each server runs twice, side by side on the same CPU: the target and its twin, loaded at the
//! same time with the same number of connections. After one warm-up run, rounds run them
//! untraced, under the floor, with the target traced by trace (and by the `--baseline` build), in
//! an order rotated by one each round. Two figures per configuration, both paired per round:
//!
//! - the target's requests per second over the same round's untraced run (the issue's ratio; this
//!   VM's speed shifts by a third for seconds at a time, so it is noisy);
//! - the target's rate over its twin's, over the same quotient untraced: what tracing costs the
//!   target beyond what it costs every process (the twin pays the floor and trace's cgroup check
//!   too), measured in the same second on the same CPU, so the VM's speed cancels out.
//!
//! A third figure, [`Bound`], puts the issue's ratio together from parts that are each measured
//! without the drift: the twin figure, times what being a bystander costs the server at most
//! (its system calls per request, from trace's own recording, times the largest cost per call
//! the system call part measured outside the target, over its CPU time per request, from its
//! cgroup).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use trace_tests::{Container, TestImage, docker_ok, ensure_image};

use super::Bench;
use super::cgroup;
use super::cpus::Cpus;
use super::loadgen::{self, Load, Protocol};
use super::stats::Summary;
use super::tracers::{self, Config, Target, Usage};

/// How long a server gets to answer after starting.
const READY_WAIT: Duration = Duration::from_secs(20);

/// The services measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Server {
    /// nginx-light (Debian 12), 2 workers, keep-alive: 14 system calls per request, 6 of them
    /// file calls (stat, open, fstat).
    Nginx,
    /// `python3 -m http.server` (Debian 12's python 3.11), a thread per connection, HTTP/1.0.
    PythonHttp,
    /// redis-server (Debian 12's 7.0), in memory only: `SET` and `GET` in turn, a key per
    /// connection.
    Redis,
}

impl Server {
    pub const ALL: [Server; 3] = [Server::Nginx, Server::PythonHttp, Server::Redis];

    pub fn name(self) -> &'static str {
        match self {
            Server::Nginx => "nginx",
            Server::PythonHttp => "python http.server",
            Server::Redis => "redis GET/SET",
        }
    }

    fn image(self) -> TestImage {
        match self {
            Server::Nginx => TestImage::Nginx,
            Server::PythonHttp => TestImage::Python,
            Server::Redis => TestImage::Redis,
        }
    }

    fn protocol(self) -> Protocol {
        match self {
            Server::Nginx | Server::PythonHttp => Protocol::Http,
            Server::Redis => Protocol::Redis,
        }
    }

    /// The container names of the target and its twin.
    fn containers(self) -> [&'static str; 2] {
        match self {
            Server::Nginx => ["trace-bench-nginx", "trace-bench-nginx-twin"],
            Server::PythonHttp => ["trace-bench-python", "trace-bench-python-twin"],
            Server::Redis => ["trace-bench-redis", "trace-bench-redis-twin"],
        }
    }

    fn port(self) -> u16 {
        match self {
            Server::Nginx => 80,
            Server::PythonHttp => 8000,
            Server::Redis => 6379,
        }
    }

    /// Concurrent connections per server: python's `socketserver` listens with a backlog of 5,
    /// so more clients connecting at once have SYNs dropped and wait a second for the retransmit.
    fn connections(self, configured: usize) -> usize {
        match self {
            Server::Nginx | Server::Redis => configured,
            Server::PythonHttp => configured.min(4),
        }
    }
}

/// What the service part measured for one server.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceResult {
    pub server: Server,
    /// Connections per server (the target and its twin each get this many).
    pub connections: usize,
    /// Every configuration's runs, in the order of [`Config`].
    pub configs: Vec<ServiceRuns>,
    pub trace_usage: Vec<Usage>,
    /// traced/untraced at least, from same-moment parts (`None` without the system call part).
    pub bound: Option<Bound>,
}

impl ServiceResult {
    /// The runs of `config`, if it was measured.
    pub fn config(&self, config: Config) -> Option<&ServiceRuns> {
        self.configs.iter().find(|c| c.config == config)
    }
}

/// One configuration's service runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceRuns {
    pub config: Config,
    /// The target's runs, one per round.
    pub runs: Vec<Load>,
    /// The twin's runs, at the same times.
    pub twin_runs: Vec<Load>,
    /// The target's requests per second.
    pub rps: Summary,
    /// Per round: the target's requests per second over the same round's untraced run.
    pub ratio: Summary,
    /// Per round: the target's rate over its twin's, over the same quotient in the round's
    /// untraced run.
    pub twin_ratio: Summary,
    /// CPU time the target's and the twin's cgroups used in each run, µs.
    pub cpu_us: Vec<[u64; 2]>,
    /// The target's CPU time per request, µs.
    pub cpu_per_request_us: Summary,
    /// trace's configurations: the system calls trace recorded in the target per session (one
    /// session per run, from armed to stopped: the run's load and a few idle calls).
    pub syscalls: Vec<u64>,
    /// Those over the run's requests.
    pub syscalls_per_request: Option<Summary>,
}

/// One run: the loads of the target and its twin at the same time, the CPU time their cgroups
/// used meanwhile, and what trace recorded of the target in the session.
#[derive(Debug, Clone, Copy)]
struct Run {
    loads: [Load; 2],
    cpu_us: [u64; 2],
    syscalls: Option<u64>,
}

/// A lower bound of traced/untraced, from parts each measured free of the VM's drift.
///
/// The twin figure `t` is the target's rate relative to a bystander's. While trace runs, a
/// bystander's every system call costs at most `c` ns more (the system call part's largest
/// figure outside the target, file calls included); the server makes `n` calls per request and
/// uses `u` µs of CPU per request untraced. So on its CPU a bystander's rate is at least
/// `u / (u + n c)` of its untraced one, and the target's at least `t u / (u + n c)`. CPU the
/// kernel spends for the server outside its cgroup (softirqs) is left out of `u`, which only
/// lowers the bound.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Bound {
    pub against_twin: f64,
    pub outsider_ns: f64,
    pub syscalls_per_request: f64,
    pub untraced_cpu_per_request_us: f64,
    /// What being a bystander costs the server at most: `u / (u + n c)`.
    pub bystander_ratio: f64,
    /// `against_twin * bystander_ratio`.
    pub ratio: f64,
}

impl Bound {
    /// The bound for trace's runs, given the largest cost per call outside the target.
    fn new(configs: &[ServiceRuns], outsider_ns: f64) -> Option<Bound> {
        let find = |config| configs.iter().find(|c| c.config == config);
        let (untraced, trace) = (find(Config::Untraced)?, find(Config::Trace)?);
        let n = trace.syscalls_per_request?.median;
        let u = untraced.cpu_per_request_us.median;
        let bystander_ratio = u / (u + n * outsider_ns / 1000.0);
        let against_twin = trace.twin_ratio.median;
        Some(Bound {
            against_twin,
            outsider_ns,
            syscalls_per_request: n,
            untraced_cpu_per_request_us: u,
            bystander_ratio,
            ratio: against_twin * bystander_ratio,
        })
        .filter(|b| b.ratio.is_finite())
    }
}

/// Loads every server in turn. `outsider_ns`: the most trace costs a system call outside the
/// target (from the system call part, if it ran), for [`Bound`].
pub fn run(bench: &Bench, outsider_ns: Option<f64>) -> Result<Vec<ServiceResult>> {
    Server::ALL
        .into_iter()
        .map(|server| run_server(bench, server, outsider_ns))
        .collect()
}

fn run_server(bench: &Bench, server: Server, outsider_ns: Option<f64>) -> Result<ServiceResult> {
    let image = ensure_image(server.image())?;
    let cpus = Cpus::split()?;
    let cpuset = cpus.measured.map(|cpu| cpu.to_string());
    let mut docker_args = Vec::new();
    if let Some(cpuset) = &cpuset {
        docker_args.extend(["--cpuset-cpus", cpuset.as_str()]);
    }
    let [target_name, twin_name] = server.containers();
    let container = Container::run(&image, target_name, &docker_args, &[])?;
    let twin = Container::run(&image, twin_name, &docker_args, &[])?;
    // The load generator's threads and the tracers, started from this thread, inherit its mask.
    let _pinned = cpus.pin_rest()?;
    let addrs = [address(server, &container)?, address(server, &twin)?];
    let cgroups = [cgroup::dir(container.pid()?)?, cgroup::dir(twin.pid()?)?];
    let cpu_now = || -> Result<[u64; 2]> {
        Ok([
            cgroup::cpu_usage_us(&cgroups[0])?,
            cgroup::cpu_usage_us(&cgroups[1])?,
        ])
    };
    for addr in addrs {
        wait_ready(server, addr)?;
    }
    let sizes = &bench.sizes;
    let duration = Duration::from_secs(sizes.service_secs);
    let connections = server.connections(sizes.service_connections);
    let load = || load_both(addrs, server.protocol(), connections, duration);
    load()?; // warm-up
    let out = tempfile::tempdir()?;
    let target = Target {
        idle: &[],
        name: container.name(),
        cgroup_dir: None,
    };
    let mut configs = vec![Config::Untraced, Config::Floor, Config::Trace];
    configs.extend(Config::baselines(&bench.baseline));
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); configs.len()];
    let mut trace_usage = Vec::new();
    for round in 0..sizes.service_rounds as usize {
        for k in 0..configs.len() {
            let i = (round + k) % configs.len();
            let config = configs[i];
            let session = tracers::start(bench, config, &target, out.path())?;
            let cpu_before = cpu_now()?;
            let loads = load()?;
            let cpu_after = cpu_now()?;
            let mut syscalls = None;
            if let Some(session) = session {
                let usage = session.stop()?.0;
                if config == Config::Trace {
                    trace_usage.push(usage);
                }
                if matches!(config, Config::Trace | Config::TraceBaseline(_)) {
                    syscalls = Some(recorded_syscalls(out.path())?);
                }
            }
            runs[i].push(Run {
                loads: check(server, loads, config)?,
                cpu_us: [0, 1].map(|j| cpu_after[j].saturating_sub(cpu_before[j])),
                syscalls,
            });
        }
    }
    let summaries = summarize(configs, runs)?;
    let bound = outsider_ns.and_then(|ns| Bound::new(&summaries, ns));
    for c in &summaries {
        eprintln!(
            "bench: {} {}: {:.0} req/s, {:.3} of untraced, {:.3} against the twin",
            server.name(),
            c.config.name(),
            c.rps.median,
            c.ratio.median,
            c.twin_ratio.median
        );
    }
    if let Some(b) = &bound {
        eprintln!(
            "bench: {}: traced/untraced at least {:.3} ({:.1} calls and {:.1} us of CPU per request, at most {:.0} ns more per call outside the target)",
            server.name(),
            b.ratio,
            b.syscalls_per_request,
            b.untraced_cpu_per_request_us,
            b.outsider_ns
        );
    }
    Ok(ServiceResult {
        server,
        connections,
        configs: summaries,
        trace_usage,
        bound,
    })
}

/// The system calls in the recording trace wrote to `out`: every ABI's counts, and the numbers
/// without a name.
fn recorded_syscalls(out: &Path) -> Result<u64> {
    let path = out.join("recording.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let recording: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let by_abi = recording["syscalls"]
        .as_object()
        .context("recording.json has no syscalls")?;
    let named: u64 = by_abi
        .values()
        .filter_map(serde_json::Value::as_object)
        .flat_map(|calls| calls.values().filter_map(serde_json::Value::as_u64))
        .sum();
    let unnamed: u64 = recording["unknown_syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["count"].as_u64())
        .sum();
    Ok(named + unnamed)
}

/// Each configuration's summaries; `runs[i]` are `configs[i]`'s runs, one per round, and
/// `configs[0]` is untraced.
#[allow(
    clippy::cast_precision_loss,
    reason = "counts and µs of a run fit an f64"
)]
fn summarize(configs: Vec<Config>, runs: Vec<Vec<Run>>) -> Result<Vec<ServiceRuns>> {
    let untraced = runs.first().context("no untraced runs")?.clone();
    configs
        .into_iter()
        .zip(runs)
        .map(|(config, runs)| {
            let target = |run: &Run| run.loads[0];
            let rps: Vec<f64> = runs.iter().map(|r| target(r).per_second()).collect();
            let ratios: Vec<f64> = runs
                .iter()
                .zip(&untraced)
                .map(|(r, u)| target(r).per_second() / target(u).per_second())
                .collect();
            let twin_ratios: Vec<f64> = runs
                .iter()
                .zip(&untraced)
                .map(|(run, base)| quotient(run) / quotient(base))
                .collect();
            let cpu_per_request: Vec<f64> = runs
                .iter()
                .map(|r| r.cpu_us[0] as f64 / target(r).requests as f64)
                .collect();
            let syscalls: Vec<u64> = runs.iter().filter_map(|r| r.syscalls).collect();
            let syscalls_per_request: Vec<f64> = runs
                .iter()
                .filter_map(|r| Some(r.syscalls? as f64 / target(r).requests as f64))
                .collect();
            Ok(ServiceRuns {
                config,
                rps: Summary::of(&rps).context("no service runs")?,
                ratio: Summary::of(&ratios).context("no service runs")?,
                twin_ratio: Summary::of(&twin_ratios).context("no service runs")?,
                cpu_per_request_us: Summary::of(&cpu_per_request).context("no service runs")?,
                syscalls_per_request: Summary::of(&syscalls_per_request),
                syscalls,
                cpu_us: runs.iter().map(|r| r.cpu_us).collect(),
                runs: runs.iter().map(target).collect(),
                twin_runs: runs.iter().map(|r| r.loads[1]).collect(),
            })
        })
        .collect()
}

/// The target's requests per second over its twin's in one run.
fn quotient(run: &Run) -> f64 {
    let [target, twin] = run.loads;
    target.per_second() / twin.per_second()
}

/// Where `container` serves.
fn address(server: Server, container: &Container) -> Result<SocketAddr> {
    let ip = docker_ok(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container.id(),
    ])?;
    format!("{ip}:{}", server.port())
        .parse()
        .with_context(|| format!("container address {ip:?}"))
}

/// Loads the target and its twin at the same time, each with `connections` connections.
fn load_both(
    addrs: [SocketAddr; 2],
    protocol: Protocol,
    connections: usize,
    duration: Duration,
) -> Result<[Load; 2]> {
    let [target, twin] = addrs;
    let twin = std::thread::spawn(move || loadgen::run(twin, protocol, connections, duration));
    let target = loadgen::run(target, protocol, connections, duration)?;
    let twin = twin
        .join()
        .map_err(|_| anyhow::anyhow!("the twin's load thread panicked"))??;
    Ok([target, twin])
}

/// A run in which both servers answered; a run of errors only means a service is broken.
fn check(server: Server, loads: [Load; 2], config: Config) -> Result<[Load; 2]> {
    eprintln!(
        "bench: {} {}: {:.0} req/s, twin {:.0} req/s ({} errors)",
        server.name(),
        config.name(),
        loads[0].per_second(),
        loads[1].per_second(),
        loads[0].errors + loads[1].errors
    );
    for load in &loads {
        if load.requests == 0 {
            bail!(
                "{} answered no request ({} errors)",
                server.name(),
                load.errors
            );
        }
    }
    Ok(loads)
}

fn wait_ready(server: Server, addr: SocketAddr) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < READY_WAIT {
        if loadgen::run(addr, server.protocol(), 1, Duration::from_millis(50))?.requests > 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "{} at {addr} did not answer within {} s",
        server.name(),
        READY_WAIT.as_secs()
    )
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "exact small values")]
mod tests {
    use super::*;

    fn load(requests: u64) -> Load {
        Load {
            requests,
            errors: 0,
            seconds: 1.0,
        }
    }

    fn run([target, twin]: [u64; 2], syscalls: Option<u64>) -> Run {
        Run {
            loads: [load(target), load(twin)],
            cpu_us: [target * 50, twin * 50],
            syscalls,
        }
    }

    #[test]
    fn ratios_pair_each_run_with_its_rounds_untraced_run() {
        // Round 2 runs at half speed for everyone: the per-round ratios do not see it.
        let untraced = vec![run([100, 100], None), run([50, 40], None)];
        let traced = vec![run([90, 100], Some(900)), run([45, 50], Some(900))];
        let summaries = summarize(
            vec![Config::Untraced, Config::Trace],
            vec![untraced, traced],
        )
        .unwrap();
        let trace = &summaries[1];
        assert_eq!(trace.config, Config::Trace);
        assert_eq!((trace.ratio.min, trace.ratio.max), (0.9, 0.9));
        assert_eq!(trace.rps.median, 67.5);
        // Against the twin: 0.9 / 1.0 in round 1; 0.9 / 1.25 in round 2, where the twin was
        // slower than the target untraced.
        assert_eq!(trace.twin_ratio.max, 0.9);
        assert_eq!(trace.twin_ratio.min, 0.9 / 1.25);
        assert_eq!(summaries[0].twin_ratio.median, 1.0);
        assert_eq!(trace.twin_runs[1].requests, 50);
        assert_eq!(trace.cpu_per_request_us.median, 50.0);
        // 900 calls over 90 and 45 requests.
        let per_request = trace.syscalls_per_request.unwrap();
        assert_eq!((per_request.min, per_request.max), (10.0, 20.0));
        assert_eq!(summaries[0].syscalls_per_request, None);
    }

    #[test]
    fn the_bound_charges_every_call_the_outsider_cost() {
        let untraced = vec![run([100, 100], None); 3];
        let traced = vec![run([90, 100], Some(1000)); 3];
        let summaries = summarize(
            vec![Config::Untraced, Config::Trace],
            vec![untraced, traced],
        )
        .unwrap();
        // 50 us per request untraced; 1000 / 90 calls per request at 900 ns each: 10 us more.
        let bound = Bound::new(&summaries, 900.0).unwrap();
        assert_eq!(bound.untraced_cpu_per_request_us, 50.0);
        assert!((bound.bystander_ratio - 50.0 / 60.0).abs() < 1e-9);
        assert!((bound.ratio - 0.9 * 50.0 / 60.0).abs() < 1e-9);
        // Without trace's runs there is no bound.
        assert!(Bound::new(&summaries[..1], 900.0).is_none());
    }

    #[test]
    fn recorded_calls_add_every_abi_and_the_unnamed_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("recording.json"),
            r#"{"syscalls": {"x86_64": {"read": 5, "write": 3}, "x86": {"_llseek": 2}},
                "unknown_syscalls": [{"abi": null, "nr": null, "count": 4}]}"#,
        )
        .unwrap();
        assert_eq!(recorded_syscalls(dir.path()).unwrap(), 14);
        std::fs::write(dir.path().join("recording.json"), "{}").unwrap();
        assert!(recorded_syscalls(dir.path()).is_err());
    }
}
