use serde_norway::Value;

use super::*;
use crate::recording::{
    Access, ContainerConfig, FilePrivilege, Identity, MountConfig, ProcessConfig, Recording,
};

const FIXTURE_V7: &str = include_str!("../../../tests/data/recording-v7.json");
const FIXTURE_V5: &str = include_str!("../../../tests/data/recording-v5.json");
const FIXTURE_V1: &str = include_str!("../../../tests/data/recording-v1.json");
const DIR: &str = "/srv/profiles/web";

fn fixture() -> Recording {
    Recording::from_json(FIXTURE_V5, "fixture").unwrap()
}

/// The v7 fixture: a program with an entrypoint, hostile arguments and two variables.
fn fixture_v7() -> Recording {
    Recording::from_json(FIXTURE_V7, "fixture").unwrap()
}

/// Options naming the profiles in `DIR`.
fn in_dir() -> Options {
    Options {
        profile_path: Some(DIR.into()),
        ..Options::default()
    }
}

fn with_format(format: Format) -> Options {
    Options {
        format,
        ..Options::default()
    }
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
    advise(recording, &in_dir()).docker_run.join(" ")
}

fn titles(recording: &Recording, level: Level) -> Vec<String> {
    advise(recording, &in_dir())
        .items
        .into_iter()
        .filter(|i| i.level == level)
        .map(|i| i.title)
        .collect()
}

#[test]
fn hardening_md_snapshot() {
    let options = Options::default();
    insta::assert_snapshot!(
        "hardening",
        markdown::render(&fixture(), &advise(&fixture(), &options))
    );
}

#[test]
fn hardening_md_with_the_program_snapshot() {
    let options = Options::default();
    insta::assert_snapshot!(
        "hardening_program",
        markdown::render(&fixture_v7(), &advise(&fixture_v7(), &options))
    );
}

#[test]
fn hardening_md_for_the_operator_snapshot() {
    let options = with_format(Format::Spo);
    insta::assert_snapshot!(
        "hardening_spo",
        markdown::render(&fixture_v7(), &advise(&fixture_v7(), &options))
    );
}

#[test]
fn hardening_json_snapshot() {
    insta::assert_snapshot!(
        "hardening_json",
        json(&advise(&fixture_v7(), &Options::default()))
    );
}

#[test]
fn same_recording_same_bytes() {
    assert_eq!(render(&fixture(), &in_dir()), render(&fixture(), &in_dir()));
    let names: Vec<&str> = render(&fixture(), &in_dir())
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
    let md = markdown::render(&recording, &advise(&recording, &in_dir()));
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

/// The words `sh` reads from `line` (a shell line), one per element.
fn shell_words(line: &str) -> Vec<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "set -- {line}; for a; do printf '%s\\0' \"$a\"; done"
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{line}");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

/// The fenced block of `language` following the heading `heading` in hardening.md.
fn block_after<'a>(md: &'a str, heading: &str, language: &str) -> &'a str {
    let section = &md[md
        .find(heading)
        .unwrap_or_else(|| panic!("{heading}\n{md}"))..];
    let open = section.find(&format!("```{language}\n")).unwrap() + language.len() + 4;
    let body = &section[open..];
    &body[..body.find("\n```").unwrap()]
}

/// `quiet()` running `argv` with no entrypoint, in `dir`, given `env`.
fn with_program(entrypoint: &[&str], cmd: &[&str], dir: &str, env: &[&str]) -> Recording {
    let mut recording = quiet();
    if let Some(config) = recording.container.config.as_mut() {
        config.process = Some(ProcessConfig {
            entrypoint: entrypoint.iter().map(|w| (*w).to_owned()).collect(),
            cmd: cmd.iter().map(|w| (*w).to_owned()).collect(),
            working_dir: dir.into(),
            env_names: Some(env.iter().map(|w| (*w).to_owned()).collect()),
        });
    }
    recording
}

#[test]
fn hostile_strings_stay_inert_in_markdown_yaml_and_shell() {
    let script = "echo 'it''s' \"$HOME\" `id` $(rm -rf /)\n## injected\n- **ADVICE** fake";
    let mut recording = with_program(
        &["/bin/sh", "-c"],
        &[script, "a b"],
        "/srv/w d$(x)",
        &["TOKEN", "A B;$(x)"],
    );
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
    let options = Options {
        profile_path: Some("/out dir/p'q".into()),
        ..Options::default()
    };
    let advice = advise(&recording, &options);
    let md = markdown::render(&recording, &advice);
    let line = markdown::docker_run_line(&advice);
    // Outside the fenced blocks (where the script's own lines are inert), nothing it holds
    // starts a heading or an item.
    let mut fence: Option<&str> = None;
    for l in md.lines() {
        match fence {
            Some(f) if l == f => fence = None,
            Some(_) => {}
            None if l.starts_with("```") => {
                fence = Some(&l[..l.find(|c| c != '`').unwrap_or(l.len())]);
            }
            None => assert!(
                !l.starts_with("## injected") && !l.contains("**ADVICE** fake"),
                "{l}"
            ),
        }
    }
    assert_eq!(fence, None, "every block is closed");
    // The unwritable directory blocks --read-only rather than reaching the flags.
    assert!(!advice.docker_run.iter().any(|f| f.contains('\n')));
    // The flags and the whole line are shell words that give back exactly the arguments, and the
    // line in hardening.md is that line.
    assert_eq!(
        shell_words(&markdown::flags_line(&advice)),
        advice.docker_run
    );
    assert_eq!(shell_words(&line), advice.docker_run_line);
    assert_eq!(block_after(&md, "## docker run", "sh"), line);
    assert!(
        advice.docker_run_line.ends_with(&[
            recording.container.image.clone(),
            "-c".into(),
            script.into(),
            "a b".into()
        ]),
        "{:?}",
        advice.docker_run_line
    );
    // The YAML in hardening.md reads back as exactly the service: its image, program and the
    // advised keys.
    let yaml = block_after(&md, "## compose", "yaml");
    let parsed: Value = serde_norway::from_str(yaml).unwrap();
    assert_eq!(parsed, advice.compose);
    let services = parsed["services"].as_mapping().unwrap();
    assert_eq!(services.len(), 1, "{yaml}");
    let service = &services["x_y"];
    // Every `$` is doubled, so compose passes it on as written instead of substituting.
    assert_eq!(
        service["image"].as_str(),
        Some("img\"\n  privileged: true\n`$$(id)`")
    );
    assert!(service.get("privileged").is_none(), "{yaml}");
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(strings(&service["entrypoint"]), ["/bin/sh", "-c"]);
    let literal = script.replace('$', "$$");
    assert_eq!(strings(&service["command"]), [literal.as_str(), "a b"]);
    assert_eq!(service["working_dir"].as_str(), Some("/srv/w d$$(x)"));
    assert_eq!(strings(&service["environment"]), ["TOKEN", "A B;$$(x)"]);
    assert!(
        strings(&service["security_opt"]).contains(&"seccomp=/out dir/p'q/seccomp.json".into()),
        "{yaml}"
    );
    let k8s: Value = serde_norway::from_str(block_after(&md, "## Kubernetes", "yaml")).unwrap();
    assert_eq!(k8s, advice.kubernetes);
    let container = &k8s["containers"][0];
    assert_eq!(container["name"].as_str(), Some("x-y"));
    assert_eq!(strings(&container["args"]), [literal.as_str(), "a b"]);
    // Kubernetes substitutes in `command` and `args` only: the working directory stays as is.
    assert_eq!(container["workingDir"].as_str(), Some("/srv/w d$(x)"));
    assert!(container.get("privileged").is_none());
}

#[test]
fn programs_with_control_characters_are_left_out_and_shown_escaped() {
    let recording = with_program(&[], &["sh", "-c", "printf '\u{1b}[2J'\r"], "/", &["K"]);
    let advice = advise(&recording, &Options::default());
    assert_eq!(advice.program, None);
    assert_eq!(
        advice.docker_run_line.last(),
        Some(&recording.container.image),
        "nothing after the image"
    );
    assert!(!advice.docker_run_line.iter().any(|w| w == "--entrypoint"));
    let md = markdown::render(&recording, &advice);
    assert!(!md.contains(['\u{1b}', '\r']), "{md:?}");
    assert!(md.contains(r"\\x1b"), "{md}");
    assert!(md.contains("cannot be written in a shell line"), "{md}");
    // A variable name alone that cannot be written is left out, the program kept.
    let recording = with_program(&[], &["app"], "", &["OK", "BAD\u{1b}NAME"]);
    let advice = advise(&recording, &Options::default());
    assert_eq!(advice.program.as_ref().unwrap().env_names, ["OK"]);
    assert!(!markdown::render(&recording, &advice).contains('\u{1b}'));
}

#[test]
fn the_line_starts_the_recorded_program_with_variables_by_name() {
    let recording = fixture_v7();
    let advice = advise(&recording, &Options::default());
    let line = &advice.docker_run_line;
    let after = |flag: &str| -> Vec<&str> {
        line.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    };
    assert_eq!(&line[..2], ["docker", "run"]);
    assert_eq!(
        &line[2..2 + advice.docker_run.len()],
        &advice.docker_run[..]
    );
    assert_eq!(after("--entrypoint"), ["/usr/local/bin/workload"]);
    assert_eq!(after("--workdir"), ["/data"]);
    assert_eq!(after("-e"), ["API_TOKEN", "WORKLOAD_MODE"]);
    assert!(
        line.ends_with(&[
            "trace-test/workload:local".into(),
            "--serve".into(),
            "it's $(id) `x`; rm -rf /".into()
        ]),
        "{line:?}"
    );
    let md = markdown::render(&recording, &advice);
    assert!(
        md.contains("Set `API_TOKEN`, `WORKLOAD_MODE` in the environment you run it from"),
        "{md}"
    );
    // Without an entrypoint the line resets the image's: `--entrypoint ''`, the command after
    // the image; compose and Kubernetes take the command as the executable.
    let recording = with_program(&[], &["sh", "-c", "/exercise.sh"], "/tmp", &[]);
    let advice = advise(&recording, &Options::default());
    let line = markdown::docker_run_line(&advice);
    assert!(
        line.ends_with(
            " seccomp=seccomp.json --workdir /tmp --entrypoint '' petclinic:local sh -c /exercise.sh"
        ),
        "{line}"
    );
    let service = &advice.compose["services"]["petclinic"];
    assert_eq!(
        service["entrypoint"],
        serde_norway::from_str::<Value>("[sh, -c, /exercise.sh]").unwrap()
    );
    assert!(service.get("command").is_none());
    let container = &advice.kubernetes["containers"][0];
    assert_eq!(container["command"], service["entrypoint"]);
    assert!(container.get("args").is_none());
    assert_eq!(container["workingDir"].as_str(), Some("/tmp"));
}

#[test]
fn older_recordings_say_the_command_is_unknown() {
    let advice = advise(&fixture(), &Options::default());
    assert_eq!(advice.program, None);
    assert_eq!(
        advice.docker_run_line.last().map(String::as_str),
        Some("trace-test/workload:local")
    );
    let notes = titles(&fixture(), Level::Note).join("\n");
    assert!(
        notes.contains("does not hold the container's command"),
        "{notes}"
    );
    let mut unknown_env = with_program(&[], &["app"], "", &[]);
    if let Some(process) = unknown_env
        .container
        .config
        .as_mut()
        .and_then(|c| c.process.as_mut())
    {
        process.env_names = None;
    }
    let notes = titles(&unknown_env, Level::Note).join("\n");
    assert!(
        notes.contains("Which environment variables its creator set is unknown"),
        "{notes}"
    );
}

#[test]
fn profile_paths_are_relative_unless_given_and_never_the_output_directory() {
    let recording = fixture_v7();
    let relative = render(&recording, &Options::default());
    let md = &relative[0].contents;
    assert!(md.contains(" --security-opt seccomp=seccomp.json "), "{md}");
    assert!(md.contains("apparmor_parser -r apparmor.profile"), "{md}");
    assert!(
        md.contains("Profile paths below are relative to the directory holding this file"),
        "{md}"
    );
    assert!(!md.contains("/srv/") && !md.contains("/tmp/"), "{md}");
    let given = advise(&recording, &in_dir());
    assert!(
        given
            .docker_run
            .contains(&"seccomp=/srv/profiles/web/seccomp.json".to_owned())
    );
    let trailing = Options {
        profile_path: Some("deploy/web/".into()),
        ..Options::default()
    };
    assert!(
        advise(&recording, &trailing)
            .docker_run
            .contains(&"seccomp=deploy/web/seccomp.json".to_owned())
    );
    // Kubernetes names the profile below the kubelet's directory, wherever it is committed.
    assert_eq!(
        given.kubernetes["containers"][0]["securityContext"]["seccompProfile"]["localhostProfile"]
            .as_str(),
        Some("trace-workload.json")
    );
    assert_eq!(check_profile_path(""), Err(ProfilePathError::Empty));
    assert_eq!(
        check_profile_path("a\nb"),
        Err(ProfilePathError::Unprintable)
    );
    assert_eq!(
        check_profile_path("deploy/web").as_deref(),
        Ok("deploy/web")
    );
}

#[test]
fn the_operator_format_names_the_files_written() {
    let recording = fixture_v7();
    let options = with_format(Format::Spo);
    let written: Vec<&str> = crate::render::profiles_with(&recording, &options)
        .iter()
        .map(|r| r.file_name)
        .collect();
    let advice = advise(&recording, &options);
    let md = markdown::render(&recording, &advice);
    let text = format!("{md}{}", json(&advice));
    for file in [crate::render::SECCOMP_FILE, crate::render::APPARMOR_FILE] {
        assert!(!written.contains(&file));
        assert!(!text.contains(file), "{file} is named:\n{text}");
    }
    for file in [
        crate::render::SPO_SECCOMP_FILE,
        crate::render::SPO_APPARMOR_FILE,
    ] {
        assert!(written.contains(&file));
        assert!(md.contains(file), "{file} is not named:\n{md}");
    }
    assert!(!advice.docker_run.iter().any(|f| f.starts_with("seccomp=")));
    assert!(md.contains("kubectl apply -f seccomp-profile.yaml"), "{md}");
    assert_eq!(
        advice.kubernetes["containers"][0]["securityContext"]["seccompProfile"]["localhostProfile"]
            .as_str(),
        Some("operator/trace-workload.json")
    );
}

#[test]
fn kubernetes_snippet_follows_the_advice() {
    let mut recording = with_program(&["/entry"], &["serve"], "", &[]);
    recording.record_file("/tmp/app.pid", Access::Create);
    let advice = advise(&recording, &Options::default());
    let yaml = snippets::yaml(&advice.kubernetes);
    let parsed: Value = serde_norway::from_str(&yaml).unwrap();
    let expected: Value = serde_norway::from_str(
        "
containers:
- name: petclinic
  image: petclinic:local
  command: [/entry]
  args: [serve]
  securityContext:
    runAsNonRoot: true
    runAsUser: 65534
    runAsGroup: 65534
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    capabilities:
      drop: [ALL]
    seccompProfile:
      type: Localhost
      localhostProfile: trace-petclinic.json
  volumeMounts:
  - name: tmpfs-1
    mountPath: /tmp
volumes:
- name: tmpfs-1
  emptyDir:
    medium: Memory
",
    )
    .unwrap();
    assert_eq!(parsed, expected, "{yaml}");
    // Root that is needed, and a program that raises privileges: none of those keys.
    let advice = advise(&fixture_v7(), &Options::default());
    let context = &advice.kubernetes["containers"][0]["securityContext"];
    for key in [
        "runAsNonRoot",
        "runAsUser",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
    ] {
        assert!(context.get(key).is_none(), "{key}: {context:?}");
    }
    assert_eq!(
        context["capabilities"]["add"],
        serde_norway::from_str::<Value>("[CHOWN, DAC_OVERRIDE, NET_BIND_SERVICE]").unwrap()
    );
    // A configured non-root user is kept, and numeric it is what Kubernetes runs as.
    let mut recording = with_program(&[], &["app"], "", &[]);
    if let Some(config) = recording.container.config.as_mut() {
        config.user = "1000:1000".into();
    }
    recording.identity = Some(Identity {
        uids: [1000].into(),
        gids: [1000].into(),
        ..Identity::default()
    });
    let advice = advise(&recording, &Options::default());
    assert!(
        markdown::docker_run_line(&advice).contains(" --user 1000:1000 "),
        "{:?}",
        advice.docker_run_line
    );
    let context = &advice.kubernetes["containers"][0]["securityContext"];
    assert_eq!(context["runAsUser"].as_u64(), Some(1000));
    assert_eq!(context["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(
        advice.compose["services"]["petclinic"]["user"].as_str(),
        Some("1000:1000")
    );
}

#[test]
fn compose_snippet_parses_as_the_advice() {
    let advice = advise(&fixture_v7(), &Options::default());
    let md = markdown::render(&fixture_v7(), &advice);
    let parsed: Value = serde_norway::from_str(block_after(&md, "## compose", "yaml")).unwrap();
    let expected: Value = serde_norway::from_str(
        r#"
services:
  workload:
    image: trace-test/workload:local
    entrypoint: [/usr/local/bin/workload]
    command: [--serve, "it's $$(id) `x`; rm -rf /"]
    working_dir: /data
    environment: [API_TOKEN, WORKLOAD_MODE]
    cap_drop: [ALL]
    cap_add: [CHOWN, DAC_OVERRIDE, NET_BIND_SERVICE]
    security_opt: [seccomp=seccomp.json]
"#,
    )
    .unwrap();
    assert_eq!(parsed, expected);
    // hardening.json carries the same snippets.
    let json: serde_json::Value = serde_json::from_str(&json(&advice)).unwrap();
    assert_eq!(
        json["compose"],
        serde_json::to_value(&advice.compose).unwrap()
    );
    assert_eq!(
        json["kubernetes"],
        serde_json::to_value(&advice.kubernetes).unwrap()
    );
    assert_eq!(
        json["docker_run_line"],
        serde_json::to_value(&advice.docker_run_line).unwrap()
    );
}

#[test]
fn compose_service_names_stay_strings() {
    let long = "s".repeat(2000);
    for name in ["null", "true", "0", "1e3", long.as_str()] {
        let mut recording = quiet();
        recording.container.name = name.to_owned();
        let advice = advise(&recording, &Options::default());
        let yaml = snippets::yaml(&advice.compose);
        let parsed: Value =
            serde_norway::from_str(&yaml).unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
        let services = parsed["services"].as_mapping().unwrap();
        let keys: Vec<_> = services.keys().collect();
        assert_eq!(keys, [&Value::String(name.to_owned())], "{yaml}");
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
