//! `cargo xtask setup`: install and start what trace and its tests need on Debian 12.
//!
//! Every step checks first and only acts (as root) when something is missing, so a second run takes
//! well under a second. Progress goes to stderr, one line per step.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use trace_tests::{TestImage, ensure_image, is_root};

use crate::{cmd, runtimes};

/// Debian packages: Debian's Rust 1.96 with the prebuilt BPF core library (the eBPF build), LLVM 22
/// (bpf-linker), the Docker engine, `apparmor_parser` (checks generated profiles), busybox-static,
/// gcc and debootstrap (the test images), strace and bpftrace (side-by-side comparisons in
/// `cargo xtask bench`), docker-compose (the tests of compose projects), qemu-system-x86
/// (the VM tier), containerd, Debian's CNI plugins and protoc (the CRI tests' containerd, and the
/// CRI client's generated code), Podman with crun (the tests of Podman and of crun under Docker:
/// [`crate::runtimes`]).
const APT_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "libstd-rust-web-dev-bpf",
    "llvm-22-dev",
    "docker.io",
    "apparmor",
    "busybox-static",
    "gcc",
    "libc6-dev",
    "debootstrap",
    "strace",
    "bpftrace",
    "docker-compose",
    "qemu-system-x86",
    "containerd",
    "containernetworking-plugins",
    "protobuf-compiler",
    "podman",
    "crun",
];
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";
const BPF_LINKER_VERSION: &str = "0.13.0";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";
const TRACEFS: &str = "/sys/kernel/tracing";
const BPFFS: &str = "/sys/fs/bpf";
const DOCKERD_LOG: &str = "/var/log/dockerd.log";
const DOCKERD_WAIT: Duration = Duration::from_secs(30);

pub fn run() -> Result<()> {
    let started = Instant::now();
    step("apt packages", apt_packages)?;
    step("bpf-linker", bpf_linker)?;
    step("tracefs", || mount("tracefs", TRACEFS))?;
    step("bpffs", || mount("bpf", BPFFS))?;
    step("cgroup2 controllers", runtimes::cgroup2_controllers)?;
    step("crun in daemon.json", || {
        Ok(if runtimes::crun_in_daemon_json()? {
            "added".to_string()
        } else {
            "present".to_string()
        })
    })?;
    step("dockerd", dockerd)?;
    step("crun under Docker", runtimes::crun_in_dockerd)?;
    step("podman limits", runtimes::podman_limits)?;
    step("podman service", runtimes::podman_service)?;
    step("test images", images)?;
    step("containerd (CRI)", crate::cri::containerd)?;
    eprintln!("setup: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs one step and prints its outcome; an error names the step.
fn step(name: &str, f: impl FnOnce() -> Result<String>) -> Result<()> {
    let started = Instant::now();
    let outcome = f().with_context(|| format!("setup step `{name}`"))?;
    eprintln!(
        "setup: {name}: {outcome} ({:.2} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub(crate) fn need_root(what: &str) -> Result<()> {
    if !is_root() {
        bail!("{what} needs root: run `cargo xtask setup` as root");
    }
    Ok(())
}

fn apt_packages() -> Result<String> {
    let missing = missing_packages()?;
    if missing.is_empty() {
        return Ok(format!("all {} installed", APT_PACKAGES.len()));
    }
    need_root(&format!("installing {}", missing.join(" ")))?;
    eprintln!("setup: apt packages: installing {}", missing.join(" "));
    let _policy = PolicyRcD::install()?;
    cmd::run(
        Command::new("apt-get")
            .args(["-q", "update"])
            .stdin(Stdio::null()),
    )?;
    cmd::run(
        Command::new("apt-get")
            .args(["-q", "install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null()),
    )?;
    let still = missing_packages()?;
    if !still.is_empty() {
        bail!("still not installed after apt-get: {}", still.join(" "));
    }
    Ok(format!("installed {}", missing.join(" ")))
}

/// The packages of [`APT_PACKAGES`] that dpkg does not list as installed.
fn missing_packages() -> Result<Vec<&'static str>> {
    // Exits 1 when some package is unknown to dpkg, but still lists the others.
    let output = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${db:Status-Abbrev}\n"])
        .args(APT_PACKAGES)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("cannot run dpkg-query (setup supports Debian 12 only)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let installed = installed_packages(&stdout);
    Ok(APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !installed.contains(p))
        .collect())
}

/// The names in dpkg-query `${Package} ${db:Status-Abbrev}` lines whose status is `ii`.
fn installed_packages(dpkg_query: &str) -> Vec<&str> {
    dpkg_query
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            (words.next() == Some("ii")).then_some(name)
        })
        .collect()
}

/// `/usr/sbin/policy-rc.d` saying "exit 101" (package scripts must not start services), while an
/// install runs; removed again if this created it.
struct PolicyRcD {
    created: bool,
}

impl PolicyRcD {
    fn install() -> Result<Self> {
        let path = Path::new(POLICY_RC_D);
        if path.exists() {
            return Ok(Self { created: false });
        }
        fs::write(
            path,
            "#!/bin/sh\n# Written by cargo xtask setup: start no services.\nexit 101\n",
        )
        .with_context(|| format!("writing {POLICY_RC_D}"))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
        Ok(Self { created: true })
    }
}

impl Drop for PolicyRcD {
    fn drop(&mut self) {
        if self.created {
            // Leaving it behind would only stop later package installs from starting services.
            let _ = fs::remove_file(POLICY_RC_D);
        }
    }
}

fn bpf_linker() -> Result<String> {
    if let Some((path, version)) = bpf_linker_version()
        && version == BPF_LINKER_VERSION
    {
        return Ok(format!("{BPF_LINKER_VERSION} at {}", path.display()));
    }
    eprintln!("setup: bpf-linker: installing {BPF_LINKER_VERSION} (about a minute)");
    // Run from / so that this workspace's .cargo/config.toml does not apply to the install.
    cmd::run(
        cmd::cargo()
            .current_dir("/")
            .args(["install", "--locked"])
            .arg(format!("bpf-linker@{BPF_LINKER_VERSION}"))
            .args(["--no-default-features", "--features", "llvm-22"])
            .env("LLVM_PREFIX", LLVM_PREFIX),
    )?;
    match bpf_linker_version() {
        Some((path, version)) if version == BPF_LINKER_VERSION => {
            if find_on_path("bpf-linker").is_none() {
                bail!(
                    "installed {}, but its folder is not on PATH (the eBPF build needs it there)",
                    path.display()
                );
            }
            Ok(format!(
                "installed {BPF_LINKER_VERSION} at {}",
                path.display()
            ))
        }
        Some((path, version)) => bail!(
            "installed bpf-linker {BPF_LINKER_VERSION}, but {} says {version:?}",
            path.display()
        ),
        None => bail!("installed bpf-linker {BPF_LINKER_VERSION}, but cannot find it"),
    }
}

/// The bpf-linker on PATH (else in cargo's bin folder) and the version it reports.
fn bpf_linker_version() -> Option<(PathBuf, String)> {
    let path = find_on_path("bpf-linker").or_else(|| {
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))?;
        Some(cargo_home.join("bin/bpf-linker")).filter(|p| p.is_file())
    })?;
    let output = Command::new(&path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    // "bpf-linker 0.13.0"
    let stdout = String::from_utf8_lossy(&output.stdout);
    let version = stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Some((path, version))
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn mount(fstype: &str, target: &str) -> Result<String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").context("reading mountinfo")?;
    if is_mounted(&mountinfo, fstype, target) {
        return Ok(format!("mounted at {target}"));
    }
    need_root(&format!("mounting {fstype} at {target}"))?;
    cmd::run(Command::new("mount").args(["-t", fstype, fstype, target]))?;
    Ok(format!("mounted {fstype} at {target} now"))
}

/// Whether `/proc/self/mountinfo` text has a mount of type `fstype` at `target`.
fn is_mounted(mountinfo: &str, fstype: &str, target: &str) -> bool {
    mountinfo.lines().any(|line| {
        // "<id> <parent> <dev> <root> <mount point> <options> [optional...] - <type> <source> ..."
        let mount_point = line.split(' ').nth(4);
        let mount_type = line
            .split_once(" - ")
            .and_then(|(_, rest)| rest.split(' ').next());
        mount_point == Some(target) && mount_type == Some(fstype)
    })
}

fn dockerd() -> Result<String> {
    if find_on_path("docker").is_none() {
        bail!("no `docker` on PATH (the apt step installs docker.io)");
    }
    if trace_tests::docker_answers() {
        return Ok("running".to_string());
    }
    need_root("starting dockerd")?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(DOCKERD_LOG)
        .with_context(|| format!("opening {DOCKERD_LOG}"))?;
    // setsid: its own session, so it outlives xtask; its output goes only to the log, so it does
    // not hold cargo's stdout open. From `/`: a daemon must outlive the checkout it was started
    // from (Podman's conmon fails once its working directory is gone).
    let mut cmd = Command::new("setsid");
    cmd.current_dir("/");
    cmd.args([
        "dockerd",
        "--storage-driver=overlay2",
        "--exec-opt",
        "native.cgroupdriver=cgroupfs",
    ])
    .stdin(Stdio::null())
    .stdout(log.try_clone()?)
    .stderr(log);
    eprintln!(
        "setup: dockerd: starting `{}` (log: {DOCKERD_LOG})",
        cmd::show(&cmd)
    );
    let mut child = cmd.spawn().context("cannot start dockerd")?;
    let started = Instant::now();
    while started.elapsed() < DOCKERD_WAIT {
        sleep(Duration::from_millis(250));
        if trace_tests::docker_answers() {
            return Ok(format!("started (pid {})", child.id()));
        }
        if let Some(status) = child.try_wait()? {
            bail!("dockerd exited ({status}): {}", log_tail());
        }
    }
    bail!(
        "dockerd did not answer within {} s: {}",
        DOCKERD_WAIT.as_secs(),
        log_tail()
    )
}

/// The last line of the dockerd log, for an error message.
fn log_tail() -> String {
    let log = fs::read_to_string(DOCKERD_LOG).unwrap_or_default();
    let last = log.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    format!("last line of {DOCKERD_LOG}: {last}")
}

fn images() -> Result<String> {
    let tags = TestImage::ALL
        .into_iter()
        .map(ensure_image)
        .collect::<Result<Vec<_>>>()?;
    Ok(tags.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_need_status_ii() {
        let out = "strace ii \napparmor rc \ndocker.io ii \n";
        assert_eq!(installed_packages(out), ["strace", "docker.io"]);
    }

    #[test]
    fn mounts_are_matched_by_point_and_type() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
52 21 0:12 / /sys/kernel/tracing rw,nosuid - tracefs tracefs rw
";
        assert!(is_mounted(mountinfo, "tracefs", "/sys/kernel/tracing"));
        assert!(is_mounted(mountinfo, "cgroup2", "/sys/fs/cgroup/unified"));
        assert!(!is_mounted(mountinfo, "bpf", "/sys/fs/bpf"));
        assert!(!is_mounted(mountinfo, "tracefs", "/sys/fs/cgroup"));
    }
}
