//! The blocks of an AppArmor profile file (profiles, hats, child profiles), built from the
//! lexer's items, each with its own statements.

use super::{Item, ParseError, Problem, Rules, at, first_word, read_statement};
use crate::check::Snippet;

/// A block of the file: a profile, hat or child profile.
pub(super) struct Block {
    /// `profile NAME`, `hat ^NAME`, ...
    pub(super) title: String,
    /// The profile's name.
    pub(super) name: String,
    /// The line of its header.
    line: usize,
    /// Its own statements with their lines.
    pub(super) statements: Vec<(usize, String)>,
    /// The titles of its hats and child profiles.
    pub(super) children: Vec<String>,
}

/// The title and name of the block `header` opens: a profile at the top level (`profile NAME
/// ...`, `/attachment ...`), a hat (`^NAME`, `hat NAME`) or child profile (`profile NAME ...`)
/// inside a profile; `None` for anything else.
pub(super) fn block_name(header: &str, top_level: bool) -> Option<(String, String)> {
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
pub(super) fn structure(items: Vec<(usize, Item)>) -> Result<Vec<Block>, ParseError> {
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
pub(super) fn read_statements(
    statements: &[(usize, String)],
    rules: &mut Rules,
) -> Result<(), ParseError> {
    for (line, text) in statements {
        read_statement(text, rules).map_err(|problem| ParseError::At {
            line: *line,
            problem,
        })?;
    }
    Ok(())
}
