//! The drift report: what the recording shows that the committed profiles do not allow
//! (new, refused), what they allow that it does not show (unused), and the report as text
//! and JSON.

use super::{apparmor, seccomp};
use crate::recording::{BoundPort, Recording, encode};
use serde::Serialize;
use std::fmt::Write;

/// The committed profiles of a directory, read.
#[derive(Clone, Debug, Default)]
pub struct Committed {
    /// The seccomp profile: its file name and what it allows.
    pub seccomp: Option<(String, seccomp::AllowedSyscalls)>,
    /// The AppArmor profile: its file name, its format (`apparmor` or `spo`) and its rules.
    pub apparmor: Option<(String, &'static str, apparmor::Rules)>,
    /// The committed recording (for what the profiles cannot express: bound ports, sockets
    /// AppArmor has no name for).
    pub recording: Option<(String, Recording)>,
}

/// A committed file the check read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileFile {
    /// File name in the directory.
    pub file: String,
    /// How it was read (`docker`, `oci`, `spo`, `apparmor`, `recording`).
    pub format: String,
}

/// A system call observed and not allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewSyscall {
    /// Its name (escaped as in recording.json).
    pub name: String,
    /// The ABIs it was called in.
    pub abis: Vec<String>,
    /// Calls counted.
    pub calls: u64,
}

/// A file used in a way no rule allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewFile {
    /// The path, in recording.json's byte-string form (a directory ends in `/`).
    pub path: String,
    /// AppArmor permissions needed and not allowed (`rw`, `m`, `x`, ...).
    pub missing: String,
    /// The accesses observed.
    pub access: Vec<String>,
}

/// A capability granted and not allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewCapability {
    /// `CAP_NET_RAW`.
    pub name: String,
    /// Checks granted.
    pub granted: u64,
}

/// A socket created and not allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewSocket {
    /// Address family (`inet`, or a number).
    pub family: String,
    /// Socket type.
    #[serde(rename = "type")]
    pub sock_type: String,
    /// Sockets created.
    pub count: u64,
}

/// What was observed and is not allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct New {
    /// System calls.
    pub syscalls: Vec<NewSyscall>,
    /// Files.
    pub files: Vec<NewFile>,
    /// Capabilities.
    pub capabilities: Vec<NewCapability>,
    /// Sockets.
    pub sockets: Vec<NewSocket>,
    /// Ports bound that the committed recording did not bind.
    pub bound_ports: Vec<BoundPort>,
}

impl New {
    /// How many items.
    pub fn len(&self) -> usize {
        self.syscalls.len()
            + self.files.len()
            + self.capabilities.len()
            + self.sockets.len()
            + self.bound_ports.len()
    }

    /// Nothing new.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What is allowed and was not observed (`--strict`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unused {
    /// System calls allowed and not called (the runc baseline left out: attaching never sees it).
    pub syscalls: Vec<String>,
    /// File rules no observed path matches, as written (escaped).
    pub file_rules: Vec<String>,
    /// Capabilities allowed and not granted (AppArmor names).
    pub capabilities: Vec<String>,
    /// Network rules no socket matches, as written.
    pub network_rules: Vec<String>,
    /// Ports the committed recording bound and this one did not.
    pub bound_ports: Vec<BoundPort>,
}

impl Unused {
    /// How many items.
    pub fn len(&self) -> usize {
        self.syscalls.len()
            + self.file_rules.len()
            + self.capabilities.len()
            + self.network_rules.len()
            + self.bound_ports.len()
    }

    /// Nothing unused.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The result of a drift check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The directory checked against (as given).
    pub against: String,
    /// The committed files read.
    pub profiles: Vec<ProfileFile>,
    /// Whether the recording drifted from the profiles (new items, or with `strict` unused ones).
    pub drift: bool,
    /// Observed and not allowed.
    pub new: New,
    /// Observed and refused by an explicit deny rule of the profile (Docker's `/proc` and `/sys`
    /// rules, `deny network alg`, hand-written ones): a decision the profile made, not drift.
    pub refused: New,
    /// Allowed and not observed; only with `strict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_longer_observed: Option<Unused>,
    /// What could not be compared, and why.
    pub notes: Vec<String>,
}

pub(super) fn section<T>(out: &mut String, title: &str, items: &[T], line: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title} ({}):", items.len());
    for item in items {
        let _ = writeln!(out, "  {}", line(item));
    }
}

pub(super) fn port_text(port: &BoundPort) -> String {
    format!("{} {} port {}", port.family, port.sock_type, port.port)
}

/// The report for a CI log: grouped, sorted, one item per line, nothing from the recording or the
/// profiles unescaped (no control bytes, no newlines).
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let files: Vec<String> = report
        .profiles
        .iter()
        .map(|p| format!("{} ({})", p.file, p.format))
        .collect();
    let _ = writeln!(
        out,
        "trace check against {}: {}",
        encode(report.against.as_bytes()),
        files.join(", ")
    );
    new_sections(&mut out, &report.new, &report.refused);
    if let Some(unused) = &report.no_longer_observed {
        unused_sections(&mut out, unused);
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {}", encode(note.as_bytes()));
    }
    let unused = report.no_longer_observed.as_ref().map_or(0, Unused::len);
    if report.drift {
        let _ = writeln!(
            out,
            "result: DRIFT: {} new, {} no longer observed",
            report.new.len(),
            unused
        );
    } else {
        out.push_str("result: ok: everything observed is allowed\n");
    }
    out
}

pub(super) fn new_sections(out: &mut String, new: &New, refused: &New) {
    section(out, "new system calls", &new.syscalls, |s| {
        format!("{}  ({}; {} calls)", s.name, s.abis.join(", "), s.calls)
    });
    let file = |verb: &'static str| {
        move |f: &NewFile| {
            format!(
                "{}  {verb} {}  (seen: {})",
                f.path,
                f.missing,
                f.access.join(", ")
            )
        }
    };
    let capability = |c: &NewCapability| format!("{}  ({} checks granted)", c.name, c.granted);
    let socket = |s: &NewSocket| format!("{} {}  ({} created)", s.family, s.sock_type, s.count);
    section(out, "new files", &new.files, file("needs"));
    section(out, "new capabilities", &new.capabilities, capability);
    section(out, "new sockets", &new.sockets, socket);
    section(out, "new bound ports", &new.bound_ports, port_text);
    let refused_title = "refused by a deny rule (not drift)";
    section(
        out,
        &format!("{refused_title}: files"),
        &refused.files,
        file("denied"),
    );
    section(
        out,
        &format!("{refused_title}: capabilities"),
        &refused.capabilities,
        capability,
    );
    section(
        out,
        &format!("{refused_title}: sockets"),
        &refused.sockets,
        socket,
    );
}

pub(super) fn unused_sections(out: &mut String, unused: &Unused) {
    let title = "no longer observed";
    section(
        out,
        &format!("{title}: system calls"),
        &unused.syscalls,
        Clone::clone,
    );
    section(
        out,
        &format!("{title}: file rules"),
        &unused.file_rules,
        Clone::clone,
    );
    section(
        out,
        &format!("{title}: capabilities"),
        &unused.capabilities,
        Clone::clone,
    );
    section(
        out,
        &format!("{title}: network rules"),
        &unused.network_rules,
        Clone::clone,
    );
    section(
        out,
        &format!("{title}: bound ports"),
        &unused.bound_ports,
        port_text,
    );
}

/// The report as pretty JSON with a trailing newline.
pub fn render_json(report: &Report) -> String {
    crate::render::seccomp::json_text(report)
}
