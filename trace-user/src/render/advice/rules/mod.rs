//! The rules: one function per topic, each adding its items and its part of the [`Plan`](super::Plan)
//! (or the [`Program`](super::Program)), one module per topic. Every string taken from the
//! recording goes through [`quote::markdown`](super::quote::markdown) or
//! [`quote::code_span`](super::quote::code_span) before it is part of an item.

use std::collections::BTreeSet;

use super::quote::markdown;
use crate::recording::{Access, Capability, CapabilityUse, FileUse, PathBytes, Recording};

mod capabilities;
mod configuration;
mod network;
mod no_new_privileges;
mod profiles;
mod program;
mod read_only_root;
mod user;

pub use capabilities::capabilities;
pub use configuration::configuration;
pub use network::network;
pub use no_new_privileges::no_new_privileges;
pub use profiles::profiles;
pub use program::program;
pub use read_only_root::read_only_root;
pub use user::user;

/// The uid and gid advised for a container that needs no root: `nobody`/`nogroup` on Debian and
/// most images, and a number, so it works without the image's /etc/passwd.
pub const UNPRIVILEGED_USER: &str = "65534:65534";

/// Host paths Docker Bench (5.5) calls sensitive: mounting them writable hands over the host.
const SENSITIVE_HOST_PATHS: [&str; 8] = [
    "/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr",
];

/// Directories a container may write without a root file system: Docker mounts them itself.
const ALWAYS_WRITABLE: [&str; 3] = ["/dev", "/proc", "/sys"];

/// Accesses that change the file system.
const MODIFYING: [Access; 8] = [
    Access::Write,
    Access::Append,
    Access::Create,
    Access::Delete,
    Access::Rename,
    Access::Link,
    Access::Chmod,
    Access::Chown,
];

/// How many examples an evidence line lists at most.
const EXAMPLES: usize = 4;

fn code(text: &str) -> String {
    markdown(text.as_bytes())
}

fn path_text(path: &PathBytes) -> String {
    markdown(path.as_bytes())
}

/// `a, b, c and 2 more`.
fn examples(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(EXAMPLES).map(String::as_str).collect();
    let more = items.len().saturating_sub(EXAMPLES);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn modifies(used: &FileUse) -> bool {
    used.access.iter().any(|a| MODIFYING.contains(a))
}

/// runc's `<state dir>/<container id>/exec.fifo`, which its init opens through `/proc/self/fd`
/// just before executing the entrypoint: a host path, not a write into the container.
fn runc_fifo(recording: &Recording, path: &PathBytes) -> bool {
    let id = recording.container.id.as_bytes();
    !id.is_empty()
        && path
            .as_bytes()
            .strip_suffix(b"/exec.fifo")
            .is_some_and(|dir| dir.ends_with(id) && dir[..dir.len() - id.len()].ends_with(b"/"))
}

/// The paths it changed, outside mounts and the directories Docker keeps writable.
fn written_paths(recording: &Recording) -> impl Iterator<Item = (&PathBytes, &FileUse)> {
    let mounts = mount_points(recording);
    let always: Vec<PathBytes> = ALWAYS_WRITABLE
        .iter()
        .map(|p| PathBytes::from(*p))
        .collect();
    recording.files.iter().filter(move |(path, used)| {
        modifies(used)
            && !under_any(path, &mounts)
            && !under_any(path, &always)
            && !runc_fifo(recording, path)
    })
}

/// Mount points inside the container: the configuration's and those recorded since v2.
fn mount_points(recording: &Recording) -> BTreeSet<PathBytes> {
    let mut points = recording.container.mounts.clone();
    if let Some(config) = &recording.container.config {
        points.extend(
            config
                .mounts
                .iter()
                .map(|m| PathBytes::from(m.destination.as_str())),
        );
    }
    points
}

fn under_any<'a>(path: &PathBytes, dirs: impl IntoIterator<Item = &'a PathBytes>) -> bool {
    dirs.into_iter().any(|dir| path.is_within(dir))
}

/// `--cap-add`/`--cap-drop` spelling to the kernel's name (`net_admin` -> `CAP_NET_ADMIN`).
fn cap_name(given: &str) -> String {
    let upper = given.to_ascii_uppercase();
    if upper.starts_with("CAP_") || upper == "ALL" {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

fn checks(cap: Capability, used: &CapabilityUse) -> String {
    format!(
        "`{cap}`: checked {} times, granted {}, denied {}",
        used.granted.saturating_add(used.denied),
        used.granted,
        used.denied
    )
}
