//! `trace --container NAME [-- CMD]`: attach to a running container, record while the exercise
//! runs, write the recording and the profiles.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;

use super::AttachArgs;
use crate::probe::{self, EventReader, Probe, ProbeTarget};
use crate::recording::{ContainerInfo, Gap, GapKind, HostInfo, Recording, StopReason};
use crate::session::{self, StopSignals};
use crate::target::{self, ContainerTarget, Target};
use crate::{ingest, out, render};

pub(super) fn run(args: AttachArgs) -> anyhow::Result<i32> {
    super::block_on(attach(args))
}

async fn attach(args: AttachArgs) -> anyhow::Result<i32> {
    let name = args.container.context("--container is required")?;
    let mut signals = StopSignals::install().context("cannot install signal handlers")?;
    probe::preflight()?;
    let docker = target::docker::connect().await?;
    let target = target::resolve(&docker, &name).await?;
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("profiles").join(&target.container.name));
    out::prepare_dir(&out_dir)?;
    // Read the committed profiles before anything is written (--out may be the same directory).
    let committed = args
        .check
        .as_deref()
        .map(super::check::load_committed)
        .transpose()?;

    let mut probe = Probe::attach(ProbeTarget {
        cgroup_id: target.cgroup.id,
        cgroup_level: target.cgroup.level,
    })?;
    let mut events = probe.take_event_reader();
    let mut recording =
        Recording::started(container_info(&target.container), host_info(), now(), false);
    recording.gaps.push(Gap {
        kind: GapKind::StartupMissed,
        detail: "attached to a running container: its startup was not seen; the seccomp profile adds \
                 runc's baseline, but calls the entrypoint made only at startup are missing \
                 (record with the exercise also covering startup, or restart the container under trace)"
            .into(),
    });
    eprintln!(
        "trace: recording container {} ({}) in cgroup {} (id {}); stop with Ctrl-C",
        target.container.name,
        short_id(&target.container.id),
        target.cgroup.dir.display(),
        target.cgroup.id
    );
    for missing in &probe.features().missing {
        eprintln!(
            "trace: warning: not recording {}: {}",
            missing.what, missing.why
        );
    }

    let mut exercise = spawn_exercise(&args.exercise, &target)?;
    let watched = session::Watched {
        docker: &docker,
        container_id: &target.container.id,
        probe: &probe,
        events: events.as_mut(),
        recording: &mut recording,
    };
    let outcome = {
        let mut running = exercise
            .as_mut()
            .map(|child| Box::pin(session::wait_child(child)));
        let running = running
            .as_mut()
            .map(|f| f.as_mut() as session::Exercise<'_>);
        session::wait_for_stop(watched, running, args.duration, &mut signals).await
    };
    recording.identity = target::identity::observe(target.container.pid, recording.execs.keys());
    finish_recording(
        &mut recording,
        &probe,
        events.as_ref(),
        outcome.reason.clone(),
    )?;

    let written = write_outputs(&out_dir, &recording, &args.profile.options())?;
    if let Some(child) = exercise.as_mut() {
        session::finish_exercise(child).await;
    }
    print!("{}", render::summary::render(&recording, &written));
    let code = check_after(
        &recording,
        committed.as_ref(),
        args.check.as_deref(),
        outcome.exit_code,
    );
    // Detaching takes about 2 s (a grace period per tracepoint, see probe::links): after the
    // outputs and the drift report are written, not before.
    drop(probe);
    Ok(code)
}

/// With `--check DIR`: prints the drift report; the exit status is the exercise's when it failed,
/// else the check's (0 fits, 1 drift).
pub(super) fn check_after(
    recording: &Recording,
    committed: Option<&crate::check::Committed>,
    dir: Option<&Path>,
    exit_code: i32,
) -> i32 {
    let (Some(committed), Some(dir)) = (committed, dir) else {
        return exit_code;
    };
    let checked = super::check::report(recording, committed, dir, false, false);
    if exit_code == 0 { checked } else { exit_code }
}

/// Reads the probe's counters into the recording and closes it.
pub(super) fn finish_recording(
    recording: &mut Recording,
    probe: &Probe,
    events: Option<&EventReader>,
    reason: StopReason,
) -> anyhow::Result<()> {
    let counts = probe.syscall_counts()?;
    let checks = |counts: std::collections::BTreeMap<u8, probe::CapCount>| {
        counts
            .into_iter()
            .map(|(cap, c)| (u32::from(cap), c.granted, c.denied))
            .collect()
    };
    let (arguments, arguments_lost) = probe.argument_values()?;
    let counters = ingest::Counters {
        capabilities: checks(probe.capability_counts()?),
        runc_capabilities: checks(probe.capability_counts_of(probe::CapChecker::Runc)?),
        borrowed_capabilities: checks(
            probe.capability_counts_of(probe::CapChecker::OtherCredentials)?,
        ),
        sockets: probe
            .socket_counts()?
            .into_iter()
            .map(|((family, kind), count)| (u32::from(family), u32::from(kind), count))
            .collect(),
        arguments: arguments
            .into_iter()
            .map(|key| (key.nr, key.index, key.value))
            .collect(),
        arguments_lost,
        dropped: probe.dropped_events()? + events.map_or(0, EventReader::malformed_records),
    };
    let features = probe.features();
    ingest::finish(recording, &counters, features);
    if !features.compat_abi {
        recording.gaps.push(Gap {
            kind: GapKind::CompatAbiUnknown,
            detail: "the kernel's BTF has no thread_info.status: 32-bit calls were counted as 64-bit ones".into(),
        });
    }
    recording.stopped(now(), reason, &counts.counts, counts.out_of_range);
    Ok(())
}

/// Writes the recording first (the source of truth, it can always re-render the profiles), then
/// every profile; returns the paths written.
pub(super) fn write_outputs(
    dir: &Path,
    recording: &Recording,
    options: &render::Options,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = vec![out::write_atomic(
        dir,
        render::RECORDING_FILE,
        recording.to_json().as_bytes(),
    )?];
    for file in render::profiles_and_advice(recording, options, dir) {
        written.push(out::write_atomic(
            dir,
            file.file_name,
            file.contents.as_bytes(),
        )?);
    }
    Ok(written)
}

pub(super) fn container_info(container: &ContainerTarget) -> ContainerInfo {
    ContainerInfo {
        id: container.id.clone(),
        name: container.name.clone(),
        image: container.image.clone(),
        image_id: container.image_id.clone(),
        mounts: container.mounts.iter().map(|m| m.as_str().into()).collect(),
        config: Some(container.config.clone()),
    }
}

pub(super) fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Starts the exercise on the host with the container's name and id in its environment.
fn spawn_exercise(
    command: &[OsString],
    target: &Target,
) -> anyhow::Result<Option<tokio::process::Child>> {
    let Some((program, args)) = command.split_first() else {
        return Ok(None);
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .env("TRACE_CONTAINER", &target.container.name)
        .env("TRACE_CONTAINER_ID", &target.container.id)
        .spawn()
        .with_context(|| format!("cannot start the exercise {}", program.to_string_lossy()))?;
    Ok(Some(child))
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

pub(super) fn host_info() -> HostInfo {
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
