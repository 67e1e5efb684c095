//! Rendered AppArmor profiles through the real `apparmor_parser` (compile only: `-Q -K`, no kernel
//! and no root needed). Proves that the fixture's profile is accepted and that hostile file names
//! stay literal: the DFA the parser builds from the file rules accepts exactly the recorded paths,
//! byte for byte, and nothing else (no glob, no variable, no extra or cut rule).
//!
//! Without `apparmor_parser` the tests print `skipping <test>: <reason>` and pass, except under
//! `TRACE_SYSTEM_TESTS=require` (CI), where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use trace_user::recording::{Access, Category, PathBytes, Recording, normalize};
use trace_user::render::apparmor::{self, escape};

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
        let reason = "apparmor_parser is not installed (Debian package apparmor)";
        assert!(
            std::env::var("TRACE_SYSTEM_TESTS").as_deref() != Ok("require"),
            "{test}: {reason}, but TRACE_SYSTEM_TESTS=require"
        );
        eprintln!("skipping {test}: {reason}");
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
    let mut accepting: BTreeMap<u32, String> = BTreeMap::new();
    let mut edges: BTreeMap<u32, Vec<(u8, u32)>> = BTreeMap::new();
    let state_of = |s: &str| -> u32 {
        s.trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .parse()
            .unwrap_or_else(|_| panic!("not a state: {s:?}"))
    };
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
                accepting.insert(state_of(state), perms.trim_end_matches(')').to_owned());
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
        let byte = label
            .rsplit(' ')
            .next()
            .and_then(|hex| hex.strip_prefix("0x"))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .unwrap_or_else(|| panic!("transition on more than one byte: {line:?}"));
        let target = state_of(target.split("  ").next().unwrap());
        edges
            .entry(current.expect("a transition before any state"))
            .or_default()
            .push((byte, target));
    }
    let mut language = BTreeMap::new();
    // Depth-first over (state, bytes so far, states on the path); iterative (4 KiB paths).
    let mut stack = vec![(1u32, Vec::new(), BTreeSet::from([1u32]))];
    while let Some((state, bytes, on_path)) = stack.pop() {
        if let Some(perms) = accepting.get(&state) {
            language.insert(bytes.clone(), perms.clone());
        }
        for &(byte, next) in edges.get(&state).map(Vec::as_slice).unwrap_or_default() {
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
