//! What the programs and libraries the container ran could call (v8): read from its image when
//! recording stopped, for the coverage report (docs/coverage.md). Facts about the image, never
//! observations: nothing here goes into a profile.
//!
//! A dynamically linked program or library is described by the C library functions it imports
//! that make a system call ([`crate::platform::libc`] names them and maps them to calls when
//! rendering); a static one by the system call numbers a scan of its code found; the C library
//! itself (and the dynamic loader) by nothing, since its exports are not imports.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use trace_common::Abi;

use super::{PathBytes, is_syscall_name, syscalls::aarch64_has};

/// The programs and libraries read from the image, and those that could not be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    /// By their path in the image (after its symlinks).
    #[serde(default)]
    pub binaries: BTreeMap<PathBytes, Binary>,
    /// Executed or mapped paths that were not read, and why (by the path the recording has).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<PathBytes, Skip>,
}

/// One ELF program or library.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Binary {
    /// The machine it is built for.
    pub machine: Machine,
    /// How it reaches the kernel.
    pub linking: Linking,
    /// Dynamic: the C library functions it imports that make system calls, as imported
    /// (`setrlimit64`, `kill`), sorted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub imports: BTreeSet<String>,
    /// Static: the system calls a scan of its code found (names of its machine), sorted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub syscalls: BTreeSet<String>,
}

/// The machines whose binaries are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Machine {
    /// x86-64.
    X86_64,
    /// `AArch64` (arm64).
    Aarch64,
}

impl Machine {
    /// Its name in recording.json.
    pub fn name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "aarch64",
        }
    }

    /// Whether it has a system call of this name (x86-64: its 64-bit table).
    pub fn has(self, name: &str) -> bool {
        match self {
            Machine::X86_64 => is_syscall_name(Abi::X86_64, name),
            Machine::Aarch64 => aarch64_has(name),
        }
    }
}

/// How a binary reaches the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Linking {
    /// Through the C library it imports functions from.
    Dynamic,
    /// Linked statically: it makes its system calls itself.
    Static,
    /// The C library or the dynamic loader: what it exports, others import.
    Libc,
}

/// Why an executed or mapped path was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// The image has no regular file there (the container made it, or a mount holds it).
    NotInImage,
    /// Not an ELF file (a script: its interpreter is read instead).
    NotElf,
    /// ELF for another machine or class than 64-bit x86-64 and `AArch64`.
    Unsupported,
    /// ELF that does not parse.
    Malformed,
    /// Larger than a single binary may be.
    TooLarge,
    /// Past the number of binaries or the bytes read in all.
    OverBudget,
}

impl Skip {
    /// Why, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Skip::NotInImage => "not a regular file in the image",
            Skip::NotElf => "not an ELF file",
            Skip::Unsupported => "not a 64-bit x86-64 or AArch64 ELF file",
            Skip::Malformed => "not a well-formed ELF file",
            Skip::TooLarge => "larger than a binary may be",
            Skip::OverBudget => "past the number of binaries or bytes read in all",
        }
    }
}

/// The longest imported name kept; libc's are far shorter.
pub const MAX_SYMBOL_BYTES: usize = 64;

/// Whether `name` can be an imported C function's name: 1 to [`MAX_SYMBOL_BYTES`] ASCII letters,
/// digits and underscores, not starting with a digit.
pub fn is_symbol_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SYMBOL_BYTES
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Reach {
    /// The union of two (a merged recording's): binaries by path, with the imports and calls
    /// of both; a path skipped in one and read in the other is read. Commutative and
    /// associative.
    #[must_use]
    pub fn union(&self, other: &Reach) -> Reach {
        let mut binaries = self.binaries.clone();
        for (path, binary) in &other.binaries {
            binaries
                .entry(path.clone())
                .and_modify(|mine| {
                    // Two images may differ at a path: the larger facts, both sets of names.
                    let (machine, linking) =
                        (mine.machine, mine.linking).max((binary.machine, binary.linking));
                    mine.machine = machine;
                    mine.linking = linking;
                    mine.imports.extend(binary.imports.iter().cloned());
                    mine.syscalls.extend(binary.syscalls.iter().cloned());
                })
                .or_insert_with(|| binary.clone());
        }
        let mut skipped = self.skipped.clone();
        for (path, why) in &other.skipped {
            skipped
                .entry(path.clone())
                .and_modify(|mine| *mine = (*mine).min(*why))
                .or_insert(*why);
        }
        Reach { binaries, skipped }
    }

    /// The first name that a trace run could not have written: an import that is not a C
    /// function's name, or a call its machine does not have.
    pub fn invalid_name(&self) -> Option<String> {
        self.binaries.values().find_map(|binary| {
            let import = binary.imports.iter().find(|n| !is_symbol_name(n));
            let call = binary.syscalls.iter().find(|n| !binary.machine.has(n));
            import.or(call).cloned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(imports: &[&str]) -> Binary {
        Binary {
            machine: Machine::X86_64,
            linking: Linking::Dynamic,
            imports: imports.iter().map(|s| (*s).to_owned()).collect(),
            syscalls: BTreeSet::new(),
        }
    }

    #[test]
    fn union_is_commutative_and_keeps_every_name() {
        let a = Reach {
            binaries: [("/bin/a".into(), binary(&["kill"]))].into(),
            skipped: [("/x".into(), Skip::NotElf)].into(),
        };
        let b = Reach {
            binaries: [
                ("/bin/a".into(), binary(&["fork"])),
                ("/bin/b".into(), binary(&[])),
            ]
            .into(),
            skipped: [("/x".into(), Skip::NotInImage)].into(),
        };
        let ab = a.union(&b);
        assert_eq!(ab, b.union(&a));
        assert_eq!(ab, ab.union(&a));
        assert_eq!(
            ab.binaries[&PathBytes::from("/bin/a")].imports,
            ["fork".to_owned(), "kill".to_owned()].into()
        );
        assert_eq!(ab.skipped[&PathBytes::from("/x")], Skip::NotInImage);
    }

    #[test]
    fn names_are_checked() {
        assert!(is_symbol_name("setrlimit64"));
        for bad in ["", "9lives", "kill\n", "a b", &"x".repeat(65)] {
            assert!(!is_symbol_name(bad), "{bad:?}");
        }
        let mut reach = Reach {
            binaries: [("/bin/a".into(), binary(&["kill"]))].into(),
            skipped: BTreeMap::new(),
        };
        assert_eq!(reach.invalid_name(), None);
        let mut static_one = binary(&[]);
        static_one.linking = Linking::Static;
        static_one.syscalls = ["fork".to_owned()].into();
        reach.binaries.insert("/bin/s".into(), static_one.clone());
        assert_eq!(reach.invalid_name(), None);
        static_one.machine = Machine::Aarch64;
        reach.binaries.insert("/bin/s".into(), static_one);
        assert_eq!(reach.invalid_name().as_deref(), Some("fork"));
    }
}
