//! Real-system tests of the hardening advice: a container started with risky settings
//! gets those warnings and `docker exec`'s runc init is not counted as the application; for nginx
//! and python, a new container started with exactly the advised flags (and the generated seccomp
//! profile) still passes its exercise, and the advice bites (a write outside the advised tmpfs
//! fails under `--read-only`); the advised `docker run` line, pasted into a shell in the output
//! directory, starts the same program with the same variables and passes its exercise.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use trace_tests::{
    Container, TestImage, describe, docker_ok, ensure_image, system_tier, trace_run,
};

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The advised `docker run` flags from hardening.json.
fn advised_flags(out: &Path) -> Vec<String> {
    read_json(&out.join("hardening.json"))["docker_run"]
        .as_array()
        .expect("docker_run is a list")
        .iter()
        .map(|f| f.as_str().expect("a flag is a string").to_owned())
        .collect()
}

/// The flags without the seccomp profile (to run a shell in the container, which the profile,
/// made for the application, does not allow).
fn without_seccomp(flags: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        if flags[i] == "--security-opt" && flags[i + 1].starts_with("seccomp=") {
            i += 2;
        } else {
            out.push(flags[i].clone());
            i += 1;
        }
    }
    out
}

/// runc's `CAP_SETPCAP` checks (dropping the bounding set, ~55 per start or exec) are counted
/// as runc's, none as the application's.
fn assert_setpcap_is_runcs(rec: &Value) {
    let runc = &rec["runc_capabilities"];
    assert!(
        runc["CAP_SETPCAP"]["granted"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{runc}"
    );
    let app = &rec["capabilities"];
    assert!(app.get("CAP_SETPCAP").is_none(), "{app}");
}

/// Tries `check` every 100 ms, 100 times at most; whether it passed.
fn retry(mut check: impl FnMut() -> bool) -> bool {
    (0..100).any(|_| {
        let ok = check();
        if !ok {
            std::thread::sleep(Duration::from_millis(100));
        }
        ok
    })
}

fn as_strs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

/// Whether `command` (a shell line) succeeds in the container.
fn shell_ok(container: &Container, command: &str) -> bool {
    container
        .exec(&["sh", "-c", command])
        .unwrap()
        .status
        .success()
}

/// busybox with the Docker socket mounted, an unused `NET_ADMIN` and the host network, exercised
/// with `docker exec`: the three warnings, and runc's exec init counted apart (its `CAP_SETPCAP`
/// checks are not the application's, its `/proc/self` reads are not in the files); a set-user-id
/// copy of busybox it executes keeps `no-new-privileges` out of the advice.
#[test]
fn risky_settings_are_warned_and_docker_exec_is_not_the_application() {
    let Some(system) =
        system_tier("risky_settings_are_warned_and_docker_exec_is_not_the_application")
    else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let container = Container::run(
        &image,
        "trace-advice-risky",
        &[
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "--cap-add",
            "NET_ADMIN",
            "--network",
            "host",
        ],
        &["sleep", "600"],
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(system.trace_bin())
        .args(["--container", container.name(), "--out"])
        .arg(out.path())
        .args(["--", "docker", "exec", container.name(), "sh", "-c"])
        .arg(
            "ls / >/dev/null && cat /etc/passwd >/dev/null && mkdir -p /tmp/a \
             && cp /bin/busybox /tmp/a/true && chmod u+s /tmp/a/true && /tmp/a/true",
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let md = std::fs::read_to_string(out.path().join("hardening.md")).unwrap();
    for warning in [
        "**WARNING** The Docker socket is mounted",
        "/var/run/docker.sock -> /var/run/docker.sock",
        "**WARNING** Added capability CAP\\_NET\\_ADMIN was never used: remove `--cap-add",
        "**WARNING** Host network namespace",
    ] {
        assert!(md.contains(warning), "{warning:?} not in:\n{md}");
    }
    let rec = read_json(&out.path().join("recording.json"));
    let config = &rec["container"]["config"];
    assert_eq!(config["network_mode"], "host", "{config}");
    // Docker 20.10 stores `--cap-add NET_ADMIN` as CAP_NET_ADMIN.
    assert!(
        config["cap_add"].to_string().contains("NET_ADMIN"),
        "{config}"
    );
    // runc's exec init: CAP_SETPCAP x55 or so, always; the application (sh, ls, cat) none.
    assert_setpcap_is_runcs(&rec);
    let files = rec["files"].as_object().unwrap();
    assert!(files.contains_key("/etc/passwd"), "the exercise's read");
    for harness in ["/proc/self/setgroups", "/proc/self/status"] {
        assert!(!files.contains_key(harness), "{harness} is runc's");
    }
    // A set-user-id program was executed: found in the container's file, no no-new-privileges.
    assert_eq!(
        rec["identity"]["privileged_programs"]["/tmp/a/true"],
        serde_json::json!(["setuid"]),
        "{}",
        rec["identity"]
    );
    assert!(
        md.contains("privileged programs executed: /tmp/a/true (set-user-id)"),
        "{md}"
    );
    let flags = advised_flags(out.path()).join(" ");
    assert!(!flags.contains("no-new-privileges"), "{flags}");
    assert!(flags.contains("--cap-drop ALL"), "{flags}");
    assert!(
        !flags.contains("--cap-add"),
        "no capability to add back: {flags}"
    );
}

/// nginx (drops to www-data, needs root): the advice keeps root but drops every capability it did
/// not use; a new container with exactly the advised flags serves both pages; under the advised
/// `--read-only` a write outside the advised tmpfs fails and one inside works.
#[test]
fn nginx_runs_with_the_advised_flags() {
    let Some(system) = system_tier("nginx_runs_with_the_advised_flags") else {
        return;
    };
    let image = ensure_image(TestImage::Nginx).unwrap();
    let out = tempfile::tempdir().unwrap();
    // The flags name the profiles where they are, so they work from this test's directory.
    let profile_path = out.path().to_str().unwrap();
    // runc's startup (capset, setgroups... before the entrypoint) is runc's, not nginx's.
    let rec = trace_run(
        &system.trace_bin(),
        out.path(),
        &["--profile-path", profile_path, &image],
    );
    assert_setpcap_is_runcs(&rec);
    assert_eq!(
        rec["identity"]["uids"],
        serde_json::json!([0, 33]),
        "root and www-data"
    );
    let flags = advised_flags(out.path());
    let line = flags.join(" ");
    for expected in [
        "--cap-drop ALL",
        "--cap-add SETGID",
        "--cap-add SETUID",
        "--read-only",
        "--tmpfs /var/log/nginx",
        "--security-opt no-new-privileges",
    ] {
        assert!(line.contains(expected), "{expected} not in {line}");
    }
    assert!(!line.contains("--user"), "nginx needs root: {line}");
    assert!(
        !line.contains("SYS_ADMIN"),
        "overlayfs's checks are not nginx's: {line}"
    );
    let md = std::fs::read_to_string(out.path().join("hardening.md")).unwrap();
    assert!(md.contains(&format!("docker run {line}")), "{md}");
    // Offline, from the saved recording: the same advice, byte for byte.
    let advise = Command::new(system.trace_bin())
        .arg("advise")
        .arg(out.path().join("recording.json"))
        .args(["--profile-path", profile_path])
        .output()
        .unwrap();
    assert!(advise.status.success(), "{}", describe(&advise));
    assert_eq!(String::from_utf8_lossy(&advise.stdout), md);
    assert_eq!(
        std::fs::read_to_string(out.path().join("hardening.md")).unwrap(),
        md
    );

    let server = Container::run(&image, "trace-advice-nginx", &as_strs(&flags), &[]).unwrap();
    let ip = docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.IPAddress}}",
        server.id(),
    ])
    .unwrap();
    let answered = retry(|| {
        ["/", "/about.html"].iter().all(|page| {
            trace_tests::http_get(&ip, 80, page).is_some_and(|r| r.starts_with("HTTP/1.1 200"))
        })
    });
    let logs = trace_tests::docker(&["logs", server.id()]).unwrap();
    assert!(
        answered,
        "nginx under {line} never served: {}",
        describe(&logs)
    );

    let bare = Container::run(
        &image,
        "trace-advice-nginx-rw",
        &as_strs(&without_seccomp(&flags)),
        &[],
    )
    .unwrap();
    assert!(
        !shell_ok(&bare, "touch /etc/trace-advice"),
        "root is read-only"
    );
    assert!(
        shell_ok(&bare, "touch /var/log/nginx/trace-advice"),
        "an advised tmpfs"
    );
}

/// The Debian python HTTP server (runs as root, needs none of it): the advice is `--user
/// 65534:65534`, no capability, read-only root; a new container with exactly those flags passes
/// the exercise as uid 65534, and cannot write its root file system.
#[test]
fn python_runs_with_the_advised_flags() {
    let Some(system) = system_tier("python_runs_with_the_advised_flags") else {
        return;
    };
    let image = ensure_image(TestImage::Python).unwrap();
    let out = tempfile::tempdir().unwrap();
    trace_run(
        &system.trace_bin(),
        out.path(),
        &[
            "--exec",
            "python3 /srv/exercise.py 8000",
            "--profile-path",
            out.path().to_str().unwrap(),
            &image,
        ],
    );
    let flags = advised_flags(out.path());
    let line = flags.join(" ");
    for expected in ["--user 65534:65534", "--cap-drop ALL", "--read-only"] {
        assert!(line.contains(expected), "{expected} not in {line}");
    }
    assert!(!line.contains("--cap-add"), "{line}");

    let server = Container::run(&image, "trace-advice-python", &as_strs(&flags), &[]).unwrap();
    let mut last = String::new();
    let passed = retry(|| {
        let run = server
            .exec(&["python3", "/srv/exercise.py", "8000"])
            .unwrap();
        last = describe(&run);
        run.status.success() && last.contains("exercise-ok")
    });
    assert!(passed, "the exercise under {line}: {last}");

    let bare = Container::run(
        &image,
        "trace-advice-python-rw",
        &as_strs(&without_seccomp(&flags)),
        &[],
    )
    .unwrap();
    let uid = bare.exec(&["sh", "-c", "id -u"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&uid.stdout).trim(), "65534");
    assert!(
        !shell_ok(&bare, "touch /srv/trace-advice"),
        "root is read-only"
    );
    assert!(
        !shell_ok(&bare, "touch /tmp/trace-advice"),
        "no tmpfs was advised"
    );
}

/// Removes the container `name` (`docker rm -f`) when dropped, whether or not it was created.
struct RemoveOnDrop(String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = trace_tests::docker(&["rm", "-f", &self.0]);
    }
}

/// Takes a compose project down (`docker-compose -p NAME down` in its directory) when dropped.
struct ComposeDownOnDrop(String, std::path::PathBuf);

impl Drop for ComposeDownOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .args(["-p", &self.0, "down", "-t", "1"])
            .current_dir(&self.1)
            .output();
    }
}

/// The fenced block of `language` after `heading` in hardening.md, as written.
fn fenced<'a>(md: &'a str, heading: &str, language: &str) -> &'a str {
    let section = &md[md.find(heading).expect("the section")..];
    let fence = format!("```{language}\n");
    let body = &section[section.find(&fence).expect("a fenced block") + fence.len()..];
    &body[..body.find("\n```").expect("the block's end")]
}

/// The compose and Kubernetes snippets of hardening.md (in `out`, beside the profile), for the
/// command `sh -c script` whose `docker run` line is `line`.
fn snippets_run_as_written(out: &Path, md: &str, line: &str, script: &str) {
    // The compose snippet, saved next to the profile as a user would, run by docker-compose with
    // the variable in its environment: the same program under the same flags.
    let service = read_json(&out.join("hardening.json"))["compose"]["services"]
        .as_object()
        .and_then(|services| services.keys().next().cloned())
        .expect("one compose service");
    std::fs::write(out.join("compose.yaml"), fenced(md, "## compose", "yaml")).unwrap();
    let project = Container::unique_name("traceadvice");
    let _down = ComposeDownOnDrop(project.clone(), out.to_owned());
    let up = Command::new("docker-compose")
        .args([
            "-p",
            &project,
            "up",
            "--no-color",
            "--exit-code-from",
            &service,
        ])
        .current_dir(out)
        .env("TOKEN", "caller-value-0000003")
        .output()
        .unwrap();
    assert!(
        up.status.success() && String::from_utf8_lossy(&up.stdout).contains("exercise-ok"),
        "{}",
        describe(&up)
    );
    let id = Command::new("docker-compose")
        .args(["-p", &project, "ps", "-q", &service])
        .current_dir(out)
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&id.stdout).trim().to_owned();
    let applied = docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}}",
        &id,
    ])
    .unwrap();
    // docker-compose sends the profile's text, as `docker run` does.
    assert!(
        applied.starts_with("true ")
            && applied.contains("seccomp=")
            && applied.contains("defaultAction"),
        "compose did not apply the advised flags: {applied}"
    );
    if line.contains("--cap-drop ALL") {
        assert!(applied.contains("[\"ALL\"]"), "{applied}");
    }

    // The Kubernetes snippet is a Pod spec the API reads whole (no field unknown to it), and
    // its command keeps the script's `$`s from Kubernetes' own `$(NAME)` substitution.
    let k8s: Value = serde_norway::from_str(fenced(md, "## Kubernetes", "yaml")).unwrap();
    let spec: k8s_openapi::api::core::v1::PodSpec =
        trace_tests::api_object("the Kubernetes snippet", &k8s);
    assert_eq!(
        spec.containers[0].command.as_deref(),
        Some(&["sh".to_owned(), "-c".to_owned(), script.replace('$', "$$")][..])
    );
}

/// busybox under `trace run` with a command other than the image's (`/bin/sh`), a working
/// directory and a variable its command needs: the recording keeps the command, the directory
/// and the variable's name but never its value; the `docker run` line of hardening.md, run as
/// written with `sh -c` in the output directory (only `-d --name` added), starts the same program,
/// takes the variable from the caller's environment, and passes the exercise under the advised
/// flags and the profile they name by its relative path. The compose snippet, saved next to the
/// profile, does the same under `docker-compose up` (its `$`s reach the shell as written) with the
/// read-only root and the profile applied; the Kubernetes snippet is a Pod spec the API's types
/// read whole. The advice rendered into another directory is byte for byte the same.
#[test]
fn the_advised_docker_run_line_runs_as_written() {
    let Some(system) = system_tier("the_advised_docker_run_line_runs_as_written") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    // The command checks the variable by its length, so its value is in no argument trace sees.
    let recorded_value = "recorded-secret-0001";
    let script = r#"test "${#TOKEN}" -eq 20 && test "$(pwd)" = /tmp && /exercise.sh"#;
    let rec = trace_run(
        &system.trace_bin(),
        out.path(),
        &[
            "-e",
            &format!("TOKEN={recorded_value}"),
            "-w",
            "/tmp",
            &image,
            "sh",
            "-c",
            script,
        ],
    );
    let process = &rec["container"]["config"]["process"];
    assert_eq!(process["cmd"], serde_json::json!(["sh", "-c", script]));
    assert_eq!(process["entrypoint"], serde_json::json!([]));
    assert_eq!(process["working_dir"], "/tmp");
    assert_eq!(
        process["env_names"],
        serde_json::json!(["TOKEN"]),
        "only the creator's variable: PATH is the image's"
    );
    for file in ["recording.json", "hardening.md", "hardening.json"] {
        let text = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert!(!text.contains(recorded_value), "the value is in {file}");
    }

    let md = std::fs::read_to_string(out.path().join("hardening.md")).unwrap();
    let line = fenced(&md, "## docker run", "sh");
    for expected in [
        " --security-opt seccomp=seccomp.json ",
        " -e TOKEN ",
        " --workdir /tmp ",
        " --entrypoint '' ",
        "--read-only",
    ] {
        assert!(line.contains(expected), "{expected:?} not in {line}");
    }
    let rest = line
        .strip_prefix("docker run ")
        .unwrap_or_else(|| panic!("not a docker run line: {line}"));
    let name = format!("trace-advice-line-{}", std::process::id());
    let _remove = RemoveOnDrop(name.clone());
    let started = Command::new("sh")
        .arg("-c")
        .arg(format!("docker run -d --name {name} {rest}"))
        .current_dir(out.path())
        .env("TOKEN", "caller-value-0000002")
        .output()
        .unwrap();
    assert!(started.status.success(), "{line}\n{}", describe(&started));
    let code = docker_ok(&["wait", &name]).unwrap();
    let logs = trace_tests::docker(&["logs", &name]).unwrap();
    assert_eq!(code, "0", "{line}\n{}", describe(&logs));
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("exercise-ok"),
        "{line}\n{}",
        describe(&logs)
    );

    snippets_run_as_written(out.path(), &md, line, script);

    // The same advice, byte for byte, rendered offline into another directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let advise = Command::new(system.trace_bin())
        .arg("advise")
        .arg(out.path().join("recording.json"))
        .arg("--out")
        .arg(elsewhere.path())
        .output()
        .unwrap();
    assert!(advise.status.success(), "{}", describe(&advise));
    for file in ["hardening.md", "hardening.json"] {
        assert_eq!(
            std::fs::read(elsewhere.path().join(file)).unwrap(),
            std::fs::read(out.path().join(file)).unwrap(),
            "{file}"
        );
    }
}
