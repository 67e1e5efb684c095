//! `--summary-json FILE`: what a recording run produced, as one JSON document for scripts. The
//! keys are stable and documented in docs/summary.md; a change to them raises `version`.

use std::path::Path;

use serde::Serialize;

use crate::out;
use crate::recording::{Gap, ItemCounts, ItemKind, Recording, StopReason};
use crate::session::{Finished, Written};

/// The `schema` value of a summary.
pub const SCHEMA: &str = "trace-summary";
/// The summary's version.
pub const VERSION: u32 = 1;

/// The summary of a run.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// [`VERSION`].
    pub version: u32,
    /// trace's exit status.
    pub exit_code: i32,
    /// One entry per output directory, in the order their containers were first seen.
    pub outputs: Vec<Output<'a>>,
}

/// One output directory.
#[derive(Debug, Serialize)]
pub struct Output<'a> {
    /// The directory's name: the compose service, the container's name, or for `trace run`
    /// without `--name` the image's name (also the AppArmor profile's, `trace-NAME`).
    pub name: &'a str,
    /// The container recorded (the first one, for merged replicas).
    pub container: Container<'a>,
    /// The output directory, as trace was given it.
    pub dir: String,
    /// The files written there, the recording first.
    pub files: Vec<String>,
    /// Whether the container was recorded from its first instruction.
    pub startup_seen: bool,
    /// What ended the recording, in words.
    pub stopped_by: String,
    /// The exercise command's exit status, when it ended the recording.
    pub exercise_status: Option<i32>,
    /// Whether a recorded container crashed (exited non-zero on its own, or the OOM killer).
    pub crashed: bool,
    /// How much was observed.
    pub counts: Counts,
    /// The runs merged into the recording (1 for one container's single run).
    pub runs: usize,
    /// `--min-runs`: the runs an item had to be seen in to enter the profiles (0 or 1: all).
    pub min_runs: usize,
    /// What `--min-runs` left out of the profiles, counted as `counts` is.
    pub left_out: Counts,
    /// What the recording may have missed (the recording's `gaps`).
    pub gaps: &'a [Gap],
}

/// The container of an output.
#[derive(Debug, Serialize)]
pub struct Container<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its image, as it was given.
    pub image: &'a str,
}

/// Counts of what a recording holds.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Distinct system calls, over every ABI.
    pub syscalls: usize,
    /// Files used.
    pub files: usize,
    /// Programs executed.
    pub programs: usize,
    /// Capabilities checked.
    pub capabilities: usize,
    /// Kinds of sockets created (family, type).
    pub sockets: usize,
    /// Ports bound.
    pub bound_ports: usize,
}

impl Counts {
    /// The counts of `recording`.
    pub fn of(recording: &Recording) -> Counts {
        Counts {
            syscalls: recording.distinct_syscalls(),
            files: recording.files.len(),
            programs: recording.execs.len(),
            capabilities: recording.capabilities.len(),
            sockets: recording.sockets.len(),
            bound_ports: recording.bound_ports.len(),
        }
    }

    /// The counts of items of each kind in `items`.
    pub fn of_items(items: &ItemCounts) -> Counts {
        Counts {
            syscalls: items.of(ItemKind::Syscall),
            files: items.of(ItemKind::File),
            programs: items.of(ItemKind::Exec),
            capabilities: items.of(ItemKind::Capability),
            sockets: items.of(ItemKind::Socket),
            bound_ports: items.of(ItemKind::BoundPort),
        }
    }
}

/// The summary of `finished`.
pub fn summary(finished: &Finished) -> Summary<'_> {
    Summary {
        schema: SCHEMA,
        version: VERSION,
        exit_code: finished.exit_code,
        outputs: finished.written.iter().map(output).collect(),
    }
}

fn output(written: &Written) -> Output<'_> {
    let r = &written.recording;
    Output {
        name: &r.container.name,
        container: Container {
            id: &r.container.id,
            image: &r.container.image,
        },
        dir: written.dir.display().to_string(),
        files: written
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        startup_seen: r.startup_seen,
        stopped_by: r.stop_reason.to_string(),
        exercise_status: match r.stop_reason {
            StopReason::CommandExited { status } => Some(status),
            _ => None,
        },
        crashed: r
            .lives
            .iter()
            .filter_map(|l| l.ended.as_ref())
            .any(crate::recording::Ending::crashed),
        counts: Counts::of(r),
        runs: written.left_out.runs,
        min_runs: written.left_out.min_runs,
        left_out: Counts::of_items(&written.left_out.items),
        gaps: &r.gaps,
    }
}

/// The summary as pretty JSON with a trailing newline.
pub fn to_json(summary: &Summary<'_>) -> String {
    let mut text = serde_json::to_string_pretty(summary).expect("a summary always serializes");
    text.push('\n');
    text
}

/// Writes the summary of `finished` to `path` atomically (its directory is created).
pub fn write(path: &Path, finished: &Finished) -> anyhow::Result<()> {
    let (dir, name) = super::merge::split_out(path)?;
    out::prepare_dir(dir)?;
    out::write_atomic(dir, name, to_json(&summary(finished)).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::recording::LeftOut;

    const V4: &str = include_str!("../../tests/data/recording-v4.json");

    #[test]
    fn summary_keys_are_stable() {
        let mut recording = Recording::from_json(V4, "v4").unwrap();
        recording.stop_reason = StopReason::CommandExited { status: 0 };
        let finished = Finished {
            written: vec![Written {
                dir: PathBuf::from("profiles/web"),
                files: vec![PathBuf::from("profiles/web/recording.json")],
                recording: recording.clone(),
                left_out: LeftOut {
                    min_runs: 2,
                    runs: 3,
                    items: ItemCounts {
                        counts: [2, 1, 0, 0, 0, 0],
                    },
                },
            }],
            exit_code: 0,
        };
        let value: serde_json::Value = serde_json::from_str(&to_json(&summary(&finished))).unwrap();
        assert_eq!(value["schema"], "trace-summary");
        assert_eq!(value["version"], 1);
        assert_eq!(value["exit_code"], 0);
        let output = &value["outputs"][0];
        assert_eq!(
            keys_of(output),
            [
                "container",
                "counts",
                "crashed",
                "dir",
                "exercise_status",
                "files",
                "gaps",
                "left_out",
                "min_runs",
                "name",
                "runs",
                "startup_seen",
                "stopped_by",
            ]
        );
        assert_eq!(output["name"], recording.container.name.as_str());
        assert_eq!(output["dir"], "profiles/web");
        assert_eq!(output["files"][0], "profiles/web/recording.json");
        assert_eq!(output["exercise_status"], 0);
        assert_eq!(output["stopped_by"], "the command exited with status 0");
        assert_eq!(output["counts"]["syscalls"], recording.distinct_syscalls());
        assert_eq!(output["counts"]["files"], recording.files.len());
        assert_eq!(
            output["gaps"].as_array().unwrap().len(),
            recording.gaps.len()
        );
        let kinds = [
            "bound_ports",
            "capabilities",
            "files",
            "programs",
            "sockets",
            "syscalls",
        ];
        assert_eq!(keys_of(&output["counts"]), kinds);
        assert_eq!(keys_of(&output["left_out"]), kinds);
        assert_eq!(output["runs"], 3);
        assert_eq!(output["min_runs"], 2);
        assert_eq!(output["left_out"]["syscalls"], 2);
        assert_eq!(output["left_out"]["files"], 1);
        assert_eq!(output["left_out"]["programs"], 0);
    }

    fn keys_of(object: &serde_json::Value) -> Vec<&str> {
        object
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }
}
