//! Profiles relative to Docker's default: never looser than it on the calls it filters.
//!
//! The exact profile allows each observed call with any arguments. Relative to Docker's default
//! ([`docker_default`](super::docker_default)), each allowed name is treated as the default treats
//! it:
//! - allowed unconditionally by the default: allowed as before;
//! - allowed by the default only with argument filters (`clone` without namespace flags,
//!   `personality` with five values, `socket` without `AF_ALG`/`AF_VSOCK`): allowed with exactly
//!   those filters, so e.g. `clone(CLONE_NEWUSER)` fails with `EPERM` as under Docker's default;
//! - refused by the default with `ENOSYS` (`clone3`): refused with `ENOSYS`, observed or not (glibc
//!   falls back to `clone`);
//! - allowed by the default only with a capability Docker does not grant by default, or not at
//!   all: **kept**, in a rule of its own whose comment says so. The container was seen making the
//!   call, so it ran with a looser profile (`--cap-add`, `seccomp=unconfined`); refusing it would
//!   break the exercise, and the point of the profile is to allow what was observed. Review them.
//!
//! Calls the recording shows with a few argument values only (`personality`, `prctl`, `clone`)
//! are allowed for those values alone ([`narrow`](super::narrow)), within Docker's filters.

use std::collections::{BTreeMap, BTreeSet};

use super::docker_default::{Treatment, treatment};
use super::{ERRNO_ENOSYS, SyscallRule};

/// The rules of an exact profile made relative to Docker's default (see the module docs);
/// `narrowed`: argument rules from evidence that replace a call's allow-any rule.
pub fn apply(
    rules: Vec<SyscallRule>,
    narrowed: &BTreeMap<String, Vec<SyscallRule>>,
) -> Vec<SyscallRule> {
    let mut out = Vec::new();
    let mut filtered: Vec<SyscallRule> = Vec::new();
    let mut filtered_names: BTreeSet<String> = BTreeSet::new();
    let mut beyond: BTreeSet<String> = BTreeSet::new();
    let mut reasons: BTreeSet<String> = BTreeSet::new();
    let mut enosys: BTreeSet<String> = BTreeSet::new();
    for mut rule in rules {
        if rule.action != "SCMP_ACT_ALLOW" || !rule.args.is_empty() {
            if rule.action == "SCMP_ACT_ERRNO" && rule.errno_ret == Some(ERRNO_ENOSYS) {
                enosys.extend(rule.names);
            } else {
                out.push(rule);
            }
            continue;
        }
        let mut kept = Vec::new();
        for name in rule.names {
            if let Some(rules) = narrowed.get(&name) {
                if filtered_names.insert(name) {
                    filtered.extend(rules.iter().cloned());
                }
                continue;
            }
            match treatment(&name) {
                Treatment::Allowed => kept.push(name),
                Treatment::Filtered(rules) => {
                    if filtered_names.insert(name) {
                        filtered.extend(rules);
                    }
                }
                Treatment::Enosys => {
                    enosys.insert(name);
                }
                Treatment::OnlyWithCapability(cap) => {
                    reasons.insert(format!("{name} (needs {cap})"));
                    beyond.insert(name);
                }
                Treatment::Refused => {
                    reasons.insert(format!("{name} (never)"));
                    beyond.insert(name);
                }
            }
        }
        rule.names = kept;
        if !rule.names.is_empty() {
            out.push(rule);
        }
    }
    out.extend(filtered);
    if !beyond.is_empty() {
        out.push(SyscallRule {
            names: beyond.into_iter().collect(),
            action: "SCMP_ACT_ALLOW".into(),
            errno_ret: None,
            args: Vec::new(),
            includes: None,
            comment: Some(format!(
                "Observed, but Docker's default profile does not allow them without a capability it \
                 does not grant by default, or at all: {}. Kept because the container made them; \
                 review.",
                reasons.into_iter().collect::<Vec<_>>().join(", ")
            )),
        });
    }
    if !enosys.is_empty() {
        out.push(SyscallRule {
            names: enosys.into_iter().collect(),
            action: "SCMP_ACT_ERRNO".into(),
            errno_ret: Some(ERRNO_ENOSYS),
            args: Vec::new(),
            includes: None,
            comment: Some(
                "Refused with ENOSYS so that C libraries and runtimes fall back to older calls \
                 (clone3 always, as in Docker's default profile)."
                    .into(),
            ),
        });
    }
    out
}
