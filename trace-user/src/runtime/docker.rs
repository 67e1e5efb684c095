//! Resolving a container through the Docker API (bollard), which Podman's API service speaks too
//! ([`super::engine`]).

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerInspectResponse, EventMessage};
use bollard::query_parameters::{
    EventsOptionsBuilder, LogsOptionsBuilder, RestartContainerOptionsBuilder,
};
use futures_util::{Stream, StreamExt};

use super::compat;
use super::engine::{self, Endpoint, EngineKind};
use crate::recording::{ContainerConfig, MountConfig, ProcessConfig, RuntimeInfo};

/// A container as the Docker API describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerTarget {
    /// Full id.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// The image's content id.
    pub image_id: String,
    /// Host pid of its main process.
    pub pid: u32,
    /// Where its volumes and bind mounts are mounted inside it (sorted).
    pub mounts: Vec<String>,
    /// What it is allowed: user, privileges, namespaces, mounts, limits, ports.
    pub config: ContainerConfig,
    /// Its labels (the image's included).
    pub labels: BTreeMap<String, String>,
    /// Its state when inspected.
    pub state: ContainerState,
    /// The engine and OCI runtime that start it (`None` when the engine could not say).
    pub runtime: Option<RuntimeInfo>,
}

/// A container's state as Docker reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerState {
    /// Docker's status word: created, running, restarting, exited, ...
    pub status: String,
    /// Its main process runs.
    pub running: bool,
    /// Docker is about to start it again (restart policy).
    pub restarting: bool,
    /// The last exit code.
    pub exit_code: i64,
    /// The OOM killer ended it last.
    pub oom_killed: bool,
}

/// Errors talking to Docker, each a one-line message saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine did not answer.
    #[error("cannot reach {} at {host} ({})", .engine.title(), .engine.unreachable_hint(.host))]
    Unreachable {
        /// The engine asked for.
        engine: EngineKind,
        /// Its socket.
        host: String,
        /// The client error.
        #[source]
        source: BollardError,
    },
    /// No container has that name or id.
    #[error("no container named or with id '{name}'; running containers: {}", list_or_none(.running))]
    UnknownContainer {
        /// What the user asked for.
        name: String,
        /// Names of the running containers.
        running: Vec<String>,
    },
    /// The container exists but is not running.
    #[error("container '{name}' is {status}, not running; start it first (docker start {name})")]
    NotRunning {
        /// Its name.
        name: String,
        /// Docker's status word (created, exited, paused...).
        status: String,
    },
    /// Any other API failure.
    #[error("Docker API request failed")]
    Api(#[source] BollardError),
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Connects to the Docker engine named by `DOCKER_HOST` (default: the local socket); see
/// [`Endpoint::connect`].
pub async fn connect() -> Result<Docker, DockerError> {
    Endpoint::new(EngineKind::Docker, None).connect().await
}

/// Looks a container up by name or id; it must be running.
pub async fn resolve(docker: &Docker, name_or_id: &str) -> Result<ContainerTarget, DockerError> {
    let (container, running, status) = Box::pin(inspect(docker, name_or_id)).await?;
    if !running {
        return Err(DockerError::NotRunning {
            name: container.name,
            status,
        });
    }
    Ok(container)
}

/// Looks a container up by name or id, running or not (`pid` is 0 when it is not running).
pub async fn resolve_any(
    docker: &Docker,
    name_or_id: &str,
) -> Result<ContainerTarget, DockerError> {
    Box::pin(inspect(docker, name_or_id))
        .await
        .map(|(container, _, _)| container)
}

/// The container's exposed TCP ports (from its image and `--expose`), sorted.
pub async fn exposed_tcp_ports(docker: &Docker, id: &str) -> Vec<u16> {
    let Ok(inspect) = compat::inspect_container(docker, id).await else {
        return Vec::new();
    };
    let mut ports: Vec<u16> = inspect
        .config
        .and_then(|c| c.exposed_ports)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.strip_suffix("/tcp")?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports
}

/// The container, whether it is running, and Docker's status word for it. Two Docker requests
/// (the container, then its image): callers box this future, which would otherwise grow every
/// future that resolves a container by the size of both answers.
async fn inspect(
    docker: &Docker,
    name_or_id: &str,
) -> Result<(ContainerTarget, bool, String), DockerError> {
    let inspect = match compat::inspect_container(docker, name_or_id).await {
        Ok(inspect) => inspect,
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            return Err(DockerError::UnknownContainer {
                name: name_or_id.to_owned(),
                running: running_names(docker).await?,
            });
        }
        Err(e) => return Err(DockerError::Api(e)),
    };
    let config = config_of(&inspect);
    let runtime_name = inspect.host_config.as_ref().and_then(|h| h.runtime.clone());
    // Kept only until the names are picked below, never stored.
    let env = inspect
        .config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_default();
    let name = inspect
        .name
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_owned();
    let labels: BTreeMap<String, String> = inspect
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let state = inspect.state.unwrap_or_default();
    let running = state.running == Some(true);
    let container_state = ContainerState {
        status: state
            .status
            .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
        running,
        restarting: state.restarting == Some(true),
        exit_code: state.exit_code.unwrap_or(0),
        oom_killed: state.oom_killed == Some(true),
    };
    let pid = state
        .pid
        .and_then(|pid| u32::try_from(pid).ok())
        .filter(|_| running)
        .unwrap_or(0);
    let status = container_state.status.clone();
    let mut mounts: Vec<String> = inspect
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.destination)
        .collect();
    mounts.sort();
    let mut container = ContainerTarget {
        mounts,
        config,
        id: inspect.id.unwrap_or_default(),
        name,
        image: inspect.config.and_then(|c| c.image).unwrap_or_default(),
        image_id: inspect.image.unwrap_or_default(),
        pid,
        labels,
        state: container_state,
        runtime: None,
    };
    match engine::facts(docker).await {
        Ok(facts) => container.runtime = Some(facts.runtime_of(runtime_name.as_deref())),
        Err(e) => log::warn!("the engine does not say which runtime starts containers: {e}"),
    }
    if !container.image_id.is_empty()
        && let Some(image_env) = image_env(docker, &container.image_id).await
    {
        set_env_names(&mut container.config, &env, &image_env);
    }
    Ok((container, running && pid > 0, status))
}

/// The image's own environment (`NAME=VALUE` entries), to tell the variables the container's
/// creator set from the image's; `None` when the image cannot be inspected.
async fn image_env(docker: &Docker, image: &str) -> Option<Vec<String>> {
    match docker.inspect_image(image).await {
        Ok(inspect) => Some(inspect.config.and_then(|c| c.env).unwrap_or_default()),
        Err(e) => {
            log::warn!(
                "cannot inspect image {image} ({e}): the container's environment variable names are not recorded"
            );
            None
        }
    }
}

/// Records in `config`'s process the names of the variables of `env` (the container's
/// `NAME=VALUE` entries) that `image_env` (the image's) does not have: only names, never values.
fn set_env_names(config: &mut ContainerConfig, env: &[String], image_env: &[String]) {
    if let Some(process) = config.process.as_mut() {
        process.env_names = Some(ProcessConfig::env_names_beyond(env, image_env));
    }
}

/// The configuration parts of an inspect answer that hardening advice weighs, and the program it
/// runs, without the environment's names (see [`set_env_names`]).
fn config_of(inspect: &ContainerInspectResponse) -> ContainerConfig {
    let sorted = |list: Option<&Vec<String>>| {
        let mut list = list.cloned().unwrap_or_default();
        list.sort();
        list
    };
    let host = inspect.host_config.clone().unwrap_or_default();
    let config = inspect.config.clone().unwrap_or_default();
    let mut mounts: Vec<MountConfig> = inspect
        .mounts
        .iter()
        .flatten()
        .map(|m| MountConfig {
            destination: m.destination.clone().unwrap_or_default(),
            kind: m.typ.clone().unwrap_or_default(),
            source: m
                .source
                .clone()
                .or_else(|| m.name.clone())
                .unwrap_or_default(),
            rw: m.rw.unwrap_or(true),
        })
        .collect();
    mounts.extend(
        host.tmpfs
            .iter()
            .flatten()
            .map(|(path, options)| MountConfig {
                destination: path.clone(),
                kind: "tmpfs".into(),
                source: String::new(),
                rw: !options.split(',').any(|o| o == "ro"),
            }),
    );
    mounts.sort();
    let mut published: Vec<String> = host
        .port_bindings
        .iter()
        .flatten()
        .flat_map(|(port, bindings)| {
            bindings.iter().flatten().map(move |b| {
                let ip = b
                    .host_ip
                    .as_deref()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or("0.0.0.0");
                let host_port = b.host_port.as_deref().unwrap_or_default();
                format!("{port} -> {ip}:{host_port}")
            })
        })
        .collect();
    published.sort();
    let process = ProcessConfig {
        entrypoint: config.entrypoint.clone().unwrap_or_default(),
        cmd: config.cmd.clone().unwrap_or_default(),
        working_dir: config.working_dir.clone().unwrap_or_default(),
        env_names: None,
    };
    ContainerConfig {
        user: config.user.unwrap_or_default(),
        privileged: host.privileged.unwrap_or(false),
        cap_add: sorted(host.cap_add.as_ref()),
        cap_drop: sorted(host.cap_drop.as_ref()),
        security_opt: sorted(host.security_opt.as_ref()),
        network_mode: host.network_mode.unwrap_or_default(),
        pid_mode: host.pid_mode.unwrap_or_default(),
        ipc_mode: host.ipc_mode.unwrap_or_default(),
        uts_mode: host.uts_mode.unwrap_or_default(),
        read_only_rootfs: host.readonly_rootfs.unwrap_or(false),
        mounts,
        memory: host.memory.unwrap_or(0),
        pids_limit: host.pids_limit.unwrap_or(0),
        nano_cpus: host.nano_cpus.unwrap_or(0),
        cpu_quota: host.cpu_quota.unwrap_or(0),
        exposed_ports: sorted(config.exposed_ports.as_ref()),
        published_ports: published,
        process: Some(process),
    }
}

/// Whether the container is still running (false once it is gone or stopped).
pub async fn is_running(docker: &Docker, id: &str) -> Result<bool, DockerError> {
    match compat::inspect_container(docker, id).await {
        Ok(inspect) => Ok(inspect.state.and_then(|s| s.running) == Some(true)),
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(DockerError::Api(e)),
    }
}

/// The names of the running containers, sorted.
pub async fn running_names(docker: &Docker) -> Result<Vec<String>, DockerError> {
    let list = compat::list_containers(docker, false)
        .await
        .map_err(DockerError::Api)?;
    let mut names: Vec<String> = list
        .into_iter()
        .filter_map(|c| c.names?.into_iter().next())
        .map(|n| n.trim_start_matches('/').to_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// The ids of every container Docker knows (running or not), newest first.
pub async fn all_ids(docker: &Docker) -> Result<Vec<String>, DockerError> {
    let list = compat::list_containers(docker, true)
        .await
        .map_err(DockerError::Api)?;
    Ok(list.into_iter().filter_map(|c| c.id).collect())
}

/// Restarts a running container (`docker restart`, 10 s to stop).
pub async fn restart(docker: &Docker, id: &str) -> Result<(), DockerError> {
    let options = RestartContainerOptionsBuilder::default().t(10).build();
    docker
        .restart_container(id, Some(options))
        .await
        .map_err(DockerError::Api)
}

/// The last `lines` lines of the container's log (stdout and stderr), lossily decoded.
pub async fn last_log_lines(docker: &Docker, id: &str, lines: usize) -> Vec<String> {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(false)
        .tail(&lines.to_string())
        .build();
    let mut logs = docker.logs(id, Some(options));
    let mut text = Vec::new();
    while let Some(Ok(chunk)) = logs.next().await {
        text.extend_from_slice(&chunk.into_bytes());
    }
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What happened to a container, from Docker's event stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEvent {
    /// The container's id.
    pub id: String,
    /// Docker's action: `start`, `kill`, `stop`, `die`, `oom`, `restart`, ...
    pub action: String,
    /// The event's attributes (`exitCode` for `die`, `signal` for `kill`, the labels, ...).
    pub attributes: HashMap<String, String>,
}

/// Docker's container events from now on.
pub fn container_events(
    docker: &Docker,
) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + use<> {
    let filters = HashMap::from([("type".to_owned(), vec!["container".to_owned()])]);
    // The request is sent when the stream is first polled, which may be after the probe has
    // loaded: asking for the events since now replays what happened in between (a container
    // that died meanwhile), so no event after this call is missed.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let since = format!("{}.{:09}", since.as_secs(), since.subsec_nanos());
    let options = EventsOptionsBuilder::default()
        .since(&since)
        .filters(&filters)
        .build();
    docker.events(Some(options)).map(|event| {
        let EventMessage { action, actor, .. } = event.map_err(DockerError::Api)?;
        let actor = actor.unwrap_or_default();
        Ok(ContainerEvent {
            id: actor.id.unwrap_or_default(),
            action: action.unwrap_or_default(),
            attributes: actor.attributes.unwrap_or_default(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container that dies after the event stream was made but before it is first read (while
    /// trace loads its probe) is still seen to die: the stream asks for the events since it was
    /// made. Without that, trace waited forever for a death it had missed.
    #[test]
    fn a_death_before_the_first_read_is_not_missed() {
        const TEST: &str = "a_death_before_the_first_read_is_not_missed";
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async {
            let docker = match connect().await {
                Ok(docker) if docker.ping().await.is_ok() => docker,
                _ => return trace_tests::cannot_run(TEST, "no Docker engine answers"),
            };
            let image = trace_tests::ensure_image(trace_tests::TestImage::Busybox)
                .expect("the busybox test image");
            let container =
                trace_tests::Container::run(&image, "trace-event-replay", &[], &["sleep", "600"])
                    .expect("a container");
            let mut events = Box::pin(container_events(&docker));
            trace_tests::docker_ok(&["kill", container.id()]).expect("docker kill");
            let died = tokio::time::timeout(std::time::Duration::from_secs(20), async {
                while let Some(event) = events.next().await {
                    let event = event.expect("an event");
                    if event.id == container.id() && event.action == "die" {
                        return true;
                    }
                }
                false
            })
            .await;
            assert_eq!(
                died,
                Ok(true),
                "the container's death was not in the stream"
            );
        });
    }

    /// The program and the variable names come from inspect; the values never reach the
    /// configuration, and the image's own variables are left out.
    #[test]
    fn config_keeps_the_program_and_only_the_names_the_creator_set() {
        let inspect = ContainerInspectResponse {
            config: Some(bollard::models::ContainerConfig {
                entrypoint: Some(vec!["/docker-entrypoint.sh".into()]),
                cmd: Some(vec![
                    "redis-server".into(),
                    "--appendonly".into(),
                    "yes".into(),
                ]),
                working_dir: Some("/data".into()),
                env: Some(vec![
                    "PATH=/usr/local/bin:/usr/bin".into(),
                    "REDIS_VERSION=7.2".into(),
                    "REDIS_PASSWORD=hunter2".into(),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let image = [
            "PATH=/usr/local/bin:/usr/bin".to_owned(),
            "REDIS_VERSION=7.2".to_owned(),
        ];
        let unknown = config_of(&inspect);
        // Without the image's environment, which names are the creator's is not claimed.
        assert_eq!(unknown.process.as_ref().unwrap().env_names, None);
        let mut config = unknown;
        let env = inspect.config.as_ref().unwrap().env.clone().unwrap();
        set_env_names(&mut config, &env, &image);
        let process = config.process.as_ref().unwrap();
        assert_eq!(process.entrypoint, ["/docker-entrypoint.sh"]);
        assert_eq!(process.cmd, ["redis-server", "--appendonly", "yes"]);
        assert_eq!(process.working_dir, "/data");
        assert_eq!(
            process.env_names.as_deref(),
            Some(&["REDIS_PASSWORD".to_owned()][..])
        );
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
    }
}
