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

/// One element of a pattern.
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

/// A parsed AppArmor path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(Vec<Token>);

/// Why a pattern could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(String);

impl Pattern {
    /// Parses the pattern text of a rule (the inside of the quotes of a quoted path).
    pub fn parse(text: &[u8]) -> Result<Pattern, PatternError> {
        let mut parser = Parser { text, pos: 0 };
        let tokens = parser.sequence(false)?;
        if parser.pos < text.len() {
            return Err(PatternError(format!(
                "unexpected {:?}",
                char::from(text[parser.pos])
            )));
        }
        Ok(Pattern(tokens))
    }

    /// Whether the pattern matches `path` as a whole.
    pub fn matches(&self, path: &[u8]) -> bool {
        matches(&self.0, path)
    }

    /// Whether the pattern has no globbing or variables: a literal path.
    pub fn literal(&self) -> Option<Vec<u8>> {
        self.0
            .iter()
            .map(|t| match t {
                Token::Byte(b) => Some(*b),
                _ => None,
            })
            .collect()
    }
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// Tokens up to the end, or (inside braces) up to `,` or `}`.
    fn sequence(&mut self, in_braces: bool) -> Result<Vec<Token>, PatternError> {
        let mut out: Vec<Token> = Vec::new();
        while let Some(c) = self.peek() {
            if in_braces && (c == b',' || c == b'}') {
                break;
            }
            self.pos += 1;
            let after_slash = matches!(out.last(), Some(Token::Byte(b'/')));
            let token = match c {
                b'\\' => Token::Byte(self.escape()?),
                b'*' => {
                    let slash = self.peek() == Some(b'*');
                    if slash {
                        self.pos += 1;
                        while self.peek() == Some(b'*') {
                            self.pos += 1;
                        }
                    }
                    Token::Star {
                        slash,
                        nonempty: after_slash,
                    }
                }
                b'?' => Token::Any,
                b'[' => self.class()?,
                b'{' => {
                    let mut alternatives = vec![self.sequence(true)?];
                    loop {
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                alternatives.push(self.sequence(true)?);
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(PatternError("unclosed {".into())),
                        }
                    }
                    Token::Alt(alternatives)
                }
                b'@' if self.peek() == Some(b'{') => {
                    let end = self.text[self.pos..]
                        .iter()
                        .position(|&b| b == b'}')
                        .ok_or_else(|| PatternError("unclosed @{".into()))?;
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

    fn escape(&mut self) -> Result<u8, PatternError> {
        let c = self
            .peek()
            .ok_or_else(|| PatternError("a \\ at the end".into()))?;
        let digits = |p: &mut Self, radix: u32, max: usize| {
            let start = p.pos;
            while p.pos - start < max && p.peek().is_some_and(|d| char::from(d).is_digit(radix)) {
                p.pos += 1;
            }
            let s = std::str::from_utf8(&p.text[start..p.pos]).unwrap_or_default();
            u32::from_str_radix(s, radix)
                .ok()
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| PatternError(format!("bad escape \\{s}")))
        };
        match c {
            b'0'..=b'7' => digits(self, 8, 3),
            b'x' => {
                self.pos += 1;
                digits(self, 16, 2)
            }
            b'd' => {
                self.pos += 1;
                digits(self, 10, 3)
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
            let c = self
                .peek()
                .ok_or_else(|| PatternError("unclosed [".into()))?;
            self.pos += 1;
            let low = match c {
                b']' if !ranges.is_empty() => break,
                b'\\' => self.escape()?,
                c => c,
            };
            if self.peek() == Some(b'-') && self.text.get(self.pos + 1).is_some_and(|&b| b != b']')
            {
                self.pos += 1;
                let c = self
                    .peek()
                    .ok_or_else(|| PatternError("unclosed [".into()))?;
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

fn matches(pattern: &[Token], path: &[u8]) -> bool {
    let Some((first, rest)) = pattern.split_first() else {
        return path.is_empty();
    };
    match first {
        Token::Byte(b) => path.first() == Some(b) && matches(rest, &path[1..]),
        Token::Any => path.first().is_some_and(|&c| c != b'/') && matches(rest, &path[1..]),
        Token::Class { negated, ranges } => {
            path.first()
                .is_some_and(|&c| ranges.iter().any(|&(l, h)| (l..=h).contains(&c)) != *negated)
                && matches(rest, &path[1..])
        }
        Token::Star { slash, nonempty } => {
            let min = usize::from(*nonempty);
            for take in 0..=path.len() {
                if take > 0 && !slash && path[take - 1] == b'/' {
                    break;
                }
                if take >= min && matches(rest, &path[take..]) {
                    return true;
                }
            }
            false
        }
        Token::Pid => {
            let digits = path.iter().take_while(|b| b.is_ascii_digit()).count();
            path.first().is_some_and(|&c| c != b'0')
                && (1..=digits).any(|n| matches(rest, &path[n..]))
        }
        Token::Alt(alternatives) => alternatives.iter().any(|alt| {
            let joined: Vec<Token> = alt.iter().chain(rest).cloned().collect();
            matches(&joined, path)
        }),
        Token::Never => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::parse(pattern.as_bytes())
            .unwrap()
            .matches(path.as_bytes())
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
    }
}
