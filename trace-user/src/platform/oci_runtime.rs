//! Which OCI runtime baseline a profile allows: the measured baselines by runtime and version,
//! and the ones the runtimes that started a recorded container need.
//!
//! A runtime installs the seccomp filter in the container's process and then still makes calls
//! of its own before the entrypoint runs; the profile must allow them or the container does not
//! start ([`runc`](super::runc), [`crun`](super::crun)). A recording names the runtime that
//! started its container (`container.runtimes`); one that does not (older recordings) was
//! started by runc under Docker.

use std::collections::BTreeSet;

use super::crun::CRUN_BASELINE;
use super::runc::RUNC_BASELINE;
use crate::recording::RuntimeInfo;

/// One measured baseline: what a runtime of some version calls after it installs the filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Baseline {
    /// The runtime: `runc`, `crun`.
    pub runtime: &'static str,
    /// The version it was measured with.
    pub version: &'static str,
    /// The calls, sorted.
    pub calls: &'static [&'static str],
}

/// Every measured baseline (bench/runc-baseline.json, bench/crun-baseline.json).
pub const BASELINES: [Baseline; 2] = [
    Baseline {
        runtime: "runc",
        version: "1.1.5",
        calls: RUNC_BASELINE,
    },
    Baseline {
        runtime: "crun",
        version: "1.8.1",
        calls: CRUN_BASELINE,
    },
];

/// runc's, for a container whose runtime is not known.
const RUNC: Baseline = BASELINES[0];

/// The baselines the runtimes that started a container need, one per runtime, in
/// [`BASELINES`]' order: each runtime's measurement for the version nearest its own (the newest
/// measured at or below it, else the oldest); runc's for a recording that names none, and for a
/// runtime with no measurement (it is the runtime most others imitate).
pub fn baselines(runtimes: &BTreeSet<RuntimeInfo>) -> Vec<Baseline> {
    let mut picked: Vec<Baseline> = Vec::new();
    if runtimes.is_empty() {
        picked.push(RUNC);
    }
    for runtime in runtimes {
        let chosen = for_runtime(&runtime.name, &runtime.version).unwrap_or(RUNC);
        if !picked.contains(&chosen) {
            picked.push(chosen);
        }
    }
    picked.sort_by_key(|b| BASELINES.iter().position(|m| m == b));
    picked
}

/// The measured baseline of `runtime` nearest `version`, if `runtime` was measured.
fn for_runtime(runtime: &str, version: &str) -> Option<Baseline> {
    let mut measured: Vec<Baseline> = BASELINES
        .into_iter()
        .filter(|b| b.runtime == runtime)
        .collect();
    measured.sort_by_key(|b| version_key(b.version));
    let wanted = version_key(version);
    measured
        .iter()
        .rev()
        .find(|b| version_key(b.version) <= wanted)
        .or_else(|| measured.first())
        .copied()
}

/// The numeric components of a version (`1.1.5+ds1` -> [1, 1, 5]), for ordering; an empty or
/// unreadable version orders last (taken as the newest).
fn version_key(version: &str) -> Vec<u64> {
    let numbers: Vec<u64> = version
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or_default()
        .split('.')
        .map_while(|part| part.parse().ok())
        .collect();
    if numbers.is_empty() {
        vec![u64::MAX]
    } else {
        numbers
    }
}

/// The union of the calls of `baselines`, sorted.
pub fn calls(baselines: &[Baseline]) -> BTreeSet<&'static str> {
    baselines
        .iter()
        .flat_map(|b| b.calls.iter().copied())
        .collect()
}

/// The runtimes' names for a rule's comment: `runc`, `crun`, `runc and crun`.
pub fn names(baselines: &[Baseline]) -> String {
    let names: Vec<&str> = baselines.iter().map(|b| b.runtime).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started_by(name: &str, version: &str) -> RuntimeInfo {
        RuntimeInfo {
            engine: "podman".into(),
            engine_version: "4.3.1".into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn a_recording_without_runtimes_gets_runc_s() {
        assert_eq!(baselines(&BTreeSet::new()), [RUNC]);
        assert_eq!(names(&[RUNC]), "runc");
    }

    #[test]
    fn each_runtime_gets_its_own_and_a_merge_gets_both() {
        let crun = baselines(&[started_by("crun", "1.8.1")].into());
        assert_eq!(crun.len(), 1);
        assert_eq!(crun[0].calls, CRUN_BASELINE);
        let both = baselines(&[started_by("crun", "1.8.1"), started_by("runc", "1.1.5")].into());
        assert_eq!(names(&both), "runc and crun");
        let union = calls(&both);
        assert!(union.contains("setresuid") && union.contains("setuid"));
        // Another version of crun, and a runtime never measured.
        assert_eq!(
            baselines(&[started_by("crun", "1.19")].into())[0].calls,
            CRUN_BASELINE
        );
        assert_eq!(
            baselines(&[started_by("crun", "0.9")].into())[0].calls,
            CRUN_BASELINE
        );
        assert_eq!(baselines(&[started_by("youki", "0.3.0")].into()), [RUNC]);
    }

    #[test]
    fn versions_order_by_their_numbers() {
        assert_eq!(version_key("1.1.5+ds1"), [1, 1, 5]);
        assert_eq!(version_key("1.8.1"), [1, 8, 1]);
        assert!(version_key("1.10") > version_key("1.9.4"));
        assert_eq!(version_key(""), [u64::MAX]);
        assert_eq!(version_key("v2"), [u64::MAX]);
    }
}
