//! Reading Podman's Docker-compatible answers as Docker's.
//!
//! Podman 4's API service answers the requests trace makes as Docker does, with a few
//! differences (docs/runtimes.md lists them all). The one that breaks a client is a state word
//! Docker does not have: a container that has exited but not yet been cleaned up by conmon is
//! `stopped`, which bollard's state enums refuse, so the whole answer would fail to decode (an
//! inspect of a short-lived container caught in its cgroup's `mkdir` often lands in that
//! window). These calls decode such an answer with the state word mapped to Docker's.

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::ListContainersOptionsBuilder;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `GET /containers/{id}/json`, with Podman's state words read as Docker's.
pub async fn inspect_container(
    docker: &Docker,
    id: &str,
) -> Result<ContainerInspectResponse, BollardError> {
    let answer = docker.inspect_container(id, None).await;
    decode_leniently(answer, |value| {
        if let Some(state) = value.pointer_mut("/State/Status") {
            docker_word(state);
        }
    })
}

/// `GET /containers/json`, every container or the running ones, with Podman's state words read
/// as Docker's.
pub async fn list_containers(
    docker: &Docker,
    all: bool,
) -> Result<Vec<ContainerSummary>, BollardError> {
    let options = ListContainersOptionsBuilder::default().all(all).build();
    let answer = docker.list_containers(Some(options)).await;
    decode_leniently(answer, |value| {
        for container in value.as_array_mut().into_iter().flatten() {
            if let Some(state) = container.get_mut("State") {
                docker_word(state);
            }
        }
    })
}

/// `answer`, or when it failed to decode, its JSON text changed by `fix` and decoded again.
fn decode_leniently<T: DeserializeOwned>(
    answer: Result<T, BollardError>,
    fix: impl FnOnce(&mut Value),
) -> Result<T, BollardError> {
    match answer {
        Err(BollardError::JsonDataError {
            message,
            contents,
            column,
        }) => {
            let refused = || BollardError::JsonDataError {
                message: message.clone(),
                contents: contents.clone(),
                column,
            };
            let mut value: Value = serde_json::from_str(&contents).map_err(|_| refused())?;
            fix(&mut value);
            serde_json::from_value(value).map_err(|_| refused())
        }
        other => other,
    }
}

/// Podman's state word as Docker's: `stopped` (exited, not yet cleaned up) and `exited` are
/// `exited`; `configured` and `initialized` (created, not started) are `created`; a word Docker
/// has stays; any other becomes the empty state.
fn docker_word(state: &mut Value) {
    let Some(word) = state.as_str() else {
        return;
    };
    let docker = match word {
        "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead"
        | "stopping" => return,
        "stopped" => "exited",
        "configured" | "initialized" => "created",
        _ => "",
    };
    *state = Value::from(docker);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Podman 4.3 answers for a container that has just exited (abridged).
    const STOPPED: &str = r#"{"Id":"2852253c9be746fe8b21e5ecf24f70cecfeabfc5901eef9102069b3d94086e72",
        "State":{"Status":"stopped","Running":false,"Pid":0,"ExitCode":0},
        "Name":"/podman-phase","HostConfig":{"Runtime":"oci"}}"#;

    fn decode_error(text: &str) -> BollardError {
        let error = serde_json::from_str::<ContainerInspectResponse>(text).unwrap_err();
        BollardError::JsonDataError {
            message: error.to_string(),
            contents: text.to_owned(),
            column: error.column(),
        }
    }

    #[test]
    fn a_stopped_podman_container_reads_as_exited() {
        let answer: Result<ContainerInspectResponse, _> = Err(decode_error(STOPPED));
        let inspect = decode_leniently(answer, |value| {
            if let Some(state) = value.pointer_mut("/State/Status") {
                docker_word(state);
            }
        })
        .unwrap();
        let state = inspect.state.unwrap();
        assert_eq!(state.status.unwrap().to_string(), "exited");
        assert_eq!(state.running, Some(false));
        assert_eq!(inspect.name.as_deref(), Some("/podman-phase"));
    }

    #[test]
    fn words_map_to_docker_s() {
        let mapped = |word: &str| {
            let mut value = Value::from(word);
            docker_word(&mut value);
            value
        };
        assert_eq!(mapped("stopped"), "exited");
        assert_eq!(mapped("configured"), "created");
        assert_eq!(mapped("initialized"), "created");
        assert_eq!(mapped("running"), "running");
        assert_eq!(mapped("exited"), "exited");
        assert_eq!(mapped("unheard-of"), "");
    }

    #[test]
    fn other_errors_pass_through() {
        let answer: Result<ContainerInspectResponse, _> =
            Err(BollardError::DockerResponseServerError {
                status_code: 404,
                message: "no such container".into(),
            });
        assert!(matches!(
            decode_leniently(answer, |_| {}),
            Err(BollardError::DockerResponseServerError {
                status_code: 404,
                ..
            })
        ));
        // Text that stays undecodable keeps its first error.
        let answer: Result<ContainerInspectResponse, _> = Err(decode_error("{\"State\": 3}"));
        assert!(matches!(
            decode_leniently(answer, |_| {}),
            Err(BollardError::JsonDataError { .. })
        ));
    }
}
