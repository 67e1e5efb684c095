//! A session in progress, while the probe records: the running containers attached, new ones
//! caught in their cgroup's `mkdir` and kept or released, the runtime's events followed.

use super::engine::{Engine, Events};
use super::{CATCH_TIMEOUT, Request, container_info};
use crate::platform::docker::short_id;
use crate::probe::{EventReader, Probe, ProbeEvent};
use crate::recording::{Gap, GapKind, HostInfo, Life, Mark, Recording};
use crate::runtime::docker::ContainerEvent;
use crate::runtime::{ContainerTarget, cgroup, snapshot};
use crate::session::finish::now;
use crate::session::mark::Marks;
use crate::session::select::{Candidate, Group};
use crate::session::targets::{CRASH_LOG_LINES, CgroupAction, Targets, Tracked};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A session in progress.
pub(super) struct Session<'a> {
    pub(super) engine: Engine<'a>,
    pub(super) request: &'a Request,
    pub(super) probe: Probe,
    pub(super) reader: EventReader,
    pub(super) targets: Targets,
    pub(super) events: Events,
    pub(super) host: HostInfo,
    pub(super) batch: Vec<ProbeEvent>,
    /// Where the exercise's marks arrive (a host exercise only).
    pub(super) marks: Option<Marks>,
    /// The marks taken so far, per recorded container (by index in `targets.tracked`).
    pub(super) steps: BTreeMap<usize, Vec<Mark>>,
}

impl Session<'_> {
    /// Records the running `container` from now on, completed by what /proc still shows of it.
    pub(super) fn attach_running(
        &mut self,
        container: &ContainerTarget,
        cg: &cgroup::CgroupV2,
        slot: u32,
    ) {
        let seen_at = now();
        let mut recording = Recording::started(
            container_info(container),
            self.host.clone(),
            seen_at.clone(),
            false,
        );
        recording.gaps.push(Gap {
            kind: GapKind::StartupMissed,
            detail: "attached to a running container: its startup was not seen; the seccomp profile adds \
                     runc's baseline and the files its processes had open or mapped, but calls the \
                     entrypoint made only at startup are missing (restart it under trace with --restart)"
                .into(),
        });
        match snapshot::of_cgroup(&cg.dir) {
            Ok(found) => {
                for file in found {
                    if file.access.implies_dir() {
                        recording.record_dir(file.path.as_bytes(), file.access);
                    } else {
                        recording.record_file(file.path.as_bytes(), file.access);
                    }
                    recording.found_at_attach.insert(file.path);
                }
            }
            Err(e) => say!(
                "trace: warning: container {}: what its processes use now is unknown: {e}",
                container.name
            ),
        }
        note!(
            "trace: recording container {} ({}) in cgroup {} (id {}), attached: its startup was not seen",
            container.name,
            short_id(&container.id),
            cg.dir.display(),
            cg.id
        );
        let group = Group::of(&Candidate {
            id: &container.id,
            name: &container.name,
            labels: &container.labels,
        });
        self.targets.adopt(
            Tracked::new(container.clone(), group, recording),
            cg.id,
            Some(slot),
            Life {
                seen_at,
                startup_seen: false,
                ended: None,
            },
        );
    }

    /// Drains the probe's records: cgroups first (kept, released or collected), then the rest to
    /// their recordings.
    pub(super) async fn drain(&mut self) -> anyhow::Result<()> {
        self.reader.read_ready(&mut self.batch);
        let batch = std::mem::take(&mut self.batch);
        for event in &batch {
            match event {
                ProbeEvent::CgroupCaught(_) | ProbeEvent::CgroupGone(_) => {
                    self.on_cgroup(event).await?;
                }
                other => self.targets.record(other),
            }
        }
        self.batch = batch;
        self.batch.clear();
        Ok(())
    }

    pub(super) async fn on_cgroup(&mut self, event: &ProbeEvent) -> anyhow::Result<()> {
        let at = now();
        match self.targets.on_cgroup(event, &at) {
            CgroupAction::Nothing => {}
            CgroupAction::Release { slot } => self.probe.release(slot, event.cgroup_id())?,
            CgroupAction::Collect { index, slot } => {
                let counts = self.probe.counts(slot)?;
                self.targets.add_counts(index, &counts);
                self.probe.release(slot, event.cgroup_id())?;
            }
            CgroupAction::Inspect => {
                let ProbeEvent::CgroupCaught(caught) = event else {
                    return Ok(());
                };
                let container = self.engine.inspect(&caught.container_id).await;
                let wanted = container.as_ref().ok().filter(|c| {
                    let candidate = Candidate {
                        id: &c.id,
                        name: &c.name,
                        labels: &c.labels,
                    };
                    self.request.start.as_deref() == Some(c.id.as_str())
                        || self.request.selection.matches(&candidate)
                });
                if let Some(container) = wanted {
                    self.adopt_new(container.clone(), caught.cgroup_id, caught.slot, at);
                } else {
                    self.targets.reject(&caught.container_id);
                    if let Some(slot) = caught.slot {
                        self.probe.release(slot, caught.cgroup_id)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn adopt_new(
        &mut self,
        container: ContainerTarget,
        cgroup_id: u64,
        slot: Option<u32>,
        at: String,
    ) {
        note!(
            "trace: recording container {} ({}) from its start, cgroup id {cgroup_id}",
            container.name,
            short_id(&container.id)
        );
        if slot.is_none() {
            say!(
                "trace: warning: container {} started while every target slot was taken (--max-containers {}): this life is not recorded",
                container.name,
                self.request.max_containers
            );
        }
        let recording = Recording::started(
            container_info(&container),
            self.host.clone(),
            at.clone(),
            true,
        );
        let group = Group::of(&Candidate {
            id: &container.id,
            name: &container.name,
            labels: &container.labels,
        });
        self.targets.adopt(
            Tracked::new(container, group, recording),
            cgroup_id,
            slot,
            Life {
                seen_at: at,
                startup_seen: true,
                ended: None,
            },
        );
    }

    /// A runtime event: stops asked for, deaths; a crash's log lines are fetched at once (the
    /// container may be removed soon after).
    pub(super) async fn on_event(&mut self, event: &ContainerEvent) {
        let exit_code = event
            .attributes
            .get("exitCode")
            .and_then(|c| c.parse().ok());
        if let Some(index) = self
            .targets
            .on_docker(&event.id, &event.action, exit_code, &now())
        {
            let lines = self.engine.last_log_lines(&event.id, CRASH_LOG_LINES).await;
            let tracked = &mut self.targets.tracked[index];
            if let Some(ending) = tracked.crashed() {
                say!(
                    "trace: container {} crashed: {ending}",
                    tracked.container.name
                );
            }
            tracked.crash_log = lines;
        }
    }

    /// Waits until `trace run`'s container is caught (recording it from its start).
    pub(super) async fn wait_caught(&mut self, id: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.targets.index_of(id).is_none() {
            anyhow::ensure!(
                started.elapsed() < CATCH_TIMEOUT,
                "the container's cgroup did not appear within {}s (is Docker using cgroup v2 names /docker/<id> or docker-<id>.scope?)",
                CATCH_TIMEOUT.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.drain().await?;
        }
        Ok(())
    }
}
