use super::collapse::{DIR_LIMIT, Pattern, RULE_BUDGET, collapse};
use super::escape::{MAX_WORD, Segment, quote_literal};
use super::file_rules::{file_rules, perms_text, rule_path, rule_paths};
use super::*;
use crate::recording::{Access, Category, PathBytes, Recording};

fn recording() -> Recording {
    let mut r =
        Recording::from_json(include_str!("../../../tests/data/recording-v1.json"), "v1").unwrap();
    for category in [
        Category::Files,
        Category::Execs,
        Category::Capabilities,
        Category::Sockets,
    ] {
        r.mark_recorded(category);
    }
    r
}

fn rule_lines(profile: &str) -> Vec<&str> {
    profile
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('"'))
        .collect()
}

#[test]
fn permissions_follow_the_documented_mapping() {
    let text = |accesses: &[Access]| perms_text(&accesses.iter().copied().collect());
    assert_eq!(text(&[Access::Read]), "r");
    assert_eq!(text(&[Access::Metadata]), "r");
    assert_eq!(text(&[Access::Append]), "a");
    assert_eq!(text(&[Access::Append, Access::Create]), "w", "w includes a");
    assert_eq!(text(&[Access::Rename]), "rw");
    assert_eq!(text(&[Access::Chmod, Access::Chown, Access::Delete]), "w");
    assert_eq!(text(&[Access::Link, Access::Lock]), "lk");
    assert_eq!(
        text(&[Access::Exec, Access::MmapExec, Access::Read]),
        "rmix"
    );
    assert_eq!(text(&[Access::Chdir, Access::Probe]), "");
}

#[test]
fn proc_pids_become_variables_and_nothing_else_does() {
    let seg = |s: &str| Segment::Literal(s.as_bytes().to_vec());
    assert_eq!(
        rule_path(&"/proc/4242/status".into()),
        [seg("/proc/"), Segment::Pid, seg("/status")]
    );
    assert_eq!(
        rule_path(&"/proc/1/task/4194304/stat".into()),
        [
            seg("/proc/"),
            Segment::Pid,
            seg("/task/"),
            Segment::Tid,
            seg("/stat")
        ]
    );
    assert_eq!(rule_path(&"/proc/77".into()), [seg("/proc/"), Segment::Pid]);
    for literal in [
        "/proc/self/status",
        "/proc/thread-self/stat",
        "/proc/0/x",
        "/proc/0123/x",
        "/proc/5000000/x",
        "/proc/12a/x",
        "/data/proc/12/x",
        "/proc/sys/kernel/pid_max",
    ] {
        assert_eq!(rule_path(&literal.into()), [seg(literal)], "{literal}");
    }
}

#[test]
fn merges_pids_and_marks_directories() {
    let mut r = recording();
    r.record_file("/proc/10/stat", Access::Read);
    r.record_file("/proc/11/stat", Access::Write);
    r.record_file("/proc/12", Access::List);
    r.record_dir("/var/cache/app", Access::Create);
    r.record_file("/", Access::List);
    r.record_file("/missing", Access::Probe);
    r.record_file("/srv", Access::Chdir);
    r.record_exec("/bin/app", &["app"]);
    let rules = file_rules(&r);
    let lines: Vec<&str> = rules.rules.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        lines,
        [
            "\"/\" r,",
            "\"/bin/app\" ix,",
            "\"/proc/@{pid}/\" r,",
            "\"/proc/@{pid}/stat\" rw,",
            "\"/var/cache/app/\" w,",
        ]
    );
    assert_eq!(rules.unmediated, 2);
}

#[test]
fn nul_paths_are_never_written() {
    let mut r = recording();
    r.record_file(b"/a\0b".as_slice(), Access::Read);
    let profile = render(&r);
    assert!(!profile.contains('\0'));
    assert!(!profile.contains("\\000"));
    assert!(profile.contains("# warning: 1 recorded paths hold a NUL byte"));
    assert!(rule_lines(&profile).is_empty());
}

#[test]
fn text_from_the_recording_cannot_leave_a_comment() {
    let mut r = recording();
    r.container.name = "evil\n  file,\n}".into();
    r.container.image = "img\r\n  capability sys_admin,".into();
    let profile = render(&r);
    assert!(
        profile.contains("profile \"trace-evil___file___\" "),
        "{profile}"
    );
    assert!(!profile.lines().any(|l| l.trim() == "file,"), "{profile}");
    assert_eq!(
        profile.lines().filter(|l| l.trim() == "}").count(),
        1,
        "{profile}"
    );
    assert!(
        !profile
            .lines()
            .any(|l| l.trim().starts_with("capability sys_admin"))
    );
    assert!(profile.contains("# AppArmor profile for container evil\\x0a  file,\\x0a} (image img\\x0d\\x0a  capability sys_admin,)"));
}

#[test]
fn profile_names_are_sanitised() {
    assert_eq!(profile_name("web-1.prod_x", "id"), "trace-web-1.prod_x");
    assert_eq!(profile_name("a b\"c*", "id"), "trace-a_b_c_");
    assert_eq!(profile_name("", "0123456789abcdef"), "trace-0123456789ab");
}

#[test]
fn nothing_observed_means_nothing_allowed() {
    let r = recording();
    let profile = render(&r);
    assert!(rule_lines(&profile).is_empty());
    assert!(profile.contains("  # None was checked.\n"));
    assert!(profile.contains("  # None was created.\n"));
    for wide in ["  file,", "  capability,", "  network,"] {
        assert!(!profile.lines().any(|l| l == wide), "{wide}");
    }
}

#[test]
fn network_rules_name_what_apparmor_can_and_widen_only_to_the_family() {
    let mut r = recording();
    r.record_socket(2, 1, 1); // inet stream
    r.record_socket(10, 6, 1); // inet6 dccp: no AppArmor type name
    r.record_socket(10, 2, 1); // inet6 dgram: covered by the family rule
    r.record_socket(12, 1, 1); // decnet: no AppArmor family name
    let profile = render(&r);
    assert!(profile.contains("  network inet stream,\n"));
    assert!(profile.contains("  network inet6,  # socket type dccp has no AppArmor name"));
    assert!(!profile.contains("network inet6 dgram"));
    assert!(!profile.contains("network decnet"));
    assert!(profile.contains("# socket family decnet (type stream) has no AppArmor name"));
}

#[test]
fn ptrace_between_processes_only_when_ptrace_was_called() {
    let mut r = recording();
    assert!(render(&r).contains("  ptrace (read,readby) peer=\"trace-petclinic\",\n"));
    r.syscalls
        .get_mut(&trace_common::Abi::X86_64)
        .unwrap()
        .insert("ptrace".into(), 1);
    assert!(
        render(&r).contains("  ptrace (trace,tracedby,read,readby) peer=\"trace-petclinic\",\n")
    );
}

#[test]
fn capability_rules_only_for_granted_ones() {
    let mut r = recording();
    r.record_capability(10, true, 1);
    r.record_capability(21, false, 4);
    r.record_capability(50, true, 1);
    let profile = render(&r);
    assert!(profile.contains("  capability net_bind_service,\n"));
    assert!(!profile.contains("capability sys_admin,"));
    assert!(profile.contains("  # sys_admin was checked and denied, never granted: not allowed\n"));
    assert!(profile.contains("  # capability number 50 has no name: it cannot be allowed\n"));
}

#[test]
fn quoting_a_path_never_needs_more_than_the_path() {
    let path = PathBytes::new(vec![b'/'; 1]);
    assert_eq!(rule_path(&path), [Segment::Literal(b"/".to_vec())]);
}

/// Whether the rule path `pattern` (literals and the globs trace writes) matches `path`: `*` one
/// or more bytes but `/`, `**` one or more bytes the first not `/`, as the parser compiles them.
fn matches(pattern: &[Segment], path: &[u8]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((Segment::Literal(literal), rest)) => path
            .strip_prefix(literal.as_slice())
            .is_some_and(|path| matches(rest, path)),
        Some((Segment::AnyName, rest)) => (1..=path.len())
            .take_while(|&n| path[n - 1] != b'/')
            .any(|n| matches(rest, &path[n..])),
        Some((Segment::AnyPath, rest)) => {
            path.first().is_some_and(|&b| b != b'/')
                && (1..=path.len()).any(|n| matches(rest, &path[n..]))
        }
        Some((Segment::Pid | Segment::Tid, _)) => panic!("no variables in these tests"),
    }
}

/// The path, the accesses and the permissions every rule path of `recording` needs, and whether
/// some rule of `rules` allows them all.
fn uncovered(recording: &Recording, rules: &[Pattern]) -> Vec<String> {
    let rules: Vec<(Vec<Segment>, String)> = rules
        .iter()
        .map(|p| (p.quoted_path(), perms_text(&p.accesses)))
        .collect();
    let mut missing = Vec::new();
    for ((path, dir), accesses) in rule_paths(recording) {
        let want = perms_text(&accesses);
        if want.is_empty() {
            continue;
        }
        let mut bytes: Vec<u8> = path
            .iter()
            .flat_map(|s| match s {
                Segment::Literal(l) => l.clone(),
                _ => panic!("no variables in these tests"),
            })
            .collect();
        if dir && !bytes.ends_with(b"/") {
            bytes.push(b'/');
        }
        // Permissions are letters (and `ix`): the union of the matching rules must hold each.
        let granted: String = rules
            .iter()
            .filter(|(pattern, _)| matches(pattern, &bytes))
            .map(|(_, perms)| perms.as_str())
            .collect();
        if !want.chars().all(|c| granted.contains(c)) {
            missing.push(format!("{} {want}", String::from_utf8_lossy(&bytes)));
        }
    }
    missing
}

fn collapsed(recording: &Recording) -> Vec<Pattern> {
    collapse(
        rule_paths(recording)
            .into_iter()
            .filter(|(_, accesses)| !perms_text(accesses).is_empty())
            .map(|((path, dir), accesses)| (path, dir, accesses)),
    )
}

#[test]
fn globs_match_as_the_parser_compiles_them() {
    let seg = |s: &str| Segment::Literal(s.as_bytes().to_vec());
    let names = [seg("/d/"), Segment::AnyName];
    assert!(matches(&names, b"/d/x"));
    assert!(!matches(&names, b"/d/"));
    assert!(!matches(&names, b"/d/x/"));
    assert!(!matches(&names, b"/d/x/y"));
    let tree = [seg("/d/"), Segment::AnyPath];
    assert!(matches(&tree, b"/d/x/y/"));
    assert!(!matches(&tree, b"/d/"));
    assert!(!matches(&tree, b"/e/x"));
}

#[test]
fn a_crowded_directory_becomes_one_glob_with_the_union_of_permissions() {
    let mut r = recording();
    r.mark_recorded(Category::Execs);
    for i in 0..=DIR_LIMIT {
        r.record_file(format!("/data/f{i}"), Access::Read);
        r.record_file(format!("/data/sub{i}"), Access::List);
    }
    r.record_file("/data/f0", Access::Append);
    r.record_file("/data/f1", Access::Lock);
    // Exactly the limit: stays one rule per file.
    for i in 0..DIR_LIMIT {
        r.record_file(format!("/etc/conf{i}"), Access::Read);
    }
    // Programs are never part of a glob, however many.
    for i in 0..2 * DIR_LIMIT {
        r.record_exec(format!("/usr/bin/tool{i}"), &["tool"]);
    }
    for i in 0..=DIR_LIMIT {
        r.record_file(format!("/usr/bin/data{i}"), Access::Read);
    }
    let profile = render(&r);
    let n = DIR_LIMIT + 1;
    assert!(profile.contains(&format!(
        "  \"/data/*\" rak,  # collapsed {n} recorded paths in this directory: read, append, lock\n"
    )));
    assert!(profile.contains(&format!(
        "  \"/data/*/\" r,  # collapsed {n} recorded paths in this directory: list\n"
    )));
    assert!(profile.contains(&format!(
        "  \"/usr/bin/*\" r,  # collapsed {n} recorded paths in this directory: read\n"
    )));
    assert!(profile.contains("  \"/usr/bin/tool0\" ix,  # exec\n"));
    assert!(profile.contains(&format!(
        "# warning: {} recorded paths are allowed through 3 glob rules",
        3 * n
    )));
    assert!(!profile.contains("programs run are allowed"));
    assert!(
        profile
            .contains("\n  # 3 rules are globs (\"dir/*\", \"dir/**\", \"*\" for a name too long)")
    );
    assert!(!render(&recording()).contains("rules are globs"));
    let rules = file_rules(&r);
    assert_eq!(rules.collapsed_paths(), 3 * n);
    assert_eq!(rules.collapsed_programs(), 0);
    assert_eq!(
        rules
            .collapsed
            .iter()
            .map(|c| c.path.as_str())
            .collect::<Vec<_>>(),
        ["\"/data/*\"", "\"/data/*/\"", "\"/usr/bin/*\""]
    );
    assert_eq!(rules.rules.len(), 3 + DIR_LIMIT + 2 * DIR_LIMIT);
    assert!(uncovered(&r, &collapsed(&r)).is_empty());
}

#[test]
fn many_small_directories_collapse_deepest_first_within_the_budgets() {
    let mut r = recording();
    r.mark_recorded(Category::Execs);
    // 1,500 directories of three files, below 60 parents; and 300 programs in directories of
    // their own.
    for i in 0..1_500 {
        for f in 0..3 {
            r.record_file(format!("/srv/p{}/d{i}/f{f}", i % 60), Access::Read);
        }
    }
    r.record_file("/srv/p0/d0/f0", Access::Write);
    for i in 0..300 {
        r.record_exec(format!("/opt/tool{i}/bin/run"), &["run"]);
    }
    let patterns = collapsed(&r);
    assert!(patterns.len() <= RULE_BUDGET, "{}", patterns.len());
    assert!(uncovered(&r, &patterns).is_empty());
    // The narrowest globs that fit: `dN/*` for each directory of files.
    let rules = file_rules(&r);
    let texts: Vec<&str> = rules.rules.iter().map(|f| f.rule.as_str()).collect();
    assert!(texts.contains(&"\"/srv/p0/d0/*\" rw,"), "{texts:?}");
    assert!(texts.contains(&"\"/opt/tool7/bin/run\" ix,"));
    assert!(!texts.iter().any(|t| t.contains("**")), "{texts:?}");
    assert_eq!(rules.collapsed_programs(), 0);

    // Eight times as many directories: `dN/*` alone is over the budget, so trees collapse.
    for i in 1_500..12_000 {
        for f in 0..3 {
            r.record_file(format!("/srv/p{}/d{i}/f{f}", i % 60), Access::Read);
        }
    }
    let patterns = collapsed(&r);
    assert!(patterns.len() <= RULE_BUDGET, "{}", patterns.len());
    assert!(uncovered(&r, &patterns).is_empty());
    let texts: Vec<String> = file_rules(&r).rules.into_iter().map(|f| f.rule).collect();
    let trees = texts.iter().filter(|t| t.contains("/**\"")).count();
    assert!(trees > 0 && trees <= 60, "{trees}");
    assert!(texts.contains(&"\"/opt/tool7/bin/run\" ix,".to_owned()));
}

#[test]
fn programs_widen_to_globs_only_beyond_the_budget_and_say_so() {
    let mut r = recording();
    r.mark_recorded(Category::Execs);
    for i in 0..RULE_BUDGET + 500 {
        r.record_exec(format!("/opt/app{}/bin/run{i}", i % 40), &["run"]);
    }
    // 40 directories of 62 or 63 programs: only as many become globs as the budget needs.
    let rules = file_rules(&r);
    assert!(rules.rules.len() <= RULE_BUDGET);
    let widened = rules.collapsed_programs();
    assert!((500..600).contains(&widened), "{widened}");
    assert!(rules.rules.iter().any(|f| f.rule.contains("/bin/run")));
    let profile = render(&r);
    assert!(profile.contains(&format!(
        "# warning: {widened} programs run are allowed through glob rules (ix)"
    )));
    assert!(profile.contains(
        "\" ix,  # collapsed 63 recorded paths in this directory; 63 programs run, ix widened: exec\n"
    ));
    assert!(uncovered(&r, &collapsed(&r)).is_empty());
}

#[test]
fn over_long_paths_fit_one_token() {
    let mut r = recording();
    let mut spaces = Vec::new();
    for _ in 0..20 {
        spaces.push(b'/');
        spaces.extend([b' '; 250]);
    }
    spaces.extend_from_slice(b"/file");
    r.record_file(&spaces, Access::Read);
    let deep = b"/a".repeat(5_000);
    r.record_file(&deep, Access::Write);
    let patterns = collapsed(&r);
    assert!(uncovered(&r, &patterns).is_empty());
    let rules = file_rules(&r);
    for rule in &rules.rules {
        let word = rule.rule.rsplit_once(' ').unwrap().0;
        assert!(word.len() <= MAX_WORD, "{}", word.len());
    }
    assert_eq!(
        rules
            .rules
            .iter()
            .map(|f| f.observed.as_str())
            .collect::<Vec<_>>(),
        [
            "1 recorded path; 4 names too long for apparmor_parser written as *: read",
            "1 recorded path; path too long for apparmor_parser cut to a directory and **: write",
        ]
    );
    assert!(rules.rules[0].rule.starts_with("\"/*/*/*/*/\\040"));
    assert!(rules.rules[1].rule.ends_with("/a/a/**\" w,"));
    assert_eq!(rules.collapsed.len(), 2);
    assert!(rules.collapsed.iter().all(|c| c.too_long));
    // The longest path a system call takes stays literal.
    let longest = [b"/".as_slice(), &[0xff; 4094]].concat();
    let mut r = recording();
    r.record_file(&longest, Access::Read);
    let rules = file_rules(&r);
    assert_eq!(
        rules.rules[0].rule,
        format!("{} r,", quote_literal(&longest).unwrap())
    );
    assert!(rules.collapsed.is_empty());
}

#[test]
fn collapsing_is_deterministic() {
    let mut r = recording();
    for i in 0..5_000 {
        r.record_file(format!("/a/d{}/f{i}", i % 7), Access::Read);
        r.record_file(format!("/b/d{i}/f"), Access::Read);
    }
    assert_eq!(render(&r), render(&r.clone()));
}

#[test]
fn the_operator_profile_takes_the_same_globs() {
    let mut r = recording();
    r.mark_recorded(Category::Execs);
    for i in 0..=DIR_LIMIT {
        r.record_file(format!("/data/f{i}"), Access::Read);
        r.record_exec(format!("/usr/bin/tool{i}"), &["tool"]);
    }
    let (abstract_, notes) = spo::abstract_rules(&r);
    let fs = abstract_.filesystem.unwrap();
    assert_eq!(fs.read_only_paths, ["/data/*"]);
    let programs = abstract_.executable.unwrap().allowed_executables;
    assert_eq!(
        programs.len(),
        DIR_LIMIT + 1,
        "programs keep their own paths"
    );
    assert!(notes.iter().any(|n| n.starts_with(&format!(
        "{} recorded paths are allowed through 1 glob path ",
        DIR_LIMIT + 1
    ))));

    // The operator denies `wlk` on read-only paths and `r` on write-only ones: a glob covering a
    // program that was written (or read) is read-write instead, never denying it.
    for i in 0..=DIR_LIMIT {
        r.record_file(format!("/logs/f{i}"), Access::Append);
    }
    r.record_exec("/logs/rotate", &["rotate"]);
    r.record_file("/data/update", Access::Create);
    r.record_exec("/data/update", &["update"]);
    let fs = spo::abstract_rules(&r).0.filesystem.unwrap();
    assert!(fs.read_only_paths.is_empty(), "{fs:?}");
    assert!(fs.write_only_paths.is_empty(), "{fs:?}");
    assert_eq!(fs.read_write_paths, ["/data/*", "/data/update", "/logs/*"]);
}
