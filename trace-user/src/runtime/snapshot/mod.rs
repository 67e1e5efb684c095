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

use crate::recording::{Access, PathBytes};

mod parse;
#[cfg(test)]
mod tests;

use parse::{
    fd_accesses, file_path, mount_ids, parse_fdinfo, parse_maps, parse_procs, usable_path,
};

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
