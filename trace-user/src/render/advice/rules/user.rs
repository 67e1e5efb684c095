//! The user: whether the container runs as root, and whether it needs to.

use super::{UNPRIVILEGED_USER, code, examples, path_text, under_any, written_paths};
use crate::recording::{PathBytes, Recording};
use crate::render::advice::{Advice, Level, Topic};

/// Whether it runs as root (with the evidence), from the uids seen, else the configuration.
pub(super) fn runs_as_root(recording: &Recording) -> Option<(bool, String)> {
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
pub(super) fn image_writes(recording: &Recording) -> Vec<&PathBytes> {
    let world_writable: Vec<PathBytes> = ["/tmp", "/var/tmp"].map(PathBytes::from).to_vec();
    written_paths(recording)
        .filter(|(path, _)| !under_any(path, &world_writable))
        .map(|(path, _)| path)
        .collect()
}

/// Why it needs root (empty: it does not), and the ports below 1024 it bound.
pub(super) fn root_needs(recording: &Recording) -> (Vec<String>, Vec<String>) {
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
