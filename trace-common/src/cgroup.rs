//! The cgroup v2 facts in `/proc` text (userspace only): a process's path in the unified
//! hierarchy (the `0::` line of `/proc/<pid>/cgroup`) and where cgroup2 is mounted (a
//! `mountinfo` line of type `cgroup2`). Parsing only: the reading is the caller's.

use std::path::PathBuf;
use std::string::String;
use std::vec::Vec;

/// Where cgroup2 is mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup2Mount {
    /// The mount point.
    pub mount_point: PathBuf,
    /// The cgroup path mounted there (usually `/`).
    pub root: String,
}

/// The cgroup v2 path of a process from the text of `/proc/<pid>/cgroup` (the `0::` line).
pub fn unified_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::trim_end)
}

/// The cgroup2 mount of the whole hierarchy (root `/`) in the text of a `mountinfo` file, else the
/// first cgroup2 mount. In a container the runtime's mount of the container's own cgroup comes
/// first, and the host's hierarchy mounted over it later.
pub fn cgroup2_mount(mountinfo: &str) -> Option<Cgroup2Mount> {
    let mut mounts = cgroup2_mounts(mountinfo);
    let whole = mounts.iter().position(|m| m.root == "/").unwrap_or(0);
    (!mounts.is_empty()).then(|| mounts.swap_remove(whole))
}

/// Every cgroup2 mount in the text of a `mountinfo` file, in its order.
fn cgroup2_mounts(mountinfo: &str) -> Vec<Cgroup2Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            // id parent major:minor root mount-point options [optional...] - fstype source super-options
            let (left, right) = line.split_once(" - ")?;
            if right.split(' ').next()? != "cgroup2" {
                return None;
            }
            let mut fields = left.split(' ');
            let root = fields.nth(3)?;
            let mount_point = fields.next()?;
            Some(Cgroup2Mount {
                mount_point: PathBuf::from(unescape(mount_point)),
                root: unescape(root),
            })
        })
        .collect()
}

/// Decodes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let Some(digits) = octal {
            let value = digits
                .iter()
                .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            // Three octal digits can exceed a byte (\777): keep such text as it is.
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_hierarchy_is_preferred_to_a_containers_own_cgroup() {
        // In a pod: the runtime's cgroup2 mount of the pod's own cgroup, then the node's
        // hierarchy (a hostPath volume) mounted over it.
        let info = "\
700 690 0:30 /kubepods/besteffort/pod1/cri-containerd-ab.scope /sys/fs/cgroup ro - cgroup2 cgroup rw
701 700 0:30 / /sys/fs/cgroup ro,relatime - cgroup2 cgroup2 rw
";
        let mount = cgroup2_mount(info).unwrap();
        assert_eq!(mount.root, "/");
        assert_eq!(mount.mount_point, PathBuf::from("/sys/fs/cgroup"));
        let only_own = "700 690 0:30 /a /sys/fs/cgroup ro - cgroup2 cgroup rw\n";
        assert_eq!(cgroup2_mount(only_own).unwrap().root, "/a");
        assert_eq!(cgroup2_mount(""), None);
    }
}
