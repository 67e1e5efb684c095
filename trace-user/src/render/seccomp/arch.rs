//! Architectures a seccomp profile is rendered for, by system call name.
//!
//! A recording is made on `x86_64`; the same container image built for aarch64 runs the same code,
//! so a profile for aarch64 allows the same names, where aarch64 has them. Names are looked up in
//! the `syscalls` crate's tables (the kernel's). aarch64 uses the generic system call table, which
//! has no legacy calls: `open`, `stat`, `fork`, `poll`, `access`, `dup2`, `pipe`, ... do not exist
//! there, and a program built for aarch64 makes `openat`, `newfstatat`, `clone`, `ppoll`, ...
//! instead. Those replacements are not observed, so they are not added: an aarch64 profile from an
//! `x86_64` recording needs an exercise on aarch64 to be complete (docs/formats.md).

use std::str::FromStr;

use super::{Includes, SyscallRule};

/// An architecture a profile covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// `x86_64` (with the x86 and x32 ABIs when they were recorded).
    X86_64,
    /// aarch64 (arm64).
    Aarch64,
}

impl Arch {
    /// Every architecture trace renders, in order.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The name used on the command line: `x86_64`, `aarch64`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// libseccomp's name of its native ABI.
    pub fn scmp_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
        }
    }

    /// Go's name, as Docker's `includes.arches` spells it.
    pub fn go_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// Whether the architecture has a system call of this (libseccomp) name. For `x86_64` the 64-bit
    /// and the 32-bit x86 tables count (a recording's compat calls run on `x86_64` hosts).
    pub fn has(self, name: &str) -> bool {
        match self {
            Arch::X86_64 => {
                syscalls::x86_64::Sysno::from_str(name).is_ok()
                    || syscalls::x86::Sysno::from_str(name).is_ok()
            }
            Arch::Aarch64 => crate::recording::aarch64_has(name),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown architecture {s:?} (x86_64, aarch64)"))
    }
}

/// Rules for `arches`: each rule's names are split by the architectures that have them. With one
/// architecture, names it lacks are left out (the rule's comment lists them); with several, names
/// all of them have stay in the rule and the others move to a copy of the rule that applies only
/// on the architectures having them (Docker's `includes.arches`, Go names), commented. A rule left
/// without names is dropped.
pub fn split(rules: Vec<SyscallRule>, arches: &[Arch]) -> Vec<SyscallRule> {
    if arches == [Arch::X86_64] {
        return rules;
    }
    let mut out = Vec::new();
    for rule in rules {
        // Group names by the exact set of selected architectures that have them.
        let mut groups: std::collections::BTreeMap<Vec<Arch>, Vec<String>> =
            std::collections::BTreeMap::new();
        for name in &rule.names {
            let on: Vec<Arch> = arches.iter().copied().filter(|a| a.has(name)).collect();
            groups.entry(on).or_default().push(name.clone());
        }
        let mut common = rule.clone();
        common.names = groups.remove(arches).unwrap_or_default();
        let missing: Vec<String> = groups.get(&Vec::new()).cloned().unwrap_or_default();
        if !missing.is_empty() {
            let note = format!(
                " Left out (no such call on {}): {}.",
                arches
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                missing.join(", ")
            );
            common.comment = Some(common.comment.unwrap_or_default() + &note);
        }
        if !common.names.is_empty() {
            out.push(common);
        }
        for (on, names) in groups {
            if on.is_empty() {
                continue;
            }
            let only: Vec<&str> = on.iter().map(|a| a.name()).collect();
            let base = rule.comment.clone().unwrap_or_default();
            out.push(SyscallRule {
                names,
                includes: Some(Includes {
                    arches: on.iter().map(|a| a.go_arch().to_owned()).collect(),
                }),
                comment: Some(format!(
                    "{base} Only on {} (the other architectures have no such call).",
                    only.join(", ")
                )),
                ..rule.clone()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_kernel_tables() {
        for name in [
            "openat",
            "read",
            "newfstatat",
            "clone",
            "ppoll",
            "socket",
            "clone3",
        ] {
            assert!(Arch::Aarch64.has(name), "{name} on aarch64");
            assert!(Arch::X86_64.has(name), "{name} on x86_64");
        }
        for legacy in [
            "open",
            "stat",
            "fork",
            "poll",
            "access",
            "dup2",
            "pipe",
            "arch_prctl",
        ] {
            assert!(!Arch::Aarch64.has(legacy), "{legacy} is not on aarch64");
            assert!(Arch::X86_64.has(legacy), "{legacy} is on x86_64");
        }
        for time64 in [
            "clock_gettime64",
            "futex_time64",
            "sched_rr_get_interval_time64",
        ] {
            assert!(!Arch::Aarch64.has(time64), "{time64} is 32-bit only");
        }
        assert!(
            Arch::Aarch64.has("pidfd_send_signal"),
            "424, the first call after them"
        );
        assert!(
            !Arch::Aarch64.has("fstatat"),
            "libseccomp calls it newfstatat"
        );
        assert!(Arch::X86_64.has("_llseek"), "an x86 compat call");
        assert!(!Arch::X86_64.has("no_such_call"));
        assert_eq!("aarch64".parse::<Arch>(), Ok(Arch::Aarch64));
        assert!("arm64".parse::<Arch>().is_err());
    }
}
