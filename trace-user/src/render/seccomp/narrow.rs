//! Argument-level rules from the argument values a recording holds (`--relative-to-default`).
//!
//! For `personality`, `prctl` and `clone` the probe keeps the distinct values of argument 0 that
//! runc (after its filter) and the application passed. When a call was seen with a few values
//! only ([`MAX_VALUES`]), none was lost, the startup was seen (runc's own values are in the
//! recording) and the call was made in the native ABI only, the profile allows it for exactly
//! those values, one rule per value, as Docker's default does for `personality`:
//! - `personality`, `prctl`: `SCMP_CMP_EQ` on the value;
//! - `clone`: `SCMP_CMP_MASKED_EQ` under [`CLONE_COMPARE_MASK`] (every flag the kernel honours,
//!   not the exit signal), plus the Go runtime's thread flags ([`GO_THREAD_CLONE_FLAGS`]: runc
//!   is a Go program and may start a thread after its filter at any time).
//!
//! Never looser than Docker's default: a value its filter refuses (a `personality` outside its
//! five, `clone` with a namespace flag) stays refused and the comment says so. Without usable
//! evidence the call keeps Docker's treatment ([`relative`](super::relative)).

use std::collections::{BTreeMap, BTreeSet};

use trace_common::Abi;

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
    // The probe sees native calls only (syscall tracepoints do not fire for 32-bit ones): a name
    // also called through another ABI keeps Docker's treatment.
    let other_abi = |name: &str| {
        recording
            .syscalls
            .iter()
            .chain(recording.startup.iter().flat_map(|s| &s.runc_after_filter))
            .any(|(abi, calls)| *abi != Abi::X86_64 && calls.contains_key(name))
    };
    NARROWED
        .iter()
        .filter(|name| !other_abi(name))
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
        "argument 0 of {name} was seen with {} distinct value{} while tracing ({}), none lost: \
         allowed for those only",
        seen.len(),
        if seen.len() == 1 { "" } else { "s" },
        hex(seen)
    );
    if name == "clone" {
        evidence.push_str(", flags compared under 0xffffff00 (not the exit signal)");
    }
    if !refused.is_empty() {
        evidence.push_str("; ");
        evidence.push_str(&hex(&refused));
        evidence.push_str(" stay refused, as in Docker's default");
    }
    evidence.push('.');
    let observed = |value: u64| match name {
        "clone" => seen.iter().any(|f| f & CLONE_COMPARE_MASK == value),
        _ => seen.contains(&value),
    };
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
                    comment: Some(if observed(value) {
                        format!("Observed: {name}({value:#x}). {evidence}")
                    } else {
                        format!(
                            "Not observed: clone({value:#x}), the Go runtime's thread flags: runc \
                             may start a thread after installing this filter. {evidence}"
                        )
                    }),
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::Startup;
    use crate::render::seccomp::{Arch, SeccompOptions, profile, profile_with};

    /// The v2 fixture with personality, prctl and clone observed, the startup seen and argument
    /// values recorded: `values` per call.
    fn recording(values: &[(&str, &[u64])]) -> Recording {
        let mut r = Recording::from_json(
            include_str!("../../../tests/data/recording-v2.json"),
            "fixture",
        )
        .unwrap();
        let calls = r.syscalls.get_mut(&trace_common::Abi::X86_64).unwrap();
        for name in NARROWED {
            calls.insert((*name).to_owned(), 1);
        }
        r.startup = Some(Startup::default());
        r.mark_recorded(Category::Arguments);
        for (name, seen) in values {
            for &value in *seen {
                r.record_argument(name, 0, value);
            }
        }
        r
    }

    fn relative(r: &Recording, arches: &[Arch]) -> Vec<SyscallRule> {
        profile_with(
            r,
            &SeccompOptions {
                arches: arches.to_vec(),
                relative_to_default: true,
            },
        )
        .syscalls
    }

    /// The rules naming `name`: (op, value, value two) of each.
    fn args_of(rules: &[SyscallRule], name: &str) -> Vec<(String, u64, u64)> {
        rules
            .iter()
            .filter(|r| r.names.iter().any(|n| n == name))
            .map(|r| {
                assert_eq!(r.action, "SCMP_ACT_ALLOW");
                let [arg] = r.args.as_slice() else {
                    assert!(r.args.is_empty(), "{name}: one argument filter");
                    return (String::new(), 0, 0);
                };
                assert_eq!(r.names, [name], "{name} has rules of its own");
                assert_eq!(arg.index, 0);
                (arg.op.clone(), arg.value, arg.value_two)
            })
            .collect()
    }

    fn eq(values: &[u64]) -> Vec<(String, u64, u64)> {
        values
            .iter()
            .map(|&v| ("SCMP_CMP_EQ".to_owned(), v, 0))
            .collect()
    }

    #[test]
    fn few_values_allow_exactly_those_within_dockers_filters() {
        // fork (0x1200011), a pthread fallback (0x3d0f00), clone(CLONE_NEWUSER | SIGCHLD).
        let r = recording(&[
            ("personality", &[0xffff_ffff, 0x1234]),
            ("prctl", &[38, 3]),
            ("clone", &[0x0120_0011, 0x003d_0f00, 0x1000_0011]),
        ]);
        let rules = relative(&r, &[Arch::X86_64]);
        assert_eq!(args_of(&rules, "personality"), eq(&[0xffff_ffff]));
        assert_eq!(args_of(&rules, "prctl"), eq(&[3, 38]));
        let masked = |v| ("SCMP_CMP_MASKED_EQ".to_owned(), CLONE_COMPARE_MASK, v);
        assert_eq!(
            args_of(&rules, "clone"),
            [
                masked(GO_THREAD_CLONE_FLAGS),
                masked(0x003d_0f00),
                masked(0x0120_0000)
            ]
        );
        // Never looser than Docker's clone filter: every namespace flag is compared, to 0.
        assert_eq!(
            CLONE_COMPARE_MASK & CLONE_NAMESPACE_FLAGS,
            CLONE_NAMESPACE_FLAGS
        );
        let comment = |name: &str, value: u64| {
            rules
                .iter()
                .find(|r| {
                    r.names == [name]
                        && r.args
                            .iter()
                            .any(|a| a.value == value || a.value_two == value)
                })
                .and_then(|r| r.comment.clone())
                .unwrap()
        };
        let personality = comment("personality", 0xffff_ffff);
        assert!(
            personality.starts_with("Observed: personality(0xffffffff).")
                && personality.contains("2 distinct values while tracing (0x1234, 0xffffffff)")
                && personality.contains("0x1234 stay refused"),
            "{personality}"
        );
        assert!(comment("clone", GO_THREAD_CLONE_FLAGS).starts_with("Not observed"));
        assert!(comment("clone", 0x0120_0000).contains("0x10000011 stay refused"));
        // Other calls keep what they had; the exact profile is not narrowed.
        assert_eq!(args_of(&rules, "read"), [(String::new(), 0, 0)]);
        let exact = profile(&r).syscalls;
        assert!(args_of(&exact, "prctl").iter().all(|a| a.0.is_empty()));
    }

    #[test]
    fn without_usable_evidence_a_call_keeps_dockers_treatment() {
        let nine: Vec<u64> = (1..=9).collect();
        let docker_personality = eq(&PERSONALITY_VALUES);
        let any = vec![(String::new(), 0, 0)];
        // Too many values; none Docker's default allows.
        let rules = relative(
            &recording(&[("prctl", &nine), ("personality", &[0x1234])]),
            &[Arch::X86_64],
        );
        assert_eq!(args_of(&rules, "prctl"), any);
        assert_eq!(args_of(&rules, "personality"), docker_personality);
        let few: &[(&str, &[u64])] = &[("prctl", &[3]), ("personality", &[0])];
        assert_eq!(
            args_of(&relative(&recording(few), &[Arch::X86_64]), "prctl"),
            eq(&[3])
        );
        // Values lost, not recorded, or runc's startup unseen (its values unknown).
        let mut lost = recording(few);
        lost.record_arguments_lost(1);
        let mut unrecorded = recording(few);
        unrecorded.events.recorded.remove(&Category::Arguments);
        let mut attached = recording(few);
        attached.startup = None;
        // A 32-bit caller too: its values are not recorded.
        let mut compat = recording(few);
        let x86 = compat.syscalls.entry(trace_common::Abi::X86).or_default();
        x86.insert("prctl".into(), 1);
        x86.insert("personality".into(), 1);
        for r in [lost, unrecorded, attached, compat] {
            let rules = relative(&r, &[Arch::X86_64]);
            assert_eq!(args_of(&rules, "prctl"), any);
            assert_eq!(args_of(&rules, "personality"), docker_personality);
        }
    }

    #[test]
    fn every_format_and_architecture_carries_the_rules_and_the_bytes_are_stable() {
        use crate::render::{Format, Options, profiles_with};
        let r = recording(&[("personality", &[0xffff_ffff]), ("prctl", &[3, 8])]);
        let again = Recording::from_json(&r.to_json(), "again").unwrap();
        assert_eq!(again.arguments, r.arguments);
        let both = [Arch::X86_64, Arch::Aarch64];
        let rules = relative(&r, &both);
        assert_eq!(args_of(&rules, "prctl"), eq(&[3, 8]));
        assert!(
            rules
                .iter()
                .filter(|r| r.names == ["prctl"])
                .all(|r| r.includes.is_none())
        );
        for format in [Format::Docker, Format::Oci, Format::Spo] {
            let options = Options {
                format,
                seccomp: SeccompOptions {
                    arches: both.to_vec(),
                    relative_to_default: true,
                },
                ..Options::default()
            };
            let first = profiles_with(&r, &options);
            let second = profiles_with(&again, &options);
            let text = &first[0].contents;
            assert_eq!(text, &second[0].contents, "{format:?}: same bytes");
            let prctl_rules = text.matches("prctl").count();
            assert!(prctl_rules >= 2, "{format:?}: {text}");
        }
    }
}
