//! Slot arithmetic of the per-CPU counter arrays: system calls per target, [`Phase`] and
//! [`Abi`]; capability checks; `socket(2)` calls. Both sides compute slots here, so the layout
//! is defined once.

use super::{PHASES, Phase};

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
    /// The x32 ABI (64-bit registers, 32-bit pointers; numbers carry [`X32_SYSCALL_BIT`](crate::X32_SYSCALL_BIT)).
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

/// Number of slots in [`MAP_SYSCALLS`](crate::MAP_SYSCALLS): every ABI's table plus one overflow slot.
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

/// Slots of [`MAP_SYSCALLS`](crate::MAP_SYSCALLS): [`SYSCALL_SLOTS`] per phase.
pub const PHASE_SYSCALL_SLOTS: u32 = PHASES * SYSCALL_SLOTS;

/// The [`MAP_SYSCALLS`](crate::MAP_SYSCALLS) slot of system call `nr` of `abi` made in `phase`.
#[allow(clippy::inline_always, reason = "runs on every traced syscall")]
#[inline(always)]
pub const fn phase_syscall_slot(phase: Phase, abi: Abi, nr: u64) -> u32 {
    phase as u32 * SYSCALL_SLOTS + syscall_slot(abi, nr)
}

/// The [`MAP_SYSCALLS`](crate::MAP_SYSCALLS) index of system call `nr` of `abi` made in `phase` by the target in
/// counter slot `slot`.
#[allow(clippy::inline_always, reason = "runs on every traced syscall")]
#[inline(always)]
pub const fn target_syscall_slot(slot: u32, phase: Phase, abi: Abi, nr: u64) -> u32 {
    slot * PHASE_SYSCALL_SLOTS + phase_syscall_slot(phase, abi, nr)
}

/// The phase and the [`syscall_slot`] of a slot within one target's block of [`MAP_SYSCALLS`](crate::MAP_SYSCALLS);
/// `None` beyond the block.
pub const fn slot_phase(slot: u32) -> Option<(Phase, u32)> {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "checked below PHASES first"
    )]
    let phase = if slot / SYSCALL_SLOTS < PHASES {
        Phase::from_u8((slot / SYSCALL_SLOTS) as u8)
    } else {
        None
    };
    match phase {
        Some(phase) => Some((phase, slot % SYSCALL_SLOTS)),
        None => None,
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

/// Capabilities counted (`CAP_LAST_CAP` is 40 in 6.18; numbers above 63 are not counted).
pub const CAP_COUNT: u32 = 64;
/// Who a capability check is counted for ([`cap_slot`]).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CapChecker {
    /// The application: a task of the container with its own credentials.
    Application = 0,
    /// runc: its work before the entrypoint, and the init of each `docker exec`.
    Runc = 1,
    /// The kernel acting with credentials other than the task's own (`cred != real_cred`): e.g.
    /// overlayfs, which works on the layers with the credentials of whoever mounted it.
    OtherCredentials = 2,
}

impl CapChecker {
    /// Every checker, in slot order.
    pub const ALL: [CapChecker; 3] = [
        CapChecker::Application,
        CapChecker::Runc,
        CapChecker::OtherCredentials,
    ];
}

/// Slots of [`MAP_CAPS`](crate::MAP_CAPS): granted and denied per capability, per [`CapChecker`].
pub const CAP_SLOTS: u32 = CAP_COUNT * 2 * 3;

/// The [`MAP_CAPS`](crate::MAP_CAPS) slot of capability `cap` with its verdict and checker; `None` for `cap` >=
/// [`CAP_COUNT`].
#[allow(clippy::inline_always, reason = "called in the eBPF program")]
#[inline(always)]
pub const fn cap_slot(cap: u32, denied: bool, checker: CapChecker) -> Option<u32> {
    if cap < CAP_COUNT {
        Some(checker as u32 * CAP_COUNT * 2 + cap * 2 + denied as u32)
    } else {
        None
    }
}

/// The capability, verdict (`true`: denied) and checker a [`MAP_CAPS`](crate::MAP_CAPS) slot counts.
pub const fn slot_cap(slot: u32) -> (u32, bool, CapChecker) {
    let checker = match slot / (CAP_COUNT * 2) {
        0 => CapChecker::Application,
        1 => CapChecker::Runc,
        _ => CapChecker::OtherCredentials,
    };
    ((slot / 2) % CAP_COUNT, slot % 2 == 1, checker)
}

/// Address families counted (`AF_MAX` is 46 in 6.18).
pub const SOCKET_FAMILIES: u32 = 64;
/// Socket types counted (`type & SOCK_TYPE_MASK`, i.e. without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`).
pub const SOCKET_TYPES: u32 = 16;
/// Slots of [`MAP_SOCKETS`](crate::MAP_SOCKETS): one per (family, type), plus one for families out of range.
pub const SOCKET_SLOTS: u32 = SOCKET_FAMILIES * SOCKET_TYPES + 1;
/// `SOCK_TYPE_MASK`: the type without the flags.
pub const SOCK_TYPE_MASK: u32 = 0xf;

/// The [`MAP_SOCKETS`](crate::MAP_SOCKETS) slot of a `socket(family, type, _)` call (`type` with its flags).
#[allow(clippy::inline_always, reason = "called in the eBPF program")]
#[inline(always)]
pub const fn socket_slot(family: u32, sock_type: u32) -> u32 {
    if family < SOCKET_FAMILIES {
        family * SOCKET_TYPES + (sock_type & SOCK_TYPE_MASK)
    } else {
        SOCKET_SLOTS - 1
    }
}

/// The (family, type) a [`MAP_SOCKETS`](crate::MAP_SOCKETS) slot counts; `None` for the out-of-range slot.
#[allow(clippy::cast_possible_truncation, reason = "both parts are below 64")]
pub const fn slot_socket(slot: u32) -> Option<(u16, u16)> {
    if slot >= SOCKET_SLOTS - 1 {
        return None;
    }
    Some(((slot / SOCKET_TYPES) as u16, (slot % SOCKET_TYPES) as u16))
}
