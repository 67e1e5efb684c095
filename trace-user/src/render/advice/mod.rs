//! Hardening advice from evidence: what to change in `docker run` / compose, each piece with what
//! the recording shows (docs/advice.md). A pure function of the recording and the directory the
//! profiles are in (the flags name `seccomp.json` there), so `trace advise recording.json` works
//! offline and gives the same bytes every time.
//!
//! [`advise`] applies the rules ([`rules`]); [`markdown`] writes `hardening.md`, and [`json`]
//! `hardening.json`, whose `docker_run` list is the flags as separate arguments.

mod markdown;
mod quote;
mod rules;

use serde::Serialize;

use super::Rendered;
use crate::recording::Recording;

/// Name of the advice for people.
pub const HARDENING_FILE: &str = "hardening.md";
/// Name of the advice for programs (the flags as a JSON list).
pub const HARDENING_JSON_FILE: &str = "hardening.json";

/// How much an item matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A risky setting in the container's configuration.
    Warning,
    /// A change the evidence supports; its flags are in the `docker run` line.
    Advice,
    /// Worth knowing; no flag.
    Note,
}

/// What an item is about, in the order hardening.md lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// The container's configuration (Docker Bench style checks).
    Configuration,
    /// The user it runs as.
    User,
    /// Linux capabilities.
    Capabilities,
    /// `no-new-privileges`.
    NoNewPrivileges,
    /// Read-only root file system.
    ReadOnlyRoot,
    /// Network.
    Network,
    /// Seccomp and AppArmor profiles.
    Profiles,
}

/// One piece of advice with its evidence. `title` and `evidence` are Markdown, hostile strings
/// already escaped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What it is about.
    pub topic: Topic,
    /// How much it matters.
    pub level: Level,
    /// One sentence.
    pub title: String,
    /// What in the recording supports it, one line each.
    pub evidence: Vec<String>,
}

/// The advice for one recording.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// Every item, sorted by topic, then level (stable within).
    pub items: Vec<Item>,
    /// The advised `docker run` flags, one argument each (unquoted), in a fixed order.
    pub docker_run: Vec<String>,
    /// The same as compose service keys: (key, values); a key with one value and no list form is
    /// written as a scalar (see [`markdown`]).
    #[serde(skip)]
    pub compose: Vec<(&'static str, ComposeValue)>,
}

/// A compose service value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComposeValue {
    /// A string scalar.
    Text(String),
    /// `true`.
    True,
    /// A list of strings.
    List(Vec<String>),
}

impl Advice {
    fn push(&mut self, topic: Topic, level: Level, title: String, evidence: Vec<String>) {
        self.items.push(Item {
            topic,
            level,
            title,
            evidence,
        });
    }

    fn flag(&mut self, flag: &str, value: &str) {
        self.docker_run.push(flag.to_owned());
        self.docker_run.push(value.to_owned());
    }
}

/// The advice for `recording`, whose profiles are in `profile_dir` (as the flags should name it:
/// an absolute path, so they work from any directory).
pub fn advise(recording: &Recording, profile_dir: &str) -> Advice {
    let mut advice = Advice::default();
    rules::configuration(recording, &mut advice);
    rules::user(recording, &mut advice);
    rules::capabilities(recording, &mut advice);
    rules::no_new_privileges(recording, &mut advice);
    rules::read_only_root(recording, &mut advice);
    rules::network(recording, &mut advice);
    rules::profiles(recording, profile_dir, &mut advice);
    advice.items.sort_by_key(|item| (item.topic, item.level));
    advice
}

/// hardening.md and hardening.json for `recording` with its profiles in `profile_dir`.
pub fn render(recording: &Recording, profile_dir: &str) -> Vec<Rendered> {
    let advice = advise(recording, profile_dir);
    vec![
        Rendered {
            file_name: HARDENING_FILE,
            contents: markdown::render(recording, &advice),
        },
        Rendered {
            file_name: HARDENING_JSON_FILE,
            contents: json(&advice),
        },
    ]
}

/// `{"docker_run": [...], "items": [...]}`, pretty, with a trailing newline.
pub fn json(advice: &Advice) -> String {
    let mut text = serde_json::to_string_pretty(advice).expect("advice always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
