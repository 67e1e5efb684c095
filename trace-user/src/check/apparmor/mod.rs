//! The rules of a committed AppArmor profile that a drift check needs: file, capability and
//! network rules, allow and deny.
//!
//! The file is read for its structure, as `apparmor_parser` reads it: comments, `abi`, `alias`,
//! `include` and variable definitions around blocks `HEADER { ... }`, and statements ending in `,`
//! (one may span lines; a comma inside quotes, `(...)`, a `{a,b}` glob or a `[...]` class does not
//! end it). A `{` opens a block when it stands apart (after a space, a `)` or at the start of a
//! statement); inside a path it is a glob.
//!
//! The profile compared is the file's only top-level profile or, when there are several, the only
//! one named `trace-*` (trace names its profiles so). The other top-level profiles confine other
//! programs, and hats and child profiles inside it (`^hat {}`, `hat x {}`, `profile x {}`) confine
//! what changes into them: their rules are not counted (what only they allow shows as drift, so
//! nothing is hidden), they are still read (a malformed one is an error), and [`Rules::ignored`]
//! names them. Includes are not followed: what only an included file allows
//! shows as drift.
//!
//! Inside the profile, file rules (quoted or unquoted paths; `PATH PERMS`, `PERMS PATH`, `file`,
//! `link`, exec transitions `-> TARGET`), `capability` and `network` rules are read, with the
//! qualifiers `deny`, `allow`, `audit`, `owner` and `priority=N`; the other rule kinds AppArmor
//! knows (signal, ptrace, mount, unix, dbus, ...) are skipped. Anything else is a [`ParseError`]:
//! an empty file, no profile, several profiles and not exactly one `trace-*`, unbalanced braces or
//! quotes, a statement without its `,`, a statement that is no rule, a pattern the matcher refuses
//! ([`super::glob`]). A check that cannot read the profile says so (`trace check` exits 2) rather
//! than report every file as new or, worse, as allowed.
//!
//! A Security Profiles Operator `AppArmorProfile` (YAML) is read through the rules the operator's
//! template makes of it.

use std::collections::BTreeSet;

use super::Snippet;
use super::glob::{Pattern, PatternError};
use crate::recording::{SocketFamily, SocketType};

mod blocks;
mod lexer;
mod spo;
mod statements;
#[cfg(test)]
mod tests;

use blocks::{read_statements, structure};
use lexer::{Item, at, lex};
pub use spo::from_spo;
pub use statements::capability_name;
use statements::{first_word, network_rules, path_rule, read_statement};

/// One file rule.
#[derive(Clone, Debug)]
pub struct FileRule {
    /// A deny rule.
    pub deny: bool,
    /// Its path pattern.
    pub pattern: Pattern,
    /// Permission letters (`r w a l k m x`; any exec mode is `x`).
    pub perms: BTreeSet<char>,
    /// The rule as written, for reports.
    pub text: String,
}

/// A network rule: family and type, `None` for any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRule {
    /// A deny rule.
    pub deny: bool,
    /// `inet`, `unix`, ... or any.
    pub family: Option<String>,
    /// `stream`, `dgram`, ... or any.
    pub sock_type: Option<String>,
    /// The rule as written.
    pub text: String,
}

/// What a profile allows and denies, as far as a drift check compares it.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// File rules.
    pub files: Vec<FileRule>,
    /// `file,`: every file access.
    pub all_files: bool,
    /// Capabilities allowed (AppArmor names, `net_bind_service`).
    pub capabilities: BTreeSet<String>,
    /// Capabilities denied.
    pub denied_capabilities: BTreeSet<String>,
    /// `capability,`: every capability.
    pub all_capabilities: bool,
    /// Network rules.
    pub network: Vec<NetworkRule>,
    /// Read from a Security Profiles Operator `AppArmorProfile`, whose network rules can name
    /// only tcp, udp (over inet and inet6) and raw sockets.
    pub spo: bool,
    /// The name of the profile whose rules these are (none for an operator's profile).
    pub profile: Option<String>,
    /// The other profiles, hats and child profiles of the file, whose rules are not counted
    /// (`profile other`, `hat ^x`).
    pub ignored: Vec<String>,
}

impl Rules {
    /// Whether the profile could name a socket of this family and type at all: AppArmor has no
    /// name for some families, the operator's abstract only for tcp, udp and raw.
    pub fn can_name_socket(&self, family: SocketFamily, sock_type: SocketType) -> bool {
        if self.spo {
            matches!(
                (family.name(), sock_type.name()),
                (Some("inet" | "inet6"), Some("stream" | "dgram")) | (_, Some("raw"))
            )
        } else {
            crate::platform::apparmor::apparmor_family(family).is_some()
        }
    }
}

/// Why a profile could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No profile block in the file (empty, only comments, or not a profile at all).
    #[error("no profile block (`profile NAME {{ ... }}`): nothing to check against")]
    NoProfile,
    /// Several top-level profiles, and not exactly one of them named `trace-*`.
    #[error(
        "{} profiles ({}) and not exactly one named trace-*: cannot tell which one confines the container",
        .0.len(), Snippet::join(.0)
    )]
    Ambiguous(Vec<Snippet>),
    /// A statement or block of the file that cannot be read.
    #[error("line {line}: {problem}")]
    At {
        /// 1-based line where it starts.
        line: usize,
        /// What is wrong.
        problem: Problem,
    },
    /// A list entry of an operator's `AppArmorProfile` that makes no rule.
    #[error("spec.abstract: {0}")]
    Spo(Problem),
}

/// What is wrong with a statement or block.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A `"` without its closing quote on the same line.
    #[error("unclosed quote")]
    UnclosedQuote,
    /// A `{` of a path glob not closed on its line.
    #[error("unclosed {{ in a path")]
    UnclosedBrace,
    /// A block whose header is no profile (at the top) or hat or child profile (inside one).
    #[error("{0} {{: not a profile, hat or child profile")]
    UnknownBlock(Snippet),
    /// A `}` with no block open.
    #[error("`}}` closes no block")]
    UnmatchedClose,
    /// A block the file ends inside of.
    #[error("block {0} never closed by `}}`")]
    UnclosedBlock(Snippet),
    /// Text not ended by `,` before a `}` or the end of the file.
    #[error("{0} does not end with `,`")]
    Unterminated(Snippet),
    /// A rule outside any profile.
    #[error("{0} outside any profile")]
    OutsideProfile(Snippet),
    /// A statement that is no rule AppArmor knows.
    #[error("{0} is not an AppArmor rule")]
    UnknownRule(Snippet),
    /// File permissions with a letter AppArmor does not know, or none.
    #[error("unknown file permissions {0}")]
    UnknownPermissions(Snippet),
    /// A path the glob matcher refuses.
    #[error("path {path}: {error}")]
    Pattern {
        /// The path as written.
        path: Snippet,
        /// Why it was refused.
        error: PatternError,
    },
    /// A rule path that is neither absolute nor starts with a variable.
    #[error("{0} is not an absolute path")]
    NotAPath(Snippet),
    /// A capability name that is empty or holds whitespace.
    #[error("{0} is not a capability name")]
    BadCapability(Snippet),
}

/// Reads the rules of the container's profile in an AppArmor profile file (module docs).
pub fn parse(text: &str) -> Result<Rules, ParseError> {
    let profiles = structure(lex(text)?)?;
    let chosen = match profiles.as_slice() {
        [] => return Err(ParseError::NoProfile),
        [_] => 0,
        _ => {
            let trace: Vec<usize> = (0..profiles.len())
                .filter(|&i| profiles[i].name.starts_with("trace-"))
                .collect();
            if let [one] = trace.as_slice() {
                *one
            } else {
                let names = profiles.iter().map(|p| Snippet::new(&p.name)).collect();
                return Err(ParseError::Ambiguous(names));
            }
        }
    };
    let mut rules = Rules::default();
    for (i, profile) in profiles.iter().enumerate() {
        if i == chosen {
            read_statements(&profile.statements, &mut rules)?;
        } else {
            read_statements(&profile.statements, &mut Rules::default())?;
        }
    }
    let mut profiles = profiles;
    let profile = profiles.swap_remove(chosen);
    rules.profile = Some(profile.name);
    rules.ignored = profile.children;
    let mut others: Vec<String> = profiles.into_iter().map(|p| p.title).collect();
    others.sort();
    rules.ignored.extend(others);
    Ok(rules)
}
