//! What trace knows of the platform a container runs on, as plain facts (no I/O) shared by the
//! renderers, the checker and the image minimizer: what runc calls inside the container after it
//! installs the seccomp filter ([`runc`]), the paths the runtime provides ([`docker`]), which
//! AppArmor permission mediates each recorded access and what its rules can name ([`apparmor`]),
//! and the Security Profiles Operator's objects ([`operator`]).

pub mod apparmor;
pub mod docker;
pub mod operator;
pub mod runc;
