//! Argument values: the distinct values of argument 0 of a few system calls (`personality`,
//! `prctl`, `clone`), from which a profile can allow a call for those values only.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Recording;

/// The distinct values seen per system call name and argument index (v5;
/// [`Category::Arguments`](super::Category::Arguments)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgumentValues {
    /// Call name -> argument index -> values, as the caller's register held them (what a seccomp
    /// filter compares).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<u32, BTreeSet<u64>>>,
    /// Values the kernel side had no room for: when not 0 the lists may be incomplete, and
    /// profiles do not narrow any call by them.
    #[serde(default)]
    pub lost: u64,
}

impl ArgumentValues {
    /// Nothing seen and nothing lost.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.lost == 0
    }

    /// The union of two: every value of either; lost values add up (a merge keeps knowing).
    #[must_use]
    pub fn union(&self, other: &ArgumentValues) -> ArgumentValues {
        let mut merged = self.clone();
        for (name, args) in &other.values {
            let into = merged.values.entry(name.clone()).or_default();
            for (index, values) in args {
                into.entry(*index).or_default().extend(values);
            }
        }
        merged.lost = self.lost.saturating_add(other.lost);
        merged
    }
}

impl Recording {
    /// Adds a value of argument `index` of system call `name`.
    pub fn record_argument(&mut self, name: &str, index: u32, value: u64) {
        self.arguments
            .values
            .entry(name.to_owned())
            .or_default()
            .entry(index)
            .or_default()
            .insert(value);
    }

    /// Adds `count` argument values the kernel side could not keep.
    pub fn record_arguments_lost(&mut self, count: u64) {
        self.arguments.lost = self.arguments.lost.saturating_add(count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_keeps_values_of_clone_personality_and_prctl() {
        let names: Vec<_> = trace_common::ARG_SYSCALLS
            .iter()
            .map(|&nr| {
                let nr = u32::try_from(nr).unwrap();
                crate::recording::syscall_name(trace_common::Abi::X86_64, nr).map(|n| n.0)
            })
            .collect();
        assert_eq!(names, [Some("clone"), Some("personality"), Some("prctl")]);
    }

    #[test]
    fn union_keeps_every_value_and_lost_values_stick() {
        let mut a = ArgumentValues::default();
        a.values
            .entry("prctl".into())
            .or_default()
            .entry(0)
            .or_default()
            .extend([15, 38]);
        let mut b = ArgumentValues {
            lost: 2,
            ..ArgumentValues::default()
        };
        b.values
            .entry("prctl".into())
            .or_default()
            .entry(0)
            .or_default()
            .insert(8);
        b.values
            .entry("personality".into())
            .or_default()
            .entry(0)
            .or_default()
            .insert(0);
        let merged = a.union(&b);
        assert_eq!(merged, b.union(&a));
        assert_eq!(
            merged.values["prctl"][&0]
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [8, 15, 38]
        );
        assert_eq!(merged.values["personality"][&0].len(), 1);
        assert_eq!(merged.lost, 2);
        assert_eq!(merged.union(&ArgumentValues::default()), merged);
        assert!(ArgumentValues::default().is_empty());
    }
}
