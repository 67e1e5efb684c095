//! The CRI tests' containerd: a second containerd beside the one Docker runs, with its CRI plugin
//! on, Debian's CNI plugins for pod networks, and a root, state, socket and configuration of its
//! own ([`trace_tests::CRI_SOCKET`]).
//!
//! A second daemon rather than Docker's: dockerd starts its own containerd with a configuration
//! it writes itself (`/var/run/docker/containerd/containerd.toml`) and restarts it at will, and a
//! kubelet-like client must neither see nor disturb Docker's containers. A host's own containerd
//! (at `/run/containerd/containerd.sock`, which a kubelet uses) is left alone too.

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use trace_tests::{CRI_SOCKET, CgroupDriver, TestImage, cri_answers, cri_image};

use crate::cmd;

const CONFIG: &str = "/etc/trace-cri/containerd.toml";
const CNI_CONFLIST: &str = "/etc/trace-cri/net.d/10-trace-cri.conflist";
const PID_FILE: &str = "/run/trace-cri/containerd.pid";
const LOG: &str = "/var/log/trace-cri-containerd.log";
const WAIT: Duration = Duration::from_secs(30);

/// The pod network: a bridge of its own and addresses no other network here uses. No masquerade
/// and no port maps: the tests' pods talk to nothing outside this host.
const CNI: &str = r#"{
  "cniVersion": "0.4.0",
  "name": "trace-cri",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "trace-cri0",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.250.0/24"}]]}
    }
  ]
}
"#;

/// The configuration: its own root, state and sockets; the CRI plugin with the local pause image
/// (nothing is ever pulled), no OOM score below its own, runc with the host's cgroup driver, the
/// CNI plugins Debian installs in /usr/lib/cni.
fn config(driver: CgroupDriver) -> String {
    format!(
        r#"# Written by cargo xtask setup: the containerd of trace's CRI tests.
version = 2
root = "/var/lib/trace-cri/root"
state = "/run/trace-cri/state"

[grpc]
  address = "{CRI_SOCKET}"

[ttrpc]
  address = "{CRI_SOCKET}.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/trace-cri/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "docker.io/{pause}"
    # No oom_score_adj below containerd's own (0): the sandbox's -998 needs CAP_SYS_RESOURCE,
    # which a machine that is itself a sandbox may lack (runc then fails to start the pod).
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = {systemd}
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/trace-cri/net.d"
"#,
        pause = TestImage::Pause.tag(),
        systemd = driver == CgroupDriver::Systemd,
    )
}

/// Writes the configuration, (re)starts the daemon when it does not answer or its configuration
/// changed, and imports the pause image.
pub fn containerd() -> Result<String> {
    let driver = CgroupDriver::of_host();
    let changed = write_if_changed(Path::new(CONFIG), &config(driver))?
        | write_if_changed(Path::new(CNI_CONFLIST), CNI)?;
    let mut outcome = format!("running at {CRI_SOCKET}");
    if changed && cri_answers() {
        stop()?;
    }
    if !cri_answers() {
        outcome = start()?;
    }
    cri_image(TestImage::Pause)?;
    Ok(format!("{outcome}, {driver:?} cgroup driver"))
}

/// Writes `contents` to `path` unless it holds them already; whether it wrote.
fn write_if_changed(path: &Path, contents: &str) -> Result<bool> {
    if fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    crate::setup::need_root(&format!("writing {}", path.display()))?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// Starts the daemon in a session of its own (it outlives xtask) and waits until it answers.
fn start() -> Result<String> {
    crate::setup::need_root("starting the CRI's containerd")?;
    fs::create_dir_all("/run/trace-cri")?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(LOG)
        .with_context(|| format!("opening {LOG}"))?;
    let mut command = Command::new("setsid");
    command
        .args(["containerd", "--config", CONFIG])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    eprintln!(
        "setup: containerd (CRI): starting `{}` (log: {LOG})",
        cmd::show(&command)
    );
    let mut child = command.spawn().context("cannot start containerd")?;
    fs::write(PID_FILE, child.id().to_string())?;
    let started = Instant::now();
    while started.elapsed() < WAIT {
        sleep(Duration::from_millis(250));
        if cri_answers() {
            return Ok(format!("started (pid {}) at {CRI_SOCKET}", child.id()));
        }
        if let Some(status) = child.try_wait()? {
            bail!("containerd exited ({status}): {}", log_tail());
        }
    }
    bail!(
        "containerd did not answer within {} s: {}",
        WAIT.as_secs(),
        log_tail()
    )
}

/// Stops the daemon this setup started (its pid file names it), to start it with a new
/// configuration; its containers' shims keep running and are found again.
fn stop() -> Result<()> {
    let pid: i32 = fs::read_to_string(PID_FILE)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .with_context(|| {
            format!("the configuration changed, but {PID_FILE} does not name the running containerd: stop it and run setup again")
        })?;
    eprintln!("setup: containerd (CRI): its configuration changed, restarting pid {pid}");
    // SAFETY: kill(2) on the pid this setup recorded when it started the daemon.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let started = Instant::now();
    while cri_answers() || Path::new(&format!("/proc/{pid}")).exists() {
        if started.elapsed() > WAIT {
            bail!(
                "containerd (pid {pid}) did not stop within {} s",
                WAIT.as_secs()
            );
        }
        sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// The last line of the daemon's log, for an error message.
fn log_tail() -> String {
    let log = fs::read_to_string(LOG).unwrap_or_default();
    let last = log.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    format!("last line of {LOG}: {last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_follows_the_cgroup_driver() {
        let systemd = config(CgroupDriver::Systemd);
        assert!(systemd.contains("SystemdCgroup = true"), "{systemd}");
        let cgroupfs = config(CgroupDriver::Cgroupfs);
        assert!(cgroupfs.contains("SystemdCgroup = false"), "{cgroupfs}");
        assert!(cgroupfs.contains(r#"sandbox_image = "docker.io/trace-test/pause:local""#));
        assert!(cgroupfs.contains(&format!(r#"address = "{CRI_SOCKET}""#)));
        let cni: serde_json::Value = serde_json::from_str(CNI).unwrap();
        assert_eq!(cni["plugins"][0]["type"], "bridge");
    }
}
