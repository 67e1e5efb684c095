//! File rules: each observed access mapped to the AppArmor permission that mediates it
//! ([`crate::platform::apparmor`]), written `rwalkm` then `ix`, with `a` dropped when `w` is there
//! (the parser refuses both) and directories written `dir/`. One rule per path, except where that
//! would be more than `apparmor_parser` loads: then [`collapse`] writes globs, each standing for
//! many paths with the union of their permissions.

use std::collections::{BTreeMap, BTreeSet};

use super::collapse::{Glob, Pattern, collapse};
use super::escape::{Segment, quote};
use crate::platform::apparmor::{Perm, perms_of};
use crate::recording::{Access, PathBytes, Recording, normalize};

/// The permissions of `accesses` as written in a rule: `rwalkm` then `ix`, and `a` only without
/// `w` (which includes it; the parser refuses both). Empty when none is needed.
pub fn perms_text(accesses: &BTreeSet<Access>) -> String {
    let perms: BTreeSet<Perm> = accesses
        .iter()
        .flat_map(|&a| perms_of(a).iter().copied())
        .collect();
    perms
        .iter()
        .filter(|&&p| !(p == Perm::Append && perms.contains(&Perm::Write)))
        .map(|p| match p {
            Perm::Read => "r",
            Perm::Write => "w",
            Perm::Append => "a",
            Perm::Link => "l",
            Perm::Lock => "k",
            Perm::MmapExec => "m",
            Perm::Exec => "ix",
        })
        .collect()
}

/// One file rule, ready to print.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileRule {
    /// `"path" perms,`
    pub rule: String,
    /// The accesses observed, for the trailing comment; for a glob, first what it stands for.
    pub observed: String,
}

/// A glob rule written in place of one rule per path (see [`collapse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collapsed {
    /// The rule's quoted path.
    pub path: String,
    /// Rule paths it stands for.
    pub paths: usize,
    /// Of those, programs run: `ix` widened to the glob.
    pub programs: usize,
    /// Some name was written as `*` (or the path cut to `dir/**`) because the path was too long
    /// for the parser.
    pub too_long: bool,
}

/// The file part of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileRules {
    /// Rules sorted by path (normalised `/proc/<pid>` paths merged).
    pub rules: Vec<FileRule>,
    /// Paths only entered or found missing: no rule needed.
    pub unmediated: usize,
    /// Paths that cannot be written as a rule (they hold a NUL byte, so they are not real paths).
    pub unwritable: usize,
    /// The glob rules among `rules`, in the same order.
    pub collapsed: Vec<Collapsed>,
}

impl FileRules {
    /// Rule paths allowed through glob rules rather than a rule of their own.
    pub fn collapsed_paths(&self) -> usize {
        self.collapsed.iter().map(|c| c.paths).sum()
    }

    /// Programs allowed to run (`ix`) through glob rules rather than a rule of their own.
    pub fn collapsed_programs(&self) -> usize {
        self.collapsed.iter().map(|c| c.programs).sum()
    }
}

/// `/proc/<pid>/...` with `@{pid}` (and `/proc/<pid>/task/<tid>/...` with `@{tid}`): a process id
/// differs from run to run. `/proc/self` and `/proc/thread-self` stay as they are. Only numbers
/// `@{pid}` matches are replaced (1 to 7 digits, no leading zero, at most 4999999).
pub fn rule_path(path: &PathBytes) -> Vec<Segment> {
    let parts: Vec<&[u8]> = path.as_bytes().split(|&b| b == b'/').skip(1).collect();
    if parts.len() >= 2 && parts[0] == b"proc" && is_pid(parts[1]) {
        let mut segments = vec![Segment::Literal(b"/proc/".to_vec()), Segment::Pid];
        let mut rest = &parts[2..];
        if rest.len() >= 2 && rest[0] == b"task" && is_pid(rest[1]) {
            segments.push(Segment::Literal(b"/task/".to_vec()));
            segments.push(Segment::Tid);
            rest = &rest[2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(join(rest)));
        }
        segments
    } else {
        vec![Segment::Literal(path.as_bytes().to_vec())]
    }
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    out
}

fn is_pid(s: &[u8]) -> bool {
    matches!(s.len(), 1..=7)
        && s.iter().all(u8::is_ascii_digit)
        && s[0] != b'0'
        && (s.len() < 7 || s[0] <= b'4')
}

/// Rule paths (normalised, `/proc/<pid>` merged) of `recording` with whether each is a directory
/// and the accesses seen: `files` plus every program in `execs` (as `exec`).
pub fn rule_paths(recording: &Recording) -> BTreeMap<(Vec<Segment>, bool), BTreeSet<Access>> {
    let mut merged: BTreeMap<(Vec<Segment>, bool), BTreeSet<Access>> = BTreeMap::new();
    for (path, used) in &recording.files {
        merged
            .entry((rule_path(&normalize(path.as_bytes())), used.dir))
            .or_default()
            .extend(used.access.iter().copied());
    }
    for path in recording.execs.keys() {
        merged
            .entry((rule_path(&normalize(path.as_bytes())), false))
            .or_default()
            .insert(Access::Exec);
    }
    merged
}

/// `n` and the noun, singular or plural.
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The trailing comment of `pattern`'s rule: what a glob stands for, then the accesses.
fn comment(pattern: &Pattern) -> String {
    let accesses = pattern
        .accesses
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ");
    let mut notes = Vec::new();
    if pattern.widened() {
        let paths = count(pattern.paths, "recorded path", "recorded paths");
        notes.push(match pattern.glob {
            Some(Glob::Names) => format!("collapsed {paths} in this directory"),
            Some(Glob::Tree) => format!("collapsed {paths} below this directory"),
            None => paths,
        });
    }
    if pattern.long_names > 0 {
        notes.push(format!(
            "{} too long for apparmor_parser written as *",
            count(pattern.long_names, "name", "names")
        ));
    }
    if pattern.cut {
        notes.push("path too long for apparmor_parser cut to a directory and **".to_owned());
    }
    if pattern.widened() && pattern.programs > 0 {
        notes.push(format!(
            "{} run, ix widened",
            count(pattern.programs, "program", "programs")
        ));
    }
    if notes.is_empty() {
        accesses
    } else {
        format!("{}: {accesses}", notes.join("; "))
    }
}

/// The file rules of `recording`: `files` plus every program in `execs` (as `exec`), collapsed
/// into globs where one rule per path would not load ([`collapse`]).
pub fn file_rules(recording: &Recording) -> FileRules {
    let mut out = FileRules::default();
    let mut paths = Vec::new();
    for ((path, dir), accesses) in rule_paths(recording) {
        if perms_text(&accesses).is_empty() {
            out.unmediated += 1;
        } else if path
            .iter()
            .any(|s| matches!(s, Segment::Literal(l) if l.contains(&0)))
        {
            out.unwritable += 1;
        } else {
            paths.push((path, dir, accesses));
        }
    }
    // A directory is written with a trailing slash: that is how AppArmor names a directory when
    // it mediates one.
    for pattern in collapse(paths) {
        let Some(word) = quote(&pattern.quoted_path()) else {
            out.unwritable += pattern.paths;
            continue;
        };
        if pattern.widened() {
            out.collapsed.push(Collapsed {
                path: word.clone(),
                paths: pattern.paths,
                programs: pattern.programs,
                too_long: pattern.long_names > 0 || pattern.cut,
            });
        }
        out.rules.push(FileRule {
            rule: format!("{word} {},", perms_text(&pattern.accesses)),
            observed: comment(&pattern),
        });
    }
    out
}
