//! `trace run IMAGE`: create a container, arm the probe before any of its processes runs, start
//! it, exercise it, stop it, and write the same outputs as attaching, with the startup recorded.

use anyhow::Context;
use bollard::Docker;

use super::RunArgs;
use crate::runtime::{self, lifecycle};
use crate::session::exercise::{self, RunExercise};
use crate::session::select::{Selection, safe_component};
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
    // One container, one run: more cannot be asked of its recording.
    if args.profile.min_runs > 1 {
        return Err(crate::recording::MinRunsError::MoreThanRuns {
            min_runs: args.profile.min_runs,
            runs: 1,
        }
        .into());
    }
    let mut signals = super::start_recording()?;
    let docker = super::connect(&args.engine).await?;
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
        stop_started: (!args.keep).then(|| args.stop_timeout()),
        // Docker's random name would change the outputs' names with every run.
        output_name: match &args.name {
            Some(_) => None,
            None => Some(stable_name(&args.image)),
        },
    };
    let result = session::record(session::Engine::Docker(&docker), &request, &mut signals).await;
    if !args.keep {
        // Stopped while recording (its shutdown is part of the profile) unless recording failed.
        exercise::stop(&docker, &id, args.stop_timeout(), &mut signals).await;
        lifecycle::remove(&docker, &id).await;
    }
    let finished = result?;
    if let Some(path) = &args.summary_json {
        super::summary::write(path, &finished)?;
    }
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

/// The name of the outputs of `trace run IMAGE` without `--name`: the last component of the image's
/// repository, without registry, tag or digest (`nginx` for `registry:5000/library/nginx:1.27`),
/// every character outside `a-z A-Z 0-9 _ . -` as `_`, starting with a letter or digit; an image id
/// gives `image-` and its first 12 digits. The same on every run, and a valid directory, Docker
/// container name (a recording's `container.name` must be one) and AppArmor profile name.
pub fn stable_name(image: &str) -> String {
    let image = image.trim();
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let id = without_digest
        .strip_prefix("sha256:")
        .unwrap_or(without_digest);
    if id.len() >= 12 && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return format!("image-{}", &id[..12]);
    }
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repository = last.split_once(':').map_or(last, |(name, _)| name);
    let name = safe_component(repository);
    // A container name starts with a letter or digit: not hidden, not `.` or `..`, not empty.
    let name = name.trim_start_matches(['.', '-', '_']);
    if name.is_empty() {
        "container".to_owned()
    } else {
        name.to_owned()
    }
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
    note!("trace: exercising the slim image {image}");
    let result = async {
        lifecycle::start(docker, &id).await?;
        let name = runtime::docker::resolve_any(docker, &id).await?.name;
        let run = run_exercise(args);
        let address = match exercise::prepare(docker, &id, &run).await {
            Ok(address) => address,
            Err(early) => return Ok(early.exit_code),
        };
        // Nothing is recorded here: `trace mark` finds no socket and lets the exercise go on.
        exercise::run_ready(docker, &id, &name, &run, &address, &[], async |running| {
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
        })
        .await
    }
    .await;
    if !args.keep {
        exercise::stop(docker, &id, args.stop_timeout(), signals).await;
        lifecycle::remove(docker, &id).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::stable_name;

    #[test]
    fn names_from_images_are_stable_and_safe() {
        for (image, name) in [
            ("nginx", "nginx"),
            ("nginx:1.27", "nginx"),
            ("docker.io/library/nginx:1.27-alpine", "nginx"),
            ("registry.example:5000/team/api", "api"),
            ("registry.example:5000/team/api:v2", "api"),
            (
                "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "redis",
            ),
            ("ghcr.io/org/my_app.web-1:latest@sha256:ab", "my_app.web-1"),
            (
                "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "image-0123456789ab",
            ),
            ("0123456789ab", "image-0123456789ab"),
            ("trace-test/workload:local", "workload"),
            ("..", "container"),
            ("", "container"),
            ("-x", "x"),
            ("_x", "x"),
            ("reg/a b*c", "a_b_c"),
        ] {
            assert_eq!(stable_name(image), name, "{image}");
            // A Docker container name, as recordings require.
            assert!(
                name.starts_with(|c: char| c.is_ascii_alphanumeric()),
                "{name}"
            );
            assert_eq!(stable_name(image), stable_name(image));
        }
    }
}
