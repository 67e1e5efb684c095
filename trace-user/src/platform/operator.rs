//! The Kubernetes Security Profiles Operator's `AppArmorProfile` object and the metadata its
//! objects share, as far as trace uses them: `--format spo` writes them (`render`), `trace check`
//! reads a committed one (`check`). The operator's `SeccompProfile` is Docker's rule list in a
//! wrapper, so it stays with the seccomp renderer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A Kubernetes object's metadata, as far as trace writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object's name (a DNS-1123 subdomain).
    pub name: String,
    /// `description`: where the profile came from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The `AppArmorProfile` CRD's API group and version.
pub const APPARMOR_API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1alpha1";

/// `AppArmorProfile`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorProfile {
    /// [`APPARMOR_API_VERSION`].
    pub api_version: String,
    /// `AppArmorProfile`.
    pub kind: String,
    /// Name and annotations.
    pub metadata: ObjectMeta,
    /// The profile.
    pub spec: AppArmorProfileSpec,
}

/// `AppArmorProfileSpec`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppArmorProfileSpec {
    /// The rules.
    #[serde(rename = "abstract")]
    pub abstract_: Abstract,
}

/// `AppArmorAbstract`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abstract {
    /// Programs and libraries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<Executable>,
    /// File paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<Filesystem>,
    /// Sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Capabilities>,
}

/// `AppArmorExecutablesRules`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Executable {
    /// `PATH ixr,`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_executables: Vec<String>,
    /// `PATH mr,`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_libraries: Vec<String>,
}

/// `AppArmorFsRules`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filesystem {
    /// `PATH r,`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only_paths: Vec<String>,
    /// `PATH wlk,`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_only_paths: Vec<String>,
    /// `PATH rwlk,`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_write_paths: Vec<String>,
}

/// `AppArmorNetworkRules`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// Raw sockets.
    pub allow_raw: bool,
    /// TCP and UDP.
    pub allowed_protocols: Protocols,
}

/// `AppArmorAllowedProtocols`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Protocols {
    /// `network tcp,`
    pub allow_tcp: bool,
    /// `network udp,`
    pub allow_udp: bool,
}

/// `AppArmorCapabilityRules`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// AppArmor capability names.
    pub allowed_capabilities: Vec<String>,
}
