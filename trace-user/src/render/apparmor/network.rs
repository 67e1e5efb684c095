//! Network rules: the socket families and types created.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::platform::apparmor::{apparmor_family, apparmor_type};
use crate::recording::Recording;

/// One `network` rule and why it is as wide as it is (empty when it is exact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkRule {
    /// `network inet stream,`
    pub rule: String,
    /// A reason, for a trailing comment.
    pub comment: String,
}

/// The network part of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetworkRules {
    /// Sorted rules.
    pub rules: Vec<NetworkRule>,
    /// Comments: sockets no rule can allow.
    pub notes: Vec<String>,
}

/// `network <family> <type>,` per (family, type) created. A type AppArmor cannot name widens the
/// rule to the whole family (the narrowest rule that allows it); a family it cannot name gets no
/// rule, only a note (allowing every family would be far wider than what was seen).
pub fn network_rules(recording: &Recording) -> NetworkRules {
    let mut rules: BTreeMap<String, String> = BTreeMap::new();
    let mut out = NetworkRules::default();
    for socket in &recording.sockets {
        match (
            apparmor_family(socket.family),
            apparmor_type(socket.sock_type),
        ) {
            (Some(family), Some(sock_type)) => {
                rules.insert(format!("network {family} {sock_type},"), String::new());
            }
            (Some(family), None) => {
                rules.insert(
                    format!("network {family},"),
                    format!(
                        "socket type {} has no AppArmor name: every {family} type is allowed",
                        socket.sock_type
                    ),
                );
            }
            (None, _) => out.notes.push(format!(
                "socket family {} (type {}) has no AppArmor name: it cannot be allowed",
                socket.family, socket.sock_type
            )),
        }
    }
    // A family-wide rule covers the typed rules of that family.
    let families: Vec<String> = rules
        .keys()
        .filter_map(|rule| rule.strip_suffix(','))
        .filter(|rule| rule.matches(' ').count() == 1)
        .map(|rule| format!("{rule} "))
        .collect();
    rules.retain(|rule, _| !families.iter().any(|f| rule.starts_with(f.as_str())));
    out.rules = rules
        .into_iter()
        .map(|(rule, comment)| NetworkRule { rule, comment })
        .collect();
    out
}
