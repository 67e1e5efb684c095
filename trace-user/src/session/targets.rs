//! The containers a session records: each with its recording in progress, its lives (one per
//! cgroup: a restart is a new life) and the counters of the lives that ended.
//!
//! Pure bookkeeping: it decides where an event goes and what a cgroup record means; the caller
//! does the I/O (Docker, the probe) the answers ask for.

use std::collections::{HashMap, HashSet};

use crate::ingest;
use crate::probe::{CgroupEvent, ProbeEvent, SlotCounts};
use crate::recording::{Ending, Gap, GapKind, Life, Recording};
use crate::runtime::ContainerTarget;

use super::select::Group;

/// How many log lines a crashed container shows.
pub const CRASH_LOG_LINES: usize = 10;

/// One recorded container.
#[derive(Debug)]
pub struct Tracked {
    /// What Docker said of it when it was first seen.
    pub container: ContainerTarget,
    /// Its output group.
    pub group: Group,
    /// What was recorded so far (events; counters are added when the session finishes).
    pub recording: Recording,
    /// Its lives, oldest first.
    pub lives: Vec<Living>,
    /// The counters of its lives whose slots were read and released.
    pub counts: SlotCounts,
    /// A stop or kill was asked for through Docker since its last death.
    pub stop_requested: bool,
    /// The OOM killer hit it since its last death.
    pub oom: bool,
    /// The last log lines of its latest crash.
    pub crash_log: Vec<String>,
}

/// One life of a recorded container.
#[derive(Debug)]
pub struct Living {
    /// Its cgroup.
    pub cgroup_id: u64,
    /// Its counter slot while the probe still counts for it.
    pub slot: Option<u32>,
    /// What the recording keeps of it.
    pub life: Life,
}

impl Tracked {
    /// A container first seen now, recorded from the life `first`.
    pub fn new(container: ContainerTarget, group: Group, recording: Recording) -> Self {
        Tracked {
            container,
            group,
            recording,
            lives: Vec::new(),
            counts: SlotCounts::default(),
            stop_requested: false,
            oom: false,
            crash_log: Vec::new(),
        }
    }

    /// Whether any life of it crashed.
    pub fn crashed(&self) -> Option<&Ending> {
        self.lives
            .iter()
            .filter_map(|l| l.life.ended.as_ref())
            .find(|e| e.crashed())
    }

    /// Whether any life was recorded from its first instruction.
    pub fn startup_seen(&self) -> bool {
        self.lives.iter().any(|l| l.life.startup_seen)
    }
}

/// What the caller must do about a cgroup record.
#[derive(Debug, PartialEq, Eq)]
pub enum CgroupAction {
    /// Nothing (a record of a cgroup this session does not follow).
    Nothing,
    /// A new container: inspect it and [`Targets::adopt`] or [`Targets::reject`] it.
    Inspect,
    /// Give the slot back now: the container is not recorded.
    Release {
        /// The slot.
        slot: u32,
    },
    /// Read the slot's final counters, [`Targets::add_counts`] them, then release it.
    Collect {
        /// The recorded container.
        index: usize,
        /// The slot.
        slot: u32,
    },
}

/// Every container of the session, and where each cgroup's events go.
#[derive(Debug, Default)]
pub struct Targets {
    /// The recorded containers, in the order they were first seen.
    pub tracked: Vec<Tracked>,
    by_cgroup: HashMap<u64, usize>,
    by_container: HashMap<String, usize>,
    rejected: HashSet<String>,
}

impl Targets {
    /// The recorded container with this id.
    pub fn index_of(&self, container_id: &str) -> Option<usize> {
        self.by_container.get(container_id).copied()
    }

    /// Starts recording `tracked` with a first life in `cgroup_id`, counted in `slot`.
    pub fn adopt(&mut self, tracked: Tracked, cgroup_id: u64, slot: Option<u32>, life: Life) {
        let index = self.tracked.len();
        self.by_container
            .insert(tracked.container.id.clone(), index);
        self.tracked.push(tracked);
        self.add_life(index, cgroup_id, slot, life);
    }

    /// Remembers that `container_id` is not recorded (its later lives are released at once).
    pub fn reject(&mut self, container_id: &str) {
        self.rejected.insert(container_id.to_owned());
    }

    /// A new life of the recorded container `index`.
    pub fn add_life(&mut self, index: usize, cgroup_id: u64, slot: Option<u32>, life: Life) {
        self.by_cgroup.insert(cgroup_id, index);
        // The stop and OOM flags are not reset here but at the death they lead to: Docker's
        // events (kill, die) may be handled after the kernel reported the next life's cgroup.
        let tracked = &mut self.tracked[index];
        if slot.is_none() {
            tracked.recording.gaps.push(Gap {
                kind: GapKind::LifeMissed,
                detail: format!(
                    "a life that started at {} was not recorded: no free target slot \
                     (raise --max-containers) or its cgroup was at another level",
                    life.seen_at
                ),
            });
        }
        tracked.lives.push(Living {
            cgroup_id,
            slot,
            life,
        });
    }

    /// What a cgroup record asks for; a new life of a recorded container is added here.
    pub fn on_cgroup(&mut self, event: &ProbeEvent, now: &str) -> CgroupAction {
        match event {
            ProbeEvent::CgroupCaught(CgroupEvent {
                cgroup_id,
                slot,
                container_id,
                ..
            }) => {
                if let Some(index) = self.index_of(container_id) {
                    self.add_life(
                        index,
                        *cgroup_id,
                        *slot,
                        Life {
                            seen_at: now.to_owned(),
                            startup_seen: true,
                            ended: None,
                        },
                    );
                    CgroupAction::Nothing
                } else if self.rejected.contains(container_id) {
                    slot.map_or(CgroupAction::Nothing, |slot| CgroupAction::Release { slot })
                } else {
                    CgroupAction::Inspect
                }
            }
            ProbeEvent::CgroupGone(CgroupEvent { cgroup_id, .. }) => {
                let Some(&index) = self.by_cgroup.get(cgroup_id) else {
                    return CgroupAction::Nothing;
                };
                let living = self.tracked[index]
                    .lives
                    .iter_mut()
                    .find(|l| l.cgroup_id == *cgroup_id);
                match living.and_then(|l| l.slot.take()) {
                    Some(slot) => CgroupAction::Collect { index, slot },
                    None => CgroupAction::Nothing,
                }
            }
            _ => CgroupAction::Nothing,
        }
    }

    /// Adds a released slot's final counters to the recorded container `index`.
    pub fn add_counts(&mut self, index: usize, counts: &SlotCounts) {
        self.tracked[index].counts.add(counts);
    }

    /// Feeds a file, exec or socket event to the recording of the container it belongs to;
    /// events of cgroups the session does not record are dropped.
    pub fn record(&mut self, event: &ProbeEvent) {
        if let Some(&index) = self.by_cgroup.get(&event.cgroup_id()) {
            ingest::event(&mut self.tracked[index].recording, event);
        }
    }

    /// trace itself stops the recorded container `container_id`: its end is asked for, not a
    /// crash, whatever events the engine sends (Podman sends no `kill` before the `die` of a
    /// stop).
    pub fn stopping(&mut self, container_id: &str) {
        if let Some(index) = self.index_of(container_id) {
            self.tracked[index].stop_requested = true;
        }
    }

    /// A Docker event of a recorded container: a stop asked for, an OOM kill, its end. Returns
    /// the index of a container that has just crashed (its log lines are wanted).
    pub fn on_docker(
        &mut self,
        container_id: &str,
        action: &str,
        exit_code: Option<i64>,
        now: &str,
    ) -> Option<usize> {
        let index = self.index_of(container_id)?;
        let tracked = &mut self.tracked[index];
        match action {
            "kill" | "stop" => tracked.stop_requested = true,
            "oom" => tracked.oom = true,
            "die" => {
                let ending = Ending {
                    at: now.to_owned(),
                    exit_code: exit_code.unwrap_or(0),
                    oom_killed: tracked.oom,
                    requested: tracked.stop_requested,
                };
                let crashed = ending.crashed();
                // Lives end in order: a death ends the oldest life still running (its next
                // life's cgroup may already have been reported).
                if let Some(living) = tracked.lives.iter_mut().find(|l| l.life.ended.is_none()) {
                    living.life.ended = Some(ending);
                }
                tracked.stop_requested = false;
                tracked.oom = false;
                return crashed.then_some(index);
            }
            _ => {}
        }
        None
    }

    /// The slots still counting, with their container's index (for the final read).
    pub fn live_slots(&self) -> Vec<(usize, u64, u32)> {
        self.tracked
            .iter()
            .enumerate()
            .flat_map(|(index, t)| {
                t.lives
                    .iter()
                    .filter_map(move |l| Some((index, l.cgroup_id, l.slot?)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::CgroupEvent;
    use crate::recording::{ContainerInfo, HostInfo};

    fn tracked(id: &str) -> Tracked {
        let container = ContainerTarget {
            id: id.into(),
            name: format!("c-{id}"),
            image: "i".into(),
            image_id: "sha256:i".into(),
            pid: 0,
            mounts: Vec::new(),
            config: crate::recording::ContainerConfig::default(),
            labels: std::collections::BTreeMap::new(),
            state: crate::runtime::docker::ContainerState::default(),
            runtime: None,
        };
        let info = ContainerInfo {
            id: id.into(),
            name: container.name.clone(),
            image: "i".into(),
            image_id: "sha256:i".into(),
            mounts: std::collections::BTreeSet::new(),
            config: None,
            runtimes: std::collections::BTreeSet::new(),
        };
        let host = HostInfo {
            kernel: "k".into(),
            arch: "x86_64".into(),
        };
        let recording = Recording::started(info, host, "t0".into(), true);
        Tracked::new(
            container,
            Group::Container {
                name: format!("c-{id}"),
            },
            recording,
        )
    }

    fn caught(cgroup_id: u64, slot: Option<u32>, id: &str) -> ProbeEvent {
        ProbeEvent::CgroupCaught(CgroupEvent {
            cgroup_id,
            slot,
            level: 2,
            container_id: id.into(),
        })
    }

    fn gone(cgroup_id: u64) -> ProbeEvent {
        ProbeEvent::CgroupGone(CgroupEvent {
            cgroup_id,
            slot: None,
            level: 2,
            container_id: String::new(),
        })
    }

    fn life(at: &str) -> Life {
        Life {
            seen_at: at.into(),
            startup_seen: true,
            ended: None,
        }
    }

    #[test]
    fn restarts_are_new_lives_of_one_container() {
        let mut t = Targets::default();
        assert_eq!(
            t.on_cgroup(&caught(10, Some(0), "a"), "t1"),
            CgroupAction::Inspect
        );
        t.adopt(tracked("a"), 10, Some(0), life("t1"));
        // Died, its cgroup gone: collect slot 0.
        assert_eq!(t.on_docker("a", "die", Some(1), "t2"), Some(0));
        assert_eq!(
            t.on_cgroup(&gone(10), "t2"),
            CgroupAction::Collect { index: 0, slot: 0 }
        );
        assert_eq!(
            t.on_cgroup(&gone(10), "t2"),
            CgroupAction::Nothing,
            "collected once"
        );
        // Restarted: a second life in a new cgroup.
        assert_eq!(
            t.on_cgroup(&caught(11, Some(3), "a"), "t3"),
            CgroupAction::Nothing
        );
        assert_eq!(t.live_slots(), [(0, 11, 3)]);
        let lives: Vec<_> = t.tracked[0]
            .lives
            .iter()
            .map(|l| (l.cgroup_id, l.life.ended.as_ref().map(|e| e.exit_code)))
            .collect();
        assert_eq!(lives, [(10, Some(1)), (11, None)]);
        assert!(t.tracked[0].crashed().is_some());
    }

    #[test]
    fn a_death_ends_the_oldest_running_life() {
        let mut t = Targets::default();
        t.adopt(tracked("a"), 10, Some(0), life("t1"));
        // The next life's cgroup is reported before the death of the first.
        t.on_cgroup(&caught(11, Some(1), "a"), "t2");
        t.on_docker("a", "kill", None, "t2");
        assert_eq!(
            t.on_docker("a", "die", Some(137), "t3"),
            None,
            "stopped on request"
        );
        let ended: Vec<_> = t.tracked[0]
            .lives
            .iter()
            .map(|l| l.life.ended.clone())
            .collect();
        assert_eq!(
            ended[0].as_ref().map(|e| (e.exit_code, e.requested)),
            Some((137, true))
        );
        assert_eq!(ended[1], None);
        assert!(t.tracked[0].crashed().is_none());
    }

    #[test]
    fn a_stop_reported_around_the_next_lifes_cgroup_is_still_a_stop() {
        let mut t = Targets::default();
        t.adopt(tracked("a"), 10, Some(0), life("t1"));
        t.on_docker("a", "kill", None, "t2");
        // `docker restart`: the new cgroup's record is handled before Docker's `die`.
        t.on_cgroup(&caught(11, Some(1), "a"), "t2");
        assert_eq!(t.on_docker("a", "die", Some(137), "t2"), None);
        assert!(t.tracked[0].crashed().is_none());
        // The next death, unasked for, is a crash again.
        assert_eq!(t.on_docker("a", "die", Some(2), "t3"), Some(0));
    }

    #[test]
    fn oom_is_a_crash_and_rejected_containers_are_released() {
        let mut t = Targets::default();
        t.adopt(tracked("a"), 10, Some(0), life("t1"));
        t.on_docker("a", "oom", None, "t2");
        assert_eq!(t.on_docker("a", "die", Some(0), "t2"), Some(0));
        t.reject("b");
        assert_eq!(
            t.on_cgroup(&caught(20, Some(5), "b"), "t3"),
            CgroupAction::Release { slot: 5 }
        );
        assert_eq!(
            t.on_cgroup(&caught(21, None, "b"), "t3"),
            CgroupAction::Nothing
        );
        assert_eq!(t.on_docker("b", "die", Some(1), "t3"), None, "not recorded");
    }

    #[test]
    fn a_missed_life_is_a_gap() {
        let mut t = Targets::default();
        t.adopt(tracked("a"), 10, None, life("t1"));
        assert!(
            t.tracked[0]
                .recording
                .gaps
                .iter()
                .any(|g| g.kind == GapKind::LifeMissed)
        );
        assert!(t.live_slots().is_empty());
    }
}
