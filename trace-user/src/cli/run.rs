//! `trace run IMAGE`: create a container, arm the probe before any of its processes runs, start
//! it, exercise it, stop it, and write the same outputs as attaching, with the startup recorded.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use bollard::Docker;

use super::RunArgs;
use super::attach::{check_after, container_info, finish_recording, host_info, now, write_outputs};
use crate::exercise;
use crate::probe::{self, Probe};
use crate::recording::{Recording, Startup, name_syscalls};
use crate::render;
use crate::session::{self, StopSignals};
use crate::target::{self, lifecycle};

/// How long the container's cgroup may take to appear after the start request.
const CATCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for readiness at most.
const READY_TIMEOUT: Duration = Duration::from_mins(1);

pub(super) fn run(args: RunArgs) -> anyhow::Result<i32> {
    super::block_on(run_container(args))
}

async fn run_container(args: RunArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(
        args.exec.is_none() || args.exercise.is_empty(),
        "--exec and a host exercise after -- exclude each other"
    );
    anyhow::ensure!(
        args.minimize || args.slim == super::SlimArgs::default(),
        "--tag, --include and --include-from go with --minimize"
    );
    let mut signals = StopSignals::install().context("cannot install signal handlers")?;
    probe::preflight()?;
    // Read the committed profiles before anything is written (--out may be the same directory).
    let committed = args
        .check
        .as_deref()
        .map(super::check::load_committed)
        .transpose()?;
    let docker = target::docker::connect().await?;
    let id = lifecycle::create(&docker, &args.spec()).await?;
    // From here on the container exists: remove it whatever happens (unless --keep).
    let result = record(&docker, &id, &args, &mut signals).await;
    if !args.keep {
        lifecycle::stop(&docker, &id).await;
        lifecycle::remove(&docker, &id).await;
    }
    let (exercised, recording) = result?;
    let checked = check_after(
        &recording,
        committed.as_ref(),
        args.check.as_deref(),
        exercised,
    );
    if !args.minimize {
        return Ok(checked);
    }
    anyhow::ensure!(
        exercised == 0,
        "not minimizing: the exercise failed while recording (status {exercised})"
    );
    let report =
        super::minimize::minimize_recording(&docker, &recording, &args.slim, &mut signals).await?;
    let code = exercise_slim(&docker, &args, &report.tag, &mut signals).await?;
    anyhow::ensure!(
        code == 0,
        "the exercise failed against the slim image {} (status {code}): it needs files the trace did not see; add them with --include (docs/minimize.md)",
        report.tag
    );
    eprintln!(
        "trace: the exercise passed against the slim image {}",
        report.tag
    );
    Ok(checked)
}

/// Records the created container `id` from its start through the exercise; writes the outputs
/// and prints the summary; returns the exercise's exit code and the recording.
async fn record(
    docker: &Docker,
    id: &str,
    args: &RunArgs,
    signals: &mut StopSignals,
) -> anyhow::Result<(i32, Recording)> {
    let names = [id.to_owned(), format!("docker-{id}.scope")];
    let mut probe = Probe::attach_pending(&names)?;
    let mut events = probe.take_event_reader();
    lifecycle::start(docker, id).await?;
    let (cgroup_id, _level) = wait_caught(&probe).await?;
    let container = target::docker::resolve_any(docker, id).await?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("profiles").join(&container.name));
    crate::out::prepare_dir(&out_dir)?;
    let mut recording = Recording::started(container_info(&container), host_info(), now(), true);
    eprintln!(
        "trace: recording container {} ({}) from its start, cgroup id {cgroup_id}; stop with Ctrl-C",
        container.name,
        &id[..12.min(id.len())]
    );

    let ip = lifecycle::ip_address(docker, id).await;
    let ports = exposed_tcp_ports(&args.publish, docker, id).await;
    wait_ready(docker, id, args, ip.as_deref(), &ports).await;
    let mut host_exercise = spawn_host_exercise(args, &container.name, id, ip.as_deref())?;
    let watched = session::Watched {
        docker,
        container_id: id,
        probe: &probe,
        events: events.as_mut(),
        recording: &mut recording,
    };
    let outcome = {
        let mut running = exercise(docker, id, args, ip, ports, host_exercise.as_mut());
        if running.is_none() {
            eprintln!(
                "trace: no exercise given and no TCP port to probe; recording until the container stops, --duration or Ctrl-C"
            );
        }
        let running = running
            .as_mut()
            .map(|f| f.as_mut() as session::Exercise<'_>);
        session::wait_for_stop(watched, running, args.duration, signals).await
    };
    if let Some(child) = host_exercise.as_mut() {
        session::finish_exercise(child).await;
    }
    recording.identity = target::identity::observe(container.pid, recording.execs.keys());
    finish_recording(
        &mut recording,
        &probe,
        events.as_ref(),
        outcome.reason.clone(),
    )?;
    let phases = probe.phase_syscall_counts()?;
    let (before, _) = name_syscalls(&phases.runc_before_filter.counts, 0);
    let (after, _) = name_syscalls(&phases.runc_after_filter.counts, 0);
    let (application, unknown) =
        name_syscalls(&phases.application.counts, phases.application.out_of_range);
    recording.syscalls = application;
    recording.unknown_syscalls = unknown;
    recording.startup = Some(Startup {
        filter_installed: phases.filter_seen,
        runc_before_filter: before,
        runc_after_filter: after,
    });

    let written = write_outputs(&out_dir, &recording, &args.profile.options())?;
    print!("{}", render::summary::render(&recording, &written));
    // Detaching takes about 2 s (see probe::links): after the outputs are written and reported.
    drop(probe);
    Ok((outcome.exit_code, recording))
}

/// The exercise of `args` against the started container `id`: the host command already spawned
/// (`host`), `--exec` inside the container, or the built-in crawl of `ports`; `None` when there is
/// none (no exercise given and no TCP port: the container is its own exercise).
fn exercise<'a>(
    docker: &'a Docker,
    id: &'a str,
    args: &'a RunArgs,
    ip: Option<String>,
    ports: Vec<u16>,
    host: Option<&'a mut tokio::process::Child>,
) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = i32> + 'a>>> {
    if let Some(child) = host {
        return Some(Box::pin(session::wait_child(child)));
    }
    if let Some(command) = args.exec.as_deref() {
        let exec = lifecycle::exec_shell(docker, id, command);
        return Some(Box::pin(async move {
            exec.await.unwrap_or_else(|e| {
                eprintln!("trace: error: the exercise failed to run: {e:#}");
                127
            })
        }));
    }
    let ip = ip.filter(|_| args.exercise.is_empty() && !ports.is_empty())?;
    Some(Box::pin(builtin_exercise(ip, ports)))
}

/// Starts a fresh container from `image` with the same options and runs the same exercise
/// against it, untraced; returns the exercise's exit code (or, without an exercise, the
/// container's: 0 when it still runs at --duration).
async fn exercise_slim(
    docker: &Docker,
    args: &RunArgs,
    image: &str,
    signals: &mut StopSignals,
) -> anyhow::Result<i32> {
    let mut spec = args.spec();
    spec.image = image.to_owned();
    spec.name = spec.name.map(|name| format!("{name}-slim"));
    let id = lifecycle::create(docker, &spec).await?;
    eprintln!("trace: exercising the slim image {image}");
    let result = async {
        lifecycle::start(docker, &id).await?;
        let name = target::docker::resolve_any(docker, &id).await?.name;
        let ip = lifecycle::ip_address(docker, &id).await;
        let ports = exposed_tcp_ports(&args.publish, docker, &id).await;
        wait_ready(docker, &id, args, ip.as_deref(), &ports).await;
        let mut host = spawn_host_exercise(args, &name, &id, ip.as_deref())?;
        let code = {
            let running = exercise(docker, &id, args, ip.clone(), ports, host.as_mut());
            let finished = async {
                match running {
                    Some(running) => running.await,
                    None => lifecycle::wait_exit(docker, &id).await,
                }
            };
            let limit = async {
                match args.duration {
                    Some(duration) => tokio::time::sleep(duration).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                code = finished => code,
                () = limit => 0,
                code = signals.received() => code,
            }
        };
        if let Some(child) = host.as_mut() {
            session::finish_exercise(child).await;
        }
        anyhow::Ok(code)
    }
    .await;
    if !args.keep {
        lifecycle::stop(docker, &id).await;
        lifecycle::remove(docker, &id).await;
    }
    result
}

/// Waits until the kernel side has caught the container's cgroup.
async fn wait_caught(probe: &Probe) -> anyhow::Result<(u64, u32)> {
    let started = Instant::now();
    loop {
        if let Some(caught) = probe.caught_cgroup()? {
            return Ok(caught);
        }
        anyhow::ensure!(
            started.elapsed() < CATCH_TIMEOUT,
            "the container's cgroup did not appear within {}s (is Docker using cgroup v2 names /docker/<id> or docker-<id>.scope?)",
            CATCH_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The container ports to probe: the published ones, else the image's exposed TCP ports.
async fn exposed_tcp_ports(publish: &[String], docker: &Docker, id: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = publish
        .iter()
        .filter_map(|p| {
            let (ports, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            (proto == "tcp")
                .then(|| ports.rsplit(':').next()?.parse().ok())
                .flatten()
        })
        .collect();
    if ports.is_empty() {
        ports = target::docker::exposed_tcp_ports(docker, id).await;
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Waits until `--ready` holds: `port:N` (a TCP connect to the container succeeds), `log:TEXT`
/// (its log shows TEXT), `delay:D`; by default the first exposed port, else one second.
async fn wait_ready(docker: &Docker, id: &str, args: &RunArgs, ip: Option<&str>, ports: &[u16]) {
    let condition = args.ready.clone().unwrap_or_else(|| match ports.first() {
        Some(port) => format!("port:{port}"),
        None => "delay:1s".to_owned(),
    });
    let started = Instant::now();
    let ready = async {
        if let Some(port) = condition
            .strip_prefix("port:")
            .and_then(|p| p.parse::<u16>().ok())
        {
            let Some(ip) = ip else { return };
            while tokio::net::TcpStream::connect((ip, port)).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        } else if let Some(text) = condition.strip_prefix("log:") {
            while !lifecycle::logs_contain(docker, id, text).await {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        } else if let Some(delay) = condition
            .strip_prefix("delay:")
            .and_then(|d| humantime::parse_duration(d).ok())
        {
            tokio::time::sleep(delay).await;
        }
    };
    if tokio::time::timeout(READY_TIMEOUT, ready).await.is_err() {
        eprintln!(
            "trace: warning: not ready ({condition}) after {}s; exercising anyway",
            READY_TIMEOUT.as_secs()
        );
    } else {
        log::info!("ready ({condition}) after {:?}", started.elapsed());
    }
}

fn spawn_host_exercise(
    args: &RunArgs,
    name: &str,
    id: &str,
    ip: Option<&str>,
) -> anyhow::Result<Option<tokio::process::Child>> {
    let Some((program, rest)) = args.exercise.split_first() else {
        return Ok(None);
    };
    let child = tokio::process::Command::new(program)
        .args(rest)
        .env("TRACE_CONTAINER", name)
        .env("TRACE_CONTAINER_ID", id)
        .env("TRACE_CONTAINER_IP", ip.unwrap_or(""))
        .spawn()
        .with_context(|| format!("cannot start the exercise {}", program.to_string_lossy()))?;
    Ok(Some(child))
}

/// The built-in exercise: GET / on each port and a bounded same-site crawl; reports each fetch on
/// stderr; succeeds when at least one page answered.
async fn builtin_exercise(ip: String, ports: Vec<u16>) -> i32 {
    let fetched = exercise::crawl(&ip, &ports).await;
    for page in &fetched {
        match page.status {
            Some(status) => eprintln!("trace: GET {} -> {status}", page.url),
            None => eprintln!("trace: GET {} -> no answer", page.url),
        }
    }
    i32::from(!fetched.iter().any(|f| f.status.is_some_and(|s| s < 400)))
}
