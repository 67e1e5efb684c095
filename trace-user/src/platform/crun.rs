//! What crun does inside the container after it installs the seccomp filter and before the
//! entrypoint runs. The measurement behind it is `bench/crun-baseline.json`, written by
//! `cargo xtask runtime-baseline --runtime crun`; a unit test fails when the list here and the
//! measurement differ.

/// System calls crun 1.8 makes in the container's process after it has installed the seccomp
/// filter and before the entrypoint runs, with the calls a static entrypoint's start-up makes
/// before anything else can be seen (as [`super::runc::RUNC_BASELINE`] has them). Observed by
/// trace's startup phases with Docker 20.10 and Podman 4.3 (crun 1.8.1): in default mode crun
/// drops privileges (`setresgid`, `setresuid`, `capset`, `prctl`), resets every signal handler
/// (`rt_sigaction`, `rt_sigprocmask`), waits for its parent's go (`pselect6`, `read`, `write`)
/// and executes the entrypoint; with `no-new-privileges` it installs the filter just before
/// `execve` (`close`, `execve`). See docs/runtimes.md for the method and figures.
pub const CRUN_BASELINE: &[&str] = &[
    "arch_prctl",
    "capset",
    "close",
    "execve",
    "exit_group",
    "mmap",
    "mprotect",
    "prctl",
    "pselect6",
    "read",
    "rt_sigaction",
    "rt_sigprocmask",
    "setresgid",
    "setresuid",
    "write",
];

#[cfg(test)]
mod tests {
    use super::CRUN_BASELINE;

    /// The measured baseline (`bench/crun-baseline.json`, key `baseline`).
    const MEASURED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bench/crun-baseline.json"
    ));

    #[test]
    fn baseline_is_the_measured_one() {
        let measured: serde_json::Value = serde_json::from_str(MEASURED).unwrap();
        let measured: Vec<&str> = measured["baseline"]
            .as_array()
            .expect("bench/crun-baseline.json has a `baseline` list")
            .iter()
            .map(|name| name.as_str().expect("a system call name"))
            .collect();
        assert_eq!(
            CRUN_BASELINE, measured,
            "CRUN_BASELINE differs from bench/crun-baseline.json: copy the measured list"
        );
    }

    #[test]
    fn baseline_is_sorted_and_unique() {
        assert!(CRUN_BASELINE.windows(2).all(|w| w[0] < w[1]));
    }
}
