//! Strings from the recording (hostile: written by the container or its creator) made safe for
//! each output: Markdown text, shell words, YAML scalars.

use std::fmt::Write;

use crate::recording::{encode, reorders};

/// `text` for Markdown prose: control characters and invalid UTF-8 as `\xNN` (the recording's
/// [`encode`]), bidirectional controls as `\uXXXX`, then every character Markdown or HTML could
/// read as markup backslash-escaped, so the text shows as itself and cannot open a link, code
/// span, table cell or tag.
pub fn markdown(bytes: &[u8]) -> String {
    let mut out = String::new();
    for c in encode(bytes).chars() {
        if reorders(c) {
            // Shown as `\u202e`: the Markdown escape `\\` reads as one backslash.
            let _ = write!(out, "\\\\u{:04x}", u32::from(c));
            continue;
        }
        if c.is_ascii_punctuation() && !matches!(c, '/' | '.' | ',' | ':' | '-' | '=' | '@' | '%') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `word` can be a flag value as is: printable UTF-8 with no control characters (a
/// newline would split the one-line `docker run` flags) and no bidirectional controls.
pub fn printable(word: &str) -> bool {
    !word.chars().any(|c| c.is_control() || reorders(c))
}

/// Whether `word` can be an argument of the program in the advised line: as [`printable`], but
/// a newline or a tab may be in it (a single-quoted shell word and a YAML string keep them, and
/// `sh -c` scripts have them).
pub fn argument(word: &str) -> bool {
    !word
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || reorders(c))
}

/// `word` as one POSIX shell word: as is when it holds only characters no shell treats specially,
/// else single-quoted (a `'` as `'\''`). Callers pass [`printable`] or [`argument`] words only.
pub fn shell(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=,@%+-".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `text` as a Markdown code span, shown exactly as it is: delimited by more backticks than any
/// run in it (padded with a space when it starts or ends with one), since escapes do not work in
/// a code span. Text that is not [`printable`] (a newline would end the item) is written with
/// [`markdown`] instead, outside a span.
pub fn code_span(text: &str) -> String {
    if text.is_empty() || !printable(text) {
        return markdown(text.as_bytes());
    }
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// A fence of backticks longer than any run of backticks in `text`, at least three.
pub fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cannot_open_markup() {
        let hostile = b"/x`](http://evil)<script>*_|#\n\xff";
        let text = markdown(hostile);
        assert_eq!(text, r"/x\`\]\(http://evil\)\<script\>\*\_\|\#\\x0a\\xff");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn shell_words_survive_a_shell() {
        assert_eq!(shell("/run"), "/run");
        assert_eq!(shell("ALL"), "ALL");
        assert_eq!(shell("a b'$(rm -rf /)"), r"'a b'\''$(rm -rf /)'");
        assert_eq!(shell(""), "''");
        assert!(!printable("a\nb"));
        let word = "it's $HOME `x` \\ \"q\"";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell(word)))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), word);
    }

    #[test]
    fn bidirectional_controls_are_neither_printable_nor_shown() {
        let word = "ls \u{202e}txt.exe";
        assert!(!printable(word) && !argument(word));
        assert_eq!(markdown(word.as_bytes()), r"ls \\u202etxt.exe");
        assert!(argument("line one\n\tline two") && !printable("a\tb"));
        assert!(!argument("a\rb") && !argument("\u{1b}[2J"));
    }

    #[test]
    fn code_spans_show_their_text_exactly() {
        assert_eq!(code_span("a_b.json"), "`a_b.json`");
        assert_eq!(code_span("x`y"), "``x`y``");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(code_span("a\nb"), r"a\\x0ab");
    }

    #[test]
    fn fences_are_longer_than_any_run_of_ticks() {
        assert_eq!(fence("no ticks"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }
}
