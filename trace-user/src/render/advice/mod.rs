//! Hardening advice from evidence: what to change in `docker run` / compose / Kubernetes, each
//! piece with what the recording shows (docs/advice.md). A pure function of the recording and the
//! render options (the format of the profiles and where they will be referenced from), so
//! `trace advise recording.json` works offline and gives the same bytes wherever it writes them.
//!
//! [`advise`] applies the rules ([`rules`]), which decide a [`Plan`] and the [`Program`] to start;
//! [`snippets`] writes the `docker run` line, the compose service and the Kubernetes container from
//! them; [`markdown`] writes `hardening.md`, and [`json`] `hardening.json`.

mod markdown;
pub(crate) mod quote;
mod rules;
mod snippets;

use serde::Serialize;

use super::{Format, Options, Rendered};
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
    /// The program it runs and the environment variables it was given.
    Program,
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

/// A directory written to, mounted as a tmpfs under a read-only root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tmpfs {
    /// The directory: printable (no control character), without `:` or `,`.
    pub path: String,
    /// Code is executed or mapped from there (Docker mounts a tmpfs `noexec` otherwise).
    pub exec: bool,
}

/// What the rules decided to change: the `docker run` flags, the compose service and the
/// Kubernetes `securityContext` are all written from it, so they never disagree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Run as this user (`uid:gid`) instead of root.
    pub user: Option<String>,
    /// Drop every capability and add back these (names without `CAP_`); `None`: no capability
    /// advice.
    pub capabilities: Option<Vec<String>>,
    /// Set `no-new-privileges`.
    pub no_new_privileges: bool,
    /// A read-only root file system with a tmpfs on each of these directories; `None`: not
    /// advised.
    pub read_only: Option<Vec<Tmpfs>>,
    /// No network at all.
    pub network_none: bool,
    /// The seccomp profile as `docker run` and compose name it (relative to where they run, see
    /// [`Options::profile_path`]); `None` when no Docker-readable profile was written.
    pub seccomp: Option<String>,
    /// The seccomp profile as Kubernetes names it: a path below the kubelet's seccomp directory.
    pub seccomp_localhost: String,
}

/// The program the container ran, as the advice starts it again: every string checked writable in
/// a shell line (no control character but a newline or tab in an argument, none in the rest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    /// The entrypoint (empty: none, which `docker run` must be told: the image may have one).
    pub entrypoint: Vec<String>,
    /// The command, or the entrypoint's arguments.
    pub cmd: Vec<String>,
    /// The working directory (empty: the image's default).
    pub working_dir: String,
    /// Names of the environment variables its creator set, passed by name (values never
    /// recorded).
    pub env_names: Vec<String>,
    /// The configured user, kept when it is not root and no other user is advised.
    pub user: Option<String>,
}

/// The advice for one recording.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// The advised hardening flags, one argument each (unquoted), in a fixed order: what to add
    /// to an existing `docker run` line.
    pub docker_run: Vec<String>,
    /// The whole advised `docker run` line, one argument each (unquoted): `docker`, `run`, the
    /// hardening flags, what starts the same program (user, working directory, `-e NAME`,
    /// `--entrypoint`), the image and the arguments after it.
    pub docker_run_line: Vec<String>,
    /// The compose file with the advised service.
    pub compose: serde_norway::Value,
    /// The container (and its tmpfs volumes) as a part of a Kubernetes Pod spec.
    pub kubernetes: serde_norway::Value,
    /// Every item, sorted by topic, then level (stable within).
    pub items: Vec<Item>,
    /// What the rules decided.
    #[serde(skip)]
    pub plan: Plan,
    /// The program to start; `None` when the recording does not hold it or it cannot be written.
    #[serde(skip)]
    pub program: Option<Program>,
    /// The profiles' format (what the advice can name).
    #[serde(skip)]
    pub format: Format,
    /// `--profile-path`, as given.
    #[serde(skip)]
    pub profile_path: Option<String>,
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
}

/// `file` as the advice names it: in `profile_path` (`--profile-path`) when given, else relative
/// to the output directory (the bare name).
pub fn profile_file(profile_path: Option<&str>, file: &str) -> String {
    match profile_path {
        None | Some("") => file.to_owned(),
        Some(dir) if dir.ends_with('/') => format!("{dir}{file}"),
        Some(dir) => format!("{dir}/{file}"),
    }
}

/// Why a `--profile-path` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProfilePathError {
    /// Empty.
    #[error("the profile path is empty (leave the option out for the output directory)")]
    Empty,
    /// It holds characters the advised line cannot carry.
    #[error("the profile path holds control characters")]
    Unprintable,
}

/// Checks a `--profile-path`: the directory the advice names the profiles in, as written.
pub fn check_profile_path(path: &str) -> Result<String, ProfilePathError> {
    if path.is_empty() {
        return Err(ProfilePathError::Empty);
    }
    if !quote::printable(path) {
        return Err(ProfilePathError::Unprintable);
    }
    Ok(path.to_owned())
}

/// The advice for `recording`, with profiles rendered with `options`.
pub fn advise(recording: &Recording, options: &Options) -> Advice {
    let mut advice = Advice {
        format: options.format,
        profile_path: options.profile_path.clone(),
        ..Advice::default()
    };
    rules::configuration(recording, &mut advice);
    rules::user(recording, &mut advice);
    rules::capabilities(recording, &mut advice);
    rules::no_new_privileges(recording, &mut advice);
    rules::read_only_root(recording, &mut advice);
    rules::network(recording, &mut advice);
    rules::profiles(recording, options, &mut advice);
    rules::program(recording, &mut advice);
    advice.items.sort_by_key(|item| (item.topic, item.level));
    advice.docker_run = snippets::flags(&advice.plan);
    advice.docker_run_line = snippets::docker_run_line(recording, &advice);
    advice.compose = snippets::compose(recording, &advice);
    advice.kubernetes = snippets::kubernetes(recording, &advice);
    advice
}

/// hardening.md and hardening.json for `recording`, with profiles rendered with `options`.
pub fn render(recording: &Recording, options: &Options) -> Vec<Rendered> {
    let advice = advise(recording, options);
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

/// `{"docker_run": [...], "docker_run_line": [...], "compose": {...}, "kubernetes": {...},
/// "items": [...]}`, pretty, with a trailing newline.
pub fn json(advice: &Advice) -> String {
    let mut text = serde_json::to_string_pretty(advice).expect("advice always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
