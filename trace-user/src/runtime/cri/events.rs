//! Container deaths through the CRI, found by polling: the list of containers is read every
//! [`POLL`], and each container seen running (or created) before and exited or gone now is a
//! death, told as Docker tells one ([`ContainerEvent`]): `oom` when the OOM killer ended it,
//! `kill` when SIGTERM or SIGKILL did (on a node, the kubelet's stop), then `die` with its
//! `exitCode`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::Stream;
use k8s_cri::v1::ContainerStatusRequest;

use super::{Cri, CriError, Phase, api};
use crate::runtime::docker::ContainerEvent;

/// How often the list of containers is read.
pub const POLL: Duration = Duration::from_millis(200);

/// Exit statuses of a process ended by SIGTERM and SIGKILL: how a stop ends a container.
const STOPPED: [i32; 2] = [128 + 15, 128 + 9];

/// The deaths of containers from now on. The containers are listed before this returns, so a
/// container running now that dies before the stream is first read is still seen to die.
pub async fn container_events(
    cri: &Cri,
) -> Result<impl Stream<Item = Result<ContainerEvent, CriError>> + use<>, CriError> {
    let known: HashMap<String, Phase> = cri.containers().await?.into_iter().collect();
    let state = Poller {
        cri: cri.clone(),
        known,
        pending: VecDeque::new(),
    };
    Ok(futures_util::stream::unfold(
        state,
        |mut poller| async move {
            loop {
                if let Some(event) = poller.pending.pop_front() {
                    return Some((Ok(event), poller));
                }
                tokio::time::sleep(POLL).await;
                if let Err(e) = poller.poll().await {
                    return Some((Err(e), poller));
                }
            }
        },
    ))
}

/// What the previous poll saw, and the events not yet taken.
struct Poller {
    cri: Cri,
    known: HashMap<String, Phase>,
    pending: VecDeque<ContainerEvent>,
}

impl Poller {
    /// Lists the containers and queues an event for each death since the last poll.
    async fn poll(&mut self) -> Result<(), CriError> {
        let now: HashMap<String, Phase> = self.cri.containers().await?.into_iter().collect();
        let mut died: Vec<String> = deaths(&self.known, &now);
        died.sort();
        for id in died {
            let status = self
                .cri
                .runtime()
                .container_status(ContainerStatusRequest {
                    container_id: id.clone(),
                    verbose: false,
                })
                .await
                .map_err(api("ContainerStatus"))
                .ok()
                .and_then(|s| s.into_inner().status);
            self.pending.extend(events_of_death(
                &id,
                status.as_ref().map(|s| (s.exit_code, s.reason.as_str())),
            ));
        }
        self.known = now;
        Ok(())
    }
}

/// The containers that were alive (created or running) in `before`, or unknown, and have
/// exited in `now` or are gone from it.
fn deaths(before: &HashMap<String, Phase>, now: &HashMap<String, Phase>) -> Vec<String> {
    let alive = |p: Option<&Phase>| matches!(p, Some(Phase::Running | Phase::Created));
    let mut died: Vec<String> = now
        .iter()
        .filter(|(id, phase)| {
            **phase == Phase::Exited
                && (alive(before.get(*id)) || !before.contains_key(id.as_str()))
        })
        .map(|(id, _)| id.clone())
        .collect();
    died.extend(
        before
            .iter()
            .filter(|(id, phase)| alive(Some(phase)) && !now.contains_key(id.as_str()))
            .map(|(id, _)| id.clone()),
    );
    died
}

/// The events telling the death of `id`, from its exit code and reason when its status is known.
fn events_of_death(id: &str, status: Option<(i32, &str)>) -> Vec<ContainerEvent> {
    let event = |action: &str, exit_code: Option<i32>| ContainerEvent {
        id: id.to_owned(),
        action: action.to_owned(),
        attributes: exit_code
            .map(|c| [("exitCode".to_owned(), c.to_string())].into())
            .unwrap_or_default(),
    };
    let mut events = Vec::new();
    match status {
        Some((exit_code, reason)) => {
            if reason == "OOMKilled" {
                events.push(event("oom", None));
            } else if STOPPED.contains(&exit_code) {
                events.push(event("kill", None));
            }
            events.push(event("die", Some(exit_code)));
        }
        None => events.push(event("die", None)),
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phases(list: &[(&str, Phase)]) -> HashMap<String, Phase> {
        list.iter().map(|(id, p)| ((*id).to_owned(), *p)).collect()
    }

    #[test]
    fn a_death_is_an_exit_or_a_removal_of_a_live_container() {
        let before = phases(&[
            ("running", Phase::Running),
            ("created", Phase::Created),
            ("removed", Phase::Running),
            ("old", Phase::Exited),
            ("stays", Phase::Running),
        ]);
        let now = phases(&[
            ("running", Phase::Exited),
            ("created", Phase::Exited),
            ("old", Phase::Exited),
            ("stays", Phase::Running),
            ("brief", Phase::Exited),
            ("new", Phase::Running),
        ]);
        let mut died = deaths(&before, &now);
        died.sort();
        assert_eq!(died, ["brief", "created", "removed", "running"]);
    }

    #[test]
    fn deaths_are_told_as_docker_tells_them() {
        let actions = |status| {
            events_of_death("a", status)
                .into_iter()
                .map(|e| (e.action, e.attributes.get("exitCode").cloned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            actions(Some((1, "Error"))),
            [("die".to_owned(), Some("1".to_owned()))]
        );
        assert_eq!(
            actions(Some((137, "OOMKilled"))),
            [
                ("oom".to_owned(), None),
                ("die".to_owned(), Some("137".to_owned()))
            ]
        );
        assert_eq!(
            actions(Some((143, "Error"))),
            [
                ("kill".to_owned(), None),
                ("die".to_owned(), Some("143".to_owned()))
            ]
        );
        assert_eq!(actions(None), [("die".to_owned(), None)]);
    }
}
