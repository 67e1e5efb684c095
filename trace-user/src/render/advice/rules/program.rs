//! The program the container ran, so that the advised line starts it again.

use crate::recording::{ProcessConfig, Recording};
use crate::render::advice::quote::{self, code_span};
use crate::render::advice::{Advice, Level, Program, Topic};

/// Arguments shown in an item: shell words, in a code span (escaped when they cannot be shown
/// as they are).
pub(super) fn words_text(words: &[String]) -> String {
    let words: Vec<String> = words.iter().map(|w| quote::shell(w)).collect();
    code_span(&words.join(" "))
}

/// Names shown in an item, each in a code span.
pub(super) fn names_text(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|n| code_span(n)).collect();
    names.join(", ")
}

/// The program the container ran, for the advised line to start again: its entrypoint, command
/// and working directory, the names of the environment variables its creator set, and its user
/// when that is not root and no other is advised. Without it the line would start the image's
/// default command, which may be another program (a shell).
pub fn program(recording: &Recording, advice: &mut Advice) {
    let topic = Topic::Program;
    let config = recording.container.config.as_ref();
    let Some(process) = config
        .and_then(|c| c.process.as_ref())
        .filter(|p| !(p.entrypoint.is_empty() && p.cmd.is_empty()))
    else {
        advice.push(
            topic,
            Level::Note,
            "The recording does not hold the container's command (an older trace, or merged runs configured differently): the advised line starts the image's default command. Add its command after the image if it ran another.".into(),
            Vec::new(),
        );
        return;
    };
    let argv: Vec<String> = process
        .entrypoint
        .iter()
        .chain(&process.cmd)
        .cloned()
        .collect();
    let mut unwritable = Vec::new();
    if !argv.iter().all(|w| quote::argument(w)) {
        unwritable.push(format!("command: {}", words_text(&argv)));
    }
    if !quote::printable(&process.working_dir) {
        unwritable.push(format!(
            "working directory: {}",
            code_span(&process.working_dir)
        ));
    }
    let env_names = process.env_names.as_deref().unwrap_or_default();
    if !unwritable.is_empty() {
        if !env_names.is_empty() {
            unwritable.push(format!(
                "environment variables its creator set: {}",
                names_text(env_names)
            ));
        }
        advice.push(
            topic,
            Level::Note,
            "Its command cannot be written in a shell line (control characters): the advised line leaves it out and starts the image's default command. Start it with its own command, shown escaped below.".into(),
            unwritable,
        );
        return;
    }
    let (names, odd): (Vec<String>, Vec<String>) = env_names
        .iter()
        .cloned()
        .partition(|name| quote::printable(name));
    let user = config
        .filter(|c| {
            advice.plan.user.is_none()
                && !c.user.is_empty()
                && c.user_is_root() != Some(true)
                && quote::printable(&c.user)
        })
        .map(|c| c.user.clone());
    advice.push(
        topic,
        Level::Note,
        "The advised line starts the program the container ran: its entrypoint and command as Docker resolved them from the image and its creator's options.".into(),
        program_evidence(process, user.as_deref()),
    );
    environment(advice, process.env_names.is_some(), &names, &odd);
    advice.program = Some(Program {
        entrypoint: process.entrypoint.clone(),
        cmd: process.cmd.clone(),
        working_dir: process.working_dir.clone(),
        env_names: names,
        user,
    });
}

/// What the advised line starts, one line each.
pub(super) fn program_evidence(process: &ProcessConfig, user: Option<&str>) -> Vec<String> {
    let mut evidence = vec![
        if process.entrypoint.is_empty() {
            "entrypoint: none (`--entrypoint ''` in case the image has one)".to_owned()
        } else {
            format!("entrypoint: {}", words_text(&process.entrypoint))
        },
        if process.cmd.is_empty() {
            "command: none".to_owned()
        } else {
            format!("command: {}", words_text(&process.cmd))
        },
    ];
    if !process.working_dir.is_empty() {
        evidence.push(format!(
            "working directory: {}",
            code_span(&process.working_dir)
        ));
    }
    if let Some(user) = user {
        evidence.push(format!("user: {} (configured)", code_span(user)));
    }
    evidence
}

/// The notes on the creator's environment variables: passed by name (`names`), unknown (`known`
/// false), or left out because they cannot be written (`odd`).
pub(super) fn environment(advice: &mut Advice, known: bool, names: &[String], odd: &[String]) {
    let topic = Topic::Program;
    if !known {
        advice.push(
            topic,
            Level::Note,
            "Which environment variables its creator set is unknown (the image could not be inspected to tell them from its own): add `-e NAME` for those it needs.".into(),
            Vec::new(),
        );
    } else if !names.is_empty() {
        advice.push(
            topic,
            Level::Note,
            "Its creator set environment variables: the advised line passes each by name (`-e NAME`, compose `environment`), which takes the value from the environment it runs in. Set them there first; their values are never recorded.".into(),
            vec![format!("set: {}", names_text(names))],
        );
    }
    if !odd.is_empty() {
        advice.push(
            topic,
            Level::Note,
            "Some environment variable names cannot be written in a shell line (control characters): they are left out; set them yourself.".into(),
            vec![format!("left out: {}", names_text(odd))],
        );
    }
}
