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

mod parser;
#[cfg(test)]
mod tests;

use parser::Parser;

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
