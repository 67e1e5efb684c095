//! What trace knows of the platform a container runs on, as facts in terms of the recording (no
//! I/O), shared by the renderers, the checker and the image minimizer: what the OCI runtime calls
//! inside the container after it installs the seccomp filter ([`runc`], [`crun`], and which of
//! them a recording needs: [`oci_runtime`]), the paths the runtime provides and
//! Docker's short ids ([`docker`]), and so the files of the image a recording shows were used
//! ([`image`]), which AppArmor permission mediates each recorded access and what its rules can
//! name ([`apparmor`]), the Security Profiles Operator's objects ([`operator`]), and which system
//! calls the C library's functions make ([`libc`]).

pub mod apparmor;
pub mod crun;
pub mod docker;
pub mod image;
pub mod libc;
pub mod oci_runtime;
pub mod operator;
pub mod runc;
