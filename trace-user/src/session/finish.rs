//! The end of a session: each recorded container's counters and lives go into its recording,
//! replicas of one group are merged, each group's recording gets what its image's programs
//! can reach, and every group's outputs are written.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bollard::Docker;

use crate::ingest;
use crate::probe::{CapChecker, ProbeFeatures, SlotCounts};
use crate::recording::{
    Gap, GapKind, LeftOut, MergeOptions, Recording, Startup, StopReason, name_syscalls,
};
use crate::{out, reach, render};

use super::select::{Group, dir_names};
use super::targets::Tracked;

/// The time now, as recordings write it (RFC 3339, UTC, seconds).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Closes the recording of `tracked`: its counters (`tracked.counts`, every life's), its lives,
/// and the gaps they show.
pub fn complete(
    tracked: &mut Tracked,
    features: &ProbeFeatures,
    malformed: u64,
    reason: &StopReason,
) {
    let crashed = tracked.crashed().cloned();
    let counts = &tracked.counts;
    let recording = &mut tracked.recording;
    ingest::finish(recording, &counters(counts, malformed), features);
    if !features.compat_abi {
        recording.gaps.push(Gap {
            kind: GapKind::CompatAbiUnknown,
            detail: "the kernel's BTF has no thread_info.status: 32-bit calls were counted as 64-bit ones".into(),
        });
    }
    let phases = &counts.syscalls;
    recording.stopped(
        now(),
        reason.clone(),
        &phases.application.counts,
        phases.application.out_of_range,
    );
    recording.startup_seen = tracked.lives.iter().any(|l| l.life.startup_seen);
    if recording.startup_seen {
        let (before, _) = name_syscalls(&phases.runc_before_filter.counts, 0);
        let (after, _) = name_syscalls(&phases.runc_after_filter.counts, 0);
        recording.startup = Some(Startup {
            // runc's calls after its filter start with the filter's own exit: none means the
            // filter was never installed (seccomp=unconfined).
            filter_installed: !phases.runc_after_filter.counts.is_empty(),
            runc_before_filter: before,
            runc_after_filter: after,
        });
    }
    recording.lives = tracked.lives.iter().map(|l| l.life.clone()).collect();
    if let Some(ending) = crashed {
        recording.gaps.push(Gap {
            kind: GapKind::ContainerCrashed,
            detail: format!(
                "the container crashed while it was recorded ({ending}); the profiles include what it did until then"
            ),
        });
    }
    recording.gaps.sort();
    recording.gaps.dedup();
}

/// The probe's counters in the form [`ingest::finish`] takes.
fn counters(counts: &SlotCounts, malformed: u64) -> ingest::Counters {
    let checks = |checker: CapChecker| {
        counts
            .capabilities
            .get(&checker)
            .into_iter()
            .flatten()
            .map(|(&cap, c)| (u32::from(cap), c.granted, c.denied))
            .collect()
    };
    ingest::Counters {
        capabilities: checks(CapChecker::Application),
        runc_capabilities: checks(CapChecker::Runc),
        borrowed_capabilities: checks(CapChecker::OtherCredentials),
        sockets: counts
            .sockets
            .iter()
            .map(|(&(family, kind), &count)| (u32::from(family), u32::from(kind), count))
            .collect(),
        arguments: counts.arguments.clone(),
        arguments_lost: counts.arguments_lost,
        dropped: counts.dropped + malformed,
    }
}

/// One output directory's recording: a container's, or its group's replicas merged.
#[derive(Debug)]
pub struct Grouped {
    /// The group.
    pub group: Group,
    /// Its directory name (clashes resolved, [`dir_names`]).
    pub name: String,
    /// The recording to write.
    pub recording: Recording,
    /// The names of the containers in it.
    pub containers: Vec<String>,
}

/// The recordings of `tracked`, one per group (in the order the groups were first seen), the
/// replicas of a group merged with the provenance of each.
pub fn group(tracked: &[Tracked]) -> Vec<Grouped> {
    let mut groups: Vec<(Group, Vec<&Tracked>)> = Vec::new();
    for t in tracked {
        match groups.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, members)) => members.push(t),
            None => groups.push((t.group.clone(), vec![t])),
        }
    }
    let names = dir_names(&groups.iter().map(|(g, _)| g.clone()).collect::<Vec<_>>());
    groups
        .into_iter()
        .zip(names)
        .map(|((group, members), name)| {
            let mut recording = members[0].recording.clone();
            for other in &members[1..] {
                // Replicas share an image; a container recreated with a new one keeps its role.
                let options = MergeOptions {
                    allow_different_images: true,
                };
                match recording.merge(&other.recording, options) {
                    Ok(merged) => recording = merged,
                    Err(e) => log::warn!("cannot merge {}: {e}", other.container.name),
                }
            }
            if matches!(group, Group::Pod { .. }) {
                // Named as every replica's, on every node: their recordings merge into one.
                recording.container.name.clone_from(&name);
            }
            Grouped {
                group,
                name,
                recording,
                containers: members.iter().map(|t| t.container.name.clone()).collect(),
            }
        })
        .collect()
}

/// How long reading one image's programs and libraries may take.
const REACH_TIMEOUT: Duration = Duration::from_mins(1);

/// Completes each group's recording with what is known only at the end: the calls included on
/// purpose (`--include-syscall`), and what its programs and libraries can reach, read from its
/// image through Docker or Podman ([`reach::gather`]; a warning, not a failure, when the image
/// cannot be read: the recording is written without it). A pod's images, in the CRI's store, are
/// not read (`docker` is `None`): coverage.md then says it has no reachability.
pub async fn complete_groups(
    docker: Option<&Docker>,
    grouped: &mut [Grouped],
    options: &render::Options,
) {
    for g in grouped {
        g.recording.include_syscalls(&options.include_syscalls);
        let Some(docker) = docker else { continue };
        let why =
            match tokio::time::timeout(REACH_TIMEOUT, reach::gather(docker, &g.recording)).await {
                Ok(Ok(reach)) => {
                    g.recording.reach = reach;
                    continue;
                }
                Ok(Err(e)) => format!("{:#}", anyhow::Error::from(e)),
                Err(_) => format!("it took longer than {} s", REACH_TIMEOUT.as_secs()),
            };
        say!(
            "trace: warning: {}: what its programs can reach was not read from the image ({why}); coverage.md cannot list it",
            g.name
        );
    }
}

/// Writes the recording first (the source of truth, it can always re-render the profiles), then
/// every profile from what `--min-runs` keeps of it, and for a pod's container (`kubernetes`)
/// the Security Profiles Operator's objects too; returns the paths written, the recording the
/// profiles were rendered from and what it left out. When `--min-runs` asks for more runs than
/// the recording has, only the recording is written.
pub fn write_outputs(
    dir: &Path,
    recording: &Recording,
    options: &render::Options,
    kubernetes: bool,
) -> anyhow::Result<(Vec<PathBuf>, Recording, LeftOut)> {
    out::prepare_dir(dir)?;
    let mut written = vec![out::write_atomic(
        dir,
        render::RECORDING_FILE,
        recording.to_json().as_bytes(),
    )?];
    let (selected, left_out) = render::selected(recording, options)?;
    let mut files = render::profiles_and_advice(&selected, options);
    if kubernetes && options.format != render::Format::Spo {
        let spo = render::Options {
            format: render::Format::Spo,
            ..options.clone()
        };
        let names: Vec<&str> = files.iter().map(|f| f.file_name).collect();
        let objects: Vec<render::Rendered> = render::profiles_with(&selected, &spo)
            .into_iter()
            .filter(|f| !names.contains(&f.file_name))
            .collect();
        files.extend(objects);
    }
    for file in files {
        written.push(out::write_atomic(
            dir,
            file.file_name,
            file.contents.as_bytes(),
        )?);
    }
    Ok((written, selected, left_out))
}

/// The line of the final table for one output directory; `left_out` says what `--min-runs` kept
/// out of its profiles.
pub fn summary_line(grouped: &Grouped, dir: &Path, left_out: &LeftOut) -> String {
    let r = &grouped.recording;
    let lives = r.lives.len().max(1);
    let start = if r.startup_seen {
        "from its start"
    } else {
        "attached, startup not seen"
    };
    let members = if grouped.containers.len() > 1 {
        format!(" ({} containers merged)", grouped.containers.len())
    } else {
        String::new()
    };
    let crashed = r
        .lives
        .iter()
        .filter_map(|l| l.ended.as_ref())
        .find(|e| e.crashed())
        .map(|e| format!("; CRASHED: {e}"))
        .unwrap_or_default();
    let kept = if left_out.min_runs > 1 {
        format!(
            "; profiles keep what at least {} of {} runs saw ({} left out)",
            left_out.min_runs,
            left_out.runs,
            left_out.items.total()
        )
    } else {
        String::new()
    };
    format!(
        "  {}{members}: {start}, {lives} li{}, {} system calls, {} files -> {}{kept}{crashed}",
        grouped.name,
        if lives == 1 { "fe" } else { "ves" },
        r.distinct_syscalls(),
        r.files.len(),
        dir.display(),
    )
}
