//! How a session ends: the exercise run to its stop condition, the containers' final states
//! and identities, crashes reported, the recordings finished and written.

use super::{
    DEFAULT_OUT, EVENTS_QUIET, EVENTS_SETTLE, EXIT_CRASHED, Exercise, Finished, Out, Session,
    Written, describe_selection,
};
use super::{Outcome, StopSignals, exercise, finish, mark, watch};
use crate::recording::{Mark, MinRunsError, StopReason, name_syscalls};
use crate::render;
use crate::runtime::docker::ContainerEvent;
use crate::runtime::{identity, lifecycle};
use crate::session::finish::now;
use crate::session::select::{Candidate, Group};
use anyhow::Context;
use futures_util::StreamExt;
use std::path::PathBuf;
use tokio::net::UnixStream;

impl Session<'_> {
    /// Starts the exercise and records until the first stop condition.
    pub(super) async fn run_exercise(
        &mut self,
        signals: &mut StopSignals,
    ) -> anyhow::Result<Outcome> {
        match &self.request.exercise {
            Exercise::None => self.watch(None, signals).await,
            Exercise::Host { command, env } => {
                let mut env = env.clone();
                env.extend(self.mark_env());
                exercise::with_host(command, &env, async |child| {
                    let running =
                        child.map(|c| Box::pin(exercise::wait_child(c)) as exercise::Running<'_>);
                    self.watch(running, signals).await
                })
                .await?
            }
            Exercise::Run(run) => {
                let id = self
                    .request
                    .start
                    .clone()
                    .context("trace run starts a container")?;
                self.wait_caught(&id).await?;
                let docker = self.engine.docker().context("trace run needs Docker")?;
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
                let marks = self.mark_env();
                exercise::run_ready(docker, &id, &name, run, &address, &marks, async |running| {
                    if running.is_none() {
                        note!(
                            "trace: no exercise given and no TCP port to probe; recording until the container stops, --duration or Ctrl-C"
                        );
                    }
                    self.watch(running, signals).await
                })
                .await?
            }
        }
    }

    /// Stops container `id` (see [`exercise::stop`]) and records what it does until it has.
    pub(super) async fn record_stop(
        &mut self,
        id: &str,
        timeout_s: u32,
        signals: &mut StopSignals,
    ) -> anyhow::Result<()> {
        let docker = self
            .engine
            .docker()
            .context("stopping a container needs Docker")?;
        // Who its processes are can only be seen while they run.
        self.observe_identity(id).await;
        // A container that already ended by itself keeps that end: its death, perhaps not yet
        // read from the events, is no stop of trace's.
        if lifecycle::may_be_running(docker, id).await {
            self.targets.stopping(id);
        }
        let stopping = exercise::stop(docker, id, timeout_s, signals);
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
    pub(super) async fn watch(
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
        let mut events_open = true;
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
                accepted = next_mark(self.marks.as_ref()) => self.on_mark(accepted).await?,
                event = self.events.next(), if events_open => match event {
                    Some(Ok(event)) => {
                        // The kernel's records first: a death after its cgroup's last events.
                        self.drain().await?;
                        self.on_event(&event).await;
                    }
                    Some(Err(e)) => log::warn!("{}'s event stream: {e}", self.engine.what()),
                    None => {
                        log::warn!(
                            "{}'s event stream ended; deaths are found by polling",
                            self.engine.what()
                        );
                        events_open = false;
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

    /// What a host exercise is told of the mark socket.
    fn mark_env(&self) -> Vec<(&'static str, String)> {
        self.marks
            .iter()
            .map(|m| (mark::MARK_ENV, m.path().display().to_string()))
            .collect()
    }

    /// A connection on the mark socket: a step taken when its name is good (see [`mark`]).
    async fn on_mark(&mut self, accepted: std::io::Result<UnixStream>) -> anyhow::Result<()> {
        let (Ok(stream), Some(marks)) = (accepted, self.marks.as_mut()) else {
            return Ok(());
        };
        let incoming = marks.read(stream).await;
        let name = match &incoming.name {
            Ok(name) => name.clone(),
            Err(why) => {
                say!("trace: warning: a mark was refused: {why}");
                incoming.answer(Ok(())).await;
                return Ok(());
            }
        };
        // What came before the mark belongs to the step it ends.
        let taken = self.drain().await.and_then(|()| self.take_mark(&name));
        incoming
            .answer(taken.as_ref().map(|&()| ()).map_err(|e| format!("{e:#}")))
            .await;
        taken?;
        log::info!("step {name} marked");
        Ok(())
    }

    /// Every recorded container's calls and files so far, as the start of step `name`.
    fn take_mark(&mut self, name: &str) -> anyhow::Result<()> {
        let at = now();
        let mut counts: std::collections::BTreeMap<usize, crate::probe::SlotCounts> = self
            .targets
            .tracked
            .iter()
            .enumerate()
            .map(|(index, t)| (index, t.counts.clone()))
            .collect();
        for (index, _, slot) in self.targets.live_slots() {
            let live = self.probe.counts(slot)?;
            counts.entry(index).or_default().add(&live);
        }
        for (index, counts) in counts {
            let recording = &self.targets.tracked[index].recording;
            let (syscalls, _) = name_syscalls(&counts.syscalls.application.counts, 0);
            self.steps.entry(index).or_default().push(Mark {
                name: name.to_owned(),
                at: at.clone(),
                syscalls,
                files: recording.files.keys().cloned().collect(),
            });
        }
        Ok(())
    }

    /// How many recorded containers run (or are about to restart).
    pub(super) async fn running_count(&self) -> usize {
        let mut running = 0;
        for tracked in &self.targets.tracked {
            if let Ok(c) = self.engine.inspect(&tracked.container.id).await
                && (c.state.running || c.state.restarting)
            {
                running += 1;
            }
        }
        running
    }

    /// Whether recording without an exercise is over: containers were recorded, none runs, and
    /// every name asked for was seen.
    pub(super) fn all_stopped(&self, running: usize) -> bool {
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
    pub(super) async fn observe_identity(&mut self, id: &str) {
        if let Some(index) = self.targets.index_of(id)
            && let Ok(now_state) = self.engine.inspect(id).await
            && now_state.state.running
        {
            self.set_identity(index, now_state.pid);
        }
    }

    /// The identity of the processes of the tracked container `index`, whose main process is `pid`.
    pub(super) fn set_identity(&mut self, index: usize, pid: u32) {
        let tracked = &mut self.targets.tracked[index];
        tracked.recording.identity = identity::observe(pid, tracked.recording.execs.keys());
    }

    /// What each container's state says at the end: the identity of those still running, the
    /// end of those that died without Docker's stream telling yet (it lags the kernel's records).
    pub(super) async fn final_states(&mut self) {
        for index in 0..self.targets.tracked.len() {
            let id = self.targets.tracked[index].container.id.clone();
            let Ok(now_state) = self.engine.inspect(&id).await else {
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
                self.on_event(&ContainerEvent {
                    id: id.clone(),
                    action: "die".into(),
                    attributes: [("exitCode".to_owned(), state.exit_code.to_string())].into(),
                })
                .await;
            }
        }
    }

    /// Handles the runtime's events still on their way (a stop the exercise asked for just before
    /// it exited), until none comes for [`EVENTS_QUIET`] or [`EVENTS_SETTLE`] has passed.
    pub(super) async fn settle_events(&mut self) {
        let until = tokio::time::Instant::now() + EVENTS_SETTLE;
        while tokio::time::Instant::now() < until {
            match tokio::time::timeout(EVENTS_QUIET, self.events.next()).await {
                Ok(Some(Ok(event))) => self.on_event(&event).await,
                _ => break,
            }
        }
    }

    /// Prints how each crashed container ended and its last log lines; whether any crashed.
    pub(super) fn report_crashes(&self) -> bool {
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

    /// Writes each group's outputs to its directory, prints its summary and checks it against
    /// its committed profiles; returns what was written and the worst check status.
    fn write_groups(
        &self,
        grouped: &[finish::Grouped],
        dirs: &[PathBuf],
        committed: &[Option<(crate::check::Committed, PathBuf)>],
    ) -> anyhow::Result<(Vec<Written>, i32)> {
        let mut written = Vec::new();
        let mut checked = 0;
        // --min-runs more than a group's runs: its recording is written, the other groups too,
        // and then trace fails naming the group.
        let mut too_few_runs = None;
        for ((g, dir), committed) in grouped.iter().zip(dirs).zip(committed) {
            let (files, selected, left_out) = match finish::write_outputs(
                dir,
                &g.recording,
                &self.request.options,
                matches!(g.group, Group::Pod { .. }),
            ) {
                Ok(outputs) => outputs,
                Err(e) if e.downcast_ref::<MinRunsError>().is_some() => {
                    too_few_runs.get_or_insert(e.context(format!(
                        "{}: wrote recording.json, not the profiles",
                        dir.display()
                    )));
                    continue;
                }
                Err(e) => return Err(e),
            };
            if !crate::term::quiet() {
                show!(
                    "{}",
                    render::summary::render(&g.recording, &files, &left_out)
                );
            }
            if let Some((committed, against)) = committed {
                checked = checked.max(crate::check::report(
                    &selected, committed, against, false, false,
                ));
            }
            written.push(Written {
                dir: dir.clone(),
                recording: g.recording.clone(),
                files,
                left_out,
            });
        }
        if let Some(e) = too_few_runs {
            return Err(e);
        }
        Ok((written, checked))
    }

    /// Reads the final counters, completes and writes every recording, prints the summaries and
    /// the final table; returns the exit status.
    pub(super) async fn finish(mut self, outcome: Outcome) -> anyhow::Result<Finished> {
        for (index, _, slot) in self.targets.live_slots() {
            let counts = self.probe.counts(slot)?;
            self.targets.add_counts(index, &counts);
        }
        self.settle_events().await;
        self.final_states().await;
        let malformed = self.reader.malformed_records();
        let features = self.probe.features().clone();
        for tracked in &mut self.targets.tracked {
            finish::complete(tracked, &features, malformed, &outcome.reason);
        }
        for (index, marks) in &self.steps {
            self.targets.tracked[*index].recording.set_steps(marks);
        }
        let mut grouped = finish::group(&self.targets.tracked);
        if let Some(name) = &self.request.output_name {
            for g in &mut grouped {
                g.name.clone_from(name);
                g.recording.container.name.clone_from(name);
            }
        }
        finish::complete_groups(self.engine.docker(), &mut grouped, &self.request.options).await;
        if grouped.is_empty() {
            let running = self.engine.running_names().await?;
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
        let (written, checked) = self.write_groups(&grouped, &dirs, &committed)?;
        say!(
            "trace: recorded {} output director{}:",
            grouped.len(),
            if grouped.len() == 1 { "y" } else { "ies" }
        );
        for (g, w) in grouped.iter().zip(&written) {
            say!("{}", finish::summary_line(g, &w.dir, &w.left_out));
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

/// The next connection on the mark socket; never, without one.
async fn next_mark(marks: Option<&mark::Marks>) -> std::io::Result<UnixStream> {
    match marks {
        Some(marks) => marks.accept().await,
        None => std::future::pending().await,
    }
}
