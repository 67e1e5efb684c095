use proptest::prelude::*;

use super::*;
use crate::recording::{
    Access, Category, ContainerInfo, Events, Gap, GapKind, HostInfo, RecordingError, Startup,
    StopReason, SyscallsByAbi, UnknownSyscall,
};

const IMAGE_ID: &str = "sha256:feed000000000000000000000000000000000000000000000000000000000000";
const OTHER_IMAGE_ID: &str =
    "sha256:beef000000000000000000000000000000000000000000000000000000000000";

/// A recording of one run of `trace-test/app:local`, with nothing observed yet.
fn run(id: &str, started_at: &str) -> Recording {
    let container = ContainerInfo {
        id: id.into(),
        name: format!("app-{id}"),
        image: "trace-test/app:local".into(),
        image_id: IMAGE_ID.into(),
        mounts: BTreeSet::new(),
        config: None,
        runtimes: std::collections::BTreeSet::new(),
    };
    let host = HostInfo {
        kernel: "6.18.44".into(),
        arch: "x86_64".into(),
    };
    let mut recording = Recording::started(container, host, started_at.into(), false);
    recording.stopped_at = started_at.replace(":00Z", ":30Z");
    for category in [
        Category::Syscalls,
        Category::Files,
        Category::Execs,
        Category::Capabilities,
        Category::Sockets,
    ] {
        recording.mark_recorded(category);
    }
    recording
}

fn calls(recording: &mut Recording, calls: &[(&str, u64)]) {
    let native = recording.syscalls.entry(Abi::X86_64).or_default();
    for (name, count) in calls {
        *native.entry((*name).to_owned()).or_default() += count;
    }
}

fn merge(a: &Recording, b: &Recording) -> Recording {
    a.merge(b, MergeOptions::default()).unwrap()
}

/// Two runs of one image that saw different things.
fn two_runs() -> (Recording, Recording) {
    let mut a = run("aaaa", "2026-11-28T15:00:00Z");
    calls(&mut a, &[("read", 10), ("write", 5), ("openat", 2)]);
    a.record_file("/etc/passwd", Access::Read);
    a.record_file("/srv/index.html", Access::Read);
    a.record_exec("/bin/sh", &["sh", "-c", "true"]);
    a.record_capability(10, true, 1);
    a.record_socket(2, 1, 1);
    a.record_bound_port(2, 1, 80);

    let mut b = run("bbbb", "2026-11-28T16:00:00Z");
    calls(&mut b, &[("read", 7), ("write", 1), ("unlink", 1)]);
    b.record_file("/etc/passwd", Access::Lock);
    b.record_file("/srv/upload", Access::Create);
    b.record_exec("/bin/sh", &["sh", "-c", "false"]);
    b.record_capability(10, true, 2);
    b.record_socket(2, 1, 3);
    b.record_socket(10, 1, 1);
    b.record_dropped(4);
    b.stop_reason = StopReason::ContainerExited;
    (a, b)
}

#[test]
fn merged_recording_snapshot() {
    let (a, b) = two_runs();
    insta::assert_snapshot!(merge(&a, &b).to_json());
}

#[test]
fn counts_add_up_access_sets_union_and_provenance_names_the_runs() {
    let (a, b) = two_runs();
    let m = merge(&b, &a);
    assert_eq!(m.sources.len(), 2);
    assert_eq!(m.sources[0].id, "aaaa", "sorted by start time");
    assert_eq!(
        (m.container.id.as_str(), m.container.name.as_str()),
        ("aaaa", "app-aaaa")
    );
    assert_eq!(m.started_at, "2026-11-28T15:00:00Z");
    assert_eq!(m.stopped_at, "2026-11-28T16:00:30Z");
    assert_eq!(m.stop_reason, StopReason::ContainerExited);
    assert_eq!(m.syscalls[&Abi::X86_64]["read"], 17);
    assert_eq!(m.syscalls[&Abi::X86_64]["unlink"], 1);
    assert_eq!(
        m.files[&"/etc/passwd".into()].access,
        [Access::Read, Access::Lock].into()
    );
    assert_eq!(m.execs[&"/bin/sh".into()].count, 2);
    assert_eq!(m.execs[&"/bin/sh".into()].argv.len(), 2);
    assert_eq!(m.capabilities[&Capability(10)].granted, 3);
    assert_eq!(m.sockets[0].count, 4);
    assert_eq!(m.events.dropped, 4);
    assert_eq!(m.events.recorded.len(), 5);

    // Seen by both: not listed. Seen by one: listed with its index.
    let p = &m.provenance;
    assert!(!p.syscalls[&Abi::X86_64].contains_key("read"));
    assert_eq!(p.syscalls[&Abi::X86_64]["openat"], [0].into());
    assert_eq!(p.syscalls[&Abi::X86_64]["unlink"], [1].into());
    assert!(!p.files.contains_key(&"/etc/passwd".into()));
    assert_eq!(p.files[&"/srv/upload".into()], [1].into());
    assert!(p.execs.is_empty() && p.capabilities.is_empty());
    assert_eq!(p.sockets.len(), 1);
    assert_eq!(p.sockets[0].family, SocketFamily(10));
    assert_eq!(p.bound_ports[0].sources, [0].into());
}

#[test]
fn a_recording_of_one_run_serializes_without_sources() {
    let (a, _) = two_runs();
    let json = a.to_json();
    assert!(!json.contains("\"sources\"") && !json.contains("\"provenance\""));
    assert_eq!(a.source_list(), [Source::of(&a)]);
}

#[test]
fn merged_recordings_round_trip() {
    let (a, b) = two_runs();
    let m = merge(&a, &b);
    let back = Recording::from_json(&m.to_json(), "m.json").unwrap();
    assert_eq!(back, m);
    assert_eq!(back.to_json(), m.to_json());
}

#[test]
fn the_same_run_counts_once() {
    let (a, b) = two_runs();
    assert_eq!(merge(&a, &a), a);
    let ab = merge(&a, &b);
    assert_eq!(merge(&ab, &a), ab);
    assert_eq!(merge(&b, &ab), ab);
    assert_eq!(merge(&ab, &ab), ab);

    let c = run("cccc", "2026-11-28T17:00:00Z");
    let bc = merge(&b, &c);
    let err = ab.merge(&bc, MergeOptions::default()).unwrap_err();
    assert!(
        matches!(err, MergeError::SharedSource { ref id, .. } if id == "bbbb"),
        "{err}"
    );

    let mut a2 = a.clone();
    calls(&mut a2, &[("getpid", 1)]);
    let err = a.merge(&a2, MergeOptions::default()).unwrap_err();
    assert!(matches!(err, MergeError::Conflicting { .. }), "{err}");
}

#[test]
fn different_images_are_refused_unless_allowed() {
    let (a, mut b) = two_runs();
    b.container.image = "trace-test/app:v2".into();
    b.container.image_id = OTHER_IMAGE_ID.into();
    let err = a.merge(&b, MergeOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "recordings of different images: trace-test/app:local ({IMAGE_ID}) and trace-test/app:v2 ({OTHER_IMAGE_ID})"
        )
    );
    let allowed = MergeOptions {
        allow_different_images: true,
    };
    let m = a.merge(&b, allowed).unwrap();
    assert_eq!(m.container.image_id, IMAGE_ID, "the first source's");
    assert_eq!(m.sources[1].image_id, OTHER_IMAGE_ID);
    // A third run of the first image still meets the second image among the sources.
    let c = run("cccc", "2026-11-28T17:00:00Z");
    assert!(m.merge(&c, MergeOptions::default()).is_err());
}

#[test]
fn categories_not_recorded_by_every_source_are_not_claimed() {
    let (a, mut b) = two_runs();
    b.events.recorded.remove(&Category::Files);
    let m = merge(&a, &b);
    assert!(!m.files_recorded());
    assert!(m.files.contains_key(&"/srv/index.html".into()), "data kept");
    assert_eq!(m.gaps.len(), 1);
    assert_eq!(m.gaps[0].kind, GapKind::PartlyRecorded);
    assert!(m.gaps[0].detail.starts_with("files were recorded by some"));
    // A third source that records files does not make it complete again.
    let c = run("cccc", "2026-11-28T17:00:00Z");
    assert_eq!(merge(&m, &c).gaps, m.gaps);
}

#[test]
fn startup_and_hosts() {
    let (mut a, mut b) = two_runs();
    a.gaps.push(Gap {
        kind: GapKind::StartupMissed,
        detail: "attached".into(),
    });
    let m = merge(&a, &b);
    assert!(!m.startup_seen);
    assert_eq!(m.gaps, a.gaps);

    b.startup_seen = true;
    let runc = |name: &str| SyscallsByAbi::from([(Abi::X86_64, [(name.to_owned(), 1)].into())]);
    b.startup = Some(Startup {
        filter_installed: true,
        runc_before_filter: runc("mount"),
        runc_after_filter: runc("capset"),
    });
    b.host.kernel = "6.1.0".into();
    let m = merge(&a, &b);
    assert!(m.startup_seen, "one source saw the startup");
    assert_eq!(m.startup, b.startup);
    assert_eq!(m.host, a.host, "the first source's host");
    assert_eq!(m.gaps.len(), 1, "startup_missed dropped: {:?}", m.gaps);
    assert_eq!(m.gaps[0].kind, GapKind::HostsDiffer);
    assert!(m.gaps[0].detail.contains("(6.1.0 x86_64, 6.18.44 x86_64)"));

    let mut c = run("cccc", "2026-11-28T17:00:00Z");
    c.startup = b.startup.clone();
    let m = merge(&m, &c);
    let startup = m.startup.unwrap();
    assert_eq!(startup.runc_after_filter[&Abi::X86_64]["capset"], 2);
}

#[test]
fn loading_checks_sources_and_provenance() {
    let (a, b) = two_runs();
    let m = merge(&a, &b);
    let text = m.to_json();
    let bad = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        edit(&mut value);
        let err = Recording::from_json(&value.to_string(), "m.json").unwrap_err();
        assert!(matches!(err, RecordingError::Sources { .. }), "{err}");
        format!("{:#}", anyhow::Error::from(err))
    };
    let one = bad(&|v| {
        v["sources"].as_array_mut().unwrap().pop();
    });
    assert!(one.contains("\"sources\" has one entry"), "{one}");
    bad(&|v| v["sources"].as_array_mut().unwrap().reverse());
    let beyond = bad(&|v| v["provenance"]["files"]["/srv/upload"] = serde_json::json!([2]));
    assert!(
        beyond.ends_with("provenance of files \"/srv/upload\": a source index beyond \"sources\""),
        "{beyond}"
    );
    bad(&|v| v["provenance"]["files"]["/srv/upload"] = serde_json::json!([0, 1]));
    bad(&|v| v["provenance"]["files"]["/srv/upload"] = serde_json::json!([]));
    bad(&|v| v["provenance"]["files"]["/nowhere"] = serde_json::json!([0]));
    bad(&|v| {
        v.as_object_mut().unwrap().remove("sources");
    });
}

// Small random recordings: a few choices per kind, so that merges overlap.

const NAMES: [&str; 5] = ["read", "write", "openat", "futex", "unlink"];
const PATHS: [&str; 4] = ["/etc/passwd", "/srv/a", "/srv/b", "/tmp"];
const TIMES: [&str; 3] = [
    "2026-11-28T15:00:00Z",
    "2026-11-28T15:00:00Z",
    "2026-11-28T16:00:00Z",
];
const CATEGORIES: [Category; 5] = [
    Category::Syscalls,
    Category::Files,
    Category::Execs,
    Category::Capabilities,
    Category::Sockets,
];

#[allow(
    clippy::too_many_lines,
    reason = "one strategy, one kind of observation per block"
)]
fn arb_recording(id: &'static str) -> impl Strategy<Value = Recording> {
    let observed = (
        prop::collection::vec((0..2usize, 0..NAMES.len(), 1..5u64), 0..6),
        prop::collection::vec((0..PATHS.len(), 0..16usize, any::<bool>()), 0..5),
        prop::collection::vec((0..PATHS.len(), 0..PATHS.len()), 0..3),
        prop::collection::vec((0..2usize, 0..6usize), 0..4),
        prop::collection::vec((0..3u32, any::<bool>(), 0..3u64), 0..4),
        prop::collection::vec((1..3u32, 1..3u32, 0..3u64, 0..3u16), 0..4),
    );
    let run_facts = (
        0..TIMES.len(),
        prop::collection::btree_set(0..CATEGORIES.len(), 0..=CATEGORIES.len()),
        0..3u64,
        any::<bool>(),
        prop::option::of((any::<bool>(), 0..NAMES.len(), 1..3u64)),
        0..2usize,
        prop::collection::vec(0..3u32, 0..2),
        prop::collection::vec(0..PATHS.len(), 0..2),
    );
    (observed, run_facts).prop_map(move |(observed, facts)| {
        let (syscalls, files, links, execs, caps, sockets) = observed;
        let (time, recorded, dropped, startup_seen, startup, kernel, unknown, mounts) = facts;
        let mut r = run(id, TIMES[time]);
        r.events.recorded = recorded.into_iter().map(|i| CATEGORIES[i]).collect();
        r.record_dropped(dropped);
        r.startup_seen = startup_seen;
        if !startup_seen {
            r.gaps.push(Gap {
                kind: GapKind::StartupMissed,
                detail: "attached".into(),
            });
        }
        r.host.kernel = ["6.1.0", "6.18.44"][kernel].into();
        r.startup = startup.map(|(filter_installed, name, count)| Startup {
            filter_installed,
            runc_before_filter: SyscallsByAbi::new(),
            runc_after_filter: [(Abi::X86_64, [(NAMES[name].to_owned(), count)].into())].into(),
        });
        let mut counts = BTreeMap::new();
        for (abi, name, count) in syscalls {
            let abi = [Abi::X86_64, Abi::X86][abi];
            *r.syscalls
                .entry(abi)
                .or_default()
                .entry(NAMES[name].to_owned())
                .or_default() += count;
        }
        for nr in unknown {
            *counts.entry((Some(Abi::X86_64), 900 + nr)).or_insert(0) += 1;
        }
        r.unknown_syscalls = counts
            .into_iter()
            .map(|((abi, nr), count)| UnknownSyscall {
                abi,
                nr: Some(nr),
                count,
            })
            .collect();
        for (path, access, dir) in files {
            let access = [
                Access::Read,
                Access::Write,
                Access::Append,
                Access::Create,
                Access::Delete,
                Access::Rename,
                Access::Link,
                Access::Chmod,
                Access::Chown,
                Access::Exec,
                Access::MmapExec,
                Access::Lock,
                Access::Metadata,
                Access::List,
                Access::Chdir,
                Access::Probe,
            ][access];
            if dir {
                r.record_dir(PATHS[path], access);
            } else {
                r.record_file(PATHS[path], access);
            }
        }
        for (from, to) in links {
            r.record_link(PATHS[from], PATHS[to]);
        }
        for (program, argv) in execs {
            r.record_exec(["/bin/sh", "/bin/true"][program], &[format!("arg{argv}")]);
        }
        for (cap, granted, count) in caps {
            r.record_capability(cap, granted, count);
        }
        for (family, sock_type, count, port) in sockets {
            r.record_socket(family, sock_type, count);
            if port > 0 {
                r.record_bound_port(family, sock_type, 8000 + port);
            }
        }
        for mount in mounts {
            r.container.mounts.insert(PATHS[mount].into());
        }
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merging_is_associative_and_commutative(
        a in arb_recording("a"),
        b in arb_recording("b"),
        c in arb_recording("c"),
    ) {
        let ab = merge(&a, &b);
        prop_assert_eq!(&ab, &merge(&b, &a));
        let left = merge(&ab, &c);
        let right = merge(&a, &merge(&b, &c));
        prop_assert_eq!(&left, &right);
        prop_assert_eq!(&left, &merge(&merge(&a, &c), &b));
        // Merging again what is already in changes nothing.
        prop_assert_eq!(&merge(&left, &b), &left);
        prop_assert_eq!(&merge(&a, &a), &a);
        // What is written reads back the same.
        prop_assert_eq!(&Recording::from_json(&left.to_json(), "m").unwrap(), &left);
    }

    #[test]
    fn provenance_says_which_run_saw_each_item(
        a in arb_recording("a"),
        b in arb_recording("b"),
    ) {
        let m = merge(&a, &b);
        let runs = [&a, &b];
        for path in m.files.keys() {
            let seen: SourceSet = m.provenance.files.get(path).cloned().unwrap_or_else(|| (0..2).collect());
            for (i, source) in m.sources.iter().enumerate() {
                let run = runs.iter().find(|r| r.container.id == source.id).unwrap();
                prop_assert_eq!(seen.contains(&i), run.files.contains_key(path));
            }
        }
        for (abi, calls) in &m.syscalls {
            for (name, count) in calls {
                let in_run = |r: &Recording| r.syscalls.get(abi).and_then(|c| c.get(name)).copied();
                prop_assert_eq!(*count, in_run(&a).unwrap_or(0) + in_run(&b).unwrap_or(0));
            }
        }
        let recorded: BTreeSet<Category> = a.events.recorded.intersection(&b.events.recorded).copied().collect();
        prop_assert_eq!(&m.events.recorded, &recorded);
    }
}

#[test]
fn a_merged_recording_merges_from_its_events() {
    // Events::default() is "nothing recorded": merging keeps nothing claimed.
    let (mut a, b) = two_runs();
    a.events = Events::default();
    let m = merge(&a, &b);
    assert!(m.events.recorded.is_empty());
    assert_eq!(m.gaps.len(), CATEGORIES.len());
}

#[test]
fn a_configuration_all_sources_agree_on_is_kept_else_noted() {
    use crate::recording::{ContainerConfig, Identity};
    let config = |network: &str| {
        Some(ContainerConfig {
            network_mode: network.into(),
            ..ContainerConfig::default()
        })
    };
    let (mut a, mut b) = two_runs();
    let mut c = run("cccc", "2026-11-28T17:00:00Z");
    a.container.config = config("bridge");
    b.container.config = config("bridge");
    c.container.config = config("host");
    a.identity = Some(Identity {
        uids: [0].into(),
        ..Identity::default()
    });
    b.identity = Some(Identity {
        uids: [33].into(),
        ..Identity::default()
    });
    a.record_runc_capability(8, true, 55);
    b.record_runc_capability(8, true, 5);
    let ab = merge(&a, &b);
    assert_eq!(ab.container.config, config("bridge"));
    assert!(!ab.gaps.iter().any(|g| g.kind == GapKind::ConfigsDiffer));
    assert_eq!(ab.identity.as_ref().unwrap().uids, [0, 33].into());
    assert_eq!(ab.runc_capabilities[&Capability(8)].granted, 60);
    let differs = |r: &Recording| r.gaps.iter().any(|g| g.kind == GapKind::ConfigsDiffer);
    let abc = merge(&ab, &c);
    assert_eq!(abc.container.config, None);
    assert!(differs(&abc));
    // Grouped the other way, the same.
    let bc = merge(&b, &c);
    assert!(differs(&bc));
    assert_eq!(merge(&a, &bc), abc);
    // A recording without a configuration (v4) differs from one with.
    let mut old = run("dddd", "2026-11-28T18:00:00Z");
    old.container.config = None;
    assert!(differs(&merge(&a, &old)));
}

/// Three runs: what all saw, what two saw, what one saw.
fn three_runs() -> Recording {
    let (a, b) = two_runs();
    let mut c = run("cccc", "2026-11-28T17:00:00Z");
    calls(&mut c, &[("read", 1), ("write", 1), ("openat", 1)]);
    c.record_file("/etc/passwd", Access::Read);
    c.record_exec("/bin/sh", &["sh"]);
    c.record_socket(2, 1, 1);
    merge(&merge(&a, &b), &c)
}

#[test]
fn every_item_shows_in_how_many_runs_it_was_seen() {
    let merged = three_runs();
    let seen = merged.seen_in();
    assert_eq!(seen.runs, 3);
    let call = |name: &str| seen.syscalls.get(&(Abi::X86_64, name.to_owned())).copied();
    assert_eq!(
        (call("read"), call("openat"), call("unlink"), call("mmap")),
        (Some(3), Some(2), Some(1), None)
    );
    assert_eq!(seen.files[&"/etc/passwd".into()], 3);
    assert_eq!(seen.files[&"/srv/upload".into()], 1);
    assert_eq!(seen.execs[&"/bin/sh".into()], 3);
    assert_eq!(seen.capabilities.values().copied().collect::<Vec<_>>(), [2]);
    let sockets: Vec<usize> = seen.sockets.values().copied().collect();
    assert_eq!(sockets, [3, 1], "inet stream by all, inet6 stream by one");
    assert_eq!(seen.bound_ports.values().copied().collect::<Vec<_>>(), [1]);
    let (every, some) = seen.every_and_some();
    assert_eq!(
        every.to_string(),
        "2 system calls, 1 file, 1 program, 1 socket"
    );
    assert_eq!(
        some.to_string(),
        "2 system calls, 2 files, 1 capability, 1 socket, 1 bound port"
    );

    // A recording of one run saw everything in its only run.
    let (a, _) = two_runs();
    let seen = a.seen_in();
    assert_eq!(seen.runs, 1);
    assert!(seen.items().iter().all(|item| item.runs == 1));
    assert_eq!(seen.every_and_some().1.total(), 0);
}

#[test]
fn keeping_what_m_runs_saw_leaves_out_the_rest_and_its_provenance() {
    let merged = three_runs();
    let (all, left_out) = merged.seen_in_at_least(1).unwrap();
    assert_eq!((all, left_out.items.total()), (merged.clone(), 0));
    assert_eq!(merged.seen_in_at_least(0).unwrap().0, merged);

    let (kept, left_out) = merged.seen_in_at_least(2).unwrap();
    assert_eq!((left_out.min_runs, left_out.runs), (2, 3));
    assert_eq!(
        left_out.items.to_string(),
        "1 system call, 2 files, 1 socket, 1 bound port"
    );
    let names: Vec<&str> = kept.syscalls[&Abi::X86_64]
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ["openat", "read", "write"]);
    assert!(!kept.files.contains_key(&"/srv/upload".into()));
    assert!(kept.files.contains_key(&"/etc/passwd".into()));
    assert!(kept.bound_ports.is_empty());
    assert_eq!(kept.sockets.len(), 1);
    assert_eq!(kept.capabilities.len(), 1, "seen in 2 of 3");
    kept.check_sources().unwrap();
    assert_eq!(kept.sources, merged.sources);
    assert!(kept.seen_in().items().iter().all(|item| item.runs >= 2));

    let (kept, left_out) = merged.seen_in_at_least(3).unwrap();
    assert_eq!(
        left_out.items.to_string(),
        "2 system calls, 2 files, 1 capability, 1 socket, 1 bound port"
    );
    assert!(kept.provenance.is_empty(), "{:?}", kept.provenance);
    kept.check_sources().unwrap();

    let err = merged.seen_in_at_least(4).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--min-runs 4 asks for more runs than the recording has: it is merged from 3 runs"
    );
    let (a, _) = two_runs();
    assert_eq!(
        a.seen_in_at_least(2).unwrap_err().to_string(),
        "--min-runs 2 asks for more runs than the recording has: it is of 1 run (merge recordings with `trace merge` first)"
    );
}
