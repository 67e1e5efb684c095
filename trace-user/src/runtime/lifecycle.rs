//! Creating, starting, exercising, stopping and removing a container through the Docker API, for
//! `trace run`.

use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, KillContainerOptions,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::create::{CreateError, Pull, RunSpec, container_body};
use super::docker::DockerError;

/// Why a container could not be created or a command run in it.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The `docker run`-style options do not make a container definition.
    #[error(transparent)]
    Options(#[from] CreateError),
    /// The image is not on this machine and `--pull never` forbids pulling it.
    #[error(
        "image {image} is not on this machine ({message}) and --pull never was given; build or pull it first"
    )]
    ImageNotFound {
        /// The image asked for.
        image: String,
        /// Docker's message.
        message: String,
    },
    /// The engine could not pull the image.
    #[error("cannot pull image {image}: {message}")]
    Pull {
        /// The image asked for.
        image: String,
        /// The engine's message.
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

/// Creates the container (not started), pulling its image first as `spec.pull` says; returns
/// its id.
pub async fn create(docker: &Docker, spec: &RunSpec) -> Result<String, LifecycleError> {
    let engine = super::engine::facts(docker).await?.engine;
    let body = container_body(spec, engine)?;
    let options = spec
        .name
        .as_deref()
        .map(|name| CreateContainerOptionsBuilder::default().name(name).build());
    if spec.pull == Pull::Always {
        pull(docker, &spec.image).await?;
    }
    let created = match docker.create_container(options.clone(), body.clone()).await {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        }) if spec.pull == Pull::Missing => {
            log::debug!("{}: {message}", spec.image);
            pull(docker, &spec.image).await?;
            docker.create_container(options, body).await
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        }) => {
            return Err(LifecycleError::ImageNotFound {
                image: spec.image.clone(),
                message,
            });
        }
        other => other,
    };
    Ok(created
        .map_err(|e| LifecycleError::Create(DockerError::Api(e)))?
        .id)
}

/// Pulls `image` (its `latest` tag when it names neither a tag nor a digest, as the Docker CLI
/// does), to the end of the engine's progress stream.
async fn pull(docker: &Docker, image: &str) -> Result<(), LifecycleError> {
    let reference = with_tag(image);
    note!("trace: pulling {reference}");
    let options = CreateImageOptionsBuilder::default()
        .from_image(&reference)
        .build();
    let mut progress = docker.create_image(Some(options), None, None);
    while let Some(step) = progress.next().await {
        if let Err(e) = step {
            let message = match e {
                bollard::errors::Error::DockerStreamError { error } => error,
                bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                other => other.to_string(),
            };
            return Err(LifecycleError::Pull {
                image: reference,
                message: message.split_whitespace().collect::<Vec<_>>().join(" "),
            });
        }
    }
    Ok(())
}

/// `image` with `:latest` added when it names neither a tag nor a digest.
fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Starts a created container.
pub async fn start(docker: &Docker, id: &str) -> Result<(), DockerError> {
    docker
        .start_container(id, None)
        .await
        .map_err(DockerError::Api)
}

/// Seconds a stop waits after the stop signal before it kills, unless told otherwise (Docker's
/// and Podman's default).
pub const STOP_TIMEOUT_S: u32 = 10;

/// Stops the container as `docker stop -t TIMEOUT_S` does: its stop signal (from its definition,
/// else SIGTERM), then SIGKILL after `timeout_s` (given each time: Podman's compatible API does
/// not fall back to the container's own timeout); a container that is already gone or stopped is
/// fine.
pub async fn stop(docker: &Docker, id: &str, timeout_s: u32) {
    let options = StopContainerOptionsBuilder::default()
        .t(i32::try_from(timeout_s).unwrap_or(i32::MAX))
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

/// Whether the container's main process may run: false only when the engine says it does not.
pub async fn may_be_running(docker: &Docker, id: &str) -> bool {
    super::compat::inspect_container(docker, id)
        .await
        .ok()
        .and_then(|i| i.state?.running)
        .unwrap_or(true)
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

#[cfg(test)]
mod tests {
    use super::with_tag;

    #[test]
    fn an_image_without_tag_or_digest_is_pulled_as_latest() {
        assert_eq!(with_tag("nginx"), "nginx:latest");
        assert_eq!(with_tag("nginx:1.27"), "nginx:1.27");
        assert_eq!(
            with_tag("registry:5000/team/app"),
            "registry:5000/team/app:latest"
        );
        assert_eq!(
            with_tag("registry:5000/team/app:2"),
            "registry:5000/team/app:2"
        );
        assert_eq!(with_tag("app@sha256:abcd"), "app@sha256:abcd");
    }
}
