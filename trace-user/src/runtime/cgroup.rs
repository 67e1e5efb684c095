//! Finding a process's cgroup v2 directory and id, on unified (pure v2) and hybrid hosts.
//!
//! The id the kernel's `bpf_get_current_cgroup_id()` returns is the inode number of the cgroup's
//! directory in the cgroup2 filesystem. The directory is the `0::` line of `/proc/<pid>/cgroup`
//! joined to where cgroup2 is mounted (`/sys/fs/cgroup` on unified hosts,
//! `/sys/fs/cgroup/unified` on hybrid ones), found in `/proc/self/mountinfo`.
//!
//! Assumes trace runs in the host's cgroup namespace (as root on the host does): the level of the
//! cgroup is then the number of components of its path.
//!
//! A container's cgroup is the one named by its id, which is not always the cgroup its processes
//! run in: crun under a systemd driver (Podman on a systemd host) moves them into a `container`
//! child of `libpod-<id>.scope`. The target is the cgroup named by the id ([`container_path`]):
//! the probe records its descendants too, and it is the one new containers are caught at
//! (`trace_common::CgroupRecord`), so running and new containers are at the same level.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use trace_common::cgroup::{Cgroup2Mount, cgroup2_mount, unified_path};

/// A cgroup v2 to trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupV2 {
    /// Its directory in the cgroup2 filesystem.
    pub dir: PathBuf,
    /// Its id (the directory's inode number).
    pub id: u64,
    /// Its depth below the root (root is 0).
    pub level: u32,
}

/// Why a cgroup could not be found.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A /proc file could not be read (the process may have exited).
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No `0::` line: the process is not in a cgroup v2 hierarchy.
    #[error(
        "process {pid} has no cgroup v2 membership (no \"0::\" line in /proc/{pid}/cgroup); trace needs a cgroup v2 hierarchy (unified or hybrid mode)"
    )]
    NoUnifiedLine {
        /// The process.
        pid: u32,
    },
    /// cgroup2 is not mounted.
    #[error(
        "no cgroup2 file system is mounted (see /proc/self/mountinfo); mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified`"
    )]
    NoMount,
    /// The cgroup path is not under the mounted root.
    #[error(
        "cgroup {path} is outside the cgroup2 mount's root {root}; is trace running in another cgroup namespace?"
    )]
    OutsideMount {
        /// The process's cgroup path.
        path: String,
        /// The mount's root.
        root: String,
    },
}

/// The directory and level of cgroup `path` under `mount`.
pub fn locate(path: &str, mount: &Cgroup2Mount) -> Result<(PathBuf, u32), CgroupError> {
    let outside = || CgroupError::OutsideMount {
        path: path.to_owned(),
        root: mount.root.clone(),
    };
    let root = mount.root.trim_end_matches('/');
    let below = path.strip_prefix(root).ok_or_else(outside)?;
    if !(below.is_empty() || below.starts_with('/')) {
        return Err(outside());
    }
    let relative = below.trim_start_matches('/');
    let level = path.split('/').filter(|c| !c.is_empty()).count();
    let level = u32::try_from(level).map_err(|_| outside())?;
    Ok((mount.mount_point.join(relative), level))
}

fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The cgroup v2 of process `pid`, as seen from this process's mount namespace.
pub fn of_process(pid: u32) -> Result<CgroupV2, CgroupError> {
    of_process_within(pid, None)
}

/// The cgroup v2 of the container `container_id` whose process is `pid`: the deepest cgroup on
/// the process's path named by the id ([`container_path`]), else the process's own.
pub fn of_container(pid: u32, container_id: &str) -> Result<CgroupV2, CgroupError> {
    of_process_within(pid, Some(container_id))
}

/// The path of a container's cgroup on the cgroup path `path` of one of its processes: the path
/// up to its deepest component named by `container_id` (`<id>`, `<prefix>-<id>`,
/// `<prefix>-<id>.scope`); `path` itself when no component is. Docker's `/docker/<id>` and
/// `/system.slice/docker-<id>.scope` are their own; Podman with crun under systemd,
/// `/machine.slice/libpod-<id>.scope/container`, is `/machine.slice/libpod-<id>.scope`.
pub fn container_path<'a>(path: &'a str, container_id: &str) -> &'a str {
    if container_id.is_empty() {
        return path;
    }
    let named = |component: &str| {
        let name = component.strip_suffix(".scope").unwrap_or(component);
        name.strip_suffix(container_id)
            .is_some_and(|prefix| prefix.is_empty() || prefix.ends_with('-'))
    };
    let mut end = None;
    let mut at = 0;
    for component in path.split('/') {
        at += component.len();
        if !component.is_empty() && named(component) {
            end = Some(at);
        }
        at += 1;
    }
    end.map_or(path, |end| &path[..end])
}

fn of_process_within(pid: u32, container_id: Option<&str>) -> Result<CgroupV2, CgroupError> {
    let proc_cgroup = read(&PathBuf::from(format!("/proc/{pid}/cgroup")))?;
    let path = unified_path(&proc_cgroup).ok_or(CgroupError::NoUnifiedLine { pid })?;
    let path = container_id.map_or(path, |id| container_path(path, id));
    let mount =
        cgroup2_mount(&read(Path::new("/proc/self/mountinfo"))?).ok_or(CgroupError::NoMount)?;
    let (dir, level) = locate(path, &mount)?;
    let id = std::fs::metadata(&dir)
        .map_err(|source| CgroupError::Read {
            path: dir.clone(),
            source,
        })?
        .ino();
    Ok(CgroupV2 { dir, id, level })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_CGROUP: &str = "12:pids:/docker/4f1c\n11:memory:/docker/4f1c\n1:name=systemd:/docker/4f1c\n0::/docker/4f1c\n";
    const UNIFIED_CGROUP: &str = "0::/system.slice/docker-4f1c.scope\n";
    const HYBRID_MOUNTINFO: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 24 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
34 33 0:28 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 33 0:29 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
";
    const UNIFIED_MOUNTINFO: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 24 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn finds_the_unified_line_on_hybrid_and_unified_hosts() {
        assert_eq!(unified_path(HYBRID_CGROUP), Some("/docker/4f1c"));
        assert_eq!(
            unified_path(UNIFIED_CGROUP),
            Some("/system.slice/docker-4f1c.scope")
        );
        assert_eq!(unified_path("3:cpu:/docker/x\n"), None);
    }

    /// Where the engines put a container (its id `ID`) under the cgroupfs and systemd drivers,
    /// and where its processes run.
    #[test]
    fn the_container_s_cgroup_is_the_one_named_by_its_id() {
        const ID: &str = "4f1c8a9e0b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e";
        for (process, container) in [
            // Docker, cgroupfs and systemd drivers.
            (format!("/docker/{ID}"), format!("/docker/{ID}")),
            (
                format!("/system.slice/docker-{ID}.scope"),
                format!("/system.slice/docker-{ID}.scope"),
            ),
            // Podman with crun, cgroupfs: no child.
            (
                format!("/libpod_parent/libpod-{ID}"),
                format!("/libpod_parent/libpod-{ID}"),
            ),
            // Podman with crun, systemd: crun's `container` child.
            (
                format!("/machine.slice/libpod-{ID}.scope/container"),
                format!("/machine.slice/libpod-{ID}.scope"),
            ),
            // containerd's CRI, systemd and cgroupfs.
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b.slice/cri-containerd-{ID}.scope"
                ),
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b.slice/cri-containerd-{ID}.scope"
                ),
            ),
            (
                format!("/kubepods/besteffort/pod1a2b/{ID}"),
                format!("/kubepods/besteffort/pod1a2b/{ID}"),
            ),
        ] {
            assert_eq!(container_path(&process, ID), container, "{process}");
        }
        // No component is named by the id (a --cgroup-parent of one's own, a cgroup namespace):
        // the process's own cgroup.
        assert_eq!(container_path("/custom/app", ID), "/custom/app");
        // A longer id that ends with this one's digits names another container.
        assert_eq!(
            container_path(&format!("/docker/0{ID}"), ID),
            format!("/docker/0{ID}")
        );
        assert_eq!(
            container_path(&format!("/x/ab{ID}.scope/y"), ID),
            format!("/x/ab{ID}.scope/y")
        );
        assert_eq!(container_path("/docker/abc", ""), "/docker/abc");
    }

    #[test]
    fn finds_the_cgroup2_mount() {
        let hybrid = cgroup2_mount(HYBRID_MOUNTINFO).unwrap();
        assert_eq!(hybrid.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(hybrid.root, "/");
        let unified = cgroup2_mount(UNIFIED_MOUNTINFO).unwrap();
        assert_eq!(unified.mount_point, Path::new("/sys/fs/cgroup"));
        assert_eq!(
            cgroup2_mount("24 30 0:22 / /sys rw - sysfs sysfs rw\n"),
            None
        );
    }

    #[test]
    fn joins_path_and_mount_and_counts_the_level() {
        let hybrid = cgroup2_mount(HYBRID_MOUNTINFO).unwrap();
        let (dir, level) = locate("/docker/4f1c", &hybrid).unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/unified/docker/4f1c"));
        assert_eq!(level, 2);
        let unified = cgroup2_mount(UNIFIED_MOUNTINFO).unwrap();
        let (dir, level) = locate("/system.slice/docker-4f1c.scope", &unified).unwrap();
        assert_eq!(
            dir,
            Path::new("/sys/fs/cgroup/system.slice/docker-4f1c.scope")
        );
        assert_eq!(level, 2);
        assert_eq!(
            locate("/", &unified).unwrap(),
            (PathBuf::from("/sys/fs/cgroup"), 0)
        );
    }

    #[test]
    fn honours_a_mount_root_and_rejects_paths_outside_it() {
        let mount = Cgroup2Mount {
            mount_point: PathBuf::from("/cg"),
            root: "/docker".into(),
        };
        assert_eq!(
            locate("/docker/abc", &mount).unwrap(),
            (PathBuf::from("/cg/abc"), 2)
        );
        assert!(matches!(
            locate("/dockerx/abc", &mount),
            Err(CgroupError::OutsideMount { .. })
        ));
        assert!(matches!(
            locate("/other", &mount),
            Err(CgroupError::OutsideMount { .. })
        ));
    }

    #[test]
    fn decodes_escaped_mount_points() {
        let info = "40 33 0:40 / /mnt/cg\\040two rw - cgroup2 none rw\n";
        assert_eq!(
            cgroup2_mount(info).unwrap().mount_point,
            Path::new("/mnt/cg two")
        );
        // A backslash is `\134`; `\777` is more than a byte and stays as it is.
        let info = "40 33 0:40 / /mnt/a\\134b\\777 rw - cgroup2 none rw\n";
        assert_eq!(
            cgroup2_mount(info).unwrap().mount_point,
            Path::new("/mnt/a\\b\\777")
        );
    }
}
