//! Paths as AppArmor rule words that the parser reads back as exactly those bytes.
//!
//! A file name inside the container must never add, widen or end a rule. So every path is
//! double-quoted and every byte outside [`is_safe`] (`A-Z a-z 0-9 / . _ + -`) is written as a
//! three-digit octal escape `\ooo`. Measured with `apparmor_parser` 3.0.8 (docs/apparmor.md): inside
//! quotes `\ooo` always yields the literal byte, also for the glob characters `* ? [ ] { } ^` and
//! for `\`; an octal escape reads at most three digits; `@` escaped but `{` left bare still expands
//! a variable, which cannot happen here because `{` is always escaped. NUL cannot be in a Linux
//! path and `\000` would put one in the rule, so a path holding NUL is refused.
//!
//! Only [`Segment::Pid`] and [`Segment::Tid`] (from trace's own `/proc` normaliser) are written as
//! variables, and only [`Segment::AnyName`] and [`Segment::AnyPath`] (from the rule collapsing in
//! [`super::file_rules`]) as globs; nothing taken from the recording is ever written unescaped.
//!
//! The parser reads a quoted path as one token, and a token longer than [`MAX_WORD`] characters
//! stops it ("input buffer overflow"); [`word_len`] tells the length before writing.

use std::fmt::Write;

/// The longest token `apparmor_parser` reads, quotes included: 16,384 bytes of flex input buffer
/// less its two end-of-buffer bytes (measured with 3.0.8, docs/apparmor.md). The longest path a
/// system call takes (4,095 bytes, every one escaped to four characters) is exactly this long.
pub const MAX_WORD: usize = 16_382;

/// One piece of a rule path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// Bytes matched literally.
    Literal(Vec<u8>),
    /// `@{pid}`: any process id (tunables/kernelvars).
    Pid,
    /// `@{tid}`: any thread id.
    Tid,
    /// `*`: any one name (one or more bytes, no `/`).
    AnyName,
    /// `**`: anything (one or more bytes, the first not `/`).
    AnyPath,
}

/// Bytes written as themselves: they have no meaning to the AppArmor lexer or its globbing.
pub fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'+' | b'-')
}

/// `path` appended to `out`: bytes outside [`is_safe`] through `unsafe_byte`, the variables as
/// `@{pid}` and `@{tid}`, the globs as `*` and `**`. `None` when a literal holds a NUL byte.
pub fn write_path(
    path: &[Segment],
    mut out: String,
    mut unsafe_byte: impl FnMut(u8, &mut String),
) -> Option<String> {
    for segment in path {
        match segment {
            Segment::Literal(bytes) => {
                if bytes.contains(&0) {
                    return None;
                }
                for &b in bytes {
                    if is_safe(b) {
                        out.push(char::from(b));
                    } else {
                        unsafe_byte(b, &mut out);
                    }
                }
            }
            Segment::Pid => out.push_str("@{pid}"),
            Segment::Tid => out.push_str("@{tid}"),
            Segment::AnyName => out.push('*'),
            Segment::AnyPath => out.push_str("**"),
        }
    }
    Some(out)
}

/// The characters [`quote`] writes for the literal `bytes`: one per safe byte, four per escaped
/// byte.
pub fn literal_len(bytes: &[u8]) -> usize {
    bytes.iter().map(|&b| if is_safe(b) { 1 } else { 4 }).sum()
}

/// The characters [`quote`] writes for `segment`.
pub fn segment_len(segment: &Segment) -> usize {
    match segment {
        Segment::Literal(bytes) => literal_len(bytes),
        Segment::Pid | Segment::Tid => 6,
        Segment::AnyName => 1,
        Segment::AnyPath => 2,
    }
}

/// The length of the word [`quote`] writes for `path`, quotes included.
pub fn word_len(path: &[Segment]) -> usize {
    2 + path.iter().map(segment_len).sum::<usize>()
}

/// `path` as a double-quoted AppArmor path, or `None` when it holds a NUL byte.
pub fn quote(path: &[Segment]) -> Option<String> {
    let mut word = write_path(path, String::from("\""), |b, word| {
        let _ = write!(word, "\\{b:03o}");
    })?;
    word.push('"');
    Some(word)
}

/// A literal path (no variables) quoted; `None` when it holds a NUL byte.
pub fn quote_literal(path: &[u8]) -> Option<String> {
    quote(&[Segment::Literal(path.to_vec())])
}

/// The bytes of a word written by [`quote_literal`]: the inverse, for checks and tests. `None`
/// for anything [`quote_literal`] does not write (unquoted, other escapes, variables).
pub fn unquote_literal(word: &str) -> Option<Vec<u8>> {
    let inner = word.strip_prefix('"')?.strip_suffix('"')?.as_bytes();
    let mut bytes = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' => {
                let digits = inner.get(i + 1..i + 4)?;
                if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    return None;
                }
                let value = digits
                    .iter()
                    .fold(0u16, |acc, d| acc * 8 + u16::from(d - b'0'));
                bytes.push(u8::try_from(value).ok()?);
                i += 4;
            }
            b if is_safe(b) => {
                bytes.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn quotes_and_escapes_everything_outside_the_safe_set() {
        assert_eq!(
            quote_literal(b"/usr/lib/libstdc++.so.6").unwrap(),
            "\"/usr/lib/libstdc++.so.6\""
        );
        assert_eq!(
            quote_literal(b"/a b,\"#\n").unwrap(),
            r#""/a\040b\054\042\043\012""#
        );
        assert_eq!(
            quote_literal(b"/@{HOME}*?[]^\\\xff").unwrap(),
            r#""/\100\173HOME\175\052\077\133\135\136\134\377""#
        );
        assert_eq!(quote_literal(b"/a\0b"), None);
        let proc_path = [
            Segment::Literal(b"/proc/".to_vec()),
            Segment::Pid,
            Segment::Literal(b"/task/".to_vec()),
            Segment::Tid,
            Segment::Literal(b"/stat".to_vec()),
        ];
        assert_eq!(
            quote(&proc_path).unwrap(),
            "\"/proc/@{pid}/task/@{tid}/stat\""
        );
    }

    #[test]
    fn globs_are_the_only_bare_glob_characters() {
        // AppArmor glob characters in the directory stay escaped; only the glob itself is bare.
        let names = [
            Segment::Literal(b"/a*b/{x,y}[z]/".to_vec()),
            Segment::AnyName,
        ];
        assert_eq!(
            quote(&names).unwrap(),
            r#""/a\052b/\173x\054y\175\133z\135/*""#
        );
        let tree = [Segment::Literal(b"/**/".to_vec()), Segment::AnyPath];
        assert_eq!(quote(&tree).unwrap(), r#""/\052\052/**""#);
        for path in [&names[..], &tree[..]] {
            assert_eq!(word_len(path), quote(path).unwrap().len());
        }
    }

    proptest! {
        #[test]
        fn the_length_is_known_before_writing(bytes in proptest::collection::vec(1u8..=255, 0..5000)) {
            let path = [Segment::Literal(bytes), Segment::Pid, Segment::AnyPath];
            prop_assert_eq!(word_len(&path), quote(&path).unwrap().len());
        }

        #[test]
        fn escaping_is_literal_and_reversible(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let word = quote_literal(&bytes);
            if bytes.contains(&0) {
                prop_assert!(word.is_none());
                return Ok(());
            }
            let word = word.unwrap();
            let inner = &word.as_bytes()[1..word.len() - 1];
            prop_assert!(word.starts_with('"') && word.ends_with('"'));
            prop_assert!(!inner.contains(&b'"'), "no bare quote: {word}");
            prop_assert!(!inner.iter().any(|&b| b == b'\n' || b == 0 || b == b'\r'));
            // Outside escapes only safe bytes remain: no glob, variable, comment, comma or space.
            prop_assert!(inner.iter().all(|&b| is_safe(b) || b == b'\\'));
            prop_assert!(
                !inner.iter().any(|b| b"*?[]{}^@#,\" \t".contains(b)),
                "a glob, variable or separator byte left bare: {word}"
            );
            prop_assert!(word.is_ascii());
            prop_assert_eq!(unquote_literal(&word), Some(bytes));
        }
    }
}
