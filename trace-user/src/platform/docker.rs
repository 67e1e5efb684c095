//! What the runtime provides every container (paths that are never part of its image), and how
//! Docker shortens ids.

/// Provided by the runtime, never part of an image.
pub const PSEUDO_FILESYSTEMS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Bind-mounted by Docker into every container (the first two also with `--network host`).
pub const DOCKER_MOUNTS: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/// The short form Docker shows of a container or image id: its first 12 hex digits, without a
/// `sha256:` prefix (the whole id when it is shorter).
pub fn short_id(id: &str) -> &str {
    let hex = id.trim_start_matches("sha256:");
    hex.get(..12).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::short_id;

    #[test]
    fn short_ids() {
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }
}
