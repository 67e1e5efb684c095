use super::*;
use crate::platform::runc::RUNC_BASELINE;
use crate::recording::{LeftOut, Recording};

const FIXTURE: &str = include_str!("../../tests/data/recording-v2.json");
const FIXTURE_V1: &str = include_str!("../../tests/data/recording-v1.json");

fn fixture() -> Recording {
    Recording::from_json(FIXTURE, "fixture").unwrap()
}

fn fixture_v1() -> Recording {
    Recording::from_json(FIXTURE_V1, "fixture").unwrap()
}

#[test]
fn seccomp_profile_snapshot() {
    insta::assert_snapshot!("seccomp", seccomp::render(&fixture_v1()));
}

#[test]
fn apparmor_profile_snapshot() {
    insta::assert_snapshot!("apparmor", apparmor::render(&fixture()));
}

#[test]
fn files_txt_snapshot() {
    insta::assert_snapshot!("files", files::render(&fixture()));
}

#[test]
fn profiles_come_in_a_fixed_order() {
    let names: Vec<&str> = profiles(&fixture()).iter().map(|r| r.file_name).collect();
    assert_eq!(names, ["seccomp.json", "apparmor.profile", "files.txt"]);
}

#[test]
fn v1_recordings_render_with_what_was_not_recorded_allowed_and_said() {
    let recording = fixture_v1();
    let profile = apparmor::render(&recording);
    for line in ["  file,\n", "  capability,\n", "  network,\n"] {
        assert!(profile.contains(line), "{line} missing:\n{profile}");
    }
    assert!(profile.contains("# warning: files were not recorded: every file access is allowed"));
    assert!(!profile.contains("\" r,"), "no file rules: {profile}");
    assert_eq!(files::render(&recording), files::NOT_RECORDED);
    assert!(files::NOT_RECORDED.starts_with('#') && files::NOT_RECORDED.ends_with('\n'));
    let text = summary::render(&recording, &[], &LeftOut::default());
    assert!(
        text.contains("  not recorded: files, programs, capabilities, sockets (the AppArmor profile allows all of it; files.txt lists nothing)\n"),
        "{text}"
    );
    // The seccomp profile does not depend on the v2 data.
    let rules = |r: &Recording| {
        let p = seccomp::profile(r);
        (
            p.architectures,
            p.syscalls.into_iter().map(|s| s.names).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        rules(&recording),
        rules(&fixture()),
        "same system calls, same seccomp rules"
    );
}

#[test]
fn seccomp_allows_observed_and_baseline_and_covers_recorded_abis() {
    let profile = seccomp::profile(&fixture());
    assert_eq!(profile.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(profile.default_errno_ret, seccomp::ERRNO_EPERM);
    let fallback = profile.syscalls.last().unwrap();
    assert_eq!(
        (fallback.action.as_str(), fallback.errno_ret),
        ("SCMP_ACT_ERRNO", Some(seccomp::ERRNO_ENOSYS))
    );
    assert_eq!(
        fallback.names,
        seccomp::ENOSYS_FALLBACKS,
        "none of them was observed"
    );
    assert_eq!(profile.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
    let observed = &profile.syscalls[0].names;
    assert!(
        observed.windows(2).all(|w| w[0] < w[1]),
        "sorted and unique: {observed:?}"
    );
    assert!(observed.contains(&"_llseek".to_owned()) && observed.contains(&"accept4".to_owned()));
    let baseline = &profile.syscalls[1].names;
    assert!(baseline.contains(&"capset".to_owned()));
    assert!(
        !baseline.contains(&"read".to_owned()),
        "observed calls are not repeated in the baseline"
    );
    let all: Vec<&String> = profile.syscalls.iter().flat_map(|r| &r.names).collect();
    for name in RUNC_BASELINE {
        assert!(all.iter().any(|n| n == name), "{name} missing");
    }
    assert!(!all.iter().any(|n| *n == "mkdir"));
}

#[test]
fn observed_fallback_calls_are_allowed_not_refused() {
    let mut recording = fixture();
    recording
        .syscalls
        .get_mut(&trace_common::Abi::X86_64)
        .unwrap()
        .insert("clone3".into(), 4);
    let profile = seccomp::profile(&recording);
    assert!(profile.syscalls[0].names.contains(&"clone3".to_owned()));
    let refused = &profile.syscalls.last().unwrap().names;
    assert!(!refused.contains(&"clone3".to_owned()) && refused.contains(&"faccessat2".to_owned()));
}

#[test]
fn baseline_and_fallback_names_exist_in_the_syscall_table() {
    for name in RUNC_BASELINE.iter().chain(seccomp::ENOSYS_FALLBACKS) {
        assert!(
            (0..1024).any(
                |nr| crate::recording::syscall_name(trace_common::Abi::X86_64, nr).map(|n| n.0)
                    == Some(name)
            ),
            "{name} is not an x86_64 system call"
        );
    }
}

#[test]
fn rendering_is_deterministic_and_independent_of_counts() {
    let a = fixture();
    let mut b = fixture();
    for calls in b.syscalls.values_mut() {
        for count in calls.values_mut() {
            *count *= 3;
        }
    }
    for exec in b.execs.values_mut() {
        exec.count *= 3;
    }
    for cap in b.capabilities.values_mut() {
        cap.granted *= 3;
        cap.denied *= 3;
    }
    for socket in &mut b.sockets {
        socket.count *= 3;
    }
    assert_eq!(profiles(&a), profiles(&a));
    assert_eq!(profiles(&a), profiles(&b));
}

#[test]
fn empty_recording_still_gets_the_native_arch_and_baseline() {
    let mut recording = fixture();
    recording.syscalls.clear();
    let profile = seccomp::profile(&recording);
    assert_eq!(profile.architectures, ["SCMP_ARCH_X86_64"]);
    assert!(profile.syscalls[0].names.is_empty());
    assert_eq!(profile.syscalls[1].names.len(), RUNC_BASELINE.len());
    assert_eq!(profile.syscalls.len(), 3);
}

#[test]
fn summary_names_the_container_counts_and_gaps() {
    let text = summary::render(
        &fixture(),
        &[std::path::PathBuf::from("out/seccomp.json")],
        &LeftOut::default(),
    );
    assert!(
        text.starts_with(
            "trace: recorded container workload (trace-test/workload:local) from 2026-11-28T15:00:00Z"
        ),
        "{text}"
    );
    for line in [
        "  files: 55 paths (10 written or created), 7 symlinks\n",
        "  programs: 2 executed, 4 times\n",
        "  capabilities: granted CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_NET_BIND_SERVICE; denied only CAP_SYS_ADMIN\n",
        "  sockets: unix dgram, inet stream, inet6 dccp, decnet seqpacket, netlink raw, 77 raw; ports bound: inet stream 81\n",
        "  warning: 3 events were dropped while recording: the profiles may miss accesses\n",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(!text.contains("not recorded"), "{text}");
    assert!(
        text.contains("stopped because the command exited with status 0"),
        "{text}"
    );
    assert!(
        text.contains("system calls: 10 distinct, 2471 calls (x86_64: 8, x86: 2)"),
        "{text}"
    );
    assert!(
        text.contains("warning: attached to a running container"),
        "{text}"
    );
    assert!(text.contains("wrote out/seccomp.json"), "{text}");
}

#[test]
fn a_seen_startup_replaces_the_baseline_with_what_runc_did() {
    let v3 =
        Recording::from_json(include_str!("../../tests/data/recording-v3.json"), "v3").unwrap();
    let startup = v3.startup.as_ref().unwrap();
    let profile = seccomp::profile(&v3);
    let names = |i: usize| profile.syscalls[i].names.clone();
    // The application's calls first, then runc's observed after-filter calls the application did
    // not make (execve and futex are the application's too), then the baseline's rest.
    assert!(names(0).contains(&"execve".to_owned()));
    assert_eq!(names(1), ["capset", "setgid", "setgroups", "setuid"]);
    assert!(
        profile.syscalls[1]
            .comment
            .as_deref()
            .unwrap()
            .starts_with("runc, observed at startup")
    );
    assert!(
        !names(2).contains(&"capset".to_owned()) && names(2).contains(&"rt_sigreturn".to_owned())
    );
    // runc's calls before the filter never pass through it: never allowed.
    let allowed: Vec<String> = profile
        .syscalls
        .iter()
        .filter(|r| r.action == "SCMP_ACT_ALLOW")
        .flat_map(|r| r.names.clone())
        .collect();
    for before in startup.runc_before_filter[&trace_common::Abi::X86_64].keys() {
        assert!(
            !allowed.contains(before) || RUNC_BASELINE.contains(&before.as_str()),
            "{before} allowed"
        );
    }
    assert!(!allowed.contains(&"mount".to_owned()) && !allowed.contains(&"pivot_root".to_owned()));
}

/// recording-v4.json, another run of its image (attached late; other calls, files, capabilities,
/// sockets), and the two merged.
fn two_runs_merged() -> (Recording, Recording, Recording) {
    use crate::recording::{Access, MergeOptions};

    let a = Recording::from_json(include_str!("../../tests/data/recording-v4.json"), "a").unwrap();
    let mut b = fixture();
    b.container.id = "b".repeat(64);
    b.started_at = "2026-11-28T16:00:00Z".into();
    let native = b.syscalls.entry(trace_common::Abi::X86_64).or_default();
    native.remove("accept4");
    native.insert("clone3".into(), 2);
    native.insert("unlinkat".into(), 1);
    b.record_file("/srv/upload", Access::Create);
    b.record_capability(5, true, 1); // CAP_KILL
    b.record_socket(1, 1, 1); // unix stream
    let merged = a.merge(&b, MergeOptions::default()).unwrap();
    (a, b, merged)
}

#[test]
fn a_merged_recording_renders_the_union_of_its_sources() {
    use std::collections::BTreeSet;

    let (a, b, merged) = two_runs_merged();
    assert_eq!(merged.sources.len(), 2);

    let rules = |r: &Recording, action: &str| -> BTreeSet<String> {
        seccomp::profile(r)
            .syscalls
            .into_iter()
            .filter(|rule| rule.action == action)
            .flat_map(|rule| rule.names)
            .collect()
    };
    let allow = "SCMP_ACT_ALLOW";
    let (allowed_a, allowed_b) = (rules(&a, allow), rules(&b, allow));
    assert_eq!(rules(&merged, allow), &allowed_a | &allowed_b);
    assert!(rules(&merged, allow).contains("clone3") && !allowed_a.contains("clone3"));
    let refused = "SCMP_ACT_ERRNO";
    assert_eq!(
        rules(&merged, refused),
        &rules(&a, refused) & &rules(&b, refused),
        "a fallback call either run made is allowed"
    );
    let arches = |r: &Recording| -> BTreeSet<String> {
        seccomp::profile(r).architectures.into_iter().collect()
    };
    assert_eq!(arches(&merged), &arches(&a) | &arches(&b));

    // AppArmor: the capabilities and socket rules are the union of each run's.
    let lines = |r: &Recording| -> BTreeSet<String> {
        apparmor::render(r)
            .lines()
            .filter(|l| l.starts_with("  capability ") || l.starts_with("  network "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(lines(&merged), &lines(&a) | &lines(&b));
    assert!(lines(&merged).contains("  capability kill,"));

    // The merged recording renders the same after a round trip through recording.json.
    let back = Recording::from_json(&merged.to_json(), "merged.json").unwrap();
    assert_eq!(profiles(&back), profiles(&merged));
}

#[test]
fn the_summary_says_when_file_rules_were_collapsed_into_globs() {
    let mut recording = fixture();
    assert!(!summary::render(&recording, &[], &LeftOut::default()).contains("glob rules"));
    for i in 0..65 {
        recording.record_file(
            format!("/var/cache/app/entry-{i}").as_bytes(),
            crate::recording::Access::Read,
        );
    }
    let text = summary::render(&recording, &[], &LeftOut::default());
    assert!(
        text.contains("apparmor: 1 glob rules stand for 65 paths, too many for a rule each"),
        "{text}"
    );
}

#[test]
fn the_summary_of_a_merged_recording_shows_in_how_many_runs_each_item_was_seen() {
    let (a, _, merged) = two_runs_merged();
    assert!(!summary::render(&a, &[], &LeftOut::default()).contains("runs:"));
    insta::assert_snapshot!(
        "summary_merged",
        summary::render(&merged, &[], &LeftOut::default())
    );
}

#[test]
fn min_runs_renders_only_what_enough_runs_saw() {
    let (_, _, merged) = two_runs_merged();
    let options = Options {
        min_runs: 2,
        ..Options::default()
    };
    let (selected, left_out) = super::selected(&merged, &options).unwrap();
    let rendered = profiles_and_advice(&selected, &options);
    let file = |name: &str| {
        rendered
            .iter()
            .find(|r| r.file_name == name)
            .map(|r| r.contents.clone())
            .unwrap()
    };
    let seccomp = file(SECCOMP_FILE);
    assert!(!seccomp.contains("\"unlinkat\""), "{seccomp}");
    assert!(seccomp.contains("\"read\""), "{seccomp}");
    let apparmor = file(APPARMOR_FILE);
    assert!(!apparmor.contains("capability kill,"), "{apparmor}");
    let upload = "/srv/upload".into();
    assert!(merged.files.contains_key(&upload) && !selected.files.contains_key(&upload));

    let text = summary::render(&merged, &[], &left_out);
    let note = text
        .lines()
        .find(|l| l.contains("--min-runs"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        note,
        format!(
            "  --min-runs 2: left out of the profiles what fewer of the 2 runs saw: {}",
            left_out.items
        )
    );
    assert!(left_out.items.total() > 0);
    assert_eq!(
        super::selected(
            &merged,
            &Options {
                min_runs: 3,
                ..Options::default()
            }
        )
        .unwrap_err()
        .to_string(),
        "--min-runs 3 asks for more runs than the recording has: it is merged from 2 runs"
    );
}

#[test]
fn the_summary_lists_at_most_ten_items_not_every_run_saw() {
    use crate::recording::{Access, MergeOptions};

    let (a, mut b, _) = two_runs_merged();
    for i in 0..10 {
        b.record_file(format!("/srv/cache/{i}").as_bytes(), Access::Create);
    }
    let merged = a.merge(&b, MergeOptions::default()).unwrap();
    let text = summary::render(&merged, &[], &LeftOut::default());
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("    1/2 ")).collect();
    assert_eq!(listed.len(), summary::SOME_RUNS_LISTED, "{text}");
    assert!(
        text.contains("    ... and 6 more (provenance in recording.json)\n"),
        "{text}"
    );
}
