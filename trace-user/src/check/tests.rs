use super::*;
use crate::recording::{Access, Category};
use crate::render::{self, Format, Options};

const FIXTURE: &str = include_str!("../../tests/data/recording-v2.json");

fn fixture() -> Recording {
    Recording::from_json(FIXTURE, "fixture").unwrap()
}

/// The profiles `render` writes for `recording` in `format`, read back as a check reads them.
fn committed(recording: &Recording, format: Format) -> Committed {
    let options = Options {
        format,
        ..Options::default()
    };
    let mut out = Committed::default();
    for file in render::profiles_with(recording, &options) {
        match file.file_name {
            render::SECCOMP_FILE | render::SPO_SECCOMP_FILE => {
                out.seccomp = Some((
                    file.file_name.into(),
                    seccomp::parse(&file.contents).unwrap(),
                ));
            }
            render::APPARMOR_FILE => {
                out.apparmor = Some((
                    file.file_name.into(),
                    "apparmor",
                    apparmor::parse(&file.contents).unwrap(),
                ));
            }
            render::SPO_APPARMOR_FILE => {
                let profile = serde_norway::from_str(&file.contents).unwrap();
                out.apparmor = Some((
                    file.file_name.into(),
                    "spo",
                    apparmor::from_spo(&profile).unwrap(),
                ));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn a_recording_fits_its_own_profiles_in_every_format() {
    let recording = fixture();
    for format in [Format::Docker, Format::Oci, Format::Spo] {
        let report = check(&recording, &committed(&recording, format), "p", false);
        assert!(!report.drift, "{format:?}: {}", render_text(&report));
        assert!(report.new.is_empty());
        assert!(render_text(&report).ends_with("result: ok: everything observed is allowed\n"));
    }
}

#[test]
fn one_extra_syscall_and_one_extra_file_are_drift_and_named() {
    let base = fixture();
    let committed = committed(&base, Format::Docker);
    let mut changed = base.clone();
    changed
        .syscalls
        .get_mut(&trace_common::Abi::X86_64)
        .unwrap()
        .insert("mkdir".into(), 3);
    changed.record_file("/data/new-file", Access::Create);
    let report = check(&changed, &committed, "p", false);
    assert!(report.drift);
    assert_eq!(
        report.new.syscalls,
        [NewSyscall {
            name: "mkdir".into(),
            abis: vec!["x86_64".into()],
            calls: 3
        }]
    );
    assert_eq!(
        report.new.files,
        [NewFile {
            path: "/data/new-file".into(),
            missing: "w".into(),
            access: vec!["create".into()]
        }]
    );
    assert_eq!(report.new.len(), 2);
    let text = render_text(&report);
    assert!(
        text.contains("new system calls (1):\n  mkdir  (x86_64; 3 calls)\n"),
        "{text}"
    );
    assert!(
        text.contains("new files (1):\n  /data/new-file  needs w  (seen: create)\n"),
        "{text}"
    );
    assert!(
        text.ends_with("result: DRIFT: 2 new, 0 no longer observed\n"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    assert_eq!(json["drift"], true);
    assert_eq!(json["new"]["syscalls"][0]["name"], "mkdir");
    assert_eq!(json["new"]["files"][0]["path"], "/data/new-file");
}

#[test]
fn strict_finds_what_is_allowed_and_no_longer_observed() {
    let base = fixture();
    let committed = committed(&base, Format::Docker);
    let mut fewer = base.clone();
    fewer
        .syscalls
        .get_mut(&trace_common::Abi::X86_64)
        .unwrap()
        .remove("openat");
    let gone: Vec<_> = fewer
        .files
        .keys()
        .filter(|p| p.as_bytes().starts_with(b"/etc/"))
        .cloned()
        .collect();
    assert!(!gone.is_empty());
    for path in &gone {
        fewer.files.remove(path);
    }
    fewer.capabilities.clear();
    let lenient = check(&fewer, &committed, "p", false);
    assert!(
        !lenient.drift,
        "less is still covered: {}",
        render_text(&lenient)
    );
    let strict = check(&fewer, &committed, "p", true);
    assert!(strict.drift);
    let unused = strict.no_longer_observed.as_ref().unwrap();
    // openat is in the runc baseline, which is always allowed and never reported.
    assert!(!unused.syscalls.contains(&"openat".to_owned()));
    assert!(
        unused.file_rules.iter().any(|r| r.starts_with("\"/etc/")),
        "{unused:?}"
    );
    assert!(unused.capabilities.contains(&"net_bind_service".to_owned()));
    let text = render_text(&strict);
    assert!(text.contains("no longer observed: file rules ("), "{text}");
}

#[test]
fn hand_written_globs_cover_and_deny_rules_win() {
    let mut recording = fixture();
    recording.files.clear();
    recording.execs.clear();
    recording
        .events
        .recorded
        .retain(|c| matches!(c, Category::Syscalls | Category::Files));
    recording.record_file("/srv/app/config.yaml", Access::Read);
    recording.record_file("/proc/42/status", Access::Read);
    recording.record_file("/usr/lib/x86_64-linux-gnu/libc.so.6", Access::MmapExec);
    recording.record_file("/etc/shadow", Access::Read);
    let rules = apparmor::parse(
        "profile x {\n  /srv/** r,\n  @{PROC}/@{pid}/status r,\n  /{usr/,}lib{,32,64}/**.so* mr,\n  /etc/* r,\n  deny /etc/shadow r,\n}\n",
    )
    .unwrap();
    let committed = Committed {
        apparmor: Some(("apparmor.profile".into(), "apparmor", rules)),
        ..Committed::default()
    };
    let report = check(&recording, &committed, "p", false);
    assert!(report.new.is_empty(), "{}", render_text(&report));
    let refused: Vec<&str> = report
        .refused
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(refused, ["/etc/shadow"], "{}", render_text(&report));
    assert!(!report.drift);
}

#[test]
fn hostile_names_never_reach_the_log_raw() {
    let base = fixture();
    let committed = committed(&base, Format::Docker);
    let mut changed = base.clone();
    changed.record_file(b"/data/evil\nresult: ok\x1b[2J\r".as_slice(), Access::Write);
    changed
        .syscalls
        .get_mut(&trace_common::Abi::X86_64)
        .unwrap()
        .insert("bad\nname".into(), 1);
    let report = check(&changed, &committed, "dir\nx", true);
    let text = render_text(&report);
    assert!(
        !text.bytes().any(|b| b < 0x20 && b != b'\n'),
        "no control bytes: {text:?}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("result:")).count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("/data/evil\\x0aresult: ok\\x1b[2J\\x0d  needs w"),
        "{text}"
    );
    assert!(text.contains("bad\\x0aname"), "{text}");
    assert!(render_json(&report).contains("/data/evil\\\\x0aresult"));
}

#[test]
fn kinds_the_recording_does_not_hold_are_noted_not_drift() {
    let mut recording = fixture();
    let committed = committed(&recording, Format::Docker);
    recording
        .events
        .recorded
        .retain(|c| *c == Category::Syscalls);
    recording.record_file("/new", Access::Read);
    let report = check(&recording, &committed, "p", true);
    assert!(report.new.files.is_empty());
    assert!(report.notes.iter().any(|n| n.contains("files not checked")));
}

#[test]
fn sockets_apparmor_cannot_name_are_checked_against_the_committed_recording() {
    let base = fixture();
    let mut with_recording = committed(&base, Format::Docker);
    let report = check(&base, &with_recording, "p", false);
    assert!(
        report.notes.iter().any(|n| n.contains("decnet")),
        "{:?}",
        report.notes
    );
    // Docker's deny rules refuse the fixture's write to /proc/self/attr/current: not drift.
    assert_eq!(report.refused.files[0].path, "/proc/self/attr/current");
    with_recording.recording = Some(("recording.json".into(), base.clone()));
    assert!(!check(&base, &with_recording, "p", false).drift);
    let mut more = base.clone();
    more.record_socket(12, 2, 1); // decnet dgram
    more.record_bound_port(2, 1, 8080);
    let report = check(&more, &with_recording, "p", false);
    assert_eq!(report.new.sockets.len(), 1, "{}", render_text(&report));
    assert_eq!(report.new.bound_ports.len(), 1);
}
