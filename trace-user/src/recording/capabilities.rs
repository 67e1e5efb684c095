//! Capability checks: which capabilities the kernel checked, granted and refused.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Category, Recording};

/// Capability names by number, from the kernel's `include/uapi/linux/capability.h` (Linux 5.9 and
/// later: 0 ..= 40, `CAP_LAST_CAP` is `CAP_CHECKPOINT_RESTORE`).
pub const CAPABILITY_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability by number. Written as its name (`CAP_NET_BIND_SERVICE`), or `CAP_<n>` for a
/// number this trace has no name for. Ordered by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Capability(pub u32);

impl Capability {
    /// The kernel's name, `None` for numbers above [`CAPABILITY_NAMES`].
    pub fn name(self) -> Option<&'static str> {
        CAPABILITY_NAMES.get(usize::try_from(self.0).ok()?).copied()
    }

    /// Parses a name or `CAP_<n>`.
    pub fn from_name(name: &str) -> Option<Capability> {
        if let Some(nr) = CAPABILITY_NAMES.iter().position(|n| *n == name) {
            return u32::try_from(nr).ok().map(Capability);
        }
        let digits = name.strip_prefix("CAP_")?;
        let nr: u32 = digits.parse().ok()?;
        // Only numbers without a name, written without leading zeros, so each has one spelling.
        (Capability(nr).name().is_none() && nr.to_string() == digits).then_some(Capability(nr))
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "CAP_{}", self.0),
        }
    }
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Capability::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown capability {name:?}")))
    }
}

/// How often a capability was checked, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityUse {
    /// Checks the kernel granted.
    pub granted: u64,
    /// Checks it refused.
    pub denied: u64,
}

impl Recording {
    /// Adds `count` checks of capability number `cap` with the given outcome. Counts add up, so
    /// the order of calls does not matter; a zero count still records that the check happened.
    pub fn record_capability(&mut self, cap: u32, granted: bool, count: u64) {
        super::config::add_check(&mut self.capabilities, cap, granted, count);
    }

    /// Whether `capabilities` is a real observation rather than absent.
    pub fn capabilities_recorded(&self) -> bool {
        self.events.recorded.contains(&Category::Capabilities)
    }
}
