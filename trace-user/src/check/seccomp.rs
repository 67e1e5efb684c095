//! The system calls a committed seccomp profile allows, in whichever format was committed:
//! Docker's (seccomp.json), the OCI runtime spec's `LinuxSeccomp` (seccomp.json) or a Security
//! Profiles Operator `SeccompProfile` (YAML). A name counts as allowed when any rule with an
//! allowing action (`SCMP_ACT_ALLOW`, `SCMP_ACT_LOG`) names it, whatever its argument filters or
//! Docker conditions; a default action that allows allows every name.
//!
//! What cannot be read is a [`SeccompError`] (`trace check` exits 2): an empty file, text that is
//! neither JSON nor YAML or not a profile's shape, an action outside the runtime spec's
//! `SCMP_ACT_*` list (a misspelt `SCMP_ACT_ALLOW` would otherwise read as "not allowed"), a system
//! call name that is empty or holds whitespace or control characters, YAML with more brackets
//! than [`super::MAX_YAML_BRACKETS`].

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{Snippet, TooManyBrackets, yaml_brackets};

/// A seccomp profile format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompFormat {
    /// Docker's (it has comments, `includes`, `excludes` or `archMap`).
    Docker,
    /// The OCI runtime spec's (`flags`, `listenerPath`), or a plain profile either would read.
    Oci,
    /// A Security Profiles Operator `SeccompProfile`.
    Spo,
}

impl SeccompFormat {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            SeccompFormat::Docker => "docker",
            SeccompFormat::Oci => "oci",
            SeccompFormat::Spo => "spo",
        }
    }
}

/// What a committed seccomp profile allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedSyscalls {
    /// The format it was read in.
    pub format: SeccompFormat,
    /// The default action allows every call.
    pub all: bool,
    /// Names an allowing rule names.
    pub names: BTreeSet<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    syscalls: Option<Vec<Rule>>,
}

#[derive(Deserialize)]
struct Rule {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
}

/// The actions of the OCI runtime spec (`LinuxSeccompAction`), which Docker and the operator use.
const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

fn allows(action: &str) -> bool {
    matches!(action, "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG")
}

/// Why a seccomp profile could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// Nothing but whitespace.
    #[error("empty file")]
    Empty,
    /// Neither JSON nor YAML.
    #[error("neither JSON ({json}) nor YAML ({yaml})")]
    Syntax {
        /// Why it is not JSON.
        json: serde_json::Error,
        /// Why it is not YAML.
        yaml: serde_norway::Error,
    },
    /// Not JSON, and more `[` and `{` than the YAML reader takes.
    #[error("not JSON ({json}), and {brackets}")]
    Brackets {
        /// Why it is not JSON.
        json: serde_json::Error,
        /// How many brackets.
        brackets: TooManyBrackets,
    },
    /// JSON or YAML, but not a profile (no `defaultAction`, a list where a rule should be, ...).
    #[error("not a seccomp profile: {0}")]
    Shape(serde_json::Error),
    /// An action no runtime knows.
    #[error("unknown action {0}")]
    UnknownAction(Snippet),
    /// A system call name that is empty or holds whitespace or control characters.
    #[error("bad system call name {0}")]
    BadName(Snippet),
}

/// Reads a seccomp profile in any of the three formats.
pub fn parse(text: &str) -> Result<AllowedSyscalls, SeccompError> {
    if text.trim().is_empty() {
        return Err(SeccompError::Empty);
    }
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(json) => {
            if let Err(brackets) = yaml_brackets(text) {
                return Err(SeccompError::Brackets { json, brackets });
            }
            serde_norway::from_str(text).map_err(|yaml| SeccompError::Syntax { json, yaml })?
        }
    };
    let (format, profile) = if value.get("kind").and_then(|k| k.as_str()) == Some("SeccompProfile")
    {
        (
            SeccompFormat::Spo,
            value.get("spec").cloned().unwrap_or_default(),
        )
    } else {
        let docker = value.get("archMap").is_some()
            || value
                .get("syscalls")
                .and_then(|s| s.as_array())
                .is_some_and(|rules| {
                    rules.iter().any(|r| {
                        ["comment", "includes", "excludes"]
                            .iter()
                            .any(|k| r.get(k).is_some())
                    })
                });
        let format = if docker {
            SeccompFormat::Docker
        } else {
            SeccompFormat::Oci
        };
        (format, value)
    };
    let profile: Profile = serde_json::from_value(profile).map_err(SeccompError::Shape)?;
    let known = |action: &str| {
        if ACTIONS.contains(&action) {
            Ok(())
        } else {
            Err(SeccompError::UnknownAction(Snippet::new(action)))
        }
    };
    known(&profile.default_action)?;
    let mut names = BTreeSet::new();
    for rule in profile.syscalls.unwrap_or_default() {
        known(&rule.action)?;
        for name in rule.names.iter().chain(&rule.name) {
            if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(SeccompError::BadName(Snippet::new(name)));
            }
        }
        if allows(&rule.action) {
            names.extend(rule.names);
            names.extend(rule.name);
        }
    }
    Ok(AllowedSyscalls {
        format,
        all: allows(&profile.default_action),
        names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_format() {
        let docker = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["read","write"],"action":"SCMP_ACT_ALLOW","comment":"x"},
            {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_MASKED_EQ"}]},
            {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#;
        let allowed = parse(docker).unwrap();
        assert_eq!(allowed.format, SeccompFormat::Docker);
        assert_eq!(
            allowed.names,
            BTreeSet::from(["clone".into(), "read".into(), "write".into()])
        );
        let oci = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;
        assert_eq!(parse(oci).unwrap().format, SeccompFormat::Oci);
        let spo = "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n  name: x\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - names: [read, openat]\n    action: SCMP_ACT_ALLOW\n";
        let allowed = parse(spo).unwrap();
        assert_eq!(
            (allowed.format, allowed.names.len(), allowed.all),
            (SeccompFormat::Spo, 2, false)
        );
        assert!(parse(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap().all);
        assert!(parse("[1, 2]").is_err());
        assert!(parse("{not json: [").is_err());
    }

    /// Whatever cannot be read is a typed error, never a panic nor an empty allow list.
    #[test]
    fn unreadable_profiles_are_errors() {
        for empty in ["", "  \n\t"] {
            assert!(
                matches!(parse(empty), Err(SeccompError::Empty)),
                "{empty:?}"
            );
        }
        assert!(matches!(
            parse("{\"defaultAction\": "),
            Err(SeccompError::Syntax { .. })
        ));
        for shape in ["garbage", "null", "[1, 2]", "42", r#"{"syscalls": []}"#] {
            assert!(
                matches!(parse(shape), Err(SeccompError::Shape(_))),
                "{shape:?}"
            );
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep).is_err());
        // 100,000 nested YAML flow mappings kept the YAML parser busy for minutes.
        let started = std::time::Instant::now();
        let nested = "{a: ".repeat(100_000);
        assert!(matches!(parse(&nested), Err(SeccompError::Brackets { .. })));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let action = |a: &str| {
            format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":["read"],"action":"{a}"}}]}}"#
            )
        };
        assert!(matches!(
            parse(&action("SCMP_ACT_ALOW")),
            Err(SeccompError::UnknownAction(_))
        ));
        assert!(matches!(
            parse(r#"{"defaultAction":"allow"}"#),
            Err(SeccompError::UnknownAction(_))
        ));
        assert!(parse(&action("SCMP_ACT_KILL_PROCESS")).is_ok());
        for name in ["", "re ad", r"read\n", r"\u0000", r"bad\u001b[2J"] {
            let text = format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":["read","{name}"],"action":"SCMP_ACT_ERRNO"}}]}}"#
            );
            let error = parse(&text).unwrap_err();
            assert!(
                matches!(error, SeccompError::BadName(_)),
                "{name:?}: {error}"
            );
            assert!(
                !error.to_string().contains(|c: char| c.is_control()),
                "{error}"
            );
        }
    }
}
