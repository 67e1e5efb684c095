//! The container engine trace talks to: Docker, or Podman through its Docker-compatible API
//! service (the same requests, answered by Podman), and what the engine says of itself: which one
//! it is, its version and its OCI runtimes, so that a recording names the runtime that started
//! its container.
//!
//! `--engine docker|podman` picks the engine's default socket and the advice of the error when it
//! does not answer; `--host URL`, else `$DOCKER_HOST` (Docker) or `$CONTAINER_HOST` (Podman),
//! names another. The engine that answers is asked what it is (`GET /version`), so Podman reached
//! through `DOCKER_HOST` is still known as Podman.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{SystemInfo, SystemVersion};
use tokio::sync::OnceCell;

use super::docker::DockerError;
use crate::recording::RuntimeInfo;

/// How long an OCI runtime's `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(2);

/// A container engine trace can record the containers of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EngineKind {
    /// The Docker engine (dockerd).
    #[default]
    Docker,
    /// Podman, through its API service (`podman system service`).
    Podman,
}

impl EngineKind {
    /// Every engine, in the order `--engine` lists them.
    pub const ALL: [EngineKind; 2] = [EngineKind::Docker, EngineKind::Podman];

    /// Its name on the command line and in recordings.
    pub const fn name(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }

    /// Its name in messages.
    pub const fn title(self) -> &'static str {
        match self {
            EngineKind::Docker => "Docker",
            EngineKind::Podman => "Podman",
        }
    }

    /// Where it listens by default for a root user.
    pub const fn default_host(self) -> &'static str {
        match self {
            EngineKind::Docker => "unix:///var/run/docker.sock",
            EngineKind::Podman => "unix:///run/podman/podman.sock",
        }
    }

    /// The environment variable its own CLI reads the socket from.
    pub const fn host_variable(self) -> &'static str {
        match self {
            EngineKind::Docker => "DOCKER_HOST",
            EngineKind::Podman => "CONTAINER_HOST",
        }
    }

    /// What to do when it does not answer at `host`, in one line.
    pub fn unreachable_hint(self, host: &str) -> String {
        match self {
            EngineKind::Docker => format!(
                "is dockerd running? --host or {} selects another daemon",
                self.host_variable()
            ),
            EngineKind::Podman => format!(
                "start Podman's API service: `podman system service --time=0 {host} &` or \
                 `systemctl start podman.socket`; --host or {} selects another socket",
                self.host_variable()
            ),
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for EngineKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        EngineKind::ALL
            .into_iter()
            .find(|e| e.name() == text)
            .ok_or_else(|| format!("unknown engine {text:?} (docker or podman)"))
    }
}

/// The engine to connect to and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The engine asked for.
    pub engine: EngineKind,
    /// Its socket: `unix:///path` or `tcp://host:port`.
    pub host: String,
}

impl Endpoint {
    /// `engine` at `host`, else at its variable's socket, else at its default socket.
    pub fn new(engine: EngineKind, host: Option<&str>) -> Self {
        Self::pick(engine, host, |name| std::env::var(name).ok())
    }

    fn pick(engine: EngineKind, host: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Self {
        let host = host
            .map(str::to_owned)
            .or_else(|| env(engine.host_variable()).filter(|h| !h.is_empty()))
            .unwrap_or_else(|| engine.default_host().to_owned());
        // A bare path is a socket, as the engines' own clients take it.
        let host = if host.starts_with('/') {
            format!("unix://{host}")
        } else {
            host
        };
        Endpoint { engine, host }
    }

    /// Connects and negotiates the API version, so old engines (Docker 20.10: API 1.41; Podman
    /// 4: 1.41) work.
    pub async fn connect(&self) -> Result<Docker, DockerError> {
        let unreachable = |source| DockerError::Unreachable {
            engine: self.engine,
            host: self.host.clone(),
            source,
        };
        let docker = Docker::connect_with_host(&self.host).map_err(unreachable)?;
        docker.negotiate_version().await.map_err(unreachable)
    }
}

/// What an engine says of itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineFacts {
    /// Which engine answered.
    pub engine: EngineKind,
    /// Its version.
    pub version: String,
    /// Its OCI runtimes by the name a container names them with (`HostConfig.Runtime`).
    pub runtimes: BTreeMap<String, OciRuntime>,
    /// The runtime of a container that names none.
    pub default_runtime: String,
}

/// An OCI runtime an engine starts containers with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OciRuntime {
    /// What it is: `runc`, `crun`, or the engine's name for it.
    pub name: String,
    /// Its version, when known.
    pub version: String,
    /// Its program (for asking its version), when the engine says.
    pub path: Option<String>,
}

impl EngineFacts {
    /// The facts in an engine's answers to `GET /version` and (Docker) `GET /info`, without the
    /// versions the engine does not give (see [`facts`]).
    pub fn from_answers(version: &SystemVersion, info: Option<&SystemInfo>) -> Self {
        let components = version.components.as_deref().unwrap_or_default();
        let component = |name: &str| components.iter().find(|c| c.name == name);
        if let Some(podman) = component("Podman Engine") {
            // Podman reports the runtime it starts containers with as "OCI Runtime (crun)".
            let oci = components.iter().find_map(|c| {
                let name = c.name.strip_prefix("OCI Runtime (")?.strip_suffix(')')?;
                Some(OciRuntime {
                    name: name.to_owned(),
                    version: version_in(&c.version).unwrap_or_default(),
                    path: None,
                })
            });
            let default_runtime = oci.as_ref().map(|o| o.name.clone()).unwrap_or_default();
            return EngineFacts {
                engine: EngineKind::Podman,
                version: podman.version.clone(),
                runtimes: oci.map(|o| (o.name.clone(), o)).into_iter().collect(),
                default_runtime,
            };
        }
        let runc_version = component("runc").map(|c| c.version.clone());
        let runtimes = info
            .and_then(|i| i.runtimes.as_ref())
            .into_iter()
            .flatten()
            .map(|(key, runtime)| {
                let path = runtime.path.clone().filter(|p| !p.is_empty());
                let program = path
                    .as_deref()
                    .and_then(|p| Path::new(p).file_name())
                    .and_then(|n| n.to_str())
                    .unwrap_or(key);
                // Docker's shims (io.containerd.runc.v2) run runc.
                let name = if program == "runc" || key.starts_with("io.containerd.runc") {
                    "runc"
                } else {
                    program
                };
                let version = if name == "runc" {
                    runc_version.clone().unwrap_or_default()
                } else {
                    String::new()
                };
                let oci = OciRuntime {
                    name: name.to_owned(),
                    version,
                    path,
                };
                (key.clone(), oci)
            })
            .collect();
        EngineFacts {
            engine: EngineKind::Docker,
            version: version.version.clone().unwrap_or_default(),
            runtimes,
            default_runtime: info
                .and_then(|i| i.default_runtime.clone())
                .unwrap_or_else(|| "runc".to_owned()),
        }
    }

    /// The engine and runtime that start a container whose `HostConfig.Runtime` is `runtime`
    /// (Podman's compatible API always says `oci`: its default runtime then).
    pub fn runtime_of(&self, runtime: Option<&str>) -> RuntimeInfo {
        let key = runtime
            .filter(|r| !r.is_empty() && self.runtimes.contains_key(*r))
            .unwrap_or(&self.default_runtime);
        let (name, version) = self.runtimes.get(key).map_or_else(
            || (key.to_owned(), String::new()),
            |oci| (oci.name.clone(), oci.version.clone()),
        );
        RuntimeInfo {
            engine: self.engine.name().to_owned(),
            engine_version: self.version.clone(),
            name,
            version,
        }
    }
}

/// The version in a runtime's `--version` text: the word after `version` on its first line
/// (`crun version 1.8.1`, `runc version 1.1.5+ds1`), else that line's last word.
pub fn version_in(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "version");
    let word = match at {
        Some(i) => words.get(i + 1),
        None => words.last(),
    }?;
    Some((*word).to_owned()).filter(|w| w.len() <= 64 && !w.chars().any(char::is_control))
}

/// The facts of the engine `docker` reaches, asked once per process (an engine does not change
/// while trace runs): its answers, and the version of each runtime it does not give, from the
/// runtime's own `--version`.
pub async fn facts(docker: &Docker) -> Result<&'static EngineFacts, DockerError> {
    static FACTS: OnceCell<EngineFacts> = OnceCell::const_new();
    FACTS
        .get_or_try_init(|| async {
            let version = docker.version().await.map_err(DockerError::Api)?;
            let info = docker.info().await.ok();
            let mut facts = EngineFacts::from_answers(&version, info.as_ref());
            for oci in facts.runtimes.values_mut() {
                if oci.version.is_empty()
                    && let Some(path) = &oci.path
                {
                    oci.version = program_version(path).await.unwrap_or_default();
                }
            }
            Ok(facts)
        })
        .await
}

/// `PROGRAM --version`'s version, when the program answers in time.
async fn program_version(program: &str) -> Option<String> {
    let run = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, run)
        .await
        .ok()?
        .ok()?;
    if !output.status.success() {
        return None;
    }
    version_in(&String::from_utf8_lossy(&output.stdout))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{Runtime, SystemVersionComponents};

    use super::*;

    fn component(name: &str, version: &str) -> SystemVersionComponents {
        SystemVersionComponents {
            name: name.into(),
            version: version.into(),
            details: None,
        }
    }

    #[test]
    fn the_host_comes_from_the_flag_the_variable_or_the_default() {
        let env = |name: &str| match name {
            "DOCKER_HOST" => Some("tcp://10.0.0.1:2375".to_owned()),
            "CONTAINER_HOST" => Some("/run/user/podman.sock".to_owned()),
            _ => None,
        };
        let none = |_: &str| None;
        let docker = Endpoint::pick(EngineKind::Docker, None, env);
        assert_eq!(docker.host, "tcp://10.0.0.1:2375");
        let podman = Endpoint::pick(EngineKind::Podman, None, env);
        assert_eq!(podman.host, "unix:///run/user/podman.sock");
        let flag = Endpoint::pick(EngineKind::Podman, Some("unix:///tmp/p.sock"), env);
        assert_eq!(flag.host, "unix:///tmp/p.sock");
        assert_eq!(
            Endpoint::pick(EngineKind::Podman, None, none).host,
            "unix:///run/podman/podman.sock"
        );
        assert_eq!(
            Endpoint::pick(EngineKind::Docker, None, none).host,
            "unix:///var/run/docker.sock"
        );
    }

    #[test]
    fn engines_parse_by_name() {
        assert_eq!("podman".parse(), Ok(EngineKind::Podman));
        assert_eq!("docker".parse(), Ok(EngineKind::Docker));
        assert!(
            "containerd"
                .parse::<EngineKind>()
                .unwrap_err()
                .contains("docker or podman")
        );
    }

    /// Docker 20.10 with crun configured in daemon.json, as `GET /version` and `/info` answer.
    #[test]
    fn docker_names_its_runtimes_and_runc_version() {
        let version = SystemVersion {
            version: Some("20.10.24+dfsg1".into()),
            components: Some(vec![
                component("Engine", "20.10.24+dfsg1"),
                component("containerd", "1.6.20~ds1"),
                component("runc", "1.1.5+ds1"),
            ]),
            ..SystemVersion::default()
        };
        let runtime = |path: &str| Runtime {
            path: Some(path.into()),
            ..Runtime::default()
        };
        let info = SystemInfo {
            runtimes: Some(HashMap::from([
                ("runc".to_owned(), runtime("runc")),
                ("io.containerd.runc.v2".to_owned(), runtime("runc")),
                ("crun".to_owned(), runtime("/usr/bin/crun")),
            ])),
            default_runtime: Some("runc".into()),
            ..SystemInfo::default()
        };
        let facts = EngineFacts::from_answers(&version, Some(&info));
        assert_eq!(facts.engine, EngineKind::Docker);
        let runc = facts.runtime_of(None);
        assert_eq!(
            (runc.engine.as_str(), runc.engine_version.as_str()),
            ("docker", "20.10.24+dfsg1")
        );
        assert_eq!(
            (runc.name.as_str(), runc.version.as_str()),
            ("runc", "1.1.5+ds1")
        );
        assert_eq!(facts.runtime_of(Some("io.containerd.runc.v2")).name, "runc");
        let crun = facts.runtime_of(Some("crun"));
        // Docker does not say crun's version: `facts` asks crun itself.
        assert_eq!((crun.name.as_str(), crun.version.as_str()), ("crun", ""));
        assert_eq!(
            facts.runtimes["crun"].path.as_deref(),
            Some("/usr/bin/crun")
        );
    }

    /// Podman 4.3's compatible `GET /version`; its inspect says `oci` for every container.
    #[test]
    fn podman_names_its_default_runtime() {
        let version = SystemVersion {
            version: Some("4.3.1".into()),
            components: Some(vec![
                component("Podman Engine", "4.3.1"),
                component("Conmon", "conmon version 2.1.6, commit: unknown"),
                component(
                    "OCI Runtime (crun)",
                    "crun version 1.8.1\ncommit: f8a096be060b22ccd3d5f3ebe44108517fbf6c30\nspec: 1.0.0",
                ),
            ]),
            ..SystemVersion::default()
        };
        let facts = EngineFacts::from_answers(&version, None);
        assert_eq!(facts.engine, EngineKind::Podman);
        let crun = facts.runtime_of(Some("oci"));
        assert_eq!(
            crun,
            RuntimeInfo {
                engine: "podman".into(),
                engine_version: "4.3.1".into(),
                name: "crun".into(),
                version: "1.8.1".into(),
            }
        );
    }

    #[test]
    fn versions_are_read_from_the_first_line() {
        assert_eq!(
            version_in("crun version 1.8.1\ncommit: x"),
            Some("1.8.1".into())
        );
        assert_eq!(
            version_in("runc version 1.1.5+ds1\n"),
            Some("1.1.5+ds1".into())
        );
        assert_eq!(version_in("youki 0.3.0"), Some("0.3.0".into()));
        assert_eq!(version_in(""), None);
        assert_eq!(version_in("x version"), None);
    }

    #[test]
    fn the_podman_hint_says_how_to_start_its_service() {
        let hint = EngineKind::Podman.unreachable_hint("unix:///run/podman/podman.sock");
        assert!(hint.contains("podman system service --time=0 unix:///run/podman/podman.sock"));
        assert!(hint.contains("CONTAINER_HOST"));
        assert!(!hint.contains('\n'));
    }
}
