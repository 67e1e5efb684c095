//! What the runtime provides every container: paths that are never part of its image.

/// Provided by the runtime, never part of an image.
pub const PSEUDO_FILESYSTEMS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Bind-mounted by Docker into every container (the first two also with `--network host`).
pub const DOCKER_MOUNTS: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];
