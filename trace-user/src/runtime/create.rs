//! `docker run`-style options turned into a Docker API container definition, for `trace run`.
//!
//! Only the options users need to start a service under trace are supported; each maps to the
//! API field the Docker CLI fills for it. As with the CLI, `--security-opt seccomp=FILE` names a
//! file whose JSON text is sent to Docker (its API takes the profile itself, not a path); Podman's
//! compatible API takes a path instead (it opens the file itself), so it is sent the file's
//! absolute path.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding, PortMap};

use super::engine::EngineKind;

/// The options of `trace run` that shape the container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSpec {
    /// Image reference.
    pub image: String,
    /// When to pull the image (`--pull`).
    pub pull: Pull,
    /// Arguments after the image (the command, or arguments to the entrypoint).
    pub args: Vec<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `--env KEY=VALUE` (or `KEY`, taken from trace's environment).
    pub env: Vec<String>,
    /// `--publish [IP:][HOST:]CONTAINER[/PROTO]`.
    pub publish: Vec<String>,
    /// `--volume SRC:DST[:OPTS]`.
    pub volumes: Vec<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--workdir`.
    pub workdir: Option<String>,
    /// `--entrypoint` (one string, like the Docker CLI; empty resets the image's entrypoint).
    pub entrypoint: Option<String>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--security-opt`.
    pub security_opt: Vec<String>,
    /// `--network`.
    pub network: Option<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--tmpfs PATH[:OPTS]`.
    pub tmpfs: Vec<String>,
    /// `--runtime`: the engine's name of the OCI runtime (`runc`, `crun`).
    pub runtime: Option<String>,
    /// `--stop-signal`: what a stop sends first (else the image's `STOPSIGNAL`, else SIGTERM).
    pub stop_signal: Option<String>,
    /// `--stop-timeout`: seconds a stop waits for the container before it kills it (else the
    /// engine's 10).
    pub stop_timeout: Option<u32>,
}

/// When the image is pulled, as `docker run --pull` says it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pull {
    /// Only when it is not on this machine.
    #[default]
    Missing,
    /// Every time, before the container is created.
    Always,
    /// Never: an image not on this machine is an error.
    Never,
}

/// Why the options cannot make a container.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// A `--publish` value that is not `[IP:][HOST:]CONTAINER[/PROTO]`.
    #[error("--publish {0}: expected [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp]")]
    Publish(String),
    /// A `--volume` value without a destination.
    #[error("--volume {0}: expected SOURCE:DESTINATION[:OPTIONS]")]
    Volume(String),
    /// A `--tmpfs` value that is not an absolute path.
    #[error("--tmpfs {0}: expected an absolute path, optionally followed by :OPTIONS")]
    Tmpfs(String),
    /// The seccomp profile file named by `--security-opt seccomp=FILE` cannot be read.
    #[error("--security-opt seccomp={}: cannot read the profile", .path.display())]
    SeccompFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The container definition for `spec` in `engine`'s dialect, labelled as started by trace.
pub fn container_body(
    spec: &RunSpec,
    engine: EngineKind,
) -> Result<ContainerCreateBody, CreateError> {
    let mut exposed = Vec::new();
    let mut bindings: PortMap = HashMap::new();
    for value in &spec.publish {
        let (port, binding) = parse_publish(value)?;
        exposed.push(port.clone());
        bindings
            .entry(port)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    exposed.sort();
    exposed.dedup();
    for value in &spec.volumes {
        let mut parts = value.splitn(3, ':');
        let (Some(source), Some(destination)) = (parts.next(), parts.next()) else {
            return Err(CreateError::Volume(value.clone()));
        };
        if source.is_empty() || !destination.starts_with('/') {
            return Err(CreateError::Volume(value.clone()));
        }
    }
    let mut tmpfs = HashMap::new();
    for value in &spec.tmpfs {
        let (path, options) = value.split_once(':').unwrap_or((value, ""));
        if !path.starts_with('/') {
            return Err(CreateError::Tmpfs(value.clone()));
        }
        tmpfs.insert(path.to_owned(), options.to_owned());
    }
    let security_opt = spec
        .security_opt
        .iter()
        .map(|o| seccomp_option(o, engine))
        .collect::<Result<Vec<_>, _>>()?;
    let env = spec
        .env
        .iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect::<Vec<_>>();

    let host_config = HostConfig {
        binds: non_empty(spec.volumes.clone()),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        cap_add: non_empty(spec.cap_add.clone()),
        cap_drop: non_empty(spec.cap_drop.clone()),
        security_opt: non_empty(security_opt),
        network_mode: spec.network.clone(),
        readonly_rootfs: spec.read_only.then_some(true),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        runtime: spec.runtime.clone(),
        ..HostConfig::default()
    };
    Ok(ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: non_empty(spec.args.clone()),
        entrypoint: spec.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                vec![String::new()]
            } else {
                vec![e.clone()]
            }
        }),
        env: non_empty(env),
        user: spec.user.clone(),
        working_dir: spec.workdir.clone(),
        exposed_ports: non_empty(exposed),
        labels: Some(HashMap::from([("trace.run".to_owned(), "1".to_owned())])),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: spec.stop_timeout.map(i64::from),
        host_config: Some(host_config),
        ..ContainerCreateBody::default()
    })
}

fn non_empty(values: Vec<String>) -> Option<Vec<String>> {
    (!values.is_empty()).then_some(values)
}

/// `[IP:][HOST:]CONTAINER[/PROTO]` -> ("CONTAINER/PROTO", binding).
fn parse_publish(value: &str) -> Result<(String, PortBinding), CreateError> {
    let bad = || CreateError::Publish(value.to_owned());
    let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    // An IPv6 host address is bracketed: [::1]:8080:80.
    let (host_ip, rest) = match ports.strip_prefix('[') {
        Some(v6) => {
            let (ip, rest) = v6.split_once("]:").ok_or_else(bad)?;
            (Some(ip.to_owned()), rest)
        }
        None => (None, ports),
    };
    let fields: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (host_ip, fields.as_slice()) {
        (None, [container]) => (None, None, *container),
        (None, [host, container]) => (None, Some(*host), *container),
        (None, [ip, host, container]) => (Some((*ip).to_owned()), Some(*host), *container),
        (Some(ip), [host, container]) => (Some(ip), Some(*host), *container),
        _ => return Err(bad()),
    };
    let valid_port = |p: &str| p.parse::<u16>().is_ok_and(|n| n > 0);
    if !valid_port(container) || host.is_some_and(|h| !h.is_empty() && !valid_port(h)) {
        return Err(bad());
    }
    let binding = PortBinding {
        host_ip: ip.filter(|ip| !ip.is_empty()),
        host_port: host.filter(|h| !h.is_empty()).map(str::to_owned),
    };
    Ok((format!("{container}/{proto}"), binding))
}

/// `seccomp=FILE` -> `seccomp=<the file's JSON>` for Docker, `seccomp=<its absolute path>` for
/// Podman; other options unchanged.
fn seccomp_option(option: &str, engine: EngineKind) -> Result<String, CreateError> {
    let Some(path) = option
        .strip_prefix("seccomp=")
        .or_else(|| option.strip_prefix("seccomp:"))
    else {
        return Ok(option.to_owned());
    };
    if path == "unconfined" || path.trim_start().starts_with('{') {
        return Ok(option.to_owned());
    }
    let unreadable = |source| CreateError::SeccompFile {
        path: PathBuf::from(path),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    match engine {
        EngineKind::Docker => Ok(format!("seccomp={text}")),
        EngineKind::Podman => {
            let absolute = std::fs::canonicalize(path).map_err(unreadable)?;
            Ok(format!("seccomp={}", absolute.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            image: "web:local".into(),
            ..RunSpec::default()
        }
    }

    #[test]
    fn publish_forms() {
        let p = |v| parse_publish(v).map(|(port, b)| (port, b.host_ip, b.host_port));
        assert_eq!(p("80").unwrap(), ("80/tcp".into(), None, None));
        assert_eq!(
            p("8080:80").unwrap(),
            ("80/tcp".into(), None, Some("8080".into()))
        );
        assert_eq!(
            p("127.0.0.1:8080:80/udp").unwrap(),
            (
                "80/udp".into(),
                Some("127.0.0.1".into()),
                Some("8080".into())
            )
        );
        assert_eq!(
            p("127.0.0.1::80").unwrap(),
            ("80/tcp".into(), Some("127.0.0.1".into()), None)
        );
        assert_eq!(
            p("[::1]:8080:80").unwrap(),
            ("80/tcp".into(), Some("::1".into()), Some("8080".into()))
        );
        for bad in ["", "x", "0", "80/icmp", "70000", "a:b:c:d", "8080:x"] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn maps_every_option_to_its_api_field() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("seccomp.json");
        std::fs::write(&profile, "{\"defaultAction\":\"SCMP_ACT_ERRNO\"}").unwrap();
        let spec = RunSpec {
            args: vec!["serve".into(), "--port=80".into()],
            name: Some("web".into()),
            env: vec!["A=1".into()],
            publish: vec!["8080:80".into(), "8443:80".into()],
            volumes: vec!["/srv:/data:ro".into()],
            user: Some("65534".into()),
            workdir: Some("/app".into()),
            entrypoint: Some("/bin/server".into()),
            cap_add: vec!["NET_BIND_SERVICE".into()],
            cap_drop: vec!["ALL".into()],
            security_opt: vec![
                "no-new-privileges".into(),
                format!("seccomp={}", profile.display()),
            ],
            network: Some("none".into()),
            read_only: true,
            tmpfs: vec!["/tmp:size=1m".into(), "/run".into()],
            stop_signal: Some("SIGQUIT".into()),
            stop_timeout: Some(3),
            ..spec()
        };
        let body = container_body(&spec, EngineKind::Docker).unwrap();
        assert_eq!(body.image.as_deref(), Some("web:local"));
        assert_eq!(body.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(body.stop_timeout, Some(3));
        assert_eq!(body.cmd, Some(vec!["serve".into(), "--port=80".into()]));
        assert_eq!(body.entrypoint, Some(vec!["/bin/server".into()]));
        assert_eq!(body.env, Some(vec!["A=1".into()]));
        assert_eq!(body.user.as_deref(), Some("65534"));
        assert_eq!(body.working_dir.as_deref(), Some("/app"));
        assert_eq!(body.exposed_ports, Some(vec!["80/tcp".into()]));
        let host = body.host_config.unwrap();
        assert_eq!(
            host.port_bindings.unwrap()["80/tcp"]
                .as_ref()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(host.binds, Some(vec!["/srv:/data:ro".into()]));
        assert_eq!(host.cap_add, Some(vec!["NET_BIND_SERVICE".into()]));
        assert_eq!(host.cap_drop, Some(vec!["ALL".into()]));
        assert_eq!(
            host.security_opt,
            Some(vec![
                "no-new-privileges".into(),
                "seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}".into()
            ])
        );
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.readonly_rootfs, Some(true));
        let tmpfs = host.tmpfs.unwrap();
        assert_eq!(
            (tmpfs["/tmp"].as_str(), tmpfs["/run"].as_str()),
            ("size=1m", "")
        );
    }

    #[test]
    fn a_plain_spec_sets_only_the_image() {
        let body = container_body(&spec(), EngineKind::Docker).unwrap();
        assert_eq!(body.cmd, None);
        assert_eq!(body.entrypoint, None);
        let host = body.host_config.unwrap();
        assert_eq!(
            (host.binds, host.port_bindings, host.readonly_rootfs),
            (None, None, None)
        );
    }

    #[test]
    fn refuses_bad_values_with_the_option_named() {
        let with = |f: fn(&mut RunSpec)| {
            let mut s = spec();
            f(&mut s);
            container_body(&s, EngineKind::Docker)
                .unwrap_err()
                .to_string()
        };
        assert!(with(|s| s.volumes = vec!["/only".into()]).starts_with("--volume /only"));
        assert!(with(|s| s.volumes = vec!["/a:relative".into()]).starts_with("--volume"));
        assert!(with(|s| s.tmpfs = vec!["tmp".into()]).starts_with("--tmpfs tmp"));
        assert!(with(|s| s.publish = vec!["x".into()]).starts_with("--publish x"));
        assert!(
            with(|s| s.security_opt = vec!["seccomp=/nonexistent.json".into()])
                .contains("cannot read the profile")
        );
    }

    /// Podman's compatible API opens the profile itself: it is sent the file's absolute path,
    /// which the service (started elsewhere, in another directory) can open.
    #[test]
    fn podman_gets_the_profile_by_its_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("seccomp.json");
        std::fs::write(&profile, "{}").unwrap();
        let with_profile = RunSpec {
            security_opt: vec![
                format!("seccomp={}", profile.display()),
                "seccomp=unconfined".into(),
            ],
            runtime: Some("crun".into()),
            ..spec()
        };
        let host = container_body(&with_profile, EngineKind::Podman)
            .unwrap()
            .host_config
            .unwrap();
        let absolute = std::fs::canonicalize(&profile).unwrap();
        assert_eq!(
            host.security_opt,
            Some(vec![
                format!("seccomp={}", absolute.display()),
                "seccomp=unconfined".into()
            ])
        );
        assert_eq!(host.runtime.as_deref(), Some("crun"));
        let missing = RunSpec {
            security_opt: vec!["seccomp=/nonexistent.json".into()],
            ..spec()
        };
        assert!(matches!(
            container_body(&missing, EngineKind::Podman),
            Err(CreateError::SeccompFile { .. })
        ));
    }
}
