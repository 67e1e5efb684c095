//! The container engines and OCI runtimes beyond Docker with runc that setup makes ready: crun as
//! a runtime of Docker (`docker run --runtime crun`), and Podman with crun, its Docker-compatible
//! API service started on `/run/podman/podman.sock`.
//!
//! Two facts of the machines the project runs on shape this (docs/runtimes.md):
//! - a hybrid cgroup hierarchy whose cgroup2 still offers a controller (`hugetlb` here): crun
//!   refuses to start any container then ("cgroups in hybrid mode not supported, drop all
//!   controllers from cgroupv2"), so each such controller gets its v1 hierarchy, as systemd's
//!   hybrid mode does;
//! - root without `CAP_SYS_RESOURCE`: Podman gives every container 1048576 open files and
//!   processes, more than the hard limits here, and crun cannot raise them; a drop-in for
//!   Podman's `containers.conf` asks for the limits this machine has.

use std::collections::BTreeSet;
use std::fs;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cmd;

/// Where Docker reads its configuration.
const DAEMON_JSON: &str = "/etc/docker/daemon.json";
/// Debian's crun.
const CRUN: &str = "/usr/bin/crun";
/// Where dockerd writes its pid.
const DOCKER_PID: &str = "/var/run/docker.pid";
/// Podman's API socket for root, the default of `trace --engine podman`.
const PODMAN_SOCKET: &str = "/run/podman/podman.sock";
const PODMAN_LOG: &str = "/var/log/podman-service.log";
/// The drop-in with the container limits this machine allows.
const PODMAN_LIMITS: &str = "/etc/containers/containers.conf.d/trace-limits.conf";
/// Where a hybrid host mounts cgroup2 and the v1 hierarchies.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const WAIT: Duration = Duration::from_secs(30);
/// `CAP_SYS_RESOURCE`: raising a hard resource limit.
const CAP_SYS_RESOURCE: u32 = 24;
/// What Podman gives a container by default (`RLimitDefaultValue`).
const PODMAN_DEFAULT_LIMIT: u64 = 1_048_576;
/// Podman lowers its own (and so its runtime's) process limit to this.
const PODMAN_NPROC: u64 = 32_768;

/// On a hybrid host, binds every controller cgroup2 still offers to a v1 hierarchy of its own
/// (crun starts no container while cgroup2 has one).
pub fn cgroup2_controllers() -> Result<String> {
    let unified = Path::new(CGROUP_ROOT).join("unified");
    let Ok(offered) = fs::read_to_string(unified.join("cgroup.controllers")) else {
        return Ok("not a hybrid host".into());
    };
    let controllers: Vec<&str> = offered.split_whitespace().collect();
    if controllers.is_empty() {
        return Ok("cgroup2 offers no controller".into());
    }
    crate::setup::need_root("mounting cgroup v1 controllers")?;
    for controller in &controllers {
        let target = Path::new(CGROUP_ROOT).join(controller);
        fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
        cmd::run(
            Command::new("mount")
                .args(["-t", "cgroup", "-o", controller, "cgroup"])
                .arg(&target),
        )?;
    }
    Ok(format!("mounted {} as v1", controllers.join(" ")))
}

/// Adds crun to Docker's runtimes in `/etc/docker/daemon.json` (other settings kept); returns
/// whether the file changed.
pub fn crun_in_daemon_json() -> Result<bool> {
    let path = Path::new(DAEMON_JSON);
    let mut config = match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .with_context(|| format!("{DAEMON_JSON} is not JSON; fix or remove it"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e).with_context(|| format!("reading {DAEMON_JSON}")),
    };
    if !with_crun(&mut config)? {
        return Ok(false);
    }
    crate::setup::need_root(&format!("writing {DAEMON_JSON}"))?;
    fs::create_dir_all("/etc/docker")?;
    let text = serde_json::to_string_pretty(&config).expect("a JSON value serializes") + "\n";
    write_atomically(path, &text)?;
    Ok(true)
}

/// `config` with `runtimes.crun` set to Debian's crun unless some crun is configured; whether it
/// changed.
fn with_crun(config: &mut Value) -> Result<bool> {
    let Some(object) = config.as_object_mut() else {
        bail!("{DAEMON_JSON} is not a JSON object");
    };
    let runtimes = object.entry("runtimes").or_insert_with(|| json!({}));
    let Some(runtimes) = runtimes.as_object_mut() else {
        bail!("`runtimes` in {DAEMON_JSON} is not an object");
    };
    if runtimes.contains_key("crun") {
        return Ok(false);
    }
    runtimes.insert("crun".into(), json!({ "path": CRUN }));
    Ok(true)
}

/// Makes the running dockerd list crun among its runtimes: it reads `runtimes` again on SIGHUP.
pub fn crun_in_dockerd() -> Result<String> {
    if docker_runtimes()?.contains("crun") {
        return Ok("crun is a runtime of Docker".into());
    }
    crate::setup::need_root("reloading dockerd")?;
    let pid = fs::read_to_string(DOCKER_PID).with_context(|| format!("reading {DOCKER_PID}"))?;
    cmd::run(Command::new("kill").args(["-HUP", pid.trim()]))?;
    let started = Instant::now();
    while started.elapsed() < WAIT {
        if docker_runtimes()?.contains("crun") {
            return Ok("dockerd reloaded: crun is a runtime of Docker".into());
        }
        sleep(Duration::from_millis(200));
    }
    bail!("dockerd does not list crun after SIGHUP; see {DAEMON_JSON}")
}

/// The names of Docker's runtimes.
fn docker_runtimes() -> Result<BTreeSet<String>> {
    let text = trace_tests::docker_ok(&["info", "--format", "{{json .Runtimes}}"])?;
    let runtimes: Value = serde_json::from_str(&text).context("docker info's runtimes")?;
    Ok(runtimes
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default())
}

/// Where root lacks `CAP_SYS_RESOURCE`, a `containers.conf` drop-in that gives Podman's
/// containers the limits this machine allows instead of 1048576 open files and processes.
pub fn podman_limits() -> Result<String> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    if has_capability(&status, CAP_SYS_RESOURCE) {
        return Ok("root may raise limits: Podman's defaults apply".into());
    }
    let text = limits_drop_in(
        hard_limit(libc::RLIMIT_NOFILE)?.min(PODMAN_DEFAULT_LIMIT),
        hard_limit(libc::RLIMIT_NPROC)?.min(PODMAN_NPROC),
    );
    if fs::read_to_string(PODMAN_LIMITS).is_ok_and(|old| old == text) {
        return Ok(format!("{PODMAN_LIMITS} in place"));
    }
    crate::setup::need_root(&format!("writing {PODMAN_LIMITS}"))?;
    let path = Path::new(PODMAN_LIMITS);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_atomically(path, &text)?;
    Ok(format!("wrote {PODMAN_LIMITS}"))
}

/// The drop-in's text for these hard limits.
fn limits_drop_in(nofile: u64, nproc: u64) -> String {
    format!(
        "# Written by cargo xtask setup: root here cannot raise a hard limit (no CAP_SYS_RESOURCE),\n\
         # so containers get the limits the machine has instead of Podman's 1048576.\n\
         [containers]\n\
         default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={nproc}:{nproc}\"]\n"
    )
}

/// Whether the `CapEff:` line of a `/proc/<pid>/status` text has capability `cap`.
fn has_capability(status: &str, cap: u32) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|set| set & (1 << cap) != 0)
}

/// This process's hard limit of `resource`.
fn hard_limit(resource: libc::__rlimit_resource_t) -> Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit to the valid pointer it is given.
    if unsafe { libc::getrlimit(resource, &raw mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit");
    }
    Ok(limit.rlim_max)
}

/// Starts Podman's Docker-compatible API service on its root socket unless it answers.
pub fn podman_service() -> Result<String> {
    if trace_tests::podman_answers() {
        return Ok(format!("answers on {PODMAN_SOCKET}"));
    }
    crate::setup::need_root("starting Podman's API service")?;
    fs::create_dir_all("/run/podman")?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(PODMAN_LOG)
        .with_context(|| format!("opening {PODMAN_LOG}"))?;
    // setsid: its own session, so it outlives xtask; --time=0: it never exits when idle.
    let mut command = Command::new("setsid");
    command
        .args(["podman", "system", "service", "--time=0"])
        .current_dir("/")
        .arg(format!("unix://{PODMAN_SOCKET}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    eprintln!(
        "setup: podman service: starting `{}` (log: {PODMAN_LOG})",
        cmd::show(&command)
    );
    let mut child = command.spawn().context("cannot start podman")?;
    let started = Instant::now();
    while started.elapsed() < WAIT {
        sleep(Duration::from_millis(250));
        if trace_tests::podman_answers() {
            return Ok(format!("started (pid {})", child.id()));
        }
        if let Some(status) = child.try_wait()? {
            bail!("podman system service exited ({status}); see {PODMAN_LOG}");
        }
    }
    bail!(
        "Podman's API service did not answer within {} s; see {PODMAN_LOG}",
        WAIT.as_secs()
    )
}

/// Writes `text` to `path` through a temporary file beside it, so no reader sees half of it.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    fs::set_permissions(
        file.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    file.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crun_is_added_once_and_other_settings_stay() {
        let mut config = json!({ "log-level": "warn", "runtimes": { "kata": { "path": "/k" } } });
        assert!(with_crun(&mut config).unwrap());
        assert_eq!(config["runtimes"]["crun"]["path"], CRUN);
        assert_eq!(config["runtimes"]["kata"]["path"], "/k");
        assert_eq!(config["log-level"], "warn");
        assert!(!with_crun(&mut config).unwrap());
        let mut empty = json!({});
        assert!(with_crun(&mut empty).unwrap());
        assert!(with_crun(&mut json!([])).is_err());
        assert!(with_crun(&mut json!({ "runtimes": 1 })).is_err());
    }

    #[test]
    fn capabilities_come_from_cap_eff() {
        // Root without CAP_SYS_RESOURCE (bit 24), as on the machines the project runs on.
        let status = "Name:\tx\nCapPrm:\t000001ffffffffff\nCapEff:\t000001fffeffffff\n";
        assert!(!has_capability(status, CAP_SYS_RESOURCE));
        assert!(has_capability(status, 21));
        assert!(has_capability(
            "CapEff:\t000001ffffffffff\n",
            CAP_SYS_RESOURCE
        ));
        assert!(!has_capability("Name:\tx\n", 0));
    }

    #[test]
    fn the_drop_in_names_both_limits() {
        let text = limits_drop_in(20_000, 32_768);
        assert!(text.contains("[containers]\n"), "{text}");
        assert!(
            text.ends_with("default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n"),
            "{text}"
        );
    }
}
