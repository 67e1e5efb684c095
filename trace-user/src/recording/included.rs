//! System calls added to the profiles on purpose (v8): `--include-syscall NAME[=REASON]` for a
//! path the exercise does not take (a reload, a rare error path). Not observations: the recording
//! keeps them apart, with the reason, so that every profile rendered from it allows them and says
//! why.

use serde::{Deserialize, Serialize};

use super::{Recording, is_profile_syscall_name, reorders};

/// The longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// One system call included on purpose.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IncludedSyscall {
    /// Its name (libseccomp's, of x86-64 or aarch64).
    pub name: String,
    /// Why; empty when none was given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// Why `--include-syscall` cannot be taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IncludeError {
    /// Not a system call name.
    #[error("{0:?} is not a system call of x86_64 or aarch64")]
    Unknown(String),
    /// The reason is too long or holds control characters.
    #[error("the reason is longer than {MAX_REASON_CHARS} characters or holds control characters")]
    Reason,
}

impl IncludedSyscall {
    /// `NAME` or `NAME=REASON`, checked as a recording's entries are.
    pub fn parse(text: &str) -> Result<Self, IncludeError> {
        let (name, reason) = text.split_once('=').unwrap_or((text, ""));
        let included = IncludedSyscall {
            name: name.trim().to_owned(),
            reason: reason.trim().to_owned(),
        };
        included.check()?;
        Ok(included)
    }

    /// Whether a trace run could have written it: a known name, a short printable reason.
    pub fn check(&self) -> Result<(), IncludeError> {
        if !is_profile_syscall_name(&self.name) {
            return Err(IncludeError::Unknown(self.name.clone()));
        }
        let reason_ok = self.reason.chars().count() <= MAX_REASON_CHARS
            && !self.reason.chars().any(|c| c.is_control() || reorders(c));
        if !reason_ok {
            return Err(IncludeError::Reason);
        }
        Ok(())
    }
}

impl Recording {
    /// Adds system calls to the profiles on purpose (kept in `included_syscalls`).
    pub fn include_syscalls(&mut self, included: &[IncludedSyscall]) {
        self.included_syscalls.extend(included.iter().cloned());
    }

    /// The names of the calls included on purpose that were not observed in any ABI.
    pub fn included_unobserved(&self) -> std::collections::BTreeSet<&str> {
        self.included_syscalls
            .iter()
            .map(|i| i.name.as_str())
            .filter(|name| {
                !self
                    .syscalls
                    .values()
                    .any(|calls| calls.contains_key(*name))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_and_a_reason() {
        assert_eq!(
            IncludedSyscall::parse("kill=nginx -s reload signals the master").unwrap(),
            IncludedSyscall {
                name: "kill".into(),
                reason: "nginx -s reload signals the master".into()
            }
        );
        assert_eq!(IncludedSyscall::parse("ppoll").unwrap().reason, "");
        // aarch64-only names are taken: a profile for aarch64 allows them.
        assert!(IncludedSyscall::parse("renameat").is_ok());
        assert_eq!(
            IncludedSyscall::parse("kil=x"),
            Err(IncludeError::Unknown("kil".into()))
        );
        assert_eq!(
            IncludedSyscall::parse("kill=a\nb"),
            Err(IncludeError::Reason)
        );
        assert_eq!(
            IncludedSyscall::parse("kill=\u{202e}x"),
            Err(IncludeError::Reason)
        );
        assert_eq!(
            IncludedSyscall::parse(&format!("kill={}", "x".repeat(201))),
            Err(IncludeError::Reason)
        );
    }
}
