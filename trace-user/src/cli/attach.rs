//! `trace --container NAME... [--label K=V]... [--compose-project [P]] [-- CMD]`: record the
//! selected containers (running ones attached, the others from their start) while the exercise
//! runs, and write one output directory per container or compose service. `trace --pod ...`
//! does the same for the containers of Kubernetes pods, through the node's CRI.

use std::future::Future;

use anyhow::Context;

use super::AttachArgs;
use crate::runtime;
use crate::runtime::cri::Cri;
use crate::session::select::{Selection, default_project};
use crate::session::{self, Engine, Exercise, Out, Request};

pub(super) fn run(args: AttachArgs) -> anyhow::Result<i32> {
    super::block_on(attach(args))
}

async fn attach(args: AttachArgs) -> anyhow::Result<i32> {
    let mut signals = super::start_recording()?;
    if !args.pod.is_empty() {
        let cri = Cri::connect(args.cri_socket.as_deref()).await?;
        // Before any other thread starts (the runtime runs on this one).
        if runtime::cri::join_node_cgroup_namespace(args.cri_socket.as_deref()).await? {
            note!("trace: joined the node's cgroup namespace");
        }
        let request = request(
            &args,
            Selection {
                pods: args.pod.clone(),
                ..Selection::default()
            },
            false,
            Vec::new(),
        );
        return finish(
            &args,
            Box::pin(session::record(Engine::Cri(&cri), &request, &mut signals)),
        )
        .await;
    }
    let docker = super::connect(&args.engine).await?;
    let mut selection = Selection {
        names: args.container.clone(),
        labels: args.label.clone(),
        projects: Vec::new(),
        pods: Vec::new(),
    };
    if let Some(project) = &args.compose_project {
        let project = if project.is_empty() {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let env = std::env::var("COMPOSE_PROJECT_NAME").ok();
            default_project(env.as_deref(), &cwd).with_context(|| {
                format!(
                    "no compose project name can be made from {}: give one with --compose-project NAME",
                    cwd.display()
                )
            })?
        } else {
            project.clone()
        };
        note!("trace: recording compose project {project}");
        selection.projects.push(project);
    }
    // One container named: its directory is --out, and the exercise learns which one it is
    // (when it runs already).
    let single =
        args.container.len() == 1 && args.label.is_empty() && args.compose_project.is_none();
    let mut env = Vec::new();
    if single
        && !args.exercise.is_empty()
        && let Ok(container) = runtime::docker::resolve(&docker, &args.container[0]).await
    {
        env.push(("TRACE_CONTAINER", container.name));
        env.push(("TRACE_CONTAINER_ID", container.id));
    }
    let request = request(&args, selection, single, env);
    finish(
        &args,
        Box::pin(session::record(
            Engine::Docker(&docker),
            &request,
            &mut signals,
        )),
    )
    .await
}

/// The session's request: `single` when one container is named (its directory is --out), `env`
/// added to the exercise's environment.
fn request(
    args: &AttachArgs,
    selection: Selection,
    single: bool,
    env: Vec<(&'static str, String)>,
) -> Request {
    Request {
        selection,
        start: None,
        restart: args.restart,
        exercise: if args.exercise.is_empty() {
            Exercise::None
        } else {
            Exercise::Host {
                command: args.exercise.clone(),
                env,
            }
        },
        duration: args.duration,
        out: if single {
            Out::Dir(args.out.clone())
        } else {
            Out::Root(
                args.out
                    .clone()
                    .unwrap_or_else(|| session::DEFAULT_OUT.into()),
            )
        },
        options: args.profile.options(),
        check: args.check.clone(),
        max_containers: args.max_containers,
        stop_started: None,
        output_name: None,
    }
}

/// Waits for the session and writes `--summary-json`; returns trace's exit status.
async fn finish(
    args: &AttachArgs,
    recording: impl Future<Output = anyhow::Result<session::Finished>>,
) -> anyhow::Result<i32> {
    let finished = recording.await?;
    if let Some(path) = &args.summary_json {
        super::summary::write(path, &finished)?;
    }
    Ok(finished.exit_code)
}
