//! The AppArmor profile as a Kubernetes Security Profiles Operator `AppArmorProfile` (YAML).
//!
//! `apiVersion: security-profiles-operator.x-k8s.io/v1alpha1`, `kind: AppArmorProfile`: the
//! operator builds the profile from `spec.abstract` with its own template, which is coarser than
//! trace's profile:
//!
//! | abstract list | operator's rule | trace puts there |
//! |---|---|---|
//! | `executable.allowedExecutables` | `PATH ixr,` | programs executed |
//! | `executable.allowedLibraries` | `PATH mr,` | files mapped executable |
//! | `filesystem.readOnlyPaths` | `PATH r,` and `deny PATH wlk,` | paths only read |
//! | `filesystem.writeOnlyPaths` | `PATH wlk,` and `deny PATH r,` | paths only written, locked or linked |
//! | `filesystem.readWritePaths` | `PATH rwlk,` | paths both read and written (or written and executed/mapped) |
//! | `network.allowedProtocols.allowTcp` / `allowUdp`, `network.allowRaw` | `network tcp,` / `udp,` / `raw,` (else `deny network raw,`) | inet/inet6 stream, dgram; any raw socket |
//! | `capability.allowedCapabilities` | `capability NAME,` | capabilities granted |
//!
//! The operator writes paths unquoted and accepts only `A-Z a-z 0-9 _ . / * ? + @ { } -` and
//! space. So a path byte outside `A-Z a-z 0-9 _ . / + -` is written as `?` (one character, never
//! `/`): the rule widens to names differing in those bytes, and can never add or end a rule. Only
//! trace's `/proc` normaliser writes `@{pid}` and `@{tid}`, and only the collapsing that keeps the
//! operator's profile loadable ([`super::collapse`], as for `apparmor.profile`) writes `*` and
//! `**`. Socket families other than inet and inet6 (unix, netlink, ...) have no field: the
//! operator's template includes `abstractions/base`.

use std::collections::BTreeSet;

use super::collapse::collapse;
use super::escape::{Segment, write_path};
use super::file_rules::{count, rule_paths};
use crate::platform::apparmor::{Perm, perms_of};
use crate::platform::operator::{
    APPARMOR_API_VERSION, Abstract, AppArmorProfile, AppArmorProfileSpec, Capabilities, Executable,
    Filesystem, Network, ObjectMeta, Protocols,
};
use crate::recording::{Recording, SocketFamily};

/// A rule path as the operator accepts it (module docs); `None` when it holds NUL. The second
/// value tells whether a byte had to be widened to `?`.
fn operator_path(path: &[Segment], dir: bool) -> Option<(String, bool)> {
    let mut widened = false;
    let mut text = write_path(path, String::new(), |_, text| {
        text.push('?');
        widened = true;
    })?;
    if dir && !text.ends_with('/') {
        text.push('/');
    }
    Some((text, widened))
}

/// One path of the abstract with the permissions it needs.
struct Entry {
    /// As the operator writes it.
    text: String,
    /// A glob (collapsed or shortened).
    glob: bool,
    perms: BTreeSet<Perm>,
}

impl Entry {
    /// The text before the first glob: every path the entry covers starts with it.
    fn literal_prefix(&self) -> &str {
        self.text.split('*').next().unwrap_or_default()
    }

    fn reads(&self) -> bool {
        self.perms.contains(&Perm::Read)
    }

    fn writes(&self) -> bool {
        self.perms
            .iter()
            .any(|p| matches!(p, Perm::Write | Perm::Append | Perm::Link | Perm::Lock))
    }

    fn executes(&self) -> bool {
        self.perms.contains(&Perm::Exec)
    }

    fn maps(&self) -> bool {
        self.perms.contains(&Perm::MmapExec)
    }

    /// Reads, runs or maps: what the operator's `deny PATH r,` (write-only paths) would stop.
    fn needs_read(&self) -> bool {
        self.reads() || self.executes() || self.maps()
    }
}

/// The abstract and the notes (for the YAML header) of `recording`.
pub fn abstract_rules(recording: &Recording) -> (Abstract, Vec<String>) {
    let mut notes = Vec::new();
    let mut exe = BTreeSet::new();
    let mut libs = BTreeSet::new();
    let (mut ro, mut wo, mut rw) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut widened = 0usize;
    let (mut collapsed, mut globs) = (0usize, 0usize);
    if recording.files_recorded() {
        let paths = rule_paths(recording)
            .into_iter()
            .filter(|((path, _), accesses)| {
                accesses.iter().any(|&a| !perms_of(a).is_empty())
                    && !path
                        .iter()
                        .any(|s| matches!(s, Segment::Literal(l) if l.contains(&0)))
            })
            .map(|((path, dir), accesses)| (path, dir, accesses));
        let mut entries = Vec::new();
        for pattern in collapse(paths) {
            if pattern.widened() {
                collapsed += pattern.paths;
                globs += 1;
            }
            let perms: BTreeSet<Perm> = pattern
                .accesses
                .iter()
                .flat_map(|&a| perms_of(a).iter().copied())
                .collect();
            let Some((text, wide)) = operator_path(&pattern.path, pattern.dir) else {
                continue;
            };
            widened += usize::from(wide);
            entries.push(Entry {
                text,
                glob: pattern.widened(),
                perms,
            });
        }
        for entry in &entries {
            if entry.executes() {
                exe.insert(entry.text.clone());
            }
            if entry.maps() {
                libs.insert(entry.text.clone());
            }
            // The operator denies `wlk` on read-only and `r` on write-only paths: a glob must not
            // deny what a path it covers needs.
            let covers = |needs: fn(&Entry) -> bool| {
                entry.glob
                    && entries
                        .iter()
                        .any(|other| needs(other) && other.text.starts_with(entry.literal_prefix()))
            };
            match (entry.reads(), entry.writes()) {
                // The operator denies `r` on write-only paths: a program or library needs it.
                (_, true) if entry.needs_read() || covers(Entry::needs_read) => {
                    rw.insert(entry.text.clone())
                }
                (false, true) => wo.insert(entry.text.clone()),
                (true, false) if entry.executes() || entry.maps() => false,
                (true, false) if covers(Entry::writes) => rw.insert(entry.text.clone()),
                (true, false) => ro.insert(entry.text.clone()),
                _ => false,
            };
        }
    } else {
        rw.insert("/**".to_owned());
        notes.push("files were not recorded: every path is allowed (/** in readWritePaths)".into());
    }
    if widened > 0 {
        notes.push(format!(
            "{widened} paths hold bytes the operator cannot take: each such byte is written as ? (any one character but /)"
        ));
    }
    if globs > 0 {
        notes.push(format!(
            "{} allowed through {} (dir/*, dir/**), so that apparmor_parser can load the profile",
            count(collapsed, "recorded path is", "recorded paths are"),
            count(globs, "glob path", "glob paths"),
        ));
    }
    let network = if recording.sockets_recorded() {
        let inet = |f: SocketFamily| matches!(f.name(), Some("inet" | "inet6"));
        let mut others = BTreeSet::new();
        let mut network = Network::default();
        for socket in &recording.sockets {
            match (inet(socket.family), socket.sock_type.name()) {
                (_, Some("raw")) => network.allow_raw = true,
                (true, Some("stream")) => network.allowed_protocols.allow_tcp = true,
                (true, Some("dgram")) => network.allowed_protocols.allow_udp = true,
                _ => {
                    others.insert(format!("{} {}", socket.family, socket.sock_type));
                }
            }
        }
        if !others.is_empty() {
            notes.push(format!(
                "sockets the CRD cannot name, left to the operator's template (abstractions/base): {}",
                others.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        network
    } else {
        notes.push("sockets were not recorded: tcp, udp and raw are allowed".into());
        Network {
            allow_raw: true,
            allowed_protocols: Protocols {
                allow_tcp: true,
                allow_udp: true,
            },
        }
    };
    let capabilities = if recording.capabilities_recorded() {
        super::capabilities::capability_rules(recording).allowed
    } else {
        notes.push("capabilities were not recorded: every capability is allowed".into());
        crate::recording::CAPABILITY_NAMES
            .iter()
            .map(|n| n.trim_start_matches("CAP_").to_ascii_lowercase())
            .collect()
    };
    let abstract_ = Abstract {
        executable: (!exe.is_empty() || !libs.is_empty()).then(|| Executable {
            allowed_executables: exe.into_iter().collect(),
            allowed_libraries: libs.into_iter().collect(),
        }),
        filesystem: (!ro.is_empty() || !wo.is_empty() || !rw.is_empty()).then(|| Filesystem {
            read_only_paths: ro.into_iter().collect(),
            write_only_paths: wo.into_iter().collect(),
            read_write_paths: rw.into_iter().collect(),
        }),
        network: Some(network),
        capability: (!capabilities.is_empty()).then_some(Capabilities {
            allowed_capabilities: capabilities,
        }),
    };
    (abstract_, notes)
}

/// The `AppArmorProfile` object for `recording`, named `name`, and the header notes.
pub fn apparmor_profile(
    recording: &Recording,
    name: String,
    description: String,
) -> (AppArmorProfile, Vec<String>) {
    let (abstract_, notes) = abstract_rules(recording);
    (
        AppArmorProfile {
            api_version: APPARMOR_API_VERSION.into(),
            kind: "AppArmorProfile".into(),
            metadata: ObjectMeta {
                name,
                annotations: [("description".to_owned(), description)].into(),
            },
            spec: AppArmorProfileSpec { abstract_ },
        },
        notes,
    )
}
