//! AppArmor path patterns, to tell whether a rule covers a path.
//!
//! AppArmor's globbing (apparmor.d(5)): `*` any characters but `/`, `**` any characters with `/`,
//! `?` one character but `/`, `[abc]`, `[a-z]` and `[^...]` one character of (not of) a set, `{a,b}`
//! either alternative (nested). Like `apparmor_parser`, a `*` or `**` right after a `/` matches at
//! least one character, so `/dir/*` does not match `/dir/`. Escapes (`\ooo` octal, `\xHH`, `\dNNN`,
//! `\` before any other character) are literal bytes, as trace writes its paths. Variables:
//! `@{pid}`, `@{pids}`, `@{tid}` (a process id: digits without a leading zero), `@{PROC}` (`/proc/`),
//! `@{sys}` (`/sys/`); any other variable matches nothing, so a rule trace cannot evaluate never
//! hides a change (it shows as drift instead).
//!
//! A pattern is compiled to a nondeterministic automaton whose alternatives share the states that
//! follow them (nothing is expanded), and a path is matched by following every state the automaton
//! can be in at once: at most [`MAX_STATES`] states per path byte, no backtracking, no recursion.
//! Parsing recurses once per `{` level, at most [`MAX_DEPTH`]. Patterns beyond the bounds are
//! refused ([`PatternError`]): far larger than any real profile's, they can only be a mistake or
//! an attack, and a drift check that cannot read a rule must say so rather than guess.

use std::fmt;

/// Longest pattern read, in bytes (AppArmor's paths are at most 4096 bytes; alternations make a
/// rule longer than the paths it names, not sixteen times longer).
pub const MAX_PATTERN_LEN: usize = 64 * 1024;
/// Deepest nesting of `{...}` alternations.
pub const MAX_DEPTH: usize = 64;
/// Most automaton states a pattern may have: the work per path byte is at most this many steps. A
/// literal pattern (no globbing, no variables) has none: it is compared byte for byte.
pub const MAX_STATES: usize = 65_536;

/// One element of a parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `*` (false) or `**` (true); `nonempty` when right after a `/`.
    Star {
        slash: bool,
        nonempty: bool,
    },
    Any,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
    Alt(Vec<Vec<Token>>),
    Pid,
    Never,
}

/// A set of bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    const EMPTY: ByteSet = ByteSet([0; 4]);

    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    fn contains(self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    fn range(low: u8, high: u8) -> ByteSet {
        let mut set = ByteSet::EMPTY;
        for b in low..=high {
            set.insert(b);
        }
        set
    }

    fn union(self, other: ByteSet) -> ByteSet {
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        out
    }

    fn complement(self) -> ByteSet {
        ByteSet(self.0.map(|w| !w))
    }

    /// Every byte but `/`.
    fn not_slash() -> ByteSet {
        ByteSet::range(b'/', b'/').complement()
    }
}

impl fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes: Vec<u8> = (0..=u8::MAX).filter(|&b| self.contains(b)).collect();
        write!(f, "ByteSet({})", bytes.escape_ascii())
    }
}

/// A state of the automaton; the numbers are indices of states.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Consumes this byte, then goes to the state.
    Byte(u8, usize),
    /// Consumes one byte of the set, then goes to the state.
    Set(ByteSet, usize),
    /// Consumes any number of bytes of the set, staying here; at any point goes on (consuming
    /// nothing) to the state.
    Repeat(ByteSet, usize),
    /// Goes on (consuming nothing) to each of these states; with none, matches nothing.
    Split(Vec<usize>),
    /// The whole pattern matched.
    Match,
}

/// A parsed AppArmor path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// The bytes of a pattern without globbing or variables (matched by comparison).
    literal: Option<Vec<u8>>,
    /// The automaton (empty for a literal pattern).
    states: Vec<State>,
    /// The state matching starts in.
    start: usize,
}

/// Why a pattern could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Longer than [`MAX_PATTERN_LEN`].
    #[error("pattern of {len} bytes, more than the {MAX_PATTERN_LEN} trace reads")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Alternations nested deeper than [`MAX_DEPTH`].
    #[error("alternations nested more than {MAX_DEPTH} deep")]
    TooDeep,
    /// The automaton would have more than [`MAX_STATES`] states.
    #[error("pattern too complex (more than {MAX_STATES} automaton states)")]
    TooManyStates,
    /// A `{`, `[` or `@{` without its closing bracket.
    #[error("unclosed {0}")]
    Unclosed(&'static str),
    /// A `\` as the last character.
    #[error("a \\ at the end")]
    TrailingBackslash,
    /// An escape whose digits are missing or exceed a byte.
    #[error("bad escape \\{kind}{digits}")]
    BadEscape {
        /// `x`, `d` or empty (octal).
        kind: &'static str,
        /// The digits read.
        digits: String,
    },
}

impl Pattern {
    /// Parses the pattern text of a rule (the inside of the quotes of a quoted path).
    pub fn parse(text: &[u8]) -> Result<Pattern, PatternError> {
        if text.len() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong { len: text.len() });
        }
        let mut parser = Parser { text, pos: 0 };
        let tokens = parser.sequence(0)?;
        let literal: Option<Vec<u8>> = tokens
            .iter()
            .map(|t| match t {
                Token::Byte(b) => Some(*b),
                _ => None,
            })
            .collect();
        if literal.is_some() {
            return Ok(Pattern {
                literal,
                states: Vec::new(),
                start: 0,
            });
        }
        let mut states = vec![State::Match];
        let start = compile(&tokens, 0, &mut states)?;
        Ok(Pattern {
            literal: None,
            states,
            start,
        })
    }

    /// Whether the pattern matches `path` as a whole. Linear in the path's length (times at most
    /// [`MAX_STATES`]).
    pub fn matches(&self, path: &[u8]) -> bool {
        if let Some(literal) = &self.literal {
            return literal == path;
        }
        // `seen[s]` is the last step `s` was added at, so a state is followed once per step.
        let mut seen = vec![usize::MAX; self.states.len()];
        let mut current = Vec::new();
        let mut next = Vec::new();
        let mut stack = Vec::new();
        self.add(self.start, 0, &mut seen, &mut current, &mut stack);
        for (i, &c) in path.iter().enumerate() {
            if current.is_empty() {
                return false;
            }
            let step = i + 1;
            next.clear();
            for &s in &current {
                let to = match &self.states[s] {
                    State::Byte(b, to) if *b == c => *to,
                    State::Set(set, to) if set.contains(c) => *to,
                    State::Repeat(set, _) if set.contains(c) => s,
                    _ => continue,
                };
                if seen[to] != step {
                    self.add(to, step, &mut seen, &mut next, &mut stack);
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        current.iter().any(|&s| self.states[s] == State::Match)
    }

    /// Adds `state` and every state it goes on to without consuming to `list`, each once per step.
    fn add(
        &self,
        state: usize,
        step: usize,
        seen: &mut [usize],
        list: &mut Vec<usize>,
        stack: &mut Vec<usize>,
    ) {
        let mut s = state;
        loop {
            if seen[s] != step {
                seen[s] = step;
                match &self.states[s] {
                    State::Split(to) => stack.extend(to),
                    State::Repeat(_, to) => {
                        list.push(s);
                        s = *to;
                        continue;
                    }
                    State::Byte(..) | State::Set(..) | State::Match => list.push(s),
                }
            }
            match stack.pop() {
                Some(next) => s = next,
                None => return,
            }
        }
    }

    /// Whether the pattern has no globbing or variables: a literal path.
    pub fn literal(&self) -> Option<Vec<u8>> {
        self.literal.clone()
    }
}

/// Adds the states of `tokens` followed by state `next`; returns the first.
fn compile(
    tokens: &[Token],
    mut next: usize,
    states: &mut Vec<State>,
) -> Result<usize, PatternError> {
    let push = |states: &mut Vec<State>, state: State| {
        states.push(state);
        if states.len() > MAX_STATES {
            return Err(PatternError::TooManyStates);
        }
        Ok(states.len() - 1)
    };
    for token in tokens.iter().rev() {
        next = match token {
            Token::Byte(b) => push(states, State::Byte(*b, next))?,
            Token::Any => push(states, State::Set(ByteSet::not_slash(), next))?,
            Token::Class { negated, ranges } => {
                let set = ranges.iter().fold(ByteSet::EMPTY, |set, &(l, h)| {
                    set.union(ByteSet::range(l, h))
                });
                let set = if *negated { set.complement() } else { set };
                push(states, State::Set(set, next))?
            }
            Token::Star { slash, nonempty } => {
                let set = if *slash {
                    ByteSet::EMPTY.complement()
                } else {
                    ByteSet::not_slash()
                };
                let repeat = push(states, State::Repeat(set, next))?;
                if *nonempty {
                    push(states, State::Set(set, repeat))?
                } else {
                    repeat
                }
            }
            Token::Pid => {
                let repeat = push(states, State::Repeat(ByteSet::range(b'0', b'9'), next))?;
                push(states, State::Set(ByteSet::range(b'1', b'9'), repeat))?
            }
            Token::Never => push(states, State::Split(Vec::new()))?,
            Token::Alt(alternatives) => {
                let mut starts = Vec::with_capacity(alternatives.len());
                for alternative in alternatives {
                    starts.push(compile(alternative, next, states)?);
                }
                push(states, State::Split(starts))?
            }
        };
    }
    Ok(next)
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// Tokens up to the end, or (inside braces, `depth` > 0) up to `,` or `}`.
    fn sequence(&mut self, depth: usize) -> Result<Vec<Token>, PatternError> {
        let mut out: Vec<Token> = Vec::new();
        while let Some(c) = self.peek() {
            if depth > 0 && (c == b',' || c == b'}') {
                break;
            }
            self.pos += 1;
            let after_slash = matches!(out.last(), Some(Token::Byte(b'/')));
            let token = match c {
                b'\\' => Token::Byte(self.escape()?),
                b'*' => {
                    let slash = self.peek() == Some(b'*');
                    while self.peek() == Some(b'*') {
                        self.pos += 1;
                    }
                    Token::Star {
                        slash,
                        nonempty: after_slash,
                    }
                }
                b'?' => Token::Any,
                b'[' => self.class()?,
                b'{' => self.alternation(depth + 1)?,
                b'@' if self.peek() == Some(b'{') => {
                    let end = self.text[self.pos..]
                        .iter()
                        .position(|&b| b == b'}')
                        .ok_or(PatternError::Unclosed("@{"))?;
                    let name = &self.text[self.pos + 1..self.pos + end];
                    self.pos += end + 1;
                    match name {
                        b"pid" | b"pids" | b"tid" => Token::Pid,
                        b"PROC" => {
                            out.extend(b"/proc/".iter().map(|&b| Token::Byte(b)));
                            continue;
                        }
                        b"sys" => {
                            out.extend(b"/sys/".iter().map(|&b| Token::Byte(b)));
                            continue;
                        }
                        _ => Token::Never,
                    }
                }
                c => Token::Byte(c),
            };
            // AppArmor collapses repeated slashes (a variable ending in / before a /).
            if token == Token::Byte(b'/') && after_slash {
                continue;
            }
            out.push(token);
        }
        Ok(out)
    }

    /// The alternatives of a `{...}` (the `{` read) at nesting `depth`.
    fn alternation(&mut self, depth: usize) -> Result<Token, PatternError> {
        if depth > MAX_DEPTH {
            return Err(PatternError::TooDeep);
        }
        let mut alternatives = vec![self.sequence(depth)?];
        loop {
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    alternatives.push(self.sequence(depth)?);
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Token::Alt(alternatives));
                }
                _ => return Err(PatternError::Unclosed("{")),
            }
        }
    }

    fn escape(&mut self) -> Result<u8, PatternError> {
        let c = self.peek().ok_or(PatternError::TrailingBackslash)?;
        let digits = |p: &mut Self, kind: &'static str, radix: u32, max: usize| {
            let start = p.pos;
            while p.pos - start < max && p.peek().is_some_and(|d| char::from(d).is_digit(radix)) {
                p.pos += 1;
            }
            let s = std::str::from_utf8(&p.text[start..p.pos]).unwrap_or_default();
            u32::from_str_radix(s, radix)
                .ok()
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| PatternError::BadEscape {
                    kind,
                    digits: s.to_owned(),
                })
        };
        match c {
            b'0'..=b'7' => digits(self, "", 8, 3),
            b'x' => {
                self.pos += 1;
                digits(self, "x", 16, 2)
            }
            b'd' => {
                self.pos += 1;
                digits(self, "d", 10, 3)
            }
            b'n' => {
                self.pos += 1;
                Ok(b'\n')
            }
            b't' => {
                self.pos += 1;
                Ok(b'\t')
            }
            b'r' => {
                self.pos += 1;
                Ok(b'\r')
            }
            other => {
                self.pos += 1;
                Ok(other)
            }
        }
    }

    fn class(&mut self) -> Result<Token, PatternError> {
        let negated = self.peek() == Some(b'^');
        if negated {
            self.pos += 1;
        }
        let mut ranges = Vec::new();
        loop {
            let c = self.peek().ok_or(PatternError::Unclosed("["))?;
            self.pos += 1;
            let low = match c {
                b']' if !ranges.is_empty() => break,
                b'\\' => self.escape()?,
                c => c,
            };
            if self.peek() == Some(b'-') && self.text.get(self.pos + 1).is_some_and(|&b| b != b']')
            {
                self.pos += 1;
                let c = self.peek().ok_or(PatternError::Unclosed("["))?;
                self.pos += 1;
                let high = if c == b'\\' { self.escape()? } else { c };
                ranges.push((low, high));
            } else {
                ranges.push((low, low));
            }
        }
        Ok(Token::Class { negated, ranges })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;

    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::parse(pattern.as_bytes())
            .unwrap()
            .matches(path.as_bytes())
    }

    /// The plain backtracking matcher over the parsed tokens: the semantics the automaton must
    /// keep, exponential in the worst case, so only for small inputs.
    fn reference(pattern: &[Token], path: &[u8]) -> bool {
        let Some((first, rest)) = pattern.split_first() else {
            return path.is_empty();
        };
        match first {
            Token::Byte(b) => path.first() == Some(b) && reference(rest, &path[1..]),
            Token::Any => path.first().is_some_and(|&c| c != b'/') && reference(rest, &path[1..]),
            Token::Class { negated, ranges } => {
                path.first()
                    .is_some_and(|&c| ranges.iter().any(|&(l, h)| (l..=h).contains(&c)) != *negated)
                    && reference(rest, &path[1..])
            }
            Token::Star { slash, nonempty } => {
                let min = usize::from(*nonempty);
                for take in 0..=path.len() {
                    if take > 0 && !slash && path[take - 1] == b'/' {
                        break;
                    }
                    if take >= min && reference(rest, &path[take..]) {
                        return true;
                    }
                }
                false
            }
            Token::Pid => {
                let digits = path.iter().take_while(|b| b.is_ascii_digit()).count();
                path.first().is_some_and(|&c| c != b'0')
                    && (1..=digits).any(|n| reference(rest, &path[n..]))
            }
            Token::Alt(alternatives) => alternatives.iter().any(|alt| {
                let joined: Vec<Token> = alt.iter().chain(rest).cloned().collect();
                reference(&joined, path)
            }),
            Token::Never => false,
        }
    }

    #[test]
    fn globs_follow_apparmor() {
        assert!(m("/etc/passwd", "/etc/passwd"));
        assert!(!m("/etc/passwd", "/etc/passwd2"));
        assert!(
            m("/etc/*", "/etc/hosts") && !m("/etc/*", "/etc/ssl/certs") && !m("/etc/*", "/etc/")
        );
        assert!(m("/etc/**", "/etc/ssl/certs/a.pem") && !m("/etc/**", "/etc/"));
        assert!(m("/usr/lib/lib*.so*", "/usr/lib/libc.so.6"));
        assert!(m("/a/?", "/a/b") && !m("/a/?", "/a/") && !m("/a/?", "/a/bc"));
        assert!(m("/{usr/,}bin/sh", "/bin/sh") && m("/{usr/,}bin/sh", "/usr/bin/sh"));
        assert!(m("/{a,b{c,d}}/x", "/bd/x") && !m("/{a,b{c,d}}/x", "/b/x"));
        assert!(m("/tmp/[a-c]x", "/tmp/bx") && !m("/tmp/[a-c]x", "/tmp/dx"));
        assert!(m("/tmp/[^a-c]x", "/tmp/dx") && !m("/tmp/[^a-c]x", "/tmp/ax"));
        assert!(m("/proc/@{pid}/status", "/proc/42/status"));
        assert!(
            !m("/proc/@{pid}/status", "/proc/self/status")
                && !m("/proc/@{pid}/status", "/proc/042/status")
        );
        assert!(m(
            "@{PROC}/sys/kernel/{?,??,[^s][^h][^m]**}",
            "/proc/sys/kernel/hostname"
        ));
        assert!(!m(
            "@{PROC}/sys/kernel/{?,??,[^s][^h][^m]**}",
            "/proc/sys/kernel/shmmax"
        ));
        assert!(
            !m("/home/@{HOME}/x", "/home/a/x"),
            "unknown variables match nothing"
        );
        assert!(m("/a{,b}", "/a") && m("/a{,b}", "/ab") && !m("/a{}", "/a}"));
        assert!(m("", "") && !m("", "/") && m("/a}", "/a}") && m("/a,b", "/a,b"));
    }

    #[test]
    fn escapes_are_literal() {
        assert!(m(r"/a\052b", "/a*b") && !m(r"/a\052b", "/axb"));
        assert!(m(r"/a\012b", "/a\nb"));
        assert!(m(r"/a\173x\054y\175b", "/a{x,y}b"));
        assert_eq!(
            Pattern::parse(br"/a\040b").unwrap().literal(),
            Some(b"/a b".to_vec())
        );
        assert_eq!(Pattern::parse(b"/a*").unwrap().literal(), None);
        assert!(Pattern::parse(b"/a{b").is_err() && Pattern::parse(b"/a[b").is_err());
        assert_eq!(
            Pattern::parse(br"/a\x4"),
            Ok(Pattern::parse(b"/a\x04").unwrap())
        );
        assert_eq!(
            Pattern::parse(br"/a\d999"),
            Err(PatternError::BadEscape {
                kind: "d",
                digits: "999".into()
            })
        );
        assert_eq!(
            Pattern::parse(b"/a\\"),
            Err(PatternError::TrailingBackslash)
        );
    }

    /// 100,000 nested braces once overflowed the stack: that is past [`MAX_PATTERN_LEN`], and
    /// nesting within the length is refused past [`MAX_DEPTH`]; the deepest nesting allowed still
    /// works.
    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let attack = format!("/{}a{}", "{".repeat(100_000), "}".repeat(100_000));
        assert_eq!(
            Pattern::parse(attack.as_bytes()),
            Err(PatternError::TooLong { len: 200_002 })
        );
        let deep = format!("/{}a{}", "{".repeat(30_000), "}".repeat(30_000));
        assert_eq!(Pattern::parse(deep.as_bytes()), Err(PatternError::TooDeep));
        let unclosed = "{".repeat(60_000);
        assert_eq!(
            Pattern::parse(unclosed.as_bytes()),
            Err(PatternError::TooDeep)
        );
        let allowed = format!("/{}a{}", "{x,".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        let pattern = Pattern::parse(allowed.as_bytes()).unwrap();
        assert!(pattern.matches(b"/a") && pattern.matches(b"/x") && !pattern.matches(b"/xa"));
        let over = format!(
            "/{}a{}",
            "{x,".repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(Pattern::parse(over.as_bytes()), Err(PatternError::TooDeep));
    }

    /// Patterns that made the backtracking matcher run for seconds or forever match at once.
    #[test]
    fn backtracking_patterns_match_in_linear_time() {
        let stars = Pattern::parse(b"/**a**a**a**a**a**a**a**b").unwrap();
        let path = format!("/{}", "a".repeat(59));
        let started = Instant::now();
        assert!(!stars.matches(path.as_bytes()));
        assert!(stars.matches(format!("{path}b").as_bytes()));
        let alternations = Pattern::parse("{a,a}".repeat(40).as_bytes()).unwrap();
        assert!(!alternations.matches(format!("{}b", "a".repeat(39)).as_bytes()));
        assert!(alternations.matches("a".repeat(40).as_bytes()));
        assert!(!alternations.matches("a".repeat(41).as_bytes()));
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    }

    #[test]
    fn oversized_patterns_are_refused() {
        let long = format!("/{}", "a".repeat(MAX_PATTERN_LEN));
        assert_eq!(
            Pattern::parse(long.as_bytes()),
            Err(PatternError::TooLong {
                len: MAX_PATTERN_LEN + 1
            })
        );
        let literal = format!("/{}", "a".repeat(MAX_PATTERN_LEN - 1));
        assert!(
            Pattern::parse(literal.as_bytes())
                .unwrap()
                .matches(literal.as_bytes()),
            "a literal pattern has no states to count"
        );
        let dense = "/*".repeat(MAX_PATTERN_LEN / 2);
        assert_eq!(
            Pattern::parse(dense.as_bytes()),
            Err(PatternError::TooManyStates)
        );
    }

    /// Pattern text made of the pieces that mean something, and stray brackets.
    fn pattern_text(max: usize) -> impl Strategy<Value = Vec<u8>> {
        let pieces: Vec<&'static [u8]> = vec![
            b"*", b"**", b"?", b"{", b"}", b",", b"[", b"]", b"[a-]", b"[^/]", b"\\", b"\\*", b"/",
            b"a", b"1", b"@{pid}", b"@{PROC}", b"@{x}",
        ];
        prop::collection::vec(prop::sample::select(pieces), 0..max).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The automaton agrees with the backtracking matcher on small inputs.
        #[test]
        fn automaton_agrees_with_backtracking(
            pattern in pattern_text(12),
            path in prop::collection::vec(prop::sample::select(b"/a{},*10p".to_vec()), 0..10),
        ) {
            let mut parser = Parser { text: &pattern, pos: 0 };
            if let (Ok(tokens), Ok(compiled)) = (parser.sequence(0), Pattern::parse(&pattern)) {
                prop_assert_eq!(compiled.matches(&path), reference(&tokens, &path));
            }
        }
    }
}
