//! The files a running container's processes still show in /proc: what attaching misses.
//!
//! Attaching to a running container misses its startup: the programs it executed, the libraries it
//! loaded, the files it opened and still holds. For every process of a cgroup v2 (and of the cgroups
//! below it, from their `cgroup.procs`) this reads `readlink /proc/<pid>/exe` (`exec`),
//! `/proc/<pid>/maps` (`mmap_exec` for executable mappings, else `read`), `readlink
//! /proc/<pid>/fd/<n>` with the `flags:` of `/proc/<pid>/fdinfo/<n>` (`read`, `write`, `append`;
//! `list` for a directory opened with `O_DIRECTORY`, `metadata` for an `O_PATH` descriptor) and
//! `readlink /proc/<pid>/cwd` (`chdir`).
//!
//! **Container paths.** The kernel writes these paths relative to the reader's root; a file that
//! root cannot reach (every file of a container, which lives in its own mount namespace) is written
//! from the root of its namespace: the path inside the container (read from the host, a python
//! container shows `/usr/bin/python3.11`, `/usr/lib/x86_64-linux-gnu/libc.so.6`, `/srv`, never
//! `/var/lib/docker/overlay2/...`). Host paths show only for files of trace's own namespace; they
//! are left out: processes sharing trace's mount namespace (a host process that took the pid of one
//! that exited meanwhile included); descriptors whose `mnt_id` is not a
//! mount of the process's namespace (`docker exec` hands the process the host's `/dev/null`);
//! runc's init process while `docker exec` starts (`comm` `runc:[...]`: its executable reads `/`
//! and its maps list the host's libraries). Nothing is opened or stat'ed through
//! `/proc/<pid>/root`: absolute symlinks inside the container would resolve on the host.
//!
//! **What it cannot see.** Files opened and closed before, mappings and programs that are gone,
//! lookups that opened nothing (`stat`, `access`), directories listed and closed, creation (the
//! kernel drops `O_CREAT` and `O_TRUNC` from the flags once a file is open), deleted files
//! (`... (deleted)`, so a real name ending so is skipped too), the working directory of a thread
//! that left its process's, processes that start between the listing and the reading. `maps`
//! escapes a newline as `\012` but leaves a backslash as it is, so a name holding the text `\012`
//! reads as one holding a newline.
//!
//! **By hand, not `procfs`.** The `procfs` crate reads `maps` as UTF-8 text, trims the path and
//! keeps `\012` as it is: names that are not UTF-8, end in a space or hold a newline would be lost
//! or changed. The four formats read here are small and parsed below on raw bytes.
//!
//! Bounded, as a hostile container could hold any number of processes, mappings and descriptors:
//! at most [`MAX_PROCESSES`] processes, [`MAX_FILES`] results, [`MAX_CGROUP_DEPTH`] levels and
//! [`MAX_CGROUPS`] cgroups, and a fixed budget of descriptors and `maps` bytes; what lies past a
//! bound is left out with a warning. Blocking file I/O: call it from a blocking thread.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use trace_common::open_flags::{O_ACCMODE, O_APPEND, O_DIRECTORY, O_PATH, O_RDWR, O_WRONLY};

use crate::recording::{Access, PathBytes};

/// At most this many processes are read.
pub const MAX_PROCESSES: usize = 4096;
/// At most this many files are returned.
pub const MAX_FILES: usize = 65_536;
/// Cgroups deeper than this below the container's are not read.
pub const MAX_CGROUP_DEPTH: usize = 16;
/// At most this many cgroup directories are read.
pub const MAX_CGROUPS: usize = 4096;
/// At most this many descriptors are looked at, over all processes.
const MAX_DESCRIPTORS: usize = 65_536;
/// At most this many bytes of `maps` are read, over all processes.
const MAX_MAPS_BYTES: u64 = 64 << 20;
/// At most this many bytes of one `cgroup.procs`, `mountinfo` or `fdinfo` are read.
const MAX_SMALL_FILE_BYTES: u64 = 4 << 20;

/// The suffix the kernel adds to the path of a file that was unlinked.
const DELETED: &[u8] = b" (deleted)";

/// One file found in /proc of a running container's processes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FoundFile {
    /// The path inside the container.
    pub path: PathBytes,
    /// What it shows the container did: `Access::Exec` (a process's executable), `Access::MmapExec`
    /// (mapped executable: libraries, the loader), `Access::Read` (mapped without exec, or an fd
    /// open for reading), `Access::Write` / `Access::Append` (an fd open for writing, with
    /// `O_APPEND`), `Access::Chdir` (a working directory; a directory), `Access::List` (an fd open
    /// on a directory with `O_DIRECTORY`), `Access::Metadata` (an `O_PATH` fd on a file).
    pub access: Access,
}

/// Why a cgroup's processes could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The cgroup's `cgroup.procs` could not be read.
    #[error("cannot read the process list {}", .path.display())]
    Procs {
        /// The `cgroup.procs` file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The cgroup's directory could not be listed (for the cgroups below it).
    #[error("cannot list the cgroup directory {}", .path.display())]
    List {
        /// The cgroup directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The files the processes of the cgroup `dir` (and of every cgroup below it) show in /proc, sorted
/// and deduplicated. Processes that exit meanwhile are skipped. Bounded: at most [`MAX_PROCESSES`]
/// processes and [`MAX_FILES`] results, so a hostile container cannot make trace do unbounded work.
pub fn of_cgroup(dir: &Path) -> Result<Vec<FoundFile>, SnapshotError> {
    let own_namespace = std::fs::read_link("/proc/self/ns/mnt")
        .ok()
        .map(PathBuf::into_os_string);
    if own_namespace.is_none() {
        log::warn!("cannot read /proc/self/ns/mnt: processes of trace's mount namespace are kept");
    }
    scan(dir, own_namespace.as_ref())
}

/// [`of_cgroup`], leaving out the processes whose mount namespace (`readlink
/// /proc/<pid>/ns/mnt`) is `skip_namespace`.
fn scan(dir: &Path, skip_namespace: Option<&OsString>) -> Result<Vec<FoundFile>, SnapshotError> {
    let pids = cgroup_pids(dir)?;
    let mut found = Found::default();
    for pid in pids {
        if found.full {
            break;
        }
        process(pid, skip_namespace, &mut found);
    }
    Ok(found.files.into_iter().collect())
}

/// What was found so far, and what is left of the budgets.
struct Found {
    files: BTreeSet<FoundFile>,
    full: bool,
    descriptors_left: usize,
    maps_bytes_left: u64,
}

impl Default for Found {
    fn default() -> Self {
        Found {
            files: BTreeSet::new(),
            full: false,
            descriptors_left: MAX_DESCRIPTORS,
            maps_bytes_left: MAX_MAPS_BYTES,
        }
    }
}

impl Found {
    fn add(&mut self, path: PathBytes, access: Access) {
        let file = FoundFile { path, access };
        if self.files.len() < MAX_FILES {
            self.files.insert(file);
        } else if !self.full && !self.files.contains(&file) {
            self.full = true;
            log::warn!("snapshot of /proc: more than {MAX_FILES} files; the rest is left out");
        }
    }
}

/// The pids in `cgroup.procs` of `dir` and of the cgroups below it (depth first, in name order;
/// symlinks are not followed), each once, at most [`MAX_PROCESSES`].
fn cgroup_pids(dir: &Path) -> Result<Vec<u32>, SnapshotError> {
    let mut pids = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    let mut cgroups = 0usize;
    while let Some((cgroup, depth)) = stack.pop() {
        cgroups += 1;
        if cgroups > MAX_CGROUPS {
            log::warn!("snapshot of /proc: more than {MAX_CGROUPS} cgroups; the rest is left out");
            break;
        }
        let top = depth == 0;
        let procs = cgroup.join("cgroup.procs");
        match read_bounded(&procs, MAX_SMALL_FILE_BYTES, true) {
            Ok(text) => {
                for pid in parse_procs(&text) {
                    if pids.len() == MAX_PROCESSES {
                        log::warn!(
                            "snapshot of /proc: more than {MAX_PROCESSES} processes; the rest is left out"
                        );
                        return Ok(pids);
                    }
                    if seen.insert(pid) {
                        pids.push(pid);
                    }
                }
            }
            Err(source) if top => {
                return Err(SnapshotError::Procs {
                    path: procs,
                    source,
                });
            }
            // A cgroup below may be removed meanwhile, or be threaded (no readable process list).
            Err(_) => {}
        }
        if depth == MAX_CGROUP_DEPTH {
            continue;
        }
        let entries = match std::fs::read_dir(&cgroup) {
            Ok(entries) => entries,
            Err(source) if top => {
                return Err(SnapshotError::List {
                    path: cgroup,
                    source,
                });
            }
            Err(_) => continue,
        };
        // `file_type` does not follow symlinks: a symlink is not a directory here.
        let mut below: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
            .map(|entry| entry.path())
            .collect();
        below.sort();
        // Reversed onto the stack so the first name is read first.
        stack.extend(below.into_iter().rev().map(|path| (path, depth + 1)));
    }
    Ok(pids)
}

/// Reads what process `pid` shows into `found`; a process that is gone, or that is skipped (see
/// the module doc), adds nothing.
fn process(pid: u32, skip_namespace: Option<&OsString>, found: &mut Found) {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let Ok(namespace) = std::fs::read_link(proc.join("ns/mnt")) else {
        return;
    };
    if skip_namespace == Some(&namespace.into_os_string()) {
        log::debug!("snapshot of /proc: process {pid} shares trace's mount namespace, skipped");
        return;
    }
    let Ok(comm) = read_bounded(&proc.join("comm"), 64, false) else {
        return;
    };
    if comm.starts_with(b"runc:[") {
        log::debug!("snapshot of /proc: process {pid} is runc's init, skipped");
        return;
    }
    if let Some(exe) = link(&proc.join("exe")).and_then(|target| file_path(&target)) {
        found.add(exe, Access::Exec);
    }
    if let Some(cwd) = link(&proc.join("cwd")).and_then(|target| usable_path(&target)) {
        found.add(cwd, Access::Chdir);
    }
    maps(&proc, found);
    descriptors(&proc, found);
}

/// The mappings of the process at `proc`.
fn maps(proc: &Path, found: &mut Found) {
    if found.maps_bytes_left == 0 {
        return;
    }
    let Ok(mut text) = read_bounded(&proc.join("maps"), found.maps_bytes_left, false) else {
        return;
    };
    let read = text.len() as u64;
    if read == found.maps_bytes_left {
        log::warn!(
            "snapshot of /proc: more than {MAX_MAPS_BYTES} bytes of maps; the rest is left out"
        );
        // The last line may be cut.
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        text.truncate(whole);
    }
    found.maps_bytes_left -= read;
    for (path, executable) in parse_maps(&text) {
        let access = if executable {
            Access::MmapExec
        } else {
            Access::Read
        };
        found.add(path, access);
    }
}

/// The open descriptors of the process at `proc`.
fn descriptors(proc: &Path, found: &mut Found) {
    let Ok(entries) = std::fs::read_dir(proc.join("fd")) else {
        return;
    };
    // The mounts of the process's namespace, read at the first descriptor that names a file.
    let mut mounts: Option<BTreeSet<u64>> = None;
    for entry in entries.filter_map(Result::ok) {
        if found.full {
            return;
        }
        if found.descriptors_left == 0 {
            log::warn!(
                "snapshot of /proc: more than {MAX_DESCRIPTORS} descriptors; the rest is left out"
            );
            return;
        }
        found.descriptors_left -= 1;
        let name = entry.file_name();
        let Some(path) = link(&entry.path()).and_then(|target| usable_path(&target)) else {
            continue;
        };
        let Ok(info) = read_bounded(
            &proc.join("fdinfo").join(&name),
            MAX_SMALL_FILE_BYTES,
            false,
        ) else {
            continue;
        };
        let Some(info) = parse_fdinfo(&info) else {
            continue;
        };
        if mounts.is_none() {
            let Ok(mountinfo) = read_bounded(&proc.join("mountinfo"), MAX_SMALL_FILE_BYTES, false)
            else {
                return;
            };
            mounts = Some(mount_ids(&mountinfo));
        }
        // A file of another namespace (handed in from the host): its path is not the container's.
        if info
            .mnt_id
            .is_some_and(|id| mounts.as_ref().is_some_and(|m| !m.contains(&id)))
        {
            continue;
        }
        for &access in fd_accesses(info.flags) {
            found.add(path.clone(), access);
        }
    }
}

/// The target of the symlink `path`, as bytes.
fn link(path: &Path) -> Option<Vec<u8>> {
    std::fs::read_link(path)
        .ok()
        .map(|target| target.into_os_string().into_vec())
}

/// Up to `limit` bytes of the file `path`; with `no_follow`, a symlink is refused.
fn read_bounded(path: &Path, limit: u64, no_follow: bool) -> std::io::Result<Vec<u8>> {
    let mut options = OpenOptions::new();
    options.read(true);
    if no_follow {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file: File = options.open(path)?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The pids of a `cgroup.procs` text; lines that are not a pid are ignored.
fn parse_procs(text: &[u8]) -> impl Iterator<Item = u32> + '_ {
    text.split(|&b| b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok()?.trim().parse().ok())
}

/// A path the kernel printed for an open file, if it names a file in the container: absolute,
/// not a pseudo file (`socket:[..]`, `pipe:[..]`, `anon_inode:..`, `[heap]`), not deleted.
fn usable_path(target: &[u8]) -> Option<PathBytes> {
    (target.starts_with(b"/") && !target.ends_with(DELETED)).then(|| PathBytes::from(target))
}

/// [`usable_path`] for what must be a file: `/` alone is not one (runc's init shows its
/// executable so).
fn file_path(target: &[u8]) -> Option<PathBytes> {
    usable_path(target).filter(|path| path.as_bytes() != b"/")
}

/// The file-backed mappings of a `/proc/<pid>/maps` text: (path, mapped executable), in order,
/// repeated as often as mapped. A line is `start-end perms offset dev inode` and, for a mapping
/// with a name, padding and the name (which may hold spaces; a newline is written `\012`).
fn parse_maps(text: &[u8]) -> Vec<(PathBytes, bool)> {
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
fn unescape_newlines(name: &[u8]) -> Vec<u8> {
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
struct FdInfo {
    /// The open flags (`flags:`, octal).
    flags: u32,
    /// The mount the file is on (`mnt_id:`), in the process's namespace's numbering.
    mnt_id: Option<u64>,
}

/// The `flags:` and `mnt_id:` of an fdinfo text; `None` without flags.
fn parse_fdinfo(text: &[u8]) -> Option<FdInfo> {
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
fn fd_accesses(flags: u32) -> &'static [Access] {
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
fn mount_ids(mountinfo: &[u8]) -> BTreeSet<u64> {
    mountinfo
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let id = line.split(|&b| b == b' ').next()?;
            std::str::from_utf8(id).ok()?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::{cgroup2_mount, locate, unified_path};

    /// Lines of a python container's maps, read from the host, cut to what the rules need.
    const PYTHON_MAPS: &[u8] = b"\
00400000-0041f000 r--p 00000000 00:29 878093                             /usr/bin/python3.11
0041f000-006d3000 r-xp 0001f000 00:29 878093                             /usr/bin/python3.11
00a85000-00aca000 rw-p 00000000 00:00 0 
0b89c000-0bac3000 rw-p 00000000 00:00 0                                  [heap]
7fbe6d946000-7fbe6d94d000 r--s 00000000 00:29 870616                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache
7fbe6d9cc000-7fbe6db22000 r-xp 00026000 00:29 870525                     /usr/lib/x86_64-linux-gnu/libc.so.6
7fbe6dcb6000-7fbe6dcba000 r--p 00000000 00:00 0                          [vvar]
7fbe6dcbc000-7fbe6dcbe000 r-xp 00000000 00:00 0                          [vdso]
7fbe6dcbf000-7fbe6dce5000 r-xp 00001000 00:29 869749                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffe46a58000-7ffe46a79000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    fn pairs(text: &[u8]) -> Vec<(String, bool)> {
        parse_maps(text)
            .into_iter()
            .map(|(path, exec)| (String::from_utf8_lossy(path.as_bytes()).into_owned(), exec))
            .collect()
    }

    #[test]
    fn maps_keep_file_backed_mappings_with_their_exec_bit() {
        assert_eq!(
            pairs(PYTHON_MAPS),
            [
                ("/usr/bin/python3.11", false),
                ("/usr/bin/python3.11", true),
                ("/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache", false),
                ("/usr/lib/x86_64-linux-gnu/libc.so.6", true),
                ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", true),
            ]
            .map(|(p, x)| (p.to_owned(), x))
        );
    }

    #[test]
    fn maps_paths_may_hold_spaces_escaped_newlines_and_any_bytes() {
        let text = b"\
7fa853616000-7fa853617000 r--s 00000000 00:29 934004                     /tmp/odd dir/with space.so
7fa853617000-7fa853618000 r-xs 00000000 00:29 934003                     /tmp/odd dir/new\\012line lib
7fa853618000-7fa853619000 r--p 00000000 00:29 934005                     /tmp/ends in a space 
7fa85361a000-7fa85361b000 r--p 00000000 00:29 934006                     /tmp/caf\xe9
7fa85361b000-7fa85361c000 r--p 00000000 00:29 934007 /short/padding
";
        let found = parse_maps(text);
        let paths: Vec<&[u8]> = found.iter().map(|(p, _)| p.as_bytes()).collect();
        assert_eq!(
            paths,
            [
                b"/tmp/odd dir/with space.so".as_slice(),
                b"/tmp/odd dir/new\nline lib",
                b"/tmp/ends in a space ",
                b"/tmp/caf\xe9",
                b"/short/padding",
            ]
        );
        assert_eq!(
            found.iter().map(|(_, x)| *x).collect::<Vec<_>>(),
            [false, true, false, false, false]
        );
    }

    #[test]
    fn maps_skip_deleted_anonymous_and_pseudo_mappings() {
        let text = b"\
7f0000000000-7f0000001000 r-xp 00000000 00:01 1025                       /memfd:runc_cloned:/proc/self/exe (deleted)
7f0000001000-7f0000002000 rw-s 00000000 00:01 32768                      /SYSV00000000 (deleted)
7f0000002000-7f0000003000 rw-s 00000000 00:01 4                          /dev/zero (deleted)
7f0000003000-7f0000004000 rw-p 00000000 00:0e 1057                       anon_inode:[io_uring]
7f0000004000-7f0000005000 rw-p 00000000 00:00 0                          [anon:glibc.malloc]
7f0000005000-7f0000006000 r-xp 00000000 00:1c 7                          /
7f0000006000-7f0000007000 rw-p 00000000 00:00 0 
not a maps line

";
        assert_eq!(pairs(text), []);
    }

    #[test]
    fn newline_escape_decodes_only_012() {
        assert_eq!(unescape_newlines(b"/a\\012b\\012"), b"/a\nb\n");
        assert_eq!(unescape_newlines(b"/a\\040b\\01"), b"/a\\040b\\01");
        assert_eq!(unescape_newlines(b""), b"");
    }

    #[test]
    fn fd_targets_keep_only_files_in_the_container() {
        assert_eq!(
            usable_path(b"/dev/null"),
            Some(PathBytes::from("/dev/null"))
        );
        assert_eq!(
            usable_path(b"/tmp/odd dir/new\nline lib"),
            Some(PathBytes::from(b"/tmp/odd dir/new\nline lib".as_slice()))
        );
        assert_eq!(
            usable_path(b"/tmp/caf\xe9"),
            Some(PathBytes::from(b"/tmp/caf\xe9".as_slice()))
        );
        for pseudo in [
            b"socket:[22937]".as_slice(),
            b"pipe:[23584]",
            b"anon_inode:[eventfd]",
            b"anon_inode:inotify",
            b"/tmp/gone.txt (deleted)",
            b"",
        ] {
            assert_eq!(usable_path(pseudo), None, "{}", pseudo.escape_ascii());
        }
        assert_eq!(usable_path(b"/"), Some(PathBytes::from("/")));
        assert_eq!(file_path(b"/"), None);
    }

    #[test]
    fn fdinfo_flags_are_octal() {
        // As a python process in a container showed them.
        let text = b"pos:\t0\nflags:\t02102001\nmnt_id:\t79\nino:\t934010\n";
        assert_eq!(
            parse_fdinfo(text),
            Some(FdInfo {
                flags: 0o2_102_001,
                mnt_id: Some(79)
            })
        );
        assert_eq!(
            parse_fdinfo(b"pos:\t0\nflags:\t01\n"),
            Some(FdInfo {
                flags: 1,
                mnt_id: None
            })
        );
        assert_eq!(parse_fdinfo(b"pos:\t0\nmnt_id:\t79\n"), None);
        assert_eq!(parse_fdinfo(b"flags:\t9\n"), None);
        // Another field starting with "flags" is not it.
        assert_eq!(parse_fdinfo(b"flagsx:\t01\n"), None);
    }

    #[test]
    fn fd_accesses_follow_the_access_mode() {
        use Access::{Append, List, Metadata, Read, Write};
        let cases: [(u32, &[Access]); 10] = [
            (0o2_100_000, &[Read]),         // O_RDONLY|O_LARGEFILE|O_CLOEXEC
            (0o100_002, &[Read, Write]),    // the stdin /dev/null docker opens
            (0o1, &[Write]),                // a pipe's write end (were it a file)
            (0o2_100_001, &[Write]),        // open(.., "w"): O_TRUNC is gone once open
            (0o2_102_001, &[Append]),       // open(.., "a")
            (0o2_100_002, &[Read, Write]),  // open(.., "w+")
            (0o2_102_002, &[Read, Append]), // O_RDWR|O_APPEND
            (0o2_300_000, &[List]),         // opendir
            (0o12_000_000, &[Metadata]),    // O_PATH on a file
            (0o3, &[Metadata]),             // mode 3: ioctl only
        ];
        for (flags, accesses) in cases {
            assert_eq!(fd_accesses(flags), accesses, "flags {flags:o}");
        }
        assert_eq!(fd_accesses(0o12_200_000), &[] as &[Access]); // O_PATH|O_DIRECTORY
    }

    #[test]
    fn procs_and_mount_ids_parse() {
        assert_eq!(
            parse_procs(b"19140\n19622\n\nx\n-1\n 7 \n").collect::<Vec<_>>(),
            [19140, 19622, 7]
        );
        assert_eq!(parse_procs(b"").count(), 0);
        let mountinfo = b"79 53 0:41 / / rw,relatime master:2 - overlay overlay rw\n\
81 79 0:45 / /dev rw,nosuid - tmpfs tmpfs rw\n\
96 79 254:0 /var/lib/docker/containers/af41/hosts /etc/hosts rw - ext4 /dev/vda rw\n";
        assert_eq!(mount_ids(mountinfo), BTreeSet::from([79, 81, 96]));
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("a file in a directory")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn cgroup_walk_reads_below_in_order_without_following_symlinks() {
        let tree = tempfile::tempdir().expect("temporary directory");
        let root = tree.path().join("cg");
        write(&root.join("cgroup.procs"), "10\n11\n");
        write(&root.join("b/cgroup.procs"), "30\n");
        write(&root.join("a/cgroup.procs"), "20\n10\n");
        write(&root.join("a/inner/cgroup.procs"), "21\n");
        write(&tree.path().join("elsewhere/cgroup.procs"), "99\n");
        std::os::unix::fs::symlink(tree.path().join("elsewhere"), root.join("c")).expect("symlink");
        // A threaded cgroup or one removed meanwhile: no readable process list, its children count.
        write(&root.join("d/e/cgroup.procs"), "40\n");
        assert_eq!(cgroup_pids(&root).expect("pids"), [10, 11, 20, 21, 30, 40]);

        // A symlinked process list of the container's own cgroup is refused, not followed.
        let linked = tree.path().join("linked");
        std::fs::create_dir(&linked).expect("mkdir");
        std::os::unix::fs::symlink(
            tree.path().join("elsewhere/cgroup.procs"),
            linked.join("cgroup.procs"),
        )
        .expect("symlink");
        assert!(matches!(
            cgroup_pids(&linked),
            Err(SnapshotError::Procs { .. })
        ));
    }

    #[test]
    fn cgroup_walk_stops_at_the_depth_bound() {
        let tree = tempfile::tempdir().expect("temporary directory");
        let mut dir = tree.path().to_path_buf();
        for level in 0..MAX_CGROUP_DEPTH + 3 {
            write(&dir.join("cgroup.procs"), &format!("{}\n", level + 1));
            dir = dir.join("x");
        }
        let pids = cgroup_pids(tree.path()).expect("pids");
        let expected: Vec<u32> =
            (1..=u32::try_from(MAX_CGROUP_DEPTH).expect("small") + 1).collect();
        assert_eq!(pids, expected);
    }

    #[test]
    fn a_missing_cgroup_is_an_error_with_a_one_line_message() {
        let error = of_cgroup(Path::new("/nonexistent/cgroup")).expect_err("no such cgroup");
        assert!(matches!(error, SnapshotError::Procs { .. }));
        let message = error.to_string();
        assert_eq!(
            message,
            "cannot read the process list /nonexistent/cgroup/cgroup.procs"
        );
        assert!(std::error::Error::source(&error).is_some());
    }

    /// The cgroup v2 directory of this test process, or why it cannot be had.
    fn own_cgroup() -> Result<PathBuf, String> {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
        let path = unified_path(&cgroup).ok_or("no cgroup v2 membership")?;
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let mount = cgroup2_mount(&mountinfo).ok_or("cgroup2 is not mounted")?;
        let (dir, _level) = locate(path, &mount).map_err(|e| e.to_string())?;
        std::fs::read(dir.join("cgroup.procs")).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(dir)
    }

    fn own(path: &str) -> PathBytes {
        PathBytes::new(
            std::fs::read_link(path)
                .expect("readlink of this process")
                .into_os_string()
                .into_vec(),
        )
    }

    #[test]
    fn finds_its_own_executable_and_working_directory_in_its_cgroup() {
        let dir = match own_cgroup() {
            Ok(dir) => dir,
            Err(reason) => {
                println!(
                    "skipping finds_its_own_executable_and_working_directory_in_its_cgroup: {reason}"
                );
                return;
            }
        };
        // Not skipping trace's own mount namespace: this process is in it.
        let found = scan(&dir, None).expect("snapshot of this process's cgroup");
        let exe = FoundFile {
            path: own("/proc/self/exe"),
            access: Access::Exec,
        };
        let cwd = FoundFile {
            path: own("/proc/self/cwd"),
            access: Access::Chdir,
        };
        assert!(found.contains(&exe), "{exe:?} not in {} files", found.len());
        assert!(found.contains(&cwd), "{cwd:?} not in {} files", found.len());
        assert!(found.is_sorted());
        assert!(found.windows(2).all(|w| w[0] != w[1]));
        assert!(found.len() <= MAX_FILES);
    }

    #[test]
    fn of_cgroup_leaves_out_processes_of_its_own_mount_namespace() {
        let dir = match own_cgroup() {
            Ok(dir) => dir,
            Err(reason) => {
                println!(
                    "skipping of_cgroup_leaves_out_processes_of_its_own_mount_namespace: {reason}"
                );
                return;
            }
        };
        let found = of_cgroup(&dir).expect("snapshot of this process's cgroup");
        let exe = own("/proc/self/exe");
        assert!(
            !found.iter().any(|f| f.path == exe),
            "{exe:?} is a path of trace's own namespace"
        );
    }
}
