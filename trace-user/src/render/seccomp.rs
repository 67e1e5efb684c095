//! Docker / Podman seccomp profile (JSON) from a recording.
//!
//! The profile allows exactly the system calls observed, those included on purpose
//! (`--include-syscall`, each with its reason in the rule's comment) and the baseline of the OCI
//! runtime that started the container (what runc or crun itself calls after it installs the
//! filter: [`crate::platform::oci_runtime`]). Everything else fails with `EPERM`, except a short
//! list of newer calls that C libraries and runtimes probe and replace with an older call only
//! when the kernel answers `ENOSYS` (glibc's `clone3` -> `clone`, `faccessat2` -> `faccessat`,
//! ...): those get `ENOSYS` by an explicit rule, as Docker's own default profile does for `clone3`.
//!
//! Why not `defaultErrnoRet: ENOSYS` for everything: Docker 20.10 ignores `defaultErrnoRet`
//! (measured: the default stays `EPERM`), so the same profile would behave differently on different
//! engines; explicit rules behave the same everywhere. See docs/seccomp.md.

pub mod arch;
pub mod docker_default;
pub mod narrow;
pub mod oci;
pub mod relative;
pub mod spo;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use trace_common::Abi;

pub use arch::Arch;

use crate::platform::oci_runtime;
use crate::recording::Recording;

/// `EPERM`: what calls outside the profile get.
pub const ERRNO_EPERM: u32 = 1;
/// `ENOSYS` on every Linux architecture trace renders for.
pub const ERRNO_ENOSYS: u32 = 38;

/// Calls that libcs and runtimes try first and replace with an older call when (and only when) the
/// kernel answers `ENOSYS`: glibc (`clone3`, `close_range`, `faccessat2`, `fchmodat2`, `statx` on
/// 32-bit, `epoll_pwait2`), runc and systemd (`openat2`), Go and Rust std (`pidfd_open`, `statx`).
/// When not observed they fail with `ENOSYS`, so a newer libc than the one traced still works.
pub const ENOSYS_FALLBACKS: &[&str] = &[
    "clone3",
    "close_range",
    "epoll_pwait2",
    "faccessat2",
    "fchmodat2",
    "openat2",
    "pidfd_open",
    "statx",
];

/// The subset of Docker's seccomp profile format that trace writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerSeccomp {
    /// Action for calls no rule matches.
    pub default_action: String,
    /// errno returned by `default_action` `SCMP_ACT_ERRNO` (Docker 20.10 ignores it and uses `EPERM`).
    pub default_errno_ret: u32,
    /// libseccomp architecture names the filter covers; calls of other ABIs are refused.
    pub architectures: Vec<String>,
    /// The allow rules.
    pub syscalls: Vec<SyscallRule>,
}

/// One rule of a Docker seccomp profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    /// System call names, sorted.
    pub names: Vec<String>,
    /// Action when one of them is called.
    pub action: String,
    /// errno for `SCMP_ACT_ERRNO` rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument filters, all of which must hold (empty: any arguments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SeccompArg>,
    /// Docker's condition on the engine's architecture (`arches`: Go names, `amd64`, `arm64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<Includes>,
    /// Why the rule is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One argument filter (libseccomp's comparison of argument `index` with `value`; for
/// `SCMP_CMP_MASKED_EQ`, `value` is the mask and `value_two` the value compared).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompArg {
    /// Which argument, from 0.
    pub index: u32,
    /// The operand (the mask for `SCMP_CMP_MASKED_EQ`).
    pub value: u64,
    /// The second operand (the value for `SCMP_CMP_MASKED_EQ`).
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_EQ`, `SCMP_CMP_MASKED_EQ`, `SCMP_CMP_LT`, ...
    pub op: String,
}

/// Docker's `includes`: the rule applies only on these engine architectures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Includes {
    /// Go architecture names (`amd64`, `arm64`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
}

/// How to render the seccomp profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeccompOptions {
    /// The architectures to cover, sorted, at least one.
    pub arches: Vec<Arch>,
    /// Never looser than Docker's default profile ([`relative`]).
    pub relative_to_default: bool,
}

impl Default for SeccompOptions {
    fn default() -> Self {
        SeccompOptions {
            arches: vec![Arch::X86_64],
            relative_to_default: false,
        }
    }
}

/// An allow rule without argument filters.
fn allow_rule(names: Vec<String>, comment: String) -> SyscallRule {
    SyscallRule {
        names,
        action: "SCMP_ACT_ALLOW".into(),
        errno_ret: None,
        args: Vec::new(),
        includes: None,
        comment: Some(comment),
    }
}

/// The rule allowing the calls `included` on purpose and not observed, each with its reason.
fn included_rule(recording: &Recording, included: &BTreeSet<&str>) -> Option<SyscallRule> {
    let why: Vec<String> = recording
        .included_syscalls
        .iter()
        .filter(|i| included.contains(i.name.as_str()))
        .map(|i| {
            if i.reason.is_empty() {
                i.name.clone()
            } else {
                format!("{}: {}", i.name, i.reason)
            }
        })
        .collect();
    (!included.is_empty()).then(|| {
        allow_rule(
            included.iter().map(|s| (*s).to_owned()).collect(),
            format!(
                "Included on purpose (--include-syscall), not observed: {}.",
                why.join("; ")
            ),
        )
    })
}

/// libseccomp's name of an ABI's architecture.
pub fn scmp_arch(abi: Abi) -> &'static str {
    match abi {
        Abi::X86_64 => "SCMP_ARCH_X86_64",
        Abi::X86 => "SCMP_ARCH_X86",
        Abi::X32 => "SCMP_ARCH_X32",
    }
}

/// The profile as a value, with the default options (`x86_64`, exactly what was observed).
pub fn profile(recording: &Recording) -> DockerSeccomp {
    profile_with(recording, &SeccompOptions::default())
}

/// The rules for what the OCI runtime calls after it installs the filter: what this recording
/// saw it call (`seen`), then the rest of its measured baseline.
fn runtime_rules(
    runtime: &str,
    seen: &BTreeSet<&str>,
    baseline: &BTreeSet<&str>,
) -> Vec<SyscallRule> {
    let owned = |set: &BTreeSet<&str>| set.iter().map(|s| (*s).to_owned()).collect();
    let mut rules = Vec::new();
    if !seen.is_empty() {
        rules.push(allow_rule(
            owned(seen),
            format!(
                "{runtime}, observed at startup: called after {runtime} installed this filter, \
                 before the entrypoint started."
            ),
        ));
    }
    if !baseline.is_empty() {
        rules.push(allow_rule(
            owned(baseline),
            format!(
                "{runtime} baseline: called by {runtime} after it installs this filter, before the \
                 entrypoint starts; not observed in this recording."
            ),
        ));
    }
    rules
}

/// The profile as a value.
pub fn profile_with(recording: &Recording, options: &SeccompOptions) -> DockerSeccomp {
    let observed: BTreeSet<&str> = recording
        .syscalls
        .values()
        .flat_map(|calls| calls.keys().map(String::as_str))
        .collect();
    let included = recording.included_unobserved();
    let runc_seen: BTreeSet<&str> = recording
        .startup
        .iter()
        .flat_map(|s| s.runc_after_filter.values())
        .flat_map(|calls| calls.keys().map(String::as_str))
        .filter(|name| !observed.contains(name) && !included.contains(name))
        .collect();
    let runtimes = oci_runtime::baselines(&recording.container.runtimes);
    let runtime = oci_runtime::names(&runtimes);
    let baseline: BTreeSet<&str> = oci_runtime::calls(&runtimes)
        .into_iter()
        .filter(|name| {
            !observed.contains(name) && !included.contains(name) && !runc_seen.contains(name)
        })
        .collect();

    // The native ABI is always covered: the runtime's baseline runs in it even if nothing else was
    // seen.
    let mut abis: BTreeSet<Abi> = recording.syscalls.keys().copied().collect();
    abis.extend(
        recording
            .startup
            .iter()
            .flat_map(|s| s.runc_after_filter.keys().copied()),
    );
    abis.insert(Abi::X86_64);

    let who = format!(
        "container {} (image {})",
        recording.container.name, recording.container.image
    );
    let owned = |set: &BTreeSet<&str>| set.iter().map(|s| (*s).to_owned()).collect();
    let mut syscalls = vec![allow_rule(
        owned(&observed),
        format!(
            "Observed while tracing {who}: {} distinct system calls.",
            observed.len()
        ),
    )];
    syscalls.extend(included_rule(recording, &included));
    syscalls.extend(runtime_rules(&runtime, &runc_seen, &baseline));
    let fallbacks: Vec<String> = ENOSYS_FALLBACKS
        .iter()
        .filter(|name| {
            !observed.contains(*name)
                && !included.contains(*name)
                && !runc_seen.contains(*name)
                && !baseline.contains(*name)
        })
        .map(|name| (*name).to_owned())
        .collect();
    if !fallbacks.is_empty() {
        syscalls.push(SyscallRule {
            names: fallbacks,
            action: "SCMP_ACT_ERRNO".into(),
            errno_ret: Some(ERRNO_ENOSYS),
            args: Vec::new(),
            includes: None,
            comment: Some(
                "Not observed; refused with ENOSYS so that C libraries and runtimes fall back to the \
                 older calls this container was seen using."
                    .into(),
            ),
        });
    }
    if options.relative_to_default {
        syscalls = relative::apply(syscalls, &narrow::rules(recording));
    }
    // x86_64 covers the recorded x86 ABIs, in their order (x86_64 first); aarch64 its native one.
    let mut architectures: Vec<String> = Vec::new();
    for target in &options.arches {
        match target {
            Arch::X86_64 => {
                architectures.extend(abis.iter().map(|&abi| scmp_arch(abi).to_owned()));
            }
            Arch::Aarch64 => architectures.push(target.scmp_arch().to_owned()),
        }
    }
    DockerSeccomp {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: ERRNO_EPERM,
        architectures,
        syscalls: arch::split(syscalls, &options.arches),
    }
}

/// The profile as pretty JSON with a trailing newline.
pub fn render(recording: &Recording) -> String {
    render_with(recording, &SeccompOptions::default())
}

/// The profile as pretty JSON with a trailing newline, with `options`.
pub fn render_with(recording: &Recording, options: &SeccompOptions) -> String {
    json_text(&profile_with(recording, options))
}

/// Pretty JSON of a value trace built, with a trailing newline.
pub(crate) fn json_text(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a profile always serializes");
    text.push('\n');
    text
}
