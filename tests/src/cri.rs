//! The CRI tests' containerd: a second containerd beside Docker's, with its CRI plugin, Debian's
//! CNI plugins and a root, state and socket of its own, which `cargo xtask setup` configures and
//! starts; the test images imported into its `k8s.io` namespace, where the CRI finds them; and the
//! cgroups a kubelet would make for a pod, with either cgroup driver.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, Result};

use crate::images::{TestImage, ensure_image};

/// The CRI socket of the tests' containerd.
pub const CRI_SOCKET: &str = "/run/trace-cri/containerd.sock";
/// The containerd namespace the CRI keeps its images and containers in.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// How a kubelet (and so the runtime) names the cgroups of pods and containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupDriver {
    /// systemd slices and scopes: `kubepods.slice/kubepods-besteffort.slice/
    /// kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope`.
    Systemd,
    /// Plain directories: `/kubepods/besteffort/pod<uid>/<id>`.
    Cgroupfs,
}

impl CgroupDriver {
    /// The driver of this host: systemd's when systemd runs (it owns the cgroup tree then), else
    /// cgroupfs. The tests' containerd is configured with it.
    pub fn of_host() -> Self {
        if Path::new("/run/systemd/system").is_dir() {
            Self::Systemd
        } else {
            Self::Cgroupfs
        }
    }

    /// The cgroup parent a kubelet gives a best-effort pod's sandbox in `RunPodSandbox`.
    pub fn pod_parent(self, uid: &str) -> String {
        match self {
            // The kubelet escapes `-` in the uid as `_`: `-` separates slice levels.
            Self::Systemd => format!("kubepods-besteffort-pod{}.slice", uid.replace('-', "_")),
            Self::Cgroupfs => format!("/kubepods/besteffort/pod{uid}"),
        }
    }

    /// The pod's cgroup in the v2 hierarchy, relative to its root, as the runtime makes it.
    pub fn pod_path(self, uid: &str) -> String {
        match self {
            Self::Systemd => format!(
                "kubepods.slice/kubepods-besteffort.slice/{}",
                self.pod_parent(uid)
            ),
            Self::Cgroupfs => self.pod_parent(uid).trim_start_matches('/').to_owned(),
        }
    }

    /// A container's cgroup below its pod's, as the runtime names it.
    pub fn container_leaf(self, id: &str) -> String {
        match self {
            Self::Systemd => format!("cri-containerd-{id}.scope"),
            Self::Cgroupfs => id.to_owned(),
        }
    }
}

/// Whether the tests' containerd answers on [`CRI_SOCKET`].
pub fn cri_answers() -> bool {
    // ctr waits 10 s for a socket that is not there.
    Path::new(CRI_SOCKET).exists()
        && Command::new("ctr")
            .args([
                "--address",
                CRI_SOCKET,
                "--connect-timeout",
                "2s",
                "version",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Imports test image `image` (built first when needed) into the tests' containerd, where the
/// CRI finds it, and returns its reference there (`docker.io/<tag>`). Once per process.
pub fn cri_image(image: TestImage) -> Result<String> {
    static IMPORTED: Mutex<Vec<TestImage>> = Mutex::new(Vec::new());
    let mut imported = IMPORTED.lock().unwrap_or_else(PoisonError::into_inner);
    let tag = ensure_image(image)?;
    if !imported.contains(&image) {
        import(&tag).with_context(|| format!("importing {tag} into the CRI's containerd"))?;
        imported.push(image);
    }
    Ok(format!("docker.io/{tag}"))
}

/// `docker save TAG | ctr -n k8s.io images import -`.
fn import(tag: &str) -> Result<()> {
    crate::docker::save_into(
        tag,
        Command::new("ctr")
            .args(["--address", CRI_SOCKET, "--namespace", CRI_NAMESPACE])
            .args(["images", "import", "-"]),
        "ctr images import",
    )
}

/// Removes what is left of a pod's cgroups once its sandbox is gone (the kubelet's work): the
/// pod's directory in every cgroup hierarchy, then its parents where they are empty.
pub fn remove_pod_cgroups(driver: CgroupDriver, uid: &str) {
    let path = driver.pod_path(uid);
    let mut levels: Vec<&str> = Vec::new();
    let mut rest = path.as_str();
    loop {
        levels.push(rest);
        match rest.rsplit_once('/') {
            Some((parent, _)) => rest = parent,
            None => break,
        }
    }
    for mount in cgroup_mounts() {
        for level in &levels {
            // Fails while something else still uses the directory: then it stays.
            let _ = std::fs::remove_dir(mount.join(level));
        }
    }
}

/// Where cgroup (v1) and cgroup2 hierarchies are mounted.
fn cgroup_mounts() -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mount_point = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "0c8a2b9e-51d6-4f0e-9d5a-3b1c2d4e5f60";

    #[test]
    fn cgroups_are_named_as_a_kubelet_names_them() {
        assert_eq!(
            CgroupDriver::Systemd.pod_parent(UID),
            "kubepods-besteffort-pod0c8a2b9e_51d6_4f0e_9d5a_3b1c2d4e5f60.slice"
        );
        assert_eq!(
            CgroupDriver::Systemd.pod_path(UID),
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0c8a2b9e_51d6_4f0e_9d5a_3b1c2d4e5f60.slice"
        );
        assert_eq!(
            CgroupDriver::Cgroupfs.pod_parent(UID),
            format!("/kubepods/besteffort/pod{UID}")
        );
        assert_eq!(
            CgroupDriver::Cgroupfs.pod_path(UID),
            format!("kubepods/besteffort/pod{UID}")
        );
        assert_eq!(
            CgroupDriver::Systemd.container_leaf("ab"),
            "cri-containerd-ab.scope"
        );
        assert_eq!(CgroupDriver::Cgroupfs.container_leaf("ab"), "ab");
    }
}
