//! Real-system tests of `trace minimize` and `trace run --minimize`: the slim image of
//! the Debian python server serves the same pages and is at least 5 times smaller; busybox's
//! passes its exercise; the workload's resolves its loader and libc through a chain of symlinks;
//! every slim image carries the original configuration; bad input gives one line.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use trace_tests::{
    Container, TestImage, describe, docker, docker_ok, ensure_image, http_get, system_tier,
};

/// A slim image made by a test, removed when dropped.
struct SlimImage(String);

impl SlimImage {
    /// A unique tag under trace-test/ for `name`.
    fn new(name: &str) -> Self {
        SlimImage(format!(
            "trace-test/minimize-{name}-{}:slim",
            std::process::id()
        ))
    }
}

impl Drop for SlimImage {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", "-f", &self.0]);
    }
}

fn trace(trace: &Path, args: &[&str]) -> Output {
    Command::new(trace).args(args).output().unwrap()
}

/// `docker image inspect` of `image`.
fn inspect(image: &str) -> Value {
    let json = docker_ok(&["image", "inspect", image]).unwrap();
    serde_json::from_str::<Value>(&json).unwrap()[0].clone()
}

/// The entries of `image`'s file system (`tar -tv` lines by path: "path -> target" for links).
fn listing(image: &str) -> BTreeSet<String> {
    let id = docker_ok(&["create", image, "/none"]).unwrap();
    let mut export = Command::new("docker")
        .args(["export", &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let tar = Command::new("tar")
        .arg("-tv")
        .stdin(export.stdout.take().unwrap())
        .output()
        .unwrap();
    export.wait().unwrap();
    let _ = docker(&["rm", "-f", &id]);
    String::from_utf8_lossy(&tar.stdout)
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ")
                .into()
        })
        .map(|l: String| l.trim_end_matches('/').to_owned())
        .collect()
}

/// The slim image has the original's configuration, and the two images differ in their layers.
fn assert_config_preserved(original: &str, slim: &str) -> (u64, u64) {
    let (a, b) = (inspect(original), inspect(slim));
    assert_eq!(a["Config"], b["Config"], "the configuration");
    for key in ["Architecture", "Os", "Author", "Created"] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_ne!(a["RootFS"], b["RootFS"]);
    assert_eq!(b["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    (a["Size"].as_u64().unwrap(), b["Size"].as_u64().unwrap())
}

/// The body of the HTTP response to GET `path`, once the server answers.
fn page(ip: &str, path: &str) -> String {
    for _ in 0..100 {
        if let Some(response) = http_get(ip, 8000, path)
            && let Some((_, body)) = response.split_once("\r\n\r\n")
        {
            assert!(response.starts_with("HTTP/1.0 200"), "{path}: {response}");
            return body.to_owned();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{ip}:8000{path} never answered");
}

fn ip_of(container: &Container) -> String {
    docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.IPAddress}}",
        container.id(),
    ])
    .unwrap()
}

/// The Debian python3 HTTP server, recorded, minimized and re-exercised by `trace run
/// --minimize`: at least 5 times smaller, the same configuration, the same pages, the used
/// modules there and an unused program gone.
#[test]
fn minimized_python_server_serves_the_same_pages_5x_smaller() {
    let Some(system) = system_tier("minimized_python_server_serves_the_same_pages_5x_smaller")
    else {
        return;
    };
    let image = ensure_image(TestImage::Python).unwrap();
    let slim = SlimImage::new("python");
    let out = tempfile::tempdir().unwrap();
    let run = trace(
        &system.trace_bin(),
        &[
            "run",
            "--out",
            out.path().to_str().unwrap(),
            "--minimize",
            "--tag",
            &slim.0,
            "--include",
            "/etc/debian_version",
            "--exec",
            "python3 /srv/exercise.py 8000",
            &image,
        ],
    );
    assert!(run.status.success(), "{}", describe(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stdout.contains(&format!("slim image: {}", slim.0)),
        "{stdout}"
    );
    assert!(
        stderr.contains("exercise passed against the slim image"),
        "{stderr}"
    );
    assert!(
        stderr.contains("trace: reading the image's files: "),
        "progress: {stderr}"
    );

    let (before, after) = assert_config_preserved(&image, &slim.0);
    assert!(
        before >= 5 * after,
        "only {before} => {after} bytes: {stdout}"
    );
    let ratio_line = stdout
        .lines()
        .find(|l| l.starts_with("minimized "))
        .unwrap();
    assert!(ratio_line.contains(" => "), "{ratio_line}");

    let files = listing(&slim.0);
    for needed in [
        "usr/bin/python3 -> python3.11",
        "usr/lib/python3.11/json/__init__.py",
        "usr/lib/python3.11/decimal.py",
        "srv/www/index.html",
        "etc/debian_version",
        "etc/passwd",
    ] {
        assert!(
            files.contains(needed),
            "{needed} missing from the slim image"
        );
    }
    let original = listing(&image);
    for unused in ["usr/bin/perl", "usr/bin/apt-get", "usr/share/doc"] {
        assert!(original.contains(unused), "{unused} is in the original");
        assert!(!files.contains(unused), "{unused} is in the slim image");
    }

    // The same pages, byte for byte, from both images.
    let full = Container::run(&image, "trace-minimize-full", &[], &[]).unwrap();
    let small = Container::run(&slim.0, "trace-minimize-slim", &[], &[]).unwrap();
    for path in ["/", "/index.html", "/page.html"] {
        assert_eq!(
            page(&ip_of(&small), path),
            page(&ip_of(&full), path),
            "{path}"
        );
    }
}

/// busybox running its exercise as its entrypoint: the slim image passes it again (trace run
/// --minimize checks the container's exit status), keeps the --include'd applet, drops unused
/// ones, and keeps the configuration; minimizing again gives the same image id. Bad input: one
/// line, nothing made.
#[test]
fn minimized_busybox_passes_its_exercise_and_bad_input_gives_one_line() {
    let Some(system) =
        system_tier("minimized_busybox_passes_its_exercise_and_bad_input_gives_one_line")
    else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let slim = SlimImage::new("busybox");
    let out = tempfile::tempdir().unwrap();
    let keep = out.path().join("keep.txt");
    std::fs::write(&keep, "# applets the exercise does not use\n/bin/wget\n").unwrap();
    let run = trace(
        &system.trace_bin(),
        &[
            "run",
            "--out",
            out.path().to_str().unwrap(),
            "--minimize",
            "--tag",
            &slim.0,
            "--include-from",
            keep.to_str().unwrap(),
            &image,
            "sh",
            "/exercise.sh",
        ],
    );
    assert!(run.status.success(), "{}", describe(&run));
    assert_config_preserved(&image, &slim.0);
    let files = listing(&slim.0);
    for needed in [
        "bin/busybox",
        "bin/sh -> busybox",
        "bin/wget -> busybox",
        "exercise.sh",
        "tmp",
    ] {
        assert!(files.contains(needed), "{needed} missing: {files:?}");
    }
    for unused in ["bin/vi -> busybox", "bin/mkdir -> busybox"] {
        assert!(!files.contains(unused), "{unused} kept");
    }
    let again = docker(&["run", "--rm", &slim.0, "sh", "/exercise.sh"]).unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("exercise-ok"),
        "{}",
        describe(&again)
    );

    // The same recording of the same image gives the same image, byte for byte.
    let twin = SlimImage::new("busybox-twin");
    let rec = out.path().join("recording.json");
    let again = trace(
        &system.trace_bin(),
        &[
            "minimize",
            rec.to_str().unwrap(),
            "--tag",
            &twin.0,
            "--include-from",
            keep.to_str().unwrap(),
        ],
    );
    assert!(again.status.success(), "{}", describe(&again));
    assert_eq!(
        inspect(&twin.0)["Id"],
        inspect(&slim.0)["Id"],
        "the same image id"
    );

    bad_input_gives_one_line(&system.trace_bin(), &rec, &image);
}

/// A recording without file observations (version 1), one of an image Docker no longer has, a
/// tag naming the recorded image, a relative --include and an invalid tag: one `trace: error:`
/// line each.
fn bad_input_gives_one_line(trace_bin: &Path, rec: &Path, image: &str) {
    let out = rec.parent().unwrap();
    let recording = std::fs::read_to_string(out.join("recording.json")).unwrap();
    let mut value: Value = serde_json::from_str(&recording).unwrap();
    value["container"]["image_id"] = Value::from(format!("sha256:{}", "0".repeat(64)));
    let gone = out.join("gone.json");
    std::fs::write(&gone, value.to_string()).unwrap();
    let v1 = trace_tests::workspace_root().join("trace-user/tests/data/recording-v1.json");
    for (args, expected) in [
        (vec![v1.to_str().unwrap()], "holds no file observations"),
        (
            vec![gone.to_str().unwrap()],
            "is not in Docker's image store",
        ),
        (
            vec![rec.to_str().unwrap(), "--tag", image],
            "names the recorded image itself",
        ),
        (
            vec![rec.to_str().unwrap(), "--include", "etc"],
            "expected an absolute path",
        ),
        (
            vec![rec.to_str().unwrap(), "--tag", "Bad:Name"],
            "not a valid image name",
        ),
    ] {
        let mut all = vec!["minimize"];
        all.extend(args);
        let output = trace(trace_bin, &all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        assert!(
            stderr.starts_with("trace: error: ")
                && stderr.lines().count() == 1
                && stderr.contains(expected),
            "{all:?}: {stderr}"
        );
    }
}

/// The dynamically linked workload reaches its loader through /lib64 -> usr/lib64 and
/// usr/lib64/ld-linux-x86-64.so.2 -> ../lib/...: the slim image keeps the chain, and running the
/// program through it works.
#[test]
fn minimized_workload_keeps_its_chain_of_library_symlinks() {
    let Some(system) = system_tier("minimized_workload_keeps_its_chain_of_library_symlinks") else {
        return;
    };
    let image = ensure_image(TestImage::Workload).unwrap();
    let slim = SlimImage::new("workload");
    let out = tempfile::tempdir().unwrap();
    let run = trace(
        &system.trace_bin(),
        &["run", "--out", out.path().to_str().unwrap(), &image],
    );
    assert!(run.status.success(), "{}", describe(&run));
    let minimize = trace(
        &system.trace_bin(),
        &[
            "minimize",
            out.path().join("recording.json").to_str().unwrap(),
            "--tag",
            &slim.0,
        ],
    );
    assert!(minimize.status.success(), "{}", describe(&minimize));
    assert_config_preserved(&image, &slim.0);
    let files = listing(&slim.0);
    let original = listing(&image);
    // Every symlink of the original on the way to the loader and libc is in the slim image.
    let links: Vec<&String> = original
        .iter()
        .filter(|l| l.contains(" -> ") && (l.starts_with("lib") || l.starts_with("usr/lib")))
        .collect();
    assert!(!links.is_empty(), "the workload image has library symlinks");
    for link in links
        .iter()
        .filter(|l| l.contains("ld-linux") || l.starts_with("lib"))
    {
        assert!(files.contains(*link), "{link} missing: {files:?}");
    }
    assert!(files.contains("usr/local/bin/workload"));
    assert!(!files.contains("bin/vi -> busybox"), "unused applet kept");
    // Run it through the chain: the loader by its symlinked name.
    let direct = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "/lib64/ld-linux-x86-64.so.2",
        &slim.0,
        "/usr/local/bin/workload",
    ])
    .unwrap();
    assert!(
        String::from_utf8_lossy(&direct.stdout).contains("workload-ok"),
        "{}",
        describe(&direct)
    );
}

/// An exercise that takes another path against the slim image (it looks for /bin/mkdir only the
/// second time) fails there, and trace run --minimize fails saying so; --include of that file
/// makes it pass.
#[test]
fn run_minimize_fails_when_the_slim_image_misses_a_file_and_include_covers_it() {
    let Some(system) =
        system_tier("run_minimize_fails_when_the_slim_image_misses_a_file_and_include_covers_it")
    else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let slim = SlimImage::new("busybox-path");
    let out = tempfile::tempdir().unwrap();
    let marks = tempfile::tempdir().unwrap();
    let volume = format!("{}:/marks", marks.path().display());
    // The first (recorded) run only leaves a mark in the volume; the second needs /bin/mkdir.
    let exercise =
        "if [ -e /marks/second-run ]; then test -e /bin/mkdir; else echo > /marks/second-run; fi";
    let run = |extra: &[&str]| {
        let _ = std::fs::remove_file(marks.path().join("second-run"));
        let mut args = vec![
            "run",
            "--out",
            out.path().to_str().unwrap(),
            "--minimize",
            "--tag",
            &slim.0,
            "-v",
            &volume,
            "--exec",
            exercise,
        ];
        args.extend_from_slice(extra);
        // A shell that ends on SIGTERM, so that stopping the container takes no 10 s.
        args.extend([
            image.as_str(),
            "sh",
            "-c",
            "trap 'exit 0' TERM; sleep 60 & wait",
        ]);
        trace(&system.trace_bin(), &args)
    };
    let failed = run(&[]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{}", describe(&failed));
    assert!(
        stderr.lines().last().unwrap_or("").starts_with(&format!(
            "trace: error: the exercise failed against the slim image {} (status 1)",
            slim.0
        )),
        "{stderr}"
    );
    let covered = run(&["--include", "/bin/mkdir"]);
    assert!(covered.status.success(), "{}", describe(&covered));
    assert!(listing(&slim.0).contains("bin/mkdir -> busybox"));
}
