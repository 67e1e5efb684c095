//! Real-system tests of `trace run`: a container traced from its first instruction, whose
//! profile then starts the image and passes its exercise 20 times in a row, with and without
//! no-new-privileges.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use trace_tests::{
    Container, TestImage, describe, ensure_image, run_once, start_under_profile, system_tier,
    trace_run,
};

/// Starts per mode in the proof.
const STARTS: usize = 20;

fn names(section: &Value) -> Vec<String> {
    section["x86_64"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// busybox running its exercise as the entrypoint: startup recorded, runc's phases split, the
/// profile starts it 20 times in each mode; a short-lived container (`true`) is recorded whole.
#[test]
fn run_busybox_profile_starts_it_every_time() {
    let Some(system) = system_tier("run_busybox_profile_starts_it_every_time") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let rec = trace_run(
        &system.trace_bin(),
        out.path(),
        &[&image, "sh", "/exercise.sh"],
    );
    assert_eq!(rec["startup_seen"], true);
    assert_eq!(rec["stop_reason"]["kind"], "container_exited");
    let startup = &rec["startup"];
    assert_eq!(startup["filter_installed"], true);
    let before = names(&startup["runc_before_filter"]);
    for setup in ["mount", "pivot_root", "sethostname"] {
        assert!(
            before.contains(&setup.to_owned()),
            "{setup} not in runc's setup: {before:?}"
        );
    }
    let after = names(&startup["runc_after_filter"]);
    for call in ["capset", "setgroups", "execve"] {
        assert!(
            after.contains(&call.to_owned()),
            "{call} not after the filter: {after:?}"
        );
    }
    let app = names(&rec["syscalls"]);
    for call in ["uname", "sync", "chmod", "unlink", "exit_group"] {
        assert!(
            app.contains(&call.to_owned()),
            "{call} not in the application: {app:?}"
        );
    }
    assert!(
        !app.contains(&"mount".to_owned()) && !app.contains(&"pivot_root".to_owned()),
        "{app:?}"
    );
    // runc's work from the host's side (before its pivot into the container's root, and its exec
    // fifo) names host paths: none may reach the recording, files.txt or the AppArmor profile.
    let files: Vec<&String> = rec["files"].as_object().unwrap().keys().collect();
    assert!(files.contains(&&"/bin/busybox".to_owned()), "{files:?}");
    let host_side = |path: &str| {
        ["/var/lib/docker/", "/run/docker/", "/run/containerd/"]
            .iter()
            .any(|host| path.starts_with(host))
    };
    assert!(!files.iter().any(|f| host_side(f)), "host paths: {files:?}");
    for output in ["files.txt", "apparmor.profile"] {
        let text = std::fs::read_to_string(out.path().join(output)).unwrap();
        assert!(
            !text.contains("/var/lib/docker/") && !text.contains("/run/docker/"),
            "host paths in {output}:\n{text}"
        );
    }
    let profile = format!("seccomp={}", out.path().join("seccomp.json").display());
    let seccomp = std::fs::read_to_string(out.path().join("seccomp.json")).unwrap();
    assert!(
        !seccomp.contains("\"pivot_root\"") && !seccomp.contains("\"mount\""),
        "runc's setup is not allowed"
    );
    start_under_profile(&out.path().join("seccomp.json"), STARTS, |extra, start| {
        let run = run_once(&image, extra, &["sh", "/exercise.sh"]).unwrap();
        assert!(
            run.status.success() && String::from_utf8_lossy(&run.stdout).contains("exercise-ok"),
            "start {start} with {extra:?}: {}",
            describe(&run)
        );
    });
    let denied = run_once(&image, &["--security-opt", &profile], &["mkdir", "/tmp/x"]).unwrap();
    assert!(!denied.status.success(), "mkdir ran under the profile");

    // Without --name the outputs are named after the image, the same on every run (the
    // container itself had a random name from Docker).
    assert_eq!(rec["container"]["name"], "busybox");
    let apparmor = std::fs::read_to_string(out.path().join("apparmor.profile")).unwrap();
    assert!(
        apparmor.contains("profile \"trace-busybox\" "),
        "{apparmor}"
    );

    short_run_is_recorded_whole_and_summarised(&system.trace_bin(), &image);
}

/// A container that lives well under 100 ms is recorded completely; the summary for scripts says
/// what was written.
fn short_run_is_recorded_whole_and_summarised(trace: &std::path::Path, image: &str) {
    let short = tempfile::tempdir().unwrap();
    let summary_path = short.path().join("summary/run.json");
    let rec = trace_run(
        trace,
        short.path(),
        &[
            "--summary-json",
            summary_path.to_str().unwrap(),
            image,
            "true",
        ],
    );
    assert_eq!(rec["container"]["name"], "busybox", "the same name again");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    assert_eq!(summary["schema"], "trace-summary");
    assert_eq!(summary["exit_code"], 0);
    let output = &summary["outputs"][0];
    assert_eq!(output["name"], "busybox");
    assert_eq!(output["dir"], short.path().to_str().unwrap());
    assert_eq!(
        output["files"][0],
        short.path().join("recording.json").to_str().unwrap()
    );
    assert_eq!(output["startup_seen"], true);
    assert_eq!(output["crashed"], false);
    assert_eq!(output["stopped_by"], "the container stopped");
    assert_eq!(output["exercise_status"], Value::Null);
    assert!(output["counts"]["syscalls"].as_u64().unwrap() >= names(&rec["syscalls"]).len() as u64);
    assert!(names(&rec["startup"]["runc_after_filter"]).contains(&"execve".to_owned()));
    assert!(
        names(&rec["syscalls"]).contains(&"exit_group".to_owned()),
        "{}",
        rec["syscalls"]
    );
}

/// The Debian python image serving HTTP, exercised from inside: its profile starts it and passes
/// the exercise 20 times in each mode.
#[test]
fn run_python_server_profile_serves_every_time() {
    let Some(system) = system_tier("run_python_server_profile_serves_every_time") else {
        return;
    };
    let image = ensure_image(TestImage::Python).unwrap();
    let out = tempfile::tempdir().unwrap();
    let rec = trace_run(
        &system.trace_bin(),
        out.path(),
        &["--exec", "python3 /srv/exercise.py 8000", &image],
    );
    assert_eq!(
        rec["stop_reason"],
        serde_json::json!({"kind": "command_exited", "status": 0})
    );
    let app = names(&rec["syscalls"]);
    for call in ["bind", "listen", "accept4"] {
        assert!(app.contains(&call.to_owned()), "{call}: {app:?}");
    }
    start_under_profile(&out.path().join("seccomp.json"), STARTS, |extra, start| {
        let server = Container::run(&image, "trace-run-proof", extra, &[]).unwrap();
        let mut last = String::new();
        let passed = (0..100).any(|_| {
            let run = server
                .exec(&["python3", "/srv/exercise.py", "8000"])
                .unwrap();
            last = describe(&run);
            let ok = run.status.success() && last.contains("exercise-ok");
            if !ok {
                std::thread::sleep(Duration::from_millis(100));
            }
            ok
        });
        assert!(passed, "start {start} with {extra:?}: {last}");
    });
}

/// nginx (Debian nginx-light) with no exercise given: trace run's built-in crawl fetches / and the
/// page it links to; the profile then starts nginx and serves both pages 20 times in each mode,
/// and `docker stop` ends it cleanly (status 0) under the profile: trace stops the container while
/// it still records.
#[test]
fn run_nginx_with_the_builtin_crawl_serves_every_time() {
    let Some(system) = system_tier("run_nginx_with_the_builtin_crawl_serves_every_time") else {
        return;
    };
    let image = ensure_image(TestImage::Nginx).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(system.trace_bin())
        .arg("run")
        .arg("--out")
        .arg(out.path())
        .arg(&image)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(":80/ -> 200") && stderr.contains(":80/about.html -> 200"),
        "the crawl: {stderr}"
    );
    let rec: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("recording.json")).unwrap())
            .unwrap();
    assert_eq!(rec["startup_seen"], true);
    let app = names(&rec["syscalls"]);
    for call in ["bind", "listen", "epoll_wait", "sendfile"] {
        assert!(app.iter().any(|c| c.starts_with(call)), "{call}: {app:?}");
    }
    start_under_profile(&out.path().join("seccomp.json"), STARTS, |extra, start| {
        let server = Container::run(&image, "trace-nginx-proof", extra, &[]).unwrap();
        let ip = trace_tests::docker_ok(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.IPAddress}}",
            server.id(),
        ])
        .unwrap();
        let answered = (0..100).any(|_| {
            let both = ["/", "/about.html"].iter().all(|page| {
                trace_tests::http_get(&ip, 80, page).is_some_and(|r| r.starts_with("HTTP/1.1 200"))
            });
            if !both {
                std::thread::sleep(Duration::from_millis(100));
            }
            both
        });
        let logs = trace_tests::docker(&["logs", server.id()]).unwrap();
        assert!(
            answered,
            "start {start} with {extra:?} never served: {}",
            describe(&logs)
        );
        // Its shutdown was recorded too: `docker stop` ends it cleanly under the profile,
        // well before Docker's 5 s kill.
        if start <= 3 {
            let asked = std::time::Instant::now();
            trace_tests::docker_ok(&["stop", "-t", "5", server.id()]).unwrap();
            let took = asked.elapsed();
            let code =
                trace_tests::docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", server.id()])
                    .unwrap();
            let logs = trace_tests::docker(&["logs", server.id()]).unwrap();
            assert!(
                took < Duration::from_secs(4) && code == "0",
                "stop {start} with {extra:?}: {took:?}, exit code {code}: {}",
                describe(&logs)
            );
        }
    });
}

/// The stop at the end sends the container's stop signal: a shell that only handles SIGINT ends
/// by itself under `--stop-signal SIGINT` (status 0), where SIGTERM would leave it to be killed.
#[test]
fn the_stop_sends_the_stop_signal_given() {
    let Some(system) = system_tier("the_stop_sends_the_stop_signal_given") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let rec = trace_run(
        &system.trace_bin(),
        out.path(),
        &[
            "--name",
            "trace-stop-signal",
            "--stop-signal",
            "SIGINT",
            "--stop-timeout",
            "20",
            &image,
            "sh",
            "-c",
            "trap 'exit 0' INT; while :; do sleep 0.1; done",
            "--",
            "true",
        ],
    );
    let lives = rec["lives"].as_array().unwrap();
    assert_eq!(lives.len(), 1, "{lives:?}");
    assert_eq!(lives[0]["ended"]["exit_code"], 0, "{lives:?}");
    assert_eq!(lives[0]["ended"]["requested"], true, "{lives:?}");
}

/// On a terminal the progress line is drawn, cleared around every other line and held back while
/// the exercise's line is unfinished, so the two never run into each other; without a terminal
/// nothing is drawn and the exercise's output arrives as it was written.
#[test]
fn the_progress_line_never_runs_into_the_exercise_output() {
    let Some(system) = system_tier("the_progress_line_never_runs_into_the_exercise_output") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let exercise = "sleep 1.2; printf 200; sleep 1.2; echo; echo second; sleep 0.7";
    // `sleep` as pid 1 ignores SIGTERM: the stop waits out a 1 s timeout, not Docker's 10.
    let trace_line = format!(
        "{} run --stop-timeout 1 --out {} {image} sleep 30 -- sh -c '{exercise}'",
        system.trace_bin().display(),
        out.path().display()
    );
    let terminal = match Command::new("script")
        .args(["-qec", &trace_line, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!("script(1) runs trace on a terminal (util-linux): {e}"),
    };
    let screen = String::from_utf8_lossy(&terminal.stdout);
    assert!(terminal.status.success(), "{screen}");
    assert!(
        screen.contains(" containers recorded (1 running), "),
        "the progress line is drawn: {screen:?}"
    );
    // The terminal turns each \n into \r\n: "200" and its line end arrive together, nothing drawn
    // between them, and the progress line is cleared before the next line.
    assert!(screen.contains("200\r\nsecond\r\n"), "{screen:?}");
    assert!(
        !screen.contains("200trace") && !screen.contains("files200"),
        "{screen:?}"
    );

    // Quiet: no progress line and no lines on what trace is doing, even on a terminal; the
    // exercise's output and the line per output directory stay.
    let quiet = Command::new("script")
        .args([
            "-qec",
            &trace_line.replacen(" run ", " run -q ", 1),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&quiet.stdout);
    assert!(quiet.status.success(), "{screen}");
    assert!(!screen.contains("containers recorded ("), "{screen:?}");
    assert!(!screen.contains("trace: recording container"), "{screen:?}");
    assert!(screen.contains("200\r\nsecond\r\n"), "{screen:?}");
    assert!(
        screen.contains("  busybox: from its start, 1 life, "),
        "{screen:?}"
    );

    let piped = Command::new("sh")
        .args(["-c", &trace_line])
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", describe(&piped));
    let stdout = String::from_utf8_lossy(&piped.stdout);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stdout.starts_with("200\nsecond\n"), "{stdout}");
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r'),
        "{stderr:?}"
    );
    assert!(!stderr.contains("containers recorded ("), "{stderr}");
}
