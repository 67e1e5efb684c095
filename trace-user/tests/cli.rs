//! The `trace` binary's command-line conventions, run as a user runs it (no root, no Docker): help
//! without arguments, the version, completions and manual pages, recordings from standard input,
//! `--quiet`, and `trace check`'s report formats and the commands that accept drift.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const TRACE: &str = env!("CARGO_BIN_EXE_trace");
const RECORDING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/recording-v4.json");

fn trace(args: &[&str]) -> Output {
    Command::new(TRACE).args(args).output().unwrap()
}

fn trace_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(TRACE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A writer that trace stops reading (it refuses a too large input) gets EPIPE: not a failure.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one error line of a failed run, checking the exit status and that nothing panicked.
fn one_line_error(output: &Output, status: i32) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(status), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("trace: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    errors[0].to_owned()
}

#[test]
fn no_arguments_print_the_help_and_exit_2() {
    let output = trace(&[]);
    assert_eq!(output.status.code(), Some(2));
    let help = text(&output.stderr);
    assert!(help.contains("Usage: trace [OPTIONS]"), "{help}");
    assert!(help.contains("Commands:\n  run "), "{help}");
    assert!(help.contains("RUST_LOG"), "{help}");
    assert!(output.stdout.is_empty());
}

#[test]
fn the_version_names_the_build() {
    let output = trace(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    let version = text(&output.stdout);
    let expected = format!("trace {}", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
    let in_git = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|o| o.status.success());
    if in_git && std::env::var_os("TRACE_BUILD_COMMIT").is_none() {
        // Built from this checkout: the commit is named (maybe an older one than HEAD, when HEAD
        // moved after the build, so only its form is checked).
        assert!(version.contains(" (commit "), "{version}");
        assert!(version.trim_end().ends_with(')'), "{version}");
    }
}

#[test]
fn completions_and_man_pages() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = trace(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = text(&output.stdout);
        assert!(script.contains("minimize"), "{shell}: {script}");
    }
    let bash = text(&trace(&["completions", "bash"]).stdout);
    assert!(bash.contains("complete -F _trace"), "{bash}");
    assert_eq!(trace(&["completions", "tcsh"]).status.code(), Some(2));

    let page = trace(&["man"]);
    assert_eq!(page.status.code(), Some(0));
    assert!(text(&page.stdout).contains(".TH trace 1"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let written = trace(&["man", "-o", out.to_str().unwrap()]);
    assert_eq!(written.status.code(), Some(0), "{}", text(&written.stderr));
    let lines = text(&written.stdout);
    assert_eq!(lines.lines().count(), 10, "{lines}");
    let check = std::fs::read_to_string(out.join("trace-check.1")).unwrap();
    assert!(check.contains(".TH trace-check 1"), "{check}");
    assert!(check.contains("output\\-format"), "{check}");
}

#[test]
fn render_reads_standard_input_like_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("file");
    let from_stdin = dir.path().join("stdin");
    let output = trace(&["render", RECORDING, "-o", from_file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let bytes = std::fs::read(RECORDING).unwrap();
    let output = trace_with_stdin(&["render", "-", "-o", from_stdin.to_str().unwrap()], &bytes);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for name in [
        "seccomp.json",
        "apparmor.profile",
        "files.txt",
        "hardening.md",
    ] {
        assert_eq!(
            std::fs::read(from_file.join(name)).unwrap(),
            std::fs::read(from_stdin.join(name)).unwrap(),
            "{name}"
        );
    }

    // Without --out there is no directory to write to; too large and not a recording are refused.
    let err = one_line_error(&trace_with_stdin(&["render", "-"], &bytes), 1);
    assert_eq!(
        err,
        "trace: error: the recording comes from standard input: say where the outputs go with --out DIR"
    );
    let big = vec![b' '; 64 * 1024 * 1024 + 1];
    let err = one_line_error(
        &trace_with_stdin(&["render", "-", "-o", from_stdin.to_str().unwrap()], &big),
        1,
    );
    assert_eq!(
        err,
        "trace: error: standard input: larger than the 64 MiB a recording may be"
    );
    let err = one_line_error(
        &trace_with_stdin(&["render", "-", "-o", from_stdin.to_str().unwrap()], b"{}"),
        1,
    );
    assert!(err.starts_with("trace: error: standard input: "), "{err}");
    let err = one_line_error(
        &trace_with_stdin(
            &[
                "merge",
                "-",
                "-",
                "-o",
                dir.path().join("m.json").to_str().unwrap(),
            ],
            &bytes,
        ),
        1,
    );
    assert_eq!(err, "trace: error: - (standard input) can be given once");
}

#[test]
fn quiet_keeps_results_and_drops_notes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let loud = trace(&["advise", RECORDING, "-o", out]);
    assert_eq!(loud.status.code(), Some(0));
    assert!(text(&loud.stderr).contains("trace: wrote "));
    let quiet = trace(&["advise", "-q", RECORDING, "-o", out]);
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(text(&quiet.stderr), "", "nothing but errors and warnings");
    assert_eq!(quiet.stdout, loud.stdout, "the advice is the result");
    let quiet = trace(&["-q", "render", RECORDING, "-o", out]);
    assert_eq!(text(&quiet.stdout).lines().count(), 7, "one line per file");
}

#[test]
fn arm64_and_amd64_name_the_architectures() {
    let dir = tempfile::tempdir().unwrap();
    let output = trace(&[
        "render",
        RECORDING,
        "--arch",
        "amd64,arm64",
        "-o",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let seccomp = std::fs::read_to_string(dir.path().join("seccomp.json")).unwrap();
    assert!(seccomp.contains("SCMP_ARCH_AARCH64"), "{seccomp}");
    assert!(seccomp.contains("SCMP_ARCH_X86_64"), "{seccomp}");
    let bad = trace(&["render", RECORDING, "--arch", "arm"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("x86_64 or amd64, aarch64 or arm64"));
}

/// Renders the fixture's profiles into `dir` (the committed profiles), and writes a newer
/// recording with one more system call to `newer`.
fn committed_and_newer(dir: &Path, newer: &Path) {
    let output = trace(&["render", RECORDING, "-o", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    std::fs::copy(RECORDING, dir.join("recording.json")).unwrap();
    let mut recording: serde_json::Value =
        serde_json::from_slice(&std::fs::read(RECORDING).unwrap()).unwrap();
    // Another run of the same image: another container, another start.
    recording["container"]["id"] = serde_json::json!("b".repeat(64));
    recording["started_at"] = serde_json::json!("2026-11-28T16:00:00Z");
    recording["syscalls"]["x86_64"]["mkdirat"] = serde_json::json!(3);
    std::fs::write(newer, serde_json::to_vec_pretty(&recording).unwrap()).unwrap();
}

#[test]
fn check_prints_text_json_github_and_sarif_and_how_to_accept() {
    let dir = tempfile::tempdir().unwrap();
    let committed = dir.path().join("profiles/web");
    let newer = dir.path().join("new.json");
    committed_and_newer(&committed, &newer);
    let against = committed.to_str().unwrap();
    let newer_str = newer.to_str().unwrap();

    let same = trace(&["check", "--against", against, RECORDING]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stdout));
    assert_eq!(text(&same.stderr), "");

    let plain = trace(&["check", "--against", against, newer_str]);
    assert_eq!(plain.status.code(), Some(1));
    assert!(text(&plain.stdout).contains("new system calls (1):\n  mkdirat  (x86_64; 3 calls)"));
    let stderr = text(&plain.stderr);
    let merge =
        format!("  trace merge {against}/recording.json {newer_str} -o {against}/recording.json");
    let render = format!("  trace render {against}/recording.json --out {against}");
    assert!(stderr.lines().any(|l| l == merge), "{stderr}");
    assert!(stderr.lines().any(|l| l == render), "{stderr}");
    // The commands do accept it: afterwards the check passes.
    let merged = Command::new("sh")
        .args([
            "-c",
            &format!("set -e; {TRACE} {}; {TRACE} {}", &merge[8..], &render[8..]),
        ])
        .output()
        .unwrap();
    assert!(merged.status.success(), "{}", text(&merged.stderr));
    let accepted = trace(&["check", "--against", against, newer_str]);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        text(&accepted.stdout)
    );

    committed_and_newer(&committed, &newer);
    let quiet = trace(&["check", "-q", "--against", against, newer_str]);
    assert_eq!(
        (quiet.status.code(), text(&quiet.stderr)),
        (Some(1), String::new())
    );

    let github = trace(&[
        "check",
        "--output-format",
        "github",
        "--against",
        against,
        newer_str,
    ]);
    assert_eq!(github.status.code(), Some(1));
    let lines = text(&github.stdout);
    let first = lines.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "::error file={against}/seccomp.json,line=1,title=trace check%3A new-syscall::new system call mkdirat (x86_64; 3 calls) is not allowed by the seccomp profile"
        )
    );
    assert_eq!(
        lines.lines().last(),
        Some("result: DRIFT: 1 new, 0 no longer observed")
    );

    let sarif = trace(&[
        "check",
        "--output-format",
        "sarif",
        "--against",
        against,
        newer_str,
    ]);
    assert_eq!(sarif.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"][0]["ruleId"], "new-syscall");

    let json = trace(&[
        "check",
        "--output-format",
        "json",
        "--against",
        against,
        newer_str,
    ]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["new"]["syscalls"][0]["name"], "mkdirat");
    // The old spelling still works, with a warning.
    let old = trace(&["check", "--format", "json", "--against", against, newer_str]);
    assert_eq!(old.stdout, json.stdout);
    assert!(
        text(&old.stderr).starts_with(
            "trace: warning: `trace check --format` is deprecated: use --output-format\n"
        ),
        "{}",
        text(&old.stderr)
    );

    // The recording from standard input.
    let bytes = std::fs::read(&newer).unwrap();
    let piped = trace_with_stdin(&["check", "--against", against, "-"], &bytes);
    assert_eq!(piped.status.code(), Some(1));
    assert_eq!(piped.stdout, plain.stdout);

    let err = one_line_error(
        &trace(&["check", "--against", "/nonexistent", newer_str]),
        2,
    );
    assert!(err.contains("/nonexistent"), "{err}");
}

/// Runs `command` (a shell line) under script(1), on a terminal; `None` without script(1).
fn on_a_terminal(command: &str) -> Option<Output> {
    let output = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) => Some(output),
        Err(e) => {
            eprintln!("skipping the terminal case: cannot run script(1): {e}");
            None
        }
    }
}

#[test]
fn standard_input_on_a_terminal_is_refused_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let Some(output) = on_a_terminal(&format!(
        "{TRACE} render - -o {}",
        dir.path().to_str().unwrap()
    )) else {
        return;
    };
    let shown = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(
            "trace: error: - reads the recording from standard input, which is a terminal: pipe or redirect one into trace"
        ),
        "{shown}"
    );
}

#[test]
fn min_runs_keeps_what_enough_merged_runs_saw_in_render_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let committed = dir.path().join("committed");
    let newer = dir.path().join("newer.json");
    committed_and_newer(&committed, &newer);
    let merged = dir.path().join("m.json");
    let merged_str = merged.to_str().unwrap();
    let output = trace(&[
        "merge",
        RECORDING,
        newer.to_str().unwrap(),
        "-o",
        merged_str,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // mkdirat was seen in one of the two runs, read in both.
    let out = dir.path().join("out");
    let seccomp = |args: &[&str]| {
        let mut all = vec!["render", merged_str, "-o", out.to_str().unwrap()];
        all.extend(args);
        let output = trace(&all);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        (
            std::fs::read_to_string(out.join("seccomp.json")).unwrap(),
            text(&output.stderr),
        )
    };
    let (all, _) = seccomp(&[]);
    assert!(
        all.contains("\"mkdirat\"") && all.contains("\"read\""),
        "{all}"
    );
    let (both, stderr) = seccomp(&["--min-runs", "2"]);
    assert!(
        !both.contains("\"mkdirat\"") && both.contains("\"read\""),
        "{both}"
    );
    assert!(
        stderr.contains("trace: --min-runs 2: left out of the profiles what fewer of the 2 runs saw: 1 system call"),
        "{stderr}"
    );
    let err = one_line_error(
        &trace(&[
            "render",
            merged_str,
            "--min-runs",
            "3",
            "-o",
            out.to_str().unwrap(),
        ]),
        2,
    );
    assert_eq!(
        err,
        "trace: error: --min-runs 3 asks for more runs than the recording has: it is merged from 2 runs"
    );

    // check: the call one run saw is drift, unless two runs must have seen it.
    let committed_str = committed.to_str().unwrap();
    let check = |args: &[&str]| {
        let mut all = vec!["check", "--against", committed_str, merged_str];
        all.extend(args);
        trace(&all)
    };
    let drift = check(&[]);
    assert_eq!(drift.status.code(), Some(1), "{}", text(&drift.stderr));
    assert!(text(&drift.stdout).contains("mkdirat"));
    let steady = check(&["--min-runs", "2"]);
    assert_eq!(steady.status.code(), Some(0), "{}", text(&steady.stdout));
    let err = one_line_error(&check(&["--min-runs", "3"]), 2);
    assert!(err.contains("merged from 2 runs"), "{err}");
}

/// `--include-syscall NAME=REASON` on render: the profile allows the call with the reason in its
/// comment, the recording written beside it keeps it (so it renders the same again), coverage.md
/// lists it, `check --strict` does not call it unused, and a name that is no system call is
/// refused as bad usage.
#[test]
fn included_syscalls_are_kept_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_str = out.to_str().unwrap();
    let output = trace(&[
        "render",
        RECORDING,
        "-o",
        out_str,
        "--include-syscall",
        "kill=nginx -s reload signals the master",
        "--include-syscall",
        "setsid",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let seccomp = std::fs::read_to_string(out.join("seccomp.json")).unwrap();
    assert!(
        seccomp.contains(
            "Included on purpose (--include-syscall), not observed: kill: nginx -s reload signals the master; setsid."
        ),
        "{seccomp}"
    );
    let recording = std::fs::read_to_string(out.join("recording.json")).unwrap();
    assert!(recording.contains("\"included_syscalls\""), "{recording}");
    let coverage = std::fs::read_to_string(out.join("coverage.md")).unwrap();
    assert!(
        coverage.contains("| `kill` | nginx -s reload signals the master | no |"),
        "{coverage}"
    );

    let again = dir.path().join("again");
    let output = trace(&[
        "render",
        &format!("{out_str}/recording.json"),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for file in [
        "seccomp.json",
        "coverage.md",
        "coverage.json",
        "apparmor.profile",
    ] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
            "{file}"
        );
    }

    let strict = trace(&["check", "--against", out_str, RECORDING, "--strict"]);
    assert_eq!(strict.status.code(), Some(0), "{}", text(&strict.stdout));

    let bad = trace(&[
        "render",
        RECORDING,
        "-o",
        out_str,
        "--include-syscall",
        "kil",
    ]);
    let stderr = text(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: invalid value 'kil' for '--include-syscall <NAME[=REASON]>': \"kil\" is not a system call of x86_64 or aarch64"
        ),
        "{stderr}"
    );
}

/// `trace mark` outside trace lets the exercise go on; with a socket that is not trace's it fails
/// with one line; a bad name is bad usage.
#[test]
fn mark_outside_a_session() {
    let alone = Command::new(TRACE)
        .args(["mark", "reload"])
        .env_remove("TRACE_MARK")
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(0), "{}", text(&alone.stderr));
    assert!(
        text(&alone.stderr).contains("TRACE_MARK is not set"),
        "{}",
        text(&alone.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let nowhere = Command::new(TRACE)
        .args(["mark", "reload"])
        .env("TRACE_MARK", dir.path().join("gone.sock"))
        .output()
        .unwrap();
    let err = one_line_error(&nowhere, 1);
    assert!(
        err.starts_with("trace: error: step reload not marked: cannot reach trace at "),
        "{err}"
    );
    let bad = trace(&["mark", "startup"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
}
