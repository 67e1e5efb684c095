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
mod drift;
pub mod glob;
pub mod seccomp;

pub use committed::{EXIT_DRIFT, EXIT_OK, load_committed, read_recording, report};

use std::collections::{BTreeMap, BTreeSet};

use crate::platform::apparmor::{Perm, perms_of};
use crate::platform::oci_runtime;
use crate::recording::{Recording, SocketUse, encode};

pub use drift::{
    Committed, New, NewCapability, NewFile, NewSocket, NewSyscall, ProfileFile, Report, Unused,
    render_json, render_text,
};

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
        // Calls included on purpose (in this recording or the committed one) stay allowed.
        let included: BTreeSet<&str> = recording
            .included_syscalls
            .iter()
            .chain(
                committed
                    .recording
                    .iter()
                    .flat_map(|(_, r)| &r.included_syscalls),
            )
            .map(|i| i.name.as_str())
            .collect();
        if !allowed.all {
            let baseline =
                oci_runtime::calls(&oci_runtime::baselines(&recording.container.runtimes));
            unused.syscalls = allowed
                .names
                .iter()
                .filter(|n| {
                    !observed.contains_key(n.as_str())
                        && !baseline.contains(n.as_str())
                        && !included.contains(n.as_str())
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

#[cfg(test)]
mod tests;
