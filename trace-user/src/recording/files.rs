//! File accesses: which path was used how, and which requested paths led to which files.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::paths::{PathBytes, normalize};
use super::{Category, Recording};

/// One way a path was used. Sorted in this order in the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Opened for reading.
    Read,
    /// Opened for writing (or truncated) without `O_APPEND`.
    Write,
    /// Opened for writing with `O_APPEND`.
    Append,
    /// Created by the container (it did not exist before): a file, directory, symlink, node.
    Create,
    /// Removed (`unlink`, `rmdir`).
    Delete,
    /// Renamed away: this is the old name (the new name is recorded as `create`, or `write` when it
    /// replaced a file).
    Rename,
    /// A hard link was made at this path.
    Link,
    /// Mode changed.
    Chmod,
    /// Owner changed.
    Chown,
    /// Executed (`execve`).
    Exec,
    /// Mapped with `PROT_EXEC` (shared libraries, the dynamic loader).
    MmapExec,
    /// Locked (`flock`, `fcntl` locks).
    Lock,
    /// Looked at without opening: `stat`, `access`, `readlink`.
    Metadata,
    /// Listed (a directory read with `getdents`).
    List,
    /// Made the working directory.
    Chdir,
    /// Looked up and found missing (the lookup failed with `ENOENT`).
    Probe,
}

impl Access {
    /// The name used in recording.json.
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Append => "append",
            Access::Create => "create",
            Access::Delete => "delete",
            Access::Rename => "rename",
            Access::Link => "link",
            Access::Chmod => "chmod",
            Access::Chown => "chown",
            Access::Exec => "exec",
            Access::MmapExec => "mmap_exec",
            Access::Lock => "lock",
            Access::Metadata => "metadata",
            Access::List => "list",
            Access::Chdir => "chdir",
            Access::Probe => "probe",
        }
    }

    /// Whether this access shows the path is a directory.
    pub fn implies_dir(self) -> bool {
        matches!(self, Access::List | Access::Chdir)
    }
}

/// How one path was used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUse {
    /// Every way it was used.
    pub access: BTreeSet<Access>,
    /// Known to be a directory (listed, entered, or reported as one by the probe).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
}

impl FileUse {
    /// Whether the container made this path (`create`, or a hard link made at it).
    pub fn made_by_container(&self) -> bool {
        self.access.contains(&Access::Create) || self.access.contains(&Access::Link)
    }

    /// Whether the path existed before the container used it: something other than a failed
    /// lookup (`probe`) happened to it, and the container did not make it.
    pub fn found_in_image(&self) -> bool {
        !self.made_by_container() && self.access.iter().any(|&a| a != Access::Probe)
    }
}

impl Recording {
    /// Records `access` to `path` (normalised with [`normalize`]: resolve relative paths against the
    /// process's working directory with [`absolute`](super::absolute) first). Key it by the path
    /// after symlinks when the probe knows it, and report the requested path with
    /// [`Recording::record_link`]. Idempotent and order-independent.
    pub fn record_file(&mut self, path: impl AsRef<[u8]>, access: Access) {
        let entry = self.files.entry(normalize(path.as_ref())).or_default();
        entry.access.insert(access);
        entry.dir |= access.implies_dir();
    }

    /// Like [`Recording::record_file`] for a path the probe knows is a directory (`mkdir`, `rmdir`,
    /// `stat` of a directory): AppArmor mediates directories under their name with a trailing slash.
    pub fn record_dir(&mut self, path: impl AsRef<[u8]>, access: Access) {
        let entry = self.files.entry(normalize(path.as_ref())).or_default();
        entry.access.insert(access);
        entry.dir = true;
    }

    /// Records that `requested` (as the program named it, made absolute) led to `resolved` (after
    /// symlinks). Nothing is recorded when both normalise to the same path. A requested path may
    /// lead to more than one file over a recording (a symlink replaced); all are kept.
    pub fn record_link(&mut self, requested: impl AsRef<[u8]>, resolved: impl AsRef<[u8]>) {
        let requested = normalize(requested.as_ref());
        let resolved = normalize(resolved.as_ref());
        if requested != resolved {
            self.links.entry(requested).or_default().insert(resolved);
        }
    }

    /// Records that `script` was executed by its name and run by `interpreter` (its `#!` line):
    /// the name is an executed file in its own right, not a link to the interpreter, though the
    /// kernel's exec reported it as one.
    pub fn record_script(&mut self, script: &PathBytes, interpreter: impl AsRef<[u8]>) {
        let interpreter = normalize(interpreter.as_ref());
        if let Some(targets) = self.links.get_mut(script) {
            targets.remove(&interpreter);
            if targets.is_empty() {
                self.links.remove(script);
            }
        }
        self.record_file(script.as_bytes(), Access::Exec);
    }

    /// Whether the file data (`files`, `links`) is a real observation rather than absent.
    pub fn files_recorded(&self) -> bool {
        self.events.recorded.contains(&Category::Files)
    }
}

/// Requested path -> the paths it resolved to.
pub type Links = BTreeMap<PathBytes, BTreeSet<PathBytes>>;
