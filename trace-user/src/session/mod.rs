//! One recording session for every container a selection names: those running when it starts,
//! and those started while it runs, each from its first instruction.
//!
//! ```text
//! resolve the running containers that match  -> probe loaded with their cgroups (attached)
//! Docker's event stream                        -> stops asked for, deaths and exit codes
//! the kernel's cgroup records                  -> new containers caught inside mkdir: kept when
//!                                                 they match, released when not; restarts are
//!                                                 new lives of the same recording
//! the exercise                                 -> runs until it exits (or the deadline, a signal,
//!                                                 or, without an exercise, the containers exit)
//! finish                                       -> counters read, recordings completed, replicas
//!                                                 merged, one output directory per group
//! ```
//!
//! `trace --container ...` and `trace run` are two ways to start one: attach builds a
//! [`Request`] from a selection, `trace run` creates the container and asks for it to be started
//! once the probe is armed.

pub mod exercise;
pub mod finish;
pub mod select;
pub mod targets;
pub mod watch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::Context;
use bollard::Docker;
use futures_util::{Stream, StreamExt};

use crate::probe::{EventReader, Probe, ProbeEvent, ProbeOptions, ProbeTarget};
use crate::recording::{ContainerInfo, Gap, GapKind, HostInfo, Life, Recording, StopReason};
use crate::render;
use crate::runtime::docker::{self as docker_api, ContainerEvent, DockerError};
use crate::runtime::{ContainerTarget, cgroup, identity, lifecycle, snapshot};

use exercise::RunExercise;
use finish::now;
use select::{Candidate, Group, Selection};
use targets::{CRASH_LOG_LINES, CgroupAction, Targets, Tracked};
pub use watch::{Outcome, StopSignals};

/// Where the output directories go by default.
pub const DEFAULT_OUT: &str = "profiles";
/// trace's exit status when a recorded container crashed and nothing else failed.
pub const EXIT_CRASHED: i32 = 3;
/// How long Docker's event stream must stay quiet before the session ends.
const EVENTS_QUIET: Duration = Duration::from_millis(200);
/// How long the session waits for Docker's last events at most.
const EVENTS_SETTLE: Duration = Duration::from_secs(2);
/// How long the container `trace run` starts may take to be caught.
const CATCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What to record, how to exercise it, where the outputs go.
#[derive(Debug)]
pub struct Request {
    /// The containers to record.
    pub selection: Selection,
    /// A created container to start once the probe is armed (`trace run`).
    pub start: Option<String>,
    /// Restart the running containers that match, so that their startup is recorded.
    pub restart: bool,
    /// The exercise.
    pub exercise: Exercise,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Where the outputs go.
    pub out: Out,
    /// How to render the profiles.
    pub options: render::Options,
    /// With `--check DIR`: the committed profiles to check against (for several groups, one
    /// directory per group below it).
    pub check: Option<PathBuf>,
    /// Target slots: containers (lives) recorded at once.
    pub max_containers: u32,
    /// Stop the started container (`start`) at the end while still recording, so that its
    /// shutdown is in the recording and its profile lets it stop cleanly.
    pub stop_started: bool,
}

/// The exercise of a session.
#[derive(Debug)]
pub enum Exercise {
    /// None: record until the containers exit, the deadline or a signal.
    None,
    /// A command on the host; trace stops when it exits and exits with its status.
    Host {
        /// The command.
        command: Vec<OsString>,
        /// Added to its environment.
        env: Vec<(&'static str, String)>,
    },
    /// `trace run`'s exercise of the container it started.
    Run(RunExercise),
}

/// Where the outputs go.
#[derive(Clone, Debug)]
pub enum Out {
    /// The one container's directory (`--out` with one `--container`, or `trace run`); `None`:
    /// `profiles/<name>`.
    Dir(Option<PathBuf>),
    /// A directory holding one directory per group.
    Root(PathBuf),
}

/// One output directory written.
#[derive(Debug)]
pub struct Written {
    /// The directory.
    pub dir: PathBuf,
    /// The recording written there.
    pub recording: Recording,
}

/// What a session produced.
#[derive(Debug)]
pub struct Finished {
    /// The output directories, in the order their containers were first seen.
    pub written: Vec<Written>,
    /// trace's exit status: 128 + signal, the exercise's failure, [`EXIT_CRASHED`], the drift
    /// check's, else 0.
    pub exit_code: i32,
}

type DockerEvents = Pin<Box<dyn Stream<Item = Result<ContainerEvent, DockerError>>>>;

/// Runs a session: records until the first stop condition, writes every output, prints the
/// summaries; then the caller may act on the containers (e.g. remove what it created).
pub async fn record(
    docker: &Docker,
    request: &Request,
    signals: &mut StopSignals,
) -> anyhow::Result<Finished> {
    if let Out::Root(root) | Out::Dir(Some(root)) = &request.out {
        crate::out::prepare_dir(root)?;
    }
    // Docker's events from before the probe is armed: no death goes unseen.
    let events: DockerEvents = Box::pin(docker_api::container_events(docker));
    let running = running_matches(docker, request).await?;
    let attach: Vec<&(ContainerTarget, cgroup::CgroupV2)> =
        running.iter().filter(|_| !request.restart).collect();
    let probe_targets: Vec<ProbeTarget> = attach
        .iter()
        .map(|(_, cg)| ProbeTarget {
            cgroup_id: cg.id,
            cgroup_level: cg.level,
        })
        .collect();
    let mut probe = Probe::load(&ProbeOptions {
        slots: request.max_containers,
        running: &probe_targets,
        index_mask: None,
        without: &[],
    })?;
    for missing in &probe.features().missing {
        say!(
            "trace: warning: not recording {}: {}",
            missing.what,
            missing.why
        );
    }
    let waits = request.start.is_some()
        || request.restart
        || !request.selection.labels.is_empty()
        || !request.selection.projects.is_empty()
        || request.selection.names.len() > attach.len();
    if waits {
        probe.catches_new_containers()?;
    }
    let reader = probe
        .take_event_reader()
        .context("the probe's event reader")?;
    let mut session = Session {
        docker,
        request,
        probe,
        reader,
        targets: Targets::default(),
        events,
        host: host_info(),
        batch: Vec::new(),
    };
    let slots = session.probe.running_slots().to_vec();
    for ((container, cg), slot) in attach.into_iter().zip(slots) {
        session.attach_running(container, cg, slot);
    }
    for (container, _) in running.iter().filter(|_| request.restart) {
        say!(
            "trace: restarting container {} to record its startup",
            container.name
        );
        docker_api::restart(docker, &container.id)
            .await
            .with_context(|| format!("cannot restart container {}", container.name))?;
    }
    if let Some(id) = &request.start {
        lifecycle::start(docker, id).await?;
    }
    let seen: Vec<Candidate<'_>> = running
        .iter()
        .map(|(c, _)| Candidate {
            id: &c.id,
            name: &c.name,
            labels: &c.labels,
        })
        .collect();
    let awaited = request.selection.unmatched_names(&seen);
    if !awaited.is_empty() && request.start.is_none() {
        say!(
            "trace: waiting for container{} {} to start; recording from its first instruction",
            if awaited.len() == 1 { "" } else { "s" },
            awaited.join(", ")
        );
    }
    let outcome = session.run_exercise(signals).await?;
    if request.stop_started
        && let Some(id) = &request.start
    {
        session.record_stop(id, signals).await?;
    }
    session.finish(outcome).await
}

/// The running containers the selection names, with their cgroups; a name that is not running
/// is waited for.
async fn running_matches(
    docker: &Docker,
    request: &Request,
) -> anyhow::Result<Vec<(ContainerTarget, cgroup::CgroupV2)>> {
    let mut found = Vec::new();
    if request.start.is_some() {
        return Ok(found);
    }
    for id in docker_api::all_ids(docker).await? {
        let Ok(container) = docker_api::resolve_any(docker, &id).await else {
            continue;
        };
        let candidate = Candidate {
            id: &container.id,
            name: &container.name,
            labels: &container.labels,
        };
        if !container.state.running || !request.selection.matches(&candidate) {
            continue;
        }
        let cg = cgroup::of_process(container.pid)
            .with_context(|| format!("container '{}'", container.name))?;
        found.push((container, cg));
    }
    Ok(found)
}

/// The tracing host.
pub fn host_info() -> HostInfo {
    // SAFETY: utsname is plain bytes; uname(2) fills it and returns 0 or -1 without keeping it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    let ok = unsafe { libc::uname(&raw mut uts) } == 0;
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c.cast_unsigned())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    if ok {
        HostInfo {
            kernel: field(&uts.release),
            arch: field(&uts.machine),
        }
    } else {
        HostInfo {
            kernel: "unknown".into(),
            arch: std::env::consts::ARCH.into(),
        }
    }
}

/// What the recording says of the container.
pub fn container_info(container: &ContainerTarget) -> ContainerInfo {
    ContainerInfo {
        id: container.id.clone(),
        name: container.name.clone(),
        image: container.image.clone(),
        image_id: container.image_id.clone(),
        mounts: container.mounts.iter().map(|m| m.as_str().into()).collect(),
        config: Some(container.config.clone()),
    }
}

/// The selection in words, for messages: `named 'a' or 'b'`, `of compose project p`, ...
fn describe_selection(selection: &Selection) -> String {
    let mut parts = Vec::new();
    if !selection.names.is_empty() {
        let names: Vec<String> = selection.names.iter().map(|n| format!("'{n}'")).collect();
        parts.push(format!("named {}", names.join(" or ")));
    }
    for project in &selection.projects {
        parts.push(format!("of compose project '{project}'"));
    }
    if !selection.labels.is_empty() {
        let labels: Vec<String> = selection
            .labels
            .iter()
            .map(|(k, v)| v.as_ref().map_or_else(|| k.clone(), |v| format!("{k}={v}")))
            .collect();
        parts.push(format!("with label {}", labels.join(" and ")));
    }
    parts.join(", or ")
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A session in progress.
struct Session<'a> {
    docker: &'a Docker,
    request: &'a Request,
    probe: Probe,
    reader: EventReader,
    targets: Targets,
    events: DockerEvents,
    host: HostInfo,
    batch: Vec<ProbeEvent>,
}

impl Session<'_> {
    /// Records the running `container` from now on, completed by what /proc still shows of it.
    fn attach_running(&mut self, container: &ContainerTarget, cg: &cgroup::CgroupV2, slot: u32) {
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
        say!(
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
    async fn drain(&mut self) -> anyhow::Result<()> {
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

    async fn on_cgroup(&mut self, event: &ProbeEvent) -> anyhow::Result<()> {
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
                let container = docker_api::resolve_any(self.docker, &caught.container_id).await;
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

    fn adopt_new(
        &mut self,
        container: ContainerTarget,
        cgroup_id: u64,
        slot: Option<u32>,
        at: String,
    ) {
        say!(
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

    /// A Docker event: stops asked for, deaths; a crash's log lines are fetched at once (the
    /// container may be removed soon after).
    async fn on_docker(&mut self, event: &ContainerEvent) {
        let exit_code = event
            .attributes
            .get("exitCode")
            .and_then(|c| c.parse().ok());
        if let Some(index) = self
            .targets
            .on_docker(&event.id, &event.action, exit_code, &now())
        {
            let lines = docker_api::last_log_lines(self.docker, &event.id, CRASH_LOG_LINES).await;
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
    async fn wait_caught(&mut self, id: &str) -> anyhow::Result<()> {
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

    /// Starts the exercise and records until the first stop condition.
    async fn run_exercise(&mut self, signals: &mut StopSignals) -> anyhow::Result<Outcome> {
        match &self.request.exercise {
            Exercise::None => self.watch(None, signals).await,
            Exercise::Host { command, env } => {
                let mut child = exercise::spawn_host(command, env)?;
                let outcome = {
                    let running = child
                        .as_mut()
                        .map(|c| Box::pin(exercise::wait_child(c)) as exercise::Running<'_>);
                    self.watch(running, signals).await
                };
                if let Some(child) = child.as_mut() {
                    exercise::finish(child).await;
                }
                outcome
            }
            Exercise::Run(run) => {
                let id = self
                    .request
                    .start
                    .clone()
                    .context("trace run starts a container")?;
                self.wait_caught(&id).await?;
                let docker = self.docker;
                let name = self
                    .targets
                    .index_of(&id)
                    .map(|i| self.targets.tracked[i].container.name.clone())
                    .unwrap_or_default();
                let address = match exercise::prepare(docker, &id, run).await {
                    Ok(address) => address,
                    Err(early) => {
                        say!(
                            "trace: container {name} stopped (status {}) before it was ready; nothing to exercise",
                            early.exit_code
                        );
                        return self.watch(None, signals).await;
                    }
                };
                let mut host =
                    exercise::spawn_host(&run.host, &exercise::run_env(&name, &id, &address))?;
                let outcome = {
                    let running = exercise::running(docker, &id, run, &address, host.as_mut());
                    if running.is_none() {
                        say!(
                            "trace: no exercise given and no TCP port to probe; recording until the container stops, --duration or Ctrl-C"
                        );
                    }
                    self.watch(running, signals).await
                };
                if let Some(child) = host.as_mut() {
                    exercise::finish(child).await;
                }
                outcome
            }
        }
    }

    /// Stops container `id` (see [`exercise::stop`]) and records what it does until it has.
    async fn record_stop(&mut self, id: &str, signals: &mut StopSignals) -> anyhow::Result<()> {
        let docker = self.docker;
        // Who its processes are can only be seen while they run.
        self.observe_identity(id).await;
        let stopping = exercise::stop(docker, id, signals);
        tokio::pin!(stopping);
        loop {
            tokio::select! {
                () = &mut stopping => break,
                ready = self.reader.readable() => {
                    ready.context("waiting for the probe's records")?;
                    self.drain().await?;
                }
            }
        }
        self.drain().await
    }

    /// Records until the exercise ends, the deadline, a signal, or (without an exercise) every
    /// recorded container has stopped and no awaited name is left.
    async fn watch(
        &mut self,
        exercise: Option<exercise::Running<'_>>,
        signals: &mut StopSignals,
    ) -> anyhow::Result<Outcome> {
        let deadline = self
            .request
            .duration
            // A duration past what the clock can hold is no deadline at all.
            .and_then(|d| tokio::time::Instant::now().checked_add(d));
        let without_exercise = exercise.is_none();
        let exercise_exit = async {
            match exercise {
                Some(exercise) => exercise.await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(exercise_exit);
        let mut progress = watch::Progress::new();
        let mut ticker = tokio::time::interval(watch::TICK);
        let mut docker_open = true;
        let outcome = loop {
            tokio::select! {
                status = &mut exercise_exit => {
                    break Outcome { reason: StopReason::CommandExited { status }, exit_code: status };
                }
                () = watch::sleep_until(deadline) => break Outcome { reason: StopReason::Duration, exit_code: 0 },
                outcome = signals.stop() => break outcome,
                ready = self.reader.readable() => {
                    ready.context("waiting for the probe's records")?;
                    self.drain().await?;
                }
                event = self.events.next(), if docker_open => match event {
                    Some(Ok(event)) => {
                        // The kernel's records first: a death after its cgroup's last events.
                        self.drain().await?;
                        self.on_docker(&event).await;
                    }
                    Some(Err(e)) => log::warn!("Docker's event stream: {e}"),
                    None => {
                        log::warn!("Docker's event stream ended; deaths are found by polling");
                        docker_open = false;
                    }
                },
                _ = ticker.tick() => {
                    let running = self.running_count().await;
                    let files = self.targets.tracked.iter().map(|t| t.recording.files.len()).sum();
                    progress.draw(self.targets.tracked.len(), running, files);
                    if without_exercise && self.all_stopped(running) {
                        break Outcome { reason: StopReason::ContainerExited, exit_code: 0 };
                    }
                }
            }
        };
        self.drain().await?;
        progress.finish();
        Ok(outcome)
    }

    /// How many recorded containers run (or are about to restart).
    async fn running_count(&self) -> usize {
        let mut running = 0;
        for tracked in &self.targets.tracked {
            if let Ok(c) = docker_api::resolve_any(self.docker, &tracked.container.id).await
                && (c.state.running || c.state.restarting)
            {
                running += 1;
            }
        }
        running
    }

    /// Whether recording without an exercise is over: containers were recorded, none runs, and
    /// every name asked for was seen.
    fn all_stopped(&self, running: usize) -> bool {
        if self.targets.tracked.is_empty() || running > 0 {
            return false;
        }
        let seen: Vec<Candidate<'_>> = self
            .targets
            .tracked
            .iter()
            .map(|t| Candidate {
                id: &t.container.id,
                name: &t.container.name,
                labels: &t.container.labels,
            })
            .collect();
        self.request.selection.unmatched_names(&seen).is_empty()
    }

    /// Records who the processes of container `id` are, when it runs.
    async fn observe_identity(&mut self, id: &str) {
        if let Some(index) = self.targets.index_of(id)
            && let Ok(now_state) = docker_api::resolve_any(self.docker, id).await
            && now_state.state.running
        {
            self.set_identity(index, now_state.pid);
        }
    }

    /// The identity of the processes of the tracked container `index`, whose main process is `pid`.
    fn set_identity(&mut self, index: usize, pid: u32) {
        let tracked = &mut self.targets.tracked[index];
        tracked.recording.identity = identity::observe(pid, tracked.recording.execs.keys());
    }

    /// What each container's state says at the end: the identity of those still running, the
    /// end of those that died without Docker's stream telling yet (it lags the kernel's records).
    async fn final_states(&mut self) {
        for index in 0..self.targets.tracked.len() {
            let id = self.targets.tracked[index].container.id.clone();
            let Ok(now_state) = docker_api::resolve_any(self.docker, &id).await else {
                continue;
            };
            let state = &now_state.state;
            let unended = self.targets.tracked[index]
                .lives
                .iter()
                .any(|l| l.life.ended.is_none());
            if state.running {
                self.set_identity(index, now_state.pid);
            } else if unended && !state.restarting {
                if state.oom_killed {
                    self.targets.on_docker(&id, "oom", None, &now());
                }
                self.on_docker(&ContainerEvent {
                    id: id.clone(),
                    action: "die".into(),
                    attributes: [("exitCode".to_owned(), state.exit_code.to_string())].into(),
                })
                .await;
            }
        }
    }

    /// Handles the Docker events still on their way (a stop the exercise asked for just before it
    /// exited), until none comes for [`EVENTS_QUIET`] or [`EVENTS_SETTLE`] has passed.
    async fn settle_docker_events(&mut self) {
        let until = tokio::time::Instant::now() + EVENTS_SETTLE;
        while tokio::time::Instant::now() < until {
            match tokio::time::timeout(EVENTS_QUIET, self.events.next()).await {
                Ok(Some(Ok(event))) => self.on_docker(&event).await,
                _ => break,
            }
        }
    }

    /// Prints how each crashed container ended and its last log lines; whether any crashed.
    fn report_crashes(&self) -> bool {
        let mut crashed = false;
        for tracked in &self.targets.tracked {
            if let Some(ending) = tracked.crashed() {
                crashed = true;
                say!(
                    "trace: container {} crashed: {ending}; its last log lines:",
                    tracked.container.name
                );
                for line in &tracked.crash_log {
                    say!("  | {line}");
                }
            }
        }
        crashed
    }

    /// Reads the final counters, completes and writes every recording, prints the summaries and
    /// the final table; returns the exit status.
    async fn finish(mut self, outcome: Outcome) -> anyhow::Result<Finished> {
        for (index, _, slot) in self.targets.live_slots() {
            let counts = self.probe.counts(slot)?;
            self.targets.add_counts(index, &counts);
        }
        self.settle_docker_events().await;
        self.final_states().await;
        let malformed = self.reader.malformed_records();
        let features = self.probe.features().clone();
        for tracked in &mut self.targets.tracked {
            finish::complete(tracked, &features, malformed, &outcome.reason);
        }
        let grouped = finish::group(&self.targets.tracked);
        if grouped.is_empty() {
            let running = docker_api::running_names(self.docker).await?;
            anyhow::bail!(
                "no container {} ran while recording; nothing was written (running containers: {})",
                describe_selection(&self.request.selection),
                if running.is_empty() {
                    "none".to_owned()
                } else {
                    running.join(", ")
                }
            );
        }
        let dirs: Vec<PathBuf> = grouped
            .iter()
            .map(|g| match &self.request.out {
                Out::Dir(Some(dir)) if grouped.len() == 1 => dir.clone(),
                Out::Dir(Some(root)) | Out::Root(root) => root.join(&g.name),
                Out::Dir(None) => PathBuf::from(DEFAULT_OUT).join(&g.name),
            })
            .collect();
        // The committed profiles are read before anything is written (--out may be --check).
        let committed = match &self.request.check {
            Some(check) => grouped
                .iter()
                .map(|g| {
                    let dir = if grouped.len() == 1 && matches!(self.request.out, Out::Dir(_)) {
                        check.clone()
                    } else {
                        check.join(&g.name)
                    };
                    crate::check::load_committed(&dir).map(|c| Some((c, dir)))
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
            None => grouped.iter().map(|_| None).collect(),
        };
        let mut written = Vec::new();
        let mut checked = 0;
        for ((g, dir), committed) in grouped.iter().zip(&dirs).zip(&committed) {
            let files = finish::write_outputs(dir, &g.recording, &self.request.options)?;
            show!("{}", render::summary::render(&g.recording, &files));
            if let Some((committed, against)) = committed {
                checked = checked.max(crate::check::report(
                    &g.recording,
                    committed,
                    against,
                    false,
                    false,
                ));
            }
            written.push(Written {
                dir: dir.clone(),
                recording: g.recording.clone(),
            });
        }
        say!(
            "trace: recorded {} output director{}:",
            grouped.len(),
            if grouped.len() == 1 { "y" } else { "ies" }
        );
        for (g, dir) in grouped.iter().zip(&dirs) {
            say!("{}", finish::summary_line(g, dir));
        }
        let crashed = self.report_crashes();
        // The probe detaches when the session is dropped (about 2 s, a grace period per
        // tracepoint, see probe::links): after the outputs and the reports are written.
        let exit_code = match outcome.reason {
            StopReason::Signal { .. } => outcome.exit_code,
            _ if outcome.exit_code != 0 => outcome.exit_code,
            _ if crashed => EXIT_CRASHED,
            _ => checked,
        };
        Ok(Finished { written, exit_code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_in_words() {
        let selection = Selection {
            names: vec!["web".into(), "db".into()],
            labels: vec![("tier".into(), Some("data".into())), ("team".into(), None)],
            projects: vec!["shop".into()],
        };
        assert_eq!(
            describe_selection(&selection),
            "named 'web' or 'db', or of compose project 'shop', or with label tier=data and team"
        );
    }

    #[test]
    fn short_ids() {
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }
}
