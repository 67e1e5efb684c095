//! A container traced from its first instruction, on the real kernel with Docker: the probe is
//! armed with the container's cgroup names before `docker start`, catches the cgroup inside its
//! mkdir, and counts runc's setup (phase 0), runc after its seccomp filter (phase 1) and the
//! application (phase 2) apart.
//!
//! Needs root, BTF, Docker and the image `trace-test/busybox:local` (`cargo xtask setup` or the
//! trace-tests helpers build it); skips with a reason otherwise, except under
//! `TRACE_SYSTEM_TESTS=require`.

use std::{
    collections::{BTreeMap, BTreeSet},
    env,
    time::{Duration, Instant},
};

use super::super::*;
use super::kernel::skip;
use crate::recording::{SyscallName, syscall_name};
use trace_common::Abi;
use trace_tests::docker;

const IMAGE: &str = "trace-test/busybox:local";
const NNP: &[&str] = &["--security-opt", "no-new-privileges"];

/// Why Docker cannot run the test, if it cannot.
fn docker_missing() -> Option<String> {
    match docker(&["image", "inspect", "--format", "{{.Id}}", IMAGE]) {
        Err(e) => Some(format!("no docker CLI: {e:#}")),
        Ok(out) if !out.status.success() => Some(format!(
            "docker cannot inspect {IMAGE} (daemon down or image not built): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// One container start traced from its first instruction.
struct Start {
    caught: Option<(u64, u32)>,
    /// Its cgroup's removal was reported.
    gone: bool,
    phases: PhaseSyscallCounts,
    counts: SyscallCounts,
    events: Vec<ProbeEvent>,
    exit_code: Option<i32>,
    /// From `docker start` to the container's exit.
    ran: Duration,
    /// The programs loaded, with their verifier figures.
    programs: Vec<LoadedProgram>,
}

impl Start {
    /// The `x86_64` system call names counted in `phase`.
    fn names(&self, phase: Phase) -> BTreeSet<&'static str> {
        names(self.phases.phase(phase))
    }
}

fn names(counts: &SyscallCounts) -> BTreeSet<&'static str> {
    counts
        .counts
        .keys()
        .filter(|(abi, _)| *abi == Abi::X86_64)
        .filter_map(|&(abi, nr)| syscall_name(abi, nr).map(|SyscallName(name)| name))
        .collect()
}

/// Creates a container, arms the probe with its cgroup names, starts it attached and collects
/// what the probe saw. `None`: skipped (a program the phases need is missing).
fn traced_start(options: &[&str], cmd: &[&str]) -> Option<Start> {
    let mut create = vec!["create"];
    create.extend_from_slice(options);
    create.push(IMAGE);
    create.extend_from_slice(cmd);
    let out = docker(&create).expect("run the docker CLI");
    assert!(
        out.status.success(),
        "docker create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout)
        .expect("utf-8 id")
        .trim()
        .to_owned();
    let container = Container(id.clone());

    let mut probe = Probe::load(&ProbeOptions {
        slots: 4,
        running: &[],
        index_mask: None,
        without: &[],
    })
    .expect("arm the probe");
    let phase_programs = [
        features::CATCH_PROGRAM,
        features::DROP_PROGRAM,
        features::PHASE_FILTER_PROGRAM,
        features::PHASE_EXEC_PROGRAM,
    ];
    let pending: Vec<_> = probe
        .features()
        .missing
        .iter()
        .filter(|gap| phase_programs.contains(&gap.program))
        .collect();
    if let Some(gap) = pending.first() {
        skip(&format!(
            "a phase program is missing: {} at {}: {}",
            gap.program, gap.attach_point, gap.why
        ));
        return None;
    }
    let mut reader = probe.take_event_reader().expect("first reader");

    let started = Instant::now();
    let out = docker(&["start", "-a", &id]).expect("run the docker CLI");
    let ran = started.elapsed();
    // The container's cgroup is gone once `docker start -a` returns, or soon after.
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let gone = |events: &[ProbeEvent], cgroup_id: u64| {
        events
            .iter()
            .any(|e| matches!(e, ProbeEvent::CgroupGone(g) if g.cgroup_id == cgroup_id))
    };
    let caught = loop {
        reader.read_ready(&mut events);
        let caught = events.iter().find_map(|e| match e {
            ProbeEvent::CgroupCaught(c) if c.container_id == id => Some(c.clone()),
            _ => None,
        });
        if caught.as_ref().is_some_and(|c| gone(&events, c.cgroup_id)) || Instant::now() > deadline
        {
            break caught;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let slot = caught.as_ref().and_then(|c| c.slot);
    let counts = slot.map(|slot| probe.counts(slot).expect("read counts"));
    let start = Start {
        caught: caught.as_ref().map(|c| (c.cgroup_id, c.level)),
        gone: caught.as_ref().is_some_and(|c| gone(&events, c.cgroup_id)),
        phases: counts
            .as_ref()
            .map(|c| c.syscalls.clone())
            .unwrap_or_default(),
        counts: counts.map(|c| c.allowed_syscalls()).unwrap_or_default(),
        events,
        exit_code: out.status.code(),
        ran,
        programs: probe.features().programs.clone(),
    };
    drop(probe);
    drop(container);
    Some(start)
}

/// A container removed on drop.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

/// Whether the system tier can run; skips (or fails under `require`) with the reason if not.
fn can_run() -> bool {
    if let Err(e) = preflight() {
        skip(&e.to_string());
        return false;
    }
    if let Some(why) = docker_missing() {
        skip(&why);
        return false;
    }
    true
}

#[test]
fn phases_of_a_container_start() {
    if !can_run() {
        return;
    }
    for (mode, options) in [("default", &[][..]), ("no-new-privileges", NNP)] {
        let Some(start) = traced_start(options, &["sh", "-c", "mkdir /tmp/x; uname"]) else {
            return;
        };
        let (p0, p1, p2) = (
            start.names(Phase::RuncBeforeFilter),
            start.names(Phase::RuncAfterFilter),
            start.names(Phase::Application),
        );
        eprintln!("{mode}: phase 0 {p0:?}\n{mode}: phase 1 {p1:?}\n{mode}: phase 2 {p2:?}");
        assert_eq!(start.exit_code, Some(0), "{mode}: the container failed");
        let (id, level) = start.caught.expect("the cgroup was caught");
        assert!(id != 0 && level >= 1, "{mode}: caught ({id}, {level})");
        assert!(start.gone, "{mode}: the cgroup's removal was reported");
        assert!(
            !start.phases.runc_after_filter.counts.is_empty()
                && !start.phases.application.counts.is_empty(),
            "{mode}"
        );

        // runc builds the rootfs and installs its filter before the filter is in force.
        assert!(
            p0.contains("pivot_root") || p0.contains("mount"),
            "{mode}: {p0:?}"
        );
        assert!(
            p0.contains("seccomp") || p0.contains("prctl"),
            "{mode}: {p0:?}"
        );
        // The entrypoint's execve is entered before the exec flips the phase.
        assert!(p1.contains("execve"), "{mode}: {p1:?}");
        assert!(!p2.contains("pivot_root"), "{mode}: {p2:?}");
        if options.is_empty() {
            // Default mode: runc drops privileges after installing the filter.
            let ids = ["capset", "setuid", "setgid", "setgroups"];
            assert!(ids.iter().all(|c| p1.contains(c)), "{mode}: {p1:?}");
        } else {
            // no-new-privileges: the filter goes in just before execve.
            assert!(
                !p1.contains("setuid") && !p1.contains("capset") && p1.len() <= 15,
                "{mode}: {p1:?}"
            );
        }
        for call in ["mkdir", "uname", "exit_group"] {
            assert!(p2.contains(call), "{mode}: no {call} in {p2:?}");
        }
        let mut allowed = start.phases.application.clone();
        allowed.add(&start.phases.runc_after_filter);
        assert_eq!(
            start.counts, allowed,
            "{mode}: syscall_counts = phases 1 + 2"
        );

        // Records carry the phase: the application's mkdir and exec, runc's own opens.
        let mkdir = start.events.iter().any(|e| {
            matches!(e, ProbeEvent::File(f) if f.op == FileOp::Mkdir
                && f.requested.as_deref() == Some(b"/tmp/x") && f.phase == Phase::Application)
        });
        assert!(mkdir, "{mode}: no application mkdir /tmp/x record");
        let exec = start.events.iter().any(|e| {
            matches!(e, ProbeEvent::Exec(x) if x.argv.first().map(Vec::as_slice) == Some(b"sh")
                && x.phase == Phase::Application)
        });
        assert!(exec, "{mode}: no application exec of sh");
        let runc_files = start
            .events
            .iter()
            .filter(|e| matches!(e, ProbeEvent::File(f) if f.phase == Phase::RuncBeforeFilter))
            .count();
        assert!(runc_files > 0, "{mode}: no file record of runc's setup");
    }
}

/// A container that lives a few milliseconds is still caught whole: the target is set inside
/// the cgroup's mkdir, before runc joins it.
#[test]
fn a_short_lived_container_is_caught_whole() {
    if !can_run() {
        return;
    }
    let Some(start) = traced_start(&[], &["true"]) else {
        return;
    };
    eprintln!("`true` ran {:?} from docker start", start.ran);
    for p in &start.programs {
        eprintln!(
            "{}: {:?} instructions verified, loaded in {:?}, {} attach points",
            p.program, p.verified_insns, p.load_time, p.attached
        );
    }
    assert_eq!(start.exit_code, Some(0));
    assert!(start.caught.is_some());
    let p0 = start.names(Phase::RuncBeforeFilter);
    let p2 = start.names(Phase::Application);
    eprintln!(
        "phase 1 {:?}\nphase 2 {p2:?}",
        start.names(Phase::RuncAfterFilter)
    );
    assert!(p0.contains("pivot_root") || p0.contains("mount"), "{p0:?}");
    assert!(p2.contains("exit_group"), "{p2:?}");
}

/// Without a seccomp filter (`seccomp=unconfined`) phase 1 stays empty, and the counts say so.
#[test]
fn without_a_filter_phase_1_is_empty() {
    if !can_run() {
        return;
    }
    let options = ["--security-opt", "seccomp=unconfined"];
    let Some(start) = traced_start(&options, &["sh", "-c", "mkdir /tmp/x; uname"]) else {
        return;
    };
    assert_eq!(start.exit_code, Some(0));
    assert!(!start.phases.application.counts.is_empty());
    assert_eq!(start.phases.runc_after_filter, SyscallCounts::default());
    let p0 = start.names(Phase::RuncBeforeFilter);
    let p2 = start.names(Phase::Application);
    // runc's whole startup, its execve included, is phase 0.
    assert!(p0.contains("pivot_root") && p0.contains("execve"), "{p0:?}");
    assert!(p2.contains("mkdir") && p2.contains("uname"), "{p2:?}");
    assert_eq!(start.counts, start.phases.application);
}

/// Measures phase 1 (runc after its filter: what a profile must allow besides the application)
/// over many starts of busybox `true`, per mode. Prints the union and per-call how many starts
/// made it. Run by hand:
///
/// `TRACE_PHASE_STARTS=20 cargo test -p trace-user --lib probe::tests::startup::measure -- --ignored --nocapture`
#[test]
#[ignore = "a measurement (about 1 s per start), run by hand"]
fn measure_runc_after_filter() {
    if !can_run() {
        return;
    }
    let starts: usize = env::var("TRACE_PHASE_STARTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    for (mode, options) in [("default", &[][..]), ("no-new-privileges", NNP)] {
        let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut sizes = Vec::new();
        let mut p0_sizes = Vec::new();
        let mut caught = 0;
        // Starts in which runc re-executed itself inside the cgroup (an exec record of phase 0).
        let mut self_execs = 0;
        for _ in 0..starts {
            let Some(start) = traced_start(options, &["true"]) else {
                return;
            };
            caught +=
                usize::from(start.caught.is_some() && !start.phases.application.counts.is_empty());
            self_execs += usize::from(start.events.iter().any(|e| {
                matches!(e, ProbeEvent::File(f) if f.op == FileOp::Exec
                    && f.phase == Phase::RuncBeforeFilter)
            }));
            let p1 = start.names(Phase::RuncAfterFilter);
            sizes.push(p1.len());
            p0_sizes.push(start.names(Phase::RuncBeforeFilter).len());
            for name in p1 {
                *seen.entry(name).or_default() += 1;
            }
        }
        let always: Vec<_> = seen
            .iter()
            .filter(|&(_, &n)| n == starts)
            .map(|(name, _)| *name)
            .collect();
        let sometimes: Vec<_> = seen
            .iter()
            .filter(|&(_, &n)| n < starts)
            .map(|(name, n)| format!("{name} ({n})"))
            .collect();
        println!(
            "{mode}: {starts} starts, {caught} caught through exec, {self_execs} with runc \
             re-executing itself in the cgroup; phase 1: {} names in the union, {}-{} per start \
             (phase 0: {}-{})",
            seen.len(),
            sizes.iter().min().unwrap_or(&0),
            sizes.iter().max().unwrap_or(&0),
            p0_sizes.iter().min().unwrap_or(&0),
            p0_sizes.iter().max().unwrap_or(&0),
        );
        println!("{mode}: every start: {}", always.join(" "));
        println!("{mode}: some starts: {}", sometimes.join(" "));
    }
}
