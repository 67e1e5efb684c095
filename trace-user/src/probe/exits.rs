//! The system call exits: trace-ebpf's dispatcher `syscall_exit` on the BTF tracepoint
//! `sys_exit`, and the programs it tail-calls per `x86_64` system call number through the
//! `EXIT_PROGRAMS` program array ([`AttachPoint::SyscallExits`]).
//!
//! The array is filled by number after the dispatcher runs: until a slot is set the dispatcher's
//! tail call finds it empty and the exit is not recorded, never recorded wrongly. The kernel
//! empties a program array when the last user-space descriptor of it closes, so the probe keeps
//! [`Dispatch::table`] for its whole life.

use std::time::Instant;

use aya::{
    Btf, Ebpf,
    maps::{MapData, ProgramArray},
    programs::BtfTracePoint,
};
use syscalls::x86_64::Sysno;
use trace_common::{EXIT_SLOTS, MAP_EXIT_PROGRAMS};

use super::{
    LoadedProgram, MissingFeature,
    features::{AttachPoint, Feature},
    one_line,
};

/// The dispatcher program (a function name in trace-ebpf).
pub const DISPATCH_PROGRAM: &str = "syscall_exit";
/// The BTF tracepoint it and the programs it calls are loaded for.
const EXIT_TRACEPOINT: &str = "sys_exit";
/// How gaps name the attach point.
pub const EXIT_ATTACH: &str = "tp_btf/sys_exit";

/// The attached dispatcher and its table.
pub(super) struct Dispatch {
    /// Exit programs by system call number.
    pub(super) table: ProgramArray<MapData>,
    /// The kernel's BTF, which loading a BTF tracepoint program needs.
    btf: Btf,
}

impl Dispatch {
    /// Loads the dispatcher and attaches it to `sys_exit` (its link stays with the program, in
    /// `ebpf`). `Err`: why no exit can be recorded, in one line.
    pub(super) fn attach(ebpf: &mut Ebpf) -> Result<(Dispatch, LoadedProgram), String> {
        let btf = Btf::from_sys_fs().map_err(|e| format!("reading the kernel's BTF: {e}"))?;
        let map = ebpf
            .take_map(MAP_EXIT_PROGRAMS)
            .ok_or("the embedded eBPF object lacks the exit table: rebuild trace")?;
        let table = ProgramArray::try_from(map).map_err(|e| one_line(&e))?;
        let program = program(ebpf, DISPATCH_PROGRAM)?;
        let started = Instant::now();
        program
            .load(EXIT_TRACEPOINT, &btf)
            .map_err(|e| format!("the kernel refused the program: {}", one_line(&e)))?;
        let load_time = started.elapsed();
        program.attach().map_err(|e| one_line(&e))?;
        let loaded = loaded(DISPATCH_PROGRAM, program, load_time, 1);
        Ok((Dispatch { table, btf }, loaded))
    }

    /// Loads `feature`'s program and puts it in the table at the number of each of `calls`.
    /// Whatever fails goes to `missing`; returns the program if it records some exit.
    pub(super) fn add(
        &mut self,
        ebpf: &mut Ebpf,
        feature: &Feature,
        calls: &[&str],
        missing: &mut Vec<MissingFeature>,
    ) -> Option<LoadedProgram> {
        let gaps = |missing: &mut Vec<MissingFeature>, calls: &[&str], why: &str| {
            missing.extend(calls.iter().map(|call| gap(feature, call, why.to_owned())));
        };
        let program = match program(ebpf, feature.program) {
            Ok(program) => program,
            Err(why) => {
                gaps(missing, calls, &why);
                return None;
            }
        };
        let started = Instant::now();
        if let Err(e) = program.load(EXIT_TRACEPOINT, &self.btf) {
            log::debug!("loading {} failed: {e:?}", feature.program);
            let why = format!("the kernel refused the program: {}", one_line(&e));
            gaps(missing, calls, &why);
            return None;
        }
        let load_time = started.elapsed();
        let fd = match program.fd() {
            Ok(fd) => fd,
            Err(e) => {
                gaps(missing, calls, &one_line(&e));
                return None;
            }
        };
        let mut set = 0;
        for call in calls {
            let result = slot(call).and_then(|nr| {
                self.table
                    .set(nr, fd, 0)
                    .map_err(|e| format!("setting its table slot: {}", one_line(&e)))
            });
            match result {
                Ok(()) => set += 1,
                Err(why) => missing.push(gap(feature, call, why)),
            }
        }
        (set > 0).then(|| loaded(feature.program, program, load_time, set))
    }
}

/// Every exit a feature would record is missing: `why`.
pub(super) fn all_missing(feature: &Feature, why: &str, missing: &mut Vec<MissingFeature>) {
    if let AttachPoint::SyscallExits(calls) = feature.attach {
        missing.extend(calls.iter().map(|call| gap(feature, call, why.to_owned())));
    }
}

/// The table slot of the `x86_64` system call `name`.
fn slot(name: &str) -> Result<u32, String> {
    let nr = name
        .parse::<Sysno>()
        .map_err(|()| format!("`{name}` is no x86_64 system call"))?
        .id();
    u32::try_from(nr)
        .ok()
        .filter(|&nr| nr < EXIT_SLOTS)
        .ok_or_else(|| format!("`{name}` is number {nr}, beyond the table's {EXIT_SLOTS} slots"))
}

fn gap(feature: &Feature, call: &str, why: String) -> MissingFeature {
    MissingFeature {
        what: feature.lost,
        program: feature.program,
        attach_point: format!("{EXIT_ATTACH} ({call})"),
        why,
    }
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut BtfTracePoint, String> {
    ebpf.program_mut(name)
        .ok_or_else(|| "the embedded eBPF object lacks it: rebuild trace".to_owned())?
        .try_into()
        .map_err(|e| one_line(&e))
}

fn loaded(
    name: &'static str,
    program: &BtfTracePoint,
    load_time: std::time::Duration,
    attached: usize,
) -> LoadedProgram {
    LoadedProgram {
        program: name,
        verified_insns: program
            .info()
            .ok()
            .and_then(|i| i.verified_instruction_count()),
        load_time,
        attached,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::FEATURES;

    /// Every call a feature names has a slot: a typo would be a gap on every kernel.
    #[test]
    fn every_exit_call_has_a_slot() {
        let mut calls = 0;
        for feature in FEATURES {
            if let AttachPoint::SyscallExits(names) = feature.attach {
                for name in names {
                    assert!(slot(name).is_ok(), "{}: {name}", feature.program);
                    calls += 1;
                }
            }
        }
        assert!(calls >= 40, "{calls}");
        assert_eq!(slot("openat"), Ok(257));
        assert!(slot("no_such_call").is_err());
    }

    /// No two programs claim the same exit (the table has one program per number).
    #[test]
    fn no_exit_is_claimed_twice() {
        let mut seen = std::collections::BTreeMap::new();
        for feature in FEATURES {
            if let AttachPoint::SyscallExits(names) = feature.attach {
                for name in names {
                    if let Some(other) = seen.insert(*name, feature.program) {
                        panic!("{name}: {other} and {}", feature.program);
                    }
                }
            }
        }
    }
}
