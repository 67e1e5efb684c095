//! `trace run IMAGE`: create a container, arm the probe before any of its processes runs, start
//! it, exercise it, stop it, and write the same outputs as attaching, with the startup recorded.

use anyhow::Context;
use bollard::Docker;

use super::RunArgs;
use crate::probe;
use crate::runtime::{self, lifecycle};
use crate::session::exercise::{self, RunExercise};
use crate::session::select::Selection;
use crate::session::{self, Exercise, Out, Request, StopSignals};

pub(super) fn run(args: RunArgs) -> anyhow::Result<i32> {
    super::block_on(run_container(args))
}

async fn run_container(args: RunArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(
        args.exec.is_none() || args.exercise.is_empty(),
        "--exec and a host exercise after -- exclude each other"
    );
    anyhow::ensure!(
        args.minimize || args.slim == super::SlimArgs::default(),
        "--tag, --include and --include-from go with --minimize"
    );
    let mut signals = StopSignals::install().context("cannot install signal handlers")?;
    probe::preflight()?;
    let docker = runtime::docker::connect().await?;
    let id = lifecycle::create(&docker, &args.spec()).await?;
    // From here on the container exists: remove it whatever happens (unless --keep).
    let request = Request {
        selection: Selection {
            names: vec![id.clone()],
            ..Selection::default()
        },
        start: Some(id.clone()),
        restart: false,
        exercise: Exercise::Run(run_exercise(&args)),
        duration: args.duration,
        out: Out::Dir(args.out.clone()),
        options: args.profile.options(),
        check: args.check.clone(),
        max_containers: super::DEFAULT_MAX_CONTAINERS,
        stop_started: !args.keep,
    };
    let result = session::record(&docker, &request, &mut signals).await;
    if !args.keep {
        // Stopped while recording (its shutdown is part of the profile) unless recording failed.
        exercise::stop(&docker, &id, &mut signals).await;
        lifecycle::remove(&docker, &id).await;
    }
    let finished = result?;
    if !args.minimize {
        return Ok(finished.exit_code);
    }
    if finished.exit_code != 0 {
        say!(
            "trace: not minimizing: the recording did not succeed (status {})",
            finished.exit_code
        );
        return Ok(finished.exit_code);
    }
    let recording = &finished
        .written
        .first()
        .context("nothing was recorded")?
        .recording;
    let report =
        super::minimize::minimize_recording(&docker, recording, &args.slim, &mut signals).await?;
    let code = exercise_slim(&docker, &args, &report.tag, &mut signals).await?;
    anyhow::ensure!(
        code == 0,
        "the exercise failed against the slim image {} (status {code}): it needs files the trace did not see; add them with --include (docs/minimize.md)",
        report.tag
    );
    say!(
        "trace: the exercise passed against the slim image {}",
        report.tag
    );
    Ok(finished.exit_code)
}

/// The exercise `args` describe.
fn run_exercise(args: &RunArgs) -> RunExercise {
    RunExercise {
        exec: args.exec.clone(),
        host: args.exercise.clone(),
        ready: args.ready.clone(),
        publish: args.publish.clone(),
    }
}

/// Starts a fresh container from `image` with the same options and runs the same exercise
/// against it, untraced; returns the exercise's exit code (or, without an exercise, the
/// container's: 0 when it still runs at --duration).
async fn exercise_slim(
    docker: &Docker,
    args: &RunArgs,
    image: &str,
    signals: &mut StopSignals,
) -> anyhow::Result<i32> {
    let mut spec = args.spec();
    spec.image = image.to_owned();
    spec.name = spec.name.map(|name| format!("{name}-slim"));
    let id = lifecycle::create(docker, &spec).await?;
    say!("trace: exercising the slim image {image}");
    let result = async {
        lifecycle::start(docker, &id).await?;
        let name = runtime::docker::resolve_any(docker, &id).await?.name;
        let run = run_exercise(args);
        let address = match exercise::prepare(docker, &id, &run).await {
            Ok(address) => address,
            Err(early) => return Ok(early.exit_code),
        };
        let mut host = exercise::spawn_host(&run.host, &exercise::run_env(&name, &id, &address))?;
        let code = {
            let running = exercise::running(docker, &id, &run, &address, host.as_mut());
            let finished = async {
                match running {
                    Some(running) => running.await,
                    None => lifecycle::wait_exit(docker, &id).await,
                }
            };
            let limit = async {
                match args.duration {
                    Some(duration) => tokio::time::sleep(duration).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                code = finished => code,
                () = limit => 0,
                code = signals.received() => code,
            }
        };
        if let Some(child) = host.as_mut() {
            exercise::finish(child).await;
        }
        anyhow::Ok(code)
    }
    .await;
    if !args.keep {
        exercise::stop(docker, &id, signals).await;
        lifecycle::remove(docker, &id).await;
    }
    result
}
