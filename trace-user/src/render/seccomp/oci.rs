//! The seccomp profile as the OCI runtime spec's `linux.seccomp` object (`LinuxSeccomp` of the
//! oci-spec crate), for runtimes and tools that take a runtime-spec fragment (runc, crun, youki,
//! CRI-O's and containerd's seccomp JSON).
//!
//! Same rules as the Docker format. The runtime spec has no comments and no per-rule architecture
//! condition: a name only some of the listed architectures have is allowed on all of them (runc
//! and crun resolve each name for the architecture they run on and skip names it lacks).

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscallBuilder,
};
use serde::de::DeserializeOwned;

use super::DockerSeccomp;

/// A libseccomp name (`SCMP_ACT_ALLOW`, `SCMP_CMP_EQ`, `SCMP_ARCH_X86_64`) as an oci-spec enum.
fn named<T: DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .expect("trace writes only names the runtime spec defines")
}

/// The profile as the runtime spec's `LinuxSeccomp`.
pub fn linux_seccomp(profile: &DockerSeccomp) -> LinuxSeccomp {
    let syscalls = profile
        .syscalls
        .iter()
        .map(|rule| {
            let mut builder = LinuxSyscallBuilder::default()
                .names(rule.names.clone())
                .action(named::<LinuxSeccompAction>(&rule.action));
            if let Some(errno) = rule.errno_ret {
                builder = builder.errno_ret(errno);
            }
            if !rule.args.is_empty() {
                builder = builder.args(
                    rule.args
                        .iter()
                        .map(|a| {
                            LinuxSeccompArgBuilder::default()
                                .index(usize::try_from(a.index).expect("an argument index"))
                                .value(a.value)
                                .value_two(a.value_two)
                                .op(named::<LinuxSeccompOperator>(&a.op))
                                .build()
                                .expect("every field is set")
                        })
                        .collect::<Vec<_>>(),
                );
            }
            builder.build().expect("every field is set")
        })
        .collect::<Vec<_>>();
    LinuxSeccompBuilder::default()
        .default_action(named::<LinuxSeccompAction>(&profile.default_action))
        .default_errno_ret(profile.default_errno_ret)
        .architectures(
            profile
                .architectures
                .iter()
                .map(|a| named(a))
                .collect::<Vec<_>>(),
        )
        .syscalls(syscalls)
        .build()
        .expect("every field is set")
}
