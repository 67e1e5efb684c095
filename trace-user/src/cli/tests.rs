//! Parsing the command line: every subcommand, flag and convention.

use std::path::PathBuf;
use std::time::Duration;

use super::args::*;
use super::*;
use crate::render::seccomp::Arch;
use crate::render::{Format, Options};
use clap::CommandFactory;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    parse_args(std::iter::once("trace").chain(args.iter().copied()))
}

#[test]
fn cli_is_well_formed() {
    Cli::command().debug_assert();
}

#[test]
fn parses_attach_with_an_exercise() {
    let cli = parse(&[
        "--container",
        "web",
        "--duration",
        "1m30s",
        "--",
        "./t.sh",
        "--fast",
    ])
    .unwrap();
    assert!(cli.command.is_none());
    assert_eq!(cli.attach.container, ["web"]);
    assert_eq!(cli.attach.duration, Some(Duration::from_secs(90)));
    assert_eq!(cli.attach.exercise, ["./t.sh", "--fast"]);
}

#[test]
fn plain_seconds_are_a_duration_and_zero_is_refused() {
    assert_eq!(
        parse(&["-c", "x", "-d", "5"]).unwrap().attach.duration,
        Some(Duration::from_secs(5))
    );
    assert!(parse(&["-c", "x", "-d", "0s"]).is_err());
    assert!(parse(&["-c", "x", "-d", "soon"]).is_err());
}

#[test]
fn readiness_conditions_are_checked() {
    use crate::session::exercise::Ready;
    assert_eq!(parse_ready("port:8080"), Ok(Ready::Port(8080)));
    assert_eq!(
        parse_ready("log:listening"),
        Ok(Ready::Log("listening".into()))
    );
    assert_eq!(
        parse_ready("delay:5"),
        Ok(Ready::Delay(Duration::from_secs(5)))
    );
    assert_eq!(
        parse_ready("delay:250ms"),
        Ok(Ready::Delay(Duration::from_millis(250)))
    );
    for bad in [
        "bogus",
        "port:abc",
        "port:0",
        "port:70000",
        "log:",
        "delay:",
        "delay:0",
        "wait:5",
    ] {
        assert!(parse_ready(bad).is_err(), "{bad} was accepted");
    }
    let err = parse(&["run", "--ready", "port:abc", "img"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
}

#[test]
fn a_selection_is_required_without_a_subcommand() {
    assert_eq!(
        parse(&[]).unwrap_err().kind(),
        clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand,
        "no arguments: the help"
    );
    assert_eq!(parse(&[]).unwrap_err().exit_code(), 2);
    assert_eq!(
        parse(&["--restart"]).unwrap_err().kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
}

#[test]
fn parses_several_containers_labels_and_a_project() {
    let cli = parse(&[
        "-c",
        "web",
        "--container",
        "db",
        "--label",
        "tier=data",
        "-l",
        "team",
        "--compose-project",
        "--restart",
        "--max-containers",
        "4",
        "--",
        "./t.sh",
    ])
    .unwrap();
    let a = cli.attach;
    assert_eq!(a.container, ["web", "db"]);
    assert_eq!(
        a.label,
        [
            ("tier".to_owned(), Some("data".to_owned())),
            ("team".to_owned(), None)
        ]
    );
    assert_eq!(
        a.compose_project.as_deref(),
        Some(""),
        "project from the directory"
    );
    assert!(a.restart);
    assert_eq!(a.max_containers, 4);
    assert_eq!(a.exercise, ["./t.sh"]);
    let named = parse(&["--compose-project", "shop"]).unwrap().attach;
    assert_eq!(named.compose_project.as_deref(), Some("shop"));
    assert_eq!(named.max_containers, DEFAULT_MAX_CONTAINERS);
    assert!(parse(&["-c", "x", "--max-containers", "0"]).is_err());
    assert!(parse(&["-c", "x", "--max-containers", "257"]).is_err());
    assert!(parse(&["--label", "=v"]).is_err());
}

#[test]
fn parses_pods_and_keeps_them_apart_from_docker_selections() {
    let cli = parse(&[
        "--pod",
        "shop/web",
        "--pod",
        "*/app=api,tier",
        "--cri-socket",
        "unix:///run/k3s/containerd/containerd.sock",
        "--duration",
        "10m",
    ])
    .unwrap();
    let a = cli.attach;
    let pods: Vec<String> = a.pod.iter().map(ToString::to_string).collect();
    assert_eq!(pods, ["shop/web", "*/app=api,tier"]);
    assert_eq!(
        a.cri_socket.as_deref(),
        Some("unix:///run/k3s/containerd/containerd.sock")
    );
    for other in [
        &["-c", "web"][..],
        &["-l", "app=web"],
        &["--compose-project", "shop"],
        &["--restart"],
    ] {
        let mut args = vec!["--pod", "web"];
        args.extend_from_slice(other);
        assert_eq!(
            parse(&args).unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "{other:?}"
        );
    }
    assert!(
        parse(&["-c", "web", "--cri-socket", "/s"]).is_err(),
        "--cri-socket is for --pod"
    );
    assert!(parse(&["--pod", "a/b/c"]).is_err());
}

#[test]
fn parses_run_like_docker_run() {
    let cli = parse(&[
        "run",
        "--name",
        "web",
        "-e",
        "A=1",
        "-p",
        "8080:80",
        "--security-opt",
        "no-new-privileges",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--stop-signal",
        "SIGQUIT",
        "--stop-timeout",
        "3",
        "--exec",
        "wget -qO- localhost",
        "nginx:local",
        "-g",
        "daemon off;",
    ])
    .unwrap();
    let Some(Command::Run(args)) = cli.command else {
        panic!("not run")
    };
    assert_eq!(args.image, "nginx:local");
    assert_eq!(args.args, ["-g", "daemon off;"]);
    let spec = args.spec();
    assert_eq!((spec.name.as_deref(), spec.read_only), (Some("web"), true));
    assert_eq!(spec.publish, ["8080:80"]);
    assert_eq!(
        (spec.stop_signal.as_deref(), spec.stop_timeout),
        (Some("SIGQUIT"), Some(3))
    );
    assert!(parse(&["run", "--stop-timeout", "-1", "img"]).is_err());
    assert_eq!(args.exec.as_deref(), Some("wget -qO- localhost"));
    let host = parse(&["run", "img", "--", "./test.sh", "--fast"]).unwrap();
    let Some(Command::Run(args)) = host.command else {
        panic!("not run")
    };
    assert!(args.args.is_empty());
    assert_eq!(args.exercise, ["./test.sh", "--fast"]);
    assert!(parse(&["run", "img", "--exec", "x", "--", "y"]).is_err());
    let both = parse(&["run", "img", "sleep", "60", "--", "./t.sh", "-v"]).unwrap();
    let Some(Command::Run(args)) = both.command else {
        panic!("not run")
    };
    let args = args.split_exercise();
    assert_eq!(args.args, ["sleep", "60"]);
    assert_eq!(args.exercise, ["./t.sh", "-v"]);
}

#[test]
fn parses_merge() {
    let cli = parse(&["merge", "a.json", "b.json", "-o", "m.json"]).unwrap();
    let Some(Command::Merge(args)) = cli.command else {
        panic!("not merge")
    };
    assert_eq!(
        args.recordings,
        [PathBuf::from("a.json"), PathBuf::from("b.json")]
    );
    assert_eq!(args.out, PathBuf::from("m.json"));
    assert!(!args.allow_different_images);
    assert!(parse(&["merge", "a.json"]).is_err(), "-o is required");
    assert!(
        parse(&["merge", "-o", "m.json"]).is_err(),
        "one input at least"
    );
}

#[test]
fn parses_minimize_and_run_minimize() {
    let cli = parse(&[
        "minimize",
        "p/recording.json",
        "--tag",
        "app:slim",
        "--include",
        "/usr/lib/plugins",
        "--include",
        "/etc/ssl",
        "--include-from",
        "keep.txt",
    ])
    .unwrap();
    let Some(Command::Minimize(args)) = cli.command else {
        panic!("not minimize")
    };
    assert_eq!(args.recording, PathBuf::from("p/recording.json"));
    assert_eq!(args.slim.tag.as_deref(), Some("app:slim"));
    assert_eq!(args.slim.include, ["/usr/lib/plugins", "/etc/ssl"]);
    assert_eq!(args.slim.include_from, [PathBuf::from("keep.txt")]);
    assert!(parse(&["minimize"]).is_err(), "a recording is required");
    let run = parse(&[
        "run",
        "--minimize",
        "--include",
        "/x",
        "img",
        "--",
        "./t.sh",
    ])
    .unwrap();
    let Some(Command::Run(args)) = run.command else {
        panic!("not run")
    };
    assert!(args.minimize);
    assert_eq!(args.slim.include, ["/x"]);
    assert_eq!(args.exercise, ["./t.sh"]);
}

#[test]
fn parses_check_and_the_profile_flags() {
    let cli = parse(&[
        "check",
        "--against",
        "p",
        "r.json",
        "--strict",
        "--format",
        "json",
    ])
    .unwrap();
    let Some(Command::Check(args)) = cli.command else {
        panic!("not check")
    };
    assert!(args.strict && args.report_format() == ReportFormat::Json);
    assert_eq!(
        (args.against, args.recording),
        (PathBuf::from("p"), PathBuf::from("r.json"))
    );
    assert!(
        parse(&["check", "r.json"]).is_err(),
        "--against is required"
    );
    assert!(parse(&["check", "--against", "p", "r.json", "--format", "yaml"]).is_err());
    let min_runs = |args: &[&str]| match parse(args).unwrap().command {
        Some(Command::Check(a)) => a.min_runs,
        Some(Command::Render(a)) => a.profile.options().min_runs,
        Some(Command::Advise(a)) => a.profile.min_runs,
        _ => panic!("not check, render or advise"),
    };
    assert_eq!(min_runs(&["check", "--against", "p", "r.json"]), 0);
    assert_eq!(
        min_runs(&["check", "--against", "p", "r.json", "--min-runs", "2"]),
        2
    );
    assert_eq!(min_runs(&["render", "r.json", "--min-runs", "3"]), 3);
    assert_eq!(min_runs(&["advise", "r.json", "--min-runs", "2"]), 2);
    assert!(parse(&["render", "r.json", "--min-runs", "-1"]).is_err());

    let cli = parse(&[
        "render",
        "r.json",
        "--format",
        "spo",
        "--arch",
        "aarch64,x86_64",
        "--relative-to-default",
    ])
    .unwrap();
    let Some(Command::Render(args)) = cli.command else {
        panic!("not render")
    };
    let options = args.profile.options();
    assert_eq!(options.format, Format::Spo);
    assert_eq!(
        options.seccomp.arches,
        [Arch::X86_64, Arch::Aarch64],
        "sorted"
    );
    assert!(options.seccomp.relative_to_default);
    assert_eq!(
        parse(&["render", "r.json"])
            .map(|c| match c.command {
                Some(Command::Render(a)) => a.profile.options(),
                _ => panic!("not render"),
            })
            .unwrap(),
        Options::default()
    );
    assert!(parse(&["render", "r.json", "--format", "podman"]).is_err());
    assert!(parse(&["render", "r.json", "--arch", "arm"]).is_err());
    let Some(Command::Render(args)) = parse(&["render", "r.json", "--arch", "arm64,amd64"])
        .unwrap()
        .command
    else {
        panic!("not render")
    };
    assert_eq!(
        args.profile.options().seccomp.arches,
        [Arch::X86_64, Arch::Aarch64],
        "arm64 is aarch64, amd64 is x86_64"
    );

    let run = parse(&["run", "--check", "p", "--format", "oci", "img"]).unwrap();
    let Some(Command::Run(args)) = run.command else {
        panic!("not run")
    };
    assert_eq!(
        (args.check, args.profile.format),
        (Some(PathBuf::from("p")), Format::Oci)
    );
    let attach = parse(&["-c", "web", "--check", "p", "--arch", "x86_64"]).unwrap();
    assert_eq!(attach.attach.check, Some(PathBuf::from("p")));
}

#[test]
fn check_output_formats() {
    for (format, expected) in [
        ("text", ReportFormat::Text),
        ("json", ReportFormat::Json),
        ("github", ReportFormat::Github),
        ("sarif", ReportFormat::Sarif),
    ] {
        let Some(Command::Check(args)) = parse(&[
            "check",
            "--against",
            "p",
            "r.json",
            "--output-format",
            format,
        ])
        .unwrap()
        .command
        else {
            panic!("not check")
        };
        assert_eq!(args.report_format(), expected);
        assert!(args.deprecated_format.is_none());
    }
    assert!(
        parse(&[
            "check",
            "--against",
            "p",
            "r.json",
            "--format",
            "json",
            "--output-format",
            "text"
        ])
        .is_err(),
        "the old and the new spelling exclude each other"
    );
    assert!(
        parse(&[
            "check",
            "--against",
            "p",
            "r.json",
            "--output-format",
            "spo"
        ])
        .is_err()
    );
}

#[test]
fn parses_advise() {
    let cli = parse(&["advise", "p/recording.json", "-o", "x"]).unwrap();
    let Some(Command::Advise(args)) = cli.command else {
        panic!("not advise")
    };
    assert_eq!(args.recording, PathBuf::from("p/recording.json"));
    assert_eq!(args.out, Some(PathBuf::from("x")));
    assert!(parse(&["advise"]).is_err(), "a recording is required");
}

#[test]
fn parses_render() {
    let cli = parse(&["render", "p/recording.json", "--out", "x"]).unwrap();
    let Some(Command::Render(args)) = cli.command else {
        panic!("not render")
    };
    assert_eq!(args.recording, PathBuf::from("p/recording.json"));
    assert_eq!(args.out, Some(PathBuf::from("x")));
    assert!(parse(&["render", "r.json", "--container", "x"]).is_err());
}

#[test]
fn quiet_and_verbose_work_before_and_after_a_subcommand() {
    let cli = parse(&["-q", "render", "r.json"]).unwrap();
    assert!(cli.global.quiet);
    assert_eq!(cli.global.log_filter(), "error");
    let cli = parse(&["render", "-vv", "r.json"]).unwrap();
    assert_eq!((cli.global.verbose, cli.global.log_filter()), (2, "debug"));
    let cli = parse(&["-c", "web", "-v", "--", "./t.sh", "-v"]).unwrap();
    assert_eq!(cli.global.verbose, 1);
    assert_eq!(cli.attach.exercise, ["./t.sh", "-v"]);
    assert_eq!(parse(&["-c", "web"]).unwrap().global.log_filter(), "warn");
    assert!(parse(&["-q", "-v", "render", "r.json"]).is_err());
    // In `trace run`, -v is --volume, as in docker run; verbosity is --verbose.
    let cli = parse(&["run", "-v", "/data:/data", "--verbose", "img"]).unwrap();
    let Some(Command::Run(args)) = cli.command else {
        panic!("not run")
    };
    assert_eq!(args.volume, ["/data:/data"]);
    assert_eq!(args.verbose, 1);
    let cli = parse(&["-v", "run", "-v", "/d:/d", "img"]).unwrap();
    assert_eq!(cli.global.verbose, 1);
}

#[test]
fn recording_options_are_refused_with_a_subcommand() {
    let err = parse(&["-c", "web", "render", "r.json"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    assert!(
        err.to_string().contains(
            "--container records selected containers and cannot be used with `trace render`"
        ),
        "{err}"
    );
    assert!(parse(&["--restart", "check", "--against", "p", "r"]).is_err());
}

#[test]
fn subcommands_come_in_the_order_a_user_meets_them_each_with_examples() {
    let command = Cli::command();
    let names: Vec<&str> = command
        .get_subcommands()
        .map(clap::Command::get_name)
        .collect();
    assert_eq!(
        names,
        [
            "run",
            "mark",
            "render",
            "advise",
            "check",
            "merge",
            "minimize",
            "completions",
            "man"
        ]
    );
    for sub in command.get_subcommands() {
        let after = sub
            .get_after_help()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            after.starts_with("Examples:\n  trace "),
            "{}: {after}",
            sub.get_name()
        );
    }
    let top = command.get_after_help().unwrap().to_string();
    assert!(top.contains("RUST_LOG"), "{top}");
    assert!(top.contains("exits with status 2"), "{top}");
}

#[test]
fn durations_are_explained_the_same_way_everywhere() {
    let mut command = Cli::command();
    command.build();
    let mut seen = 0;
    let mut check = |cmd: &clap::Command| {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "duration" || id == "ready" {
                let help = arg.get_help().unwrap().to_string();
                assert!(
                    help.contains(durations!()),
                    "{} --{id}: {help}",
                    cmd.get_name()
                );
                seen += 1;
            }
        }
    };
    check(&command);
    for sub in command.get_subcommands() {
        check(sub);
    }
    assert_eq!(seen, 3, "attach --duration, run --duration, run --ready");
    let err = parse_duration("soon").unwrap_err();
    assert!(err.ends_with(concat!("expected ", durations!())), "{err}");
}

#[test]
fn out_means_a_directory_except_for_merge_which_says_why() {
    let mut command = Cli::command();
    command.build();
    for sub in command.get_subcommands() {
        let Some(out) = sub.get_arguments().find(|a| a.get_short() == Some('o')) else {
            continue;
        };
        let help = out.get_help().unwrap().to_string();
        let names: Vec<String> = out
            .get_value_names()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        if sub.get_name() == "merge" {
            assert_eq!(names, ["OUT.json"]);
            assert!(
                help.contains("a file, not a directory as elsewhere"),
                "{help}"
            );
        } else {
            assert_eq!(names, ["DIR"], "{}", sub.get_name());
        }
    }
}

#[test]
fn the_version_names_the_commit_when_built_from_git() {
    assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")), "{VERSION}");
    let rest = &VERSION[env!("CARGO_PKG_VERSION").len()..];
    assert!(
        rest.is_empty()
            || (rest.starts_with(" (commit ")
                && rest.ends_with(')')
                && rest.len() > " (commit )".len()),
        "{VERSION}"
    );
}
