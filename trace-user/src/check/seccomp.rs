//! The system calls a committed seccomp profile allows, in whichever format was committed:
//! Docker's (seccomp.json), the OCI runtime spec's `LinuxSeccomp` (seccomp.json) or a Security
//! Profiles Operator `SeccompProfile` (YAML). A name counts as allowed when any rule with an
//! allowing action (`SCMP_ACT_ALLOW`, `SCMP_ACT_LOG`) names it, whatever its argument filters or
//! Docker conditions; a default action that allows allows every name.

use std::collections::BTreeSet;

use serde::Deserialize;

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

fn allows(action: &str) -> bool {
    matches!(action, "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG")
}

/// Reads a seccomp profile in any of the three formats.
pub fn parse(text: &str) -> Result<AllowedSyscalls, String> {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(json) => serde_norway::from_str(text)
            .map_err(|yaml| format!("neither JSON ({json}) nor YAML ({yaml})"))?,
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
    let profile: Profile =
        serde_json::from_value(profile).map_err(|e| format!("not a seccomp profile: {e}"))?;
    let mut names = BTreeSet::new();
    for rule in profile.syscalls.unwrap_or_default() {
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
}
