//! Who the container's processes are, and which of the programs it executed could raise
//! privileges: read from `/proc` while the container still runs (the end of a recording).

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, FromRawFd};
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

/// The privileges the regular file `program` carries in the container whose root is `root`;
/// `None` when it cannot be checked. The container is hostile: the file is opened with `openat2`
/// resolving inside `root` (`RESOLVE_IN_ROOT`: `..` and absolute symlinks stay in the container),
/// without magic links or a final symlink, then examined through the open descriptor.
fn file_privileges(root: &Path, program: &PathBytes) -> Option<BTreeSet<FilePrivilege>> {
    let root = std::fs::File::open(root).ok()?;
    let relative = program.as_ref().strip_prefix(b"/")?;
    let path = std::ffi::CString::new(relative).ok()?;
    // SAFETY: open_how is plain integers; all zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags =
        u64::try_from(libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .ok()?;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 reads `path` (NUL-terminated) and `how` (its size passed) and returns a new
    // descriptor or -1; neither pointer is kept.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &raw const how,
            size_of::<libc::open_how>(),
        )
    };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    let meta = file.metadata().ok()?;
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
    // SAFETY: a valid descriptor and a NUL-terminated name; a null buffer of size 0 only asks
    // for the value's size.
    let size = unsafe {
        libc::fgetxattr(
            file.as_raw_fd(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    if size >= 0 {
        privileges.insert(FilePrivilege::FileCapabilities);
    }
    Some(privileges)
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
