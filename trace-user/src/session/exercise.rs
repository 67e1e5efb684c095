//! The exercise that runs while a session records: a command on the host, or for `trace run` a
//! command inside the container (`--exec`), a host command that gets the container's address, or
//! the built-in crawl of its exposed ports, once the container is ready.

use std::ffi::OsString;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::Context;
use bollard::Docker;
use tokio::process::Child;

use super::StopSignals;
use crate::exercise;
use crate::runtime::{self, lifecycle};

/// How long to wait for readiness at most.
const READY_TIMEOUT: Duration = Duration::from_mins(1);
/// How long a container may take to stop before trace says it is waiting for it.
const STOP_NOTICE_AFTER: Duration = Duration::from_secs(1);
/// How long a still-running exercise gets after SIGTERM before SIGKILL.
const EXERCISE_GRACE: Duration = Duration::from_secs(5);

/// A running exercise: resolves to its exit code.
pub type Running<'a> = Pin<Box<dyn Future<Output = i32> + 'a>>;

/// What exercises a container `trace run` started.
#[derive(Clone, Debug, Default)]
pub struct RunExercise {
    /// `--exec CMD`: run with `/bin/sh -c` inside the container.
    pub exec: Option<String>,
    /// A host command, with `TRACE_CONTAINER`, `TRACE_CONTAINER_ID`, `TRACE_CONTAINER_IP`.
    pub host: Vec<OsString>,
    /// `--ready`; by default the first exposed port, else a one-second delay.
    pub ready: Option<Ready>,
    /// `--publish` values (their container ports are probed first).
    pub publish: Vec<String>,
}

/// When a started container is ready to be exercised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ready {
    /// `port:N`: a TCP connection to the container's port N succeeds.
    Port(u16),
    /// `log:TEXT`: the container's log shows TEXT.
    Log(String),
    /// `delay:D`: D after it started.
    Delay(Duration),
}

impl std::fmt::Display for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ready::Port(port) => write!(f, "port:{port}"),
            Ready::Log(text) => write!(f, "log:{text}"),
            Ready::Delay(delay) => write!(f, "delay:{}", humantime::format_duration(*delay)),
        }
    }
}

/// The container stopped before it was ready: there is nothing to exercise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitedEarly {
    /// Its exit code.
    pub exit_code: i32,
}

/// Where a started container answers.
#[derive(Clone, Debug, Default)]
pub struct Address {
    /// Its IP address on its first network.
    pub ip: Option<String>,
    /// The TCP ports to probe.
    pub ports: Vec<u16>,
}

/// Finds where the started container `id` answers and waits until `--ready` holds, or until the
/// container stops (reported at once, not after the readiness timeout).
pub async fn prepare(
    docker: &Docker,
    id: &str,
    exercise: &RunExercise,
) -> Result<Address, ExitedEarly> {
    let ip = lifecycle::ip_address(docker, id).await;
    let ports = exposed_tcp_ports(&exercise.publish, docker, id).await;
    tokio::select! {
        () = wait_ready(docker, id, exercise.ready.as_ref(), ip.as_deref(), &ports) => {
            Ok(Address { ip, ports })
        }
        exit_code = lifecycle::wait_exit(docker, id) => Err(ExitedEarly { exit_code }),
    }
}

/// Starts `command` on the host with `env` added to its environment; `None` for no command.
pub fn spawn_host(command: &[OsString], env: &[(&str, String)]) -> anyhow::Result<Option<Child>> {
    let Some((program, args)) = command.split_first() else {
        return Ok(None);
    };
    let mut command = tokio::process::Command::new(program);
    command.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    // With a progress line on the terminal, the exercise's output passes through trace so that
    // the line is drawn around it; otherwise the exercise writes to trace's streams itself.
    let forward = crate::term::progress_shown();
    if forward {
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start the exercise {}", program.to_string_lossy()))?;
    if forward {
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward_output(out, crate::term::Stream::Stdout));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward_output(err, crate::term::Stream::Stderr));
        }
    }
    Ok(Some(child))
}

/// Copies what the exercise writes to trace's `stream`, around the progress line.
async fn forward_output(mut from: impl tokio::io::AsyncRead + Unpin, stream: crate::term::Stream) {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0; 8192];
    while let Ok(n) = from.read(&mut buffer).await
        && n > 0
    {
        crate::term::write(stream, &buffer[..n]);
    }
}

/// Runs the exercise of the ready container `id` (`trace run`'s, named `name`, answering at
/// `address`): starts its host command (with `env` added to [`run_env`], the mark socket), hands
/// the running exercise (`None`: there is none) to `until` and waits for it, then ends the host
/// command if it still runs.
pub async fn run_ready<T>(
    docker: &Docker,
    id: &str,
    name: &str,
    exercise: &RunExercise,
    address: &Address,
    env: &[(&'static str, String)],
    until: impl for<'r> AsyncFnOnce(Option<Running<'r>>) -> T,
) -> anyhow::Result<T> {
    let mut all = run_env(name, id, address);
    all.extend_from_slice(env);
    with_host(&exercise.host, &all, async |host| {
        until(running(docker, id, exercise, address, host)).await
    })
    .await
}

/// Starts `command` on the host (nothing when it is empty) with `env` added to its environment,
/// hands it to `until` and waits for that, then ends the command if it still runs.
pub async fn with_host<T>(
    command: &[OsString],
    env: &[(&str, String)],
    until: impl for<'r> AsyncFnOnce(Option<&'r mut Child>) -> T,
) -> anyhow::Result<T> {
    let mut host = spawn_host(command, env)?;
    let result = until(host.as_mut()).await;
    if let Some(child) = host.as_mut() {
        finish(child).await;
    }
    Ok(result)
}

/// The environment a host exercise of `trace run` gets.
pub fn run_env(name: &str, id: &str, address: &Address) -> Vec<(&'static str, String)> {
    vec![
        ("TRACE_CONTAINER", name.to_owned()),
        ("TRACE_CONTAINER_ID", id.to_owned()),
        ("TRACE_CONTAINER_IP", address.ip.clone().unwrap_or_default()),
    ]
}

/// The exercise of a `trace run` container: the host command already spawned (`host`), `--exec`
/// inside the container, or the built-in crawl of its ports; `None` when there is none (no
/// exercise given and no TCP port: the container is its own exercise).
pub fn running<'a>(
    docker: &'a Docker,
    id: &'a str,
    exercise: &'a RunExercise,
    address: &Address,
    host: Option<&'a mut Child>,
) -> Option<Running<'a>> {
    if let Some(child) = host {
        return Some(Box::pin(wait_child(child)));
    }
    if let Some(command) = exercise.exec.as_deref() {
        let exec = lifecycle::exec_shell(docker, id, command);
        return Some(Box::pin(async move {
            exec.await.unwrap_or_else(|e| {
                say!("trace: error: the exercise failed to run: {e:#}");
                127
            })
        }));
    }
    let ip = address
        .ip
        .clone()
        .filter(|_| exercise.host.is_empty() && !address.ports.is_empty())?;
    Some(Box::pin(builtin(ip, address.ports.clone())))
}

/// Waits for a host process and returns its exit code (127 when waiting fails).
pub async fn wait_child(child: &mut Child) -> i32 {
    child.wait().await.map_or(127, exit_code)
}

/// A process's exit status as a shell reports it (128 + signal for a killed process).
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// Terminates an exercise that is still running (SIGTERM, then SIGKILL after a grace period).
pub async fn finish(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: kill(2) with a pid we spawned and have not reaped; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    if tokio::time::timeout(EXERCISE_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// Stops a container trace started, as `docker stop -t TIMEOUT_S` does (its stop signal, SIGKILL
/// after `timeout_s`);
/// says so when that takes a while, and kills it at once on a further SIGINT or SIGTERM.
pub async fn stop(docker: &Docker, id: &str, timeout_s: u32, signals: &mut StopSignals) {
    let stopping = lifecycle::stop(docker, id, timeout_s);
    tokio::pin!(stopping);
    let interrupted = tokio::select! {
        () = &mut stopping => return,
        () = tokio::time::sleep(STOP_NOTICE_AFTER) => false,
        _ = signals.stop() => true,
    };
    if !interrupted {
        note!(
            "trace: stopping the container (the engine kills it {timeout_s} s after its stop signal; Ctrl-C again kills it now)"
        );
        tokio::select! {
            () = &mut stopping => return,
            _ = signals.stop() => {}
        }
    }
    note!("trace: killing the container");
    lifecycle::kill(docker, id).await;
    stopping.await;
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
        ports = runtime::docker::exposed_tcp_ports(docker, id).await;
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Waits until `ready` holds; by default the first exposed port, else one second.
async fn wait_ready(
    docker: &Docker,
    id: &str,
    ready: Option<&Ready>,
    ip: Option<&str>,
    ports: &[u16],
) {
    let condition = ready.cloned().unwrap_or_else(|| match ports.first() {
        Some(&port) => Ready::Port(port),
        None => Ready::Delay(Duration::from_secs(1)),
    });
    let started = Instant::now();
    if let Ready::Delay(delay) = condition {
        tokio::time::sleep(delay).await;
        return;
    }
    let ready = async {
        match &condition {
            Ready::Port(port) => {
                let Some(ip) = ip else {
                    // No address yet: the container may be dying (which `prepare` reports), or
                    // have no network.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    say!(
                        "trace: warning: the container has no IP address to probe port {port} on; exercising anyway"
                    );
                    return;
                };
                while tokio::net::TcpStream::connect((ip, *port)).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Ready::Log(text) => {
                while !lifecycle::logs_contain(docker, id, text).await {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Ready::Delay(_) => {}
        }
    };
    if tokio::time::timeout(READY_TIMEOUT, ready).await.is_err() {
        say!(
            "trace: warning: not ready ({condition}) after {}s; exercising anyway",
            READY_TIMEOUT.as_secs()
        );
    } else {
        log::info!("ready ({condition}) after {:?}", started.elapsed());
    }
}

/// The built-in exercise: GET / on each port and a bounded same-site crawl; reports each fetch on
/// stderr; succeeds when at least one page answered.
async fn builtin(ip: String, ports: Vec<u16>) -> i32 {
    let fetched = exercise::crawl(&ip, &ports).await;
    for page in &fetched {
        if let Some(status) = page.status {
            note!("trace: GET {} -> {status}", page.url);
        } else {
            note!("trace: GET {} -> no answer", page.url);
        }
    }
    i32::from(!fetched.iter().any(|f| f.status.is_some_and(|s| s < 400)))
}
