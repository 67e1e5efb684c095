//! Strings from the recording (hostile: written by the container or its creator) made safe for
//! each output: Markdown text, shell words, YAML scalars.

use crate::recording::encode;

/// `text` for Markdown prose: control characters and invalid UTF-8 as `\xNN` (the recording's
/// [`encode`]), then every character Markdown or HTML could read as markup backslash-escaped, so
/// the text shows as itself and cannot open a link, code span, table cell or tag.
pub fn markdown(bytes: &[u8]) -> String {
    let mut out = String::new();
    for c in encode(bytes).chars() {
        if c.is_ascii_punctuation() && !matches!(c, '/' | '.' | ',' | ':' | '-' | '=' | '@' | '%') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `word` can be a flag value as is: printable UTF-8 with no control characters (a
/// newline would split the one-line `docker run` flags).
pub fn printable(word: &str) -> bool {
    !word.chars().any(char::is_control)
}

/// `word` as one POSIX shell word: as is when it holds only characters no shell treats specially,
/// else single-quoted (a `'` as `'\''`). Callers pass [`printable`] words only.
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
    fn fences_are_longer_than_any_run_of_ticks() {
        assert_eq!(fence("no ticks"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }
}
