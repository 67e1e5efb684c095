//! What the container was allowed (its configuration, as Docker reported it), what it ran (v7), and
//! who its processes were (v5): the facts hardening advice weighs against what the container did.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::paths::PathBytes;
use super::{Capability, CapabilityUse, Recording};

/// The container's configuration from `docker inspect` (`Config` and `HostConfig`). Lists are
/// sorted; strings are kept as Docker gave them (they may hold anything: escape them on output).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// `Config.User` (`name|uid[:group|gid]`); empty: the image's default, root unless the image
    /// sets `USER`.
    pub user: String,
    /// `--privileged`.
    pub privileged: bool,
    /// `--cap-add`, as given (`NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`).
    pub cap_add: Vec<String>,
    /// `--cap-drop`, as given.
    pub cap_drop: Vec<String>,
    /// `--security-opt` (`no-new-privileges`, `seccomp=...`, `apparmor=...`); Docker keeps the
    /// seccomp profile's JSON in place of its file name.
    pub security_opt: Vec<String>,
    /// `--network` (`default`, `bridge`, `host`, `none`, `container:ID`, a network name).
    pub network_mode: String,
    /// `--pid` (empty: private).
    pub pid_mode: String,
    /// `--ipc` (`private`, `shareable`, `host`, ...).
    pub ipc_mode: String,
    /// `--uts` (empty: private).
    pub uts_mode: String,
    /// `--read-only`.
    pub read_only_rootfs: bool,
    /// Volumes, bind mounts and tmpfs mounts, sorted by destination.
    pub mounts: Vec<MountConfig>,
    /// Memory limit in bytes (0: none).
    pub memory: i64,
    /// Pids limit (0 or negative: none).
    pub pids_limit: i64,
    /// CPU limit in billionths of a CPU (`--cpus`; 0: none).
    pub nano_cpus: i64,
    /// CPU CFS quota in microseconds per period (`--cpu-quota`; 0: none).
    pub cpu_quota: i64,
    /// Exposed ports (`80/tcp`), from the image and `--expose`.
    pub exposed_ports: Vec<String>,
    /// Published ports: `80/tcp -> 0.0.0.0:8080`.
    pub published_ports: Vec<String>,
    /// The program it ran (v7): what the advised `docker run` line starts again. Absent in older
    /// recordings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessConfig>,
}

/// The program a container runs, as Docker resolved it from the image and the creator's options
/// (`Config.Entrypoint`, `Config.Cmd`, `Config.WorkingDir`), and the names of the environment
/// variables its creator set. Values of environment variables are never kept: they hold secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessConfig {
    /// `Config.Entrypoint`, as Docker gave it (empty: none).
    pub entrypoint: Vec<String>,
    /// `Config.Cmd`: the command, or the entrypoint's arguments (empty: none).
    pub cmd: Vec<String>,
    /// `Config.WorkingDir` (empty: `/`).
    pub working_dir: String,
    /// Names of the variables of `Config.Env` that the image does not set to the same value (what
    /// `-e` and compose's `environment` added or changed), sorted; absent when the image could not
    /// be inspected to tell them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_names: Option<Vec<String>>,
}

impl ProcessConfig {
    /// The names of the variables `env` (`NAME=VALUE` entries, as `docker inspect` gives them) has
    /// beyond `image_env` (the image's own), sorted and without repeats. Only names are returned.
    pub fn env_names_beyond(env: &[String], image_env: &[String]) -> Vec<String> {
        let mut names: Vec<String> = env
            .iter()
            .filter(|entry| !image_env.contains(entry))
            .map(|entry| {
                entry
                    .split_once('=')
                    .map_or(entry.as_str(), |(name, _)| name)
            })
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// One mount of the container.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MountConfig {
    /// Where it is mounted in the container.
    pub destination: String,
    /// `bind`, `volume`, `tmpfs`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The host path or volume name (empty for tmpfs).
    pub source: String,
    /// Mounted read-write.
    pub rw: bool,
}

impl ContainerConfig {
    /// Whether the configuration runs the container's processes as root: no user, or user 0 /
    /// `root` (a named user other than root cannot be resolved without the image; see
    /// [`Identity::uids`] for what the kernel saw).
    pub fn user_is_root(&self) -> Option<bool> {
        let user = self.user.split(':').next().unwrap_or_default();
        match user {
            "" | "0" | "root" => Some(true),
            u if u.parse::<u32>().is_ok() => Some(false),
            _ => None,
        }
    }
}

/// Who the container's processes were, and which programs it executed could raise privileges (v5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Effective user ids of the container's processes when recording stopped (from
    /// `/proc/<pid>/status`); empty when none was running.
    pub uids: BTreeSet<u32>,
    /// Effective group ids, likewise.
    pub gids: BTreeSet<u32>,
    /// Executed programs whose file is set-user-id, set-group-id or carries file capabilities
    /// (checked in the container's root file system when recording stopped).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub privileged_programs: BTreeMap<PathBytes, BTreeSet<FilePrivilege>>,
    /// Executed programs that could not be checked (the container had stopped, or the file was
    /// gone or not a regular file).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unchecked_programs: BTreeSet<PathBytes>,
}

/// A way an executable file raises the privileges of whoever runs it (what `no-new-privileges`
/// turns off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilePrivilege {
    /// Mode bit `S_ISUID`.
    Setuid,
    /// Mode bits `S_ISGID` with group execute (without it the bit means mandatory locking).
    Setgid,
    /// A `security.capability` extended attribute.
    FileCapabilities,
}

impl Identity {
    /// The union of two observations (merged recordings).
    #[must_use]
    pub fn union(&self, other: &Identity) -> Identity {
        let mut out = self.clone();
        out.uids.extend(&other.uids);
        out.gids.extend(&other.gids);
        for (path, privileges) in &other.privileged_programs {
            out.privileged_programs
                .entry(path.clone())
                .or_default()
                .extend(privileges);
        }
        out.unchecked_programs
            .extend(other.unchecked_programs.iter().cloned());
        out
    }
}

/// Adds `count` checks of `cap` with the given outcome to `checks`.
pub(super) fn add_check(
    checks: &mut BTreeMap<Capability, CapabilityUse>,
    cap: u32,
    granted: bool,
    count: u64,
) {
    let entry = checks.entry(Capability(cap)).or_default();
    let counter = if granted {
        &mut entry.granted
    } else {
        &mut entry.denied
    };
    *counter = counter.saturating_add(count);
}

impl Recording {
    /// Adds `count` checks of capability `cap` made by runc (v5), kept apart from the
    /// application's [`Recording::capabilities`].
    pub fn record_runc_capability(&mut self, cap: u32, granted: bool, count: u64) {
        add_check(&mut self.runc_capabilities, cap, granted, count);
    }

    /// Adds `count` checks of capability `cap` the kernel made in a container task with other
    /// credentials than the task's own (v5; overlayfs uses its mounter's).
    pub fn record_borrowed_capability(&mut self, cap: u32, granted: bool, count: u64) {
        add_check(&mut self.borrowed_capabilities, cap, granted, count);
    }
}
