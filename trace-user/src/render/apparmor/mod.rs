//! AppArmor profile (templates/apparmor.profile) from a recording: exactly what was observed.
//!
//! File rules carry the permissions of the accesses seen ([`file_rules`] documents the mapping),
//! capability rules the capabilities checked and granted, network rules the socket families and
//! types created. Around them: the signal and ptrace rules Docker's own template has (`docker
//! stop` and processes of the container signalling each other need them; they cannot be observed
//! as file accesses) and the deny rules of Docker's default profile for `/proc` and `/sys`. No
//! abstractions: `<abstractions/base>` would allow far more than was observed.
//!
//! A kind of observation the recording does not hold (a v1 recording, a probe without file events)
//! is allowed as a whole (`file,`, `capability,`, `network,`), as Docker's default profile does,
//! with a comment and a warning: an empty allow list would stop the container, and guessing would
//! not be evidence. See docs/apparmor.md.
//!
//! Escaping ([`escape`]) is the security core: every path is quoted and every byte outside a small
//! safe set written as an octal escape, so no file name can add, widen or end a rule.
//!
//! The profile always loads: where one rule per path would be more than `apparmor_parser` takes
//! (too many rules, too large a DFA, too long a path), [`collapse`] writes globs instead, each
//! commented with what it stands for, and the header says so.

pub mod capabilities;
pub mod collapse;
pub mod escape;
pub mod file_rules;
pub mod network;
pub mod spo;

use serde::Serialize;

use crate::platform::docker::short_id;
use crate::recording::{Recording, encode};

const TEMPLATE: &str = include_str!("../../../../templates/apparmor.profile");

/// The profile name for a container: `trace-<name>`, every character outside `A-Z a-z 0-9 _ . -`
/// replaced by `_` (Docker's names are already of those), so it needs no escaping in `peer=`.
pub fn profile_name(container_name: &str, container_id: &str) -> String {
    format!("trace-{}", safe_name(container_name, container_id))
}

/// The container's name (its short id when it has none) with every character outside
/// `A-Z a-z 0-9 _ . -` replaced by `_`: usable as a profile or compose service name.
pub fn safe_name(container_name: &str, container_id: &str) -> String {
    let source = if container_name.is_empty() {
        short_id(container_id)
    } else {
        container_name
    };
    source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Text from the recording for a `#` comment: control characters (a newline would end the
/// comment and start a rule) and backslashes escaped as in recording.json.
fn comment_text(text: &str) -> String {
    encode(text.as_bytes())
}

/// The file rules, as the template shows them.
#[derive(Serialize)]
struct FilesView {
    rules: Vec<file_rules::FileRule>,
    unmediated: usize,
    /// Glob rules standing for many paths.
    globs: usize,
}

/// What the template is given. A section is `None` when the recording does not hold that kind of
/// observation.
#[derive(Serialize)]
struct View {
    name: String,
    container: String,
    image: String,
    warnings: Vec<String>,
    files: Option<FilesView>,
    capabilities: Option<capabilities::CapabilityRules>,
    network: Option<network::NetworkRules>,
    ptrace_trace: bool,
}

fn warnings(recording: &Recording, files: &file_rules::FileRules) -> Vec<String> {
    let mut warnings = Vec::new();
    if !recording.startup_seen {
        warnings.push(
            "the container's startup was not seen: accesses made only at startup are missing"
                .to_owned(),
        );
    }
    if recording.events.dropped > 0 {
        warnings.push(format!(
            "{} events were dropped while recording: accesses may be missing",
            recording.events.dropped
        ));
    }
    for (recorded, what, allowed) in [
        (recording.files_recorded(), "files", "file access"),
        (
            recording.capabilities_recorded(),
            "capabilities",
            "capability",
        ),
        (recording.sockets_recorded(), "sockets", "socket family"),
    ] {
        if !recorded {
            warnings.push(format!(
                "{what} were not recorded: every {allowed} is allowed"
            ));
        }
    }
    if files.unwritable > 0 {
        warnings.push(format!(
            "{} recorded paths hold a NUL byte and cannot be rules (not real paths)",
            files.unwritable
        ));
    }
    if !files.collapsed.is_empty() {
        warnings.push(format!(
            "{} allowed through {} (each commented with what it stands for), so that \
             apparmor_parser can load the profile: it allows more than was observed there",
            file_rules::count(
                files.collapsed_paths(),
                "recorded path is",
                "recorded paths are"
            ),
            file_rules::count(files.collapsed.len(), "glob rule", "glob rules"),
        ));
    }
    let programs = files.collapsed_programs();
    if programs > 0 {
        warnings.push(format!(
            "{} allowed through glob rules (ix): too many or too long paths for a rule each",
            file_rules::count(programs, "program run is", "programs run are"),
        ));
    }
    warnings
}

fn view(recording: &Recording) -> View {
    let files = file_rules::file_rules(recording);
    View {
        name: profile_name(&recording.container.name, &recording.container.id),
        container: comment_text(&recording.container.name),
        image: comment_text(&recording.container.image),
        warnings: warnings(recording, &files),
        files: recording.files_recorded().then_some(FilesView {
            globs: files.collapsed.len(),
            rules: files.rules,
            unmediated: files.unmediated,
        }),
        capabilities: recording
            .capabilities_recorded()
            .then(|| capabilities::capability_rules(recording)),
        network: recording
            .sockets_recorded()
            .then(|| network::network_rules(recording)),
        ptrace_trace: recording
            .syscalls
            .values()
            .any(|calls| calls.contains_key("ptrace")),
    }
}

/// The profile as text. Same recording, same bytes (no times, ids or counts in it).
pub fn render(recording: &Recording) -> String {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(Vec::<&str>::new());
    // Compiled-in template and a context built here: rendering fails only if the template is
    // broken, which the unit tests catch.
    tera.add_raw_template("apparmor.profile", TEMPLATE)
        .expect("templates/apparmor.profile parses");
    let context = tera::Context::from_serialize(&view(recording)).expect("the view serializes");
    tera.render("apparmor.profile", &context)
        .expect("templates/apparmor.profile renders")
}

#[cfg(test)]
mod tests;
