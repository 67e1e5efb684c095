//! The Podman CLI and its API service, and the test images in Podman's store.
//!
//! trace talks to Podman through its Docker-compatible API service
//! (`podman system service unix:///run/podman/podman.sock`, which `cargo xtask setup` starts);
//! the tests start and inspect containers with the `podman` CLI, which works on the same store.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::images::{INPUTS_LABEL, TestImage, ensure_image};

/// Where Podman's API service listens for a root user (what trace's `--engine podman` uses).
pub const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

/// Runs `podman ARGS...` and returns its output, whatever its exit status.
///
/// Errors only when `podman` cannot be started.
pub fn podman(args: &[&str]) -> Result<Output> {
    Command::new("podman")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `podman {}`", args.join(" ")))
}

/// Runs `podman ARGS...` and returns its stdout, trimmed; a non-zero exit is an error that quotes
/// podman's stderr.
pub fn podman_ok(args: &[&str]) -> Result<String> {
    let output = podman(args)?;
    if !output.status.success() {
        bail!(
            "`podman {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Whether Podman's API service answers on [`PODMAN_SOCKET`] (`GET /_ping` says `OK`).
pub fn podman_answers() -> bool {
    ping(PODMAN_SOCKET).is_ok_and(|body| body == "OK")
}

/// The body of `GET /_ping` on the API socket at `path`.
fn ping(path: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.trim().to_string())
        .unwrap_or_default())
}

/// Makes the up-to-date test image `image` (built for Docker by [`ensure_image`]) available to
/// Podman under the same tag, copying it with `docker save | podman load` when Podman lacks it
/// or holds an older build; returns the tag. Checked once per process.
pub fn ensure_podman_image(image: TestImage) -> Result<String> {
    static CHECKED: Mutex<Vec<TestImage>> = Mutex::new(Vec::new());
    let tag = ensure_image(image)?;
    let mut checked = CHECKED.lock().unwrap_or_else(PoisonError::into_inner);
    if checked.contains(&image) {
        return Ok(tag);
    }
    let label = format!("{{{{index .Config.Labels {INPUTS_LABEL:?}}}}}");
    let wanted = crate::docker_ok(&["image", "inspect", "--format", &label, &tag])?;
    let present = podman(&["image", "inspect", "--format", &label, &tag])?;
    if String::from_utf8_lossy(&present.stdout).trim() != wanted {
        copy_to_podman(&tag).with_context(|| format!("copying image {tag} to Podman"))?;
    }
    checked.push(image);
    Ok(tag)
}

/// `docker save TAG | podman load`.
fn copy_to_podman(tag: &str) -> Result<()> {
    crate::docker::save_into(
        tag,
        Command::new("podman").args(["load", "--quiet"]),
        "podman load",
    )
}
