//! The human summary printed after a recording (templates/summary.txt).

use std::path::PathBuf;

use serde::Serialize;

use crate::recording::{Access, LeftOut, Recording};

const TEMPLATE: &str = include_str!("../../../templates/summary.txt");

#[derive(Serialize)]
struct AbiLine {
    name: String,
    distinct: usize,
}

#[derive(Serialize)]
struct Summary<'a> {
    container: &'a str,
    image: &'a str,
    started_at: &'a str,
    stopped_at: &'a str,
    stop_reason: String,
    distinct: usize,
    calls: u64,
    abis: Vec<AbiLine>,
    gaps: Vec<&'a str>,
    observed: Vec<String>,
    not_recorded: Option<String>,
    dropped: u64,
    runs: Vec<String>,
    left_out: Option<String>,
    coverage: Vec<String>,
    files: Vec<String>,
}

/// How many items of the summary's list of items seen in some runs only.
pub const SOME_RUNS_LISTED: usize = 10;

/// Of a merged recording: how many items every run saw and how many some runs only, then those
/// (the fewest runs first, at most [`SOME_RUNS_LISTED`]) with `k/n`. Nothing for one run.
fn runs(recording: &Recording) -> Vec<String> {
    let seen = recording.seen_in();
    if seen.runs < 2 {
        return Vec::new();
    }
    let (every, some) = seen.every_and_some();
    let mut lines = vec![format!(
        "runs: {} merged; seen in every run: {every}; in some runs only: {some}",
        seen.runs
    )];
    let mut partial: Vec<_> = seen
        .items()
        .into_iter()
        .filter(|item| item.runs < seen.runs)
        .collect();
    partial.sort_by_key(|item| item.runs);
    for item in partial.iter().take(SOME_RUNS_LISTED) {
        lines.push(format!(
            "  {}/{} {} {}",
            item.runs,
            seen.runs,
            item.kind.names().0,
            item.name
        ));
    }
    if partial.len() > SOME_RUNS_LISTED {
        lines.push(format!(
            "  ... and {} more (provenance in recording.json)",
            partial.len() - SOME_RUNS_LISTED
        ));
    }
    lines
}

/// One line per kind of observation the recording holds (besides system calls), and the kinds it
/// does not hold.
fn observed(recording: &Recording) -> (Vec<String>, Vec<&'static str>) {
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    if recording.files_recorded() {
        let written = recording
            .files
            .values()
            .filter(|f| {
                f.access.iter().any(|a| {
                    matches!(
                        a,
                        Access::Write | Access::Append | Access::Create | Access::Delete
                    )
                })
            })
            .count();
        lines.push(format!(
            "files: {} paths ({written} written or created), {} symlinks",
            recording.files.len(),
            recording.links.len()
        ));
        let rules = super::apparmor::file_rules::file_rules(recording);
        if !rules.collapsed.is_empty() {
            let programs = rules.collapsed_programs();
            lines.push(format!(
                "apparmor: {} glob rules stand for {} paths, too many for a rule each{}",
                rules.collapsed.len(),
                rules.collapsed_paths(),
                if programs > 0 {
                    format!("; {programs} programs' ix widened")
                } else {
                    String::new()
                }
            ));
        }
    } else {
        missing.push("files");
    }
    if recording.execs_recorded() {
        lines.push(format!(
            "programs: {} executed, {} times",
            recording.execs.len(),
            recording.execs.values().map(|e| e.count).sum::<u64>()
        ));
    } else {
        missing.push("programs");
    }
    if recording.capabilities_recorded() {
        let names = |granted: bool| {
            let list: Vec<String> = recording
                .capabilities
                .iter()
                .filter(|(_, u)| (u.granted > 0) == granted)
                .map(|(c, _)| c.to_string())
                .collect();
            if list.is_empty() {
                "none".to_owned()
            } else {
                list.join(", ")
            }
        };
        lines.push(format!(
            "capabilities: granted {}; denied only {}",
            names(true),
            names(false)
        ));
    } else {
        missing.push("capabilities");
    }
    if recording.sockets_recorded() {
        let sockets: Vec<String> = recording
            .sockets
            .iter()
            .map(|s| format!("{} {}", s.family, s.sock_type))
            .collect();
        let ports: Vec<String> = recording
            .bound_ports
            .iter()
            .map(|p| format!("{} {} {}", p.family, p.sock_type, p.port))
            .collect();
        lines.push(format!(
            "sockets: {}; ports bound: {}",
            if sockets.is_empty() {
                "none".to_owned()
            } else {
                sockets.join(", ")
            },
            if ports.is_empty() {
                "none".to_owned()
            } else {
                ports.join(", ")
            }
        ));
    } else {
        missing.push("sockets");
    }
    (lines, missing)
}

/// What coverage.md says in short: the reachable calls never observed, the calls included on
/// purpose, the exercise's steps.
fn coverage(recording: &Recording) -> Vec<String> {
    use super::coverage::{InProfile, Rank};
    let report = super::coverage::coverage(recording, &super::Options::default());
    let mut lines = Vec::new();
    if report.reach.is_some() {
        let refused: Vec<_> = report
            .unseen
            .iter()
            .filter(|u| u.profile != InProfile::Allowed)
            .collect();
        let first: Vec<&str> = refused
            .iter()
            .filter(|u| u.rank < Rank::RarePaths)
            .map(|u| u.syscall.as_str())
            .collect();
        lines.push(format!(
            "coverage: {} system calls the programs can make were never made{} (coverage.md)",
            refused.len(),
            if first.is_empty() {
                String::new()
            } else {
                format!(", among them {}", first.join(", "))
            }
        ));
    }
    if !report.included.is_empty() {
        let included: Vec<String> = report
            .included
            .iter()
            .map(|i| {
                if i.reason.is_empty() {
                    i.syscall.clone()
                } else {
                    format!("{} ({})", i.syscall, i.reason)
                }
            })
            .collect();
        lines.push(format!("included on purpose: {}", included.join(", ")));
    }
    if let Some(steps) = &report.steps {
        lines.push(format!(
            "steps: startup, then {}; {} calls made only during the startup",
            steps.names.join(", "),
            steps.startup_only.len()
        ));
    }
    lines
}

/// The summary of `recording`, listing the `written` files and what `--min-runs` left out of
/// them.
pub fn render(recording: &Recording, written: &[PathBuf], left_out: &LeftOut) -> String {
    let (observed, not_recorded) = observed(recording);
    let summary = Summary {
        container: &recording.container.name,
        image: &recording.container.image,
        started_at: &recording.started_at,
        stopped_at: &recording.stopped_at,
        stop_reason: recording.stop_reason.to_string(),
        distinct: recording.distinct_syscalls(),
        calls: recording.total_calls(),
        abis: recording
            .syscalls
            .iter()
            .map(|(abi, calls)| AbiLine {
                name: abi.name().to_owned(),
                distinct: calls.len(),
            })
            .collect(),
        gaps: recording.gaps.iter().map(|g| g.detail.as_str()).collect(),
        observed,
        not_recorded: (!not_recorded.is_empty()).then(|| {
            format!(
                "not recorded: {} (the AppArmor profile allows all of it{})",
                not_recorded.join(", "),
                if recording.files_recorded() {
                    ""
                } else {
                    "; files.txt lists nothing"
                }
            )
        }),
        dropped: recording.events.dropped,
        runs: runs(recording),
        left_out: super::left_out_note(left_out),
        coverage: coverage(recording),
        files: written.iter().map(|p| p.display().to_string()).collect(),
    };
    let mut tera = tera::Tera::default();
    tera.autoescape_on(Vec::<&str>::new());
    // The template is compiled in and the context built here, so rendering cannot fail at run time
    // unless the template itself is broken, which the unit tests catch.
    tera.add_raw_template("summary", TEMPLATE)
        .expect("templates/summary.txt parses");
    let context = tera::Context::from_serialize(&summary).expect("the summary serializes");
    tera.render("summary", &context)
        .expect("templates/summary.txt renders")
}
