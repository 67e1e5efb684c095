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

/// The first cgroup2 mount in the text of a `mountinfo` file.
pub fn cgroup2_mount(mountinfo: &str) -> Option<Cgroup2Mount> {
    mountinfo.lines().find_map(|line| {
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
