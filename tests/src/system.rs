//! Whether the real-system tier can run on this machine, and the one policy for a test of it that
//! cannot: say why and return, or fail under `TRACE_SYSTEM_TESTS=require`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::{is_root, workspace_root};

/// Kernel BTF: trace reads kernel struct offsets from it at run time.
const BTF: &str = "/sys/kernel/btf/vmlinux";

/// What the real-system tier has to work with, once [`system_tier`] said it can run.
#[derive(Debug, Clone)]
pub struct System {
    trace_bin: PathBuf,
}

impl System {
    /// The `trace` binary under test: `$TRACE_BIN`, else `<workspace>/target/debug/trace`.
    pub fn trace_bin(&self) -> PathBuf {
        self.trace_bin.clone()
    }
}

/// What to do when the tier cannot run, from `TRACE_SYSTEM_TESTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `require`: panic, so a CI run without the tier fails.
    Require,
    /// `allow-skip` or unset: print `skipping ...` and let the test return.
    AllowSkip,
}

impl Mode {
    fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("" | "allow-skip") => Ok(Self::AllowSkip),
            Some("require") => Ok(Self::Require),
            Some(other) => Err(format!(
                "TRACE_SYSTEM_TESTS={other:?} is neither `require` nor `allow-skip`"
            )),
        }
    }
}

/// A real-system test that cannot run here: prints `skipping <test>: <reason>` to stderr and
/// returns, so that the test returns too; under `TRACE_SYSTEM_TESTS=require` (CI) it panics
/// instead, so that a run without the tier fails rather than passes without testing. Every test of
/// the tier (here, in trace-user's probe tests, its `apparmor_parser` tests) skips through it.
///
/// # Panics
/// Under `TRACE_SYSTEM_TESTS=require`, or when `TRACE_SYSTEM_TESTS` holds anything but `require`
/// or `allow-skip`.
pub fn cannot_run(test: &str, reason: &str) {
    skip(test, mode(test), reason);
}

/// The policy of `TRACE_SYSTEM_TESTS`.
fn mode(test: &str) -> Mode {
    Mode::parse(std::env::var("TRACE_SYSTEM_TESTS").ok().as_deref())
        .unwrap_or_else(|e| panic!("{test}: {e}"))
}

/// Says that `test` is skipped, or panics under [`Mode::Require`].
fn skip(test: &str, mode: Mode, reason: &str) {
    match mode {
        Mode::Require => panic!(
            "{test}: the real-system tier cannot run but TRACE_SYSTEM_TESTS=require: {reason}"
        ),
        Mode::AllowSkip => eprintln!("skipping {test}: {reason}"),
    }
}

/// Decides whether the real-system test `test` can run here.
///
/// It needs root, `docker info` to work, kernel BTF at `/sys/kernel/btf/vmlinux` and the `trace`
/// binary (`$TRACE_BIN`, relative paths taken from the workspace root, else
/// `<workspace>/target/debug/trace`). When something is missing it prints
/// `skipping <test>: <reason>` to stderr and returns `None`, or panics when
/// `TRACE_SYSTEM_TESTS=require`. The machine is probed once per process.
///
/// # Panics
/// When the tier cannot run and `TRACE_SYSTEM_TESTS=require`, or when `TRACE_SYSTEM_TESTS` holds
/// anything but `require` or `allow-skip`.
pub fn system_tier(test: &str) -> Option<System> {
    static PROBE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    decide(test, mode(test), PROBE.get_or_init(probe))
}

/// The policy, apart from the probing: `probed` is the trace binary or why the tier cannot run.
fn decide(test: &str, mode: Mode, probed: &Result<PathBuf, String>) -> Option<System> {
    match probed {
        Ok(trace_bin) => Some(System {
            trace_bin: trace_bin.clone(),
        }),
        Err(reason) => {
            skip(test, mode, reason);
            None
        }
    }
}

/// Checks everything the tier needs; returns the trace binary, or every reason it cannot run.
fn probe() -> Result<PathBuf, String> {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("not running as root (eBPF and Docker need it)".to_string());
    }
    if !Path::new(BTF).exists() {
        missing.push(format!("no kernel BTF at {BTF}"));
    }
    if !docker_answers() {
        missing.push(
            "`docker info` fails (is dockerd running? `cargo xtask setup` starts it)".to_string(),
        );
    }
    let trace_bin = trace_bin_path(std::env::var_os("TRACE_BIN").map(PathBuf::from));
    if !trace_bin.is_file() {
        missing.push(format!(
            "no trace binary at {} (set TRACE_BIN, or `cargo build -p trace-user --bin trace`)",
            trace_bin.display()
        ));
    }
    if missing.is_empty() {
        Ok(trace_bin)
    } else {
        Err(missing.join("; "))
    }
}

/// Whether the Docker engine answers (`docker info` succeeds).
pub fn docker_answers() -> bool {
    Command::new("docker")
        .arg("info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn trace_bin_path(from_env: Option<PathBuf>) -> PathBuf {
    let root = workspace_root();
    match from_env {
        // `join` keeps an absolute path as it is.
        Some(path) if !path.as_os_str().is_empty() => root.join(path),
        _ => root.join("target/debug/trace"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_comes_from_the_env_value() {
        assert_eq!(Mode::parse(None), Ok(Mode::AllowSkip));
        assert_eq!(Mode::parse(Some("")), Ok(Mode::AllowSkip));
        assert_eq!(Mode::parse(Some("allow-skip")), Ok(Mode::AllowSkip));
        assert_eq!(Mode::parse(Some("require")), Ok(Mode::Require));
        assert!(Mode::parse(Some("yes")).unwrap_err().contains("\"yes\""));
    }

    #[test]
    fn a_ready_machine_runs_in_both_modes() {
        let ready = Ok(PathBuf::from("/bin/trace"));
        for mode in [Mode::Require, Mode::AllowSkip] {
            let system = decide("t", mode, &ready).unwrap();
            assert_eq!(system.trace_bin(), Path::new("/bin/trace"));
        }
    }

    #[test]
    fn a_missing_piece_skips_when_allowed() {
        assert!(decide("t", Mode::AllowSkip, &Err("no docker".into())).is_none());
    }

    #[test]
    #[should_panic(
        expected = "t: the real-system tier cannot run but TRACE_SYSTEM_TESTS=require: no docker"
    )]
    fn a_missing_piece_fails_when_required() {
        decide("t", Mode::Require, &Err("no docker".into()));
    }

    #[test]
    fn trace_bin_defaults_to_the_debug_build() {
        let root = workspace_root();
        assert_eq!(trace_bin_path(None), root.join("target/debug/trace"));
        assert_eq!(
            trace_bin_path(Some(PathBuf::new())),
            root.join("target/debug/trace")
        );
        assert_eq!(
            trace_bin_path(Some("/opt/trace".into())),
            Path::new("/opt/trace")
        );
        assert_eq!(
            trace_bin_path(Some("target/release/trace".into())),
            root.join("target/release/trace")
        );
    }
}
