//! Types and constants shared by trace's eBPF programs (`trace-ebpf`) and its userspace (`trace-user`).
//!
//! The kernel side counts system calls in one per-CPU array: slot `abi * SYSCALLS_PER_ABI + nr`, plus
//! one last slot for numbers outside the table. Both sides compute slots with [`syscall_slot`], so the
//! layout is defined once.
#![no_std]
#![deny(missing_docs)]

/// Name of the per-CPU `u64` array that counts system calls per slot.
pub const MAP_SYSCALLS: &str = "SYSCALLS";

/// Global: the cgroup v2 id of the traced container (0 disables recording).
pub const GLOBAL_TARGET_CGROUP: &str = "TARGET_CGROUP";
/// Global: the level of that cgroup in the v2 hierarchy (root is 0).
pub const GLOBAL_TARGET_LEVEL: &str = "TARGET_LEVEL";
/// Global: byte offset of `thread_info.status` in `task_struct` (from BTF), or [`NO_OFFSET`].
pub const GLOBAL_COMPAT_STATUS_OFFSET: &str = "COMPAT_STATUS_OFFSET";

/// Marks an offset BTF did not provide; the kernel side then skips that read.
pub const NO_OFFSET: u64 = u64::MAX;

/// x86 `TS_COMPAT`: set in `thread_info.status` while a task runs a 32-bit (ia32) system call.
pub const TS_COMPAT: u32 = 0x0002;
/// x86 `__X32_SYSCALL_BIT`: set in the number of x32-ABI system calls.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// Slots per ABI: every Linux syscall table is below 1024 entries.
pub const SYSCALLS_PER_ABI: u32 = 1024;

/// The system call ABIs the probe keeps apart.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "user", derive(serde::Serialize, serde::Deserialize))]
pub enum Abi {
    /// Native 64-bit x86 (`syscall` from a 64-bit task).
    #[cfg_attr(feature = "user", serde(rename = "x86_64"))]
    X86_64 = 0,
    /// 32-bit x86 compat calls (`int 0x80`, `sysenter`, 32-bit programs).
    #[cfg_attr(feature = "user", serde(rename = "x86"))]
    X86 = 1,
    /// The x32 ABI (64-bit registers, 32-bit pointers; numbers carry [`X32_SYSCALL_BIT`]).
    #[cfg_attr(feature = "user", serde(rename = "x32"))]
    X32 = 2,
}

impl Abi {
    /// Every ABI, in slot order.
    pub const ALL: [Abi; 3] = [Abi::X86_64, Abi::X86, Abi::X32];

    /// The ABI's name as recordings spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::X86 => "x86",
            Abi::X32 => "x32",
        }
    }
}

/// Number of slots in [`MAP_SYSCALLS`]: every ABI's table plus one overflow slot.
#[allow(clippy::cast_possible_truncation, reason = "3 ABIs")]
pub const SYSCALL_SLOTS: u32 = Abi::ALL.len() as u32 * SYSCALLS_PER_ABI + 1;
/// The slot counting system call numbers outside every table (e.g. `syscall(-1)`).
pub const OUT_OF_RANGE_SLOT: u32 = SYSCALL_SLOTS - 1;

/// The counter slot of system call `nr` of `abi`; [`OUT_OF_RANGE_SLOT`] for numbers off the table.
#[allow(
    clippy::inline_always,
    reason = "runs on every traced syscall in the eBPF program"
)]
#[allow(
    clippy::cast_possible_truncation,
    reason = "nr < SYSCALLS_PER_ABI is checked first"
)]
#[inline(always)]
pub const fn syscall_slot(abi: Abi, nr: u64) -> u32 {
    if nr < SYSCALLS_PER_ABI as u64 {
        abi as u32 * SYSCALLS_PER_ABI + nr as u32
    } else {
        OUT_OF_RANGE_SLOT
    }
}

/// The ABI and number a slot counts, or `None` for [`OUT_OF_RANGE_SLOT`] and beyond.
pub const fn slot_syscall(slot: u32) -> Option<(Abi, u32)> {
    let abi = match slot / SYSCALLS_PER_ABI {
        0 => Abi::X86_64,
        1 => Abi::X86,
        2 => Abi::X32,
        _ => return None,
    };
    Some((abi, slot % SYSCALLS_PER_ABI))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip() {
        for abi in Abi::ALL {
            for nr in [0u64, 1, 333, u64::from(SYSCALLS_PER_ABI) - 1] {
                let slot = syscall_slot(abi, nr);
                assert!(slot < OUT_OF_RANGE_SLOT);
                assert_eq!(slot_syscall(slot), Some((abi, u32::try_from(nr).unwrap())));
            }
        }
        assert_eq!(
            syscall_slot(Abi::X86, u64::from(SYSCALLS_PER_ABI)),
            OUT_OF_RANGE_SLOT
        );
        assert_eq!(syscall_slot(Abi::X86_64, u64::MAX), OUT_OF_RANGE_SLOT);
        assert_eq!(slot_syscall(OUT_OF_RANGE_SLOT), None);
    }
}
