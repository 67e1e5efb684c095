//! `trace --container NAME [-- CMD]`: attach to a running container, record while the exercise
//! runs, write the recording and the profiles.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context;

use super::AttachArgs;
use crate::probe::{self, Probe, ProbeTarget};
use crate::recording::{
    Category, ContainerInfo, Events, Gap, GapKind, HostInfo, Recording, SCHEMA_NAME,
    SCHEMA_VERSION, Tool, name_syscalls,
};
use crate::session::{self, StopSignals};
use crate::target::{self, Target};
use crate::{out, render};

pub(super) fn run(args: AttachArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(attach(args))
}

// The recording literal grows with the schema (v2 added seven fields); issue 3's event wiring is
// the place to split this function.
#[allow(clippy::too_many_lines)]
async fn attach(args: AttachArgs) -> anyhow::Result<i32> {
    let name = args.container.context("--container is required")?;
    // Syscall numbers are named with the x86 tables (trace-user/src/recording/syscalls.rs).
    anyhow::ensure!(
        cfg!(target_arch = "x86_64"),
        "trace records x86_64 hosts only for now (this is {})",
        std::env::consts::ARCH
    );
    let mut signals = StopSignals::install().context("cannot install signal handlers")?;
    probe::preflight()?;
    let docker = target::docker::connect().await?;
    let target = target::resolve(&docker, &name).await?;
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("profiles").join(&target.container.name));
    out::prepare_dir(&out_dir)?;

    let probe = Probe::attach(ProbeTarget {
        cgroup_id: target.cgroup.id,
        cgroup_level: target.cgroup.level,
    })?;
    let started_at = SystemTime::now();
    eprintln!(
        "trace: recording container {} ({}) in cgroup {} (id {}); stop with Ctrl-C",
        target.container.name,
        short_id(&target.container.id),
        target.cgroup.dir.display(),
        target.cgroup.id
    );

    let mut exercise = spawn_exercise(&args.exercise, &target)?;
    let outcome = session::wait_for_stop(
        &docker,
        &target.container.id,
        &probe,
        exercise.as_mut(),
        args.duration,
        &mut signals,
    )
    .await;
    let counts = probe.syscall_counts()?;
    let features = probe.features().clone();
    drop(probe);
    let stopped_at = SystemTime::now();

    let (syscalls, unknown_syscalls) = name_syscalls(&counts.counts, counts.out_of_range);
    let mut gaps = vec![Gap {
        kind: GapKind::StartupMissed,
        detail: "attached to a running container: its startup was not seen; the seccomp profile adds \
                 runc's baseline, but calls the entrypoint made only at startup are missing \
                 (record with the exercise also covering startup, or restart the container under trace)"
            .into(),
    }];
    if !features.compat_abi {
        gaps.push(Gap {
            kind: GapKind::CompatAbiUnknown,
            detail: "the kernel's BTF has no thread_info.status: 32-bit calls were counted as 64-bit ones".into(),
        });
    }
    if !unknown_syscalls.is_empty() {
        gaps.push(Gap {
            kind: GapKind::UnknownSyscalls,
            detail: "calls without a name in the syscall table were made; no profile can allow them by name".into(),
        });
    }
    let recording = Recording {
        schema: SCHEMA_NAME.into(),
        schema_version: SCHEMA_VERSION,
        tool: Tool::current(),
        container: ContainerInfo {
            id: target.container.id.clone(),
            name: target.container.name.clone(),
            image: target.container.image.clone(),
            image_id: target.container.image_id.clone(),
            // TODO(issue 3): the volume and bind-mount destinations from `docker inspect`.
            mounts: BTreeSet::new(),
        },
        host: host_info(),
        started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
        stopped_at: humantime::format_rfc3339_seconds(stopped_at).to_string(),
        stop_reason: outcome.reason.clone(),
        startup_seen: false,
        syscalls,
        unknown_syscalls,
        gaps,
        // The probe records system calls only so far (issue 3 adds the rest through
        // Recording::record_file and friends, and marks each category it recorded).
        files: BTreeMap::new(),
        links: BTreeMap::new(),
        execs: BTreeMap::new(),
        capabilities: BTreeMap::new(),
        sockets: Vec::new(),
        bound_ports: BTreeSet::new(),
        events: Events {
            recorded: [Category::Syscalls].into(),
            dropped: 0,
        },
    };

    // The recording first: it is the source of truth and can always re-render the profiles.
    let mut written = vec![out::write_atomic(
        &out_dir,
        render::RECORDING_FILE,
        recording.to_json().as_bytes(),
    )?];
    for file in render::profiles(&recording) {
        written.push(out::write_atomic(
            &out_dir,
            file.file_name,
            file.contents.as_bytes(),
        )?);
    }
    if let Some(child) = exercise.as_mut() {
        session::finish_exercise(child).await;
    }
    print!("{}", render::summary::render(&recording, &written));
    Ok(outcome.exit_code)
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

fn host_info() -> HostInfo {
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
