//! The container's configuration, checked as Docker Bench does: added capabilities it never
//! used, resource limits, sensitive host mounts, the Docker socket.

use super::{SENSITIVE_HOST_PATHS, cap_name, code, modifies};
use crate::recording::{Capability, ContainerConfig, MountConfig, PathBytes, Recording};
use crate::render::advice::{Advice, Level, Topic};

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
pub(super) fn is_docker_socket(mount: &MountConfig) -> bool {
    let is_socket = |p: &str| p.rsplit('/').next() == Some("docker.sock");
    is_socket(&mount.source) || is_socket(&mount.destination)
}

pub(super) fn unused_added_capabilities(
    recording: &Recording,
    config: &ContainerConfig,
    advice: &mut Advice,
) {
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

pub(super) fn limits(config: &ContainerConfig, advice: &mut Advice) {
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

pub(super) fn sensitive_mounts(
    recording: &Recording,
    config: &ContainerConfig,
    advice: &mut Advice,
) {
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
