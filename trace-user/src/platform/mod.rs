//! What trace knows of the platform a container runs on, as facts in terms of the recording (no
//! I/O), shared by the renderers, the checker and the image minimizer: what runc calls inside the
//! container after it installs the seccomp filter ([`runc`]), the paths the runtime provides and
//! Docker's short ids ([`docker`]), and so the files of the image a recording shows were used
//! ([`image`]), which AppArmor permission mediates each recorded access and what its rules can
//! name ([`apparmor`]), the Security Profiles Operator's objects ([`operator`]), and which system
//! calls the C library's functions make ([`libc`]).

pub mod apparmor;
pub mod docker;
pub mod image;
pub mod libc;
pub mod operator;
pub mod runc;
