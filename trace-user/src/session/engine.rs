//! The runtime a session follows its containers through: Docker's API, or a node's CRI for the
//! containers of Kubernetes pods (`--pod`). Both describe a container alike
//! ([`ContainerTarget`]) and tell its deaths as Docker's events do; only `trace run`'s start and
//! `--restart` need Docker.

use std::io::{Read, Seek, SeekFrom};
use std::pin::Pin;

use bollard::Docker;
use futures_util::{Stream, StreamExt};
use k8s_cri::v1::ContainerStatusRequest;

use super::select::{Candidate, Selection};
use crate::runtime::cgroup;
use crate::runtime::cri::{self, Cri, CriError};
use crate::runtime::docker::{self as docker_api, ContainerEvent, ContainerTarget, DockerError};

/// The runtime of a session.
#[derive(Clone, Copy, Debug)]
pub enum Engine<'a> {
    /// Docker's API.
    Docker(&'a Docker),
    /// A node's CRI.
    Cri(&'a Cri),
}

/// Why the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The CRI failed.
    #[error(transparent)]
    Cri(#[from] CriError),
}

/// The runtime's container events, from when they were asked for.
pub type Events = Pin<Box<dyn Stream<Item = Result<ContainerEvent, EngineError>>>>;

/// How much of a CRI container's log is read for its last lines.
const LOG_TAIL_BYTES: u64 = 64 * 1024;

impl<'a> Engine<'a> {
    /// Docker, when the session follows its containers through Docker.
    pub fn docker(self) -> Option<&'a Docker> {
        match self {
            Engine::Docker(docker) => Some(docker),
            Engine::Cri(_) => None,
        }
    }

    /// The runtime in words, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Engine::Docker(_) => "Docker",
            Engine::Cri(_) => "the CRI",
        }
    }

    /// The container events from now on: no death after this call is missed.
    pub async fn events(self) -> Result<Events, EngineError> {
        Ok(match self {
            Engine::Docker(docker) => {
                Box::pin(docker_api::container_events(docker).map(|e| e.map_err(EngineError::from)))
            }
            Engine::Cri(cri) => Box::pin(
                cri::events::container_events(cri)
                    .await?
                    .map(|e| e.map_err(EngineError::from)),
            ),
        })
    }

    /// The container `id`, running or not (`pid` 0 when it is not).
    pub async fn inspect(self, id: &str) -> Result<ContainerTarget, EngineError> {
        Ok(match self {
            Engine::Docker(docker) => docker_api::resolve_any(docker, id).await?,
            Engine::Cri(cri) => cri.container(id).await?,
        })
    }

    /// The ids of every container the runtime knows, running or not.
    pub async fn all_ids(self) -> Result<Vec<String>, EngineError> {
        Ok(match self {
            Engine::Docker(docker) => docker_api::all_ids(docker).await?,
            Engine::Cri(cri) => cri
                .containers()
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        })
    }

    /// What runs, for a message saying the selection matched nothing: the running containers'
    /// names, or the ready pods' `NAMESPACE/NAME`.
    pub async fn running_names(self) -> Result<Vec<String>, EngineError> {
        Ok(match self {
            Engine::Docker(docker) => docker_api::running_names(docker).await?,
            Engine::Cri(cri) => {
                let mut names: Vec<String> = cri
                    .ready_pods()
                    .await?
                    .into_iter()
                    .map(|p| format!("pod {}/{}", p.namespace, p.name))
                    .collect();
                names.sort();
                names
            }
        })
    }

    /// The last `lines` lines of the container's log.
    pub async fn last_log_lines(self, id: &str, lines: usize) -> Vec<String> {
        match self {
            Engine::Docker(docker) => docker_api::last_log_lines(docker, id, lines).await,
            Engine::Cri(cri) => {
                let status = cri
                    .runtime()
                    .container_status(ContainerStatusRequest {
                        container_id: id.to_owned(),
                        verbose: false,
                    })
                    .await;
                let Some(path) = status
                    .ok()
                    .and_then(|s| s.into_inner().status)
                    .map(|s| s.log_path)
                    .filter(|p| !p.is_empty())
                else {
                    return Vec::new();
                };
                tail_of_cri_log(std::path::Path::new(&path), lines)
            }
        }
    }

    /// The cgroup level the selected containers will have, when the runtime can tell before they
    /// start: a CRI pod's containers are siblings of its sandbox's own process.
    pub async fn level_of(self, selection: &Selection) -> Option<u32> {
        let Engine::Cri(cri) = self else {
            return None;
        };
        for pod in cri.ready_pods().await.ok()? {
            let name = format!("{}/{}", pod.namespace, pod.name);
            let candidate = Candidate {
                id: &pod.id,
                name: &name,
                labels: &pod.labels,
            };
            if selection.matches(&candidate)
                && let Some(pid) = cri.sandbox_pid(&pod.id).await
                && let Ok(cg) = cgroup::of_process(pid)
            {
                return Some(cg.level);
            }
        }
        None
    }
}

/// The last `lines` lines of a CRI log file (`TIME STREAM TAG TEXT` lines; a `P` tag marks a
/// line the runtime split, continued on the next), as text.
fn tail_of_cri_log(path: &std::path::Path, lines: usize) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let size = file.metadata().map_or(0, |m| m.len());
    let start = size.saturating_sub(LOG_TAIL_BYTES);
    let mut bytes = Vec::new();
    if file
        .seek(SeekFrom::Start(start))
        .and_then(|_| file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes))
        .is_err()
    {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    // Started within a line: that line is cut, and left out.
    let whole = if start > 0 {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        &text
    };
    cri_log_lines(whole, lines)
}

/// The text of the last `lines` lines of CRI log `text`, partial lines joined.
fn cri_log_lines(text: &str, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut partial = String::new();
    for line in text.lines() {
        let mut fields = line.splitn(4, ' ');
        let (Some(_time), Some(_stream), Some(tag)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        partial.push_str(fields.next().unwrap_or_default());
        if tag != "P" {
            out.push(std::mem::take(&mut partial));
        }
    }
    let skip = out.len().saturating_sub(lines);
    out.split_off(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_logs_read_as_text() {
        let log = "\
2026-12-05T10:00:00.000000001Z stdout F starting
2026-12-05T10:00:00.000000002Z stderr P part one, 
2026-12-05T10:00:00.000000003Z stderr F part two
2026-12-05T10:00:00.000000004Z stdout F 
2026-12-05T10:00:00.000000005Z stdout F done
";
        assert_eq!(
            cri_log_lines(log, 10),
            ["starting", "part one, part two", "", "done"]
        );
        assert_eq!(cri_log_lines(log, 2), ["", "done"]);
    }
}
