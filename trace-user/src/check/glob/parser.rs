//! The parser of an AppArmor glob: pattern text to tokens, with the limits of the parent
//! module.

use super::{MAX_DEPTH, PatternError, Token};

pub(super) struct Parser<'a> {
    pub(super) text: &'a [u8],
    pub(super) pos: usize,
}

impl Parser<'_> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// Tokens up to the end, or (inside braces, `depth` > 0) up to `,` or `}`.
    pub(super) fn sequence(&mut self, depth: usize) -> Result<Vec<Token>, PatternError> {
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
    pub(super) fn alternation(&mut self, depth: usize) -> Result<Token, PatternError> {
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

    pub(super) fn escape(&mut self) -> Result<u8, PatternError> {
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

    pub(super) fn class(&mut self) -> Result<Token, PatternError> {
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
