//! Real-system tests of the file, program, capability and socket recording: a scripted
//! workload with known accesses, hostile file names through the real `apparmor_parser`, and the
//! used-file list of a Debian python image.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use trace_tests::{Container, TestImage, describe, ensure_image, system_tier};

/// Traces `container` while `docker exec` runs `command` in it; returns the output directory.
fn trace_exec(trace: &Path, container: &Container, command: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(trace)
        .args(["--container", container.name(), "--out"])
        .arg(out.path())
        .args([
            "--",
            "sh",
            "-c",
            &format!("docker exec \"$TRACE_CONTAINER\" {command}"),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    out
}

fn recording(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("recording.json")).unwrap()).unwrap()
}

fn accesses(recording: &Value, path: &str) -> Vec<String> {
    recording["files"][path]["access"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// What the workload does under /data, path by path (tests/images/workload/workload.c).
fn expected_data_accesses() -> BTreeMap<String, Vec<String>> {
    [
        ("/data/absolute.txt", &["read"][..]),
        ("/data/chmod.txt", &["chmod"]),
        ("/data/chown.txt", &["chown"]),
        (
            "/data/created.txt",
            &["write", "append", "create", "delete"],
        ),
        ("/data/dirfd", &["read"]),
        ("/data/dirfd/at.txt", &["read"]),
        ("/data/exec-map.bin", &["read", "mmap_exec"]),
        ("/data/missing.txt", &["probe"]),
        ("/data/rename-from.txt", &["write", "create", "rename"]),
        ("/data/rename-to.txt", &["create"]),
        ("/data/stat-only.txt", &["metadata"]),
        ("/data/sub", &["chdir"]),
        ("/data/sub/relative.txt", &["read"]),
        ("/data/target.txt", &["read"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
    .collect()
}

/// The workload's accesses under /data are recorded exactly, with their kinds; the symlink, the
/// shared library, the program it ran, its socket and port are there; the host's are not.
#[test]
fn workload_accesses_are_recorded_exactly() {
    let Some(system) = system_tier("workload_accesses_are_recorded_exactly") else {
        return;
    };
    let image = ensure_image(TestImage::Workload).unwrap();
    let container = Container::run(&image, "trace-files", &[], &["sleep", "600"]).unwrap();
    let host_file = tempfile::NamedTempFile::new().unwrap();
    let out = trace_exec(
        &system.trace_bin(),
        &container,
        &format!(
            "/usr/local/bin/workload && cat {} >/dev/null",
            host_file.path().display()
        ),
    );
    let rec = recording(out.path());
    let data: BTreeMap<String, Vec<String>> = rec["files"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("/data"))
        .map(|k| (k.clone(), accesses(&rec, k)))
        .collect();
    let expected = expected_data_accesses();
    assert_eq!(data, expected, "the /data accesses");
    let links = &rec["links"];
    assert_eq!(
        links["/data/link.txt"],
        serde_json::json!(["/data/target.txt"]),
        "{links}"
    );
    assert_eq!(
        links["/lib/x86_64-linux-gnu/libc.so.6"],
        serde_json::json!(["/usr/lib/x86_64-linux-gnu/libc.so.6"]),
        "the library opened through the /lib symlink: {links}"
    );
    let libc = accesses(&rec, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    assert!(libc.contains(&"mmap_exec".to_owned()), "{libc:?}");
    assert!(accesses(&rec, "/usr/local/bin/workload").contains(&"exec".to_owned()));
    assert!(
        rec["execs"].get("/usr/local/bin/workload").is_some(),
        "{}",
        rec["execs"]
    );
    assert!(
        rec["execs"].get("/bin/busybox").is_some(),
        "the workload's exec of /bin/true: {}",
        rec["execs"]
    );
    assert_eq!(
        rec["bound_ports"],
        serde_json::json!([{"family": "inet", "type": "stream", "port": 81}])
    );
    assert!(
        rec["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["family"] == "inet" && s["type"] == "stream")
    );
    assert!(
        rec["capabilities"]["CAP_CHOWN"]["granted"]
            .as_u64()
            .unwrap()
            >= 1,
        "{}",
        rec["capabilities"]
    );
    assert_eq!(rec["events"]["dropped"], 0);
    for category in ["syscalls", "files", "execs", "capabilities", "sockets"] {
        assert!(
            rec["events"]["recorded"]
                .as_array()
                .unwrap()
                .contains(&Value::from(category)),
            "{category}"
        );
    }
    // Nothing from the host: the host's temporary file and its own paths are absent.
    let host_path = host_file.path().to_str().unwrap();
    assert!(
        rec["files"].get(host_path).is_none() || accesses(&rec, host_path) == ["probe"],
        "host file leaked"
    );
    assert!(
        !rec["files"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("/work/") || k.starts_with("/root/"))
    );

    workload_files_list_is_right(out.path());
}

/// files.txt of the workload: what it used from the image, and the symlinks to it; not what it
/// made, probed for, nor /proc or the mounts.
fn workload_files_list_is_right(out: &Path) {
    let files_txt = std::fs::read_to_string(out.join("files.txt")).unwrap();
    for needed in [
        "/data/absolute.txt",
        "/data/link.txt",
        "/data/target.txt",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/local/bin/workload",
        "/bin/busybox",
    ] {
        assert!(
            files_txt.lines().any(|l| l == needed),
            "{needed} missing from files.txt:\n{files_txt}"
        );
    }
    for excluded in [
        "/data/created.txt",
        "/data/missing.txt",
        "/data/rename-to.txt",
        "/proc/",
        "/etc/hostname",
    ] {
        assert!(
            !files_txt.lines().any(|l| l.starts_with(excluded)),
            "{excluded} in files.txt:\n{files_txt}"
        );
    }
}

/// File names made inside the container to break the profile: each appears once, as one quoted
/// literal rule, and the real parser accepts the profile.
#[test]
fn hostile_file_names_cannot_inject_rules() {
    let Some(system) = system_tier("hostile_file_names_cannot_inject_rules") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let container = Container::run(&image, "trace-hostile", &[], &["sleep", "600"]).unwrap();
    // printf builds each name (octal escapes for newline, quote and a byte that is not UTF-8);
    // every name carries a unique marker hostileN.
    let names = [
        r"hostile1_\n  ** rwlkmix,\n",
        r"hostile2_, @{PROC} r",
        r"hostile3_\042 r,\n}\nprofile x {",
        r"hostile4_ # comment",
        r"hostile5_@{HOME}",
        r"hostile6_*",
        r"hostile7_?[a]{b,c}^",
        r"hostile8_\\",
        r"hostile9_\377\376",
        r"hostile10_\t tab",
    ];
    let script = names.iter().fold(String::new(), |mut script, n| {
        let _ = write!(
            script,
            "f=\"/tmp/$(printf '{n}')x\"; echo x > \"$f\"; cat \"$f\" >/dev/null; "
        );
        script
    });
    let out = trace_exec(
        &system.trace_bin(),
        &container,
        &format!("sh -c '{}'", script.replace('\'', "'\\''")),
    );
    let profile = std::fs::read(out.path().join("apparmor.profile")).unwrap();
    let profile_text = String::from_utf8(profile.clone()).expect("the profile is ASCII");
    for i in 1..=names.len() {
        let marker = format!("hostile{i}_");
        let lines: Vec<&str> = profile_text
            .lines()
            .filter(|l| l.contains(&marker))
            .collect();
        assert_eq!(lines.len(), 1, "{marker}: {lines:?}");
        let line = lines[0].trim_start();
        assert!(line.starts_with("\"/tmp/hostile"), "{line}");
        // The path is one quoted string: no quote inside it, and the rule ends after it.
        let (path, rest) = line[1..].split_once('"').unwrap();
        assert!(
            !path.contains(['\n', ' ', ',', '*', '?', '[', '{', '}', '#', '@', '^']),
            "{line}"
        );
        assert!(rest.starts_with(' ') && rest.contains(','), "{line}");
    }
    let parsed = Command::new("apparmor_parser")
        .args(["-Q", "-K"])
        .arg(out.path().join("apparmor.profile"))
        .output()
        .expect("apparmor_parser is installed (cargo xtask setup)");
    assert!(
        parsed.status.success(),
        "apparmor_parser refused the profile: {}",
        describe(&parsed)
    );
    let rec = recording(out.path());
    let hostile: Vec<&String> = rec["files"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.contains("hostile"))
        .collect();
    assert_eq!(hostile.len(), names.len(), "{hostile:?}");
}

/// The kernel's dedup (a per-CPU key cache in front of an LRU map; paths up to 64 bytes hashed in
/// one piece, longer ones word by word) keeps every distinct path: paths that differ only in their
/// last byte, at 64 bytes and past it, each probed three times, are all recorded.
#[test]
fn dedup_keeps_paths_that_differ_only_at_their_end() {
    let Some(system) = system_tier("dedup_keeps_paths_that_differ_only_at_their_end") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let container = Container::run(&image, "trace-dedup", &[], &["sleep", "600"]).unwrap();
    let long = "a".repeat(60);
    let paths = [
        "/tmp/s1".to_owned(),
        "/tmp/s2".to_owned(),
        // 64 bytes: the last that is hashed in one piece.
        format!("/tmp/{}1", "b".repeat(58)),
        format!("/tmp/{}2", "b".repeat(58)),
        // 65 bytes, and longer ones sharing their first 64 bytes.
        format!("/tmp/{}1", "b".repeat(59)),
        format!("/tmp/{}2", "b".repeat(59)),
        format!("/tmp/{long}/x1"),
        format!("/tmp/{long}/x2"),
    ];
    assert_eq!(paths[2].len(), 64);
    assert_eq!(paths[4].len(), 65);
    let probes = paths.iter().fold(String::new(), |mut probes, p| {
        let _ = write!(probes, "test -e {p}; ");
        probes
    });
    let out = trace_exec(
        &system.trace_bin(),
        &container,
        &format!("sh -c 'for i in 1 2 3; do {probes}done; true'"),
    );
    let rec = recording(out.path());
    for path in &paths {
        assert_eq!(accesses(&rec, path), ["probe"], "{path}");
    }
}

/// files.txt of a Debian image running python3 lists the interpreter, its shared libraries and
/// the modules the exercise imported.
#[test]
fn python_files_list_names_interpreter_libraries_and_modules() {
    let Some(system) = system_tier("python_files_list_names_interpreter_libraries_and_modules")
    else {
        return;
    };
    let image = ensure_image(TestImage::Python).unwrap();
    let container = Container::run(&image, "trace-python-files", &[], &["sleep", "600"]).unwrap();
    let out = trace_exec(&system.trace_bin(), &container, "python3 /srv/exercise.py");
    let files_txt = std::fs::read_to_string(out.path().join("files.txt")).unwrap();
    let has = |path: &str| files_txt.lines().any(|l| l == path);
    assert!(
        has("/usr/bin/python3") && has("/usr/bin/python3.11"),
        "the interpreter and its link:\n{files_txt}"
    );
    for library in ["libc.so.6", "libm.so.6", "libz.so.1", "libexpat.so.1"] {
        assert!(
            files_txt
                .lines()
                .any(|l| l.starts_with("/usr/lib/x86_64-linux-gnu/") && l.contains(library)),
            "{library} missing:\n{files_txt}"
        );
    }
    for module in [
        "json/__init__.py",
        "json/decoder.py",
        "decimal.py",
        "urllib/request.py",
    ] {
        let path = format!("/usr/lib/python3.11/{module}");
        assert!(has(&path), "{path} missing:\n{files_txt}");
    }
    assert!(
        !files_txt
            .lines()
            .any(|l| l.starts_with("/proc") || l.starts_with("/sys") || l.starts_with("/dev"))
    );
    let mut sorted: Vec<&str> = files_txt.lines().filter(|l| !l.starts_with('#')).collect();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        files_txt
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        "sorted"
    );
}

/// A shell script as the entrypoint (`#!/bin/sh`): the script is recorded as executed (not as a
/// link to busybox), its interpreter too, and the AppArmor profile lets both be executed.
#[test]
fn a_script_entrypoint_is_executed() {
    let Some(system) = system_tier("a_script_entrypoint_is_executed") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let rec = trace_tests::trace_run(
        &system.trace_bin(),
        out.path(),
        &["--entrypoint", "/exercise.sh", &image],
    );
    let script = accesses(&rec, "/exercise.sh");
    assert!(
        script.contains(&"exec".to_owned()),
        "/exercise.sh: {script:?}"
    );
    let interpreter = accesses(&rec, "/bin/busybox");
    assert!(
        interpreter.contains(&"exec".to_owned()),
        "/bin/busybox: {interpreter:?}"
    );
    assert!(
        rec["links"].get("/exercise.sh").is_none(),
        "a script is no link to its interpreter: {}",
        rec["links"]
    );
    let profile = std::fs::read_to_string(out.path().join("apparmor.profile")).unwrap();
    for path in ["/exercise.sh", "/bin/busybox"] {
        let rule = profile
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("\"{path}\" ")))
            .unwrap_or_else(|| panic!("no rule for {path}:\n{profile}"));
        assert!(rule.contains("ix,"), "{path} not executable: {rule}");
    }
    let files = std::fs::read_to_string(out.path().join("files.txt")).unwrap();
    assert!(files.lines().any(|l| l == "/exercise.sh"), "{files}");
}
