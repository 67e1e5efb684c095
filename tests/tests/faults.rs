//! Faults around `trace run`: a closed terminal, an absurd duration, Ctrl-C while the container
//! takes its time to stop, a container that dies before it is ready. Whatever happens, trace does
//! not panic, writes complete outputs, removes its container and exits with a status that says
//! what happened.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use trace_tests::{TestImage, describe, docker_ok, ensure_image, system_tier};

/// A container name of this test process, so that leftovers can be looked for.
fn name(what: &str) -> String {
    format!("trace-faults-{what}-{}", std::process::id())
}

/// Asserts that no container `name` is left, running or not.
fn assert_removed(name: &str) {
    let left = docker_ok(&["ps", "-a", "-q", "--filter", &format!("name=^/{name}$")]).unwrap();
    assert!(left.is_empty(), "container {name} was left behind");
}

/// Asserts that `dir` holds a complete recording (it parses) and the profiles.
fn assert_outputs(dir: &Path, output: &Output) {
    let text = std::fs::read_to_string(dir.join("recording.json"))
        .unwrap_or_else(|e| panic!("no recording.json ({e}): {}", describe(output)));
    let recording: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(recording["syscalls"].is_object(), "{text}");
    for file in ["seccomp.json", "apparmor.profile", "files.txt"] {
        assert!(
            dir.join(file).is_file(),
            "{file} missing: {}",
            describe(output)
        );
    }
}

/// Signals `pid` with `signal`.
fn kill(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).unwrap();
    // SAFETY: kill(2) on a child this test spawned and has not reaped; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// Stdout and stderr closed before trace writes its first line (`trace run ... | head -0`):
/// every message is lost, yet the outputs are written, the container removed, and the exit
/// status is the container's.
#[test]
fn closed_terminal_loses_messages_not_outputs() {
    let Some(system) = system_tier("closed_terminal_loses_messages_not_outputs") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let container = name("closed");
    let mut child = Command::new(system.trace_bin())
        .args(["run", "--name", &container, "--out"])
        .arg(out.path())
        .args([image.as_str(), "sh", "-c", "echo hello; sleep 1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    let output = Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    assert_eq!(status.code(), Some(0), "panicked or failed: {status}");
    assert_outputs(out.path(), &output);
    assert_removed(&container);
}

/// A duration past what the clock can hold is no deadline: the run ends when the container does.
#[test]
fn endless_duration_is_no_deadline() {
    let Some(system) = system_tier("endless_duration_is_no_deadline") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let container = name("duration");
    let output = Command::new(system.trace_bin())
        .args([
            "run",
            "--duration",
            "18446744073709551615",
            "--name",
            &container,
        ])
        .arg("--out")
        .arg(out.path())
        .args([image.as_str(), "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_outputs(out.path(), &output);
    assert_removed(&container);
}

/// Ctrl-C stops the recording; the container ignores SIGTERM, so trace says it is waiting for
/// Docker's stop timeout, and a second Ctrl-C kills it at once. The outputs are complete.
#[test]
fn second_interrupt_kills_a_slow_container() {
    let Some(system) = system_tier("second_interrupt_kills_a_slow_container") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let container = name("slow-stop");
    let mut child = Command::new(system.trace_bin())
        .args(["run", "--name", &container, "--out"])
        .arg(out.path())
        .args([
            image.as_str(),
            "sh",
            "-c",
            "trap '' TERM; while true; do sleep 1; done",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut wait_for = |text: &str| {
        let mut line = String::new();
        while !seen.contains(text) {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "trace ended before saying {text:?}: {seen}"
            );
            seen.push_str(&line);
        }
    };
    wait_for("recording until the container stops");
    kill(child.id(), libc::SIGINT);
    wait_for("Ctrl-C again kills it now");
    let interrupted = Instant::now();
    kill(child.id(), libc::SIGINT);
    wait_for("killing the container");
    let status = child.wait().unwrap();
    let waited = interrupted.elapsed();
    // Docker's stop timeout is 10 s: a kill ends well before it.
    assert!(
        waited < Duration::from_secs(8),
        "took {waited:?} after the second Ctrl-C"
    );
    assert_eq!(status.code(), Some(130), "{seen}");
    let output = Output {
        status,
        stdout: Vec::new(),
        stderr: seen.into_bytes(),
    };
    assert_outputs(out.path(), &output);
    let recording: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("recording.json")).unwrap())
            .unwrap();
    assert_eq!(recording["stop_reason"]["kind"], "signal", "{recording}");
    assert_removed(&container);
}

/// A container that dies before `--ready` holds is reported at once, as crashed, with its last
/// log lines, not after the readiness timeout; `--minimize` then does not blame missing files.
#[test]
fn container_dead_before_ready_is_reported_at_once() {
    let Some(system) = system_tier("container_dead_before_ready_is_reported_at_once") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let container = name("dead");
    let started = Instant::now();
    let output = Command::new(system.trace_bin())
        .args([
            "run",
            "--minimize",
            "--ready",
            "port:8080",
            "--name",
            &container,
        ])
        .arg("--out")
        .arg(out.path())
        .args([
            image.as_str(),
            "sh",
            "-c",
            "echo cannot open the configuration >&2; exit 1",
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The readiness timeout is 60 s.
    assert!(took < Duration::from_secs(30), "took {took:?}: {stderr}");
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert!(
        stderr.contains("stopped (status 1) before it was ready"),
        "{stderr}"
    );
    assert!(
        stderr.contains("| cannot open the configuration"),
        "{stderr}"
    );
    assert!(stderr.contains("not minimizing"), "{stderr}");
    assert!(!stderr.contains("needs files"), "{stderr}");
    assert_outputs(out.path(), &output);
    assert_removed(&container);
}

/// `--ready` conditions are checked before anything starts.
#[test]
fn bad_ready_conditions_are_refused() {
    let Some(system) = system_tier("bad_ready_conditions_are_refused") else {
        return;
    };
    for bad in ["bogus", "port:abc", "delay:soon"] {
        let output = Command::new(system.trace_bin())
            .args(["run", "--ready", bad, "trace-test/never-pulled:local"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--ready {bad}: {stderr}");
        assert!(stderr.contains("--ready"), "--ready {bad}: {stderr}");
    }
}
