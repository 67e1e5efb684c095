//! Point 4: real services under load. nginx (`trace-test/nginx:local`, keep-alive) and python's
//! `http.server` (`trace-test/python:local`, HTTP/1.0: a connection per request) answer `GET /`
//! from the loopback load generator ([`super::loadgen`]).
//!
//! Each server runs twice, side by side on the same CPU: the target and its twin, loaded at the
//! same time with the same number of connections. After one warm-up run, rounds run them
//! untraced, under the floor, with the target traced by trace (and by the `--baseline` build), in
//! an order rotated by one each round. Two figures per configuration, both paired per round:
//!
//! - the target's requests per second over the same round's untraced run (the ratio; this
//!   VM's speed shifts by a third for seconds at a time, so it is noisy);
//! - the target's rate over its twin's, over the same quotient untraced: what tracing costs the
//!   target beyond what it costs every process (the twin pays the floor and trace's cgroup check
//!   too), measured in the same second on the same CPU, so the VM's speed cancels out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use trace_tests::{Container, TestImage, docker_ok, ensure_image};

use super::Bench;
use super::cpus::Cpus;
use super::loadgen::{self, Load};
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
}

impl Server {
    pub const ALL: [Server; 2] = [Server::Nginx, Server::PythonHttp];

    pub fn name(self) -> &'static str {
        match self {
            Server::Nginx => "nginx",
            Server::PythonHttp => "python http.server",
        }
    }

    fn image(self) -> TestImage {
        match self {
            Server::Nginx => TestImage::Nginx,
            Server::PythonHttp => TestImage::Python,
        }
    }

    /// The container names of the target and its twin.
    fn containers(self) -> [&'static str; 2] {
        match self {
            Server::Nginx => ["trace-bench-nginx", "trace-bench-nginx-twin"],
            Server::PythonHttp => ["trace-bench-python", "trace-bench-python-twin"],
        }
    }

    fn port(self) -> u16 {
        match self {
            Server::Nginx => 80,
            Server::PythonHttp => 8000,
        }
    }

    /// Concurrent connections per server: python's `socketserver` listens with a backlog of 5,
    /// so more clients connecting at once have SYNs dropped and wait a second for the retransmit.
    fn connections(self, configured: usize) -> usize {
        match self {
            Server::Nginx => configured,
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
}

/// Loads every server in turn.
pub fn run(bench: &Bench) -> Result<Vec<ServiceResult>> {
    Server::ALL
        .into_iter()
        .map(|server| run_server(bench, server))
        .collect()
}

fn run_server(bench: &Bench, server: Server) -> Result<ServiceResult> {
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
    for addr in addrs {
        wait_ready(server, addr)?;
    }
    let sizes = &bench.sizes;
    let duration = Duration::from_secs(sizes.service_secs);
    let connections = server.connections(sizes.service_connections);
    let load = || load_both(addrs, connections, duration);
    load()?; // warm-up
    let out = tempfile::tempdir()?;
    let target = Target {
        name: container.name(),
        cgroup_dir: None,
    };
    let mut configs = vec![Config::Untraced, Config::Floor, Config::Trace];
    if bench.baseline.is_some() {
        configs.push(Config::TraceBaseline);
    }
    let mut runs: Vec<Vec<[Load; 2]>> = vec![Vec::new(); configs.len()];
    let mut trace_usage = Vec::new();
    for round in 0..sizes.service_rounds as usize {
        for k in 0..configs.len() {
            let i = (round + k) % configs.len();
            let config = configs[i];
            let session = tracers::start(bench, config, &target, out.path())?;
            let result = load()?;
            if let Some(session) = session {
                let usage = session.stop()?.0;
                if config == Config::Trace {
                    trace_usage.push(usage);
                }
            }
            runs[i].push(check(server, result, config)?);
        }
    }
    let summaries = summarize(configs, runs)?;
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
    Ok(ServiceResult {
        server,
        connections,
        configs: summaries,
        trace_usage,
    })
}

/// Each configuration's summaries; `runs[i]` are `configs[i]`'s `[target, twin]` runs, one per
/// round, and `configs[0]` is untraced.
fn summarize(configs: Vec<Config>, runs: Vec<Vec<[Load; 2]>>) -> Result<Vec<ServiceRuns>> {
    let untraced = runs.first().context("no untraced runs")?.clone();
    configs
        .into_iter()
        .zip(runs)
        .map(|(config, runs)| {
            let rps: Vec<f64> = runs.iter().map(|[t, _]| t.per_second()).collect();
            let ratios: Vec<f64> = runs
                .iter()
                .zip(&untraced)
                .map(|([t, _], [u, _])| t.per_second() / u.per_second())
                .collect();
            let twin_ratios: Vec<f64> = runs
                .iter()
                .zip(&untraced)
                .map(|(run, base)| quotient(run) / quotient(base))
                .collect();
            Ok(ServiceRuns {
                config,
                rps: Summary::of(&rps).context("no service runs")?,
                ratio: Summary::of(&ratios).context("no service runs")?,
                twin_ratio: Summary::of(&twin_ratios).context("no service runs")?,
                runs: runs.iter().map(|[t, _]| *t).collect(),
                twin_runs: runs.iter().map(|[_, w]| *w).collect(),
            })
        })
        .collect()
}

/// The target's requests per second over its twin's in one run.
fn quotient([target, twin]: &[Load; 2]) -> f64 {
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
fn load_both(addrs: [SocketAddr; 2], connections: usize, duration: Duration) -> Result<[Load; 2]> {
    let [target, twin] = addrs;
    let twin = std::thread::spawn(move || loadgen::run(twin, "/", connections, duration));
    let target = loadgen::run(target, "/", connections, duration)?;
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
        if loadgen::run(addr, "/", 1, Duration::from_millis(50))?.requests > 0 {
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

    #[test]
    fn ratios_pair_each_run_with_its_rounds_untraced_run() {
        // Round 2 runs at half speed for everyone: the per-round ratios do not see it.
        let untraced = vec![[load(100), load(100)], [load(50), load(40)]];
        let traced = vec![[load(90), load(100)], [load(45), load(50)]];
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
    }
}
