//! The readers `trace check` trusts with committed files, attacked: the AppArmor glob matcher
//! runs in bounded time on any pattern and path, the AppArmor and seccomp readers never panic on
//! any text (arbitrary, or a real rendered profile mutated), and the inputs that once overflowed
//! the stack, ran for seconds, or made a profile count every file as allowed (or nothing at all,
//! as drift) are refused or read right. A refused profile makes `load_committed` fail, which
//! `trace check` reports with exit status 2.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use trace_user::check::{self, Committed, apparmor, glob::Pattern, seccomp};
use trace_user::recording::{Access, Recording};
use trace_user::render::{self, Format, Options};

mod fixtures;
use fixtures::FIXTURES;

/// Longest a single parse and match may take. Matching is linear, a few milliseconds in a debug
/// build; a backtracking matcher takes seconds to hours on these inputs. The margin is for a
/// machine busy with other tests: the bound tells linear from exponential, it measures no speed.
const CASE_LIMIT: Duration = Duration::from_secs(1);

fn fixture(index: usize) -> Recording {
    Recording::from_json(FIXTURES[index], "fixture").unwrap()
}

/// The committed file `file_name` rendered from fixture `index` in `format`.
fn rendered(index: usize, format: Format, file_name: &str) -> Option<String> {
    let options = Options {
        format,
        ..Options::default()
    };
    render::profiles_with(&fixture(index), &options)
        .into_iter()
        .find(|f| f.file_name == file_name)
        .map(|f| f.contents)
}

/// Writes `files` to a fresh directory and reads it as `trace check --against` does.
fn load(files: &[(&str, &str)]) -> anyhow::Result<Committed> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    check::load_committed(dir.path())
}

/// The shortest of up to three runs of `f` (stopping at the first under [`CASE_LIMIT`]): a slow
/// matcher is slow every time, a busy machine only now and then.
fn fastest(f: impl Fn()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        f();
        best = best.min(started.elapsed());
        if best < CASE_LIMIT {
            break;
        }
    }
    best
}

fn assert_fast(started: Instant, what: &str) {
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(1), "{what}: {elapsed:?}");
}

#[test]
fn a_hundred_thousand_nested_braces_are_refused() {
    let nested = format!("/{}a{}", "{".repeat(100_000), "}".repeat(100_000));
    assert!(Pattern::parse(nested.as_bytes()).is_err());
    let profile = format!("profile trace-x {{\n  {nested} r,\n}}\n");
    assert!(apparmor::parse(&profile).is_err());
    assert!(load(&[("apparmor.profile", &profile)]).is_err());
}

#[test]
fn stars_around_literals_match_in_linear_time() {
    let started = Instant::now();
    let pattern = Pattern::parse(b"/**a**a**a**a**a**a**a**b").unwrap();
    let path = format!("/{}", "a".repeat(59));
    assert_eq!(path.len(), 60);
    assert!(!pattern.matches(path.as_bytes()));
    assert!(pattern.matches(format!("{path}b").as_bytes()));
    assert_fast(started, "/**a**a**a**a**a**a**a**b");
}

#[test]
fn forty_alternations_match_in_linear_time() {
    let started = Instant::now();
    let pattern = Pattern::parse("{a,a}".repeat(40).as_bytes()).unwrap();
    assert!(!pattern.matches(format!("{}b", "a".repeat(39)).as_bytes()));
    assert!(pattern.matches("a".repeat(40).as_bytes()));
    assert_fast(started, "{a,a} x40");
}

/// An extra `profile other { /** rwmix, }` block once made every file count as allowed.
#[test]
fn another_profiles_rules_allow_nothing() {
    let base = fixture(1);
    let profile = rendered(1, Format::Docker, render::APPARMOR_FILE).unwrap();
    let mut changed = base.clone();
    changed.record_file("/data/never-seen-before", Access::Write);
    for other in [
        "profile other {\n  /** rwmix,\n}\n",
        "profile other { /** rwmix, }\n",
    ] {
        let with_other = format!("{profile}\n{other}");
        let committed = load(&[(render::APPARMOR_FILE, &with_other)]).unwrap();
        let report = check::check(&changed, &committed, "p", false);
        assert!(report.drift, "{other:?}: {}", check::render_text(&report));
        assert!(
            report
                .new
                .files
                .iter()
                .any(|f| f.path == "/data/never-seen-before"),
            "{other:?}: {}",
            check::render_text(&report)
        );
        assert!(
            !check::check(&base, &committed, "p", false).drift,
            "the container's own profile still covers the recording"
        );
    }
}

/// A profile that cannot be read is "cannot check" (an error: exit 2), not drift (exit 1).
#[test]
fn empty_garbage_and_unterminated_profiles_cannot_be_checked() {
    let profile = rendered(1, Format::Docker, render::APPARMOR_FILE).unwrap();
    let unterminated = &profile[..profile.rfind('}').unwrap()];
    let cut_rule = &profile[..profile.rfind(',').unwrap()];
    let garbage_inside = profile.replacen("  capability", "  this is not a rule,\n  capability", 1);
    for (what, text) in [
        ("empty", ""),
        ("blank", "\n  \n"),
        ("garbage", "\u{0}\u{1}garbage{{{ ]]] ,,,"),
        ("words", "hello world\n"),
        ("unterminated", unterminated),
        ("a rule cut off", cut_rule),
        ("garbage inside", &garbage_inside),
    ] {
        assert!(apparmor::parse(text).is_err(), "{what}");
        assert!(load(&[(render::APPARMOR_FILE, text)]).is_err(), "{what}");
    }
    for (what, text) in [
        ("empty", ""),
        ("garbage", "\u{0}garbage{"),
        ("unknown action", r#"{"defaultAction":"SCMP_ACT_ALOW"}"#),
        (
            "empty name",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[""],"action":"SCMP_ACT_ALLOW"}]}"#,
        ),
        (
            "control character",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read\u0000"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ),
    ] {
        assert!(seccomp::parse(text).is_err(), "{what}");
        assert!(load(&[(render::SECCOMP_FILE, text)]).is_err(), "{what}");
    }
}

/// 100,000 nested YAML flow mappings kept the YAML parser busy for minutes: refused at once.
#[test]
fn deeply_nested_yaml_is_refused_at_once() {
    let nested = format!("kind: SeccompProfile\nspec: {}", "{a: ".repeat(100_000));
    for name in [render::SPO_SECCOMP_FILE, render::SPO_APPARMOR_FILE] {
        let started = Instant::now();
        assert!(load(&[(name, &nested)]).is_err(), "{name}");
        assert_fast(started, name);
    }
}

/// Every profile trace renders, in every format, is read back.
#[test]
fn every_rendered_profile_is_read() {
    for index in 0..FIXTURES.len() {
        for format in [Format::Docker, Format::Oci, Format::Spo] {
            let options = Options {
                format,
                ..Options::default()
            };
            let files = render::profiles_with(&fixture(index), &options);
            let dir = tempfile::tempdir().unwrap();
            for file in &files {
                std::fs::write(dir.path().join(file.file_name), &file.contents).unwrap();
            }
            let committed = check::load_committed(Path::new(dir.path()));
            assert!(
                committed.is_ok(),
                "v{} {format:?}: {committed:?}",
                index + 1
            );
        }
    }
}

/// Pattern text rich in the characters that mean something to the matcher and in the pieces that
/// make a backtracking matcher explode (`**a`, `{a,a}`), up to 300 bytes. Unclosed `{`, `[` and
/// `@{` are rare enough that most patterns parse.
fn pattern_text() -> impl Strategy<Value = Vec<u8>> {
    let single = prop::sample::select(b"*?,}]^-/aaa@\\".to_vec()).prop_map(|b| vec![b]);
    let piece = prop::sample::select(vec![
        &b"**a"[..],
        b"{a,a}",
        b"*a",
        b"{*,a}",
        b"{a,{b,**}}",
        b"{,/}",
        b"[^/]",
        b"[a-c]",
        b"@{pid}",
        b"\\*",
    ])
    .prop_map(<[u8]>::to_vec);
    let opener = prop::sample::select(vec![&b"{"[..], b"[", b"@{"]).prop_map(<[u8]>::to_vec);
    prop::collection::vec(prop_oneof![70 => single, 28 => piece, 1 => opener], 0..100)
        .prop_map(|pieces| pieces.concat())
        .prop_filter("at most 300 bytes", |text| text.len() <= 300)
}

/// A path, mostly of the bytes patterns name, up to AppArmor's longest (4096 bytes).
fn path_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"/aaaaaaab1{},*".to_vec()), 0..=4096)
}

/// One edit of a text: delete, insert or duplicate at a place.
#[derive(Clone, Debug)]
enum Edit {
    Delete(prop::sample::Index, usize),
    Insert(prop::sample::Index, &'static str),
    Duplicate(prop::sample::Index, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let snippet = prop::sample::select(vec![
        "{",
        "}",
        ",",
        "\n",
        "\"",
        "#",
        "\\",
        "(",
        ")",
        "[",
        "]",
        "^hat {",
        "profile p {",
        "deny",
        "/**",
        "@{",
        "rwmix",
        "\u{0}",
        "\u{1b}",
        "é",
        " ",
    ]);
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), 1..40usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<prop::sample::Index>(), snippet).prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<prop::sample::Index>(), 1..80usize).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ];
    prop::collection::vec(edit, 1..8)
}

fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let at = |i: &prop::sample::Index| i.index(bytes.len() + 1);
        match edit {
            Edit::Delete(i, n) => {
                let start = at(i);
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Edit::Insert(i, s) => {
                let start = at(i);
                bytes.splice(start..start, s.bytes());
            }
            Edit::Duplicate(i, n) => {
                let start = at(i);
                let end = (start + n).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Profile-like text: the characters the readers treat specially, words and newlines.
fn profile_like() -> impl Strategy<Value = String> {
    "([a-z/*?@^\"#,{}()\\[\\]\\\\ \n-]|profile |deny |capability |network |file |-> |rw, ){0,200}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any pattern either is refused or matches any path quickly.
    #[test]
    fn glob_matching_is_bounded(pattern in pattern_text(), path in path_text()) {
        let elapsed = fastest(|| {
            if let Ok(pattern) = Pattern::parse(&pattern) {
                pattern.matches(&path);
            }
        });
        prop_assert!(elapsed < CASE_LIMIT, "{elapsed:?}");
    }
}

/// Patterns a backtracking matcher tries exponentially many ways to fit to a run of `a`s.
fn backtracking_bait() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop::sample::select(vec![
        &b"**a"[..],
        b"*a",
        b"{a,a}",
        b"{a,*}",
        b"{a,aa}",
        b"a",
        b"?",
        b"**",
    ]);
    prop::collection::vec(piece, 1..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Patterns built to backtrack, against runs of up to 4096 `a`s that almost fit.
    #[test]
    fn glob_matching_is_bounded_on_backtracking_bait(
        pattern in backtracking_bait(),
        run in 1..=4095usize,
        end in prop::sample::select(vec![&b""[..], b"b", b"/"]),
    ) {
        let pattern = Pattern::parse(&pattern).unwrap();
        let path = [vec![b'a'; run], end.to_vec()].concat();
        let elapsed = fastest(|| {
            pattern.matches(&path);
        });
        prop_assert!(elapsed < CASE_LIMIT, "{elapsed:?}");
    }

    #[test]
    fn apparmor_reader_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = apparmor::parse(&text);
    }

    #[test]
    fn apparmor_reader_never_panics_on_profile_like_text(text in profile_like()) {
        let _ = apparmor::parse(&text);
    }

    /// A rendered profile with a few edits is read or refused, never a panic, in bounded time.
    #[test]
    fn apparmor_reader_never_panics_on_mutated_profiles(
        index in 0..FIXTURES.len(),
        edits in edits(),
    ) {
        let profile = rendered(index, Format::Docker, render::APPARMOR_FILE).unwrap();
        let text = mutate(&profile, &edits);
        let elapsed = fastest(|| {
            let _ = apparmor::parse(&text);
        });
        prop_assert!(elapsed < CASE_LIMIT, "{elapsed:?}");
    }

    #[test]
    fn seccomp_reader_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = seccomp::parse(&text);
    }

    #[test]
    fn seccomp_reader_never_panics_on_json_like_text(
        text in "([\\[\\]{}\":,a-zA-Z_0-9 \n-]|SCMP_ACT_ALLOW|defaultAction|syscalls|names|kind: SeccompProfile|&a|\\*a){0,200}",
    ) {
        let _ = seccomp::parse(&text);
    }

    /// A rendered seccomp profile (Docker, OCI or operator) with a few edits is read or refused.
    #[test]
    fn seccomp_reader_never_panics_on_mutated_profiles(
        index in 0..FIXTURES.len(),
        format in prop::sample::select(vec![Format::Docker, Format::Oci, Format::Spo]),
        edits in edits(),
    ) {
        let name = if format == Format::Spo { render::SPO_SECCOMP_FILE } else { render::SECCOMP_FILE };
        let profile = rendered(index, format, name).unwrap();
        let _ = seccomp::parse(&mutate(&profile, &edits));
    }
}
