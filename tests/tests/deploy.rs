//! The manifests in deploy/, checked offline: each object read into the Kubernetes API's own types
//! (k8s-openapi) and written back without losing a field (an unknown or misspelt field fails), and
//! the values the `DaemonSet` depends on: the host's PID namespace, the host paths trace reads and
//! the CRI socket it talks to, the capabilities it is given, its arguments, no API access.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec};
use serde::Deserialize;
use serde_json::Value;
use trace_tests::{api_object, workspace_root};

/// Every YAML document of `deploy/<file>`, as JSON values.
fn documents(file: &str) -> Vec<Value> {
    let path = workspace_root().join("deploy").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

#[test]
fn every_manifest_is_an_api_object_without_unknown_fields() {
    let dir = workspace_root().join("deploy");
    let mut kinds = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        for doc in documents(&file) {
            let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
            match kind.as_str() {
                "Namespace" => {
                    api_object::<Namespace>(&file, &doc);
                }
                "DaemonSet" => {
                    api_object::<DaemonSet>(&file, &doc);
                }
                other => panic!("{file}: no check for kind {other:?}"),
            }
            kinds.insert(kind);
        }
    }
    assert_eq!(
        kinds,
        BTreeSet::from(["DaemonSet".to_owned(), "Namespace".to_owned()])
    );
}

/// The `DaemonSet`'s pod spec, checked against the namespace it goes to.
fn pod_spec() -> PodSpec {
    let namespace: Namespace = api_object("namespace.yaml", &documents("namespace.yaml")[0]);
    let daemonset: DaemonSet = api_object("daemonset.yaml", &documents("daemonset.yaml")[0]);
    let namespace_name = namespace.metadata.name.unwrap();
    assert_eq!(daemonset.metadata.namespace.as_ref(), Some(&namespace_name));
    assert_eq!(
        namespace.metadata.labels.unwrap()["pod-security.kubernetes.io/enforce"],
        "privileged",
        "host PID and host paths need the privileged level"
    );
    let spec = daemonset.spec.unwrap();
    let template_labels = spec.template.metadata.unwrap().labels.unwrap();
    for (key, value) in spec.selector.match_labels.unwrap() {
        assert_eq!(
            template_labels.get(&key),
            Some(&value),
            "the selector selects the pods"
        );
    }
    spec.template.spec.unwrap()
}

#[test]
fn the_pods_see_the_hosts_processes_without_api_access_and_hold_the_results() {
    let pod = pod_spec();
    assert_eq!(pod.host_pid, Some(true));
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.service_account_name, None, "no API access, no RBAC");
    let record = &pod.init_containers.clone().unwrap()[0];
    let hold = &pod.containers[0];
    assert_eq!(hold.image, record.image, "one image");
    let hold_security = hold.security_context.clone().unwrap();
    assert_eq!(hold_security.run_as_non_root, Some(true));
    assert_eq!(hold_security.capabilities.unwrap().add, None);
    assert!(mounts_of(hold).iter().all(|(n, _)| n == "out"));
    assert!(workspace_root().join("deploy/Dockerfile").is_file());
}

#[test]
fn trace_gets_the_host_paths_arguments_and_capabilities_it_needs() {
    let pod = pod_spec();
    let volumes: Vec<(String, String)> = pod
        .volumes
        .unwrap()
        .into_iter()
        .map(|v| (v.name, v.host_path.expect("host paths only").path))
        .collect();
    let host_path = |name: &str| {
        volumes
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| panic!("no volume {name}"), |(_, p)| p.clone())
    };
    let record = &pod.init_containers.unwrap()[0];
    assert_eq!(record.name, "record");
    let mounts = mounts_of(record);
    for (name, path) in volumes.iter().filter(|(n, _)| n != "out") {
        assert_eq!(
            mounts.iter().find(|(n, _)| n == name).map(|(_, p)| p),
            Some(path),
            "{name} is mounted where it is on the host"
        );
    }
    assert_eq!(host_path("btf"), "/sys/kernel/btf");
    assert_eq!(host_path("tracefs"), "/sys/kernel/tracing");
    assert_eq!(host_path("cgroup"), "/sys/fs/cgroup");
    let args = record.args.clone().unwrap();
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .unwrap_or_else(|| panic!("no {flag} in {args:?}"))
            .clone()
    };
    assert_eq!(after("--cri-socket"), host_path("cri"));
    assert_eq!(after("--pod"), "$(TRACE_PODS)");
    assert_eq!(after("--duration"), "$(TRACE_DURATION)");
    let out = mounts.iter().find(|(n, _)| n == "out").unwrap();
    assert_eq!(after("--out"), format!("{}/$(NODE_NAME)", out.1));
    let env: Vec<String> = record
        .env
        .iter()
        .flatten()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(env, ["NODE_NAME", "TRACE_PODS", "TRACE_DURATION"]);
    // trace's arguments parse as trace parses them (the variables filled in).
    let filled: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("$(TRACE_PODS)", "default/app=web")
                .replace("$(TRACE_DURATION)", "10m")
                .replace("$(NODE_NAME)", "node-1")
        })
        .collect();
    trace_user::cli::parse_args(std::iter::once("trace".to_owned()).chain(filled))
        .unwrap_or_else(|e| panic!("trace refuses the DaemonSet's arguments: {e}"));

    let security = record.security_context.clone().unwrap();
    assert_ne!(security.privileged, Some(true));
    let capabilities = security.capabilities.unwrap();
    assert_eq!(capabilities.drop.unwrap(), ["ALL"]);
    let added: BTreeSet<String> = capabilities.add.unwrap().into_iter().collect();
    let expected: BTreeSet<String> = [
        "BPF",
        "PERFMON",
        "SYS_ADMIN",
        "SYS_PTRACE",
        "DAC_READ_SEARCH",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(added, expected);
    // The API refuses allowPrivilegeEscalation: false beside an added SYS_ADMIN.
    assert_ne!(security.allow_privilege_escalation, Some(false));
}

/// A container's volume mounts: volume name and mount path.
fn mounts_of(container: &Container) -> Vec<(String, String)> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.clone(), m.mount_path.clone()))
        .collect()
}
