//! Output formats, the Docker-default-relative mode and architectures.

use std::collections::BTreeSet;

use super::seccomp::{Arch, SeccompOptions, docker_default};
use super::*;
use crate::platform::operator::AppArmorProfile;
use crate::recording::{Access, Recording};

const FIXTURE: &str = include_str!("../../tests/data/recording-v2.json");

fn fixture() -> Recording {
    Recording::from_json(FIXTURE, "fixture").unwrap()
}

/// The fixture with `extra` `x86_64` calls added.
fn with_calls(extra: &[&str]) -> Recording {
    let mut recording = fixture();
    let calls = recording
        .syscalls
        .get_mut(&trace_common::Abi::X86_64)
        .unwrap();
    for name in extra {
        calls.insert((*name).to_owned(), 1);
    }
    recording
}

fn options(format: Format, arches: &[Arch], relative: bool) -> Options {
    Options {
        format,
        seccomp: SeccompOptions {
            arches: arches.to_vec(),
            relative_to_default: relative,
        },
        ..Options::default()
    }
}

fn file<'a>(rendered: &'a [Rendered], name: &str) -> &'a str {
    &rendered
        .iter()
        .find(|r| r.file_name == name)
        .unwrap()
        .contents
}

#[test]
fn oci_output_parses_with_oci_spec_and_keeps_the_rules() {
    let recording = with_calls(&["personality", "clone", "socket"]);
    let rendered = profiles_with(&recording, &options(Format::Oci, &[Arch::X86_64], true));
    let text = file(&rendered, SECCOMP_FILE);
    let parsed: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(text).unwrap();
    assert_eq!(
        parsed.default_action(),
        oci_spec::runtime::LinuxSeccompAction::ScmpActErrno
    );
    assert_eq!(parsed.default_errno_ret(), Some(1));
    let docker = seccomp::profile_with(
        &recording,
        &SeccompOptions {
            arches: vec![Arch::X86_64],
            relative_to_default: true,
        },
    );
    let rules = parsed.syscalls().as_ref().unwrap();
    assert_eq!(rules.len(), docker.syscalls.len());
    for (oci, ours) in rules.iter().zip(&docker.syscalls) {
        assert_eq!(oci.names(), &ours.names);
        assert_eq!(oci.errno_ret(), ours.errno_ret);
        let args = oci.args().clone().unwrap_or_default();
        assert_eq!(args.len(), ours.args.len());
        for (a, b) in args.iter().zip(&ours.args) {
            assert_eq!(
                (a.index(), a.value(), a.value_two()),
                (b.index as usize, b.value, Some(b.value_two))
            );
            assert_eq!(a.op().to_string(), b.op);
        }
    }
    // The personality filter made it through as an oci-spec operator.
    let personality: Vec<u64> = rules
        .iter()
        .filter(|r| r.names() == &["personality".to_owned()])
        .map(|r| r.args().as_ref().unwrap()[0].value())
        .collect();
    assert_eq!(personality, docker_default::PERSONALITY_VALUES);
    // Re-serialized by oci-spec, it is the same JSON.
    let again: serde_json::Value = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        again,
        serde_json::from_str::<serde_json::Value>(text).unwrap()
    );
    assert!(
        !text.contains("comment"),
        "the runtime spec has no comments"
    );
}

#[test]
fn spo_yaml_round_trips() {
    let recording = with_calls(&["personality"]);
    let rendered = profiles_with(
        &recording,
        &options(Format::Spo, &[Arch::X86_64, Arch::Aarch64], true),
    );
    let names: Vec<&str> = rendered.iter().map(|r| r.file_name).collect();
    assert_eq!(names, [SPO_SECCOMP_FILE, SPO_APPARMOR_FILE, FILES_FILE]);

    let text = file(&rendered, SPO_SECCOMP_FILE);
    let parsed: seccomp::spo::SeccompProfile = serde_norway::from_str(text).unwrap();
    assert_eq!(
        parsed.api_version,
        "security-profiles-operator.x-k8s.io/v1beta1"
    );
    assert_eq!(parsed.kind, "SeccompProfile");
    assert_eq!(parsed.metadata.name, "trace-workload");
    assert_eq!(parsed.spec.default_action, "SCMP_ACT_ERRNO");
    assert!(
        parsed
            .spec
            .architectures
            .contains(&"SCMP_ARCH_AARCH64".to_owned())
    );
    let body = serde_norway::to_string(&parsed).unwrap();
    assert!(
        text.ends_with(&body),
        "re-serialized, the YAML is the same bytes"
    );
    assert!(
        text.lines()
            .take_while(|l| !l.starts_with("apiVersion"))
            .all(|l| l.starts_with("# "))
    );

    let text = file(&rendered, SPO_APPARMOR_FILE);
    let parsed: AppArmorProfile = serde_norway::from_str(text).unwrap();
    assert_eq!(
        parsed.api_version,
        "security-profiles-operator.x-k8s.io/v1alpha1"
    );
    assert_eq!(parsed.kind, "AppArmorProfile");
    assert!(text.ends_with(&serde_norway::to_string(&parsed).unwrap()));
    let abstract_ = &parsed.spec.abstract_;
    let exe = abstract_.executable.as_ref().unwrap();
    assert!(exe.allowed_executables.contains(&"/bin/busybox".to_owned()));
    let caps = &abstract_.capability.as_ref().unwrap().allowed_capabilities;
    assert_eq!(caps, &["chown", "dac_override", "net_bind_service"]);
    let network = abstract_.network.as_ref().unwrap();
    assert!(network.allowed_protocols.allow_tcp && network.allow_raw);
    assert!(!network.allowed_protocols.allow_udp);
    // Generic: a YAML value parsed back has exactly the CRD's top-level fields.
    let value: serde_json::Value = serde_norway::from_str(text).unwrap();
    let keys: BTreeSet<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["apiVersion", "kind", "metadata", "spec"])
    );
}

#[test]
fn spo_paths_never_carry_bytes_the_operator_refuses() {
    let mut recording = fixture();
    recording.record_file(b"/data/a b,c\n}\"#{x}@{HOME}*".as_slice(), Access::Read);
    let (abstract_, notes) = apparmor::spo::abstract_rules(&recording);
    let fs = abstract_.filesystem.unwrap();
    let all: Vec<&String> = fs
        .read_only_paths
        .iter()
        .chain(&fs.write_only_paths)
        .chain(&fs.read_write_paths)
        .collect();
    assert!(
        all.contains(&&"/data/a?b?c?????x???HOME??".to_owned()),
        "{all:?}"
    );
    for path in all {
        // The operator's own check (crd2armor strictPathRegex), and no space either.
        assert!(
            path.starts_with('/')
                && path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_./*?+@{}-".contains(&b)),
            "{path}"
        );
        assert!(
            !path.contains('{') || path.contains("@{pid}") || path.contains("@{tid}"),
            "{path}"
        );
    }
    assert!(notes.iter().any(|n| n.contains("written as ?")));
    let yaml = file(
        &profiles_with(&recording, &options(Format::Spo, &[Arch::X86_64], false)),
        SPO_APPARMOR_FILE,
    )
    .to_owned();
    assert!(serde_norway::from_str::<AppArmorProfile>(&yaml).is_ok());
}

#[test]
fn relative_mode_keeps_dockers_filters_and_is_never_looser_on_them() {
    let recording = with_calls(&[
        "personality",
        "clone",
        "clone3",
        "socket",
        "mount",
        "kexec_load",
    ]);
    let exact = seccomp::profile(&recording);
    let exact_allows = |name: &str| {
        exact.syscalls.iter().any(|r| {
            r.action == "SCMP_ACT_ALLOW" && r.args.is_empty() && r.names.iter().any(|n| n == name)
        })
    };
    assert!(exact_allows("clone") && exact_allows("personality") && exact_allows("socket"));
    let relative = seccomp::profile_with(
        &recording,
        &SeccompOptions {
            arches: vec![Arch::X86_64],
            relative_to_default: true,
        },
    );
    for name in ["clone", "personality", "socket"] {
        let rules: Vec<_> = relative
            .syscalls
            .iter()
            .filter(|r| r.names.iter().any(|n| n == name))
            .collect();
        assert!(!rules.is_empty(), "{name} still allowed, with filters");
        for rule in &rules {
            assert_eq!(rule.action, "SCMP_ACT_ALLOW");
            assert_eq!(rule.names, [name], "a filtered rule names one call");
            assert!(
                !rule.args.is_empty(),
                "{name} is never allowed without Docker's filter"
            );
        }
        let docker_default::Treatment::Filtered(expected) = docker_default::treatment(name) else {
            panic!("{name} is filtered by Docker's default")
        };
        let args: Vec<_> = rules.iter().map(|r| r.args.clone()).collect();
        let expected: Vec<_> = expected.into_iter().map(|r| r.args).collect();
        assert_eq!(args, expected, "{name}: exactly Docker's filters");
    }
    let enosys = relative.syscalls.last().unwrap();
    assert_eq!(enosys.errno_ret, Some(seccomp::ERRNO_ENOSYS));
    assert!(
        enosys.names.contains(&"clone3".to_owned()),
        "clone3 ENOSYS even when observed"
    );
    let beyond = relative
        .syscalls
        .iter()
        .find(|r| r.names.contains(&"mount".to_owned()))
        .unwrap();
    assert_eq!(beyond.names, ["kexec_load", "mount"]);
    let comment = beyond.comment.as_deref().unwrap();
    assert!(
        comment.contains("mount (needs CAP_SYS_ADMIN)") && comment.contains("kexec_load (never)"),
        "{comment}"
    );
    // Everything else observed stays allowed as before.
    assert!(relative.syscalls[0].names.contains(&"read".to_owned()));
}

#[test]
fn aarch64_leaves_out_names_it_lacks_with_a_comment() {
    let recording = with_calls(&["open", "stat", "openat"]);
    let both = seccomp::profile_with(
        &recording,
        &SeccompOptions {
            arches: vec![Arch::X86_64, Arch::Aarch64],
            relative_to_default: false,
        },
    );
    assert_eq!(
        both.architectures,
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"]
    );
    let common = &both.syscalls[0];
    assert!(common.includes.is_none() && common.names.contains(&"openat".to_owned()));
    assert!(!common.names.contains(&"open".to_owned()));
    let x86_only = both
        .syscalls
        .iter()
        .find(|r| r.names.contains(&"open".to_owned()))
        .unwrap();
    assert_eq!(x86_only.includes.as_ref().unwrap().arches, ["amd64"]);
    assert!(x86_only.names.contains(&"stat".to_owned()));
    assert!(
        x86_only
            .comment
            .as_deref()
            .unwrap()
            .contains("Only on x86_64")
    );
    let json = seccomp::json_text(&both);
    assert!(
        !json.contains("archMap"),
        "Docker refuses architectures together with archMap"
    );

    let arm = seccomp::profile_with(
        &recording,
        &SeccompOptions {
            arches: vec![Arch::Aarch64],
            relative_to_default: false,
        },
    );
    assert_eq!(arm.architectures, ["SCMP_ARCH_AARCH64"]);
    let names: BTreeSet<&str> = arm
        .syscalls
        .iter()
        .flat_map(|r| r.names.iter().map(String::as_str))
        .collect();
    for gone in ["open", "stat", "arch_prctl", "_llseek"] {
        assert!(!names.contains(gone), "{gone} is not an aarch64 call");
    }
    assert!(names.contains("openat") && names.contains("newfstatat"));
    assert!(
        arm.syscalls[0]
            .comment
            .as_deref()
            .unwrap()
            .contains("Left out (no such call on aarch64): _llseek, epoll_wait, open, stat"),
        "{:?}",
        arm.syscalls[0].comment
    );
}

#[test]
fn every_format_is_deterministic_and_sorted() {
    let base = with_calls(&["personality", "open"]);
    // The same observations inserted in the opposite order.
    let mut reversed = base.clone();
    for calls in reversed.syscalls.values_mut() {
        let entries: Vec<_> = std::mem::take(calls).into_iter().rev().collect();
        calls.extend(entries);
    }
    for format in [Format::Docker, Format::Oci, Format::Spo] {
        for arches in [&[Arch::X86_64][..], &[Arch::X86_64, Arch::Aarch64]] {
            for relative in [false, true] {
                let o = options(format, arches, relative);
                let one = profiles_with(&base, &o);
                assert_eq!(one, profiles_with(&base, &o), "{format:?}");
                assert_eq!(one, profiles_with(&reversed, &o), "{format:?}");
                let profile = seccomp::profile_with(&base, &o.seccomp);
                for rule in &profile.syscalls {
                    assert!(
                        rule.names.windows(2).all(|w| w[0] < w[1]),
                        "{:?}",
                        rule.names
                    );
                }
            }
        }
    }
}

#[test]
fn default_options_render_what_trace_always_wrote() {
    let recording = fixture();
    assert_eq!(
        profiles(&recording),
        profiles_with(&recording, &Options::default())
    );
    assert_eq!(
        seccomp::render(&recording),
        file(&profiles(&recording), SECCOMP_FILE)
    );
}

#[test]
fn format_snapshots() {
    let recording = with_calls(&["personality", "clone", "open"]);
    let both = [Arch::X86_64, Arch::Aarch64];
    insta::assert_snapshot!(
        "seccomp_relative_multiarch",
        file(
            &profiles_with(&recording, &options(Format::Docker, &both, true)),
            SECCOMP_FILE
        )
    );
    insta::assert_snapshot!(
        "seccomp_oci",
        file(
            &profiles_with(&recording, &options(Format::Oci, &[Arch::X86_64], true)),
            SECCOMP_FILE
        )
    );
    let spo = profiles_with(&recording, &options(Format::Spo, &[Arch::X86_64], false));
    insta::assert_snapshot!("spo_seccomp", file(&spo, SPO_SECCOMP_FILE));
    insta::assert_snapshot!("spo_apparmor", file(&spo, SPO_APPARMOR_FILE));
}

#[test]
fn hostile_container_text_cannot_break_the_yaml_or_its_comments() {
    let mut recording = fixture();
    recording.container.name = "evil\nkind: Secret".into();
    recording.container.image = "img\n---\napiVersion: v1\n# x".into();
    let rendered = profiles_with(&recording, &options(Format::Spo, &[Arch::X86_64], false));
    for name in [SPO_SECCOMP_FILE, SPO_APPARMOR_FILE] {
        let text = file(&rendered, name);
        assert!(!text.contains("\n---"), "one document: {text}");
        let value: serde_json::Value = serde_norway::from_str(text).unwrap();
        assert_ne!(value["kind"], "Secret");
        assert_eq!(value["metadata"]["name"], "trace-evil-kind-secret");
        let description = value["metadata"]["annotations"]["description"]
            .as_str()
            .unwrap();
        assert!(
            description.contains("img\n---\napiVersion: v1\n# x"),
            "kept as data: {description}"
        );
        for line in text.lines().take_while(|l| !l.starts_with("apiVersion")) {
            assert!(line.starts_with("# "), "{line}");
        }
    }
}
