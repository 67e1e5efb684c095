//! The exercise's steps (v8): `trace mark NAME` ends one step and starts the next. The first step,
//! before any mark, is the startup; every later one is kept with the system calls made during it
//! and the files first seen in it, so that the coverage report can tell what only the startup
//! did from what serving does, and which step first needed a call or a file.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use trace_common::Abi;

use super::merge::add_counts;
use super::{PathBytes, Recording, SyscallsByAbi};

/// The name of the step before the first mark.
pub const STARTUP_STEP: &str = "startup";
/// Marks kept per recording at most; later ones are refused.
pub const MAX_STEPS: usize = 64;
/// The longest step name, in bytes.
pub const MAX_STEP_NAME: usize = 64;

/// One step after the startup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Its name, as marked.
    pub name: String,
    /// When it was marked (RFC 3339, UTC, seconds).
    pub at: String,
    /// The calls made during it, per ABI: name -> count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub syscalls: SyscallsByAbi,
    /// The files first seen during it.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub files: BTreeSet<PathBytes>,
}

/// What was seen when a step was marked: the calls so far and the files so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The step's name.
    pub name: String,
    /// When it was marked.
    pub at: String,
    /// Every call counted until the mark, per ABI.
    pub syscalls: SyscallsByAbi,
    /// Every file seen until the mark.
    pub files: BTreeSet<PathBytes>,
}

/// Whether `name` can name a step: 1 to [`MAX_STEP_NAME`] ASCII letters, digits, `.`, `_` and
/// `-`, starting with a letter or digit, and not [`STARTUP_STEP`].
pub fn is_step_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_STEP_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name != STARTUP_STEP
}

/// `later` less `earlier`, per call, leaving out what did not grow.
fn difference(later: &SyscallsByAbi, earlier: &SyscallsByAbi) -> SyscallsByAbi {
    let mut out = SyscallsByAbi::new();
    for (abi, calls) in later {
        for (name, &count) in calls {
            let before = earlier
                .get(abi)
                .and_then(|c| c.get(name))
                .copied()
                .unwrap_or(0);
            if count > before {
                out.entry(*abi)
                    .or_default()
                    .insert(name.clone(), count - before);
            }
        }
    }
    out
}

impl Recording {
    /// Sets [`Recording::steps`] from the marks made while recording, in order; the last step
    /// ends where the recording does (its `syscalls` and `files` are final by now).
    pub fn set_steps(&mut self, marks: &[Mark]) {
        let end = Mark {
            name: String::new(),
            at: String::new(),
            syscalls: self.syscalls.clone(),
            files: self.files.keys().cloned().collect(),
        };
        self.steps = marks
            .iter()
            .zip(marks.iter().skip(1).chain(std::iter::once(&end)))
            .map(|(mark, next)| Step {
                name: mark.name.clone(),
                at: mark.at.clone(),
                syscalls: difference(&next.syscalls, &mark.syscalls),
                files: next
                    .files
                    .iter()
                    .filter(|f| !mark.files.contains(*f) && self.files.contains_key(*f))
                    .cloned()
                    .collect(),
            })
            .collect();
    }

    /// The calls made during the startup (before the first mark): all of them less those of
    /// the later steps.
    pub fn startup_step_syscalls(&self) -> SyscallsByAbi {
        let mut later = SyscallsByAbi::new();
        for step in &self.steps {
            add_counts(&mut later, &step.syscalls);
        }
        difference(&self.syscalls, &later)
    }

    /// The step that first made call `name` of `abi`: [`STARTUP_STEP`] when the startup did (or
    /// the recording has no steps).
    pub fn first_step_of_syscall(&self, abi: Abi, name: &str) -> &str {
        if self
            .startup_step_syscalls()
            .get(&abi)
            .is_some_and(|c| c.contains_key(name))
        {
            return STARTUP_STEP;
        }
        self.steps
            .iter()
            .find(|s| s.syscalls.get(&abi).is_some_and(|c| c.contains_key(name)))
            .map_or(STARTUP_STEP, |s| s.name.as_str())
    }

    /// The step that first used file `path`: [`STARTUP_STEP`] when no later step lists it.
    pub fn first_step_of_file(&self, path: &PathBytes) -> &str {
        self.steps
            .iter()
            .find(|s| s.files.contains(path))
            .map_or(STARTUP_STEP, |s| s.name.as_str())
    }

    /// Whether the steps agree with the rest of the recording: at most [`MAX_STEPS`], names a
    /// mark can have, calls that add up to no more than the recording's, files it has and that
    /// no two steps list.
    pub fn steps_consistent(&self) -> bool {
        let mut files = BTreeSet::new();
        let mut counted = SyscallsByAbi::new();
        for step in &self.steps {
            if !is_step_name(&step.name) || !step.files.iter().all(|f| files.insert(f)) {
                return false;
            }
            add_counts(&mut counted, &step.syscalls);
        }
        let within = counted.iter().all(|(abi, calls)| {
            calls.iter().all(|(name, &count)| {
                count > 0
                    && self
                        .syscalls
                        .get(abi)
                        .and_then(|c| c.get(name))
                        .is_some_and(|&total| count <= total)
            })
        });
        self.steps.len() <= MAX_STEPS && within && files.iter().all(|f| self.files.contains_key(*f))
    }
}

/// The steps of a merged recording: kept when both have the same step names in the same order
/// (each step's calls added up, its time the earlier), else none. A file goes to the earliest
/// step that either recording first saw it in, the startup included (then no step lists it).
pub(super) fn merged_steps(a: &Recording, b: &Recording) -> Vec<Step> {
    let names = |r: &Recording| r.steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    if a.steps.is_empty() || names(a) != names(b) {
        return Vec::new();
    }
    // Per file, the earliest step index (0 = the startup) over the recordings that saw it.
    let first = |r: &Recording, path: &PathBytes| -> Option<usize> {
        r.files.contains_key(path).then(|| {
            r.steps
                .iter()
                .position(|s| s.files.contains(path))
                .map_or(0, |i| i + 1)
        })
    };
    let mut steps: Vec<Step> = a
        .steps
        .iter()
        .zip(&b.steps)
        .map(|(x, y)| {
            let mut syscalls = x.syscalls.clone();
            add_counts(&mut syscalls, &y.syscalls);
            Step {
                name: x.name.clone(),
                at: x.at.clone().min(y.at.clone()),
                syscalls,
                files: BTreeSet::new(),
            }
        })
        .collect();
    let listed: BTreeSet<&PathBytes> = a
        .steps
        .iter()
        .chain(&b.steps)
        .flat_map(|s| &s.files)
        .collect();
    for path in listed {
        let earliest = first(a, path).into_iter().chain(first(b, path)).min();
        if let Some(i) = earliest.filter(|&i| i > 0) {
            steps[i - 1].files.insert(path.clone());
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{Access, ContainerInfo, HostInfo};

    fn recording() -> Recording {
        let mut r = Recording::started(
            ContainerInfo {
                id: "c".into(),
                name: "web".into(),
                image: "web:1".into(),
                image_id: String::new(),
                mounts: BTreeSet::new(),
                config: None,
                runtimes: BTreeSet::new(),
            },
            HostInfo {
                kernel: "6".into(),
                arch: "x86_64".into(),
            },
            "2026-01-01T00:00:00Z".into(),
            true,
        );
        r.record_file("/etc/app.conf", Access::Read);
        r
    }

    fn calls(list: &[(&str, u64)]) -> SyscallsByAbi {
        [(
            Abi::X86_64,
            list.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect(),
        )]
        .into()
    }

    fn mark(name: &str, syscalls: &[(&str, u64)], files: &[&str]) -> Mark {
        Mark {
            name: name.into(),
            at: "2026-01-01T00:00:01Z".into(),
            syscalls: calls(syscalls),
            files: files.iter().map(|f| PathBytes::from(*f)).collect(),
        }
    }

    /// The startup read the configuration; serving accepted; the reload read it again and
    /// signalled, and wrote a new file.
    fn stepped() -> Recording {
        let mut r = recording();
        r.record_file("/var/run/new.pid", Access::Create);
        r.syscalls = calls(&[("openat", 10), ("accept4", 4), ("kill", 1)]);
        r.set_steps(&[
            mark("serve", &[("openat", 6)], &["/etc/app.conf"]),
            mark(
                "reload",
                &[("openat", 6), ("accept4", 4)],
                &["/etc/app.conf"],
            ),
        ]);
        r
    }

    #[test]
    fn each_step_keeps_what_it_did_and_first_saw() {
        let r = stepped();
        assert_eq!(r.steps.len(), 2);
        assert_eq!(r.steps[0].syscalls, calls(&[("accept4", 4)]));
        assert!(r.steps[0].files.is_empty());
        assert_eq!(r.steps[1].syscalls, calls(&[("kill", 1), ("openat", 4)]));
        assert_eq!(
            r.steps[1].files,
            [PathBytes::from("/var/run/new.pid")].into()
        );
        assert_eq!(r.startup_step_syscalls(), calls(&[("openat", 6)]));
        assert_eq!(r.first_step_of_syscall(Abi::X86_64, "openat"), STARTUP_STEP);
        assert_eq!(r.first_step_of_syscall(Abi::X86_64, "accept4"), "serve");
        assert_eq!(r.first_step_of_syscall(Abi::X86_64, "kill"), "reload");
        assert_eq!(r.first_step_of_file(&"/var/run/new.pid".into()), "reload");
        assert_eq!(r.first_step_of_file(&"/etc/app.conf".into()), STARTUP_STEP);
        assert!(r.steps_consistent());
    }

    #[test]
    fn inconsistent_steps_are_found() {
        let mut r = stepped();
        r.steps[1].syscalls = calls(&[("kill", 2)]);
        assert!(!r.steps_consistent(), "more calls than recorded");
        let mut r = stepped();
        r.steps[0].files.insert("/nowhere".into());
        assert!(!r.steps_consistent(), "a file the recording lacks");
        let mut r = stepped();
        r.steps[0].name = "startup".into();
        assert!(!r.steps_consistent(), "the startup's name");
    }

    #[test]
    fn step_names_are_short_and_plain() {
        for good in ["serve", "reload-1", "v2.config_reload"] {
            assert!(is_step_name(good), "{good}");
        }
        for bad in [
            "",
            "startup",
            "-x",
            "a b",
            "a/b",
            "x\n",
            &"a".repeat(65),
            "é",
        ] {
            assert!(!is_step_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn merged_steps_add_up_and_keep_the_earliest_first_sight() {
        let a = stepped();
        let mut b = stepped();
        // b saw the pid file already while serving.
        b.steps[1].files.clear();
        b.steps[0].files.insert("/var/run/new.pid".into());
        let merged = merged_steps(&a, &b);
        assert_eq!(merged, merged_steps(&b, &a));
        assert_eq!(merged[0].syscalls, calls(&[("accept4", 8)]));
        assert_eq!(
            merged[0].files,
            [PathBytes::from("/var/run/new.pid")].into()
        );
        assert!(merged[1].files.is_empty());
        let mut other = stepped();
        other.steps.pop();
        assert!(merged_steps(&a, &other).is_empty(), "different steps");
    }
}
