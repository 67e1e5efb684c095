//! Unit tests, and a test on the real kernel (root, BTF, cgroup2), which skips with a reason where
//! it cannot run, except under `TRACE_SYSTEM_TESTS=require` (CI), where it fails.

use super::*;
use trace_common::Abi;

/// The bytes of a `trace_common` record header.
fn bytes_of<T: Copy>(header: &T) -> Vec<u8> {
    // SAFETY: the record headers are `repr(C)` integers with explicit padding fields (their sizes
    // are asserted in trace-common), so every byte is initialized.
    unsafe { std::slice::from_raw_parts((&raw const *header).cast::<u8>(), size_of::<T>()) }
        .to_vec()
}

fn file_record(op: FileOp, paths: [Option<&[u8]>; 5]) -> Vec<u8> {
    let mut lens = [0u16; 5];
    let mut present = 0u8;
    for (i, path) in paths.iter().enumerate() {
        if let Some(path) = path {
            lens[i] = u16::try_from(path.len()).unwrap();
            present |= 1 << i;
        }
    }
    let header = trace_common::FileRecord {
        kind: trace_common::RECORD_FILE,
        pid: 4242,
        cgroup_id: 77,
        op: op as u32,
        flags: 0o2_000_000,
        result: -2,
        lens,
        present,
        truncated: 0,
        phase: 1,
        outside_root: 1,
        pad: [0; 2],
    };
    let mut record = bytes_of(&header);
    for path in paths.into_iter().flatten() {
        record.extend_from_slice(path);
    }
    record
}

#[test]
fn file_records_round_trip() {
    let record = file_record(
        FileOp::Rename,
        [Some(b"a.txt"), Some(b"/work"), None, Some(b""), Some(b"/")],
    );
    let expected = ProbeEvent::File(FileEvent {
        op: FileOp::Rename,
        flags: 0o2_000_000,
        result: -2,
        requested: Some(b"a.txt".to_vec()),
        base: Some(b"/work".to_vec()),
        resolved: None,
        second_requested: Some(Vec::new()),
        second_base: Some(b"/".to_vec()),
        truncated: false,
        pid: 4242,
        cgroup_id: 77,
        phase: Phase::RuncAfterFilter,
        outside_root: true,
    });
    assert_eq!(decode(&record), Ok(expected));

    // Every operation number decodes to itself.
    for op in FileOp::ALL {
        let Ok(ProbeEvent::File(event)) = decode(&file_record(op, [None; 5])) else {
            panic!("{op:?} does not decode");
        };
        assert_eq!(event.op, op);
        assert_eq!(event.requested, None);
    }
}

#[test]
fn exec_and_socket_records_round_trip() {
    let argv = b"/bin/true\0probe-arg\0";
    let path = b"/usr/bin/true";
    let header = trace_common::ExecRecord {
        kind: trace_common::RECORD_EXEC,
        pid: 7,
        cgroup_id: 78,
        argv_len: u16::try_from(argv.len()).unwrap(),
        path_len: u16::try_from(path.len()).unwrap(),
        truncated: 0,
        phase: 2,
        pad: 0,
    };
    let mut record = bytes_of(&header);
    record.extend_from_slice(argv);
    record.extend_from_slice(path);
    assert_eq!(
        decode(&record),
        Ok(ProbeEvent::Exec(ExecEvent {
            path: path.to_vec(),
            argv: vec![b"/bin/true".to_vec(), b"probe-arg".to_vec()],
            truncated: false,
            pid: 7,
            cgroup_id: 78,
            phase: Phase::Application,
        }))
    );

    for (kind, wrap) in [
        (
            trace_common::RECORD_BIND,
            ProbeEvent::Bind as fn(BindEvent) -> ProbeEvent,
        ),
        (trace_common::RECORD_LISTEN, ProbeEvent::Listen),
    ] {
        let header = trace_common::SocketRecord {
            kind,
            pid: 9,
            cgroup_id: 79,
            family: 10,
            sock_type: 2,
            port: 853,
            phase: 0,
            pad: 0,
        };
        let event = BindEvent {
            family: 10,
            sock_type: 2,
            port: 853,
            pid: 9,
            cgroup_id: 79,
            phase: Phase::RuncBeforeFilter,
        };
        assert_eq!(decode(&bytes_of(&header)), Ok(wrap(event)));
    }
}

#[test]
fn malformed_records_are_errors() {
    assert_eq!(
        decode(&[1, 0]),
        Err(DecodeError::Short {
            what: "any",
            len: 2,
            need: 4
        })
    );
    assert_eq!(
        decode(&99u32.to_ne_bytes()),
        Err(DecodeError::UnknownKind { kind: 99 })
    );
    let record = file_record(
        FileOp::Open,
        [Some(b"/etc/hostname"), None, None, None, None],
    );
    // Cut inside the header, then inside the path the header announces.
    assert!(matches!(
        decode(&record[..20]),
        Err(DecodeError::Short { what: "file", .. })
    ));
    assert_eq!(
        decode(&record[..record.len() - 1]),
        Err(DecodeError::Short {
            what: "file",
            len: record.len() - 1,
            need: record.len()
        })
    );
    let mut bad_op = record.clone();
    let op_at = std::mem::offset_of!(trace_common::FileRecord, op);
    bad_op[op_at..op_at + 4].copy_from_slice(&77u32.to_ne_bytes());
    assert_eq!(decode(&bad_op), Err(DecodeError::UnknownOp { op: 77 }));
    let mut bad_phase = record.clone();
    bad_phase[std::mem::offset_of!(trace_common::FileRecord, phase)] = 3;
    assert_eq!(
        decode(&bad_phase),
        Err(DecodeError::UnknownPhase { phase: 3 })
    );
    assert!(matches!(
        decode(&bytes_of(&trace_common::RECORD_EXEC)),
        Err(DecodeError::Short { what: "exec", .. })
    ));
    assert!(matches!(
        decode(&bytes_of(&[trace_common::RECORD_BIND, 0])),
        Err(DecodeError::Short { what: "socket", .. })
    ));
}

#[test]
fn cgroup_records_round_trip() {
    let mut container_id = [0u8; trace_common::CONTAINER_ID_BYTES];
    container_id.copy_from_slice("0123456789abcdef".repeat(4).as_bytes());
    let header = trace_common::CgroupRecord {
        kind: trace_common::RECORD_CGROUP,
        slot: 3,
        cgroup_id: 4242,
        level: 2,
        pad: 0,
        container_id,
    };
    assert_eq!(
        decode(&bytes_of(&header)),
        Ok(ProbeEvent::CgroupCaught(CgroupEvent {
            cgroup_id: 4242,
            slot: Some(3),
            level: 2,
            container_id: "0123456789abcdef".repeat(4),
        }))
    );
    let gone = trace_common::CgroupRecord {
        kind: trace_common::RECORD_CGROUP_GONE,
        slot: trace_common::NO_SLOT,
        container_id: [0; trace_common::CONTAINER_ID_BYTES],
        ..header
    };
    let event = decode(&bytes_of(&gone)).unwrap();
    assert_eq!(event.cgroup_id(), 4242);
    assert_eq!(
        event,
        ProbeEvent::CgroupGone(CgroupEvent {
            cgroup_id: 4242,
            slot: None,
            level: 2,
            container_id: String::new(),
        })
    );
    assert!(matches!(
        decode(&bytes_of(&header)[..40]),
        Err(DecodeError::Short { what: "cgroup", .. })
    ));
}

#[test]
fn slot_options_are_checked_before_loading() {
    let load = |slots, running: &[ProbeTarget]| {
        Probe::load(&ProbeOptions {
            slots,
            running,
            index_mask: None,
            without: &[],
        })
        .err()
    };
    let t = |cgroup_id, cgroup_level| ProbeTarget {
        cgroup_id,
        cgroup_level,
    };
    assert!(matches!(load(0, &[]), Some(ProbeError::Slots { .. })));
    assert!(matches!(load(257, &[]), Some(ProbeError::Slots { .. })));
    assert!(matches!(
        load(1, &[t(5, 2), t(6, 2)]),
        Some(ProbeError::TooManyRunning { .. })
    ));
    assert!(matches!(load(2, &[t(0, 2)]), Some(ProbeError::NoTarget)));
    assert!(matches!(
        load(2, &[t(5, 2), t(6, 3)]),
        Some(ProbeError::Level {
            level: 3,
            expected: 2,
            ..
        })
    ));
}

#[test]
fn errors_fit_one_line() {
    #[derive(Debug, thiserror::Error)]
    #[error("loading `x` failed")]
    struct Outer(#[source] std::io::Error);
    let inner = std::io::Error::other("first line\nverifier: step 1\n\nprocessed 10 insns\n");
    assert_eq!(
        attach::one_line(&Outer(inner)),
        "loading `x` failed: first line ... verifier: step 1"
    );
}

#[test]
fn a_verifier_refusal_names_the_line_that_says_why() {
    #[derive(Debug, thiserror::Error)]
    #[error("loading `exec_done` failed")]
    struct Outer(#[source] std::io::Error);
    // The shape of a 6.1 kernel's log: instructions and states, the reason, then statistics.
    let log = "the BPF_PROG_LOAD syscall failed. Verifier output: 0: R1=ctx(off=0,imm=0) R10=fp0\n\
        ; let start: u64 = read(mm);\n\
        41: (79) r2 = *(u64 *)(r10 -64)       ; R2_w=scalar() R10=fp0\n\
        R2=scalar() R10=fp0\n\
        42: (85) call bpf_probe_read_user#112\n\
        R2 min value is negative, either use unsigned or 'var &= const'\n\
        processed 381 insns (limit 1000000) max_states_per_insn 1 total_states 25 peak_states 25 mark_read 9\n";
    assert_eq!(
        attach::one_line(&Outer(std::io::Error::other(log))),
        "loading `exec_done` failed: the BPF_PROG_LOAD syscall failed. Verifier output: 0: \
         R1=ctx(off=0,imm=0) R10=fp0 ... R2 min value is negative, either use unsigned or \
         'var &= const'"
    );
}

#[cfg(target_arch = "x86_64")]
mod events;

#[cfg(target_arch = "x86_64")]
mod startup;

#[cfg(target_arch = "x86_64")]
mod kernel {
    use std::{
        env, fs,
        os::unix::{fs::MetadataExt as _, process::ExitStatusExt as _},
        path::{Path, PathBuf},
        process::Command,
        thread,
        time::Duration,
    };

    use super::*;

    /// Tells the re-executed test binary which cgroup to join (see [`child_workload`]).
    const CHILD_CGROUP: &str = "TRACE_PROBE_TEST_CGROUP";
    /// ... and which directory to create there.
    const CHILD_MKDIR: &str = "TRACE_PROBE_TEST_MKDIR";

    /// Attaches to a fresh cgroup, runs this test binary's [`child_workload`] in a cgroup below it
    /// and checks that its calls are counted under the right ABI, that the argument values of its
    /// `personality` and `prctl` calls are kept exactly, that its file calls are recorded by
    /// `x86_64` number only (an i386 call is not taken for the `x86_64` call of its number), and
    /// that calls of this (host) process are not.
    #[test]
    #[allow(clippy::too_many_lines, reason = "one traced run, then its checks")]
    fn counts_the_target_cgroup_only() {
        let Some(mount) = cgroup2_mount_or_skip() else {
            return;
        };
        let cgroup = TempCgroup::create(&mount, "counts");
        // The child runs one level below the target: the probe covers the whole subtree.
        let nested = TempCgroup::create(&cgroup.0, "nested");
        // A second, idle target first, and every cgroup id masked into one index entry: the
        // idle one takes it, the target goes to the overflow map, which must find it.
        let idle = TempCgroup::create(&mount, "idle");
        let target_of = |dir: &Path| ProbeTarget {
            cgroup_id: fs::metadata(dir).expect("stat cgroup").ino(),
            cgroup_level: 1,
        };
        let running = [target_of(&idle.0), target_of(&cgroup.0)];
        let mut probe = Probe::load(&ProbeOptions {
            slots: 3,
            running: &running,
            index_mask: Some(0),
            without: &[],
        })
        .expect("attach");
        let (idle_slot, slot) = (probe.running_slots()[0], probe.running_slots()[1]);
        let mut reader = probe.take_event_reader().expect("first reader");

        let made_by_child =
            env::temp_dir().join(format!("trace-probe-test-{}", std::process::id()));
        let child = Command::new(env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "probe::tests::kernel::child_workload",
                "--ignored",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD_CGROUP, &nested.0)
            .env(CHILD_MKDIR, &made_by_child)
            .status()
            .expect("run child");
        // The host removes what the child made: that rmdir must not be counted; nor its prctl.
        fs::remove_dir(&made_by_child).expect("child made its directory");
        // SAFETY: PR_GET_SECUREBITS takes no pointer.
        unsafe { libc::prctl(libc::PR_GET_SECUREBITS) };
        let slot_counts = probe.counts(slot).expect("read counts");
        let counts = slot_counts.allowed_syscalls();
        let (arguments, lost) = (slot_counts.arguments.clone(), slot_counts.arguments_lost);
        let idle_counts = probe.counts(idle_slot).expect("read idle counts");
        assert_eq!(
            idle_counts,
            SlotCounts::default(),
            "nothing ran in the idle cgroup"
        );
        // Released, the slot is cleared for the next target.
        assert!(probe.counters.any(slot).expect("read"));
        probe.release(slot, running[1].cgroup_id).expect("release");
        assert!(!probe.counters.any(slot).expect("read"));
        let mut events = Vec::new();
        reader.read_ready(&mut events);
        drop(probe);
        drop(nested);
        drop(idle);

        let get = |abi, nr: i64| {
            let nr = u32::try_from(nr).expect("small syscall number");
            counts.counts.get(&(abi, nr)).copied().unwrap_or(0)
        };
        assert!(get(Abi::X86_64, libc::SYS_mkdir) >= 1, "{counts:?}");
        assert!(get(Abi::X86_64, libc::SYS_uname) >= 1, "{counts:?}");
        assert_eq!(get(Abi::X86_64, libc::SYS_rmdir), 0, "{counts:?}");
        assert!(counts.out_of_range >= 2, "{counts:?}");
        let values = |nr: i64| -> Vec<u64> {
            arguments
                .iter()
                .filter(|&&(call, index, _)| i64::from(call) == nr && index == 0)
                .map(|&(_, _, value)| value)
                .collect()
        };
        assert_eq!(
            values(libc::SYS_personality),
            [0xffff_ffff],
            "{arguments:?}"
        );
        assert_eq!(
            values(libc::SYS_prctl),
            [libc::PR_GET_DUMPABLE as u64, libc::PR_GET_TIMERSLACK as u64],
            "{arguments:?}"
        );
        assert_eq!(lost, 0);
        // File calls are recorded by x86_64 number: the native mkdir is there, the i386 `write`
        // (number 4, x86_64's `stat`) with a path in `rdi` is not (the `syscalls:sys_exit_*`
        // tracepoints do not fire for compat calls; a program on the raw `sys_exit` would have
        // to tell them apart itself: docs/probe.md).
        let files: Vec<&FileEvent> = events
            .iter()
            .filter_map(|e| match e {
                ProbeEvent::File(f) => Some(f),
                _ => None,
            })
            .collect();
        let made = made_by_child.as_os_str().as_encoded_bytes();
        assert!(
            files
                .iter()
                .any(|f| f.op == FileOp::Mkdir && f.requested.as_deref() == Some(made)),
            "no mkdir of the child's directory in {files:?}"
        );
        assert!(
            !files.iter().any(|f| f
                .requested
                .as_deref()
                .is_some_and(|p| p.ends_with(COMPAT_DECOY.as_bytes()))),
            "an i386 call was recorded as the x86_64 call of its number: {files:?}"
        );
        match child.signal() {
            None => {
                assert!(child.success(), "child failed: {child}");
                assert!(counted_ia32_getpid(&counts), "no (x86, 20) in {counts:?}");
                assert!(
                    counts.counts.get(&(Abi::X86, 4)).copied().unwrap_or(0) >= 1,
                    "no (x86, 4) in {counts:?}"
                );
            }
            // `int 0x80` faults when the kernel runs without ia32 emulation.
            Some(libc::SIGSEGV) => eprintln!("skipping the compat check: no ia32 emulation"),
            Some(signal) => panic!("child killed by signal {signal}"),
        }
    }

    /// The child's i386 `getpid` (number 20) was counted as such.
    fn counted_ia32_getpid(counts: &SyscallCounts) -> bool {
        counts.counts.get(&(Abi::X86, 20)).copied().unwrap_or(0) >= 1
    }

    /// Run by [`counts_the_target_cgroup_only`] in a child process; does nothing on its own.
    #[test]
    #[ignore = "helper of counts_the_target_cgroup_only"]
    fn child_workload() {
        let (Some(cgroup), Some(dir)) = (env::var_os(CHILD_CGROUP), env::var_os(CHILD_MKDIR))
        else {
            return;
        };
        // Writing 0 moves the writing process.
        fs::write(Path::new(&cgroup).join("cgroup.procs"), "0").expect("join cgroup");
        let dir = std::ffi::CString::new(dir.into_encoded_bytes()).expect("path without NUL");
        // SAFETY: raw system calls with valid arguments: a NUL-terminated path, a utsname
        // buffer that outlives the call, numbers the kernel rejects with ENOSYS, and queries
        // without pointers.
        unsafe {
            assert_eq!(libc::syscall(libc::SYS_mkdir, dir.as_ptr(), 0o700), 0);
            let mut uts: libc::utsname = std::mem::zeroed();
            assert_eq!(libc::syscall(libc::SYS_uname, &raw mut uts), 0);
            libc::syscall(-1);
            libc::syscall(5000);
            // Argument values: a persona query, two prctl options (each twice: kept once).
            for _ in 0..2 {
                libc::syscall(libc::SYS_personality, 0xffff_ffff_u64);
                libc::syscall(libc::SYS_prctl, libc::PR_GET_TIMERSLACK, 0, 0, 0, 0);
                libc::syscall(libc::SYS_prctl, libc::PR_GET_DUMPABLE, 0, 0, 0, 0);
            }
        }
        let ret: i64;
        // SAFETY: `int 0x80` with eax = 20 is the i386 getpid: no arguments, no memory touched;
        // the kernel clobbers r8-r11 on this path.
        unsafe {
            std::arch::asm!(
                "int 0x80",
                inlateout("rax") 20i64 => ret,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                options(nostack),
            );
        }
        assert_eq!(ret, i64::from(std::process::id()));
        // The i386 `write(-1, ..)` (number 4; x86_64's 4 is `stat(rdi, ..)`), with a path in
        // `rdi`: its exit must not be taken for a `stat` of that path.
        let decoy = std::ffi::CString::new(format!("/{COMPAT_DECOY}")).expect("no NUL");
        let ret: i64;
        // SAFETY: i386 write to fd -1 fails with EBADF before touching the buffer; rdi only
        // holds a pointer the kernel does not read on this path.
        unsafe {
            // rbx is LLVM's: saved and restored around the call.
            std::arch::asm!(
                "mov {saved}, rbx",
                "mov rbx, -1",
                "int 0x80",
                "mov rbx, {saved}",
                saved = out(reg) _,
                inlateout("rax") 4i64 => ret,
                in("rcx") 0i64,
                in("rdx") 0i64,
                in("rdi") decoy.as_ptr(),
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                options(nostack),
            );
        }
        assert_eq!(ret, -i64::from(libc::EBADF));
    }

    /// `CAP_SETGID` (linux/capability.h).
    const CAP_SETGID: u8 = 6;
    /// Tells the re-executed test binary which cgroup to make its capability checks in.
    const CAP_CHILD_CGROUP: &str = "TRACE_PROBE_TEST_CAP_CGROUP";

    /// With the `capability:cap_capable` tracepoint's program left out, as on kernels without
    /// that tracepoint, the fexit program on `cap_capable` counts the checks in its place: a
    /// child's `setgroups` (a `CAP_SETGID` check, granted to root) in the target is counted. On a
    /// kernel that refuses fexit programs, the gap names the fexit point instead.
    #[test]
    fn capability_checks_are_counted_by_fexit_without_the_tracepoint() {
        let Some(mount) = cgroup2_mount_or_skip() else {
            return;
        };
        let cgroup = TempCgroup::create(&mount, "caps");
        let running = [ProbeTarget {
            cgroup_id: fs::metadata(&cgroup.0).expect("stat cgroup").ino(),
            cgroup_level: 1,
        }];
        let probe = Probe::load(&ProbeOptions {
            slots: 1,
            running: &running,
            index_mask: None,
            without: &["cap_check"],
        })
        .expect("attach");
        let programs: Vec<&str> = probe
            .features()
            .programs
            .iter()
            .map(|p| p.program)
            .collect();
        assert!(!programs.contains(&"cap_check"), "{programs:?}");
        if !programs.contains(&"cap_check_fexit") {
            // Some kernels refuse fexit programs (this development VM's: its lockdown denies
            // ftrace's function hooks). Then the gap must say so, naming the fexit point.
            let missing = &probe.features().missing;
            assert!(
                missing.iter().any(
                    |m| m.program == "cap_check_fexit" && m.attach_point == "fexit/cap_capable"
                ),
                "{missing:?}"
            );
            eprintln!(
                "capability checks through fexit not counted: this kernel refuses fexit programs ({})",
                missing
                    .iter()
                    .map(|m| m.why.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            return;
        }
        assert!(
            !probe
                .features()
                .missing
                .iter()
                .any(|m| m.program.starts_with("cap_")),
            "{:?}",
            probe.features().missing
        );
        let child = Command::new(env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "probe::tests::kernel::cap_child_workload",
                "--ignored",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(CAP_CHILD_CGROUP, &cgroup.0)
            .status()
            .expect("run child");
        assert!(child.success(), "child failed: {child}");
        let counts = probe.counts(probe.running_slots()[0]).expect("read counts");
        drop(probe);
        let setgid = counts
            .capabilities
            .get(&CapChecker::Application)
            .and_then(|caps| caps.get(&CAP_SETGID))
            .copied()
            .unwrap_or_default();
        assert!(setgid.granted >= 1, "{:?}", counts.capabilities);
    }

    /// Run by [`capability_checks_are_counted_by_fexit_without_the_tracepoint`] in a child
    /// process; does nothing on its own.
    #[test]
    #[ignore = "helper of capability_checks_are_counted_by_fexit_without_the_tracepoint"]
    fn cap_child_workload() {
        let Some(cgroup) = env::var_os(CAP_CHILD_CGROUP) else {
            return;
        };
        fs::write(Path::new(&cgroup).join("cgroup.procs"), "0").expect("join cgroup");
        // SAFETY: an empty group list: no pointer is read.
        assert_eq!(unsafe { libc::setgroups(0, std::ptr::null()) }, 0);
    }

    /// The path the child's i386 `write` holds in `rdi` (see [`child_workload`]).
    const COMPAT_DECOY: &str = "trace-compat-decoy";

    /// A cgroup v2 directory made for the test, removed on drop.
    pub(super) struct TempCgroup(pub(super) PathBuf);

    impl TempCgroup {
        pub(super) fn create(parent: &Path, name: &str) -> Self {
            let dir = parent.join(format!("trace-probe-test-{}-{name}", std::process::id()));
            fs::create_dir(&dir).expect("create cgroup");
            Self(dir)
        }
    }

    impl Drop for TempCgroup {
        fn drop(&mut self) {
            // The child has exited, but the cgroup may be busy for a moment.
            for _ in 0..50 {
                if fs::remove_dir(&self.0).is_ok() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            eprintln!("cannot remove {}", self.0.display());
        }
    }

    /// Skips with a reason, except under `TRACE_SYSTEM_TESTS=require` (CI), where the kernel
    /// tier must run: the real-system tier's one policy ([`trace_tests::cannot_run`]).
    pub(super) fn skip(reason: &str) {
        trace_tests::cannot_run("a kernel probe test", reason);
    }

    /// The cgroup2 mount point, when the probe can run here; else `None` after [`skip`].
    pub(super) fn cgroup2_mount_or_skip() -> Option<PathBuf> {
        if let Err(e) = preflight() {
            skip(&e.to_string());
            return None;
        }
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
        let Some(mount) = crate::runtime::cgroup::cgroup2_mount(&mountinfo) else {
            skip("no cgroup2 mount");
            return None;
        };
        Some(mount.mount_point)
    }
}
