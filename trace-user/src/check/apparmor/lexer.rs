//! The lexer of an AppArmor profile file: its text as block openings, closings and statements,
//! each with its line, as `apparmor_parser` reads them (see the parent module).

use super::{ParseError, Problem};
use crate::check::Snippet;

/// A piece of the file's structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Item {
    /// `HEADER {`: the header.
    Open(String),
    /// `}`.
    Close,
    /// A statement with its `,`, each run of whitespace outside quotes made one space.
    Statement(String),
}

/// Whether `text`, ended by a newline, is a directive without a comma: `include <...>`,
/// `include if exists "..."`, or a variable definition `@{X} = ...`, `@{X} += ...`, `${X} = ...`.
pub(super) fn is_directive(text: &[u8]) -> bool {
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
pub(super) struct Current {
    text: Vec<u8>,
    /// The line its first character is on.
    line: usize,
}

impl Current {
    pub(super) fn push(&mut self, bytes: &[u8], line: usize) {
        if self.text.is_empty() {
            self.line = line;
        }
        self.text.extend_from_slice(bytes);
    }

    /// Its text, trimmed; it is left empty.
    pub(super) fn take(&mut self) -> String {
        let text = String::from_utf8_lossy(self.text.trim_ascii()).into_owned();
        self.text.clear();
        text
    }

    pub(super) fn is_blank(&self) -> bool {
        self.text.trim_ascii().is_empty()
    }
}

/// Splits the file into blocks and statements, each with the line it starts on; drops comments
/// and directives. Checks quotes and glob braces; block balance is [`structure`](super::blocks::structure)'s.
pub(super) fn lex(text: &str) -> Result<Vec<(usize, Item)>, ParseError> {
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
pub(super) fn at(line: usize, problem: Problem) -> ParseError {
    ParseError::At { line, problem }
}

/// The state of [`lex`].
pub(super) struct Lexer<'a> {
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
    pub(super) fn unterminated(&mut self) -> ParseError {
        let line = self.current.line;
        let text = self.current.take();
        at(line, Problem::Unterminated(Snippet::new(&text)))
    }

    /// Reads byte `i` (and, for a quote, an escape or a comment, what belongs to it).
    pub(super) fn next(&mut self) -> Result<(), ParseError> {
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
    pub(super) fn space(&mut self) {
        let text = &mut self.current.text;
        if !text.is_empty() && !text.ends_with(b" ") {
            text.push(b' ');
        }
    }

    pub(super) fn newline(&mut self) -> Result<(), ParseError> {
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
    pub(super) fn quoted(&mut self) -> Result<(), ParseError> {
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
    pub(super) fn open_brace(&mut self) {
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
    pub(super) fn finish(mut self) -> Result<Vec<(usize, Item)>, ParseError> {
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
