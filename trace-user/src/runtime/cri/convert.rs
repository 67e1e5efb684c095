//! A CRI container as trace describes a container ([`ContainerTarget`]): from the list entry,
//! the verbose status (containerd puts the pid, the CRI configuration the kubelet gave and the
//! OCI spec it made in `info`) and the pod sandbox's status.

use std::collections::HashMap;

use k8s_cri::v1::{
    Container, ContainerState as CriState, ContainerStatusResponse, PodSandboxStatus,
};
use serde_json::Value;

use super::{Phase, sorted};
use crate::recording::{ContainerConfig, MountConfig, ProcessConfig};
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
    }
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
