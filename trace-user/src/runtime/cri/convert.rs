//! A CRI container as trace describes a container ([`ContainerTarget`]): from the list entry,
//! the verbose status (containerd puts the pid, the CRI configuration the kubelet gave and the
//! OCI spec it made in `info`) and the pod sandbox's status.

use std::collections::HashMap;

use k8s_cri::v1::{
    Container, ContainerState as CriState, ContainerStatusResponse, PodSandboxStatus,
};
use serde_json::Value;

use super::{Phase, sorted};
use crate::recording::{ContainerConfig, MountConfig, ProcessConfig, RuntimeInfo};
use crate::runtime::docker::{ContainerState, ContainerTarget};

/// The kubelet's label naming a container's pod.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// The kubelet's label naming a pod's namespace.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The kubelet's label holding a pod's uid.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// The kubelet's label naming a container within its pod.
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";

/// The CRI's `NamespaceMode::NODE`: the host's namespace.
const NAMESPACE_NODE: i64 = 2;

/// The phase of a CRI container state.
pub(super) fn phase(state: i32) -> Phase {
    match CriState::try_from(state) {
        Ok(CriState::ContainerCreated) => Phase::Created,
        Ok(CriState::ContainerRunning) => Phase::Running,
        Ok(CriState::ContainerExited) => Phase::Exited,
        _ => Phase::Unknown,
    }
}

/// The `pid` of a verbose status's `info` (containerd's `{"pid": N, ...}` under the key `info`).
pub(super) fn pid_of(info: &HashMap<String, String>) -> Option<u32> {
    let info: Value = serde_json::from_str(info.get("info")?).ok()?;
    info.get("pid")?
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .filter(|&p| p > 0)
}

/// The container as a session sees it. Its labels are the pod's with the container's over them;
/// its name is `NAMESPACE/POD/CONTAINER`.
pub(super) fn target(
    listed: &Container,
    status: &ContainerStatusResponse,
    pod: &PodSandboxStatus,
    image_id: String,
) -> ContainerTarget {
    let mut labels = sorted(&pod.labels);
    labels.extend(sorted(&listed.labels));
    let state = status.status.clone().unwrap_or_default();
    let running = phase(state.state) == Phase::Running;
    let info: Value = status
        .info
        .get("info")
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or(Value::Null);
    let pid = running.then(|| pid_of(&status.info)).flatten().unwrap_or(0);
    let container_name = labels
        .get(CONTAINER_NAME)
        .cloned()
        .or_else(|| listed.metadata.as_ref().map(|m| m.name.clone()))
        .unwrap_or_default();
    let name = format!(
        "{}/{}/{container_name}",
        labels.get(POD_NAMESPACE).map_or("", String::as_str),
        labels.get(POD_NAME).map_or("", String::as_str),
    );
    let mut mounts: Vec<String> = state
        .mounts
        .iter()
        .map(|m| m.container_path.clone())
        .collect();
    mounts.sort();
    let exit_code = i64::from(state.exit_code);
    ContainerTarget {
        id: listed.id.clone(),
        name,
        image: listed
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default(),
        image_id,
        pid,
        mounts,
        config: config_of(&info, &state.mounts),
        labels,
        state: ContainerState {
            status: match phase(state.state) {
                Phase::Created => "created",
                Phase::Running => "running",
                Phase::Exited => "exited",
                Phase::Unknown => "unknown",
            }
            .to_owned(),
            running: running && pid > 0,
            restarting: false,
            exit_code,
            oom_killed: state.reason == "OOMKilled",
        },
        runtime: runtime_of(&info),
    }
}

/// The OCI runtime containerd starts the container with, from the verbose `info`: the binary its
/// shim runs (`runtimeOptions.binary_name`, as a `crun` handler sets it), else the shim's own
/// (`io.containerd.runc.v2` runs runc). Versions are not in the CRI's answers.
fn runtime_of(info: &Value) -> Option<RuntimeInfo> {
    let binary = info["runtimeOptions"]["binary_name"]
        .as_str()
        .and_then(|b| b.rsplit('/').next())
        .filter(|b| !b.is_empty());
    let shim = info["runtimeType"]
        .as_str()
        .and_then(|t| t.strip_prefix("io.containerd."))
        .and_then(|t| t.split('.').next());
    Some(RuntimeInfo {
        engine: "containerd".into(),
        engine_version: String::new(),
        name: binary.or(shim)?.to_owned(),
        version: String::new(),
    })
}

/// What the container is allowed, from the CRI configuration the kubelet gave (`config`) and the
/// OCI spec the runtime made of it (`runtimeSpec`), in Docker's terms: the fields hardening
/// advice weighs. A field neither says stays at its default.
fn config_of(info: &Value, mounts: &[k8s_cri::v1::Mount]) -> ContainerConfig {
    let config = &info["config"];
    let spec = &info["runtimeSpec"];
    let security = &config["linux"]["security_context"];
    let strings = |v: &Value| -> Vec<String> {
        let mut list: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        list.sort();
        list
    };
    let user = &spec["process"]["user"];
    let user = match (user["uid"].as_u64(), user["gid"].as_u64()) {
        (Some(uid), Some(gid)) => format!("{uid}:{gid}"),
        (Some(uid), None) => uid.to_string(),
        _ => String::new(),
    };
    let host = |namespace: &str| {
        let mode = security["namespace_options"][namespace].as_i64();
        if mode == Some(NAMESPACE_NODE) {
            "host".to_owned()
        } else {
            String::new()
        }
    };
    let mut security_opt = Vec::new();
    if spec["process"]["noNewPrivileges"].as_bool() == Some(true) {
        security_opt.push("no-new-privileges".to_owned());
    }
    if spec["linux"].is_object() && spec["linux"]["seccomp"].is_null() {
        security_opt.push("seccomp=unconfined".to_owned());
    }
    if let Some(profile) = spec["process"]["apparmorProfile"].as_str() {
        security_opt.push(format!("apparmor={profile}"));
    }
    security_opt.sort();
    let mut mounts: Vec<MountConfig> = mounts
        .iter()
        .map(|m| MountConfig {
            destination: m.container_path.clone(),
            kind: "bind".into(),
            source: m.host_path.clone(),
            rw: !m.readonly,
        })
        .collect();
    mounts.sort();
    let resources = &spec["linux"]["resources"];
    let mut env_names: Vec<String> = config["envs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| kv["key"].as_str().map(str::to_owned))
        .collect();
    env_names.sort();
    env_names.dedup();
    ContainerConfig {
        user,
        privileged: security["privileged"].as_bool() == Some(true),
        cap_add: strings(&security["capabilities"]["add_capabilities"]),
        cap_drop: strings(&security["capabilities"]["drop_capabilities"]),
        security_opt,
        network_mode: host("network"),
        pid_mode: host("pid"),
        ipc_mode: host("ipc"),
        uts_mode: host("network"),
        read_only_rootfs: spec["root"]["readonly"].as_bool() == Some(true),
        mounts,
        memory: resources["memory"]["limit"].as_i64().unwrap_or(0),
        pids_limit: resources["pids"]["limit"].as_i64().unwrap_or(0),
        nano_cpus: 0,
        cpu_quota: resources["cpu"]["quota"].as_i64().unwrap_or(0),
        exposed_ports: Vec::new(),
        published_ports: Vec::new(),
        process: Some(ProcessConfig {
            entrypoint: strings_in_order(&config["command"]),
            cmd: strings_in_order(&config["args"]),
            working_dir: spec["process"]["cwd"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            env_names: Some(env_names),
        }),
    }
}

/// A JSON list of strings, in its order.
fn strings_in_order(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_cri::v1::{ContainerMetadata, ContainerStatus, ImageSpec, Mount};

    const ID: &str = "5b47aade6463a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182930";

    /// The verbose `info` containerd 1.6 gives a running container (trimmed to what is read).
    const INFO: &str = r#"{
        "sandboxID": "8a27db2cb15b",
        "pid": 4242,
        "runtimeType": "io.containerd.runc.v2",
        "config": {
            "metadata": {"name": "app"},
            "command": ["/bin/sh", "/exercise.sh"],
            "args": ["--fast"],
            "envs": [{"key": "TOKEN", "value": "hunter2"}, {"key": "MODE", "value": "x"}],
            "linux": {"security_context": {
                "namespace_options": {"network": 2, "pid": 1},
                "capabilities": {"add_capabilities": ["NET_ADMIN"], "drop_capabilities": ["ALL"]},
                "seccomp": {"profile_type": 1}
            }}
        },
        "runtimeSpec": {
            "process": {"user": {"uid": 1000, "gid": 3000}, "cwd": "/srv", "noNewPrivileges": true},
            "root": {"path": "rootfs", "readonly": true},
            "linux": {"resources": {"memory": {"limit": 67108864}, "pids": {"limit": 100},
                                    "cpu": {"quota": 50000}}}
        }
    }"#;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn running() -> (Container, ContainerStatusResponse, PodSandboxStatus) {
        let listed = Container {
            id: ID.into(),
            metadata: Some(ContainerMetadata {
                name: "app".into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: "docker.io/library/web:1".into(),
                ..ImageSpec::default()
            }),
            labels: labels(&[
                (CONTAINER_NAME, "app"),
                (POD_NAME, "web-5d8f7c9b4-x2x7k"),
                (POD_NAMESPACE, "shop"),
                ("app", "from-the-container"),
            ]),
            ..Container::default()
        };
        let status = ContainerStatusResponse {
            status: Some(ContainerStatus {
                id: ID.into(),
                state: CriState::ContainerRunning.into(),
                mounts: vec![Mount {
                    container_path: "/data".into(),
                    host_path: "/var/lib/kubelet/pods/x/volumes/data".into(),
                    readonly: true,
                    ..Mount::default()
                }],
                ..ContainerStatus::default()
            }),
            info: [("info".to_owned(), INFO.to_owned())].into(),
        };
        let pod = PodSandboxStatus {
            labels: labels(&[
                (POD_NAME, "web-5d8f7c9b4-x2x7k"),
                (POD_NAMESPACE, "shop"),
                ("app", "web"),
                ("pod-template-hash", "5d8f7c9b4"),
            ]),
            ..PodSandboxStatus::default()
        };
        (listed, status, pod)
    }

    #[test]
    fn a_cri_container_is_described_as_a_docker_one() {
        let (listed, status, pod) = running();
        let c = target(&listed, &status, &pod, "sha256:abc".into());
        assert_eq!(c.name, "shop/web-5d8f7c9b4-x2x7k/app");
        assert_eq!(c.pid, 4242);
        assert!(c.state.running);
        assert_eq!(c.image, "docker.io/library/web:1");
        assert_eq!(c.runtime.as_ref().map(|r| r.name.as_str()), Some("runc"));
        assert_eq!(c.image_id, "sha256:abc");
        assert_eq!(c.mounts, ["/data"]);
        // The pod's labels, the container's over them.
        assert_eq!(c.labels["pod-template-hash"], "5d8f7c9b4");
        assert_eq!(c.labels["app"], "from-the-container");
        let config = &c.config;
        assert_eq!(config.user, "1000:3000");
        assert_eq!(config.user_is_root(), Some(false));
        assert_eq!(config.cap_add, ["NET_ADMIN"]);
        assert_eq!(config.cap_drop, ["ALL"]);
        assert_eq!(
            config.security_opt,
            ["no-new-privileges", "seccomp=unconfined"]
        );
        assert_eq!(config.network_mode, "host");
        assert_eq!(config.pid_mode, "");
        assert!(config.read_only_rootfs);
        assert_eq!(
            (config.memory, config.pids_limit, config.cpu_quota),
            (67_108_864, 100, 50_000)
        );
        assert_eq!(config.mounts.len(), 1);
        assert!(!config.mounts[0].rw);
        let process = config.process.as_ref().unwrap();
        assert_eq!(process.entrypoint, ["/bin/sh", "/exercise.sh"]);
        assert_eq!(process.cmd, ["--fast"]);
        assert_eq!(process.working_dir, "/srv");
        // Names only, never values.
        assert_eq!(
            process.env_names.as_deref(),
            Some(&["MODE".to_owned(), "TOKEN".to_owned()][..])
        );
        assert!(!serde_json::to_string(config).unwrap().contains("hunter2"));
    }

    #[test]
    fn an_exited_container_has_no_pid_and_tells_an_oom_kill() {
        let (listed, mut status, pod) = running();
        let state = status.status.as_mut().unwrap();
        state.state = CriState::ContainerExited.into();
        state.exit_code = 137;
        state.reason = "OOMKilled".into();
        let c = target(&listed, &status, &pod, String::new());
        assert_eq!(c.pid, 0);
        assert!(!c.state.running);
        assert_eq!(c.state.status, "exited");
        assert_eq!(c.state.exit_code, 137);
        assert!(c.state.oom_killed);
        // Unconfined: the spec has no seccomp filter.
        let mut unconfined: Value = serde_json::from_str(INFO).unwrap();
        unconfined["runtimeSpec"]["process"]["noNewPrivileges"] = Value::Bool(false);
        assert_eq!(
            config_of(&unconfined, &[]).security_opt,
            ["seccomp=unconfined"]
        );
        assert_eq!(pid_of(&HashMap::new()), None);
    }
}
