//! Kubernetes pods through containerd's CRI, driven as a kubelet drives it (trace's own CRI
//! client, the kubelet's labels and cgroup parents): `trace --pod` records a pod's container from
//! its first instruction, and its seccomp profile holds when the container is started again under
//! it through the CRI; a label selector finds pods started later, and recordings of replicas made
//! apart (as on two nodes) merge. The CRI's containerd is the one `cargo xtask setup` starts
//! beside Docker's (`trace_tests::CRI_SOCKET`), with the host's cgroup driver (the kernel's catch
//! of a container cgroup in both drivers' layouts: tests/layouts.rs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use k8s_cri::v1::security_profile::ProfileType;
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatusRequest,
    CreateContainerRequest, ImageSpec, KeyValue, LinuxContainerConfig,
    LinuxContainerSecurityContext, LinuxPodSandboxConfig, LinuxSandboxSecurityContext,
    NamespaceMode, NamespaceOption, PodSandboxConfig, PodSandboxMetadata, RemovePodSandboxRequest,
    RunPodSandboxRequest, SecurityProfile, StartContainerRequest, StopPodSandboxRequest,
};
use serde_json::Value;
use trace_tests::{
    CRI_SOCKET, CgroupDriver, Container, System, TestImage, cannot_run, cri_answers, cri_image,
    describe, docker_ok, ensure_image, remove_pod_cgroups, system_tier, workspace_root,
};
use trace_user::runtime::cri::{CONTAINER_NAME, Cri, POD_NAME, POD_NAMESPACE, POD_UID};

/// The namespace of the tests' pods.
const NAMESPACE: &str = "trace-test";
/// How long a container may run its exercise.
const EXIT_TIMEOUT: Duration = Duration::from_mins(1);

/// A pod sandbox run as a kubelet runs one; stopped and removed, with its containers and cgroups,
/// when dropped.
struct Pod {
    cri: Cri,
    id: String,
    name: String,
    uid: String,
    config: PodSandboxConfig,
    driver: CgroupDriver,
    _logs: tempfile::TempDir,
}

/// A container's end: its exit code and what it wrote.
struct Exit {
    code: i32,
    log: String,
}

impl Pod {
    /// Runs the sandbox of pod `name` with the kubelet's labels and `labels`.
    async fn run(cri: &Cri, name: &str, labels: &[(&str, &str)]) -> Pod {
        let uid = uid();
        let driver = CgroupDriver::of_host();
        let logs = tempfile::tempdir().unwrap();
        let mut all: HashMap<String, String> = kubelet_labels(name, &uid);
        all.extend(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.to_owned(),
                uid: uid.clone(),
                namespace: NAMESPACE.to_owned(),
                attempt: 0,
            }),
            hostname: name.to_owned(),
            log_directory: logs.path().to_string_lossy().into_owned(),
            labels: all,
            annotations: [("kubernetes.io/config.source".to_owned(), "api".to_owned())].into(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: driver.pod_parent(&uid),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(pod_namespaces()),
                    ..LinuxSandboxSecurityContext::default()
                }),
                ..LinuxPodSandboxConfig::default()
            }),
            ..PodSandboxConfig::default()
        };
        let id = cri
            .runtime()
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .unwrap_or_else(|e| {
                // The runtime may have made the pod's cgroups before it failed.
                remove_pod_cgroups(driver, &uid);
                panic!("RunPodSandbox {name}: {}", e.message())
            })
            .into_inner()
            .pod_sandbox_id;
        Pod {
            cri: cri.clone(),
            id,
            name: name.to_owned(),
            uid,
            config,
            driver,
            _logs: logs,
        }
    }

    /// Creates and starts container `name` (attempt `attempt`) running `command` in `image`,
    /// under `seccomp` (unconfined, as the kubelet's default is, when `None`); its id.
    async fn start(
        &self,
        name: &str,
        attempt: u32,
        image: &str,
        command: &[&str],
        seccomp: Option<&Path>,
        no_new_privs: bool,
    ) -> String {
        let mut labels = kubelet_labels(&self.name, &self.uid);
        labels.insert(CONTAINER_NAME.to_owned(), name.to_owned());
        let seccomp = match seccomp {
            Some(path) => SecurityProfile {
                profile_type: ProfileType::Localhost.into(),
                localhost_ref: path.to_string_lossy().into_owned(),
            },
            None => SecurityProfile {
                profile_type: ProfileType::Unconfined.into(),
                localhost_ref: String::new(),
            },
        };
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.to_owned(),
                attempt,
            }),
            image: Some(ImageSpec {
                image: image.to_owned(),
                ..ImageSpec::default()
            }),
            command: command.iter().map(|&c| c.to_owned()).collect(),
            envs: vec![KeyValue {
                key: "TRACE_TEST_POD".into(),
                value: self.name.clone(),
            }],
            labels,
            annotations: [(
                "io.kubernetes.container.restartCount".to_owned(),
                attempt.to_string(),
            )]
            .into(),
            log_path: format!("{name}_{attempt}.log"),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(pod_namespaces()),
                    seccomp: Some(seccomp),
                    no_new_privs,
                    ..LinuxContainerSecurityContext::default()
                }),
                ..LinuxContainerConfig::default()
            }),
            ..ContainerConfig::default()
        };
        let mut runtime = self.cri.runtime();
        let id = runtime
            .create_container(CreateContainerRequest {
                pod_sandbox_id: self.id.clone(),
                config: Some(config),
                sandbox_config: Some(self.config.clone()),
            })
            .await
            .unwrap_or_else(|e| panic!("CreateContainer {name}: {}", e.message()))
            .into_inner()
            .container_id;
        runtime
            .start_container(StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("StartContainer {name}: {}", e.message()));
        id
    }

    /// Waits until container `id` has exited; its exit code and log.
    async fn wait_exit(&self, id: &str) -> Exit {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            let status = self
                .cri
                .runtime()
                .container_status(ContainerStatusRequest {
                    container_id: id.to_owned(),
                    verbose: false,
                })
                .await
                .unwrap()
                .into_inner()
                .status
                .unwrap();
            if status.state == i32::from(ContainerState::ContainerExited) {
                let text = std::fs::read_to_string(&status.log_path).unwrap_or_default();
                // CRI log lines: TIME STREAM TAG TEXT.
                let log = text
                    .lines()
                    .filter_map(|l| l.splitn(4, ' ').nth(3))
                    .collect::<Vec<_>>()
                    .join("\n");
                return Exit {
                    code: status.exit_code,
                    log,
                };
            }
            assert!(Instant::now() < deadline, "container {id} did not exit");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts container `name` and waits for its end.
    async fn run_to_end(
        &self,
        name: &str,
        attempt: u32,
        image: &str,
        command: &[&str],
        seccomp: Option<&Path>,
        no_new_privs: bool,
    ) -> Exit {
        let id = self
            .start(name, attempt, image, command, seccomp, no_new_privs)
            .await;
        self.wait_exit(&id).await
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let id = self.id.clone();
        // Drop may run inside the test's runtime, which cannot be blocked on: a thread and a
        // connection of its own (a connection's work runs on the runtime that made it).
        let removed = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let Ok(cri) = Cri::connect(Some(CRI_SOCKET)).await else {
                    return;
                };
                let mut client = cri.runtime();
                let _ = client
                    .stop_pod_sandbox(StopPodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    })
                    .await;
                let _ = client
                    .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
                    .await;
            });
        })
        .join();
        if removed.is_ok() {
            remove_pod_cgroups(self.driver, &self.uid);
        }
    }
}

/// The labels a kubelet gives a pod's sandbox and each of its containers.
fn kubelet_labels(pod: &str, uid: &str) -> HashMap<String, String> {
    [(POD_NAME, pod), (POD_NAMESPACE, NAMESPACE), (POD_UID, uid)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A pod's namespaces as a kubelet asks for them: network and IPC shared in the pod, PID per
/// container.
fn pod_namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Pod.into(),
        pid: NamespaceMode::Container.into(),
        ipc: NamespaceMode::Pod.into(),
        ..NamespaceOption::default()
    }
}

/// A fresh pod uid (the kernel's random UUID).
fn uid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .unwrap()
        .trim()
        .to_owned()
}

/// A pod name no other test run uses.
fn pod_name(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// A pod whose container runs already when trace starts is attached: recorded from then on, its
/// startup said to be missed, what it keeps doing in the recording, and the container left
/// running (trace stops only what it started).
#[test]
fn a_running_pods_container_is_attached() {
    const TEST: &str = "a_running_pods_container_is_attached";
    let Some((system, cri, runtime)) = cri_tier(TEST) else {
        return;
    };
    let image = cri_image(TestImage::Busybox).unwrap();
    runtime.block_on(async {
        let pod = Pod::run(&cri, &pod_name("trace-cri-running"), &[]).await;
        let loop_ = "while true; do cat /etc/hostname >/dev/null; sleep 0.1; done";
        let id = pod
            .start("app", 0, &image, &["/bin/sh", "-c", loop_], None, false)
            .await;
        let out = tempfile::tempdir().unwrap();
        let output = Command::new(system.trace_bin())
            .args(["--pod", &format!("{NAMESPACE}/{}", pod.name)])
            .args(["--cri-socket", CRI_SOCKET, "--duration", "2s", "--out"])
            .arg(out.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", describe(&output));

        let recording = read_json(
            &out.path()
                .join(format!("{}-app", pod.name))
                .join("recording.json"),
        );
        assert_eq!(recording["startup_seen"], false, "{recording}");
        assert_eq!(
            recording["gaps"][0]["kind"], "startup_missed",
            "{recording}"
        );
        assert!(
            recording["files"].get("/etc/hostname").is_some(),
            "the loop's reads: {}",
            recording["files"]
        );
        let calls = recording["syscalls"]["x86_64"].as_object().unwrap();
        assert!(
            calls.contains_key("nanosleep") || calls.contains_key("clock_nanosleep"),
            "the loop's sleeps: {calls:?}"
        );
        let status = cri
            .runtime()
            .container_status(ContainerStatusRequest {
                container_id: id,
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap();
        assert_eq!(
            status.state,
            i32::from(ContainerState::ContainerRunning),
            "trace left the container running"
        );
    });
}

/// The tier, the CRI and its images, or `None` (said why) when they cannot be had.
fn cri_tier(test: &str) -> Option<(System, Cri, tokio::runtime::Runtime)> {
    let system = system_tier(test)?;
    if !cri_answers() {
        cannot_run(
            test,
            &format!("no containerd answers at {CRI_SOCKET} (cargo xtask setup starts it)"),
        );
        return None;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cri = runtime
        .block_on(Cri::connect(Some(CRI_SOCKET)))
        .expect("the CRI of the tests' containerd");
    cri_image(TestImage::Pause).expect("the pause image in the CRI");
    Some((system, cri, runtime))
}

/// Spawns `trace ARGS...` and waits until it says it records the pods.
fn spawn_armed(trace: &Path, args: &[&str]) -> Child {
    trace_tests::spawn_armed(
        Command::new(trace).args(args),
        "trace: recording the containers of pod",
    )
    .0
}

/// Waits for trace, which ends when the pods' containers have exited.
fn wait_trace(child: Child) {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The names the seccomp profile allows.
fn allowed(seccomp: &Value) -> Vec<String> {
    seccomp["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| r["names"].as_array().unwrap())
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// `trace --pod NAMESPACE/NAME` records the pod's container, created and started through the CRI
/// as a kubelet does, from its first instruction: one directory named after the pod's workload and
/// container, with the Docker seccomp profile and the Security Profiles Operator's objects. The
/// profile holds: the container started again under it as a `Localhost` profile passes its
/// exercise, several times and with `no_new_privs` too; a call it never made is refused, and only
/// because of the profile.
#[test]
fn a_pod_is_recorded_from_its_first_instruction_and_its_profile_holds_under_the_cri() {
    const TEST: &str =
        "a_pod_is_recorded_from_its_first_instruction_and_its_profile_holds_under_the_cri";
    let Some((system, cri, runtime)) = cri_tier(TEST) else {
        return;
    };
    let image = cri_image(TestImage::Busybox).unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let pod = Pod::run(&cri, &pod_name("trace-cri-web"), &[("app", "web")]).await;
        let out = tempfile::tempdir().unwrap();
        let target = format!("{NAMESPACE}/{}", pod.name);
        let trace = spawn_armed(
            &system.trace_bin(),
            &[
                "--pod",
                &target,
                "--cri-socket",
                CRI_SOCKET,
                "--duration",
                "2m",
                "--out",
                out.path().to_str().unwrap(),
            ],
        );
        let exit = pod
            .run_to_end("app", 0, &image, &["/bin/sh", "/exercise.sh"], None, false)
            .await;
        assert_eq!(exit.code, 0, "{}", exit.log);
        assert!(exit.log.contains("exercise-ok"), "{}", exit.log);
        wait_trace(trace);

        // One directory, named as every replica's on every node: the workload and the container.
        let dir = out.path().join(format!("{}-app", pod.name));
        let recording = read_json(&dir.join("recording.json"));
        assert_eq!(recording["startup_seen"], true, "{recording}");
        assert_eq!(
            recording["container"]["name"],
            format!("{}-app", pod.name),
            "{recording}"
        );
        assert!(
            recording["container"]["image_id"]
                .as_str()
                .unwrap()
                .starts_with("sha256:"),
            "{recording}"
        );
        let exec_paths: Vec<&str> = recording["execs"]
            .as_object()
            .map(|e| e.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert!(
            exec_paths
                .iter()
                .any(|p| p.ends_with("/busybox") || *p == "/bin/sh"),
            "the entrypoint's exec is in the recording: {exec_paths:?}"
        );
        for file in [
            "seccomp.json",
            "apparmor.profile",
            "seccomp-profile.yaml",
            "apparmor-profile.yaml",
            "files.txt",
        ] {
            assert!(
                dir.join(file).is_file(),
                "{file} missing in {}",
                dir.display()
            );
        }
        let spo = std::fs::read_to_string(dir.join("seccomp-profile.yaml")).unwrap();
        assert!(spo.contains("kind: SeccompProfile"), "{spo}");
        assert!(
            spo.contains(&format!("name: trace-{}-app", pod.name)),
            "{spo}"
        );
        let seccomp_path = dir.join("seccomp.json");
        let names = allowed(&read_json(&seccomp_path));
        assert!(
            names.iter().any(|n| n == "sync") && !names.iter().any(|n| n == "mkdir"),
            "{names:?}"
        );

        prove_profile(&pod, &image, &seccomp_path).await;
    });
    eprintln!("{TEST}: {:.1} s", started.elapsed().as_secs_f64());
}

/// The profile holds through the CRI: the exercise passes under it, with and without
/// `no_new_privs` (runc installs the filter later with it), several times each; a call the
/// exercise never made is refused, and only because of the profile.
async fn prove_profile(pod: &Pod, image: &str, seccomp_path: &Path) {
    let mut attempt = 1;
    for no_new_privs in [false, true] {
        for _ in 0..3 {
            let exit = pod
                .run_to_end(
                    "app",
                    attempt,
                    image,
                    &["/bin/sh", "/exercise.sh"],
                    Some(seccomp_path),
                    no_new_privs,
                )
                .await;
            attempt += 1;
            assert_eq!(
                exit.code, 0,
                "under the profile (no_new_privs {no_new_privs}): {}",
                exit.log
            );
            assert!(exit.log.contains("exercise-ok"), "{}", exit.log);
        }
    }
    // A call the exercise never made is refused ...
    let denied = pod
        .run_to_end(
            "denied",
            0,
            image,
            &["mkdir", "/tmp/x"],
            Some(seccomp_path),
            false,
        )
        .await;
    assert_ne!(denied.code, 0, "mkdir succeeded under the profile");
    assert!(
        denied.log.contains("Operation not permitted"),
        "{}",
        denied.log
    );
    // ... and only because of the profile.
    let control = pod
        .run_to_end("control", 0, image, &["mkdir", "/tmp/x"], None, false)
        .await;
    assert_eq!(control.code, 0, "{}", control.log);
}

/// `trace --pod NAMESPACE/KEY=VALUE` waits for pods that match and records their containers from
/// their first instruction; the replicas of one Deployment, recorded apart as on two nodes, land
/// in directories of one name whose recordings `trace merge` joins.
#[test]
fn replicas_found_by_label_are_recorded_apart_and_merge() {
    const TEST: &str = "replicas_found_by_label_are_recorded_apart_and_merge";
    let Some((system, cri, runtime)) = cri_tier(TEST) else {
        return;
    };
    let image = cri_image(TestImage::Busybox).unwrap();
    let started = Instant::now();
    let app = pod_name("trace-cri-api");
    let hash = "7c9d8f6b5";
    let selector = format!("{NAMESPACE}/app={app}");
    let mut recordings: Vec<PathBuf> = Vec::new();
    let outs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    runtime.block_on(async {
        for (replica, out) in ["x2x7k", "q9z4m"].iter().zip(&outs) {
            let trace = spawn_armed(
                &system.trace_bin(),
                &[
                    "--pod",
                    &selector,
                    "--cri-socket",
                    CRI_SOCKET,
                    "--duration",
                    "2m",
                    "--out",
                    out.path().to_str().unwrap(),
                ],
            );
            // The pod starts after trace: found by its labels, as a Deployment's replica.
            let pod = Pod::run(
                &cri,
                &format!("{app}-{hash}-{replica}"),
                &[("app", app.as_str()), ("pod-template-hash", hash)],
            )
            .await;
            let exit = pod
                .run_to_end("api", 0, &image, &["/bin/sh", "/exercise.sh"], None, false)
                .await;
            assert_eq!(exit.code, 0, "{}", exit.log);
            wait_trace(trace);
            let dir = out.path().join(format!("{app}-api"));
            let recording = read_json(&dir.join("recording.json"));
            assert_eq!(recording["startup_seen"], true, "{recording}");
            recordings.push(dir.join("recording.json"));
        }
    });
    let merged = outs[0].path().join("merged.json");
    let output = Command::new(system.trace_bin())
        .arg("merge")
        .args(&recordings)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let merged = read_json(&merged);
    assert_eq!(
        merged["sources"].as_array().map(Vec::len),
        Some(2),
        "two sources in the merged recording: {merged}"
    );
    eprintln!("{TEST}: {:.1} s", started.elapsed().as_secs_f64());
}

/// The `docker run` options that run the manifest's `record` container as a kubelet would: the
/// host's PID namespace, a cgroup namespace of its own, its capabilities, read-only root, user and
/// host paths; the tests' CRI socket and `out` in place of the node's.
fn docker_options(system: &System, pod_spec: &Value, out: &Path) -> Vec<String> {
    let record = &pod_spec["initContainers"][0];
    let mut options: Vec<String> = vec![
        "--pid".into(),
        "host".into(),
        "--cgroupns".into(),
        "private".into(),
        "--cap-drop".into(),
        "ALL".into(),
        "--read-only".into(),
        "--user".into(),
        record["securityContext"]["runAsUser"].to_string(),
        "--entrypoint".into(),
        "/usr/local/bin/trace".into(),
        "-v".into(),
        format!("{}:/usr/local/bin/trace:ro", system.trace_bin().display()),
    ];
    assert_eq!(pod_spec["hostPID"], true);
    assert_eq!(
        record["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(record["securityContext"]["readOnlyRootFilesystem"], true);
    for cap in record["securityContext"]["capabilities"]["add"]
        .as_array()
        .unwrap()
    {
        let cap = cap.as_str().unwrap();
        if cap != "BPF" && cap != "PERFMON" {
            options.extend(["--cap-add".into(), cap.to_owned()]);
        }
    }
    for mount in record["volumeMounts"].as_array().unwrap() {
        let name = mount["name"].as_str().unwrap();
        let volume = pod_spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap();
        let source = match name {
            "cri" => CRI_SOCKET.to_owned(),
            "out" => out.display().to_string(),
            _ => volume["hostPath"]["path"].as_str().unwrap().to_owned(),
        };
        let read_only = if mount["readOnly"] == true { ":ro" } else { "" };
        options.extend([
            "-v".into(),
            format!(
                "{source}:{}{read_only}",
                mount["mountPath"].as_str().unwrap()
            ),
        ]);
    }
    options
}

/// The `DaemonSet`'s `record` container (deploy/daemonset.yaml), run by Docker as a kubelet would
/// run it: the host's PID namespace and a cgroup namespace of its own (a pod's on a cgroup v2
/// node), every capability dropped but the manifest's, the runtime's default seccomp filter, a
/// read-only root, the manifest's host paths and arguments (the tests' CRI socket and an output
/// directory in place of the node's). It joins the node's cgroup namespace and records a pod's
/// container from its first instruction. Docker 20.10 cannot name `CAP_BPF` and `CAP_PERFMON`:
/// they are left out, and `CAP_SYS_ADMIN`, which the manifest adds too, passes the kernel's
/// checks for both.
#[test]
fn the_daemonsets_container_records_a_pod_from_inside_a_pod() {
    const TEST: &str = "the_daemonsets_container_records_a_pod_from_inside_a_pod";
    let Some((system, cri, runtime)) = cri_tier(TEST) else {
        return;
    };
    let image = cri_image(TestImage::Busybox).unwrap();
    // A Debian root with the C library trace needs, as deploy/Dockerfile's.
    let base = ensure_image(TestImage::Nginx).unwrap();
    let manifest = std::fs::read_to_string(workspace_root().join("deploy/daemonset.yaml")).unwrap();
    let daemonset: Value = serde_norway::from_str(&manifest).unwrap();
    let pod_spec = &daemonset["spec"]["template"]["spec"];
    let record = &pod_spec["initContainers"][0];
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let pod = Pod::run(&cri, &pod_name("trace-cri-node"), &[("app", "node")]).await;
        let options = docker_options(&system, pod_spec, out.path());
        let args: Vec<String> = record["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap()
                    .replace("$(TRACE_PODS)", &format!("{NAMESPACE}/app=node"))
                    .replace("$(TRACE_DURATION)", "2m")
                    .replace("$(NODE_NAME)", "node-1")
            })
            .collect();
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let tracer = Container::run(&base, "trace-cri-record", &options, &args).unwrap();
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            let logs = trace_tests::docker(&["logs", tracer.id()]).unwrap();
            let text = String::from_utf8_lossy(&logs.stderr).into_owned();
            if text.contains("trace: recording the containers of pod") {
                assert!(
                    text.contains("joined the node's cgroup namespace"),
                    "{text}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "trace did not arm in its container: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let exit = pod
            .run_to_end("app", 0, &image, &["/bin/sh", "/exercise.sh"], None, false)
            .await;
        assert_eq!(exit.code, 0, "{}", exit.log);
        let status = docker_ok(&["wait", tracer.id()]).unwrap();
        let logs = trace_tests::docker(&["logs", tracer.id()]).unwrap();
        assert_eq!(status, "0", "{}", describe(&logs));
        let dir = out.path().join("node-1").join(format!("{}-app", pod.name));
        let recording = read_json(&dir.join("recording.json"));
        assert_eq!(recording["startup_seen"], true, "{recording}");
        let names = allowed(&read_json(&dir.join("seccomp.json")));
        assert!(names.iter().any(|n| n == "sync"), "{names:?}");
        assert!(dir.join("seccomp-profile.yaml").is_file());
    });
    eprintln!("{TEST}: {:.1} s", started.elapsed().as_secs_f64());
}
