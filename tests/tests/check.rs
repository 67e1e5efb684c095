//! Real-system tests of `trace check` and the Docker-default-relative seccomp choice: the profile
//! lets the exercise pass under Docker and is never looser than Docker's default for clone,
//! personality and socket, and allows personality and prctl only with the argument values the
//! recording holds; `trace check` and `trace run --check` tell an equal recording (exit 0) from
//! one with a new system call and a new file (exit 1, both named).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trace_tests::{TestImage, describe, ensure_image, run_once, system_tier, workspace_root};

/// Compiles tests/programs/argprobe.c, static, into `dir`.
fn build_argprobe(dir: &Path) -> PathBuf {
    let binary = dir.join("argprobe");
    let output = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(&binary)
        .arg(workspace_root().join("tests/programs/argprobe.c"))
        .output()
        .expect("gcc runs (cargo xtask setup installs it)");
    assert!(output.status.success(), "gcc: {}", describe(&output));
    binary
}

/// Runs `argprobe what` in a fresh container under `seccomp`; returns (exit status, output line).
fn probe(image: &str, mount: &str, seccomp: &Path, what: &str) -> (i32, String) {
    let profile = format!("seccomp={}", seccomp.display());
    let run = run_once(
        image,
        &["-v", mount, "--security-opt", &profile],
        &["/argprobe", what],
    )
    .unwrap();
    let line = String::from_utf8_lossy(&run.stdout).trim().to_owned();
    (run.status.code().unwrap_or(-1), line)
}

fn trace(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().unwrap()
}

#[test]
fn relative_profile_passes_the_exercise_and_is_never_looser_than_dockers_default() {
    let Some(system) = system_tier(
        "relative_profile_passes_the_exercise_and_is_never_looser_than_dockers_default",
    ) else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let work = tempfile::tempdir().unwrap();
    let argprobe = build_argprobe(work.path());
    let mount = format!("{}:/argprobe:ro", argprobe.display());
    let exercise = "/argprobe good && sh /exercise.sh";
    let relative = work.path().join("relative");
    let out = relative.to_str().unwrap();

    // Record the exercise (personality, socket and fork = clone, with arguments Docker's default
    // allows, then the busybox exercise), rendering the relative profile for both architectures.
    let run = trace(
        &system.trace_bin(),
        &[
            "run",
            "--out",
            out,
            "--relative-to-default",
            "--arch",
            "x86_64,aarch64",
            "-v",
            &mount,
            &image,
            "sh",
            "-c",
            exercise,
        ],
    );
    assert!(run.status.success(), "{}", describe(&run));
    let recording = std::fs::read_to_string(relative.join("recording.json")).unwrap();
    let recording: serde_json::Value = serde_json::from_str(&recording).unwrap();
    for call in ["personality", "socket", "clone"] {
        assert!(
            recording["syscalls"]["x86_64"].get(call).is_some(),
            "{call} recorded: {recording}"
        );
    }
    // The argument values: argprobe's personality query and prctl(PR_GET_DUMPABLE) are there,
    // PR_GET_TIMERSLACK (30) is not.
    let values = &recording["arguments"]["values"];
    assert_eq!(
        values["personality"]["0"],
        serde_json::json!([0xffff_ffff_u64]),
        "{recording}"
    );
    let prctl: Vec<u64> = values["prctl"]["0"]
        .as_array()
        .unwrap_or_else(|| panic!("prctl values: {recording}"))
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    assert!(prctl.contains(&3) && !prctl.contains(&30), "{prctl:?}");
    assert_eq!(recording["arguments"]["lost"], 0);
    // The same recording, exactly what was observed: the control.
    let exact = work.path().join("exact");
    let render = trace(
        &system.trace_bin(),
        &[
            "render",
            relative.join("recording.json").to_str().unwrap(),
            "--out",
            exact.to_str().unwrap(),
        ],
    );
    assert!(render.status.success(), "{}", describe(&render));

    let relative_profile = relative.join("seccomp.json");
    let exact_profile = exact.join("seccomp.json");
    for profile in [&relative_profile, &exact_profile] {
        let seccomp = format!("seccomp={}", profile.display());
        let pass = run_once(
            &image,
            &["-v", &mount, "--security-opt", &seccomp],
            &["sh", "-c", exercise],
        )
        .unwrap();
        assert!(
            pass.status.success() && String::from_utf8_lossy(&pass.stdout).contains("exercise-ok"),
            "the exercise under {}: {}",
            profile.display(),
            describe(&pass)
        );
    }
    // Under the relative profile each call with arguments Docker's default refuses fails with
    // EPERM, from the filter; under the exact profile of the same recording they get past seccomp
    // (socket(AF_ALG) then fails in the kernel with EAFNOSUPPORT where AF_ALG is not built in).
    // personality(0x8) and prctl(PR_GET_TIMERSLACK) pass Docker's default, but the recording
    // never saw them: refused too.
    for what in ["personality", "persona8", "timerslack", "clone", "socket"] {
        let (status, line) = probe(&image, &mount, &relative_profile, what);
        assert_eq!(
            (status, line.as_str()),
            (1, "EPERM"),
            "{what} under the relative profile"
        );
        let (status, line) = probe(&image, &mount, &exact_profile, what);
        assert_ne!(line, "EPERM", "{what} under the exact profile: the control");
        assert!(status == 0 || what == "socket", "{what}: {status} {line}");
    }
}

#[test]
fn drift_check_names_a_new_syscall_and_file_and_passes_an_equal_recording() {
    let Some(system) =
        system_tier("drift_check_names_a_new_syscall_and_file_and_passes_an_equal_recording")
    else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let work = tempfile::tempdir().unwrap();
    let committed = work.path().join("committed");
    let run = trace(
        &system.trace_bin(),
        &[
            "run",
            "--out",
            committed.to_str().unwrap(),
            &image,
            "sh",
            "/exercise.sh",
        ],
    );
    assert!(run.status.success(), "{}", describe(&run));
    let recording = committed.join("recording.json");

    // Equal: the committed recording against its own profiles.
    let equal = trace(
        &system.trace_bin(),
        &[
            "check",
            "--against",
            committed.to_str().unwrap(),
            recording.to_str().unwrap(),
        ],
    );
    assert_eq!(equal.status.code(), Some(0), "{}", describe(&equal));
    assert!(String::from_utf8_lossy(&equal.stdout).contains("result: ok"));

    // One more system call (mkdir) and one more file (/tmp/drift-dir), checked while recording.
    let newer = work.path().join("newer");
    let drift = trace(
        &system.trace_bin(),
        &[
            "run",
            "--out",
            newer.to_str().unwrap(),
            "--check",
            committed.to_str().unwrap(),
            &image,
            "sh",
            "-c",
            "sh /exercise.sh && mkdir /tmp/drift-dir",
        ],
    );
    let stdout = String::from_utf8_lossy(&drift.stdout);
    assert_eq!(drift.status.code(), Some(1), "{}", describe(&drift));
    assert!(stdout.contains("new system calls ("), "{stdout}");
    assert!(
        stdout.contains("\n  mkdir  (x86_64; 1 calls)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n  /tmp/drift-dir/  needs w  (seen: "),
        "{stdout}"
    );
    assert!(stdout.contains("result: DRIFT"), "{stdout}");
    cli_reports(&system.trace_bin(), &committed, &newer, work.path());
}

/// `trace check` on the recordings of the drift test: JSON, --strict, bad input.
fn cli_reports(bin: &Path, committed: &Path, newer: &Path, work: &Path) {
    let recording = committed.join("recording.json");
    // The same as JSON, with trace check; and --strict on the old recording against the new
    // profiles finds mkdir allowed and no longer observed.
    let json = trace(
        bin,
        &[
            "check",
            "--output-format",
            "json",
            "--against",
            committed.to_str().unwrap(),
            newer.join("recording.json").to_str().unwrap(),
        ],
    );
    assert_eq!(json.status.code(), Some(1), "{}", describe(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<&str> = report["new"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"mkdir"), "{report}");
    let strict = trace(
        bin,
        &[
            "check",
            "--strict",
            "--against",
            newer.to_str().unwrap(),
            recording.to_str().unwrap(),
        ],
    );
    assert_eq!(strict.status.code(), Some(1), "{}", describe(&strict));
    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert!(
        stdout.contains("no longer observed: system calls ("),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "  mkdir"), "{stdout}");

    // Bad input: exit 2 with one error line.
    let missing = trace(
        bin,
        &[
            "check",
            "--against",
            work.join("nothing").to_str().unwrap(),
            recording.to_str().unwrap(),
        ],
    );
    assert_eq!(missing.status.code(), Some(2), "{}", describe(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("trace: error: "));
}
