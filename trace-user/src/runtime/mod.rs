//! The container runtime, the first stage of a recording: the engine (Docker, or Podman through
//! its Docker-compatible API: [`engine`], read as Docker's: [`compat`]), a container resolved
//! through it ([`docker`]), created and driven for `trace run` ([`create`], [`lifecycle`]), the cgroup v2 the
//! probe filters on ([`cgroup`]), and what `/proc` shows of its processes: who they are
//! ([`identity`]) and the files an attach missed ([`snapshot`]).

pub mod cgroup;
pub mod compat;
pub mod create;
pub mod cri;
pub mod docker;
pub mod engine;
pub mod identity;
pub mod lifecycle;
pub mod snapshot;

pub use cgroup::CgroupV2;
pub use docker::ContainerTarget;

/// A running container and its cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// What Docker says about it.
    pub container: ContainerTarget,
    /// Its cgroup v2 (every process of the container, `docker exec` ones included, is in it or
    /// below it).
    pub cgroup: CgroupV2,
}

/// Why a target could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Docker failed or does not know the container.
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
    /// Its cgroup could not be found.
    #[error("container '{name}': {source}")]
    Cgroup {
        /// Container name.
        name: String,
        /// Why.
        #[source]
        source: cgroup::CgroupError,
    },
}

/// Resolves a running container by name or id and finds its cgroup.
pub async fn resolve(docker: &bollard::Docker, name_or_id: &str) -> Result<Target, TargetError> {
    let container = docker::resolve(docker, name_or_id).await?;
    let cgroup = cgroup::of_container(container.pid, &container.id).map_err(|source| {
        TargetError::Cgroup {
            name: container.name.clone(),
            source,
        }
    })?;
    Ok(Target { container, cgroup })
}
