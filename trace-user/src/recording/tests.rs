use super::*;

const FIXTURE: &str = include_str!("../../tests/data/recording-v8.json");
const FIXTURE_V7: &str = include_str!("../../tests/data/recording-v7.json");
const FIXTURE_V6: &str = include_str!("../../tests/data/recording-v6.json");
const FIXTURE_V5: &str = include_str!("../../tests/data/recording-v5.json");
const FIXTURE_V4: &str = include_str!("../../tests/data/recording-v4.json");
const FIXTURE_V3: &str = include_str!("../../tests/data/recording-v3.json");
const FIXTURE_V2: &str = include_str!("../../tests/data/recording-v2.json");
const FIXTURE_V1: &str = include_str!("../../tests/data/recording-v1.json");

#[test]
fn fixture_round_trips_byte_for_byte() {
    let recording = Recording::from_json(FIXTURE, "fixture").unwrap();
    assert_eq!(recording.to_json(), FIXTURE);
    assert_eq!(recording.distinct_syscalls(), 10);
    assert_eq!(
        recording.total_calls(),
        12 + 40 + 300 + 2 + 77 + 31 + 1200 + 800 + 3 + 5 + 1
    );
    assert!(
        recording.files_recorded()
            && recording.execs_recorded()
            && recording.capabilities_recorded()
            && recording.sockets_recorded()
    );
    let hostile = PathBytes::new(b"/data/hostile/latin1 caf\xe9 \xff".to_vec());
    assert_eq!(recording.files[&hostile].access, [Access::Read].into());
    assert!(
        recording
            .files
            .contains_key(&PathBytes::new(b"/data/hostile/new\nline".to_vec()))
    );
}

#[test]
fn v3_recordings_load_as_current_and_write_back_with_only_the_version_changed() {
    let recording = Recording::from_json(FIXTURE_V3, "v3.json").unwrap();
    assert_eq!(recording.schema_version, SCHEMA_VERSION);
    assert!(recording.sources.is_empty() && recording.provenance.is_empty());
    let v4 = Recording::from_json(FIXTURE_V4, "v4.json").unwrap();
    assert_eq!(recording.to_json(), v4.to_json());
}

#[test]
fn v6_keeps_lives_and_what_was_found_at_attach_and_v5_loads_without() {
    let recording = Recording::from_json(FIXTURE_V6, "v6.json").unwrap();
    assert_eq!(recording.lives.len(), 2);
    let first = recording.lives[0].ended.as_ref().unwrap();
    assert_eq!(
        (first.exit_code, first.requested, first.crashed()),
        (137, true, false)
    );
    assert_eq!(
        first.to_string(),
        "stopped on request, killed by signal 9 (exit code 137)"
    );
    assert!(recording.lives[1].ended.is_none());
    assert!(
        recording
            .found_at_attach
            .contains(&"/usr/local/bin/workload".into())
    );
    let v5 = Recording::from_json(FIXTURE_V5, "v5.json").unwrap();
    assert!(v5.lives.is_empty() && v5.found_at_attach.is_empty());
    let mut without = recording.clone();
    without.lives.clear();
    without.found_at_attach.clear();
    assert_eq!(without.to_json(), v5.to_json());
}

/// `recording` as version 7 would have it: without the runtimes, steps, included calls and reach.
fn without_v8_fields(recording: &Recording) -> Recording {
    let mut without = recording.clone();
    without.container.runtimes.clear();
    without.steps.clear();
    without.included_syscalls.clear();
    without.reach = None;
    without
}

#[test]
fn v8_names_the_runtime_and_v7_loads_without() {
    let recording = Recording::from_json(FIXTURE, "v8.json").unwrap();
    assert_eq!(
        recording.container.runtimes,
        [RuntimeInfo {
            engine: "docker".into(),
            engine_version: "20.10.24+dfsg1".into(),
            name: "runc".into(),
            version: "1.1.5+ds1".into(),
        }]
        .into()
    );
    let v7 = Recording::from_json(FIXTURE_V7, "v7.json").unwrap();
    assert!(v7.container.runtimes.is_empty());
    assert_eq!(without_v8_fields(&recording).to_json(), v7.to_json());
    assert_eq!(
        v7.to_json(),
        FIXTURE_V7.replace("\"schema_version\": 7", "\"schema_version\": 8")
    );
}

/// A runtime's strings are shown to people: a control character or a length no engine gives is
/// refused.
#[test]
fn runtime_names_must_be_printable() {
    for (from, to) in [
        ("\"name\": \"runc\"", "\"name\": \"runc\\nx\""),
        ("\"name\": \"runc\"", "\"name\": \"\""),
        (
            "\"version\": \"1.1.5+ds1\"",
            &format!("\"version\": \"{}\"", "1".repeat(200)),
        ),
    ] {
        let edited = FIXTURE.replacen(from, to, 1);
        assert!(
            matches!(
                Recording::from_json(&edited, "e.json"),
                Err(RecordingError::Invalid {
                    source: Invalid::Runtime(_),
                    ..
                })
            ),
            "{to} was accepted"
        );
    }
}

#[test]
fn v7_keeps_the_program_and_variable_names_and_v6_loads_without() {
    let recording = Recording::from_json(FIXTURE_V7, "v7.json").unwrap();
    let process = recording
        .container
        .config
        .as_ref()
        .and_then(|c| c.process.as_ref())
        .unwrap();
    assert_eq!(process.entrypoint, ["/usr/local/bin/workload"]);
    assert_eq!(process.cmd, ["--serve", "it's $(id) `x`; rm -rf /"]);
    assert_eq!(process.working_dir, "/data");
    assert_eq!(
        process.env_names.as_deref(),
        Some(&["API_TOKEN".to_owned(), "WORKLOAD_MODE".to_owned()][..])
    );
    let v6 = Recording::from_json(FIXTURE_V6, "v6.json").unwrap();
    assert_eq!(v6.schema_version, SCHEMA_VERSION);
    assert_eq!(v6.container.config.as_ref().unwrap().process, None);
    let mut without = recording.clone();
    if let Some(config) = without.container.config.as_mut() {
        config.process = None;
    }
    assert_eq!(without.to_json(), v6.to_json());
    assert_eq!(
        v6.to_json(),
        FIXTURE_V6.replace("\"schema_version\": 6", "\"schema_version\": 8")
    );
}

#[test]
fn v8_keeps_steps_included_calls_and_reach_and_v7_loads_without() {
    let recording = Recording::from_json(FIXTURE, "v8.json").unwrap();
    let names: Vec<&str> = recording.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["serve", "reload"]);
    assert_eq!(
        recording.first_step_of_syscall(trace_common::Abi::X86_64, "accept4"),
        "serve"
    );
    assert_eq!(
        recording.first_step_of_syscall(trace_common::Abi::X86_64, "execve"),
        STARTUP_STEP
    );
    assert_eq!(recording.included_unobserved(), ["kill", "umask"].into());
    let reach = recording.reach.as_ref().unwrap();
    assert_eq!(reach.binaries.len(), 4);
    assert_eq!(
        reach.skipped[&PathBytes::from("/data/exec-map.bin")],
        Skip::NotInImage
    );
    let v7 = Recording::from_json(FIXTURE_V7, "v7.json").unwrap();
    assert_eq!(without_v8_fields(&recording).to_json(), v7.to_json());
    assert_eq!(
        v7.to_json(),
        FIXTURE_V7.replace("\"schema_version\": 7", "\"schema_version\": 8")
    );
}

#[test]
fn hand_edited_steps_included_calls_and_reach_are_refused() {
    for (from, to) in [
        ("\"name\": \"serve\"", "\"name\": \"startup\""),
        ("\"name\": \"serve\"", "\"name\": \"a b\""),
        (
            "\"accept4\": 12,\n          \"read\": 900",
            "\"accept4\": 13,\n          \"read\": 900",
        ),
        (
            "\"/var/log/app.log.1\"\n      ]\n    }\n  ],",
            "\"/not/recorded\"\n      ]\n    }\n  ],",
        ),
        ("\"name\": \"kill\"", "\"name\": \"kil\""),
        ("the reload signals the old workers", "a\\nb"),
        ("\"setrlimit64\"", "\"set rlimit\""),
        ("\"setsid\"", "\"fork2\""),
    ] {
        assert!(FIXTURE.contains(from), "{from}");
        let edited = FIXTURE.replacen(from, to, 1);
        assert!(
            matches!(
                Recording::from_json(&edited, "e.json"),
                Err(RecordingError::Invalid { .. })
            ),
            "{to} was accepted"
        );
    }
}

#[test]
fn only_the_names_of_environment_variables_are_kept() {
    let env = [
        "PATH=/usr/local/bin:/usr/bin".to_owned(),
        "LANG=C.UTF-8".to_owned(),
        "API_TOKEN=hunter2".to_owned(),
        "EMPTY=".to_owned(),
        "=odd".to_owned(),
        "UNSET".to_owned(),
    ];
    let image = [
        "PATH=/usr/local/bin:/usr/bin".to_owned(),
        "LANG=en_US.UTF-8".to_owned(),
    ];
    let names = ProcessConfig::env_names_beyond(&env, &image);
    assert_eq!(
        names,
        ["API_TOKEN", "EMPTY", "LANG", "UNSET"],
        "PATH is the image's"
    );
    // A hand-edited recording cannot carry a value in a name.
    for smuggled in ["API_TOKEN=hunter2", "", "A\\u0000B"] {
        let edited = FIXTURE.replacen("\"API_TOKEN\"", &format!("\"{smuggled}\""), 1);
        assert!(
            matches!(
                Recording::from_json(&edited, "e.json"),
                Err(RecordingError::Invalid {
                    source: Invalid::EnvName,
                    ..
                })
            ),
            "{smuggled:?} was accepted"
        );
    }
}

#[test]
fn endings_tell_crashes_from_stops() {
    let ending = |exit_code, oom_killed, requested| crate::recording::Ending {
        at: "t".into(),
        exit_code,
        oom_killed,
        requested,
    };
    assert!(ending(1, false, false).crashed());
    assert!(ending(139, false, false).crashed());
    assert!(ending(0, true, false).crashed());
    assert!(
        ending(0, true, true).crashed(),
        "an OOM kill is a crash even while stopping"
    );
    assert!(!ending(0, false, false).crashed());
    assert!(!ending(143, false, true).crashed());
    assert_eq!(ending(1, false, false).to_string(), "exited with code 1");
    assert_eq!(
        ending(137, true, false).to_string(),
        "killed by the OOM killer (exit code 137)"
    );
}

#[test]
fn v4_recordings_load_without_configuration_or_identity() {
    let recording = Recording::from_json(FIXTURE_V4, "v4.json").unwrap();
    assert_eq!(recording.container.config, None);
    assert_eq!(recording.identity, None);
    assert!(recording.runc_capabilities.is_empty() && recording.borrowed_capabilities.is_empty());
    assert_eq!(
        recording.to_json(),
        FIXTURE_V4.replace("\"schema_version\": 4", "\"schema_version\": 8")
    );
}

#[test]
fn v5_fixture_holds_the_configuration_and_identity() {
    let recording = Recording::from_json(FIXTURE, "v5.json").unwrap();
    let config = recording.container.config.as_ref().unwrap();
    assert!(config.privileged && config.network_mode == "host");
    assert_eq!(config.user_is_root(), Some(true));
    let identity = recording.identity.as_ref().unwrap();
    assert_eq!(identity.uids, [0, 33].into());
    assert_eq!(
        identity.privileged_programs[&PathBytes::from("/bin/busybox")],
        [FilePrivilege::Setuid].into()
    );
    assert_eq!(recording.runc_capabilities[&Capability(8)].granted, 55);
}

#[test]
fn configured_users_tell_root_when_they_can() {
    let user = |u: &str| ContainerConfig {
        user: u.into(),
        ..ContainerConfig::default()
    };
    assert_eq!(user("").user_is_root(), Some(true));
    assert_eq!(user("0:0").user_is_root(), Some(true));
    assert_eq!(user("root").user_is_root(), Some(true));
    assert_eq!(user("1000:1000").user_is_root(), Some(false));
    assert_eq!(user("www-data").user_is_root(), None);
}

#[test]
fn v2_recordings_load_without_a_startup() {
    let recording = Recording::from_json(FIXTURE_V2, "v2.json").unwrap();
    assert_eq!(recording.schema_version, SCHEMA_VERSION);
    assert_eq!(recording.startup, None);
    assert_eq!(
        recording.files.len(),
        Recording::from_json(FIXTURE, "v4.json")
            .unwrap()
            .files
            .len()
    );
}

#[test]
fn v1_recordings_load_as_current_with_only_syscalls_recorded() {
    let recording = Recording::from_json(FIXTURE_V1, "v1.json").unwrap();
    assert_eq!(recording.schema_version, SCHEMA_VERSION);
    assert_eq!(recording.events.recorded, [Category::Syscalls].into());
    assert_eq!(recording.events.dropped, 0);
    assert!(!recording.files_recorded() && !recording.execs_recorded());
    assert!(!recording.capabilities_recorded() && !recording.sockets_recorded());
    assert!(recording.files.is_empty() && recording.container.mounts.is_empty());
    assert_eq!(recording.distinct_syscalls(), 10);
    // The v1 fields are kept as they were.
    let v1: serde_json::Value = serde_json::from_str(FIXTURE_V1).unwrap();
    let now: serde_json::Value = serde_json::from_str(&recording.to_json()).unwrap();
    for field in [
        "tool",
        "host",
        "started_at",
        "stop_reason",
        "syscalls",
        "unknown_syscalls",
        "gaps",
    ] {
        assert_eq!(v1[field], now[field], "{field}");
    }
    assert_eq!(now["schema_version"], SCHEMA_VERSION);
    assert_eq!(now["events"]["recorded"], serde_json::json!(["syscalls"]));
}

#[test]
fn rejects_other_versions_and_documents() {
    let newer = FIXTURE.replace("\"schema_version\": 8", "\"schema_version\": 99");
    let err = Recording::from_json(&newer, "r.json").unwrap_err();
    assert!(
        matches!(err, RecordingError::UnsupportedVersion { found: 99, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("r.json: recording schema version 99 is not supported (this trace reads versions 1 to 8)"),
        "{err}"
    );
    let zero = FIXTURE.replace("\"schema_version\": 8", "\"schema_version\": 0");
    assert!(matches!(
        Recording::from_json(&zero, "z.json"),
        Err(RecordingError::UnsupportedVersion { found: 0, .. })
    ));

    let other =
        Recording::from_json(r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#, "seccomp.json").unwrap_err();
    assert!(
        matches!(other, RecordingError::NotARecording { .. }),
        "{other}"
    );

    let broken = Recording::from_json(&FIXTURE[..FIXTURE.len() / 2], "cut.json").unwrap_err();
    assert!(
        matches!(broken, RecordingError::Malformed { .. }),
        "{broken}"
    );

    let wrong_type = FIXTURE.replace("\"read\": 1200", "\"read\": \"many\"");
    assert!(matches!(
        Recording::from_json(&wrong_type, "t.json"),
        Err(RecordingError::Malformed { .. })
    ));
}

#[test]
fn names_syscalls_per_abi_and_keeps_unknown_numbers() {
    let counts = BTreeMap::from([
        ((Abi::X86_64, 0), 5),   // read
        ((Abi::X86_64, 83), 1),  // mkdir
        ((Abi::X86_64, 999), 2), // no such call
        ((Abi::X86, 3), 4),      // i386 read
        ((Abi::X86, 140), 1),    // _llseek
        ((Abi::X86, 20), 0),     // zero counts are dropped
    ]);
    let (named, unknown) = name_syscalls(&counts, 3);
    assert_eq!(
        named[&Abi::X86_64],
        BTreeMap::from([("mkdir".to_owned(), 1), ("read".to_owned(), 5)])
    );
    assert_eq!(
        named[&Abi::X86],
        BTreeMap::from([("_llseek".to_owned(), 1), ("read".to_owned(), 4)])
    );
    assert_eq!(
        unknown,
        [
            UnknownSyscall {
                abi: None,
                nr: None,
                count: 3
            },
            UnknownSyscall {
                abi: Some(Abi::X86_64),
                nr: Some(999),
                count: 2
            },
        ]
    );
}

#[test]
fn syscall_names_follow_the_kernel_tables() {
    assert_eq!(
        syscall_name(Abi::X86_64, 262),
        Some(SyscallName("newfstatat"))
    );
    assert_eq!(syscall_name(Abi::X86_64, 435), Some(SyscallName("clone3")));
    assert_eq!(syscall_name(Abi::X86, 20), Some(SyscallName("getpid")));
    assert_eq!(syscall_name(Abi::X86, 142), Some(SyscallName("_newselect")));
    assert_eq!(syscall_name(Abi::X32, 1), Some(SyscallName("write")));
    assert_eq!(syscall_name(Abi::X32, 520), None);
    assert_eq!(syscall_name(Abi::X86_64, 1023), None);
}

#[test]
fn hand_edited_values_must_be_canonical() {
    for (from, to) in [
        ("new\\\\x0aline", "new\\\\nline"),
        ("\"CAP_SYS_ADMIN\"", "\"CAP_SYS_ADMINX\""),
        ("\"CAP_SYS_ADMIN\"", "\"CAP_21\""),
        ("\"family\": \"netlink\"", "\"family\": 16"),
        ("\"family\": \"netlink\"", "\"family\": \"netlinks\""),
        ("\"mmap_exec\"", "\"mmap\""),
    ] {
        assert!(FIXTURE.contains(from), "{from}");
        let edited = FIXTURE.replacen(from, to, 1);
        assert!(
            matches!(
                Recording::from_json(&edited, "e.json"),
                Err(RecordingError::Malformed { .. })
            ),
            "{to} was accepted"
        );
    }
    let unnamed = FIXTURE.replacen("\"CAP_SYS_ADMIN\"", "\"CAP_63\"", 1);
    let recording = Recording::from_json(&unnamed, "u.json").unwrap();
    assert!(recording.capabilities.contains_key(&Capability(63)));
    assert_eq!(recording.to_json(), unnamed);
}

fn empty() -> Recording {
    let mut recording = Recording::from_json(FIXTURE_V1, "v1").unwrap();
    recording.events = Events::default();
    recording
}

#[test]
fn record_file_normalises_and_merges() {
    let mut r = empty();
    r.record_file("/data//sub/../x.txt", Access::Read);
    r.record_file(b"/data/x.txt/".as_slice(), Access::Write);
    r.record_file(absolute(&"/data".into(), b"x.txt"), Access::Read);
    r.record_file("/data/list", Access::List);
    r.record_dir("/data/made", Access::Create);
    assert_eq!(
        r.files[&"/data/x.txt".into()],
        FileUse {
            access: [Access::Read, Access::Write].into(),
            dir: false
        }
    );
    assert!(r.files[&"/data/list".into()].dir);
    assert!(r.files[&"/data/made".into()].dir);
    assert_eq!(r.files.len(), 3);

    r.record_link("/bin/sh", "/bin/busybox");
    r.record_link("/bin/sh", "/bin/dash");
    r.record_link("/a/./b", "/a/b");
    assert_eq!(
        r.links[&"/bin/sh".into()],
        ["/bin/busybox".into(), "/bin/dash".into()].into()
    );
    assert_eq!(r.links.len(), 1, "same path after normalisation is no link");
}

#[test]
fn found_in_image_excludes_made_and_missing_paths() {
    let uses = |a: &[Access]| FileUse {
        access: a.iter().copied().collect(),
        dir: false,
    };
    assert!(uses(&[Access::Read]).found_in_image());
    assert!(uses(&[Access::Probe, Access::Metadata]).found_in_image());
    assert!(uses(&[Access::Delete]).found_in_image());
    assert!(!uses(&[Access::Probe]).found_in_image());
    assert!(!uses(&[Access::Create, Access::Read]).found_in_image());
    assert!(!uses(&[Access::Link]).found_in_image());
    assert!(!uses(&[]).found_in_image());
}

#[test]
fn exec_samples_are_bounded_and_order_independent() {
    let runs: Vec<Vec<String>> = (0..10)
        .map(|i| vec!["sh".to_owned(), "-c".to_owned(), format!("job {i}")])
        .collect();
    let mut forward = empty();
    let mut backward = empty();
    for argv in &runs {
        forward.record_exec("/bin/sh", argv);
    }
    for argv in runs.iter().rev() {
        backward.record_exec("/bin/sh", argv);
    }
    assert_eq!(forward, backward);
    let sh = &forward.execs[&"/bin/sh".into()];
    assert_eq!(sh.count, 10);
    assert_eq!(sh.argv.len(), EXEC_SAMPLES);
    assert_eq!(
        sh.argv.first().unwrap()[2],
        ArgBytes(b"job 0".to_vec()),
        "the smallest samples are kept"
    );

    let long_arg = vec![b'x'; 10_000];
    let many: Vec<&[u8]> = std::iter::repeat_n(long_arg.as_slice(), 100).collect();
    forward.record_exec("/bin/long", &many);
    let sample = forward.execs[&"/bin/long".into()]
        .argv
        .first()
        .unwrap()
        .clone();
    assert_eq!(sample.len(), EXEC_SAMPLE_ARGS);
    assert!(sample.iter().all(|a| a.0.len() == EXEC_SAMPLE_ARG_BYTES));
}

#[test]
fn capabilities_sockets_and_events_add_up() {
    let mut r = empty();
    r.record_capability(10, true, 2);
    r.record_capability(10, false, 1);
    r.record_capability(10, true, 1);
    r.record_capability(21, false, 0);
    assert_eq!(
        r.capabilities[&Capability(10)],
        CapabilityUse {
            granted: 3,
            denied: 1
        }
    );
    assert_eq!(r.capabilities[&Capability(21)], CapabilityUse::default());
    assert_eq!(Capability(10).to_string(), "CAP_NET_BIND_SERVICE");
    assert_eq!(Capability(40).to_string(), "CAP_CHECKPOINT_RESTORE");
    assert_eq!(Capability(41).to_string(), "CAP_41");
    assert_eq!(Capability::from_name("CAP_41"), Some(Capability(41)));
    assert_eq!(Capability::from_name("CAP_041"), None);
    assert_eq!(
        Capability::from_name("CAP_10"),
        None,
        "named numbers use the name"
    );

    // SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC is a stream socket.
    r.record_socket(10, 1 | 0o4000 | 0o2_000_000, 1);
    r.record_socket(2, 2, 1);
    r.record_socket(10, 1, 2);
    r.record_socket(99, 9, 1);
    r.record_bound_port(2, 2 | 0o4000, 53);
    let sockets: Vec<(String, String, u64)> = r
        .sockets
        .iter()
        .map(|s| (s.family.to_string(), s.sock_type.to_string(), s.count))
        .collect();
    assert_eq!(
        sockets,
        [
            ("inet".to_owned(), "dgram".to_owned(), 1),
            ("inet6".to_owned(), "stream".to_owned(), 3),
            ("99".to_owned(), "9".to_owned(), 1),
        ]
    );
    assert_eq!(
        serde_json::to_string(&r.bound_ports).unwrap(),
        r#"[{"family":"inet","type":"dgram","port":53}]"#
    );
    assert_eq!(
        serde_json::to_string(&r.sockets[2]).unwrap(),
        r#"{"family":99,"type":9,"count":1}"#
    );

    r.mark_recorded(Category::Sockets);
    r.record_dropped(2);
    r.record_dropped(3);
    assert!(r.sockets_recorded() && !r.files_recorded());
    assert_eq!(r.events.dropped, 5);
}

#[test]
fn names_tables_match_the_kernel_numbers() {
    assert_eq!(CAPABILITY_NAMES[21], "CAP_SYS_ADMIN");
    assert_eq!(CAPABILITY_NAMES[38], "CAP_PERFMON");
    assert_eq!(FAMILY_NAMES[16], "netlink");
    assert_eq!(FAMILY_NAMES[38], "alg");
    assert_eq!(FAMILY_NAMES[45], "mctp");
    assert_eq!(SocketType(5).name(), Some("seqpacket"));
    assert_eq!(SocketType(10).name(), Some("packet"));
    assert_eq!(SocketType(7).name(), None);
}
