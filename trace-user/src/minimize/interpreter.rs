//! The program the kernel itself opens to run an executable, which a trace cannot see (the
//! kernel opens it inside `execve`, not through a system call): the ELF program interpreter
//! (`PT_INTERP`, the dynamic loader `/lib64/ld-linux-x86-64.so.2`) or a script's `#!` interpreter.
//! Read from the first bytes of every executable file of the image.

/// Bytes of an executable read to find its interpreter: the ELF and program headers and the
/// interpreter path sit at the start of every ordinary executable.
pub const HEAD_BYTES: u64 = 64 << 10;

/// `PT_INTERP`.
const PT_INTERP: u32 = 3;
/// The kernel reads this much of a script's `#!` line (`BINPRM_BUF_SIZE`).
const SHEBANG_BYTES: usize = 256;

/// The absolute path of the interpreter the kernel loads for an executable starting with `head`.
pub fn interpreter(head: &[u8]) -> Option<Vec<u8>> {
    let path = if head.starts_with(b"\x7fELF") {
        elf_interpreter(head)?
    } else {
        shebang_interpreter(head)?
    };
    path.starts_with(b"/").then_some(path)
}

fn shebang_interpreter(head: &[u8]) -> Option<Vec<u8>> {
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.len().min(SHEBANG_BYTES - 2)];
    let line = line.split(|&b| b == b'\n').next()?;
    let word = line
        .split(|&b| b == b' ' || b == b'\t')
        .find(|w| !w.is_empty())?;
    Some(word.to_vec())
}

fn elf_interpreter(head: &[u8]) -> Option<Vec<u8>> {
    let wide = match head.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let little = match head.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let int = |at: usize, len: usize| -> Option<u64> {
        let bytes = head.get(at..at.checked_add(len)?)?;
        let mut value = 0u64;
        for i in 0..len {
            let b = if little { bytes[len - 1 - i] } else { bytes[i] };
            value = (value << 8) | u64::from(b);
        }
        Some(value)
    };
    let to_usize = |v: u64| usize::try_from(v).ok();
    let (phoff, phentsize, phnum) = if wide {
        (int(0x20, 8)?, int(0x36, 2)?, int(0x38, 2)?)
    } else {
        (int(0x1c, 4)?, int(0x2a, 2)?, int(0x2c, 2)?)
    };
    for i in 0..phnum {
        let header = to_usize(phoff.checked_add(i.checked_mul(phentsize)?)?)?;
        if int(header, 4)? != u64::from(PT_INTERP) {
            continue;
        }
        let (offset, size) = if wide {
            (int(header + 8, 8)?, int(header + 0x20, 8)?)
        } else {
            (int(header + 4, 4)?, int(header + 0x10, 4)?)
        };
        let start = to_usize(offset)?;
        let path = head.get(start..start.checked_add(to_usize(size)?)?)?;
        let path = path.split(|&b| b == 0).next()?;
        return Some(path.to_vec());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_loader_of_real_programs() {
        // The test binary itself is a dynamically linked ELF with a PT_INTERP.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let head = &exe[..exe.len().min(usize::try_from(HEAD_BYTES).unwrap())];
        let loader = interpreter(head).expect("the test binary has an interpreter");
        assert!(loader.starts_with(b"/") && loader.windows(2).any(|w| w == b"ld"));
        // busybox-static has none.
        if let Ok(busybox) = std::fs::read("/bin/busybox") {
            let head = &busybox[..busybox.len().min(1 << 16)];
            if !head.windows(7).any(|w| w == b"ld-linu") {
                assert_eq!(interpreter(head), None);
            }
        }
    }

    #[test]
    fn reads_script_lines_and_refuses_garbage() {
        assert_eq!(interpreter(b"#!/bin/sh\necho"), Some(b"/bin/sh".to_vec()));
        assert_eq!(
            interpreter(b"#! \t/usr/bin/env python3 -u\n"),
            Some(b"/usr/bin/env".to_vec())
        );
        assert_eq!(interpreter(b"#!relative\n"), None);
        assert_eq!(interpreter(b"plain text"), None);
        for cut in [5, 20, 64, 100] {
            let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
            let _ = interpreter(&exe[..cut]);
        }
        let mut hostile = b"\x7fELF\x02\x01".to_vec();
        hostile.resize(0x40, 0xff);
        assert_eq!(interpreter(&hostile), None);
    }
}
