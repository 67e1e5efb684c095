//! The system calls a statically linked program's code makes where the number is loaded just
//! before the instruction: on x86-64 `mov eax, imm32` (`b8 imm32`) or `mov rax, imm32`
//! (`48 c7 c0 imm32`) right before `syscall` (`0f 05`), on aarch64 `mov w8|x8, #imm16` right
//! before `svc #0`. That is how C libraries' wrappers are compiled (glibc, musl) and finds most
//! of a static C program's calls. It misses numbers loaded further away or computed (Go's runtime
//! passes them as arguments; a generic `syscall()` wrapper takes them from its caller), and a
//! constant that only looks like such code (data in a code segment) can add a call that is never
//! made: the result is a hint, as docs/coverage.md says.

use std::collections::BTreeSet;

use trace_common::Abi;

use crate::recording::{Machine, aarch64_name, syscall_name};

/// `syscall`.
const X86_SYSCALL: [u8; 2] = [0x0f, 0x05];
/// `svc #0`.
const AARCH64_SVC: u32 = 0xd400_0001;

/// The calls found in `code`, an executable segment of a `machine` program, by name.
pub fn syscalls(code: &[u8], machine: Machine) -> BTreeSet<String> {
    let numbers = match machine {
        Machine::X86_64 => x86_64_numbers(code),
        Machine::Aarch64 => aarch64_numbers(code),
    };
    numbers
        .into_iter()
        .filter_map(|nr| match machine {
            Machine::X86_64 => syscall_name(Abi::X86_64, nr).map(|n| n.0),
            Machine::Aarch64 => aarch64_name(nr),
        })
        .map(str::to_owned)
        .collect()
}

fn x86_64_numbers(code: &[u8]) -> BTreeSet<u32> {
    let mut found = BTreeSet::new();
    for at in 0..code.len().saturating_sub(1) {
        if code[at..at + 2] != X86_SYSCALL {
            continue;
        }
        let before = &code[..at];
        let imm = |start: usize| {
            let bytes: [u8; 4] = before[start..start + 4].try_into().expect("four bytes");
            u32::from_le_bytes(bytes)
        };
        let short_mov = before.len() >= 5 && before[before.len() - 5] == 0xb8;
        let rex_mov =
            before.len() >= 7 && before[before.len() - 7..before.len() - 4] == [0x48, 0xc7, 0xc0];
        if short_mov || rex_mov {
            found.insert(imm(before.len() - 4));
        }
    }
    found
}

fn aarch64_numbers(code: &[u8]) -> BTreeSet<u32> {
    let words: Vec<u32> = code
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes(w.try_into().expect("four bytes")))
        .collect();
    words
        .windows(2)
        .filter(|pair| pair[1] == AARCH64_SVC)
        // movz w8/x8, #imm16 (no shift): sf 10 100101 00 imm16 01000.
        .filter(|pair| pair[0] & 0x7fe0_001f == 0x5280_0008)
        .map(|pair| (pair[0] >> 5) & 0xffff)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(found: &BTreeSet<String>) -> Vec<&str> {
        found.iter().map(String::as_str).collect()
    }

    #[test]
    fn x86_64_numbers_loaded_just_before_syscall() {
        let code = [
            0x90, 0xb8, 62, 0, 0, 0, 0x0f, 0x05, // mov eax, 62 (kill); syscall
            0x48, 0xc7, 0xc0, 112, 0, 0, 0, 0x0f, 0x05, // mov rax, 112 (setsid); syscall
            0xb8, 57, 0, 0, 0, 0x90, 0x0f, 0x05, // fork, then a nop: not adjacent
            0xb8, 0xff, 0xff, 0, 0, 0x0f, 0x05, // no such call
            0x0f, 0x05, // at the start of nothing
        ];
        assert_eq!(names(&syscalls(&code, Machine::X86_64)), ["kill", "setsid"]);
        assert!(syscalls(&[0x0f], Machine::X86_64).is_empty());
    }

    #[test]
    fn aarch64_numbers_loaded_just_before_svc() {
        let word = |w: u32| w.to_le_bytes();
        let mut code = Vec::new();
        code.extend(word(0xd280_0008 | (129 << 5))); // mov x8, #129 (kill)
        code.extend(word(AARCH64_SVC));
        code.extend(word(0x5280_0008 | (220 << 5))); // mov w8, #220 (clone)
        code.extend(word(AARCH64_SVC));
        code.extend(word(0xd280_0009 | (157 << 5))); // mov x9: not the number register
        code.extend(word(AARCH64_SVC));
        code.extend([0, 0]); // a tail shorter than a word
        assert_eq!(names(&syscalls(&code, Machine::Aarch64)), ["clone", "kill"]);
    }
}
