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
    assert!(m("/etc/*", "/etc/hosts") && !m("/etc/*", "/etc/ssl/certs") && !m("/etc/*", "/etc/"));
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
