//! Real-system tests of `trace --container`: real kernel, real Docker, real seccomp enforcement.
//! They run in CI (`TRACE_SYSTEM_TESTS=require`) and skip with a reason elsewhere.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use trace_tests::{Container, TestImage, describe, ensure_image, run_once, system_tier};

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

fn syscalls_of(recording: &Value, abi: &str) -> Vec<String> {
    recording["syscalls"][abi]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Traces a busybox container while `docker exec` runs /exercise.sh and the host makes mkdir and
/// rmdir calls, then proves the profile: (a) the recording has the exercise's calls and none of the
/// host's, (b) a fresh container under seccomp.json passes the exercise, (c) mkdir is refused with
/// EPERM, and `trace render` reproduces the profile byte for byte.
#[test]
fn attach_records_the_exercise_and_the_profile_enforces_it() {
    let Some(system) = system_tier("attach_records_the_exercise_and_the_profile_enforces_it")
    else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let container = Container::run(&image, "trace-attach", &[], &["sleep", "600"]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let host_dir = out.path().join("host-made-dir");
    let exercise = format!(
        "docker exec \"$TRACE_CONTAINER\" sh /exercise.sh && for i in 1 2 3; do mkdir {d} && rmdir {d}; done",
        d = host_dir.display()
    );
    let output = Command::new(system.trace_bin())
        .args(["--container", container.name(), "--out"])
        .arg(out.path())
        .args(["--", "sh", "-c", &exercise])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("exercise-ok"),
        "{}",
        describe(&output)
    );

    // (a) what the exercise is known to call is there; the host's mkdir/rmdir are not.
    let recording = read_json(&out.path().join("recording.json"));
    assert_eq!(recording["schema_version"], 8);
    assert_eq!(recording["container"]["id"], container.id());
    assert_eq!(recording["container"]["name"], container.name());
    assert_eq!(recording["startup_seen"], false);
    assert_eq!(recording["stop_reason"]["kind"], "command_exited");
    let calls = syscalls_of(&recording, "x86_64");
    for expected in [
        "execve",
        "uname",
        "sync",
        "chmod",
        "unlink",
        "getdents64",
        "wait4",
        "write",
    ] {
        assert!(
            calls.iter().any(|c| c == expected),
            "{expected} missing from {calls:?}"
        );
    }
    for absent in ["mkdir", "mkdirat", "rmdir"] {
        assert!(
            !calls.iter().any(|c| c == absent),
            "{absent} from the host leaked into {calls:?}"
        );
    }
    assert!(
        syscalls_of(&recording, "x86").is_empty(),
        "no 32-bit calls were made"
    );

    let seccomp_path = out.path().join("seccomp.json");
    let seccomp = read_json(&seccomp_path);
    assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(seccomp["defaultErrnoRet"], 1);
    assert_eq!(
        seccomp["architectures"],
        serde_json::json!(["SCMP_ARCH_X86_64"])
    );

    prove_profile(&image, &seccomp_path);

    // `trace render` reproduces every profile byte for byte.
    let again = tempfile::tempdir().unwrap();
    let render = Command::new(system.trace_bin())
        .arg("render")
        .arg(out.path().join("recording.json"))
        .arg("--out")
        .arg(again.path())
        .output()
        .unwrap();
    assert!(render.status.success(), "{}", describe(&render));
    assert_eq!(
        std::fs::read(&seccomp_path).unwrap(),
        std::fs::read(again.path().join("seccomp.json")).unwrap()
    );
}

/// (b) a fresh container under the profile passes the exercise; (c) a call the exercise never made
/// is refused with the profile's errno, and only because of the profile.
fn prove_profile(image: &str, seccomp_path: &Path) {
    // (b) a fresh container under the profile passes the same exercise, several times.
    let profile_opt = format!("seccomp={}", seccomp_path.display());
    for _ in 0..5 {
        let run = run_once(
            image,
            &["--security-opt", &profile_opt],
            &["sh", "/exercise.sh"],
        )
        .unwrap();
        assert!(
            run.status.success(),
            "exercise failed under the profile: {}",
            describe(&run)
        );
        assert!(
            String::from_utf8_lossy(&run.stdout).contains("exercise-ok"),
            "{}",
            describe(&run)
        );
    }

    // (c) a call the exercise never made is refused with the profile's errno (EPERM) ...
    let denied = run_once(
        image,
        &["--security-opt", &profile_opt],
        &["mkdir", "/tmp/x"],
    )
    .unwrap();
    assert!(
        !denied.status.success(),
        "mkdir succeeded under the profile: {}",
        describe(&denied)
    );
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"),
        "{}",
        describe(&denied)
    );
    // ... and only because of the profile: Docker's default allows it.
    let allowed = run_once(image, &[], &["mkdir", "/tmp/x"]).unwrap();
    assert!(allowed.status.success(), "{}", describe(&allowed));
}

/// Spawns trace without an exercise and waits until it says it is recording.
fn spawn_and_wait_armed(
    trace: &Path,
    container: &str,
    out: &Path,
    extra: &[&str],
) -> (std::process::Child, String) {
    trace_tests::spawn_armed(
        Command::new(trace)
            .args(["--container", container, "--out"])
            .arg(out)
            .args(extra),
        "trace: recording container",
    )
}

/// (d) SIGINT in the middle of a trace still writes both files, complete and valid.
#[test]
fn sigint_mid_trace_writes_complete_files() {
    let Some(system) = system_tier("sigint_mid_trace_writes_complete_files") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let container = Container::run(&image, "trace-sigint", &[], &["sleep", "600"]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (child, _) = spawn_and_wait_armed(&system.trace_bin(), container.name(), out.path(), &[]);
    let exec = container.exec(&["sh", "/exercise.sh"]).unwrap();
    assert!(exec.status.success(), "{}", describe(&exec));
    // SAFETY: kill(2) on the child we spawned and have not reaped.
    assert_eq!(
        unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGINT) },
        0
    );
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", describe(&output));

    let recording = read_json(&out.path().join("recording.json"));
    assert_eq!(
        recording["stop_reason"],
        serde_json::json!({"kind": "signal", "signal": "SIGINT"})
    );
    assert!(
        syscalls_of(&recording, "x86_64")
            .iter()
            .any(|c| c == "sync"),
        "{recording}"
    );
    let seccomp = read_json(&out.path().join("seccomp.json"));
    let allowed: Vec<&str> = seccomp["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["names"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        allowed.contains(&"sync") && allowed.contains(&"capset"),
        "{seccomp}"
    );
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "apparmor.profile",
            "coverage.json",
            "coverage.md",
            "files.txt",
            "hardening.json",
            "hardening.md",
            "recording.json",
            "seccomp.json"
        ],
        "no temporary files are left behind"
    );
}

/// The other stop conditions: --duration, and the container exiting.
#[test]
fn stops_on_duration_and_on_container_exit() {
    let Some(system) = system_tier("stops_on_duration_and_on_container_exit") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let long = Container::run(&image, "trace-duration", &[], &["sleep", "600"]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = Command::new(system.trace_bin())
        .args(["--container", long.name(), "--duration", "2s", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(
        read_json(&out.path().join("recording.json"))["stop_reason"]["kind"],
        "duration"
    );

    let short = Container::run(&image, "trace-exit", &[], &["sh", "-c", "sleep 4; uname"]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (child, _) = spawn_and_wait_armed(&system.trace_bin(), short.name(), out.path(), &[]);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let recording = read_json(&out.path().join("recording.json"));
    assert_eq!(recording["stop_reason"]["kind"], "container_exited");
    assert!(
        syscalls_of(&recording, "x86_64")
            .iter()
            .any(|c| c == "uname"),
        "{recording}"
    );
}

/// The exercise's exit status becomes trace's, and the files are still written.
#[test]
fn exit_status_of_the_exercise_is_traces() {
    let Some(system) = system_tier("exit_status_of_the_exercise_is_traces") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let container = Container::run(&image, "trace-status", &[], &["sleep", "600"]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(system.trace_bin())
        .args(["--container", container.name(), "--out"])
        .arg(out.path())
        .args([
            "--",
            "sh",
            "-c",
            "docker exec \"$TRACE_CONTAINER_ID\" true; exit 7",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", describe(&output));
    let recording = read_json(&out.path().join("recording.json"));
    assert_eq!(
        recording["stop_reason"],
        serde_json::json!({"kind": "command_exited", "status": 7})
    );
    assert!(out.path().join("seccomp.json").is_file());
}
