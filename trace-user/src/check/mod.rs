//! Drift check: does a recording still fit the profiles committed for it?
//!
//! Compares what a recording observed with committed profiles as people keep them in a repository
//! (trace's output, possibly hand-tuned): system calls against the seccomp profile (any format,
//! [`seccomp`]), files, capabilities and sockets against the AppArmor profile ([`apparmor`], with
//! AppArmor's globbing, [`glob`]), and bound ports against a committed recording.json (the profiles
//! cannot express them). Everything observed and not allowed is *new*; with `strict`, everything
//! allowed and not observed is *no longer observed*. Pure: the caller reads the files
//! (`trace check`, docs/check.md).

pub mod apparmor;
mod committed;
pub mod glob;
pub mod seccomp;

pub use committed::{EXIT_DRIFT, EXIT_OK, load_committed, read_recording, report};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use crate::platform::apparmor::{Perm, perms_of};
use crate::platform::runc::RUNC_BASELINE;
use crate::recording::{BoundPort, Recording, SocketUse, encode};

/// Text from a committed file quoted in an error message: escaped as recording.json escapes
/// (no control bytes, so it cannot fake or break a log line), cut after 80 characters, shown in
/// backticks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet(String);

impl Snippet {
    /// The longest text shown, in characters.
    const MAX: usize = 80;

    /// `text`, escaped and cut.
    pub fn new(text: &str) -> Snippet {
        let cut = text
            .char_indices()
            .nth(Self::MAX)
            .map_or(text, |(i, _)| &text[..i]);
        let mut shown = encode(cut.as_bytes());
        if cut.len() < text.len() {
            shown.push_str("...");
        }
        Snippet(shown)
    }

    /// The snippets separated by commas.
    pub fn join(snippets: &[Snippet]) -> String {
        snippets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for Snippet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`", self.0)
    }
}

/// Most `[` and `{` characters a committed YAML file may hold. The YAML parser's time grows with
/// the square of the nesting of flow collections (`[...]`, `{...}`: 100,000 levels take
/// minutes); nesting is at most this count, and a profile holds far fewer.
pub const MAX_YAML_BRACKETS: usize = 4096;

/// A YAML text with more `[` and `{` than [`MAX_YAML_BRACKETS`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{count} `[` and `{{` in YAML, more than the {MAX_YAML_BRACKETS} trace reads")]
pub struct TooManyBrackets {
    /// How many the text holds.
    pub count: usize,
}

/// Refuses YAML that could nest flow collections deeper than [`MAX_YAML_BRACKETS`], before it
/// reaches the parser. Counts every `[` and `{`, quoted or not: nesting cannot hide from that.
pub fn yaml_brackets(text: &str) -> Result<(), TooManyBrackets> {
    let count = text.bytes().filter(|&b| b == b'[' || b == b'{').count();
    if count > MAX_YAML_BRACKETS {
        return Err(TooManyBrackets { count });
    }
    Ok(())
}

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

fn perm_char(perm: Perm) -> char {
    match perm {
        Perm::Read => 'r',
        Perm::Write => 'w',
        Perm::Append => 'a',
        Perm::Link => 'l',
        Perm::Lock => 'k',
        Perm::MmapExec => 'm',
        Perm::Exec => 'x',
    }
}

/// Whether a rule's permission letters grant `perm` (`w` includes `a`).
fn grants(perms: &BTreeSet<char>, perm: char) -> bool {
    perms.contains(&perm) || (perm == 'a' && perms.contains(&'w'))
}

/// Whether a deny rule refuses `perm` on `path`.
fn file_denied(rules: &apparmor::Rules, path: &[u8], perm: char) -> bool {
    rules
        .files
        .iter()
        .any(|r| r.deny && grants(&r.perms, perm) && r.pattern.matches(path))
}

/// Whether an allow rule grants `perm` on `path`.
fn file_granted(rules: &apparmor::Rules, path: &[u8], perm: char) -> bool {
    rules.all_files
        || rules
            .files
            .iter()
            .any(|r| !r.deny && grants(&r.perms, perm) && r.pattern.matches(path))
}

fn socket_matches(rule: &apparmor::NetworkRule, family: &str, sock_type: &str) -> bool {
    rule.family.as_deref().is_none_or(|f| f == family)
        && rule.sock_type.as_deref().is_none_or(|t| t == sock_type)
}

/// Observed system calls: name -> (ABIs, calls), the application's and runc's after the filter.
fn observed_syscalls(recording: &Recording) -> BTreeMap<&str, (BTreeSet<String>, u64)> {
    let mut observed: BTreeMap<&str, (BTreeSet<String>, u64)> = BTreeMap::new();
    let runc = recording.startup.iter().map(|s| &s.runc_after_filter);
    for by_abi in std::iter::once(&recording.syscalls).chain(runc) {
        for (abi, calls) in by_abi {
            for (name, count) in calls {
                let entry = observed.entry(name.as_str()).or_default();
                entry.0.insert(abi.name().to_owned());
                entry.1 += count;
            }
        }
    }
    observed
}

/// Paths observed with whether each is a directory and its accesses (files and programs).
fn observed_paths(recording: &Recording) -> BTreeMap<Vec<u8>, BTreeSet<crate::recording::Access>> {
    let mut paths: BTreeMap<Vec<u8>, BTreeSet<crate::recording::Access>> = BTreeMap::new();
    for (path, used) in &recording.files {
        let mut bytes = path.as_bytes().to_vec();
        if used.dir && !bytes.ends_with(b"/") {
            bytes.push(b'/');
        }
        paths
            .entry(bytes)
            .or_default()
            .extend(used.access.iter().copied());
    }
    for path in recording.execs.keys() {
        paths
            .entry(path.as_bytes().to_vec())
            .or_default()
            .insert(crate::recording::Access::Exec);
    }
    paths
}

/// Compares `recording` with `committed` (see the module docs).
pub fn check(recording: &Recording, committed: &Committed, against: &str, strict: bool) -> Report {
    let mut new = New::default();
    let mut refused = New::default();
    let mut unused = Unused::default();
    let mut notes = Vec::new();
    let mut profiles = Vec::new();

    let observed = observed_syscalls(recording);
    if let Some((file, allowed)) = &committed.seccomp {
        profiles.push(ProfileFile {
            file: file.clone(),
            format: allowed.format.name().to_owned(),
        });
        if allowed.all {
            notes.push(format!("{file} allows every system call by default"));
        }
        for (name, (abis, calls)) in &observed {
            if !allowed.all && !allowed.names.contains(*name) {
                new.syscalls.push(NewSyscall {
                    name: encode(name.as_bytes()),
                    abis: abis.iter().cloned().collect(),
                    calls: *calls,
                });
            }
        }
        if !allowed.all {
            unused.syscalls = allowed
                .names
                .iter()
                .filter(|n| {
                    !observed.contains_key(n.as_str()) && !RUNC_BASELINE.contains(&n.as_str())
                })
                .map(|n| encode(n.as_bytes()))
                .collect();
        }
    } else {
        notes.push("no seccomp profile: system calls not checked".into());
    }

    if let Some((file, format, rules)) = &committed.apparmor {
        profiles.push(ProfileFile {
            file: file.clone(),
            format: (*format).to_owned(),
        });
        if let Some(profile) = &rules.profile {
            for ignored in &rules.ignored {
                notes.push(format!(
                    "{file}: {ignored} not compared (only the rules of profile {profile} are)"
                ));
            }
        }
        let committed_recording = committed.recording.as_ref().map(|(_, r)| r);
        let found = Found {
            new: &mut new,
            refused: &mut refused,
            unused: &mut unused,
            notes: &mut notes,
        };
        check_apparmor(recording, rules, committed_recording, found);
    } else {
        notes.push("no AppArmor profile: files, capabilities and sockets not checked".into());
    }

    if let Some((file, earlier)) = &committed.recording {
        profiles.push(ProfileFile {
            file: file.clone(),
            format: "recording".into(),
        });
        if recording.sockets_recorded() {
            let ports = &earlier.bound_ports;
            new.bound_ports = recording.bound_ports.difference(ports).copied().collect();
            unused.bound_ports = ports.difference(&recording.bound_ports).copied().collect();
        }
    }

    let drift = !new.is_empty() || (strict && !unused.is_empty());
    Report {
        against: against.to_owned(),
        profiles,
        drift,
        new,
        refused,
        no_longer_observed: strict.then_some(unused),
        notes,
    }
}

/// File accesses against the file rules (part of [`check_apparmor`]).
fn check_files(
    recording: &Recording,
    rules: &apparmor::Rules,
    new: &mut New,
    refused: &mut New,
    unused: &mut Unused,
) {
    let paths = observed_paths(recording);
    for (path, accesses) in &paths {
        if path.contains(&0) {
            continue; // not a real path: no rule can name it (the profile says how many)
        }
        let needed: BTreeSet<char> = accesses
            .iter()
            .flat_map(|&a| perms_of(a).iter().map(|&p| perm_char(p)))
            .collect();
        let item = |missing: String| NewFile {
            path: encode(path),
            missing,
            access: accesses.iter().map(|a| a.name().to_owned()).collect(),
        };
        let denied: String = needed
            .iter()
            .filter(|&&perm| file_denied(rules, path, perm))
            .collect();
        let missing: String = needed
            .iter()
            .filter(|&&perm| !file_denied(rules, path, perm) && !file_granted(rules, path, perm))
            .collect();
        if !denied.is_empty() {
            refused.files.push(item(denied));
        }
        if !missing.is_empty() {
            new.files.push(item(missing));
        }
    }
    unused.file_rules = rules
        .files
        .iter()
        .filter(|r| !r.deny && !paths.keys().any(|p| r.pattern.matches(p)))
        .map(|r| encode(r.text.as_bytes()))
        .collect();
}

/// Where [`check_apparmor`] puts what it finds.
struct Found<'a> {
    new: &'a mut New,
    refused: &'a mut New,
    unused: &'a mut Unused,
    notes: &'a mut Vec<String>,
}

fn check_apparmor(
    recording: &Recording,
    rules: &apparmor::Rules,
    earlier: Option<&Recording>,
    found: Found<'_>,
) {
    let Found {
        new,
        refused,
        unused,
        notes,
    } = found;
    if recording.files_recorded() {
        check_files(recording, rules, new, refused, unused);
    } else {
        notes.push("the recording has no file accesses: files not checked".into());
    }
    if recording.capabilities_recorded() {
        let mut granted = BTreeSet::new();
        for (cap, used) in &recording.capabilities {
            let Some(name) = apparmor::capability_name(*cap) else {
                continue;
            };
            if used.granted == 0 {
                continue;
            }
            granted.insert(name.clone());
            let item = NewCapability {
                name: cap.to_string(),
                granted: used.granted,
            };
            if rules.denied_capabilities.contains(&name) {
                refused.capabilities.push(item);
            } else if !(rules.all_capabilities || rules.capabilities.contains(&name)) {
                new.capabilities.push(item);
            }
        }
        unused.capabilities = rules.capabilities.difference(&granted).cloned().collect();
    } else {
        notes.push("the recording has no capability checks: capabilities not checked".into());
    }
    if recording.sockets_recorded() {
        // A socket the profile cannot name (a family AppArmor has no name for; in the operator's
        // abstract anything but tcp, udp and raw) is compared with the committed recording's
        // sockets when there is one.
        let (nameable, unnameable): (Vec<&SocketUse>, Vec<&SocketUse>) = recording
            .sockets
            .iter()
            .partition(|s| rules.can_name_socket(s.family, s.sock_type));
        for socket in unnameable {
            let known = earlier.map(|r| {
                r.sockets
                    .iter()
                    .any(|e| (e.family, e.sock_type) == (socket.family, socket.sock_type))
            });
            match known {
                Some(true) => {}
                Some(false) => new.sockets.push(NewSocket {
                    family: socket.family.to_string(),
                    sock_type: socket.sock_type.to_string(),
                    count: socket.count,
                }),
                None => notes.push(format!(
                    "socket {} {} cannot be named in the profile: commit recording.json to check it",
                    socket.family, socket.sock_type
                )),
            }
        }
        let sockets: Vec<(String, String, u64)> = nameable
            .iter()
            .map(|s| (s.family.to_string(), s.sock_type.to_string(), s.count))
            .collect();
        for (family, sock_type, count) in &sockets {
            let denied = rules
                .network
                .iter()
                .any(|r| r.deny && socket_matches(r, family, sock_type));
            let allowed = rules
                .network
                .iter()
                .any(|r| !r.deny && socket_matches(r, family, sock_type));
            let item = NewSocket {
                family: family.clone(),
                sock_type: sock_type.clone(),
                count: *count,
            };
            if denied {
                refused.sockets.push(item);
            } else if !allowed {
                new.sockets.push(item);
            }
        }
        let mut unused_rules: BTreeSet<String> = BTreeSet::new();
        for rule in rules.network.iter().filter(|r| !r.deny) {
            if !sockets.iter().any(|(f, t, _)| socket_matches(rule, f, t)) {
                unused_rules.insert(encode(rule.text.as_bytes()));
            }
        }
        unused.network_rules = unused_rules.into_iter().collect();
    } else {
        notes.push("the recording has no sockets: sockets not checked".into());
    }
}

fn section<T>(out: &mut String, title: &str, items: &[T], line: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title} ({}):", items.len());
    for item in items {
        let _ = writeln!(out, "  {}", line(item));
    }
}

fn port_text(port: &BoundPort) -> String {
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

fn new_sections(out: &mut String, new: &New, refused: &New) {
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

fn unused_sections(out: &mut String, unused: &Unused) {
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

#[cfg(test)]
mod tests;
