//! Types and constants shared by trace's eBPF programs (`trace-ebpf`) and its userspace (`trace-user`).
//!
//! Several containers are recorded at once, each container cgroup (one life of a container) a
//! target with a counter slot of its own: a [`TargetEntry`] in [`MAP_TARGETS`], found by the
//! cgroup id at the targets' level ([`TargetConfig`]). New container cgroups are caught as they
//! are made and announced to userspace ([`CgroupRecord`]), which keeps the ones it wants.
//!
//! The kernel side counts system calls in one per-CPU array: per target slot, per [`Phase`] of
//! the container's startup, slot `abi * SYSCALLS_PER_ABI + nr`, plus one last slot for numbers
//! outside the table. Both sides compute slots with [`target_syscall_slot`], so the layout is
//! defined once.
//!
//! File accesses, executed programs and bound or listening sockets travel through one ring buffer
//! ([`MAP_EVENTS`]) as `#[repr(C)]` records: a header ([`FileRecord`], [`ExecRecord`],
//! [`SocketRecord`]) whose first field is the record kind ([`RECORD_FILE`], ...), followed by
//! variable-length byte strings whose lengths the header gives. Capability checks and `socket(2)`
//! calls are only counted, in per-CPU arrays ([`cap_slot`], [`socket_slot`]).
#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "user")]
extern crate std;

#[cfg(feature = "user")]
pub mod cgroup;
mod maps;
mod offsets;
mod records;
mod slots;
mod target;
#[cfg(test)]
mod tests;

pub use maps::*;
pub use offsets::*;
pub use records::*;
pub use slots::*;
pub use target::*;
