//! Point 4: a real service under load. nginx (`trace-test/nginx:local`) answers keep-alive GETs
//! from the loopback load generator ([`super::loadgen`]); after one warm-up run, rounds run it
//! untraced, under the floor, traced by trace (and by the `--baseline` build), in an order rotated
//! by one each round.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use trace_tests::{Container, TestImage, docker_ok, ensure_image};

use super::Bench;
use super::loadgen::{self, Load};
use super::stats::Summary;
use super::tracers::{self, Config, Target, Usage};

/// How long nginx gets to answer after starting.
const READY_WAIT: Duration = Duration::from_secs(20);

/// What the service part measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceResult {
    pub server: &'static str,
    /// Every configuration's runs, in the order of [`Config`].
    pub configs: Vec<ServiceRuns>,
    pub untraced_rps: Summary,
    pub traced_rps: Summary,
    /// Median traced over median untraced requests per second.
    pub ratio: f64,
    pub trace_usage: Vec<Usage>,
}

/// One configuration's service runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceRuns {
    pub config: Config,
    pub runs: Vec<Load>,
    pub rps: Summary,
    /// Median requests per second over the untraced median.
    pub ratio: f64,
}

pub fn run(bench: &Bench) -> Result<ServiceResult> {
    let image = ensure_image(TestImage::Nginx)?;
    let cpus = Cpus::split()?;
    let cpuset = cpus.server.map(|cpu| cpu.to_string());
    let mut docker_args = Vec::new();
    if let Some(cpuset) = &cpuset {
        docker_args.extend(["--cpuset-cpus", cpuset.as_str()]);
    }
    let container = Container::run(&image, "trace-bench-nginx", &docker_args, &[])?;
    // The load generator's threads and the tracers, started from this thread, inherit its mask.
    let _pinned = cpus.pin_rest()?;
    let ip = docker_ok(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container.id(),
    ])?;
    let addr: SocketAddr = format!("{ip}:80")
        .parse()
        .with_context(|| format!("container address {ip:?}"))?;
    wait_ready(addr)?;
    let sizes = &bench.sizes;
    let duration = Duration::from_secs(sizes.service_secs);
    let load = || loadgen::run(addr, "/", sizes.service_connections, duration);
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
    let mut runs: Vec<Vec<Load>> = vec![Vec::new(); configs.len()];
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
            runs[i].push(check(result, config)?);
        }
    }
    let mut summaries = Vec::new();
    for (config, runs) in configs.into_iter().zip(runs) {
        let rps = Summary::of(&runs.iter().map(Load::per_second).collect::<Vec<_>>())
            .context("no service runs")?;
        summaries.push((config, runs, rps));
    }
    let untraced_rps = summaries[0].2;
    let configs: Vec<ServiceRuns> = summaries
        .into_iter()
        .map(|(config, runs, rps)| ServiceRuns {
            config,
            runs,
            ratio: rps.median / untraced_rps.median,
            rps,
        })
        .collect();
    let traced = configs
        .iter()
        .find(|c| c.config == Config::Trace)
        .context("no traced runs")?;
    let (traced_rps, ratio) = (traced.rps, traced.ratio);
    for c in &configs {
        eprintln!(
            "bench: nginx {}: {:.0} req/s ({:.3})",
            c.config.name(),
            c.rps.median,
            c.ratio
        );
    }
    Ok(ServiceResult {
        server: "nginx (trace-test/nginx:local)",
        configs,
        untraced_rps,
        traced_rps,
        ratio,
        trace_usage,
    })
}

/// The server gets the last CPU to itself; the load generator, the tracers' userspace and
/// everything else share the others. Unpinned, the runs of one configuration spread by 50 %
/// on the 2-CPU test VM (35,000-58,000 requests per second), as the scheduler moves 16 load
/// threads and 2 nginx workers around; a real service's clients are not on its machine either.
struct Cpus {
    /// `None` on a 1-CPU machine: nothing is pinned.
    server: Option<usize>,
    rest: Vec<usize>,
}

impl Cpus {
    fn split() -> Result<Cpus> {
        let allowed = affinity()?;
        Ok(match allowed.split_last() {
            Some((&last, rest)) if !rest.is_empty() => Cpus {
                server: Some(last),
                rest: rest.to_vec(),
            },
            _ => Cpus {
                server: None,
                rest: allowed,
            },
        })
    }

    /// Pins the calling thread to the CPUs not given to the server, until the guard is dropped.
    fn pin_rest(&self) -> Result<Option<Pinned>> {
        if self.server.is_none() {
            return Ok(None);
        }
        let before = affinity()?;
        set_affinity(&self.rest)?;
        Ok(Some(Pinned { before }))
    }
}

/// Restores the calling thread's CPU mask when dropped.
struct Pinned {
    before: Vec<usize>,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = set_affinity(&self.before);
    }
}

/// The CPUs the calling thread may run on.
fn affinity() -> Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer and size describe `set`, writable for the call.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &raw mut set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("sched_getaffinity");
    }
    // SAFETY: CPU_ISSET reads the set; every index is below CPU_SETSIZE.
    Ok((0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Sets the calling thread's CPU mask.
fn set_affinity(cpus: &[usize]) -> Result<()> {
    // SAFETY: as in `affinity`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET writes one bit of `set`; the CPUs came from sched_getaffinity.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: the pointer and size describe `set`, readable for the call.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("sched_setaffinity");
    }
    Ok(())
}

/// A run that got answers; a run of errors only means the service is broken.
fn check(load: Load, config: Config) -> Result<Load> {
    eprintln!(
        "bench: nginx {}: {:.0} req/s ({} errors)",
        config.name(),
        load.per_second(),
        load.errors
    );
    if load.requests == 0 {
        bail!("nginx answered no request ({} errors)", load.errors);
    }
    Ok(load)
}

fn wait_ready(addr: SocketAddr) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < READY_WAIT {
        if loadgen::run(addr, "/", 1, Duration::from_millis(50))?.requests > 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "nginx at {addr} did not answer within {} s",
        READY_WAIT.as_secs()
    )
}
