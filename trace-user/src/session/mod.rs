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

mod end;
pub mod engine;
pub mod exercise;
pub mod finish;
mod follow;
pub mod mark;
pub mod select;
pub mod targets;
pub mod watch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::probe::{Probe, ProbeOptions, ProbeTarget};
use crate::recording::{ContainerInfo, HostInfo, LeftOut, Recording};
use crate::render;
use crate::runtime::docker as docker_api;
use crate::runtime::{ContainerTarget, cgroup, lifecycle};

pub use engine::Engine;
use exercise::RunExercise;
use select::{Candidate, Selection};
use targets::Targets;
pub use watch::{Outcome, StopSignals};

use follow::Session;

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
    /// shutdown is in the recording and its profile lets it stop cleanly: the seconds the stop
    /// waits after the container's stop signal before it kills (`None`: leave it running).
    pub stop_started: Option<u32>,
    /// The name the outputs carry instead of the container's (its directory, the recording's
    /// container name, the AppArmor profile's name): `trace run` without `--name`, whose
    /// container has a random name.
    pub output_name: Option<String>,
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

impl Exercise {
    /// Whether a command runs on the host: it gets the mark socket ([`mark::MARK_ENV`]).
    pub fn on_host(&self) -> bool {
        match self {
            Exercise::None => false,
            Exercise::Host { command, .. } => !command.is_empty(),
            Exercise::Run(run) => !run.host.is_empty(),
        }
    }
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
    /// The files written, the recording first.
    pub files: Vec<PathBuf>,
    /// The runs the recording holds and what `--min-runs` left out of its profiles.
    pub left_out: LeftOut,
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

/// Runs a session: records until the first stop condition, writes every output, prints the
/// summaries; then the caller may act on the containers (e.g. remove what it created).
pub async fn record(
    engine: Engine<'_>,
    request: &Request,
    signals: &mut StopSignals,
) -> anyhow::Result<Finished> {
    if engine.docker().is_none() {
        anyhow::ensure!(
            request.start.is_none() && !request.restart,
            "starting or restarting containers needs Docker"
        );
    }
    if let Out::Root(root) | Out::Dir(Some(root)) = &request.out {
        crate::out::prepare_dir(root)?;
    }
    // The runtime's events from before the probe is armed: no death goes unseen.
    let events = engine.events().await?;
    let running = running_matches(engine, request).await?;
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
    if probe_targets.is_empty()
        && let Some(level) = engine.level_of(&request.selection).await
    {
        // New containers are caught at one level, the first's unless told: a pod's containers
        // are at its sandbox's, whatever other container starts first.
        probe.expect_level(level)?;
    }
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
        || !request.selection.pods.is_empty()
        || request.selection.names.len() > attach.len();
    if waits {
        probe.catches_new_containers()?;
    }
    let reader = probe
        .take_event_reader()
        .context("the probe's event reader")?;
    let marks = if request.exercise.on_host() {
        Some(mark::Marks::listen().context("cannot open the socket for the exercise's marks")?)
    } else {
        None
    };
    let mut session = Session {
        engine,
        request,
        probe,
        reader,
        targets: Targets::default(),
        events,
        host: host_info(),
        batch: Vec::new(),
        marks,
        steps: std::collections::BTreeMap::new(),
    };
    let slots = session.probe.running_slots().to_vec();
    for ((container, cg), slot) in attach.into_iter().zip(slots) {
        session.attach_running(container, cg, slot);
    }
    if let Some(docker) = engine.docker() {
        for (container, _) in running.iter().filter(|_| request.restart) {
            note!(
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
    }
    announce_waits(request, &running);
    let outcome = session.run_exercise(signals).await?;
    if let (Some(timeout), Some(id)) = (request.stop_started, &request.start) {
        session.record_stop(id, timeout, signals).await?;
    }
    session.finish(outcome).await
}

/// Says which containers and pods the session waits for (those not running yet are recorded from
/// their first instruction).
fn announce_waits(request: &Request, running: &[(ContainerTarget, cgroup::CgroupV2)]) {
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
        note!(
            "trace: waiting for container{} {} to start; recording from its first instruction",
            if awaited.len() == 1 { "" } else { "s" },
            awaited.join(", ")
        );
    }
    if !request.selection.pods.is_empty() {
        note!(
            "trace: recording the containers of pod{} {} through the CRI, new ones from their first instruction",
            if request.selection.pods.len() == 1 {
                ""
            } else {
                "s"
            },
            describe_pods(&request.selection)
        );
    }
}

/// The running containers the selection names, with their cgroups; a name that is not running
/// is waited for.
async fn running_matches(
    engine: Engine<'_>,
    request: &Request,
) -> anyhow::Result<Vec<(ContainerTarget, cgroup::CgroupV2)>> {
    let mut found = Vec::new();
    if request.start.is_some() {
        return Ok(found);
    }
    for id in engine.all_ids().await? {
        let Ok(container) = engine.inspect(&id).await else {
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
        let cg = cgroup::of_container(container.pid, &container.id)
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
        runtimes: container.runtime.iter().cloned().collect(),
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
            .map(|(k, v)| select::label_text(k, v.as_deref()))
            .collect();
        parts.push(format!("with label {}", labels.join(" and ")));
    }
    if !selection.pods.is_empty() {
        parts.push(format!("of pod {}", describe_pods(selection)));
    }
    parts.join(", or ")
}

/// The pods of a selection in words: `default/web or shop/app=db`.
fn describe_pods(selection: &Selection) -> String {
    let pods: Vec<String> = selection.pods.iter().map(ToString::to_string).collect();
    pods.join(" or ")
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
            pods: vec![
                select::parse_pod("web").unwrap(),
                select::parse_pod("*/app=db,tier").unwrap(),
            ],
        };
        assert_eq!(
            describe_selection(&selection),
            "named 'web' or 'db', or of compose project 'shop', or with label tier=data and team, \
             or of pod default/web or */app=db,tier"
        );
    }
}
