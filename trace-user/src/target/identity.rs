//! Who the container's processes are, and which of the programs it executed could raise
//! privileges: read from `/proc` while the container still runs (the end of a recording).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::recording::{FilePrivilege, Identity, PathBytes};

/// The effective ids of the processes in the cgroup of `pid` (the container's main process), and
/// the file privileges of each program in `programs` (paths inside the container, after symlinks),
/// looked up under `/proc/<pid>/root`. `None` when `pid` is gone (the container stopped).
pub fn observe<'a>(
    pid: u32,
    programs: impl IntoIterator<Item = &'a PathBytes>,
) -> Option<Identity> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut identity = Identity::default();
    let pids = super::cgroup::of_process(pid)
        .ok()
        .and_then(|cgroup| std::fs::read_to_string(cgroup.dir.join("cgroup.procs")).ok())
        .map_or_else(
            || vec![pid],
            |procs| {
                procs
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect()
            },
        );
    for p in pids {
        let text = if p == pid {
            Some(status.clone())
        } else {
            std::fs::read_to_string(format!("/proc/{p}/status")).ok()
        };
        let Some((uid, gid)) = text.as_deref().and_then(effective_ids) else {
            continue;
        };
        identity.uids.insert(uid);
        identity.gids.insert(gid);
    }
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    for program in programs {
        match file_privileges(&root, program) {
            Some(privileges) if privileges.is_empty() => {}
            Some(privileges) => {
                identity
                    .privileged_programs
                    .insert(program.clone(), privileges);
            }
            None => {
                identity.unchecked_programs.insert(program.clone());
            }
        }
    }
    Some(identity)
}

/// The effective uid and gid from a `/proc/<pid>/status` text (second field of `Uid:`/`Gid:`).
pub fn effective_ids(status: &str) -> Option<(u32, u32)> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("Uid:")?, field("Gid:")?))
}

/// The privileges the regular file `program` carries under `root`; `None` when it cannot be
/// checked. The path is a resolved one (the probe records the executable after symlinks), and is
/// looked at without following a symlink in its last part, so nothing leads outside `root`.
fn file_privileges(root: &Path, program: &PathBytes) -> Option<BTreeSet<FilePrivilege>> {
    let relative = program.as_ref().strip_prefix(b"/")?;
    let path = root.join(OsStr::from_bytes(relative));
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut privileges = BTreeSet::new();
    if meta.mode() & libc::S_ISUID != 0 {
        privileges.insert(FilePrivilege::Setuid);
    }
    if meta.mode() & libc::S_ISGID != 0 && meta.mode() & libc::S_IXGRP != 0 {
        privileges.insert(FilePrivilege::Setgid);
    }
    if has_xattr(&path, c"security.capability") {
        privileges.insert(FilePrivilege::FileCapabilities);
    }
    Some(privileges)
}

/// Whether the file at `path` (not following a final symlink) has the extended attribute `name`.
fn has_xattr(path: &Path, name: &std::ffi::CStr) -> bool {
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: both strings are valid and NUL-terminated; a null buffer of size 0 only asks for
    // the value's size.
    let size = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    size >= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_ids_are_the_second_fields() {
        let status = "Name:\tnginx\nUid:\t0\t33\t33\t33\nGid:\t0\t34\t34\t34\n";
        assert_eq!(effective_ids(status), Some((33, 34)));
        assert_eq!(effective_ids("Name:\tx\n"), None);
    }
}
