use super::*;
use crate::recording::{Binary, Machine, Reach};

const FIXTURE: &str = include_str!("../../tests/data/recording-v8.json");

fn fixture() -> Recording {
    Recording::from_json(FIXTURE, "v8.json").unwrap()
}

fn unseen_names(report: &Coverage) -> Vec<(&str, Rank, InProfile)> {
    report
        .unseen
        .iter()
        .map(|u| (u.syscall.as_str(), u.rank, u.profile))
        .collect()
}

/// The fixture's workload imports fork, setrlimit64, sigaction and umask; its static busybox
/// scanned clone, execve, kill and setsid; execve was observed, kill and umask are included.
#[test]
fn reachable_calls_never_observed_are_ranked_with_what_reaches_them() {
    let report = coverage(&fixture(), &Options::default());
    assert_eq!(
        unseen_names(&report),
        [
            ("clone", Rank::ProcessControl, InProfile::Refused),
            ("setsid", Rank::ProcessControl, InProfile::Refused),
            ("rt_sigaction", Rank::Signals, InProfile::Refused),
            ("prlimit64", Rank::Privileges, InProfile::Refused),
        ]
    );
    let clone = &report.unseen[0];
    assert_eq!(
        clone.reached_from,
        [
            ReachedFrom {
                path: "/bin/busybox".into(),
                via: vec![]
            },
            ReachedFrom {
                path: "/usr/local/bin/workload".into(),
                via: vec!["fork".into()]
            },
        ]
    );
    let included: Vec<(&str, bool)> = report
        .included
        .iter()
        .map(|i| (i.syscall.as_str(), i.observed))
        .collect();
    assert_eq!(included, [("kill", false), ("umask", false)]);
    let summary = report.reach.as_ref().unwrap();
    assert_eq!(
        (
            summary.binaries,
            summary.dynamic,
            summary.r#static,
            summary.c_library
        ),
        (4, 1, 1, 2)
    );
}

#[test]
fn coverage_md_snapshot() {
    let files = render(&fixture(), &Options::default());
    insta::assert_snapshot!("coverage_md", files[0].contents);
    insta::assert_json_snapshot!(
        "coverage_json",
        serde_json::from_str::<serde_json::Value>(&files[1].contents).unwrap()
    );
}

/// Without a reach (an older recording) the report says so; with nothing unseen, it says that.
#[test]
fn recordings_without_reach_or_without_unseen_calls() {
    let mut recording = fixture();
    recording.reach = None;
    let text = markdown_report(&coverage(&recording, &Options::default()));
    assert!(text.contains("The image was not read"), "{text}");
    recording.reach = Some(Reach::default());
    let text = markdown_report(&coverage(&recording, &Options::default()));
    assert!(
        text.contains("Reachable and not observed: 0 system calls\n\nNone"),
        "{text}"
    );
}

/// The OCI runtime's baseline is allowed anyway (runc's, or crun's for a container crun
/// started), the ENOSYS fallbacks are refused with ENOSYS.
#[test]
fn what_the_profile_does_with_each_unseen_call() {
    let mut recording = fixture();
    recording.included_syscalls.clear();
    let binary = Binary {
        machine: Machine::X86_64,
        linking: Linking::Dynamic,
        imports: ["umask", "pthread_create", "kill"]
            .map(str::to_owned)
            .into(),
        syscalls: BTreeSet::new(),
    };
    recording.reach = Some(Reach {
        binaries: [("/app".into(), binary)].into(),
        skipped: BTreeMap::new(),
    });
    let report = coverage(&recording, &Options::default());
    assert_eq!(
        unseen_names(&report),
        [
            ("clone3", Rank::ProcessControl, InProfile::Enosys),
            ("kill", Rank::Signals, InProfile::Refused),
            ("umask", Rank::RarePaths, InProfile::Allowed),
        ]
    );
    let text = markdown_report(&report);
    assert!(
        text.contains("but allowed by the profile for runc: `umask`."),
        "{text}"
    );

    // crun's baseline has no umask and has setresuid.
    if let Some(reach) = &mut recording.reach {
        for binary in reach.binaries.values_mut() {
            binary.imports.insert("setresuid".into());
        }
    }
    recording.container.runtimes = [crate::recording::RuntimeInfo {
        engine: "podman".into(),
        engine_version: "4.3.1".into(),
        name: "crun".into(),
        version: "1.8.1".into(),
    }]
    .into();
    let report = coverage(&recording, &Options::default());
    assert!(unseen_names(&report).contains(&("umask", Rank::RarePaths, InProfile::Refused)));
    assert!(unseen_names(&report).contains(&("setresuid", Rank::Privileges, InProfile::Allowed)));
    let text = markdown_report(&report);
    assert!(
        text.contains("but allowed by the profile for crun: `setresuid`."),
        "{text}"
    );
}

/// Paths, reasons and step names from the recording cannot open markup in coverage.md.
#[test]
fn hostile_strings_are_escaped() {
    let mut recording = fixture();
    let reach = recording.reach.as_mut().unwrap();
    let hostile = PathBytes::new(b"/app|`](x)\n<b>".to_vec());
    let workload = reach
        .binaries
        .remove(&PathBytes::from("/usr/local/bin/workload"))
        .unwrap();
    reach.binaries.insert(hostile, workload);
    recording.included_syscalls = [crate::recording::IncludedSyscall {
        name: "kill".into(),
        reason: "a | b <script>".into(),
    }]
    .into();
    let text = markdown_report(&coverage(&recording, &Options::default()));
    assert!(text.contains(r"/app\|\`\]\(x\)\\x0a\<b\>"), "{text}");
    assert!(text.contains(r"a \| b \<script\>"), "{text}");
    assert!(!text.contains("<b>") && !text.contains("<script>"));
}

#[test]
fn steps_tell_the_startup_from_what_came_after() {
    let report = coverage(&fixture(), &Options::default());
    let steps = report.steps.unwrap();
    assert_eq!(steps.names, ["serve", "reload"]);
    // accept4 was made while serving only; openat also during the startup.
    assert_eq!(
        steps.first_made_after_startup,
        [FirstIn {
            item: "x86_64/accept4".into(),
            step: "serve".into()
        }]
    );
    assert!(steps.startup_only.contains(&"x86_64/futex".to_owned()));
    assert!(!steps.startup_only.contains(&"x86_64/openat".to_owned()));
    assert_eq!(
        steps.files_first_used_after_startup[1],
        FirstIn {
            item: "/var/log/app.log.1".into(),
            step: "reload".into()
        }
    );
}

#[test]
fn the_summary_says_it_in_short() {
    let text =
        crate::render::summary::render(&fixture(), &[], &crate::recording::LeftOut::default());
    for line in [
        "  coverage: 4 system calls the programs can make were never made, among them clone, setsid, rt_sigaction, prlimit64 (coverage.md)\n",
        "  included on purpose: kill (the reload signals the old workers), umask\n",
        "  steps: startup, then serve, reload; 5 calls made only during the startup\n",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
}
