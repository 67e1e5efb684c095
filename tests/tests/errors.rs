//! Bad input and a broken environment: one clear line, a non-zero exit, no panic, nothing written.

use std::path::Path;
use std::process::{Command, Output};

use trace_tests::{Container, TestImage, docker_ok, ensure_image, system_tier};

/// Runs trace and returns its one-line error, asserting exit status 1 and nothing else on stderr.
/// The error of a failed run: exactly one `trace: error:` line, the last (progress lines such as
/// "waiting for container ..." may come before it), exit status 1, no panic.
fn one_line_error(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("trace: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected: {stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    errors[0].to_owned()
}

fn trace(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().unwrap()
}

fn assert_empty_dir(dir: &Path) {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .map(Iterator::collect)
        .unwrap_or_default();
    assert!(
        entries.is_empty(),
        "{} should hold nothing: {entries:?}",
        dir.display()
    );
}

#[test]
fn unknown_and_stopped_containers_are_named() {
    let Some(system) = system_tier("unknown_and_stopped_containers_are_named") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let running = Container::run(&image, "trace-err-running", &[], &["sleep", "600"]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_str = out.path().to_str().unwrap();

    // A name that does not run is waited for; when the exercise ends without it, nothing is
    // written and the error says so.
    let err = one_line_error(&trace(
        &system.trace_bin(),
        &[
            "--container",
            "no-such-container-xyz",
            "--out",
            out_str,
            "--",
            "true",
        ],
    ));
    assert!(
        err.contains("no container named 'no-such-container-xyz' ran while recording"),
        "{err}"
    );
    assert!(
        err.contains(running.name()),
        "the running containers are listed: {err}"
    );

    let created = docker_ok(&["create", &image, "true"]).unwrap();
    let err = one_line_error(&trace(
        &system.trace_bin(),
        &[
            "--container",
            &created,
            "--out",
            out_str,
            "--duration",
            "1s",
        ],
    ));
    docker_ok(&["rm", "-f", &created]).unwrap();
    assert!(
        err.contains(&format!("no container named '{created}' ran")),
        "{err}"
    );
    assert_empty_dir(out.path());
}

/// `trace run` of an image that is not on this machine pulls it (as `docker run` does); a pull
/// that fails, or `--pull never`, is one line naming the image, and no container is left.
#[test]
fn an_image_that_cannot_be_pulled_is_one_line() {
    let Some(system) = system_tier("an_image_that_cannot_be_pulled_is_one_line") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let out_str = out.path().to_str().unwrap();
    // Nothing listens on port 9 of the loopback: the engine's pull fails at once.
    let unreachable = "127.0.0.1:9/trace-missing:1";
    let err = one_line_error(&trace(
        &system.trace_bin(),
        &["run", "--out", out_str, "-d", "1s", unreachable],
    ));
    assert!(
        err.contains(&format!("cannot pull image {unreachable}"))
            && err.contains("connection refused"),
        "{err}"
    );
    let err = one_line_error(&trace(
        &system.trace_bin(),
        &[
            "run",
            "--pull",
            "never",
            "--out",
            out_str,
            "-d",
            "1s",
            "trace-missing-image",
        ],
    ));
    assert!(
        err.contains("image trace-missing-image is not on this machine")
            && err.contains("--pull never"),
        "{err}"
    );
    assert_empty_dir(out.path());
    let left = docker_ok(&["ps", "-aq", "--filter", "ancestor=trace-missing-image"]).unwrap();
    assert!(left.is_empty(), "containers left: {left}");
}

#[test]
fn unwritable_output_is_refused_before_tracing() {
    let Some(system) = system_tier("unwritable_output_is_refused_before_tracing") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let container = Container::run(&image, "trace-err-out", &[], &["sleep", "600"]).unwrap();
    let err = one_line_error(&trace(
        &system.trace_bin(),
        &["--container", container.name(), "--out", "/proc/trace-out"],
    ));
    assert!(
        err.contains("output directory /proc/trace-out is not writable"),
        "{err}"
    );
    assert!(!err.contains("recording"), "{err}");
}

#[test]
fn unreachable_docker_is_one_line() {
    let Some(system) = system_tier("unreachable_docker_is_one_line") else {
        return;
    };
    let output = Command::new(system.trace_bin())
        .args(["--container", "x"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = one_line_error(&output);
    assert!(
        err.contains("cannot reach Docker at unix:///nonexistent/docker.sock"),
        "{err}"
    );
}

#[test]
fn not_root_is_refused_with_advice() {
    let Some(system) = system_tier("not_root_is_refused_with_advice") else {
        return;
    };
    // Drop to nobody with no capabilities (setpriv is in util-linux).
    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(system.trace_bin())
        .args(["--container", "x", "--out", "/tmp"])
        .output()
        .unwrap();
    let err = one_line_error(&output);
    assert!(err.contains("root"), "{err}");
}

#[test]
fn bad_recordings_are_refused() {
    let Some(system) = system_tier("bad_recordings_are_refused") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(
        trace_tests::workspace_root().join("trace-user/tests/data/recording-v1.json"),
    )
    .unwrap();
    let cases = [
        (
            "truncated.json",
            good[..good.len() / 2].to_owned(),
            "not a valid trace recording",
        ),
        (
            "newer.json",
            good.replace("\"schema_version\": 1", "\"schema_version\": 99"),
            "schema version 99 is not supported",
        ),
        (
            "other.json",
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\"}".to_owned(),
            "not a trace recording",
        ),
        (
            "empty-name.json",
            good.replace("\"accept4\"", "\"\""),
            "\"\" is not a system call of x86_64",
        ),
        (
            "bogus.json",
            good.replace("\"_llseek\"", "\"bogus\""),
            "\"bogus\" is not a system call of x86",
        ),
        (
            "newline.json",
            good.replace("\"close\"", "\"close\\n  ]\""),
            "is not a system call of x86_64",
        ),
        (
            "image-id.json",
            good.replace(
                "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "../../../../containers/json?x=",
            ),
            "is not an image id",
        ),
        (
            "flag-image.json",
            good.replace("\"petclinic:local\"", "\"--privileged\""),
            "\"--privileged\" is not an image reference",
        ),
    ];
    for (name, contents, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        for command in ["render", "advise"] {
            let out = dir.path().join(format!("out-{command}-{name}"));
            let err = one_line_error(&trace(
                &system.trace_bin(),
                &[
                    command,
                    path.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ],
            ));
            assert!(err.contains(expected), "{command} {name}: {err}");
            assert!(!out.exists(), "{command} {name}: nothing is written");
        }
    }
    // Larger than any recording may be: refused before it is parsed.
    let huge = dir.path().join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len((64 << 20) + 1)
        .unwrap();
    let err = one_line_error(&trace(
        &system.trace_bin(),
        &["render", huge.to_str().unwrap()],
    ));
    assert!(err.contains("larger than the 64 MiB"), "{err}");
    let missing = one_line_error(&trace(
        &system.trace_bin(),
        &["render", "/nonexistent/recording.json"],
    ));
    assert!(
        missing.contains("cannot read /nonexistent/recording.json"),
        "{missing}"
    );
}
