use super::escape::Segment;
use super::file_rules::{file_rules, perms_text, rule_path};
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
