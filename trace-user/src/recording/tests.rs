use super::*;

const FIXTURE: &str = include_str!("../../tests/data/recording-v1.json");

#[test]
fn fixture_round_trips_byte_for_byte() {
    let recording = Recording::from_json(FIXTURE, "fixture").unwrap();
    assert_eq!(recording.to_json(), FIXTURE);
    assert_eq!(recording.distinct_syscalls(), 10);
    assert_eq!(
        recording.total_calls(),
        12 + 40 + 300 + 2 + 77 + 31 + 1200 + 800 + 3 + 5 + 1
    );
}

#[test]
fn rejects_other_versions_and_documents() {
    let newer = FIXTURE.replace("\"schema_version\": 1", "\"schema_version\": 99");
    let err = Recording::from_json(&newer, "r.json").unwrap_err();
    assert!(
        matches!(err, RecordingError::UnsupportedVersion { found: 99, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("r.json: recording schema version 99 is not supported")
    );

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
