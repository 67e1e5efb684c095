//! Point 4: a real service under load. nginx (`trace-test/nginx:local`) answers keep-alive GETs
//! from the loopback load generator ([`super::loadgen`]); runs alternate untraced and traced by
//! trace (ABAB), after one warm-up run.

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
    pub untraced: Vec<Load>,
    pub traced: Vec<Load>,
    pub untraced_rps: Summary,
    pub traced_rps: Summary,
    /// Median traced over median untraced requests per second.
    pub ratio: f64,
    pub trace_usage: Vec<Usage>,
}

pub fn run(bench: &Bench) -> Result<ServiceResult> {
    let image = ensure_image(TestImage::Nginx)?;
    let container = Container::run(&image, "trace-bench-nginx", &[], &[])?;
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
    let (mut untraced, mut traced, mut trace_usage) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..sizes.service_rounds {
        for traced_run in [round % 2 == 1, round % 2 == 0] {
            if traced_run {
                let session = tracers::start(bench, Config::Trace, &target, out.path())?
                    .context("trace has a session")?;
                let result = load()?;
                trace_usage.push(session.stop()?.0);
                traced.push(check(result, "traced")?);
            } else {
                untraced.push(check(load()?, "untraced")?);
            }
        }
    }
    let rps = |runs: &[Load]| {
        Summary::of(&runs.iter().map(Load::per_second).collect::<Vec<_>>())
            .context("no service runs")
    };
    let (untraced_rps, traced_rps) = (rps(&untraced)?, rps(&traced)?);
    let ratio = traced_rps.median / untraced_rps.median;
    eprintln!(
        "bench: nginx: {:.0} req/s untraced, {:.0} traced ({ratio:.3})",
        untraced_rps.median, traced_rps.median
    );
    Ok(ServiceResult {
        server: "nginx (trace-test/nginx:local)",
        untraced,
        traced,
        untraced_rps,
        traced_rps,
        ratio,
        trace_usage,
    })
}

/// A run that got answers; a run of errors only means the service is broken.
fn check(load: Load, what: &str) -> Result<Load> {
    eprintln!(
        "bench: nginx {what}: {:.0} req/s ({} errors)",
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
