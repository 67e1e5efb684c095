//! The human summary printed after a recording (templates/summary.txt).

use std::path::PathBuf;

use serde::Serialize;

use crate::recording::Recording;

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
    files: Vec<String>,
}

/// The summary of `recording`, listing the `written` files.
pub fn render(recording: &Recording, written: &[PathBuf]) -> String {
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
