//! Argument-level rules from the argument values a recording holds (`--relative-to-default`).
//!
//! For `personality`, `prctl` and `clone` the probe keeps the distinct values of argument 0 that
//! runc (after its filter) and the application passed. When a call was seen with a few values
//! only ([`MAX_VALUES`]), none was lost, and the startup was seen (runc's own values are in the
//! recording), the profile allows the call for exactly those values, one rule per value, as
//! Docker's default does for `personality`:
//! - `personality`, `prctl`: `SCMP_CMP_EQ` on the value;
//! - `clone`: `SCMP_CMP_MASKED_EQ` under [`CLONE_COMPARE_MASK`] (every flag the kernel honours,
//!   not the exit signal), plus the Go runtime's thread flags ([`GO_THREAD_CLONE_FLAGS`]: runc
//!   is a Go program and may start a thread after its filter at any time).
//!
//! Never looser than Docker's default: a value its filter refuses (a `personality` outside its
//! five, `clone` with a namespace flag) stays refused and the comment says so. Without usable
//! evidence the call keeps Docker's treatment ([`relative`](super::relative)).

use std::collections::{BTreeMap, BTreeSet};

use super::SyscallRule;
use super::docker_default::{CLONE_NAMESPACE_FLAGS, PERSONALITY_VALUES};
use crate::recording::{Category, Recording};

/// Most distinct values for which a call is narrowed; with more, the evidence says the call is
/// used broadly and it keeps Docker's treatment.
pub const MAX_VALUES: usize = 8;

/// The calls narrowed, with the argument the probe records (0 for each).
pub const NARROWED: &[&str] = &["clone", "personality", "prctl"];

/// The `clone(2)` flag bits compared: the low 32 bits (the kernel ignores the upper ones for
/// `clone`) except `CSIGNAL` (0xff, the exit signal).
pub const CLONE_COMPARE_MASK: u64 = 0xffff_ff00;

/// `CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_SYSVSEM | CLONE_THREAD`: how the Go
/// runtime starts a thread (runc's included).
pub const GO_THREAD_CLONE_FLAGS: u64 = 0x5_0f00;

/// The argument rules per narrowed call name, from `recording`'s evidence (see the module docs);
/// calls without usable evidence are absent.
pub fn rules(recording: &Recording) -> BTreeMap<String, Vec<SyscallRule>> {
    let usable = recording.events.recorded.contains(&Category::Arguments)
        && recording.arguments.lost == 0
        && recording.startup.is_some();
    if !usable {
        return BTreeMap::new();
    }
    NARROWED
        .iter()
        .filter_map(|&name| {
            let seen = recording.arguments.values.get(name)?.get(&0)?;
            Some((name.to_owned(), call_rules(name, seen)?))
        })
        .collect()
}

/// The rules allowing `name` for the values `seen` of argument 0, or `None` when there are none
/// Docker's default allows or too many.
fn call_rules(name: &str, seen: &BTreeSet<u64>) -> Option<Vec<SyscallRule>> {
    let (allowed, refused): (BTreeSet<u64>, BTreeSet<u64>) = match name {
        "clone" => {
            let (ok, bad): (Vec<u64>, Vec<u64>) = seen
                .iter()
                .partition(|&&flags| flags & CLONE_NAMESPACE_FLAGS == 0);
            let mut ok: BTreeSet<u64> = ok.iter().map(|f| f & CLONE_COMPARE_MASK).collect();
            ok.insert(GO_THREAD_CLONE_FLAGS);
            (ok, bad.into_iter().collect())
        }
        "personality" => seen
            .iter()
            .partition(|value| PERSONALITY_VALUES.contains(value)),
        _ => (seen.clone(), BTreeSet::new()),
    };
    if allowed.is_empty() || allowed.len() > MAX_VALUES {
        return None;
    }
    let hex = |set: &BTreeSet<u64>| {
        set.iter()
            .map(|v| format!("{v:#x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut evidence = format!(
        "{name} argument 0 was seen with {} value(s) while tracing ({}), none lost: allowed for \
         those only",
        seen.len(),
        hex(seen)
    );
    if name == "clone" {
        evidence.push_str(
            ", flags compared under 0xffffff00 (not the exit signal), the Go runtime's thread \
             flags 0x50f00 always allowed (runc)",
        );
    }
    if !refused.is_empty() {
        evidence.push_str(&format!(
            "; {} stay refused, as in Docker's default",
            hex(&refused)
        ));
    }
    evidence.push('.');
    Some(
        allowed
            .iter()
            .map(|&value| {
                let arg = if name == "clone" {
                    super::SeccompArg {
                        index: 0,
                        value: CLONE_COMPARE_MASK,
                        value_two: value,
                        op: "SCMP_CMP_MASKED_EQ".into(),
                    }
                } else {
                    super::SeccompArg {
                        index: 0,
                        value,
                        value_two: 0,
                        op: "SCMP_CMP_EQ".into(),
                    }
                };
                SyscallRule {
                    names: vec![name.to_owned()],
                    action: "SCMP_ACT_ALLOW".into(),
                    errno_ret: None,
                    args: vec![arg],
                    includes: None,
                    comment: Some(format!("Observed: {name}({value:#x}). {evidence}")),
                }
            })
            .collect(),
    )
}
