//! What runc does inside the container after it installs the seccomp filter and before the
//! entrypoint runs. The measurement behind it is `bench/runc-baseline.json`, written by
//! `cargo xtask runc-baseline`; a unit test fails when the list here and the measurement differ.

/// System calls runc 1.1 makes in the container's process after it has installed the seccomp
/// filter and before the entrypoint runs; a profile without them can stop the container from
/// starting at all. Measured with Docker 20.10 / runc 1.1.5 by starting busybox under shrinking
/// allow lists (default mode; with `no-new-privileges` runc installs the filter later and needs a
/// subset). `rt_sigreturn` is needed only when a Go runtime signal lands in that window (about one
/// start in eight). See docs/seccomp.md for the method and figures.
pub const RUNC_BASELINE: &[&str] = &[
    "arch_prctl",
    "capget",
    "capset",
    "chdir",
    "close",
    "execve",
    "exit_group",
    "fstat",
    "fstatfs",
    "futex",
    "getcwd",
    "getdents64",
    "getppid",
    "getuid",
    "mmap",
    "mprotect",
    "newfstatat",
    "openat",
    "prctl",
    "read",
    "rt_sigreturn",
    "set_robust_list",
    "setgid",
    "setgroups",
    "setuid",
    "umask",
    "write",
];

#[cfg(test)]
mod tests {
    use super::RUNC_BASELINE;

    /// The measured baseline (`bench/runc-baseline.json`, key `baseline`).
    const MEASURED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bench/runc-baseline.json"
    ));

    #[test]
    fn baseline_is_the_measured_one() {
        let measured: serde_json::Value = serde_json::from_str(MEASURED).unwrap();
        let measured: Vec<&str> = measured["baseline"]
            .as_array()
            .expect("bench/runc-baseline.json has a `baseline` list")
            .iter()
            .map(|name| name.as_str().expect("a system call name"))
            .collect();
        assert_eq!(
            RUNC_BASELINE, measured,
            "RUNC_BASELINE differs from bench/runc-baseline.json: copy the measured list"
        );
    }

    #[test]
    fn baseline_is_sorted_and_unique() {
        assert!(RUNC_BASELINE.windows(2).all(|w| w[0] < w[1]));
    }
}
