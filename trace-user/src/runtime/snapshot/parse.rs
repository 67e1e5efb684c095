//! The text formats of `/proc` a snapshot reads: `cgroup.procs`, `maps`, `fdinfo`, `mountinfo`
//! and descriptor link targets.

use super::DELETED;
use crate::recording::{Access, PathBytes};
use std::collections::BTreeSet;
use trace_common::open_flags::{O_ACCMODE, O_APPEND, O_DIRECTORY, O_PATH, O_RDWR, O_WRONLY};

/// The pids of a `cgroup.procs` text; lines that are not a pid are ignored.
pub(super) fn parse_procs(text: &[u8]) -> impl Iterator<Item = u32> + '_ {
    text.split(|&b| b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok()?.trim().parse().ok())
}

/// A path the kernel printed for an open file, if it names a file in the container: absolute,
/// not a pseudo file (`socket:[..]`, `pipe:[..]`, `anon_inode:..`, `[heap]`), not deleted.
pub(super) fn usable_path(target: &[u8]) -> Option<PathBytes> {
    (target.starts_with(b"/") && !target.ends_with(DELETED)).then(|| PathBytes::from(target))
}

/// [`usable_path`] for what must be a file: `/` alone is not one (runc's init shows its
/// executable so).
pub(super) fn file_path(target: &[u8]) -> Option<PathBytes> {
    usable_path(target).filter(|path| path.as_bytes() != b"/")
}

/// The file-backed mappings of a `/proc/<pid>/maps` text: (path, mapped executable), in order,
/// repeated as often as mapped. A line is `start-end perms offset dev inode` and, for a mapping
/// with a name, padding and the name (which may hold spaces; a newline is written `\012`).
pub(super) fn parse_maps(text: &[u8]) -> Vec<(PathBytes, bool)> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let mut fields = line.splitn(6, |&b| b == b' ');
        let perms = fields.nth(1).unwrap_or_default();
        let Some(rest) = fields.nth(3) else { continue };
        let name_start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
        let name = unescape_newlines(&rest[name_start..]);
        if let Some(path) = file_path(&name) {
            out.push((path, perms.get(2) == Some(&b'x')));
        }
    }
    out
}

/// Decodes `\012`, the one escape `maps` writes (for a newline in a path).
pub(super) fn unescape_newlines(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut rest = name;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(b"\\012") {
            out.push(b'\n');
            rest = after;
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// What `/proc/<pid>/fdinfo/<n>` says that matters here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FdInfo {
    /// The open flags (`flags:`, octal).
    pub(super) flags: u32,
    /// The mount the file is on (`mnt_id:`), in the process's namespace's numbering.
    pub(super) mnt_id: Option<u64>,
}

/// The `flags:` and `mnt_id:` of an fdinfo text; `None` without flags.
pub(super) fn parse_fdinfo(text: &[u8]) -> Option<FdInfo> {
    let text = std::str::from_utf8(text).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let flags = u32::from_str_radix(field("flags")?, 8).ok()?;
    let mnt_id = field("mnt_id").and_then(|id| id.parse().ok());
    Some(FdInfo { flags, mnt_id })
}

/// What an open descriptor with `flags` shows: its access mode (`Append` for writing with
/// `O_APPEND`); `List` for a directory opened with `O_DIRECTORY` (what opening one is for, and the
/// access that marks the path a directory); `Metadata` for an `O_PATH` file, none for an `O_PATH`
/// directory (neither reads anything).
pub(super) fn fd_accesses(flags: u32) -> &'static [Access] {
    let append = flags & O_APPEND != 0;
    match (flags & O_PATH != 0, flags & O_DIRECTORY != 0) {
        (true, true) => &[],
        (true, false) => &[Access::Metadata],
        (false, true) => &[Access::List],
        (false, false) => match flags & O_ACCMODE {
            O_WRONLY if append => &[Access::Append],
            O_WRONLY => &[Access::Write],
            O_RDWR if append => &[Access::Read, Access::Append],
            O_RDWR => &[Access::Read, Access::Write],
            // Mode 3 opens for ioctl only: a lookup, no data.
            O_ACCMODE => &[Access::Metadata],
            _ => &[Access::Read],
        },
    }
}

/// The mount ids (first field) of a `mountinfo` text.
pub(super) fn mount_ids(mountinfo: &[u8]) -> BTreeSet<u64> {
    mountinfo
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let id = line.split(|&b| b == b' ').next()?;
            std::str::from_utf8(id).ok()?.parse().ok()
        })
        .collect()
}
