//! Rendered AppArmor profiles through the real `apparmor_parser` (compile only: `-Q -K`, no kernel
//! and no root needed). Proves that the fixture's profile is accepted and that hostile file names
//! stay literal: the DFA the parser builds from the file rules accepts exactly the recorded paths,
//! byte for byte, and nothing else (no glob, no variable, no extra or cut rule). And that a
//! profile always loads: the parser's limits are where trace assumes them, and recordings beyond
//! them (100,000 files, paths too long for one token) render profiles the parser accepts, whose
//! glob rules still allow every recorded path with its permissions.
//!
//! Without `apparmor_parser` the tests print `skipping <test>: <reason>` and pass, except under
//! `TRACE_SYSTEM_TESTS=require` (CI), where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use trace_user::recording::{Access, Category, PathBytes, Recording, normalize};
use trace_user::render::apparmor::escape::{MAX_WORD, Segment};
use trace_user::render::apparmor::{self, collapse, escape, file_rules};

const FIXTURE_V1: &str = include_str!("data/recording-v1.json");
const FIXTURE_V2: &str = include_str!("data/recording-v2.json");

/// The parser, or `None` after saying why the test is skipped.
fn parser(test: &str) -> Option<PathBuf> {
    let found = ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"]
        .iter()
        .map(PathBuf::from)
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths)
                .map(|dir| dir.join("apparmor_parser")),
        )
        .find(|p| p.is_file());
    if found.is_none() {
        trace_tests::cannot_run(
            test,
            "apparmor_parser is not installed (Debian package apparmor)",
        );
    }
    found
}

/// Compiles `profile` (`-Q -K`: no kernel, no cache) with the `-D` dumps given; returns whether it
/// was accepted and everything the parser printed.
fn compile(parser: &PathBuf, profile: &[u8], dumps: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("profile");
    std::fs::write(&file, profile).unwrap();
    let mut command = Command::new(parser);
    command.args(["-Q", "-K"]);
    for dump in dumps {
        command.args(["-D", dump]);
    }
    let out = command.arg(&file).output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The language of the DFA `-D dfa-states` printed: every accepted byte string with its
/// permissions. Panics when the DFA has a transition on anything but a single byte (a class, a
/// wildcard) or a cycle: either would mean a rule matches more than one literal path.
fn dfa_language(dump: &str) -> BTreeMap<Vec<u8>, String> {
    Dfa::parse(dump).language()
}

/// A minimal profile around `rules`.
fn profile_with(rules: &[&str]) -> Vec<u8> {
    let mut text = String::from("abi <abi/3.0>,\ninclude <tunables/global>\nprofile \"p\" {\n");
    for rule in rules {
        text.push_str("  ");
        text.push_str(rule);
        text.push('\n');
    }
    text.push_str("}\n");
    text.into_bytes()
}

/// The language of `rules` alone, as the parser compiles them.
fn language_of(parser: &PathBuf, rules: &[&str]) -> BTreeMap<Vec<u8>, String> {
    let (ok, dump) = compile(parser, &profile_with(rules), &["dfa-states"]);
    assert!(ok, "rejected: {rules:?}\n{dump}");
    dfa_language(&dump)
}

/// The file rule lines of a rendered profile (rules start with a quoted path), without comments.
fn file_rule_lines(profile: &str) -> Vec<&str> {
    profile
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('"'))
        .map(|l| l.split("  #").next().unwrap())
        .collect()
}

fn hostile_names() -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = [
        &b"/h/new\nline"[..],
        b"/h/a,b",
        b"/h/quote\"d",
        b"/h/}",
        b"/h/x} profile q {",
        b"/h/#hash",
        b"/h/@{HOME}",
        b"/h/@{pid}",
        b"/h/*",
        b"/h/**",
        b"/h/?",
        b"/h/[a]",
        b"/h/{a,b}",
        b"/h/^caret",
        b"/h/back\\slash",
        b"/h/trailing\\",
        b"/h/sp ace\ttab\r",
        b"/h/\xff\xfe\x80 non-utf8",
        b"/h/caf\xc3\xa9",
        b"/h/\" r,\n  /** rwlkmix,\n  \"",
        b"/h/\\052 \\x2a \\d042",
        b"/h/$var~%&'()+-.:;<=>|",
        b"/h/\x01\x1b\x7f",
    ]
    .iter()
    .map(|n| normalize(n).as_bytes().to_vec())
    .collect();
    // A 4 KiB path of hostile bytes: 4095 bytes, as PATH_MAX allows.
    let mut long = b"/h/long/".to_vec();
    while long.len() < 4095 {
        long.extend_from_slice(b"*?[]{}^\\,\" #@{x}\n/");
    }
    long.truncate(4095);
    while long.ends_with(b"/") {
        long.pop();
    }
    names.push(normalize(&long).as_bytes().to_vec());
    names
}

fn recording_with(paths: &[Vec<u8>]) -> Recording {
    let mut recording = Recording::from_json(FIXTURE_V1, "v1").unwrap();
    recording.mark_recorded(Category::Files);
    for path in paths {
        recording.record_file(path, Access::Read);
    }
    recording
}

#[test]
fn fixture_profiles_are_accepted() {
    let Some(parser) = parser("fixture_profiles_are_accepted") else {
        return;
    };
    for (name, fixture) in [("v2", FIXTURE_V2), ("v1", FIXTURE_V1)] {
        let recording = Recording::from_json(fixture, name).unwrap();
        let profile = apparmor::render(&recording);
        let (ok, out) = compile(&parser, profile.as_bytes(), &[]);
        assert!(ok, "{name} fixture profile rejected:\n{out}\n{profile}");
    }
}

#[test]
fn hostile_names_stay_one_literal_rule_each() {
    let Some(parser) = parser("hostile_names_stay_one_literal_rule_each") else {
        return;
    };
    let names = hostile_names();
    let profile = apparmor::render(&recording_with(&names));
    let (ok, out) = compile(&parser, profile.as_bytes(), &[]);
    assert!(ok, "rejected:\n{out}\n{profile}");

    // Apart from the file rules, the profile is the one of a recording without those files.
    let baseline = apparmor::render(&recording_with(&[]));
    let others = |p: &str| -> Vec<String> {
        p.lines()
            .filter(|l| !l.trim_start().starts_with('"'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(others(&profile), others(&baseline));

    // One rule line per name, which decodes to exactly that name.
    let rules = file_rule_lines(&profile);
    assert_eq!(rules.len(), names.len(), "{profile}");
    let decoded: BTreeSet<Vec<u8>> = rules
        .iter()
        .map(|rule| {
            let word = rule.strip_suffix(" r,").expect("a read rule");
            escape::unquote_literal(word).unwrap_or_else(|| panic!("not a literal: {rule}"))
        })
        .collect();
    assert_eq!(decoded, names.iter().cloned().collect());

    // What the parser makes of those lines: exactly the names, each with the permissions of a
    // plain `r` rule, nothing else.
    let language = language_of(&parser, &rules);
    let read = language_of(&parser, &["\"/x\" r,"]);
    let read_perms = &read[b"/x".as_slice()];
    assert_eq!(
        language.keys().cloned().collect::<BTreeSet<_>>(),
        names.iter().cloned().collect(),
        "the DFA accepts other paths than the names"
    );
    assert!(language.values().all(|p| p == read_perms), "{language:?}");
}

#[test]
fn proc_pid_rules_are_the_only_patterns() {
    let Some(parser) = parser("proc_pid_rules_are_the_only_patterns") else {
        return;
    };
    let mut recording = recording_with(&[]);
    recording.record_file("/proc/42/status", Access::Read);
    let profile = apparmor::render(&recording);
    let rules = file_rule_lines(&profile);
    assert_eq!(rules, ["\"/proc/@{pid}/status\" r,"]);
    let (ok, out) = compile(&parser, &profile_with(&rules), &["rule-exprs"]);
    assert!(ok, "{out}");
    assert!(out.contains("rule: /proc/([1-9]|[1-9][0-9]|"), "{out}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any path (normalised, without NUL) quoted by the escaper compiles to a DFA accepting
    /// exactly that path.
    #[test]
    fn any_path_is_literal_to_the_real_parser(
        raw in proptest::collection::vec(
            prop_oneof![
                4 => any::<u8>(),
                1 => proptest::sample::select(b"*?[]{}^\\,\"# @\n/".to_vec()),
            ],
            1..120,
        )
    ) {
        let Some(parser) = parser("any_path_is_literal_to_the_real_parser") else {
            return Ok(());
        };
        let bytes: Vec<u8> = raw.into_iter().filter(|&b| b != 0).collect();
        let path: PathBytes = normalize(&bytes);
        let word = escape::quote_literal(path.as_bytes()).unwrap();
        let rule = format!("{word} r,");
        let language = language_of(&parser, &[rule.as_str()]);
        prop_assert_eq!(
            language.keys().cloned().collect::<Vec<_>>(),
            vec![path.as_bytes().to_vec()],
            "rule {}", rule
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any path of any bytes but NUL, short, near 4,095 bytes (the longest a system call takes)
    /// or longer, renders a profile the parser loads, whose one file rule fits a token and allows
    /// that path. Up to 4,095 bytes the rule is literal: its DFA accepts that path and nothing else.
    #[test]
    fn any_path_up_to_and_past_path_max_loads_and_is_allowed(
        raw in prop_oneof![
            proptest::collection::vec(1u8..=255, 1..300),
            proptest::collection::vec(1u8..=255, 3_900..4_095),
            proptest::collection::vec(1u8..=255, 4_095..4_400),
        ]
    ) {
        let Some(parser) = parser("any_path_up_to_and_past_path_max_loads_and_is_allowed") else {
            return Ok(());
        };
        let path = normalize(&raw).as_bytes().to_vec();
        let recording = recording_with(std::slice::from_ref(&path));
        let profile = apparmor::render(&recording);
        let (ok, out) = compile(&parser, profile.as_bytes(), &[]);
        prop_assert!(ok, "rejected:\n{}", out);
        let rules = file_rule_lines(&profile);
        prop_assert_eq!(rules.len(), 1);
        let word = rule_words(&rules)[0];
        prop_assert!(word.len() <= MAX_WORD);
        if path.len() <= 4_095 {
            prop_assert_eq!(escape::unquote_literal(word), Some(path.clone()));
            let language = language_of(&parser, &rules);
            prop_assert_eq!(language.keys().cloned().collect::<Vec<_>>(), vec![path]);
        } else {
            prop_assert_eq!(assert_covers(&parser, &profile, &recording), 1);
        }
    }
}

/// The transitions of one DFA state: on one byte each, then classes taken by the other bytes.
type Edges = (BTreeMap<u8, u32>, Vec<(Vec<bool>, u32)>);

/// A DFA as `-D dfa-states` prints it, glob classes included: enough to run paths through it.
#[derive(Default)]
struct Dfa {
    /// Accepting states and their permissions as printed (`allow/deny/audit/quiet`, hex).
    accepting: BTreeMap<u32, String>,
    /// The transitions of each state.
    edges: BTreeMap<u32, Edges>,
}

impl Dfa {
    fn parse(dump: &str) -> Dfa {
        let state_of = |s: &str| -> u32 {
            s.trim()
                .trim_start_matches('{')
                .trim_end_matches('}')
                .parse()
                .unwrap_or_else(|_| panic!("not a state: {s:?}"))
        };
        let mut dfa = Dfa::default();
        let mut current = None;
        let mut header = true;
        for line in dump.lines() {
            if line.starts_with("Cache read/write disabled") || line.is_empty() {
                header &= !line.is_empty();
                continue;
            }
            if header {
                // `{1} <== (allow/deny/audit/quiet)` then one `{n} (0x perms)` per accepting state.
                if let Some((state, perms)) = line.split_once(" (0x ") {
                    dfa.accepting
                        .insert(state_of(state), perms.trim_end_matches(')').to_owned());
                }
                continue;
            }
            if let Some((state, _)) = line.split_once(" perms: ") {
                current = Some(state_of(state));
                continue;
            }
            let (label, target) = line
                .trim_start()
                .split_once(" -> ")
                .unwrap_or_else(|| panic!("unexpected dump line {line:?}"));
            let target = state_of(target.split("  ").next().unwrap());
            let edges = dfa
                .edges
                .entry(current.expect("a transition before any state"))
                .or_default();
            let byte = label
                .rsplit(' ')
                .next()
                .and_then(|hex| hex.strip_prefix("0x"))
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match byte {
                Some(byte) => {
                    edges.0.insert(byte, target);
                }
                None => edges.1.push((class(label), target)),
            }
        }
        dfa
    }

    /// The allow mask of the state `path` ends in; 0 when the DFA does not accept it.
    fn allowed(&self, path: &[u8]) -> u64 {
        let mut state = 1;
        for &b in path {
            let Some((bytes, classes)) = self.edges.get(&state) else {
                return 0;
            };
            state = match bytes.get(&b) {
                Some(&next) => next,
                None => match classes.iter().find(|(class, _)| class[usize::from(b)]) {
                    Some(&(_, next)) => next,
                    None => return 0,
                },
            };
        }
        self.accepting.get(&state).map_or(0, |perms| {
            let allow = perms.split('/').next().unwrap();
            u64::from_str_radix(allow, 16).unwrap()
        })
    }

    /// Every accepted byte string with its permissions. Panics on a class transition or a cycle
    /// (see [`dfa_language`]).
    fn language(&self) -> BTreeMap<Vec<u8>, String> {
        let mut language = BTreeMap::new();
        // Depth-first over (state, bytes so far, states on the path); iterative (4 KiB paths).
        let mut stack = vec![(1u32, Vec::new(), BTreeSet::from([1u32]))];
        while let Some((state, bytes, on_path)) = stack.pop() {
            if let Some(perms) = self.accepting.get(&state) {
                language.insert(bytes.clone(), perms.clone());
            }
            let Some((by_byte, classes)) = self.edges.get(&state) else {
                continue;
            };
            assert!(
                classes.is_empty(),
                "transition on more than one byte from state {state}"
            );
            for (&byte, &next) in by_byte {
                assert!(
                    !on_path.contains(&next),
                    "cycle: a rule matches unboundedly"
                );
                let mut bytes = bytes.clone();
                bytes.push(byte);
                let mut on_path = on_path.clone();
                on_path.insert(next);
                stack.push((next, bytes, on_path));
            }
        }
        language
    }
}

/// The bytes of a class transition. Only the classes trace's globs make (`*` and `**`) are known;
/// any other fails the test rather than being guessed.
fn class(label: &str) -> Vec<bool> {
    let excluded: &[u8] = match label {
        "[^\\x0/]" => b"\0/",
        "[^\\x0]" => b"\0",
        _ => panic!("unknown class transition {label:?}"),
    };
    (0..=255u8).map(|b| !excluded.contains(&b)).collect()
}

/// The allow mask the parser gives a rule with `perms`.
fn perm_mask(parser: &PathBuf, perms: &str) -> u64 {
    let rule = format!("\"/x\" {perms},");
    let (ok, dump) = compile(parser, &profile_with(&[rule.as_str()]), &["dfa-states"]);
    assert!(ok, "{rule}: {dump}");
    Dfa::parse(&dump).allowed(b"/x")
}

/// Asserts that the file rules of `profile`, compiled alone, allow every rule path of `recording`
/// with at least the permissions it needs; returns how many paths were checked.
fn assert_covers(parser: &PathBuf, profile: &str, recording: &Recording) -> usize {
    let rules = file_rule_lines(profile);
    let (ok, dump) = compile(parser, &profile_with(&rules), &["dfa-states"]);
    assert!(ok, "file rules rejected:\n{dump}");
    let dfa = Dfa::parse(&dump);
    let mut masks: BTreeMap<String, u64> = BTreeMap::new();
    let mut checked = 0;
    for ((path, dir), accesses) in file_rules::rule_paths(recording) {
        let perms = file_rules::perms_text(&accesses);
        if perms.is_empty() {
            continue;
        }
        let mut bytes = Vec::new();
        for segment in &path {
            match segment {
                Segment::Literal(literal) => bytes.extend_from_slice(literal),
                other => panic!("test recordings hold no {other:?}"),
            }
        }
        if dir && !bytes.ends_with(b"/") {
            bytes.push(b'/');
        }
        let want = *masks
            .entry(perms.clone())
            .or_insert_with(|| perm_mask(parser, &perms));
        let got = dfa.allowed(&bytes);
        assert_eq!(
            got & want,
            want,
            "{:?} needs {perms}, the rules allow {got:#x}",
            String::from_utf8_lossy(&bytes)
        );
        checked += 1;
    }
    checked
}

/// The quoted path of each file rule line.
fn rule_words<'a>(rules: &[&'a str]) -> Vec<&'a str> {
    rules
        .iter()
        .map(|rule| match rule.rfind("\" ") {
            Some(end) => &rule[..=end],
            None => panic!("not a file rule: {rule}"),
        })
        .collect()
}

/// The DFA sizes `-D dfa-stats` reports.
fn dfa_states(out: &str) -> Vec<usize> {
    out.lines()
        .filter_map(|l| l.split_once("Created dfa: states "))
        .map(|(_, rest)| rest.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// A deterministic stream of names (xorshift), so big recordings are the same on every run.
struct Names(u64);

impl Names {
    fn hex(&mut self, len: usize) -> String {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        format!("{:016x}", self.0)[..len].to_owned()
    }
}

/// A recording (files and programs recorded) for the big tests to add their files to: 100
/// programs run from one directory (each also read), 300 libraries mapped from another, and
/// `/etc/passwd`.
fn programs_and_libraries() -> Recording {
    let mut recording = recording_with(&[]);
    recording.mark_recorded(Category::Execs);
    for i in 0..100 {
        let program = format!("/usr/bin/tool{i:03}");
        recording.record_file(&program, Access::Read);
        recording.record_exec(&program, &["tool"]);
    }
    for i in 0..300 {
        let library = format!("/usr/lib/x86_64-linux-gnu/lib{i:03}.so.1");
        recording.record_file(&library, Access::Read);
        recording.record_file(&library, Access::MmapExec);
    }
    recording.record_file("/etc/passwd", Access::Read);
    recording
}

/// Renders `recording`, checks the profile loads, stays within the budgets, keeps every program's
/// own rule and allows every recorded path; returns the profile.
fn assert_loads_within_budget(parser: &PathBuf, test: &str, recording: &Recording) -> String {
    let started = std::time::Instant::now();
    let profile = apparmor::render(recording);
    let rendered = started.elapsed();
    let started = std::time::Instant::now();
    let (ok, out) = compile(parser, profile.as_bytes(), &["dfa-stats"]);
    let compiled = started.elapsed();
    assert!(ok, "{test}: rejected:\n{out}");
    let states = dfa_states(&out);
    let rules = file_rule_lines(&profile);
    eprintln!(
        "{test}: {} file rules, DFA states {states:?}, rendered in {rendered:?}, compiled in \
         {compiled:?}",
        rules.len(),
    );
    assert!(
        rules.len() <= collapse::RULE_BUDGET,
        "{test}: {}",
        rules.len()
    );
    assert!(
        states.iter().all(|&s| s <= collapse::STATE_BUDGET),
        "{test}: {states:?}"
    );
    for i in 0..100 {
        let rule = format!("\"/usr/bin/tool{i:03}\" rix,");
        assert!(rules.contains(&rule.as_str()), "{test}: no rule {rule}");
    }
    assert!(
        profile.contains(
            "  \"/usr/lib/x86_64-linux-gnu/*\" rm,  # collapsed 300 recorded paths in this directory: read, mmap_exec\n"
        ),
        "{test}"
    );
    let files = file_rules::file_rules(recording);
    assert!(
        profile.contains(&format!(
            "# warning: {} recorded paths are allowed through {} glob rules",
            files.collapsed_paths(),
            files.collapsed.len()
        )),
        "{test}"
    );
    assert_eq!(files.collapsed_programs(), 0, "{test}: ix widened");
    let checked = assert_covers(parser, &profile, recording);
    assert!(checked > 100_000, "{test}: {checked}");
    profile
}

#[test]
fn parser_token_limit_is_max_word() {
    let Some(parser) = parser("parser_token_limit_is_max_word") else {
        return;
    };
    // `"/` and `"` around escaped spaces and one plain byte: exactly `length` characters.
    let word = |length: usize| {
        let body = length - 3;
        format!("\"/{}{}\"", "\\040".repeat(body / 4), "a".repeat(body % 4))
    };
    for (length, loads) in [(MAX_WORD, true), (MAX_WORD + 1, false)] {
        let rule = format!("{} r,", word(length));
        let (ok, out) = compile(&parser, &profile_with(&[rule.as_str()]), &[]);
        assert_eq!(ok, loads, "a {length}-character path: {out}");
        if !loads {
            assert!(out.contains("input buffer overflow"), "{out}");
        }
    }
}

#[test]
fn twenty_nested_directories_of_250_spaces_load() {
    let Some(parser) = parser("twenty_nested_directories_of_250_spaces_load") else {
        return;
    };
    let mut path = Vec::new();
    for _ in 0..20 {
        path.push(b'/');
        path.extend([b' '; 250]);
    }
    path.extend_from_slice(b"/file");
    let recording = recording_with(&[path]);
    let profile = apparmor::render(&recording);
    let (ok, out) = compile(&parser, profile.as_bytes(), &[]);
    assert!(ok, "rejected:\n{out}");
    let rules = file_rule_lines(&profile);
    assert_eq!(rules.len(), 1);
    assert!(rule_words(&rules).iter().all(|w| w.len() <= MAX_WORD));
    assert!(
        profile.contains(
            "  # 1 recorded path; 4 names too long for apparmor_parser written as *: read\n"
        ),
        "{profile}"
    );
    assert_eq!(assert_covers(&parser, &profile, &recording), 1);
}

#[test]
fn paths_too_long_for_one_token_load_and_stay_allowed() {
    let Some(parser) = parser("paths_too_long_for_one_token_load_and_stay_allowed") else {
        return;
    };
    // The longest path a system call takes, in names of 199 escaped bytes: one literal rule.
    let mut longest = b"/".to_vec();
    while longest.len() < 4095 {
        longest.push(if longest.len().is_multiple_of(200) {
            b'/'
        } else {
            0xff
        });
    }
    // Names of 250 non-UTF-8 bytes, 17,500 in all: some become `*`.
    let mut wide = Vec::new();
    for _ in 0..70 {
        wide.push(b'/');
        wide.extend([0x80; 250]);
    }
    // 4,200 one-byte names: no name can shrink, so the path is cut to a directory and `/**`.
    let deep = b"/a".repeat(4200);
    let recording = recording_with(&[longest.clone(), wide, deep]);
    let profile = apparmor::render(&recording);
    let (ok, out) = compile(&parser, profile.as_bytes(), &[]);
    assert!(ok, "rejected:\n{out}");
    let rules = file_rule_lines(&profile);
    let words = rule_words(&rules);
    assert!(words.iter().all(|w| w.len() <= MAX_WORD), "{words:?}");
    let literal = escape::quote_literal(&longest).unwrap();
    assert!(literal.len() > 16_000);
    assert!(
        words.contains(&literal.as_str()),
        "the 4,095-byte path keeps a literal rule"
    );
    assert!(profile.contains("cut to a directory and **"), "{profile}");
    assert!(profile.contains("too long for apparmor_parser written as *"));
    assert_eq!(assert_covers(&parser, &profile, &recording), 3);
}

#[test]
fn a_hundred_thousand_files_in_few_directories_load() {
    let test = "a_hundred_thousand_files_in_few_directories_load";
    let Some(parser) = parser(test) else {
        return;
    };
    let mut recording = programs_and_libraries();
    let mut names = Names(0x9e37_79b9_7f4a_7c15);
    for i in 0..100_000u32 {
        let path = format!("/srv/cache/d{}/{}.dat", i % 10, names.hex(12));
        recording.record_file(&path, Access::Read);
        if i.is_multiple_of(7) {
            recording.record_file(&path, Access::Write);
        }
        if i.is_multiple_of(11) {
            recording.record_file(&path, Access::Lock);
        }
    }
    for d in 0..10 {
        recording.record_dir(format!("/srv/cache/d{d}"), Access::List);
    }
    let profile = assert_loads_within_budget(&parser, test, &recording);
    assert!(profile.contains("  \"/srv/cache/d0/*\" rwk,  # collapsed 10000 recorded paths in this directory: read, write, lock\n"));
    assert!(profile.contains("  \"/srv/cache/d0/\" r,  # list\n"));
}

#[test]
fn a_hundred_thousand_files_over_many_directories_load() {
    let test = "a_hundred_thousand_files_over_many_directories_load";
    let Some(parser) = parser(test) else {
        return;
    };
    let mut recording = programs_and_libraries();
    let mut names = Names(0x2545_f491_4f6c_dd1d);
    // Content-addressed objects: two levels of 256 directories, one or two files in most.
    for i in 0..50_000u32 {
        let (a, b, name) = (names.hex(2), names.hex(2), names.hex(14));
        let path = format!("/srv/objects/{a}/{b}/{name}");
        recording.record_file(&path, Access::Read);
        if i.is_multiple_of(5) {
            recording.record_file(&path, Access::Create);
        }
    }
    // A file in a directory of its own, three levels deep.
    for _ in 0..50_000 {
        let path = format!(
            "/home/app/{}/{}/{}.py",
            names.hex(6),
            names.hex(6),
            names.hex(8)
        );
        recording.record_file(&path, Access::Read);
    }
    assert_loads_within_budget(&parser, test, &recording);
}
