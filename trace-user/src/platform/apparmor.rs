//! What AppArmor mediates and names: the file permission behind each recorded access, and the
//! socket families and types a `network` rule can name (as `apparmor_parser` 3.0 knows them).
//! The profile renderers write rules from these; `trace check` reads committed rules against them.
//!
//! | access | permission | why |
//! |---|---|---|
//! | read, metadata, list | `r` | `r` also grants getattr, which `stat` needs (AppArmor has no separate `stat` permission) |
//! | write, create, delete, chmod, chown | `w` | AppArmor's `w` covers create, delete, setattr, chmod, chown |
//! | append | `a` | |
//! | rename (old name) | `rw` | the kernel checks read, write and delete on the old name |
//! | link | `l` | a hard link made at this path |
//! | lock | `k` | |
//! | mmap_exec | `m` | |
//! | exec | `ix` | the program runs under this same profile |
//! | chdir, probe | none | AppArmor does not mediate entering a directory or failing to find a path |

use crate::recording::{Access, SocketFamily, SocketType};

/// One AppArmor file permission; ordered as written in a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Perm {
    /// `r`
    Read,
    /// `w`
    Write,
    /// `a`
    Append,
    /// `l`
    Link,
    /// `k`
    Lock,
    /// `m`
    MmapExec,
    /// `ix`
    Exec,
}

/// The permissions that mediate `access` (see the module documentation).
pub fn perms_of(access: Access) -> &'static [Perm] {
    match access {
        Access::Read | Access::Metadata | Access::List => &[Perm::Read],
        Access::Write | Access::Create | Access::Delete | Access::Chmod | Access::Chown => {
            &[Perm::Write]
        }
        Access::Append => &[Perm::Append],
        Access::Rename => &[Perm::Read, Perm::Write],
        Access::Link => &[Perm::Link],
        Access::Lock => &[Perm::Lock],
        Access::MmapExec => &[Perm::MmapExec],
        Access::Exec => &[Perm::Exec],
        Access::Chdir | Access::Probe => &[],
    }
}

/// Families `network` rules can name: `apparmor_parser` 3.0 knows every `AF_*` name but `decnet`
/// (the kernel dropped that protocol).
pub fn apparmor_family(family: SocketFamily) -> Option<&'static str> {
    family.name().filter(|name| *name != "decnet")
}

/// Types `network` rules can name: `apparmor_parser` 3.0 has no `dccp`.
pub fn apparmor_type(sock_type: SocketType) -> Option<&'static str> {
    sock_type.name().filter(|name| *name != "dccp")
}
