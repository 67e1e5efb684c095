//! Creating, starting, exercising, stopping and removing a container through the Docker API, for
//! `trace run`.

use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptions, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::create::{CreateError, RunSpec, container_body};
use super::docker::DockerError;

/// Seconds `docker stop` waits before it kills.
pub const STOP_TIMEOUT_S: i32 = 10;

/// Why a container could not be created or a command run in it.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The `docker run`-style options do not make a container definition.
    #[error(transparent)]
    Options(#[from] CreateError),
    /// The image is not on this machine.
    #[error("image {image} not found ({message}); build or pull it first")]
    ImageNotFound {
        /// The image asked for.
        image: String,
        /// Docker's message.
        message: String,
    },
    /// Docker refused to create the container.
    #[error("cannot create the container")]
    Create(#[source] DockerError),
    /// A Docker API request failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The exec's output ended but Docker never said how it exited.
    #[error("the exec in {id} did not report an exit code")]
    NoExitCode {
        /// The container.
        id: String,
    },
}

/// Creates the container (not started); returns its id.
pub async fn create(docker: &Docker, spec: &RunSpec) -> Result<String, LifecycleError> {
    let engine = super::engine::facts(docker).await?.engine;
    let body = container_body(spec, engine)?;
    let options = spec
        .name
        .as_deref()
        .map(|name| CreateContainerOptionsBuilder::default().name(name).build());
    let created = docker
        .create_container(options, body)
        .await
        .map_err(|e| match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message,
            } => LifecycleError::ImageNotFound {
                image: spec.image.clone(),
                message,
            },
            other => LifecycleError::Create(DockerError::Api(other)),
        })?;
    Ok(created.id)
}

/// Starts a created container.
pub async fn start(docker: &Docker, id: &str) -> Result<(), DockerError> {
    docker
        .start_container(id, None)
        .await
        .map_err(DockerError::Api)
}

/// Stops the container (SIGTERM, then SIGKILL after 10 s); a container that is already gone or
/// stopped is fine.
pub async fn stop(docker: &Docker, id: &str) {
    let options = StopContainerOptionsBuilder::default()
        .t(STOP_TIMEOUT_S)
        .build();
    if let Err(e) = docker.stop_container(id, Some(options)).await {
        log::debug!("stopping {id}: {e}");
    }
}

/// Kills the container at once (SIGKILL); a container that is already gone or stopped is fine.
pub async fn kill(docker: &Docker, id: &str) {
    if let Err(e) = docker
        .kill_container(id, None::<KillContainerOptions>)
        .await
    {
        log::debug!("killing {id}: {e}");
    }
}

/// Removes the container and its anonymous volumes.
pub async fn remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    if let Err(e) = docker.remove_container(id, Some(options)).await {
        log::warn!("cannot remove container {id}: {e}");
    }
}

/// The container's IP address on its first network, if it has one.
pub async fn ip_address(docker: &Docker, id: &str) -> Option<String> {
    let inspect = super::compat::inspect_container(docker, id).await.ok()?;
    let networks = inspect.network_settings?.networks?;
    let mut addresses: Vec<(String, String)> = networks
        .into_iter()
        .filter_map(|(name, endpoint)| {
            Some((name, endpoint.ip_address.filter(|ip| !ip.is_empty())?))
        })
        .collect();
    addresses.sort();
    addresses.into_iter().next().map(|(_, ip)| ip)
}

/// Whether the container's log (stdout and stderr so far) contains `text`.
pub async fn logs_contain(docker: &Docker, id: &str, text: &str) -> bool {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(false)
        .build();
    let mut logs = docker.logs(id, Some(options));
    let mut seen = Vec::new();
    while let Some(Ok(chunk)) = logs.next().await {
        seen.extend_from_slice(&chunk.into_bytes());
    }
    String::from_utf8_lossy(&seen).contains(text)
}

/// Runs `/bin/sh -c COMMAND` inside the container, copying its output to trace's stdout and
/// stderr; returns its exit code.
pub async fn exec_shell(docker: &Docker, id: &str, command: &str) -> Result<i32, LifecycleError> {
    let options = CreateExecOptions {
        cmd: Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            command.to_owned(),
        ]),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..CreateExecOptions::default()
    };
    let exec = docker
        .create_exec(id, options)
        .await
        .map_err(DockerError::Api)?;
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&exec.id, None)
        .await
        .map_err(DockerError::Api)?
    {
        // The exercise's output is shown as it comes, around the progress line; a closed
        // terminal drops it but not the exercise.
        while let Some(chunk) = output.next().await {
            match chunk.map_err(DockerError::Api)? {
                LogOutput::StdErr { message } => {
                    crate::term::write(crate::term::Stream::Stderr, &message);
                }
                other => crate::term::write(crate::term::Stream::Stdout, &other.into_bytes()),
            }
        }
    }
    // The exec may take a moment to report its exit code after its output ends.
    for _ in 0..50 {
        let inspect = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(DockerError::Api)?;
        if inspect.running != Some(true) {
            return Ok(inspect
                .exit_code
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(1));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(LifecycleError::NoExitCode { id: id.to_owned() })
}

/// Waits until the container stops; returns its exit code (1 when Docker cannot say).
pub async fn wait_exit(docker: &Docker, id: &str) -> i32 {
    loop {
        let Ok(inspect) = super::compat::inspect_container(docker, id).await else {
            return 1;
        };
        let state = inspect.state.unwrap_or_default();
        if state.running != Some(true) {
            return state
                .exit_code
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(1);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
