//! A container's cgroup v2 directory on the host, and the CPU time it has used.

use std::path::{Path, PathBuf};

use trace_common::cgroup::{cgroup2_mount, unified_path};

use anyhow::{Context, Result, bail};

/// The cgroup v2 directory of process `pid` on the host.
pub fn dir(pid: u32) -> Result<PathBuf> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("reading /proc/{pid}/cgroup"))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let (Some(rel), Some(mount)) = (unified_path(&cgroup), cgroup2_mount(&mountinfo)) else {
        bail!("process {pid} has no cgroup v2 path, or no cgroup2 is mounted");
    };
    Ok(mount.mount_point.join(rel.trim_start_matches('/')))
}

/// CPU time used by the processes of cgroup `dir` so far, in µs (`usage_usec` of `cpu.stat`,
/// which cgroup v2 keeps whether or not the cpu controller is enabled).
pub fn cpu_usage_us(dir: &Path) -> Result<u64> {
    let path = dir.join("cpu.stat");
    let stat =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    usage_usec(&stat).with_context(|| format!("no usage_usec in {}", path.display()))
}

/// The `usage_usec` line of a `cpu.stat` text.
fn usage_usec(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_directory_of_a_hybrid_host() {
        let cgroup = "12:pids:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n";
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
";
        assert_eq!(unified_path(cgroup), Some("/docker/abc"));
        assert_eq!(
            cgroup2_mount(mountinfo).unwrap().mount_point,
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn usage_is_read_from_cpu_stat() {
        let stat = "usage_usec 115099\nuser_usec 79373\nsystem_usec 35726\nnice_usec 0\n";
        assert_eq!(usage_usec(stat), Some(115_099));
        assert_eq!(usage_usec("user_usec 1\n"), None);
    }

    #[test]
    fn this_process_has_a_cgroup_with_cpu_time() {
        let Ok(dir) = dir(std::process::id()) else {
            eprintln!("skipped: this process has no cgroup v2 directory (no cgroup2 mounted)");
            return;
        };
        // Any cgroup v2 directory has cpu.stat; this process's has used some CPU already.
        assert!(cpu_usage_us(&dir).unwrap() > 0);
    }
}
