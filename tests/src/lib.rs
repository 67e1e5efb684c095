//! Helpers for trace's real-system tests (`tests/tests/*.rs`) and for `cargo xtask`.
//!
//! - [`system_tier`] decides whether the real-system tier can run here: it needs root, a working
//!   Docker engine, kernel BTF and a built `trace` binary. When something is missing a test prints
//!   `skipping <test>: <reason>` and returns, except with `TRACE_SYSTEM_TESTS=require` (what
//!   `cargo xtask test` sets), where it panics so that CI fails instead of passing without testing.
//!   [`cannot_run`] is that policy for any test of the tier that finds something missing
//!   (trace-user's kernel probe, BTF and `apparmor_parser` tests use it too); [`docker_answers`]
//!   is the engine check.
//! - [`ensure_image`] builds the test images from `tests/images/` when they are missing or stale
//!   (there is no registry: nothing is ever pulled); [`compile_c`] compiles a C program with the
//!   host's gcc, as the images' programs are.
//! - [`start_under_profile`] starts a container under a generated seccomp profile in both of
//!   runc's modes, the proof that the profile works.
//! - [`Container`] runs a detached container (of Docker or Podman: [`Engine`]) and removes it
//!   when dropped; [`docker`], [`docker_ok`] and [`run_once`] run the Docker CLI, [`podman`] and
//!   [`podman_ok`] Podman's; [`ensure_podman_image`] puts a test image into Podman's store and
//!   [`podman_answers`] checks Podman's API service.
//! - [`cri_image`] imports a test image into the CRI tests' containerd ([`CRI_SOCKET`], started by
//!   `cargo xtask setup`); [`CgroupDriver`] names the cgroups a kubelet makes for a pod.
//!
//! ```no_run
//! use std::process::Command;
//! use trace_tests::{Container, TestImage, ensure_image, system_tier};
//!
//! let Some(system) = system_tier("records_uname") else { return };
//! let image = ensure_image(TestImage::Busybox).unwrap();
//! let container = Container::run(&image, "uname", &[], &["sleep", "600"]).unwrap();
//! let out = tempfile::tempdir().unwrap();
//! let status = Command::new(system.trace_bin())
//!     .args(["--container", container.name(), "--out"])
//!     .arg(out.path())
//!     .args(["--", "docker", "exec", container.name(), "uname", "-a"])
//!     .status()
//!     .unwrap();
//! assert!(status.success());
//! assert!(out.path().join("seccomp.json").is_file());
//! // `container` is removed here, when it is dropped.
//! ```
#![deny(missing_docs)]

mod cri;
mod docker;
mod images;
mod podman;
mod system;

use std::path::{Path, PathBuf};

pub use cri::{
    CRI_NAMESPACE, CRI_SOCKET, CgroupDriver, cri_answers, cri_image, remove_pod_cgroups,
};
pub use docker::{Container, Engine, docker, docker_ok, run_once, start_under_profile};
pub use images::{Linking, TestImage, compile_c, ensure_image};
pub use podman::{PODMAN_SOCKET, ensure_podman_image, podman, podman_answers, podman_ok};
pub use system::{System, cannot_run, docker_answers, system_tier};

/// Spawns `command` (trace) with its output piped and waits, up to a minute, until a line of its
/// stderr starts with `armed`; returns the child and its stderr so far. The rest of its stderr is
/// copied to the test's, so trace never blocks on a full pipe.
pub fn spawn_armed(
    command: &mut std::process::Command,
    armed: &str,
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "trace exited before arming: {seen}"
        );
        seen.push_str(&line);
        if line.starts_with(armed) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "trace did not arm: {seen}"
        );
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::stderr()));
    (child, seen)
}

/// The comments of a seccomp profile's rules, in order (what each rule allows, and why).
pub fn rule_comments(seccomp: &serde_json::Value) -> Vec<&str> {
    seccomp["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["comment"].as_str())
        .collect()
}

/// `value` read as the Kubernetes API type `T` (k8s-openapi) and written back: the same, or a
/// field of `what` is unknown to the API (the API's types drop what they do not know).
pub fn api_object<T: serde::de::DeserializeOwned + serde::Serialize>(
    what: &str,
    value: &serde_json::Value,
) -> T {
    let object: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what} is no {}: {e}", std::any::type_name::<T>()));
    let back = serde_json::to_value(&object).unwrap();
    assert_eq!(
        &back, value,
        "{what}: a field the API does not know was dropped (written back: {back:#})"
    );
    object
}

/// A process's exit status and output, for assertion messages.
pub fn describe(output: &std::process::Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `trace run --out OUT ARGS...`, asserts it succeeded, and returns the recording it wrote.
pub fn trace_run(trace: &Path, out: &Path, args: &[&str]) -> serde_json::Value {
    let output = std::process::Command::new(trace)
        .arg("run")
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_str(&std::fs::read_to_string(out.join("recording.json")).unwrap()).unwrap()
}

/// One HTTP/1.0 GET of `path` from `ip:port`; the whole response, or `None` when nothing
/// answered (2 s to connect, 5 s to read).
pub fn http_get(ip: &str, port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    use std::time::Duration;
    let address = format!("{ip}:{port}").parse().ok()?;
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The root of the cargo workspace (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // This crate lives in `<workspace>/tests`, so the parent always exists.
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// Whether this process runs with effective uid 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions, touches no memory and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
        assert!(root.join("tests/images").is_dir());
    }
}
