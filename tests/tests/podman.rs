//! Real-system tests of trace with Podman (Debian's 4.3, which runs crun) through its API service:
//! a container the exercise starts (recorded from its first instruction, selected by label), one
//! that runs already (attached, by name), and `trace run --engine podman`; each profile proven by
//! `podman run --security-opt seccomp=PROFILE` passing the exercise several times, with and
//! without no-new-privileges, while a call the exercise never made is refused.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use trace_tests::{
    Container, Engine, PODMAN_SOCKET, TestImage, cannot_run, describe, ensure_podman_image, podman,
    podman_answers, system_tier,
};

/// The tier, Podman's API service and the busybox image in Podman's store, or `None` (skipped).
fn podman_tier(test: &str) -> Option<(std::path::PathBuf, String)> {
    let system = system_tier(test)?;
    if !podman_answers() {
        cannot_run(
            test,
            &format!(
                "Podman's API service does not answer on {PODMAN_SOCKET} (`cargo xtask setup` starts it)"
            ),
        );
        return None;
    }
    let image = ensure_podman_image(TestImage::Busybox).unwrap();
    Some((system.trace_bin(), image))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn calls(recording: &Value) -> Vec<String> {
    recording["syscalls"]["x86_64"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The recording names Podman and crun, and holds what the exercise calls and nothing it does
/// not.
fn assert_recorded_by_podman(recording: &Value) {
    let runtimes = recording["container"]["runtimes"].as_array().unwrap();
    assert_eq!(runtimes.len(), 1, "{runtimes:?}");
    assert_eq!(runtimes[0]["engine"], "podman");
    assert_eq!(runtimes[0]["name"], "crun");
    assert!(
        !runtimes[0]["version"].as_str().unwrap().is_empty(),
        "{runtimes:?}"
    );
    let calls = calls(recording);
    for expected in ["uname", "sync", "chmod", "unlink", "getdents64", "execve"] {
        assert!(calls.iter().any(|c| c == expected), "{expected}: {calls:?}");
    }
    for absent in ["mkdir", "mkdirat"] {
        assert!(!calls.iter().any(|c| c == absent), "{absent}: {calls:?}");
    }
}

/// `podman run --rm OPTIONS IMAGE CMD...`.
fn podman_run(options: &[&str], image: &str, cmd: &[&str]) -> Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(options);
    args.push(image);
    args.extend_from_slice(cmd);
    podman(&args).unwrap()
}

/// The profile works under Podman: the exercise passes three times, and twice more with
/// no-new-privileges (crun installs the filter later there); `mkdir`, which the exercise never
/// called, is refused, and only because of the profile.
fn prove_under_podman(image: &str, seccomp: &Path) {
    let profile = format!("seccomp={}", seccomp.display());
    let nnp = [
        "--security-opt",
        &profile,
        "--security-opt",
        "no-new-privileges",
    ];
    for (options, starts) in [(&nnp[..2], 3), (&nnp[..], 2)] {
        for start in 1..=starts {
            let run = podman_run(options, image, &["sh", "/exercise.sh"]);
            assert!(
                run.status.success()
                    && String::from_utf8_lossy(&run.stdout).contains("exercise-ok"),
                "start {start} with {options:?}: {}",
                describe(&run)
            );
        }
    }
    let denied = podman_run(&nnp[..2], image, &["mkdir", "/tmp/x"]);
    assert!(!denied.status.success(), "{}", describe(&denied));
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"),
        "{}",
        describe(&denied)
    );
    let allowed = podman_run(&[], image, &["mkdir", "/tmp/x"]);
    assert!(allowed.status.success(), "{}", describe(&allowed));
}

/// A container the exercise starts with `podman run`, selected by a label, is recorded from its
/// first instruction: crun's work after its filter is in the startup, the profile names crun's
/// baseline, and it is proven under Podman.
#[test]
fn podman_container_recorded_from_its_start_and_proven() {
    let Some((trace, image)) = podman_tier("podman_container_recorded_from_its_start_and_proven")
    else {
        return;
    };
    let name = Container::unique_name("podman-start");
    let label = format!("trace.test={name}");
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(&trace)
        .args(["--engine", "podman", "--label", &label, "--out"])
        .arg(out.path())
        .args(["--", "podman", "run", "--name", &name, "--label", &label])
        .args([image.as_str(), "sh", "/exercise.sh"])
        .output()
        .unwrap();
    // Removed whatever happened, before any assertion.
    let _ = podman(&["rm", "-f", &name]);
    assert!(output.status.success(), "{}", describe(&output));
    let dir = out.path().join(&name);
    let recording = read_json(&dir.join("recording.json"));
    assert_eq!(recording["startup_seen"], true);
    assert_eq!(recording["container"]["name"], name.as_str());
    assert_eq!(
        recording["gaps"],
        Value::Null,
        "no gap: {}",
        recording["gaps"]
    );
    assert_recorded_by_podman(&recording);
    // crun's calls between its filter and the entrypoint: setresuid, not runc's setuid.
    let after = &recording["startup"]["runc_after_filter"]["x86_64"];
    for crun in ["setresuid", "setresgid", "capset", "execve"] {
        assert!(after.get(crun).is_some(), "{crun}: {after}");
    }
    let seccomp = read_json(&dir.join("seccomp.json"));
    let comments = trace_tests::rule_comments(&seccomp);
    assert!(
        comments
            .iter()
            .any(|c| c.starts_with("crun, observed at startup")),
        "{comments:?}"
    );
    prove_under_podman(&image, &dir.join("seccomp.json"));
}

/// A Podman container that runs already is attached by name: its startup is missing (a gap says
/// so), so the profile allows crun's measured baseline, and it is proven under Podman.
#[test]
fn running_podman_container_attached_and_proven() {
    let Some((trace, image)) = podman_tier("running_podman_container_attached_and_proven") else {
        return;
    };
    let container = Container::run_with(
        Engine::Podman,
        &image,
        "podman-attach",
        &[],
        &["sleep", "600"],
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(&trace)
        .args([
            "--engine",
            "podman",
            "--container",
            container.name(),
            "--out",
        ])
        .arg(out.path())
        .args([
            "--",
            "podman",
            "exec",
            container.name(),
            "sh",
            "/exercise.sh",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let recording = read_json(&out.path().join("recording.json"));
    assert_eq!(recording["startup_seen"], false);
    assert_eq!(recording["container"]["id"], container.id());
    assert_eq!(recording["gaps"][0]["kind"], "startup_missed");
    assert_recorded_by_podman(&recording);
    let seccomp = read_json(&out.path().join("seccomp.json"));
    assert!(
        seccomp["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["comment"]
                .as_str()
                .is_some_and(|c| c.starts_with("crun baseline"))),
        "{seccomp}"
    );
    drop(container);
    prove_under_podman(&image, &out.path().join("seccomp.json"));
}

/// `trace run --engine podman` creates, starts, exercises, stops and removes the container
/// through Podman's API: a clean stop is no crash, and the profile starts the container again
/// through `trace run --security-opt seccomp=...` (Podman's API takes the profile's path), where
/// it is in force.
#[test]
fn trace_run_with_podman_and_its_profile() {
    let Some((trace, image)) = podman_tier("trace_run_with_podman_and_its_profile") else {
        return;
    };
    let name = Container::unique_name("podman-run");
    let out = tempfile::tempdir().unwrap();
    // A main process that ends on SIGTERM: the stop is quick and clean.
    let serve = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"];
    let run = |out: &Path, extra: &[&str]| {
        Command::new(&trace)
            .args(["run", "--engine", "podman", "--name", &name, "--out"])
            .arg(out)
            .args(extra)
            .args(["--ready", "delay:1s", "--exec", "sh /exercise.sh", &image])
            .args(serve)
            .output()
            .unwrap()
    };
    let output = run(out.path(), &[]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("exercise-ok"),
        "{}",
        describe(&output)
    );
    let listed = podman(&["ps", "-a", "--filter", &format!("name={name}"), "-q"]).unwrap();
    assert!(listed.stdout.is_empty(), "trace run left {name} behind");
    let recording = read_json(&out.path().join("recording.json"));
    assert_eq!(recording["startup_seen"], true);
    assert_eq!(
        recording["gaps"],
        Value::Null,
        "no crash: {}",
        recording["gaps"]
    );
    assert_recorded_by_podman(&recording);
    assert_eq!(recording["lives"][0]["ended"]["exit_code"], 0);

    let profile = out.path().join("seccomp.json");
    let again = tempfile::tempdir().unwrap();
    let security = format!("seccomp={}", profile.display());
    // In force: the exercise passes and mkdir, which it never called, is refused.
    let under = Command::new(&trace)
        .args(["run", "--engine", "podman", "--name", &name, "--out"])
        .arg(again.path())
        .args(["--security-opt", &security, "--ready", "delay:1s", "--exec"])
        .args(["sh /exercise.sh && ! mkdir /tmp/x", &image])
        .args(serve)
        .output()
        .unwrap();
    assert!(under.status.success(), "{}", describe(&under));
    assert!(
        String::from_utf8_lossy(&under.stderr).contains("Operation not permitted"),
        "{}",
        describe(&under)
    );
    prove_under_podman(&image, &profile);
}

/// Podman's service not answering is one line that says how to start it.
#[test]
fn an_unreachable_podman_says_how_to_start_its_service() {
    let Some(system) = system_tier("an_unreachable_podman_says_how_to_start_its_service") else {
        return;
    };
    let output = Command::new(system.trace_bin())
        .args([
            "--engine",
            "podman",
            "--host",
            "unix:///nonexistent/podman.sock",
            "--container",
            "anything",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0]
            .starts_with("trace: error: cannot reach Podman at unix:///nonexistent/podman.sock")
            && lines[0].contains("podman system service --time=0 unix:///nonexistent/podman.sock"),
        "{stderr}"
    );
}
