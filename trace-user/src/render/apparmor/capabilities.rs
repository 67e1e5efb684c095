//! Capability rules: the capabilities the kernel checked and granted.

use serde::Serialize;

use crate::recording::Recording;

/// The capability part of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CapabilityRules {
    /// AppArmor names (`net_bind_service`) of the capabilities granted at least once.
    pub allowed: Vec<String>,
    /// Comments: capabilities only ever denied (the container ran without them), numbers without
    /// a name.
    pub notes: Vec<String>,
}

/// AppArmor's name of a capability: the kernel's, lower case, without `CAP_`.
fn apparmor_name(kernel_name: &str) -> String {
    kernel_name.trim_start_matches("CAP_").to_ascii_lowercase()
}

/// The capability rules of `recording`, by capability number.
pub fn capability_rules(recording: &Recording) -> CapabilityRules {
    let mut out = CapabilityRules::default();
    for (cap, used) in &recording.capabilities {
        match cap.name() {
            Some(name) if used.granted > 0 => out.allowed.push(apparmor_name(name)),
            Some(name) => out.notes.push(format!(
                "{} was checked and denied, never granted: not allowed",
                apparmor_name(name)
            )),
            None => out.notes.push(format!(
                "capability number {} has no name: it cannot be allowed",
                cap.0
            )),
        }
    }
    out
}
