//! What a recording read from disk must hold before anything is made from it. A recording is
//! data from an untrusted container that a user may also have edited: its names go into seccomp
//! profiles, Docker API paths and the advised commands, so each is checked against what the
//! real thing can be.

use super::{Recording, RuntimeInfo, SyscallsByAbi, is_syscall_name};

/// The longest engine or runtime name or version a recording may hold.
const RUNTIME_FIELD_MAX: usize = 64;

/// A field of a recording that no trace run could have written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Invalid {
    /// A system call name that is not in the table of its ABI (`""`, a typo, a name with a
    /// newline): Docker refuses such a profile, or it names nothing.
    #[error("{section}: {name:?} is not a system call of {abi}")]
    Syscall {
        /// Where it was (`syscalls`, `startup`, `arguments`).
        section: &'static str,
        /// The ABI.
        abi: String,
        /// The name.
        name: String,
    },
    /// `container.image_id` is not `sha256:` and 64 hex digits (it goes into Docker API paths).
    #[error("container.image_id {0:?} is not an image id (sha256: and 64 hex digits)")]
    ImageId(String),
    /// `container.image` is not an image reference: empty, flag-like (`-...`) or with blanks or
    /// control characters (it goes into the advised `docker run` line).
    #[error("container.image {0:?} is not an image reference")]
    Image(String),
    /// `container.name` is not a name Docker gives a container.
    #[error("container.name {0:?} is not a container name")]
    ContainerName(String),
    /// `container.id` is not hexadecimal.
    #[error("container.id {0:?} is not a container id")]
    ContainerId(String),
    /// An entry of `container.config.process.env_names` is empty or holds `=` or NUL: a value
    /// (which a recording never keeps) or nothing Docker could have set.
    #[error("container.config.process.env_names has an entry that is not a variable name")]
    EnvName,
    /// An entry of `container.runtimes` with an empty engine or runtime name, or a field longer
    /// than an engine reports or holding a control character.
    #[error("container.runtimes has an entry that is not an engine and runtime: {0:?}")]
    Runtime(String),
    /// An entry of `included_syscalls` that `--include-syscall` would refuse (v8).
    #[error("included_syscalls: {0}")]
    Included(#[source] super::IncludeError),
    /// A name in `reach` that no binary could have given (v8).
    #[error("reach: {0:?} is not an imported function or a system call of its machine")]
    ReachName(String),
    /// `steps` that do not agree with the recording: more than allowed, a name a mark cannot
    /// have, more calls than recorded, files it does not have or listed twice (v8).
    #[error("steps do not agree with the recorded system calls and files")]
    Steps,
}

impl Recording {
    /// Checks every field that goes into a profile, a Docker API call or a command line.
    pub fn validate(&self) -> Result<(), Invalid> {
        syscall_names("syscalls", &self.syscalls)?;
        if let Some(startup) = &self.startup {
            syscall_names("startup", &startup.runc_before_filter)?;
            syscall_names("startup", &startup.runc_after_filter)?;
        }
        for name in self.arguments.values.keys() {
            let known = [trace_common::Abi::X86_64, trace_common::Abi::X86]
                .into_iter()
                .any(|abi| is_syscall_name(abi, name));
            if !known {
                return Err(Invalid::Syscall {
                    section: "arguments",
                    abi: "any ABI".into(),
                    name: name.clone(),
                });
            }
        }
        let container = &self.container;
        if !(container.image_id.is_empty() || is_image_id(&container.image_id)) {
            return Err(Invalid::ImageId(container.image_id.clone()));
        }
        if !is_image_reference(&container.image) {
            return Err(Invalid::Image(container.image.clone()));
        }
        if !(container.name.is_empty() || is_container_name(&container.name)) {
            return Err(Invalid::ContainerName(container.name.clone()));
        }
        if !container.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Invalid::ContainerId(container.id.clone()));
        }
        for runtime in &container.runtimes {
            if !is_runtime_info(runtime) {
                return Err(Invalid::Runtime(format!(
                    "{} {} {} {}",
                    runtime.engine, runtime.engine_version, runtime.name, runtime.version
                )));
            }
        }
        let env_names = container
            .config
            .as_ref()
            .and_then(|c| c.process.as_ref())
            .and_then(|p| p.env_names.as_deref())
            .unwrap_or_default();
        if env_names
            .iter()
            .any(|name| name.is_empty() || name.contains(['=', '\0']))
        {
            return Err(Invalid::EnvName);
        }
        for included in &self.included_syscalls {
            included.check().map_err(Invalid::Included)?;
        }
        if let Some(name) = self.reach.as_ref().and_then(super::Reach::invalid_name) {
            return Err(Invalid::ReachName(name));
        }
        if !self.steps_consistent() {
            return Err(Invalid::Steps);
        }
        Ok(())
    }
}

fn syscall_names(section: &'static str, by_abi: &SyscallsByAbi) -> Result<(), Invalid> {
    for (&abi, calls) in by_abi {
        if let Some(name) = calls.keys().find(|name| !is_syscall_name(abi, name)) {
            return Err(Invalid::Syscall {
                section,
                abi: abi.name().to_owned(),
                name: name.clone(),
            });
        }
    }
    Ok(())
}

/// `sha256:` and 64 lowercase hex digits, as Docker's image ids are.
fn is_image_id(id: &str) -> bool {
    id.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// An image reference as Docker accepts one (`name[:tag][@digest]`, or an id), loosely: it starts
/// with a letter or digit and holds only printable ASCII without blanks, so it is one word that
/// cannot read as an option.
fn is_image_reference(image: &str) -> bool {
    image
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && image.bytes().all(|b| b.is_ascii_graphic())
}

/// Docker's container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, with the API's leading `/` allowed.
fn is_container_name(name: &str) -> bool {
    let name = name.strip_prefix('/').unwrap_or(name);
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Names that are there and versions that may be empty, all short and printable.
fn is_runtime_info(runtime: &RuntimeInfo) -> bool {
    let printable =
        |text: &str| text.len() <= RUNTIME_FIELD_MAX && !text.chars().any(char::is_control);
    !runtime.engine.is_empty()
        && !runtime.name.is_empty()
        && [
            &runtime.engine,
            &runtime.engine_version,
            &runtime.name,
            &runtime.version,
        ]
        .into_iter()
        .all(|field| printable(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_ids_and_references() {
        assert!(is_image_id(&format!("sha256:{}", "ab".repeat(32))));
        for bad in [
            "../../../../containers/json?x=",
            "sha256:",
            "sha256:ABCDEF",
            &format!("sha256:{}/x", "a".repeat(63)),
        ] {
            assert!(!is_image_id(bad), "{bad}");
        }
        for good in [
            "nginx",
            "nginx:1.27",
            "registry:5000/a/b@sha256:00ff",
            "trace-test/busybox:local",
        ] {
            assert!(is_image_reference(good), "{good}");
        }
        for bad in ["", "-v", "--privileged", "a b", "a\nb", "/abs"] {
            assert!(!is_image_reference(bad), "{bad:?}");
        }
        assert!(is_container_name("/web-1"));
        for bad in ["null\n", "-x", "a/b", "a b", "."] {
            assert!(!is_container_name(bad), "{bad:?}");
        }
    }
}
