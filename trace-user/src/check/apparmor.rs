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
use crate::platform::operator::AppArmorProfile;
use crate::recording::{CAPABILITY_NAMES, Capability, FAMILY_NAMES, SocketFamily, SocketType};

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

/// Splits off the first word, which may be a quoted string (returned with its quotes).
fn first_word(text: &str) -> (&str, &str) {
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

fn file_perms(word: &str) -> Option<BTreeSet<char>> {
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
fn network_rules(words: &[&str], deny: bool, text: &str) -> Vec<NetworkRule> {
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

/// A piece of the file's structure.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    /// `HEADER {`: the header.
    Open(String),
    /// `}`.
    Close,
    /// A statement with its `,`, each run of whitespace outside quotes made one space.
    Statement(String),
}

/// Whether `text`, ended by a newline, is a directive without a comma: `include <...>`,
/// `include if exists "..."`, or a variable definition `@{X} = ...`, `@{X} += ...`, `${X} = ...`.
fn is_directive(text: &[u8]) -> bool {
    let text = text.trim_ascii();
    if let Some(rest) = text.strip_prefix(b"include") {
        return rest
            .first()
            .is_some_and(|&b| b.is_ascii_whitespace() || b == b'<' || b == b'"');
    }
    if text.starts_with(b"@{") || text.starts_with(b"${") {
        let Some(end) = text.iter().position(|&b| b == b'}') else {
            return false;
        };
        let rest = text[end + 1..].trim_ascii_start();
        return rest.starts_with(b"=") || rest.starts_with(b"+=");
    }
    false
}

/// The statement being read.
struct Current {
    text: Vec<u8>,
    /// The line its first character is on.
    line: usize,
}

impl Current {
    fn push(&mut self, bytes: &[u8], line: usize) {
        if self.text.is_empty() {
            self.line = line;
        }
        self.text.extend_from_slice(bytes);
    }

    /// Its text, trimmed; it is left empty.
    fn take(&mut self) -> String {
        let text = String::from_utf8_lossy(self.text.trim_ascii()).into_owned();
        self.text.clear();
        text
    }

    fn is_blank(&self) -> bool {
        self.text.trim_ascii().is_empty()
    }
}

/// Splits the file into blocks and statements, each with the line it starts on; drops comments
/// and directives. Checks quotes and glob braces; block balance is [`structure`]'s.
fn lex(text: &str) -> Result<Vec<(usize, Item)>, ParseError> {
    let mut lexer = Lexer {
        bytes: text.as_bytes(),
        i: 0,
        line: 1,
        current: Current {
            text: Vec::new(),
            line: 1,
        },
        glob_depth: 0,
        paren_depth: 0,
        class: None,
        items: Vec::new(),
    };
    while lexer.i < lexer.bytes.len() {
        lexer.next()?;
    }
    lexer.finish()
}

/// The error for `problem` at `line`.
fn at(line: usize, problem: Problem) -> ParseError {
    ParseError::At { line, problem }
}

/// The state of [`lex`].
struct Lexer<'a> {
    bytes: &'a [u8],
    /// The next byte to read.
    i: usize,
    /// The line of byte `i`.
    line: usize,
    current: Current,
    /// Depth of `{` in the path being read.
    glob_depth: usize,
    /// Depth of `(`.
    paren_depth: usize,
    /// Where the inside of the `[...]` class being read starts in `current`.
    class: Option<usize>,
    items: Vec<(usize, Item)>,
}

impl Lexer<'_> {
    /// The statement being read, ended at a `}` or the end of the file without its `,`.
    fn unterminated(&mut self) -> ParseError {
        let line = self.current.line;
        let text = self.current.take();
        at(line, Problem::Unterminated(Snippet::new(&text)))
    }

    /// Reads byte `i` (and, for a quote, an escape or a comment, what belongs to it).
    fn next(&mut self) -> Result<(), ParseError> {
        let c = self.bytes[self.i];
        let line = self.line;
        match c {
            b'\n' => self.newline()?,
            b'#' if self.i == 0 || self.bytes[self.i - 1].is_ascii_whitespace() => {
                // A comment (and `#include`): up to the newline, which is read next.
                self.i = self.bytes[self.i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.bytes.len(), |n| self.i + n);
                return Ok(());
            }
            b'"' => self.quoted()?,
            b'\\' => {
                // An escaped character outside quotes is part of the word, never structure.
                self.current.push(b"\\", line);
                if let Some(&next) = self.bytes.get(self.i + 1).filter(|&&b| b != b'\n') {
                    self.current.push(&[next], line);
                    self.i += 1;
                }
            }
            b']' if self.class.is_some_and(|start| {
                let inside = &self.current.text[start..];
                !(inside.is_empty() || inside == b"^")
            }) =>
            {
                self.class = None;
                self.current.push(b"]", line);
            }
            _ if self.class.is_some() && !c.is_ascii_whitespace() => {
                self.current.push(&[c], line);
            }
            b'[' => {
                self.current.push(b"[", line);
                self.class = Some(self.current.text.len());
            }
            b'(' => {
                self.paren_depth += 1;
                self.current.push(b"(", line);
            }
            b')' => {
                self.paren_depth = self.paren_depth.saturating_sub(1);
                self.current.push(b")", line);
            }
            b'{' => self.open_brace(),
            b'}' if self.glob_depth > 0 => {
                self.glob_depth -= 1;
                self.current.push(b"}", line);
            }
            b'}' => {
                if !self.current.is_blank() {
                    return Err(self.unterminated());
                }
                self.current.text.clear();
                self.paren_depth = 0;
                self.items.push((line, Item::Close));
            }
            b',' if self.glob_depth == 0 && self.paren_depth == 0 => {
                self.current.push(b",", line);
                let opened = self.current.line;
                let statement = self.current.take();
                self.items.push((opened, Item::Statement(statement)));
            }
            c if c.is_ascii_whitespace() => {
                // An unquoted word (a class in it too) ends at whitespace.
                self.class = None;
                self.space();
            }
            c => self.current.push(&[c], line),
        }
        self.i += 1;
        Ok(())
    }

    /// One space between words of the statement being read.
    fn space(&mut self) {
        let text = &mut self.current.text;
        if !text.is_empty() && !text.ends_with(b" ") {
            text.push(b' ');
        }
    }

    fn newline(&mut self) -> Result<(), ParseError> {
        if self.glob_depth > 0 {
            return Err(at(self.line, Problem::UnclosedBrace));
        }
        self.class = None;
        if self.paren_depth == 0 && is_directive(&self.current.text) {
            self.current.text.clear();
        } else {
            self.space();
        }
        self.line += 1;
        Ok(())
    }

    /// A quoted string, copied as it is up to its closing quote (the last byte read).
    fn quoted(&mut self) -> Result<(), ParseError> {
        let begin = self.i;
        self.i += 1;
        loop {
            match self.bytes.get(self.i) {
                None | Some(b'\n') => return Err(at(self.line, Problem::UnclosedQuote)),
                Some(b'\\') => {
                    self.i += 1;
                    if matches!(self.bytes.get(self.i), None | Some(b'\n')) {
                        return Err(at(self.line, Problem::UnclosedQuote));
                    }
                    self.i += 1;
                }
                Some(b'"') => break,
                Some(_) => self.i += 1,
            }
        }
        self.current.push(&self.bytes[begin..=self.i], self.line);
        Ok(())
    }

    /// A `{` standing apart opens a block; one inside a word is a glob's.
    fn open_brace(&mut self) {
        let apart = self
            .current
            .text
            .last()
            .is_none_or(|&b| b.is_ascii_whitespace() || b == b')');
        if self.glob_depth == 0 && self.paren_depth == 0 && apart {
            let opened = self.current.line;
            let header = self.current.take();
            let line = if header.is_empty() { self.line } else { opened };
            self.items.push((line, Item::Open(header)));
        } else {
            self.glob_depth += 1;
            self.current.push(b"{", self.line);
        }
    }

    /// The items, once the whole file is read.
    fn finish(mut self) -> Result<Vec<(usize, Item)>, ParseError> {
        if self.glob_depth > 0 {
            return Err(at(self.line, Problem::UnclosedBrace));
        }
        let directive = self.paren_depth == 0 && is_directive(&self.current.text);
        if !(self.current.is_blank() || directive) {
            return Err(self.unterminated());
        }
        Ok(self.items)
    }
}

/// A block of the file: a profile, hat or child profile.
struct Block {
    /// `profile NAME`, `hat ^NAME`, ...
    title: String,
    /// The profile's name.
    name: String,
    /// The line of its header.
    line: usize,
    /// Its own statements with their lines.
    statements: Vec<(usize, String)>,
    /// The titles of its hats and child profiles.
    children: Vec<String>,
}

/// The title and name of the block `header` opens: a profile at the top level (`profile NAME
/// ...`, `/attachment ...`), a hat (`^NAME`, `hat NAME`) or child profile (`profile NAME ...`)
/// inside a profile; `None` for anything else.
fn block_name(header: &str, top_level: bool) -> Option<(String, String)> {
    let unquote = |w: &str| w.trim_matches('"').to_owned();
    let (word, rest) = first_word(header);
    let (kind, name) = match word {
        "profile" => ("profile", unquote(first_word(rest).0)),
        "hat" if !top_level => ("hat", first_word(rest).0.to_owned()),
        w if w.starts_with('^') && !top_level => ("hat", w.to_owned()),
        w if top_level && (w.starts_with('/') || w.starts_with("\"/") || w.starts_with("@{")) => {
            ("profile", unquote(w))
        }
        _ => return None,
    };
    (!name.is_empty()).then(|| (format!("{kind} {name}"), name))
}

/// The top-level profile blocks of the file, each with its statements; hats and child profiles
/// have been read (into nothing) and are named in their parent's `children`.
fn structure(items: Vec<(usize, Item)>) -> Result<Vec<Block>, ParseError> {
    let mut profiles = Vec::new();
    let mut open: Vec<Block> = Vec::new();
    for (line, item) in items {
        match item {
            Item::Open(header) => {
                let (title, name) = block_name(&header, open.is_empty())
                    .ok_or_else(|| at(line, Problem::UnknownBlock(Snippet::new(&header))))?;
                open.push(Block {
                    title,
                    name,
                    line,
                    statements: Vec::new(),
                    children: Vec::new(),
                });
            }
            Item::Close => {
                let block = open
                    .pop()
                    .ok_or_else(|| at(line, Problem::UnmatchedClose))?;
                if let Some(parent) = open.last_mut() {
                    read_statements(&block.statements, &mut Rules::default())?;
                    parent.children.push(block.title);
                    parent.children.extend(block.children);
                } else {
                    profiles.push(block);
                }
            }
            Item::Statement(text) => match open.last_mut() {
                Some(block) => block.statements.push((line, text)),
                None => {
                    if !matches!(first_word(&text).0, "abi" | "alias") {
                        return Err(at(line, Problem::OutsideProfile(Snippet::new(&text))));
                    }
                }
            },
        }
    }
    if let Some(block) = open.last() {
        return Err(at(
            block.line,
            Problem::UnclosedBlock(Snippet::new(&block.title)),
        ));
    }
    Ok(profiles)
}

/// Reads `statements` into `rules`.
fn read_statements(statements: &[(usize, String)], rules: &mut Rules) -> Result<(), ParseError> {
    for (line, text) in statements {
        read_statement(text, rules).map_err(|problem| ParseError::At {
            line: *line,
            problem,
        })?;
    }
    Ok(())
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

/// Rule kinds a drift check does not compare.
const SKIPPED: &[&str] = &[
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
fn is_path(word: &str) -> bool {
    let path = word.strip_prefix('"').unwrap_or(word);
    path.starts_with('/') || path.starts_with("@{")
}

/// Reads one statement of a profile (with its `,`) into `rules`.
fn read_statement(text: &str, rules: &mut Rules) -> Result<(), Problem> {
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

fn unquote(word: &str) -> &str {
    word.strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(word)
}

/// A file rule, `PATH PERMS [-> TARGET]` or `PERMS PATH [-> TARGET]` (after `file` and the
/// qualifiers).
fn file_rule(deny: bool, spec: &str, text: &str) -> Result<FileRule, Problem> {
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
fn path_rule(deny: bool, path: &str, perms: &str, text: String) -> Result<FileRule, Problem> {
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

/// The rules the Security Profiles Operator's template makes of an `AppArmorProfile` (see
/// [`crate::render::apparmor::spo`]).
pub fn from_spo(profile: &AppArmorProfile) -> Result<Rules, ParseError> {
    let spec = &profile.spec.abstract_;
    let mut rules = Rules {
        spo: true,
        ..Rules::default()
    };
    let mut files = |paths: &[String], deny: bool, perms: &str| {
        for path in paths {
            let text = format!("{}{path} {perms},", if deny { "deny " } else { "" });
            let rule = path_rule(deny, path, perms, text).map_err(ParseError::Spo)?;
            rules.files.push(rule);
        }
        Ok::<(), ParseError>(())
    };
    if let Some(exe) = &spec.executable {
        files(&exe.allowed_executables, false, "ixr")?;
        files(&exe.allowed_libraries, false, "mr")?;
    }
    if let Some(fs) = &spec.filesystem {
        files(&fs.read_only_paths, false, "r")?;
        files(&fs.write_only_paths, false, "wlk")?;
        files(&fs.read_write_paths, false, "rwlk")?;
        files(&fs.read_only_paths, true, "wlk")?;
        files(&fs.write_only_paths, true, "r")?;
    }
    if let Some(network) = &spec.network {
        let protocols = [
            (network.allow_raw, "raw"),
            (network.allowed_protocols.allow_tcp, "tcp"),
            (network.allowed_protocols.allow_udp, "udp"),
        ];
        for (_, word) in protocols.into_iter().filter(|(allowed, _)| *allowed) {
            let text = format!("network {word},");
            rules.network.extend(network_rules(&[word], false, &text));
        }
    }
    if let Some(caps) = &spec.capability {
        for cap in &caps.allowed_capabilities {
            if cap.is_empty() || cap.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(ParseError::Spo(Problem::BadCapability(Snippet::new(cap))));
            }
            rules.capabilities.insert(cap.clone());
        }
    }
    Ok(rules)
}

/// AppArmor's name of a capability (`net_bind_service`), `None` for numbers without a name.
pub fn capability_name(cap: Capability) -> Option<String> {
    let name = CAPABILITY_NAMES.get(usize::try_from(cap.0).ok()?)?;
    Some(name.trim_start_matches("CAP_").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"
abi <abi/3.0>,
include <tunables/global>
@{HOMES} = /home/ /srv/
profile "trace-x" flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>
  "/etc/passwd" rk,  # read, lock
  "/data/a\054b\012c" w,  # write
  owner /srv/** rw,
  file /opt/app ix,
  /usr/lib/** mr,
  capability net_bind_service,
  deny capability sys_admin,
  network inet stream,
  network tcp,
  deny network alg,
  signal (receive) peer=unconfined,
  ptrace (read,readby) peer="trace-x",
  deny @{PROC}/* w,
  deny mount,
}
"#;

    fn problem(text: &str) -> Problem {
        match parse(text) {
            Err(ParseError::At { problem, .. }) => problem,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn reads_the_rules_trace_writes_and_hand_written_ones() {
        let rules = parse(PROFILE).unwrap();
        let paths: Vec<&str> = rules.files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(paths.len(), 6, "{paths:?}");
        assert_eq!(paths[0], r#""/etc/passwd" rk,"#);
        assert!(rules.files[1].pattern.matches(b"/data/a,b\nc"));
        assert!(rules.files[2].pattern.matches(b"/srv/x/y"));
        assert!(rules.files[3].perms.contains(&'x'));
        assert!(rules.files[5].deny);
        assert_eq!(
            rules.capabilities,
            BTreeSet::from(["net_bind_service".to_owned()])
        );
        assert!(rules.denied_capabilities.contains("sys_admin"));
        assert_eq!(
            rules.network.len(),
            4,
            "inet stream, tcp over inet and inet6, deny alg"
        );
        assert!(!rules.all_files && !rules.all_capabilities);
        assert_eq!(rules.profile.as_deref(), Some("trace-x"));
        assert!(rules.ignored.is_empty());
    }

    #[test]
    fn rules_may_span_lines_and_globs_hold_braces_and_commas() {
        let rules = parse(
            "/usr/bin/app {\n  dbus send\n     bus=session\n     path=/org/x,\n  /srv/{a,b{c,d}}/** r,\n  r /etc/hosts,\n  px /bin/sh -> other,\n  link subset /tmp/a -> /tmp/b,\n  /opt/[{,]x w, /opt/y\n    k,\n}",
        )
        .unwrap();
        let texts: Vec<&str> = rules.files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "/srv/{a,b{c,d}}/** r,",
                "r /etc/hosts,",
                "px /bin/sh -> other,",
                "link subset /tmp/a -> /tmp/b,",
                "/opt/[{,]x w,",
                "/opt/y k,"
            ]
        );
        assert!(rules.files[0].pattern.matches(b"/srv/bd/x"));
        assert!(rules.files[4].pattern.matches(b"/opt/,x"));
        assert_eq!(rules.profile.as_deref(), Some("/usr/bin/app"));
    }

    /// An extra profile block once made every file count as allowed: only the container's
    /// profile's rules count, the rest is named as ignored.
    #[test]
    fn other_profiles_hats_and_children_are_not_the_profiles_rules() {
        let text = format!("{PROFILE}profile other {{ /** rwmix, }}\n");
        let rules = parse(&text).unwrap();
        assert_eq!(rules.files.len(), 6);
        assert!(!rules.files.iter().any(|f| f.pattern.matches(b"/anything")));
        assert_eq!(rules.ignored, ["profile other"]);
        let first = format!("profile other {{ /** rwmix, }}\n{PROFILE}");
        assert_eq!(parse(&first).unwrap().files.len(), 6);

        let nested = "profile trace-x {\n  /a r,\n  ^hat {\n    /** rw,\n  }\n  hat h2 { /b w, }\n  profile child flags=(complain) {\n    /c w,\n    capability,\n  }\n  /d r,\n}\n";
        let rules = parse(nested).unwrap();
        let texts: Vec<&str> = rules.files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, ["/a r,", "/d r,"]);
        assert!(!rules.all_capabilities);
        assert_eq!(rules.ignored, ["hat ^hat", "hat h2", "profile child"]);

        // A malformed rule is an error wherever it is.
        assert!(matches!(
            problem("profile trace-x { /a r, }\nprofile other { /b q, }"),
            Problem::UnknownPermissions(_)
        ));
        assert!(matches!(
            problem("profile trace-x { ^hat { garbage here, } }"),
            Problem::UnknownRule(_)
        ));
    }

    #[test]
    fn several_profiles_without_a_single_trace_one_are_refused() {
        assert!(matches!(
            parse("profile a { /a r, }\nprofile b { /b r, }"),
            Err(ParseError::Ambiguous(names)) if names.len() == 2
        ));
        assert!(matches!(
            parse("profile trace-a { /a r, }\nprofile trace-b { /b r, }"),
            Err(ParseError::Ambiguous(_))
        ));
        let single = parse("profile x {\n  /srv/** r,\n}\n").unwrap();
        assert_eq!(single.profile.as_deref(), Some("x"));
    }

    /// What cannot be read is an error (`trace check` exits 2), never an empty rule set that
    /// reports everything as drift, nor a partial one.
    #[test]
    fn unreadable_profiles_are_errors() {
        for empty in [
            "",
            "\n\n",
            "# only a comment\n",
            "abi <abi/3.0>,\ninclude <x>\n",
        ] {
            assert_eq!(
                parse(empty).unwrap_err(),
                ParseError::NoProfile,
                "{empty:?}"
            );
        }
        assert!(matches!(problem("garbage"), Problem::Unterminated(_)));
        assert!(matches!(
            problem("hello world,\nprofile x { }"),
            Problem::OutsideProfile(_)
        ));
        assert!(matches!(
            problem("profile x {\n  /a r,\n"),
            Problem::UnclosedBlock(_)
        ));
        assert!(matches!(
            problem("profile x {\n  /a r\n}"),
            Problem::Unterminated(_)
        ));
        assert!(matches!(
            problem("profile x {\n  /a r,\n}\n}"),
            Problem::UnmatchedClose
        ));
        assert!(matches!(
            problem("profile x {\n  hello world,\n}"),
            Problem::UnknownRule(_)
        ));
        assert!(matches!(
            problem("profile x {\n  \"/a r,\n}"),
            Problem::UnclosedQuote
        ));
        assert!(matches!(
            problem("profile x {\n  /a{b r,\n}"),
            Problem::UnclosedBrace
        ));
        assert!(matches!(
            problem("profile x {\n  if defined @{x} {\n  }\n}"),
            Problem::UnknownBlock(_)
        ));
        assert!(matches!(problem("garbage {\n}"), Problem::UnknownBlock(_)));
        assert!(matches!(
            problem("profile x {\n  /a q,\n}"),
            Problem::UnknownPermissions(_)
        ));
        assert!(matches!(
            problem(&format!(
                "profile x {{\n  /{}a{} r,\n}}",
                "{".repeat(100),
                "}".repeat(100)
            )),
            Problem::Pattern {
                error: PatternError::TooDeep,
                ..
            }
        ));
        assert!(parse("  \"/a\" q,\n").is_err());
        let ParseError::At { line, .. } = parse("profile x {\n\n  /a r,\n  bad,\n}").unwrap_err()
        else {
            panic!()
        };
        assert_eq!(line, 4);
        let message = parse("profile x {\n  evil\x1b[2J rule,\n}")
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("line 2: `evil\\x1b[2J rule,` is not an AppArmor rule"),
            "{message}"
        );
    }

    #[test]
    fn operator_paths_are_read_as_written() {
        let mut profile: AppArmorProfile = serde_norway::from_str(
            "apiVersion: security-profiles-operator.x-k8s.io/v1alpha1\nkind: AppArmorProfile\nmetadata:\n  name: x\nspec:\n  abstract:\n    filesystem:\n      readOnlyPaths: [\"/etc/a b\", \"/proc/@{pid}/stat\"]\n    network:\n      allowRaw: false\n      allowedProtocols: {allowTcp: true, allowUdp: false}\n    capability:\n      allowedCapabilities: [chown]\n",
        )
        .unwrap();
        let rules = from_spo(&profile).unwrap();
        assert!(rules.spo);
        assert!(rules.files[0].pattern.matches(b"/etc/a b"));
        assert!(rules.files[1].pattern.matches(b"/proc/7/stat"));
        assert_eq!(rules.files[2].text, "deny /etc/a b wlk,");
        assert_eq!(rules.network.len(), 2, "tcp over inet and inet6");
        assert!(rules.capabilities.contains("chown"));
        let fs = profile.spec.abstract_.filesystem.as_mut().unwrap();
        fs.read_only_paths.push("relative".into());
        assert!(matches!(
            from_spo(&profile),
            Err(ParseError::Spo(Problem::NotAPath(_)))
        ));
    }
}
