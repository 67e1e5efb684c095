//! System call names per ABI, from the `syscalls` crate's tables (generated from the kernel's own
//! syscall tables; the names are the ones libseccomp and Docker profiles use).

use trace_common::Abi;

/// A system call's name as libseccomp spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallName(pub &'static str);

/// The name of system call `nr` of `abi`, or `None` when the table has no such number.
///
/// x32 shares the `x86_64` table below 512 (its numbers there are the 64-bit calls with
/// `__X32_SYSCALL_BIT` set); its own 512..=547 entries are x32-only variants not in the table.
pub fn syscall_name(abi: Abi, nr: u32) -> Option<SyscallName> {
    let nr = usize::try_from(nr).ok()?;
    let name = match abi {
        Abi::X86_64 => syscalls::x86_64::Sysno::new(nr)?.name(),
        Abi::X86 => syscalls::x86::Sysno::new(nr)?.name(),
        Abi::X32 if nr < 512 => syscalls::x86_64::Sysno::new(nr)?.name(),
        Abi::X32 => return None,
    };
    Some(SyscallName(name))
}

/// Whether `name` is a system call of `abi` in the table (x32: the 64-bit names it shares).
pub fn is_syscall_name(abi: Abi, name: &str) -> bool {
    match abi {
        Abi::X86_64 | Abi::X32 => name.parse::<syscalls::x86_64::Sysno>().is_ok(),
        Abi::X86 => name.parse::<syscalls::x86::Sysno>().is_ok(),
    }
}

/// Whether aarch64 has a system call of this (libseccomp) name. The crate's aarch64 table is the
/// kernel's generic table, which also lists the 32-bit time64 calls (403 ..= 423,
/// `clock_gettime64`, `futex_time64`, ...) that 64-bit architectures do not have, and names call
/// 79 `fstatat` where libseccomp (and Docker) say `newfstatat`.
pub fn aarch64_has(name: &str) -> bool {
    let name = match name {
        "newfstatat" => "fstatat",
        "fstatat" => return false,
        name => name,
    };
    name.parse::<syscalls::aarch64::Sysno>()
        .is_ok_and(|nr| !(403..=423).contains(&nr.id()))
}

/// Whether `name` is a system call of x86-64 (either of its ABIs' tables) or aarch64: a name a
/// profile for the architectures trace renders can allow.
pub fn is_profile_syscall_name(name: &str) -> bool {
    is_syscall_name(Abi::X86_64, name) || is_syscall_name(Abi::X86, name) || aarch64_has(name)
}

/// The (libseccomp) name of aarch64's system call `nr`, or `None` when it has none (see
/// [`aarch64_has`] for the differences from the crate's table).
pub fn aarch64_name(nr: u32) -> Option<&'static str> {
    let sysno = syscalls::aarch64::Sysno::new(usize::try_from(nr).ok()?)?;
    match sysno.name() {
        "fstatat" => Some("newfstatat"),
        _ if (403..=423).contains(&sysno.id()) => None,
        name => Some(name),
    }
}
