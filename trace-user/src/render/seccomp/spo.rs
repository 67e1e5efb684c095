//! The seccomp profile as a Kubernetes Security Profiles Operator `SeccompProfile` (YAML).
//!
//! `apiVersion: security-profiles-operator.x-k8s.io/v1beta1`, `kind: SeccompProfile`, cluster
//! scoped; `spec` has the fields of the operator's `SeccompProfileSpec` (`defaultAction`,
//! `architectures`, `syscalls` with `names`, `action`, `errnoRet`, `args`). v1beta1 is served by
//! every operator release that has the CRD (v1 is the storage version of releases from 2026 on and
//! converts). Like the runtime spec it has no per-rule architecture condition or comments; the
//! comments are in the YAML header.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{DockerSeccomp, SyscallRule};
use crate::platform::operator::ObjectMeta;

/// The CRD's API group and version.
pub const API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1beta1";

/// `SeccompProfile`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    /// [`API_VERSION`].
    pub api_version: String,
    /// `SeccompProfile`.
    pub kind: String,
    /// Name and annotations.
    pub metadata: ObjectMeta,
    /// The profile.
    pub spec: SeccompProfileSpec,
}

/// `SeccompProfileSpec`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfileSpec {
    /// Action for calls no rule matches.
    pub default_action: String,
    /// libseccomp architecture names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// The rules: the operator's `Syscall` has the fields of a Docker rule without `comment` and
    /// `includes`, which are left empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallRule>,
}

/// A Kubernetes object name for a container: `trace-<name>`, lower case, every run of characters
/// outside `a-z 0-9` a single `-`, at most 63 characters (a DNS label, which every kind accepts).
pub fn object_name(container_name: &str, container_id: &str) -> String {
    let source = super::super::apparmor::profile_name(container_name, container_id);
    let mut name = String::new();
    for c in source.to_ascii_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// The profile as a `SeccompProfile` object named `name`.
pub fn seccomp_profile(
    profile: &DockerSeccomp,
    name: String,
    description: String,
) -> SeccompProfile {
    SeccompProfile {
        api_version: API_VERSION.into(),
        kind: "SeccompProfile".into(),
        metadata: ObjectMeta {
            name,
            annotations: [("description".to_owned(), description)].into(),
        },
        spec: SeccompProfileSpec {
            default_action: profile.default_action.clone(),
            architectures: profile.architectures.clone(),
            syscalls: profile
                .syscalls
                .iter()
                .map(|rule| SyscallRule {
                    comment: None,
                    includes: None,
                    ..rule.clone()
                })
                .collect(),
        },
    }
}

/// `value` as YAML after `header`, each line a `# ` comment (control characters escaped as in
/// recording.json, so text from the recording cannot end the comment).
pub fn yaml_text(header: &[String], value: &impl Serialize) -> String {
    let mut text = String::new();
    for line in header {
        let _ = writeln!(text, "# {}", crate::recording::encode(line.as_bytes()));
    }
    text.push_str(&serde_norway::to_string(value).expect("a CRD always serializes"));
    text
}
