use super::*;
use crate::recording::{Access, ContainerConfig, FilePrivilege, Identity, MountConfig, Recording};

const FIXTURE_V5: &str = include_str!("../../../tests/data/recording-v5.json");
const FIXTURE_V1: &str = include_str!("../../../tests/data/recording-v1.json");
const DIR: &str = "/srv/profiles/web";

fn fixture() -> Recording {
    Recording::from_json(FIXTURE_V5, "fixture").unwrap()
}

/// A `trace run` recording of a quiet root container: every category recorded, nothing used,
/// the default configuration, uid 0 seen, no program privileged.
fn quiet() -> Recording {
    let mut recording = Recording::from_json(FIXTURE_V1, "v1").unwrap();
    for category in [
        crate::recording::Category::Files,
        crate::recording::Category::Execs,
        crate::recording::Category::Capabilities,
        crate::recording::Category::Sockets,
    ] {
        recording.mark_recorded(category);
    }
    recording.startup_seen = true;
    recording.container.config = Some(ContainerConfig {
        network_mode: "default".into(),
        ipc_mode: "private".into(),
        memory: 1 << 28,
        pids_limit: 100,
        nano_cpus: 1_000_000_000,
        ..ContainerConfig::default()
    });
    recording.identity = Some(Identity {
        uids: [0].into(),
        gids: [0].into(),
        ..Identity::default()
    });
    recording.record_exec("/bin/app", &["app"]);
    recording
}

fn flags(recording: &Recording) -> String {
    advise(recording, DIR).docker_run.join(" ")
}

fn titles(recording: &Recording, level: Level) -> Vec<String> {
    advise(recording, DIR)
        .items
        .into_iter()
        .filter(|i| i.level == level)
        .map(|i| i.title)
        .collect()
}

#[test]
fn hardening_md_snapshot() {
    insta::assert_snapshot!(
        "hardening",
        markdown::render(&fixture(), &advise(&fixture(), DIR))
    );
}

#[test]
fn same_recording_same_bytes() {
    assert_eq!(render(&fixture(), DIR), render(&fixture(), DIR));
    let names: Vec<&str> = render(&fixture(), DIR)
        .iter()
        .map(|r| r.file_name)
        .collect();
    assert_eq!(names, [HARDENING_FILE, HARDENING_JSON_FILE]);
}

#[test]
fn a_quiet_root_container_gets_every_flag() {
    assert_eq!(
        flags(&quiet()),
        "--user 65534:65534 --cap-drop ALL --security-opt no-new-privileges --read-only \
         --network none --security-opt seccomp=/srv/profiles/web/seccomp.json"
    );
    assert!(titles(&quiet(), Level::Warning).is_empty());
}

#[test]
fn capabilities_used_keep_root_and_are_added_back() {
    let mut recording = quiet();
    recording.record_capability(7, true, 2); // CAP_SETUID
    recording.record_capability(21, false, 9); // CAP_SYS_ADMIN denied
    recording.record_runc_capability(8, true, 55);
    recording.record_borrowed_capability(2, true, 16);
    let line = flags(&recording);
    assert!(line.contains("--cap-drop ALL --cap-add SETUID "), "{line}");
    assert!(!line.contains("--user"), "{line}");
    assert!(!line.contains("SYS_ADMIN") && !line.contains("SETPCAP") && !line.contains("DAC"));
    let notes = titles(&recording, Level::Note).join("\n");
    assert!(notes.contains("It runs as root and uses it"), "{notes}");
    assert!(
        notes.contains("did not have and ran without them"),
        "{notes}"
    );
    assert!(notes.contains("runc's own capability checks"), "{notes}");
    assert!(notes.contains("overlayfs"), "{notes}");
}

#[test]
fn writes_into_the_image_need_root_and_a_tmpfs_or_a_decision() {
    let mut recording = quiet();
    recording.record_file("/var/log/app/app.log", Access::Create);
    recording.record_file("/run/app.pid", Access::Create);
    recording.record_file("/run/app/sock", Access::Create);
    recording.record_file("/tmp/scratch", Access::Create);
    recording.record_file("/dev/null", Access::Write);
    let line = flags(&recording);
    assert!(
        !line.contains("--user"),
        "root-owned directories written: {line}"
    );
    assert!(
        line.contains("--read-only --tmpfs /run --tmpfs /tmp --tmpfs /var/log/app "),
        "{line}"
    );
    // A tmpfs on /etc would hide the image's /etc/passwd it read: no --read-only then.
    recording.record_file("/etc/passwd", Access::Read);
    recording.record_file("/etc/app.conf", Access::Write);
    let line = flags(&recording);
    assert!(!line.contains("--read-only"), "{line}");
    let notes = titles(&recording, Level::Note).join("\n");
    assert!(notes.contains("needs a decision first"), "{notes}");
    assert!(notes.contains("changes files the image ships"), "{notes}");
}

#[test]
fn code_run_from_a_written_directory_gets_an_exec_tmpfs() {
    let mut recording = quiet();
    recording.record_file("/app/cache/jit.so", Access::Create);
    recording.record_file("/app/cache/jit.so", Access::MmapExec);
    assert!(flags(&recording).contains("--tmpfs /app/cache:exec"));
}

#[test]
fn writes_to_volumes_need_no_tmpfs() {
    let mut recording = quiet();
    if let Some(config) = recording.container.config.as_mut() {
        config.mounts.push(MountConfig {
            destination: "/data".into(),
            kind: "volume".into(),
            source: "db".into(),
            rw: true,
        });
    }
    recording.record_file("/data/db.sqlite", Access::Write);
    let line = flags(&recording);
    assert!(line.contains("--user 65534:65534") && line.contains("--read-only --network"));
}

#[test]
fn privileged_or_unchecked_programs_keep_no_new_privileges_off() {
    let mut recording = quiet();
    if let Some(identity) = recording.identity.as_mut() {
        identity
            .privileged_programs
            .insert("/bin/su".into(), [FilePrivilege::Setuid].into());
    }
    assert!(!flags(&recording).contains("no-new-privileges"));
    let mut recording = quiet();
    recording.identity = None;
    assert!(!flags(&recording).contains("no-new-privileges"));
    assert!(
        flags(&recording).contains("--user 65534:65534"),
        "no uid seen: the configured user (the image's default, root)"
    );
}

#[test]
fn ports_below_1024_need_root_only_on_the_host_network() {
    let mut recording = quiet();
    recording.record_socket(2, 1, 1);
    recording.record_bound_port(2, 1, 80);
    let line = flags(&recording);
    assert!(line.contains("--user 65534:65534"), "{line}");
    assert!(!line.contains("--network none"), "it serves: {line}");
    let md = markdown::render(&recording, &advise(&recording, DIR));
    assert!(
        md.contains("ip\\_unprivileged\\_port\\_start=0")
            || md.contains("ip_unprivileged_port_start=0")
    );
    assert!(md.contains("It only serves"), "{md}");
    if let Some(config) = recording.container.config.as_mut() {
        config.network_mode = "host".into();
    }
    assert!(!flags(&recording).contains("--user"));
    let warnings = titles(&recording, Level::Warning).join("\n");
    assert!(warnings.contains("Host network namespace"), "{warnings}");
}

#[test]
fn an_attached_recording_does_not_claim_no_network() {
    let mut recording = quiet();
    recording.startup_seen = false;
    assert!(!flags(&recording).contains("--network"));
}

#[test]
fn risky_configuration_is_warned() {
    let warnings = titles(&fixture(), Level::Warning).join("\n");
    for expected in [
        "Privileged mode",
        "The Docker socket is mounted",
        "Host network namespace",
        "Host process (pid) namespace",
        "Added capability CAP\\_NET\\_ADMIN was never used",
        "A sensitive host directory is mounted writable: /etc -> /etc/host-etc",
        "No memory limit",
        "No process count limit",
        "No CPU limit",
    ] {
        assert!(
            warnings.contains(expected),
            "{expected} not in:\n{warnings}"
        );
    }
    // CAP_NET_BIND_SERVICE was added and used (port 81 bound, granted once).
    assert!(!warnings.contains("CAP\\_NET\\_BIND\\_SERVICE was never used"));
}

#[test]
fn hostile_strings_stay_inert_in_markdown_yaml_and_shell() {
    let mut recording = quiet();
    recording.container.image = "img\"\n  privileged: true\n`$(id)`".into();
    recording.container.name = "x\ny".into();
    if let Some(config) = recording.container.config.as_mut() {
        config.mounts.push(MountConfig {
            destination: "/d\n## injected".into(),
            kind: "bind".into(),
            source: "/etc\n- **ADVICE** fake".into(),
            rw: true,
        });
    }
    recording.record_file(b"/srv/a'b $(x)/f".as_slice(), Access::Create);
    recording.record_file(b"/srv/new\nline/f".as_slice(), Access::Create);
    let advice = advise(&recording, "/out dir/p'q");
    let md = markdown::render(&recording, &advice);
    for line in md.lines() {
        assert!(
            !line.starts_with("## injected") && !line.contains("**ADVICE** fake"),
            "{line}"
        );
    }
    // The unwritable directory blocks --read-only rather than reaching the flags.
    assert!(!advice.docker_run.iter().any(|f| f.contains('\n')));
    // The flags line is shell words that give back exactly the flags.
    let line = markdown::flags_line(&advice);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("for a in {line}; do printf '%s\\n' \"$a\"; done"))
        .output()
        .unwrap();
    let words: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(words, advice.docker_run);
    // The YAML reads back as exactly the service, its image and the advised keys.
    let yaml = markdown::compose(&recording, &advice);
    let parsed: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
    let services = parsed["services"].as_mapping().unwrap();
    assert_eq!(services.len(), 1, "{yaml}");
    let service = &services["x_y"];
    assert_eq!(
        service["image"].as_str(),
        Some("img\"\n  privileged: true\n`$(id)`")
    );
    assert!(service.get("privileged").is_none(), "{yaml}");
    assert!(
        service["security_opt"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|o| o.as_str() == Some("seccomp=/out dir/p'q/seccomp.json")),
        "{yaml}"
    );
}

#[test]
fn compose_service_names_stay_strings() {
    let long = "s".repeat(2000);
    for name in ["null", "true", "0", "1e3", long.as_str()] {
        let mut recording = quiet();
        recording.container.name = name.to_owned();
        let advice = advise(&recording, "/p");
        let yaml = markdown::compose(&recording, &advice);
        let parsed: serde_norway::Value =
            serde_norway::from_str(&yaml).unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
        let services = parsed["services"].as_mapping().unwrap();
        let keys: Vec<_> = services.keys().collect();
        assert_eq!(
            keys,
            [&serde_norway::Value::String(name.to_owned())],
            "{yaml}"
        );
    }
}

#[test]
fn without_configuration_the_checks_are_left_out() {
    let mut recording = quiet();
    recording.container.config = None;
    let notes = titles(&recording, Level::Note).join("\n");
    assert!(
        notes.contains("holds no container configuration"),
        "{notes}"
    );
    assert!(titles(&recording, Level::Warning).is_empty());
}

#[test]
fn published_ports_nothing_listened_on_are_warned() {
    let mut recording = quiet();
    recording.record_socket(2, 1, 1);
    recording.record_bound_port(2, 1, 80);
    if let Some(config) = recording.container.config.as_mut() {
        config.published_ports = vec![
            "80/tcp -> 0.0.0.0:8080".into(),
            "9000/tcp -> 127.0.0.1:9000".into(),
        ];
    }
    let warnings = titles(&recording, Level::Warning).join("\n");
    assert!(
        warnings.contains("Published port 9000/tcp -\\> 127.0.0.1:9000 was never listened on"),
        "{warnings}"
    );
    assert!(!warnings.contains("Published port 80/tcp"), "{warnings}");
    recording.startup_seen = false;
    assert!(
        !titles(&recording, Level::Warning)
            .join("\n")
            .contains("Published port")
    );
}
