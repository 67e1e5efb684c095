//! The network: published ports nothing listened on, and `--network none` when no inet
//! socket was used.

use super::code;
use crate::recording::Recording;
use crate::render::advice::{Advice, Level, Topic};

/// Ports published (`-p`) that nothing in the container listened on, when the startup was seen
/// (attaching misses the listening sockets made before).
pub(super) fn unused_published_ports(recording: &Recording, advice: &mut Advice) {
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
