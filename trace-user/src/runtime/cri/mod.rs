//! The containers of Kubernetes pods, through a node's Container Runtime Interface (CRI, the
//! `runtime.v1` gRPC API the kubelet speaks to containerd's CRI plugin) on its unix socket.
//!
//! A CRI container is described as a Docker one is ([`ContainerTarget`]), so that a session
//! selects, follows and records it the same way: its labels are the pod's (the pod spec's labels
//! and the kubelet's `io.kubernetes.pod.*`) with the container's own over them
//! (`io.kubernetes.container.name`), its pid and configuration come from the runtime's verbose
//! status ([`convert`]). The CRI has no event stream every runtime serves
//! (`GetContainerEvents` is newer than containerd 1.6), so deaths are found by polling
//! ([`events`]).

mod convert;
pub mod events;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerFilter, ContainerStatusRequest, ImageSpec, ImageStatusRequest, ListContainersRequest,
    ListPodSandboxRequest, PodSandboxFilter, PodSandboxState, PodSandboxStateValue,
    PodSandboxStatusRequest, VersionRequest,
};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::runtime::docker::ContainerTarget;

pub use convert::{CONTAINER_NAME, POD_NAME, POD_NAMESPACE, POD_UID};

/// The CRI socket of containerd, where a kubelet finds it by default.
pub const DEFAULT_SOCKET: &str = "/run/containerd/containerd.sock";
/// The environment variable naming the CRI endpoint (as crictl reads it): a socket path, or
/// `unix://` and a path.
pub const ENDPOINT_ENV: &str = "CONTAINER_RUNTIME_ENDPOINT";
/// How long connecting, and then each request, may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a node's CRI. Cheap to clone: clones share the connection.
#[derive(Clone, Debug)]
pub struct Cri {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    socket: PathBuf,
}

/// Errors talking to the CRI, each a one-line message saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// Nothing answers on the socket.
    #[error(
        "cannot reach the CRI at {} (is containerd running with its CRI plugin? --cri-socket or ${ENDPOINT_ENV} names another socket)",
        .socket.display()
    )]
    Unreachable {
        /// The socket.
        socket: PathBuf,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// The endpoint is not a unix socket.
    #[error("the CRI endpoint {0:?} is not a unix socket (a path, or unix:// and a path)")]
    NotUnix(String),
    /// The runtime refused or failed a request.
    #[error("the CRI's {request} failed: {}", .status.message())]
    Api {
        /// The request.
        request: &'static str,
        /// The runtime's answer.
        #[source]
        status: tonic::Status,
    },
    /// No container has that id.
    #[error("the CRI knows no container {0}")]
    NoContainer(String),
    /// trace runs in a cgroup namespace of its own and cannot join the node's.
    #[error(
        "trace runs in a cgroup namespace of its own and cannot join the node's, that of the runtime at {} (it needs the host's PID namespace, CAP_SYS_ADMIN and CAP_SYS_PTRACE)",
        .socket.display()
    )]
    CgroupNamespace {
        /// The CRI socket.
        socket: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A pod sandbox that is ready (its containers may run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// The sandbox id.
    pub id: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its labels (the pod spec's and the kubelet's).
    pub labels: BTreeMap<String, String>,
}

/// The state of a container, as the CRI's list reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Created, not started.
    Created,
    /// Its processes run.
    Running,
    /// It has exited.
    Exited,
    /// The runtime cannot tell.
    Unknown,
}

impl Cri {
    /// Connects to the CRI at `endpoint` (a socket path, or `unix://` and a path), else at
    /// `$CONTAINER_RUNTIME_ENDPOINT`, else at containerd's socket, and checks that it answers.
    pub async fn connect(endpoint: Option<&str>) -> Result<Cri, CriError> {
        let socket = socket_path(&endpoint_of(endpoint))?;
        let path = socket.clone();
        let unreachable = |source| CriError::Unreachable {
            socket: socket.clone(),
            source,
        };
        // The URI is a placeholder: every connection goes to the socket.
        let channel = Endpoint::from_static("http://cri.invalid")
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    tokio::net::UnixStream::connect(path)
                        .await
                        .map(TokioIo::new)
                }
            }))
            .await
            .map_err(unreachable)?;
        let cri = Cri {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
            socket,
        };
        cri.runtime
            .clone()
            .version(VersionRequest::default())
            .await
            .map_err(api("Version"))?;
        Ok(cri)
    }

    /// The socket this connection uses.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// The CRI's runtime service, for requests this module does not make (creating sandboxes and
    /// containers, as the kubelet does).
    pub fn runtime(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    /// The CRI's image service.
    pub fn images(&self) -> ImageServiceClient<Channel> {
        self.images.clone()
    }

    /// Every container the runtime knows (running or not), with its state.
    pub async fn containers(&self) -> Result<Vec<(String, Phase)>, CriError> {
        let list = self
            .runtime
            .clone()
            .list_containers(ListContainersRequest::default())
            .await
            .map_err(api("ListContainers"))?
            .into_inner();
        Ok(list
            .containers
            .into_iter()
            .map(|c| (c.id, convert::phase(c.state)))
            .collect())
    }

    /// The container `id` (a full id), running or not (`pid` is 0 when it is not running).
    pub async fn container(&self, id: &str) -> Result<ContainerTarget, CriError> {
        let mut runtime = self.runtime.clone();
        let listed = runtime
            .list_containers(ListContainersRequest {
                filter: Some(ContainerFilter {
                    id: id.to_owned(),
                    ..ContainerFilter::default()
                }),
            })
            .await
            .map_err(api("ListContainers"))?
            .into_inner()
            .containers
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| CriError::NoContainer(id.to_owned()))?;
        let status = runtime
            .container_status(ContainerStatusRequest {
                container_id: id.to_owned(),
                verbose: true,
            })
            .await
            .map_err(api("ContainerStatus"))?
            .into_inner();
        let pod = runtime
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: listed.pod_sandbox_id.clone(),
                verbose: false,
            })
            .await
            .map_err(api("PodSandboxStatus"))?
            .into_inner()
            .status
            .unwrap_or_default();
        let image_id = self.image_id(&listed.image_ref).await;
        Ok(convert::target(&listed, &status, &pod, image_id))
    }

    /// The content id of the image `reference` (`sha256:...` of its configuration, as Docker
    /// names images), the same on every node; `reference` itself when the runtime has no such
    /// image.
    async fn image_id(&self, reference: &str) -> String {
        let answer = self
            .images
            .clone()
            .image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: reference.to_owned(),
                    ..ImageSpec::default()
                }),
                verbose: false,
            })
            .await;
        match answer.map(|a| a.into_inner().image) {
            Ok(Some(image)) if !image.id.is_empty() => image.id,
            _ => reference.to_owned(),
        }
    }

    /// The ready pod sandboxes.
    pub async fn ready_pods(&self) -> Result<Vec<Pod>, CriError> {
        let list = self
            .runtime
            .clone()
            .list_pod_sandbox(ListPodSandboxRequest {
                filter: Some(PodSandboxFilter {
                    state: Some(PodSandboxStateValue {
                        state: PodSandboxState::SandboxReady.into(),
                    }),
                    ..PodSandboxFilter::default()
                }),
            })
            .await
            .map_err(api("ListPodSandbox"))?
            .into_inner();
        Ok(list
            .items
            .into_iter()
            .map(|p| {
                let metadata = p.metadata.unwrap_or_default();
                Pod {
                    id: p.id,
                    namespace: metadata.namespace,
                    name: metadata.name,
                    labels: p.labels.into_iter().collect(),
                }
            })
            .collect())
    }

    /// The host pid of a sandbox's own process (the pause container), when the runtime tells.
    pub async fn sandbox_pid(&self, id: &str) -> Option<u32> {
        let answer = self
            .runtime
            .clone()
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: id.to_owned(),
                verbose: true,
            })
            .await
            .ok()?
            .into_inner();
        convert::pid_of(&answer.info)
    }
}

/// Joins the node's cgroup namespace when trace runs in another, as a pod does on a cgroup v2
/// node: `/proc` then shows cgroup paths as the node names them. The node's namespace is that of
/// the runtime serving the CRI socket (its pid from the socket's peer credentials, seen through
/// the host's PID namespace), which runs on the node. Needs `CAP_SYS_ADMIN` and `CAP_SYS_PTRACE`.
/// A namespace is a thread's: call it before trace starts another thread. Whether it joined.
pub async fn join_node_cgroup_namespace(endpoint: Option<&str>) -> Result<bool, CriError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let socket = socket_path(&endpoint_of(endpoint))?;
    let failed = |source| CriError::CgroupNamespace {
        socket: socket.clone(),
        source,
    };
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .map_err(failed)?;
    let pid = stream
        .peer_cred()
        .map_err(failed)?
        .pid()
        .ok_or_else(|| failed(std::io::Error::other("the socket names no peer process")))?;
    let node = format!("/proc/{pid}/ns/cgroup");
    let ours = std::fs::metadata("/proc/self/ns/cgroup").map_err(failed)?;
    let theirs = std::fs::metadata(&node).map_err(failed)?;
    if (ours.dev(), ours.ino()) == (theirs.dev(), theirs.ino()) {
        return Ok(false);
    }
    let namespace = std::fs::File::open(&node).map_err(failed)?;
    // SAFETY: setns(2) on a descriptor this function owns; it changes only the calling thread.
    if unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWCGROUP) } != 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    Ok(true)
}

/// The endpoint to use: `endpoint`, else `$CONTAINER_RUNTIME_ENDPOINT`, else containerd's socket.
fn endpoint_of(endpoint: Option<&str>) -> String {
    let from_env = std::env::var(ENDPOINT_ENV).ok();
    endpoint
        .or(from_env.as_deref())
        .filter(|e| !e.is_empty())
        .unwrap_or(DEFAULT_SOCKET)
        .to_owned()
}

/// The socket of a CRI endpoint: a path, or `unix://` and a path.
fn socket_path(endpoint: &str) -> Result<PathBuf, CriError> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    if !path.starts_with('/') {
        return Err(CriError::NotUnix(endpoint.to_owned()));
    }
    Ok(PathBuf::from(path))
}

/// Maps a failed request's status to [`CriError::Api`].
fn api(request: &'static str) -> impl Fn(tonic::Status) -> CriError {
    move |status| CriError::Api { request, status }
}

/// Labels as the CRI gives them, sorted.
fn sorted(labels: &HashMap<String, String>) -> BTreeMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_unix_sockets() {
        assert_eq!(
            socket_path("unix:///run/containerd/containerd.sock").unwrap(),
            PathBuf::from("/run/containerd/containerd.sock")
        );
        assert_eq!(
            socket_path("/run/crio/crio.sock").unwrap(),
            PathBuf::from("/run/crio/crio.sock")
        );
        assert!(matches!(
            socket_path("tcp://10.0.0.1:1234"),
            Err(CriError::NotUnix(_))
        ));
        assert!(matches!(
            socket_path("relative.sock"),
            Err(CriError::NotUnix(_))
        ));
    }
}
