//! One ELF file's facts: its machine, how it reaches the kernel, and what it imports or calls.
//! Pure: the bytes of a file in, a [`Binary`] (or why not) out; the file comes from an untrusted
//! image, so every offset is checked by the `object` crate and nothing is trusted to be small
//! but what the caller bounded.

use object::elf::{DT_NEEDED, DT_SONAME, PF_X, PT_INTERP, PT_LOAD};
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Architecture, Endianness, FileKind, Object, ObjectSymbol};

use super::scan;
use crate::platform::libc;
use crate::recording::{Binary, Linking, Machine, Skip};

/// What `data`, the whole of a file, is (see the module documentation).
pub fn analyse(data: &[u8]) -> Result<Binary, Skip> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => {}
        Ok(FileKind::Elf32) => return Err(Skip::Unsupported),
        _ if data.starts_with(b"\x7fELF") => return Err(Skip::Malformed),
        _ => return Err(Skip::NotElf),
    }
    let file = ElfFile64::<Endianness>::parse(data).map_err(|_| Skip::Malformed)?;
    let machine = match file.architecture() {
        Architecture::X86_64 => Machine::X86_64,
        Architecture::Aarch64 => Machine::Aarch64,
        _ => return Err(Skip::Unsupported),
    };
    let endian = file.endian();
    let (mut soname, mut needs) = (None, false);
    if let Ok(table) = file.elf_dynamic_table() {
        for entry in &table {
            match entry.tag {
                DT_SONAME => soname = table.string(entry).ok(),
                DT_NEEDED => needs = true,
                _ => {}
            }
        }
    }
    let mut binary = Binary {
        machine,
        linking: Linking::Dynamic,
        imports: std::collections::BTreeSet::new(),
        syscalls: std::collections::BTreeSet::new(),
    };
    if soname.is_some_and(libc::is_c_library) {
        binary.linking = Linking::Libc;
        return Ok(binary);
    }
    let headers = file
        .elf_header()
        .program_headers(endian, data)
        .unwrap_or(&[]);
    let interpreted = headers.iter().any(|h| h.p_type(endian) == PT_INTERP);
    let mut undefined = false;
    for symbol in file.dynamic_symbols().filter(ObjectSymbol::is_undefined) {
        let Ok(name) = symbol.name() else { continue };
        undefined |= !name.is_empty();
        if libc::is_listed(name) {
            binary.imports.insert(name.to_owned());
        }
    }
    if needs || interpreted || undefined {
        return Ok(binary);
    }
    binary.linking = Linking::Static;
    for header in headers {
        let executable = header.p_type(endian) == PT_LOAD && header.p_flags(endian) & PF_X != 0;
        if let Some(code) = executable.then(|| header.data(endian, data).ok()).flatten() {
            binary.syscalls.extend(scan::syscalls(code, machine));
        }
    }
    Ok(binary)
}

/// The running test binary's bytes when it is a dynamically linked x86-64 glibc program (the
/// reach tests read it as a program of an image), else `None`.
#[cfg(test)]
pub(super) fn glibc_test_program() -> Option<Vec<u8>> {
    cfg!(all(
        target_arch = "x86_64",
        target_os = "linux",
        target_env = "gnu"
    ))
    .then(|| std::fs::read(std::env::current_exe().unwrap()).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test binary itself: a dynamically linked x86-64 program (glibc) that imports
    /// functions the table lists.
    #[test]
    fn a_dynamic_program_lists_the_functions_it_imports() {
        let Some(me) = glibc_test_program() else {
            return;
        };
        let binary = analyse(&me).unwrap();
        assert_eq!(binary.machine, Machine::X86_64);
        assert_eq!(binary.linking, Linking::Dynamic);
        assert!(binary.syscalls.is_empty());
        // Rust's standard library spawns processes and threads through these.
        assert!(
            binary.imports.contains("pthread_create") && binary.imports.contains("sigaction"),
            "{:?}",
            binary.imports
        );
        assert!(binary.imports.iter().all(|i| libc::is_listed(i)));
    }

    #[test]
    fn what_is_not_a_64_bit_elf_file_is_skipped() {
        assert_eq!(analyse(b"#!/bin/sh\necho hi\n"), Err(Skip::NotElf));
        assert_eq!(analyse(b""), Err(Skip::NotElf));
        assert_eq!(analyse(b"\x7fELF\x02\x01\x01"), Err(Skip::Malformed));
        let mut elf32 = vec![0u8; 64];
        elf32[..6].copy_from_slice(b"\x7fELF\x01\x01");
        assert_eq!(analyse(&elf32), Err(Skip::Unsupported));
    }
}
