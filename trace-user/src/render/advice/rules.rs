//! The rules: one function per topic, each adding its items and its part of the [`Plan`](super::Plan)
//! (or the [`Program`]). Every string taken from the recording goes through [`quote::markdown`] or
//! [`quote::code_span`] before it is part of an item.

use std::collections::{BTreeMap, BTreeSet};

use super::quote::{self, code_span, markdown};
use super::{Advice, Level, Program, Tmpfs, Topic, profile_file};
use crate::recording::{
    Access, Capability, CapabilityUse, ContainerConfig, FileUse, MountConfig, PathBytes,
    ProcessConfig, Recording, encode,
};
use crate::render::apparmor::profile_name;
use crate::render::seccomp::spo::object_name;
use crate::render::{
    APPARMOR_FILE, Format, Options, SECCOMP_FILE, SPO_APPARMOR_FILE, SPO_SECCOMP_FILE,
};

/// The uid and gid advised for a container that needs no root: `nobody`/`nogroup` on Debian and
/// most images, and a number, so it works without the image's /etc/passwd.
pub const UNPRIVILEGED_USER: &str = "65534:65534";

/// Host paths Docker Bench (5.5) calls sensitive: mounting them writable hands over the host.
const SENSITIVE_HOST_PATHS: [&str; 8] = [
    "/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr",
];

/// Directories a container may write without a root file system: Docker mounts them itself.
const ALWAYS_WRITABLE: [&str; 3] = ["/dev", "/proc", "/sys"];

/// Accesses that change the file system.
const MODIFYING: [Access; 8] = [
    Access::Write,
    Access::Append,
    Access::Create,
    Access::Delete,
    Access::Rename,
    Access::Link,
    Access::Chmod,
    Access::Chown,
];

/// How many examples an evidence line lists at most.
const EXAMPLES: usize = 4;

fn code(text: &str) -> String {
    markdown(text.as_bytes())
}

fn path_text(path: &PathBytes) -> String {
    markdown(path.as_bytes())
}

/// `a, b, c and 2 more`.
fn examples(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(EXAMPLES).map(String::as_str).collect();
    let more = items.len().saturating_sub(EXAMPLES);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn modifies(used: &FileUse) -> bool {
    used.access.iter().any(|a| MODIFYING.contains(a))
}

/// runc's `<state dir>/<container id>/exec.fifo`, which its init opens through `/proc/self/fd`
/// just before executing the entrypoint: a host path, not a write into the container.
fn runc_fifo(recording: &Recording, path: &PathBytes) -> bool {
    let id = recording.container.id.as_bytes();
    !id.is_empty()
        && path
            .as_bytes()
            .strip_suffix(b"/exec.fifo")
            .is_some_and(|dir| dir.ends_with(id) && dir[..dir.len() - id.len()].ends_with(b"/"))
}

/// The paths it changed, outside mounts and the directories Docker keeps writable.
fn written_paths(recording: &Recording) -> impl Iterator<Item = (&PathBytes, &FileUse)> {
    let mounts = mount_points(recording);
    let always: Vec<PathBytes> = ALWAYS_WRITABLE
        .iter()
        .map(|p| PathBytes::from(*p))
        .collect();
    recording.files.iter().filter(move |(path, used)| {
        modifies(used)
            && !under_any(path, &mounts)
            && !under_any(path, &always)
            && !runc_fifo(recording, path)
    })
}

/// Mount points inside the container: the configuration's and those recorded since v2.
fn mount_points(recording: &Recording) -> BTreeSet<PathBytes> {
    let mut points = recording.container.mounts.clone();
    if let Some(config) = &recording.container.config {
        points.extend(
            config
                .mounts
                .iter()
                .map(|m| PathBytes::from(m.destination.as_str())),
        );
    }
    points
}

fn under_any<'a>(path: &PathBytes, dirs: impl IntoIterator<Item = &'a PathBytes>) -> bool {
    dirs.into_iter().any(|dir| path.is_within(dir))
}

/// `--cap-add`/`--cap-drop` spelling to the kernel's name (`net_admin` -> `CAP_NET_ADMIN`).
fn cap_name(given: &str) -> String {
    let upper = given.to_ascii_uppercase();
    if upper.starts_with("CAP_") || upper == "ALL" {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

fn checks(cap: Capability, used: &CapabilityUse) -> String {
    format!(
        "`{cap}`: checked {} times, granted {}, denied {}",
        used.granted + used.denied,
        used.granted,
        used.denied
    )
}

/// Docker Bench style checks of the configuration.
pub fn configuration(recording: &Recording, advice: &mut Advice) {
    let Some(config) = &recording.container.config else {
        advice.push(
            Topic::Configuration,
            Level::Note,
            "The recording holds no container configuration (an older trace, or merged runs configured differently): the configuration checks are left out.".into(),
            Vec::new(),
        );
        return;
    };
    let warn = |advice: &mut Advice, title: String, evidence: Vec<String>| {
        advice.push(Topic::Configuration, Level::Warning, title, evidence);
    };
    if config.privileged {
        warn(
            advice,
            "Privileged mode: the container has every capability, every device and no seccomp or AppArmor confinement. Remove `--privileged`.".into(),
            vec!["`HostConfig.Privileged` is true".into()],
        );
    }
    for mount in &config.mounts {
        if is_docker_socket(mount) {
            let dest = PathBytes::from(mount.destination.as_str());
            let used = recording
                .files
                .iter()
                .filter(|(path, _)| path.is_within(&dest))
                .count();
            let use_line = if !recording.files_recorded() {
                "file accesses were not recorded".to_owned()
            } else if used > 0 {
                "the container opened it during the exercise".to_owned()
            } else {
                "no file access to it was recorded during the exercise (connecting to a socket is not a file access trace sees)".to_owned()
            };
            warn(
                advice,
                "The Docker socket is mounted: whoever controls the container controls the Docker daemon, i.e. the host (root-equivalent). Remove the mount, or give it a proxy that allows only the API calls it needs.".into(),
                vec![
                    format!(
                        "mount {} -> {} ({})",
                        code(&mount.source),
                        code(&mount.destination),
                        if mount.rw { "read-write" } else { "read-only, which does not protect the API" }
                    ),
                    use_line,
                ],
            );
        }
    }
    for (what, mode, flag) in [
        ("network", &config.network_mode, "--network"),
        ("process (pid)", &config.pid_mode, "--pid"),
        ("IPC", &config.ipc_mode, "--ipc"),
        ("UTS (host name)", &config.uts_mode, "--uts"),
    ] {
        if mode == "host" {
            warn(
                advice,
                format!(
                    "Host {what} namespace: the container shares it with the host. Remove `{flag} host`."
                ),
                vec![format!("`{flag}` is `host`")],
            );
        }
    }
    unused_added_capabilities(recording, config, advice);
    limits(config, advice);
    sensitive_mounts(recording, config, advice);
}

/// Whether the mount is Docker's API socket (by its name at either end).
fn is_docker_socket(mount: &MountConfig) -> bool {
    let is_socket = |p: &str| p.rsplit('/').next() == Some("docker.sock");
    is_socket(&mount.source) || is_socket(&mount.destination)
}

fn unused_added_capabilities(recording: &Recording, config: &ContainerConfig, advice: &mut Advice) {
    for given in &config.cap_add {
        let name = cap_name(given);
        if name == "ALL" {
            advice.push(
                Topic::Configuration,
                Level::Warning,
                "Every capability is added (`--cap-add ALL`). Add only the ones it uses (see Capabilities).".into(),
                vec![format!("`--cap-add {}`", code(given))],
            );
            continue;
        }
        if !recording.capabilities_recorded() {
            continue;
        }
        let used = Capability::from_name(&name)
            .and_then(|cap| recording.capabilities.get(&cap))
            .copied()
            .unwrap_or_default();
        if used.granted == 0 {
            advice.push(
                Topic::Configuration,
                Level::Warning,
                format!(
                    "Added capability {} was never used: remove `--cap-add {}`.",
                    code(&name),
                    code(given)
                ),
                vec![format!(
                    "`--cap-add {}` given; the application's checks of it: {} granted, {} denied",
                    code(given),
                    used.granted,
                    used.denied
                )],
            );
        }
    }
}

fn limits(config: &ContainerConfig, advice: &mut Advice) {
    let missing = [
        (config.memory == 0, "memory", "--memory"),
        (config.pids_limit <= 0, "process count", "--pids-limit"),
        (
            config.nano_cpus == 0 && config.cpu_quota == 0,
            "CPU",
            "--cpus",
        ),
    ];
    for (unset, what, flag) in missing {
        if unset {
            advice.push(
                Topic::Configuration,
                Level::Warning,
                format!("No {what} limit: set `{flag}` from your load tests (trace does not measure how much it needs)."),
                vec![format!("no `{flag}` in the configuration")],
            );
        }
    }
}

fn sensitive_mounts(recording: &Recording, config: &ContainerConfig, advice: &mut Advice) {
    for mount in config.mounts.iter().filter(|m| m.rw && m.kind == "bind") {
        let source = mount.source.trim_end_matches('/');
        let source = if source.is_empty() { "/" } else { source };
        if SENSITIVE_HOST_PATHS.contains(&source) {
            advice.push(
                Topic::Configuration,
                Level::Warning,
                format!(
                    "A sensitive host directory is mounted writable: {} -> {}. Mount it read-only (`:ro`) or not at all.",
                    code(&mount.source),
                    code(&mount.destination)
                ),
                vec![format!("bind mount of {} with `rw`", code(&mount.source))],
            );
        } else if recording.files_recorded() && !is_docker_socket(mount) {
            let dest = PathBytes::from(mount.destination.as_str());
            let written = recording
                .files
                .iter()
                .any(|(path, used)| path.is_within(&dest) && modifies(used));
            if !written {
                advice.push(
                    Topic::Configuration,
                    Level::Note,
                    format!(
                        "The writable bind mount {} was never written: mount it read-only (`:ro`).",
                        code(&mount.destination)
                    ),
                    vec![format!(
                        "no write under {} was recorded",
                        code(&mount.destination)
                    )],
                );
            }
        }
    }
}

/// Whether it runs as root (with the evidence), from the uids seen, else the configuration.
fn runs_as_root(recording: &Recording) -> Option<(bool, String)> {
    if let Some(identity) = recording.identity.as_ref().filter(|i| !i.uids.is_empty()) {
        let uids: Vec<String> = identity.uids.iter().map(u32::to_string).collect();
        return Some((
            identity.uids.contains(&0),
            format!(
                "effective uids of its processes when recording stopped: {}",
                uids.join(", ")
            ),
        ));
    }
    let config = recording.container.config.as_ref()?;
    let root = config.user_is_root()?;
    Some((
        root,
        format!(
            "configured user: {}",
            if config.user.is_empty() {
                "none (the image's default, root)".to_owned()
            } else {
                code(&config.user)
            }
        ),
    ))
}

/// Files written outside mounts and Docker's own writable directories that the image shipped or
/// that live in the image's directories: what a non-root user may not be allowed to change.
fn image_writes(recording: &Recording) -> Vec<&PathBytes> {
    let world_writable: Vec<PathBytes> = ["/tmp", "/var/tmp"].map(PathBytes::from).to_vec();
    written_paths(recording)
        .filter(|(path, _)| !under_any(path, &world_writable))
        .map(|(path, _)| path)
        .collect()
}

/// Why it needs root (empty: it does not), and the ports below 1024 it bound.
fn root_needs(recording: &Recording) -> (Vec<String>, Vec<String>) {
    let mut needs = Vec::new();
    let granted: Vec<String> = recording
        .capabilities
        .iter()
        .filter(|(_, used)| used.granted > 0)
        .map(|(cap, _)| format!("`{cap}`"))
        .collect();
    if !recording.capabilities_recorded() {
        needs.push("capability checks were not recorded".to_owned());
    } else if !granted.is_empty() {
        needs.push(format!("it used capabilities: {}", granted.join(", ")));
    }
    let written: Vec<String> = image_writes(recording).into_iter().map(path_text).collect();
    if !recording.files_recorded() {
        needs.push("file accesses were not recorded".to_owned());
    } else if !written.is_empty() {
        needs.push(format!(
            "it wrote in the image's (root-owned) directories: {}",
            examples(&written)
        ));
    }
    let host_network = recording
        .container
        .config
        .as_ref()
        .is_some_and(|c| c.network_mode == "host");
    let low_ports: Vec<String> = recording
        .bound_ports
        .iter()
        .filter(|p| p.port < 1024)
        .map(|p| p.port.to_string())
        .collect();
    if host_network && !low_ports.is_empty() {
        needs.push(format!(
            "it binds ports below 1024 in the host's network namespace: {}",
            low_ports.join(", ")
        ));
    }
    (needs, low_ports)
}

/// Root or not, and whether it needs to be.
pub fn user(recording: &Recording, advice: &mut Advice) {
    let Some((root, who)) = runs_as_root(recording) else {
        advice.push(
            Topic::User,
            Level::Note,
            "Who it runs as is unknown (no configuration, no process seen): check with `docker top`.".into(),
            Vec::new(),
        );
        return;
    };
    if !root {
        advice.push(
            Topic::User,
            Level::Note,
            "It does not run as root.".into(),
            vec![who],
        );
        return;
    }
    let (needs, low_ports) = root_needs(recording);
    if needs.is_empty() {
        let mut evidence = vec![
            who,
            "no capability granted to the application".into(),
            "no write outside volumes, /tmp, /var/tmp and /dev".into(),
        ];
        if !low_ports.is_empty() {
            evidence.push(format!(
                "ports below 1024 ({}) need no privilege in the container's own network namespace (Docker sets net.ipv4.ip_unprivileged_port_start=0)",
                low_ports.join(", ")
            ));
        }
        evidence.push("check: the files it reads must be readable by others, the volumes it writes writable by 65534; an image with its own user can use that one instead".into());
        advice.push(
            Topic::User,
            Level::Advice,
            format!("It runs as root but needs none of root's powers: run it as `--user {UNPRIVILEGED_USER}`."),
            evidence,
        );
        advice.plan.user = Some(UNPRIVILEGED_USER.into());
    } else {
        let mut evidence = vec![who];
        evidence.extend(needs);
        if let Some(identity) = &recording.identity {
            let others: Vec<String> = identity
                .uids
                .iter()
                .filter(|&&u| u != 0)
                .map(u32::to_string)
                .collect();
            if !others.is_empty() {
                evidence.push(format!(
                    "it switches some processes to other users itself (uids {})",
                    others.join(", ")
                ));
            }
        }
        advice.push(
            Topic::User,
            Level::Note,
            "It runs as root and uses it: keep the user, but drop every capability it does not use (below).".into(),
            evidence,
        );
    }
}

/// `--cap-drop ALL` plus what it used.
pub fn capabilities(recording: &Recording, advice: &mut Advice) {
    if !recording.capabilities_recorded() {
        advice.push(
            Topic::Capabilities,
            Level::Note,
            "Capability checks were not recorded: no capability advice.".into(),
            Vec::new(),
        );
        return;
    }
    let granted: BTreeMap<Capability, CapabilityUse> = recording
        .capabilities
        .iter()
        .filter(|(_, used)| used.granted > 0)
        .map(|(cap, used)| (*cap, *used))
        .collect();
    let mut evidence: Vec<String> = granted.iter().map(|(c, u)| checks(*c, u)).collect();
    let title = if granted.is_empty() {
        evidence.push("no capability check of the application was granted".into());
        "Drop every capability: it used none (`--cap-drop ALL`).".to_owned()
    } else {
        let names: Vec<String> = granted.keys().map(|c| format!("`{c}`")).collect();
        format!(
            "Drop every capability and add back only the ones it used: {}.",
            names.join(", ")
        )
    };
    advice.push(Topic::Capabilities, Level::Advice, title, evidence);
    advice.plan.capabilities = Some(
        granted
            .keys()
            .map(|cap| cap.to_string().trim_start_matches("CAP_").to_owned())
            .collect(),
    );

    let denied: Vec<String> = recording
        .capabilities
        .iter()
        .filter(|(_, used)| used.denied > 0 && used.granted == 0)
        .map(|(cap, used)| checks(*cap, used))
        .collect();
    if !denied.is_empty() {
        let mut evidence = denied;
        if recording
            .capabilities
            .get(&Capability(21))
            .is_some_and(|u| u.denied > 0)
        {
            evidence.push("the kernel checks `CAP_SYS_ADMIN` silently when a process maps private writable memory (memory accounting): such denials are not a missing privilege".into());
        }
        advice.push(
            Topic::Capabilities,
            Level::Note,
            "It asked for capabilities it did not have and ran without them: they are not added."
                .into(),
            evidence,
        );
    }
    let others = [
        (
            &recording.runc_capabilities,
            "runc's own capability checks (starting the container, the init of each `docker exec`) are not the application's and are not counted above.",
            "runc checked",
        ),
        (
            &recording.borrowed_capabilities,
            "Checks the kernel made with other credentials than the process's own are not the application's privileges and are not counted above: overlayfs works on the image's layers with the credentials of whoever mounted them.",
            "checked with borrowed credentials",
        ),
    ];
    for (checks, title, what) in others {
        if checks.is_empty() {
            continue;
        }
        let list: Vec<String> = checks
            .iter()
            .map(|(cap, used)| format!("`{cap}` x{}", used.granted + used.denied))
            .collect();
        advice.push(
            Topic::Capabilities,
            Level::Note,
            title.into(),
            vec![format!("{what}: {}", examples(&list))],
        );
    }
}

/// `no-new-privileges` when no executed program could raise privileges.
pub fn no_new_privileges(recording: &Recording, advice: &mut Advice) {
    let topic = Topic::NoNewPrivileges;
    let set = recording.container.config.as_ref().is_some_and(|c| {
        c.security_opt.iter().any(|o| {
            o == "no-new-privileges"
                || o == "no-new-privileges:true"
                || o == "no-new-privileges=true"
        })
    });
    let programs: Vec<String> = recording.execs.keys().map(path_text).collect();
    let note = |advice: &mut Advice, title: &str, evidence: Vec<String>| {
        advice.push(topic, Level::Note, title.to_owned(), evidence);
    };
    if !recording.execs_recorded() {
        note(
            advice,
            "Executed programs were not recorded: no advice on no-new-privileges.",
            Vec::new(),
        );
        return;
    }
    let Some(identity) = &recording.identity else {
        note(
            advice,
            "The executed programs could not be checked for set-user-id, set-group-id or file capabilities (the container had stopped): add `--security-opt no-new-privileges` after checking them.",
            vec![format!("programs executed: {}", examples(&programs))],
        );
        return;
    };
    if !identity.privileged_programs.is_empty() {
        let list: Vec<String> = identity
            .privileged_programs
            .iter()
            .map(|(path, how)| {
                let how: Vec<&str> = how
                    .iter()
                    .map(|p| match p {
                        crate::recording::FilePrivilege::Setuid => "set-user-id",
                        crate::recording::FilePrivilege::Setgid => "set-group-id",
                        crate::recording::FilePrivilege::FileCapabilities => "file capabilities",
                    })
                    .collect();
                format!("{} ({})", path_text(path), how.join(", "))
            })
            .collect();
        note(
            advice,
            "It executed programs that raise privileges: `no-new-privileges` would stop them doing so. Add it only if they work without.",
            vec![format!("privileged programs executed: {}", examples(&list))],
        );
        return;
    }
    if !identity.unchecked_programs.is_empty() {
        let list: Vec<String> = identity.unchecked_programs.iter().map(path_text).collect();
        note(
            advice,
            "Some executed programs could not be checked: add `--security-opt no-new-privileges` after checking they are not set-user-id.",
            vec![format!("not checked: {}", examples(&list))],
        );
        return;
    }
    let mut evidence = vec![if programs.is_empty() {
        "no program was executed".to_owned()
    } else {
        format!(
            "programs executed, none set-user-id, set-group-id or with file capabilities: {}",
            examples(&programs)
        )
    }];
    if set {
        evidence.push("already set in the configuration".into());
    }
    advice.push(
        topic,
        Level::Advice,
        "No executed program raises privileges: set `--security-opt no-new-privileges`.".into(),
        evidence,
    );
    advice.plan.no_new_privileges = true;
}

/// A directory to mount a tmpfs on, with why.
struct TmpfsDir {
    written: Vec<String>,
    exec: bool,
}

/// Where the writes go under a read-only root.
struct TmpfsPlan {
    /// The outermost directories written, each with what was written there.
    dirs: BTreeMap<PathBytes, TmpfsDir>,
    /// Files the image ships that it changed.
    image_files: Vec<String>,
    /// Why some directories cannot be a tmpfs.
    blocked: Vec<String>,
}

fn tmpfs_plan(recording: &Recording) -> TmpfsPlan {
    let mut image_files = Vec::new();
    let mut dirs: BTreeMap<PathBytes, TmpfsDir> = BTreeMap::new();
    for (path, used) in written_paths(recording) {
        if !used.made_by_container() && used.found_in_image() {
            image_files.push(path_text(path));
        }
        let Some(dir) = path.parent() else { continue };
        dirs.entry(dir)
            .or_insert(TmpfsDir {
                written: Vec::new(),
                exec: false,
            })
            .written
            .push(path_text(path));
    }
    // The outermost directories only: a tmpfs on /run covers /run/nginx.
    let outer: Vec<PathBytes> = dirs.keys().cloned().collect();
    let mut merged: BTreeMap<PathBytes, TmpfsDir> = BTreeMap::new();
    for (dir, info) in dirs {
        let top = outer
            .iter()
            .find(|o| dir.is_within(o))
            .cloned()
            .unwrap_or(dir);
        let entry = merged.entry(top).or_insert(TmpfsDir {
            written: Vec::new(),
            exec: false,
        });
        entry.written.extend(info.written);
    }
    // A tmpfs hides what the image has there: refuse directories whose image files it used.
    let mut blocked = Vec::new();
    for (dir, info) in &mut merged {
        info.exec = recording.files.iter().any(|(path, used)| {
            path.is_within(dir)
                && (used.access.contains(&Access::Exec) || used.access.contains(&Access::MmapExec))
        });
        let hidden: Vec<String> = recording
            .files
            .iter()
            .filter(|(path, used)| {
                path.is_within(dir) && *path != dir && used.found_in_image() && !modifies(used)
            })
            .map(|(path, _)| path_text(path))
            .collect();
        let text = String::from_utf8_lossy(dir.as_bytes()).into_owned();
        if !hidden.is_empty() {
            blocked.push(format!(
                "{}: a tmpfs there would hide the image's files it used: {}",
                path_text(dir),
                examples(&hidden)
            ));
        } else if !quote::printable(&text)
            || text.contains([':', ','])
            || encode(dir.as_bytes()) != text
        {
            blocked.push(format!(
                "{}: this path cannot be written as a `--tmpfs` flag",
                path_text(dir)
            ));
        }
    }
    TmpfsPlan {
        dirs: merged,
        image_files,
        blocked,
    }
}

/// `--read-only` with a tmpfs for each directory it wrote to that is not a volume.
pub fn read_only_root(recording: &Recording, advice: &mut Advice) {
    let topic = Topic::ReadOnlyRoot;
    if !recording.files_recorded() {
        advice.push(
            topic,
            Level::Note,
            "File accesses were not recorded: no read-only advice.".into(),
            Vec::new(),
        );
        return;
    }
    let TmpfsPlan {
        dirs: merged,
        image_files,
        blocked,
    } = tmpfs_plan(recording);
    if !image_files.is_empty() {
        advice.push(
            topic,
            Level::Note,
            "It changes files the image ships: under `--read-only` these need a volume (or the application must write elsewhere).".into(),
            vec![format!("image files modified: {}", examples(&image_files))],
        );
    }
    if recording
        .container
        .config
        .as_ref()
        .is_some_and(|c| c.read_only_rootfs)
    {
        advice.push(
            topic,
            Level::Note,
            "The root file system is already read-only.".into(),
            Vec::new(),
        );
        return;
    }
    if !blocked.is_empty() {
        advice.push(
            topic,
            Level::Note,
            "A read-only root file system needs a decision first: some directories it writes cannot simply be tmpfs.".into(),
            blocked,
        );
        return;
    }
    let mut evidence: Vec<String> = merged
        .iter()
        .map(|(dir, info)| {
            format!(
                "{} (tmpfs{}): it wrote {}",
                path_text(dir),
                if info.exec {
                    ", exec: it ran code from there"
                } else {
                    ""
                },
                examples(&info.written)
            )
        })
        .collect();
    if evidence.is_empty() {
        evidence.push("no write outside volumes and /dev".into());
    }
    let title = if merged.is_empty() {
        "It writes nothing outside its volumes: run it with `--read-only`.".to_owned()
    } else {
        "Run it with `--read-only`, with a tmpfs for each directory it writes to.".to_owned()
    };
    advice.push(topic, Level::Advice, title, evidence);
    advice.plan.read_only = Some(
        merged
            .iter()
            .map(|(dir, info)| Tmpfs {
                path: String::from_utf8_lossy(dir.as_bytes()).into_owned(),
                exec: info.exec,
            })
            .collect(),
    );
}

/// Ports published (`-p`) that nothing in the container listened on, when the startup was seen
/// (attaching misses the listening sockets made before).
fn unused_published_ports(recording: &Recording, advice: &mut Advice) {
    let Some(config) = recording
        .container
        .config
        .as_ref()
        .filter(|_| recording.startup_seen)
    else {
        return;
    };
    for published in &config.published_ports {
        let Some((port, proto)) = published
            .split(' ')
            .next()
            .and_then(|spec| spec.split_once('/'))
        else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let sock_type = if proto == "udp" { 2 } else { 1 };
        let bound = recording
            .bound_ports
            .iter()
            .any(|p| p.port == port && p.sock_type.0 == sock_type);
        if !bound {
            advice.push(
                Topic::Network,
                Level::Warning,
                format!(
                    "Published port {} was never listened on: remove it.",
                    code(published)
                ),
                vec![format!(
                    "no socket was bound to {}",
                    code(&format!("{port}/{proto}"))
                )],
            );
        }
    }
}

/// `--network none` when it used no inet socket; the ports it listens on.
pub fn network(recording: &Recording, advice: &mut Advice) {
    let topic = Topic::Network;
    if !recording.sockets_recorded() {
        advice.push(
            topic,
            Level::Note,
            "Sockets were not recorded: no network advice.".into(),
            Vec::new(),
        );
        return;
    }
    unused_published_ports(recording, advice);
    let inet = |family: &str| family == "inet" || family == "inet6";
    let families: Vec<String> = recording
        .sockets
        .iter()
        .map(|s| format!("{} {} x{}", s.family, s.sock_type, s.count))
        .collect();
    let inet_sockets: u64 = recording
        .sockets
        .iter()
        .filter(|s| inet(&s.family.to_string()))
        .map(|s| s.count)
        .sum();
    let ports: Vec<String> = recording
        .bound_ports
        .iter()
        .map(|p| {
            format!(
                "{}/{} ({})",
                p.port,
                if p.sock_type.0 == 2 { "udp" } else { "tcp" },
                p.family
            )
        })
        .collect();
    let sockets_line = if families.is_empty() {
        "no socket was created".to_owned()
    } else {
        format!("sockets created: {}", families.join(", "))
    };
    if inet_sockets == 0 && recording.bound_ports.is_empty() {
        if recording.startup_seen {
            advice.push(
                topic,
                Level::Advice,
                "It used no network socket: run it with `--network none`.".into(),
                vec![sockets_line],
            );
            advice.plan.network_none = true;
        } else {
            advice.push(
                topic,
                Level::Note,
                "No network socket was seen, but trace attached to a running container: sockets made before were not seen. Use `--network none` only if it makes none at startup.".into(),
                vec![sockets_line],
            );
        }
        return;
    }
    let mut evidence = vec![sockets_line];
    if !ports.is_empty() {
        evidence.push(format!("listening on {}", ports.join(", ")));
    }
    if recording.bound_ports.iter().any(|p| p.port < 1024) {
        evidence.push("ports below 1024 need no capability in the container's own network namespace (Docker sets net.ipv4.ip_unprivileged_port_start=0); with `--network host` they need `CAP_NET_BIND_SERVICE`".into());
    }
    let listening = u64::try_from(recording.bound_ports.len()).unwrap_or(u64::MAX);
    let dgram = recording
        .sockets
        .iter()
        .any(|s| inet(&s.family.to_string()) && s.sock_type.0 != 1);
    let title = if !recording.bound_ports.is_empty() && inet_sockets <= listening && !dgram {
        "It only serves (no socket beyond its listening ones): attach it to an internal network (`docker network create --internal`) behind whatever publishes it.".to_owned()
    } else {
        "It uses the network: keep it, publish only the ports it listens on.".to_owned()
    };
    advice.push(topic, Level::Note, title, evidence);
}

/// The generated seccomp and AppArmor profiles, named where they will be referenced from
/// ([`profile_file`]); with `--format spo` the operator's objects, which only Kubernetes reads,
/// so `docker run` and compose get no seccomp profile.
pub fn profiles(recording: &Recording, options: &Options, advice: &mut Advice) {
    let topic = Topic::Profiles;
    let object = object_name(&recording.container.name, &recording.container.id);
    let calls = format!(
        "{} distinct system calls recorded",
        recording.distinct_syscalls()
    );
    if options.format == Format::Spo {
        let seccomp = profile_file(options.profile_path.as_deref(), SPO_SECCOMP_FILE);
        let apparmor = profile_file(options.profile_path.as_deref(), SPO_APPARMOR_FILE);
        advice.plan.seccomp_localhost = format!("operator/{object}.json");
        advice.push(
            topic,
            Level::Advice,
            format!(
                "Confine its system calls with the generated seccomp profile, the Security Profiles Operator object {}: apply it (`kubectl apply -f`), then reference it as the Kubernetes snippet does. `docker run` and compose cannot read it, so their lines have no seccomp profile: render the Docker format for them (`trace render recording.json --format docker`).",
                code_span(&object)
            ),
            vec![format!("{calls}; {} (`--format spo`)", code_span(&seccomp))],
        );
        advice.push(
            topic,
            Level::Note,
            format!(
                "The AppArmor profile is the operator's object {} in {}: apply it where the operator runs on AppArmor nodes, then set `appArmorProfile` (type `Localhost`, profile {}) in the container's `securityContext`. It is not in the snippet: whether it is loaded is cluster state.",
                code_span(&object),
                code_span(&apparmor),
                code_span(&object)
            ),
            Vec::new(),
        );
        return;
    }
    let seccomp = profile_file(options.profile_path.as_deref(), SECCOMP_FILE);
    let apparmor = profile_file(options.profile_path.as_deref(), APPARMOR_FILE);
    advice.plan.seccomp_localhost = format!("{object}.json");
    let mut evidence = vec![format!("{calls}; {}", code_span(&seccomp))];
    if options.format == Format::Oci {
        evidence.push(
            "written in the OCI runtime spec's format (`--format oci`), which `docker run` reads too"
                .into(),
        );
    }
    if quote::printable(&seccomp) {
        advice.plan.seccomp = Some(seccomp);
    } else {
        evidence.push("its path cannot be written in a `docker run` line: name it yourself".into());
    }
    advice.push(
        topic,
        Level::Advice,
        "Confine its system calls with the generated seccomp profile.".into(),
        evidence,
    );
    let name = profile_name(&recording.container.name, &recording.container.id);
    advice.push(
        topic,
        Level::Note,
        format!(
            "The AppArmor profile is not in the flags (it must be loaded first): {}, then add {}.",
            code_span(&format!("apparmor_parser -r {}", quote::shell(&apparmor))),
            code_span(&format!("--security-opt apparmor={name}"))
        ),
        Vec::new(),
    );
}

/// Arguments shown in an item: shell words, in a code span (escaped when they cannot be shown
/// as they are).
fn words_text(words: &[String]) -> String {
    let words: Vec<String> = words.iter().map(|w| quote::shell(w)).collect();
    code_span(&words.join(" "))
}

/// Names shown in an item, each in a code span.
fn names_text(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|n| code_span(n)).collect();
    names.join(", ")
}

/// The program the container ran, for the advised line to start again: its entrypoint, command
/// and working directory, the names of the environment variables its creator set, and its user
/// when that is not root and no other is advised. Without it the line would start the image's
/// default command, which may be another program (a shell).
pub fn program(recording: &Recording, advice: &mut Advice) {
    let topic = Topic::Program;
    let config = recording.container.config.as_ref();
    let Some(process) = config
        .and_then(|c| c.process.as_ref())
        .filter(|p| !(p.entrypoint.is_empty() && p.cmd.is_empty()))
    else {
        advice.push(
            topic,
            Level::Note,
            "The recording does not hold the container's command (an older trace, or merged runs configured differently): the advised line starts the image's default command. Add its command after the image if it ran another.".into(),
            Vec::new(),
        );
        return;
    };
    let argv: Vec<String> = process
        .entrypoint
        .iter()
        .chain(&process.cmd)
        .cloned()
        .collect();
    let mut unwritable = Vec::new();
    if !argv.iter().all(|w| quote::argument(w)) {
        unwritable.push(format!("command: {}", words_text(&argv)));
    }
    if !quote::printable(&process.working_dir) {
        unwritable.push(format!(
            "working directory: {}",
            code_span(&process.working_dir)
        ));
    }
    let env_names = process.env_names.as_deref().unwrap_or_default();
    if !unwritable.is_empty() {
        if !env_names.is_empty() {
            unwritable.push(format!(
                "environment variables its creator set: {}",
                names_text(env_names)
            ));
        }
        advice.push(
            topic,
            Level::Note,
            "Its command cannot be written in a shell line (control characters): the advised line leaves it out and starts the image's default command. Start it with its own command, shown escaped below.".into(),
            unwritable,
        );
        return;
    }
    let (names, odd): (Vec<String>, Vec<String>) = env_names
        .iter()
        .cloned()
        .partition(|name| quote::printable(name));
    let user = config
        .filter(|c| {
            advice.plan.user.is_none()
                && !c.user.is_empty()
                && c.user_is_root() != Some(true)
                && quote::printable(&c.user)
        })
        .map(|c| c.user.clone());
    advice.push(
        topic,
        Level::Note,
        "The advised line starts the program the container ran: its entrypoint and command as Docker resolved them from the image and its creator's options.".into(),
        program_evidence(process, user.as_deref()),
    );
    environment(advice, process.env_names.is_some(), &names, &odd);
    advice.program = Some(Program {
        entrypoint: process.entrypoint.clone(),
        cmd: process.cmd.clone(),
        working_dir: process.working_dir.clone(),
        env_names: names,
        user,
    });
}

/// What the advised line starts, one line each.
fn program_evidence(process: &ProcessConfig, user: Option<&str>) -> Vec<String> {
    let mut evidence = vec![
        if process.entrypoint.is_empty() {
            "entrypoint: none (`--entrypoint ''` in case the image has one)".to_owned()
        } else {
            format!("entrypoint: {}", words_text(&process.entrypoint))
        },
        if process.cmd.is_empty() {
            "command: none".to_owned()
        } else {
            format!("command: {}", words_text(&process.cmd))
        },
    ];
    if !process.working_dir.is_empty() {
        evidence.push(format!(
            "working directory: {}",
            code_span(&process.working_dir)
        ));
    }
    if let Some(user) = user {
        evidence.push(format!("user: {} (configured)", code_span(user)));
    }
    evidence
}

/// The notes on the creator's environment variables: passed by name (`names`), unknown (`known`
/// false), or left out because they cannot be written (`odd`).
fn environment(advice: &mut Advice, known: bool, names: &[String], odd: &[String]) {
    let topic = Topic::Program;
    if !known {
        advice.push(
            topic,
            Level::Note,
            "Which environment variables its creator set is unknown (the image could not be inspected to tell them from its own): add `-e NAME` for those it needs.".into(),
            Vec::new(),
        );
    } else if !names.is_empty() {
        advice.push(
            topic,
            Level::Note,
            "Its creator set environment variables: the advised line passes each by name (`-e NAME`, compose `environment`), which takes the value from the environment it runs in. Set them there first; their values are never recorded.".into(),
            vec![format!("set: {}", names_text(names))],
        );
    }
    if !odd.is_empty() {
        advice.push(
            topic,
            Level::Note,
            "Some environment variable names cannot be written in a shell line (control characters): they are left out; set them yourself.".into(),
            vec![format!("left out: {}", names_text(odd))],
        );
    }
}
