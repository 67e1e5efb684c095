//! One statement of a profile read into rules: file rules with their permissions,
//! `capability` and `network` rules, and the rule kinds a drift check skips.

use super::{FileRule, NetworkRule, Problem, Rules};
use crate::check::Snippet;
use crate::check::glob::Pattern;
use crate::recording::{CAPABILITY_NAMES, Capability, FAMILY_NAMES};
use std::collections::BTreeSet;

/// Splits off the first word, which may be a quoted string (returned with its quotes).
pub(super) fn first_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    if text.starts_with('"') {
        let bytes = text.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => return (&text[..=i], &text[i + 1..]),
                _ => i += 1,
            }
        }
        return (text, "");
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    (&text[..end], &text[end..])
}

pub(super) fn file_perms(word: &str) -> Option<BTreeSet<char>> {
    let mut perms = BTreeSet::new();
    for c in word.chars() {
        match c {
            'r' | 'w' | 'a' | 'l' | 'k' | 'm' => {
                perms.insert(c);
            }
            'x' => {
                perms.insert('x');
            }
            'i' | 'p' | 'P' | 'u' | 'U' | 'c' | 'C' => {}
            _ => return None,
        }
    }
    (!perms.is_empty()).then_some(perms)
}

/// `network` rule words: a family, a type, or a protocol (`tcp` is stream, `udp` dgram, over inet
/// and inet6).
pub(super) fn network_rules(words: &[&str], deny: bool, text: &str) -> Vec<NetworkRule> {
    let types = [
        "stream",
        "dgram",
        "raw",
        "rdm",
        "seqpacket",
        "dccp",
        "packet",
    ];
    let rule = |family: Option<&str>, sock_type: Option<&str>| NetworkRule {
        deny,
        family: family.map(str::to_owned),
        sock_type: sock_type.map(str::to_owned),
        text: text.to_owned(),
    };
    match words {
        [] => vec![rule(None, None)],
        [proto @ ("tcp" | "udp")] | [_, proto @ ("tcp" | "udp")] => {
            let sock_type = if *proto == "tcp" { "stream" } else { "dgram" };
            let families: Vec<&str> = match words {
                [family, _] => vec![family],
                _ => vec!["inet", "inet6"],
            };
            families
                .into_iter()
                .map(|f| rule(Some(f), Some(sock_type)))
                .collect()
        }
        [t] if types.contains(t) && !FAMILY_NAMES.contains(t) => vec![rule(None, Some(t))],
        [family] => vec![rule(Some(family), None)],
        [family, t, ..] => vec![rule(Some(family), Some(t))],
    }
}

/// Rule kinds a drift check does not compare.
pub(super) const SKIPPED: &[&str] = &[
    "signal",
    "ptrace",
    "mount",
    "remount",
    "umount",
    "unmount",
    "pivot_root",
    "unix",
    "dbus",
    "change_profile",
    "set",
    "rlimit",
    "userns",
    "io_uring",
    "mqueue",
    "all",
];

/// Whether a rule word is a path: absolute or starting with a variable, maybe quoted.
pub(super) fn is_path(word: &str) -> bool {
    let path = word.strip_prefix('"').unwrap_or(word);
    path.starts_with('/') || path.starts_with("@{")
}

/// Reads one statement of a profile (with its `,`) into `rules`.
pub(super) fn read_statement(text: &str, rules: &mut Rules) -> Result<(), Problem> {
    let body = text.strip_suffix(',').unwrap_or(text).trim();
    let mut rest = body;
    let mut deny = false;
    loop {
        let (word, after) = first_word(rest);
        match word {
            "deny" => deny = true,
            "allow" | "audit" | "owner" => {}
            w if w.starts_with("priority=") => {}
            _ => break,
        }
        rest = after.trim_start();
    }
    let (word, after) = first_word(rest);
    let words: Vec<&str> = after.split_whitespace().collect();
    match word {
        "capability" => {
            if words.is_empty() {
                if !deny {
                    rules.all_capabilities = true;
                }
            } else if deny {
                rules
                    .denied_capabilities
                    .extend(words.iter().map(|w| (*w).to_owned()));
            } else {
                rules
                    .capabilities
                    .extend(words.iter().map(|w| (*w).to_owned()));
            }
        }
        "network" => rules.network.extend(network_rules(&words, deny, text)),
        "file" if words.is_empty() => {
            if !deny {
                rules.all_files = true;
            }
        }
        "file" => rules.files.push(file_rule(deny, after, text)?),
        "link" => {
            let spec = after.trim_start();
            let spec = spec.strip_prefix("subset ").unwrap_or(spec);
            let (path, target) = first_word(spec);
            if !(is_path(path) && target.trim_start().starts_with("->")) {
                return Err(Problem::UnknownRule(Snippet::new(text)));
            }
            rules
                .files
                .push(path_rule(deny, unquote(path), "l", text.to_owned())?);
        }
        w if SKIPPED.contains(&w) => {}
        _ => rules.files.push(file_rule(deny, rest, text)?),
    }
    Ok(())
}

pub(super) fn unquote(word: &str) -> &str {
    word.strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(word)
}

/// A file rule, `PATH PERMS [-> TARGET]` or `PERMS PATH [-> TARGET]` (after `file` and the
/// qualifiers).
pub(super) fn file_rule(deny: bool, spec: &str, text: &str) -> Result<FileRule, Problem> {
    let (first, after) = first_word(spec);
    if is_path(first) {
        // `PATH PERMS -> TARGET` (exec transitions, links): the permissions are before the arrow.
        let perms = after.split("->").next().unwrap_or_default().trim();
        return path_rule(deny, unquote(first), perms, text.to_owned());
    }
    let (path, tail) = first_word(after);
    let tail = tail.trim();
    if is_path(path) && file_perms(first).is_some() && (tail.is_empty() || tail.starts_with("->")) {
        return path_rule(deny, unquote(path), first, text.to_owned());
    }
    Err(Problem::UnknownRule(Snippet::new(text)))
}

/// A file rule on `path` (unquoted) with permission letters `perms`.
pub(super) fn path_rule(
    deny: bool,
    path: &str,
    perms: &str,
    text: String,
) -> Result<FileRule, Problem> {
    if !is_path(path) {
        return Err(Problem::NotAPath(Snippet::new(path)));
    }
    let perms =
        file_perms(perms).ok_or_else(|| Problem::UnknownPermissions(Snippet::new(perms)))?;
    let pattern = Pattern::parse(path.as_bytes()).map_err(|error| Problem::Pattern {
        path: Snippet::new(path),
        error,
    })?;
    Ok(FileRule {
        deny,
        pattern,
        perms,
        text,
    })
}

/// AppArmor's name of a capability (`net_bind_service`), `None` for numbers without a name.
pub fn capability_name(cap: Capability) -> Option<String> {
    let name = CAPABILITY_NAMES.get(usize::try_from(cap.0).ok()?)?;
    Some(name.trim_start_matches("CAP_").to_ascii_lowercase())
}
