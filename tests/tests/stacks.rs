//! Real-system tests of what the tests start: containers named before they exist, compose
//! projects with a scaled service, restarts, containers attached while running, crashes. Each
//! profile is proven by starting the container again under it and passing its exercise, 5 times.
//! They run in CI (`TRACE_SYSTEM_TESTS=require`) and skip with a reason elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use trace_tests::{
    Container, System, TestImage, describe, docker, docker_ok, ensure_image, system_tier,
};

/// Starts of a fresh container under each generated profile.
const PROOF_STARTS: usize = 5;
/// The busybox image's exercise, run with `docker exec`.
const BUSYBOX_EXERCISE: &[&str] = &["sh", "/exercise.sh"];
/// The python image's exercise against its own HTTP server, run with `docker exec`.
const PYTHON_EXERCISE: &[&str] = &["python3", "/srv/exercise.py", "8000"];

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A name no other test or run uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// Runs `trace ARGS...`.
fn trace(system: &System, args: &[&str]) -> Output {
    Command::new(system.trace_bin())
        .args(args)
        .output()
        .expect("run trace")
}

/// Runs `trace SELECT... --out OUT -- sh -c EXERCISE`.
fn trace_exercising(system: &System, select: &[&str], out: &Path, exercise: &str) -> Output {
    let out = out.display().to_string();
    let mut args = select.to_vec();
    args.extend(["--out", &out, "--", "sh", "-c", exercise]);
    trace(system, &args)
}

/// Starts `image CMD` `PROOF_STARTS` times under `seccomp`, runs `exercise` in it each time (retried
/// for a few seconds while a server starts) and asserts it passes.
fn proven(image: &str, cmd: &[&str], seccomp: &Path, exercise: &[&str]) {
    let option = format!("seccomp={}", seccomp.display());
    for start in 1..=PROOF_STARTS {
        let container = Container::run(image, "trace-proof", &["--security-opt", &option], cmd)
            .unwrap_or_else(|e| panic!("start {start} under {}: {e:#}", seccomp.display()));
        let mut last = None;
        for _ in 0..50 {
            let run = container.exec(exercise).expect("docker exec");
            let ok = run.status.success()
                && String::from_utf8_lossy(&run.stdout).contains("exercise-ok");
            last = Some(run);
            if ok {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let last = last.expect("ran");
        assert!(
            last.status.success() && String::from_utf8_lossy(&last.stdout).contains("exercise-ok"),
            "start {start} of {PROOF_STARTS} under {}: {}",
            seccomp.display(),
            describe(&last)
        );
        let running = docker_ok(&["inspect", "-f", "{{.State.Running}}", container.id()]).unwrap();
        assert_eq!(running, "true", "start {start}: the container stopped");
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The exercise starts the container trace waits for by name: it is recorded from its first
/// instruction, its stop is one it asked for, and its profile starts it again every time.
#[test]
fn a_container_the_exercise_starts_is_recorded_from_its_start() {
    let Some(system) = system_tier("a_container_the_exercise_starts_is_recorded_from_its_start")
    else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let name = unique("trace-later");
    let out = tempfile::tempdir().unwrap();
    let exercise = format!(
        "docker run -d --name {name} {image} sleep 600 >/dev/null && docker exec {name} sh /exercise.sh && docker rm -f {name} >/dev/null"
    );
    let output = trace_exercising(&system, &["--container", &name], out.path(), &exercise);
    let _ = docker(&["rm", "-f", &name]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("waiting for container"),
        "{}",
        describe(&output)
    );
    let recording = read_json(&out.path().join("recording.json"));
    assert_eq!(recording["container"]["name"], name.as_str());
    assert_eq!(recording["startup_seen"], true);
    let lives = recording["lives"].as_array().expect("lives");
    assert_eq!(lives.len(), 1, "{lives:?}");
    assert_eq!(lives[0]["startup_seen"], true);
    assert_eq!(lives[0]["ended"]["requested"], true, "{lives:?}");
    let after = recording["startup"]["runc_after_filter"]["x86_64"]
        .as_object()
        .expect("runc's calls after its filter");
    assert!(after.contains_key("execve"), "{after:?}");
    assert!(
        recording["syscalls"]["x86_64"]
            .as_object()
            .unwrap()
            .contains_key("nanosleep")
            || recording["syscalls"]["x86_64"]
                .as_object()
                .unwrap()
                .contains_key("clock_nanosleep"),
        "the entrypoint's sleep is recorded: {}",
        recording["syscalls"]
    );
    proven(
        &image,
        &["sleep", "600"],
        &out.path().join("seccomp.json"),
        BUSYBOX_EXERCISE,
    );
}

/// A compose project started (and scaled, and taken down) by the exercise: one directory per
/// service, the scaled service's two replicas merged into one profile with both as sources, and
/// each service starts again under its own profile every time.
#[test]
fn a_compose_project_gives_one_profile_per_service() {
    let Some(system) = system_tier("a_compose_project_gives_one_profile_per_service") else {
        return;
    };
    let busybox = ensure_image(TestImage::Busybox).unwrap();
    let python = ensure_image(TestImage::Python).unwrap();
    let work = tempfile::tempdir().unwrap();
    let project = unique("tracestack");
    let compose = work.path().join("compose.yaml");
    std::fs::write(
        &compose,
        format!(
            "version: '3'\nservices:\n  web:\n    image: {python}\n  worker:\n    image: {busybox}\n    command: [\"sleep\", \"600\"]\n"
        ),
    )
    .unwrap();
    let dc = format!("docker-compose -p {project} -f {}", compose.display());
    let exercise = format!(
        "set -e\n\
         {dc} up -d\n\
         for i in $(seq 50); do {dc} exec -T web python3 /srv/exercise.py 8000 && break; sleep 0.2; done\n\
         {dc} exec -T worker sh /exercise.sh\n\
         {dc} up -d --scale worker=2\n\
         {dc} exec -T --index=2 worker sh /exercise.sh\n\
         {dc} down -t 1\n"
    );
    let out = work.path().join("profiles");
    let output = trace_exercising(&system, &["--compose-project", &project], &out, &exercise);
    let _ = Command::new("sh")
        .args(["-c", &format!("{dc} down -t 1")])
        .output();
    assert!(output.status.success(), "{}", describe(&output));
    let mut dirs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["web", "worker"], "{}", describe(&output));
    let web = read_json(&out.join("web/recording.json"));
    assert_eq!(web["startup_seen"], true);
    assert!(web["sources"].as_array().is_none_or(Vec::is_empty));
    let worker = read_json(&out.join("worker/recording.json"));
    let sources = worker["sources"].as_array().expect("merged replicas");
    assert_eq!(sources.len(), 2, "{sources:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("worker (2 containers merged)"),
        "{}",
        describe(&output)
    );
    let files = lines(&out.join("web/files.txt"));
    assert!(
        files.iter().any(|f| f.starts_with("/usr/bin/python3")),
        "{files:?}"
    );
    proven(&python, &[], &out.join("web/seccomp.json"), PYTHON_EXERCISE);
    proven(
        &busybox,
        &["sleep", "600"],
        &out.join("worker/seccomp.json"),
        BUSYBOX_EXERCISE,
    );
}

/// `--min-runs 2` over a service scaled to two replicas: what only one replica did stays in the
/// recording, is left out of the profiles, and is counted in the table and the JSON summary; the
/// profile still starts the service every time.
#[test]
fn min_runs_keeps_what_every_replica_did() {
    let Some(system) = system_tier("min_runs_keeps_what_every_replica_did") else {
        return;
    };
    let busybox = ensure_image(TestImage::Busybox).unwrap();
    let work = tempfile::tempdir().unwrap();
    let project = unique("tracereplicas");
    let compose = work.path().join("compose.yaml");
    std::fs::write(
        &compose,
        format!(
            "version: '3'\nservices:\n  worker:\n    image: {busybox}\n    command: [\"sleep\", \"600\"]\n"
        ),
    )
    .unwrap();
    let dc = format!("docker-compose -p {project} -f {}", compose.display());
    let exercise = format!(
        "set -e\n\
         {dc} up -d --scale worker=2\n\
         {dc} exec -T --index=1 worker sh /exercise.sh\n\
         {dc} exec -T --index=2 worker sh /exercise.sh\n\
         {dc} exec -T --index=1 worker touch /tmp/only-one-replica\n\
         {dc} down -t 1\n"
    );
    let out = work.path().join("profiles");
    let summary = work.path().join("summary.json");
    let output = trace(
        &system,
        &[
            "--compose-project",
            &project,
            "--min-runs",
            "2",
            "--summary-json",
            &summary.display().to_string(),
            "--out",
            &out.display().to_string(),
            "--",
            "sh",
            "-c",
            &exercise,
        ],
    );
    let _ = Command::new("sh")
        .args(["-c", &format!("{dc} down -t 1")])
        .output();
    assert!(output.status.success(), "{}", describe(&output));
    let only_one = "/tmp/only-one-replica";
    let recording = std::fs::read_to_string(out.join("worker/recording.json")).unwrap();
    assert!(
        recording.contains(only_one),
        "the recording keeps everything"
    );
    let files = lines(&out.join("worker/files.txt"));
    assert!(!files.iter().any(|f| f == only_one), "{files:?}");
    assert!(files.iter().any(|f| f == "/exercise.sh"), "{files:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("profiles keep what at least 2 of 2 runs saw"),
        "{}",
        describe(&output)
    );
    let summary = read_json(&summary);
    let worker = &summary["outputs"][0];
    assert_eq!(worker["runs"], 2, "{summary}");
    assert_eq!(worker["min_runs"], 2, "{summary}");
    assert!(
        worker["left_out"]["files"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    proven(
        &busybox,
        &["sleep", "600"],
        &out.join("worker/seccomp.json"),
        BUSYBOX_EXERCISE,
    );
}

/// A container restarted during the run is followed: both lives are in its recording, the second
/// from its first instruction.
#[test]
fn a_restarted_container_keeps_one_recording_with_both_lives() {
    let Some(system) = system_tier("a_restarted_container_keeps_one_recording_with_both_lives")
    else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let container = Container::run(&image, "trace-restart", &[], &["sleep", "600"]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let name = container.name();
    let exercise = format!(
        "docker exec {name} sh /exercise.sh && docker restart -t 1 {name} >/dev/null && docker exec {name} sh /exercise.sh"
    );
    let output = trace_exercising(&system, &["--container", name], out.path(), &exercise);
    assert!(output.status.success(), "{}", describe(&output));
    let recording = read_json(&out.path().join("recording.json"));
    let lives = recording["lives"].as_array().expect("lives");
    assert_eq!(lives.len(), 2, "{lives:?}");
    assert_eq!(lives[0]["startup_seen"], false);
    assert_eq!(lives[0]["ended"]["requested"], true, "{lives:?}");
    assert_eq!(lives[1]["startup_seen"], true);
    assert!(lives[1].get("ended").is_none(), "{lives:?}");
    assert_eq!(recording["startup_seen"], true);
    assert!(
        recording["startup"]["runc_after_filter"]["x86_64"]
            .as_object()
            .is_some_and(|m| m.contains_key("execve")),
        "the second life's startup: {}",
        recording["startup"]
    );
    assert!(
        !recording["gaps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|g| g["kind"] == "container_crashed"),
        "{}",
        recording["gaps"]
    );
}

/// Attached to a running, dynamically linked service: without `--restart`, files.txt still names
/// its interpreter and libc (found in /proc); with `--restart` its startup is recorded and the
/// profile starts it again every time.
#[test]
fn a_running_service_is_completed_from_proc_or_restarted() {
    let Some(system) = system_tier("a_running_service_is_completed_from_proc_or_restarted") else {
        return;
    };
    let image = ensure_image(TestImage::Python).unwrap();
    let container = Container::run(&image, "trace-running", &[], &[]).unwrap();
    let name = container.name().to_owned();
    let exercise = format!(
        "for i in $(seq 50); do docker exec {name} python3 /srv/exercise.py 8000 && exit 0; sleep 0.2; done; exit 1"
    );
    let attached = tempfile::tempdir().unwrap();
    let output = trace_exercising(&system, &["--container", &name], attached.path(), &exercise);
    assert!(output.status.success(), "{}", describe(&output));
    let recording = read_json(&attached.path().join("recording.json"));
    assert_eq!(recording["startup_seen"], false);
    let found: Vec<&str> = recording["found_at_attach"]
        .as_array()
        .expect("found at attach")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        found.iter().any(|f| f.starts_with("/usr/bin/python3")),
        "{found:?}"
    );
    let files = lines(&attached.path().join("files.txt"));
    for wanted in ["/usr/bin/python3", "/usr/lib/x86_64-linux-gnu/libc.so.6"] {
        assert!(
            files.iter().any(|f| f.starts_with(wanted)),
            "{wanted} not in files.txt: {files:?}"
        );
    }

    let restarted = tempfile::tempdir().unwrap();
    let output = trace_exercising(
        &system,
        &["--container", &name, "--restart"],
        restarted.path(),
        &exercise,
    );
    assert!(output.status.success(), "{}", describe(&output));
    let recording = read_json(&restarted.path().join("recording.json"));
    assert_eq!(recording["startup_seen"], true);
    assert!(recording["startup"].is_object());
    drop(container);
    proven(
        &image,
        &[],
        &restarted.path().join("seccomp.json"),
        PYTHON_EXERCISE,
    );
}

/// A container that exits 1 at startup is no success: `trace run` and attach exit non-zero, show
/// its last log lines, and still write outputs that say it crashed.
#[test]
fn a_container_crashing_at_startup_fails_the_run() {
    let Some(system) = system_tier("a_container_crashing_at_startup_fails_the_run") else {
        return;
    };
    let image = ensure_image(TestImage::Python).unwrap();
    let check = |output: &Output, dir: &Path| {
        assert_eq!(output.status.code(), Some(3), "{}", describe(output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("crashed: exited with code 1"), "{stderr}");
        assert!(stderr.contains("ModuleNotFoundError"), "{stderr}");
        let recording = read_json(&dir.join("recording.json"));
        assert_eq!(recording["lives"][0]["ended"]["exit_code"], 1);
        assert!(
            recording["gaps"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|g| g["kind"] == "container_crashed"),
            "{}",
            recording["gaps"]
        );
        assert!(dir.join("seccomp.json").is_file());
    };

    let run_out = tempfile::tempdir().unwrap();
    let output = trace(
        &system,
        &[
            "run",
            "--out",
            &run_out.path().display().to_string(),
            &image,
            "python3",
            "-c",
            "import nonexist",
        ],
    );
    check(&output, run_out.path());

    let name = unique("trace-crash");
    let attach_out: PathBuf = tempfile::tempdir().unwrap().keep();
    let output = trace_exercising(
        &system,
        &["--container", &name],
        &attach_out,
        &format!("docker run --name {name} {image} python3 -c 'import nonexist'; true"),
    );
    let _ = docker(&["rm", "-f", &name]);
    check(&output, &attach_out);
    let _ = std::fs::remove_dir_all(&attach_out);
}
