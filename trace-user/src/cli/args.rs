//! The clap types of every subcommand and the parsers of their values.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::recording::IncludedSyscall;
use crate::render::seccomp::{Arch, SeccompOptions};
use crate::render::{Format, Options};
use crate::runtime::engine::{Endpoint, EngineKind};

/// How every duration is written, in every help text and error message.
macro_rules! durations {
    () => {
        "a number and a unit: 30s, 5m, 1h30m, 250ms (a plain number is seconds)"
    };
}

/// trace's version: the package's and the commit it was built from (see build.rs).
pub const VERSION: &str = env!("TRACE_VERSION");

/// Record what a container does with eBPF and write the security profiles that lock it down.
///
/// Attach to containers (running ones, or those the exercise starts), run an exercise (e.g. their
/// integration tests), and get a seccomp profile, an AppArmor profile, the list of files used and
/// hardening advice built from what they really did. Without a subcommand trace records the
/// containers `--container`, `--label` or `--compose-project` select.
#[derive(Debug, Parser)]
#[command(
    name = "trace",
    version = VERSION,
    arg_required_else_help = true,
    subcommand_negates_reqs = true,
    after_help = concat!(
        "Examples:\n",
        "  trace --container petclinic -- ./integration-tests.sh\n",
        "  trace run -p 8080:80 nginx:1.27 -- ./smoke-test.sh\n",
        "  trace check --against profiles/petclinic new/petclinic/recording.json\n",
        "\n",
        "Without arguments trace prints this help and exits with status 2.\n",
        "\n",
        "Environment:\n",
        "  RUST_LOG     the log's filter (env_logger syntax, e.g. debug or trace_user::probe=trace);\n",
        "               it takes precedence over -v and -q\n",
        "  DOCKER_HOST     the Docker engine to talk to [default: unix:///var/run/docker.sock]\n",
        "  CONTAINER_HOST  Podman's API socket, with --engine podman\n",
        "                  [default: unix:///run/podman/podman.sock]",
    )
)]
pub struct Cli {
    /// A subcommand; without one, trace records the containers --container, --label or
    /// --compose-project select.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for recording selected containers.
    #[command(flatten)]
    pub attach: AttachArgs,
    /// `-q`, `-v`.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every subcommand takes.
#[derive(Debug, Args, Clone, Copy, Default, PartialEq, Eq)]
pub struct GlobalArgs {
    /// Show only errors, warnings and results: no progress line, no lines on what trace is doing
    /// (the one line per output directory stays).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log more on stderr: -v info, -vv debug, -vvv everything (`RUST_LOG` takes precedence).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

impl GlobalArgs {
    /// The log filter the flags ask for, when `RUST_LOG` does not say.
    pub fn log_filter(self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            (false, _) => "trace",
        }
    }
}

/// trace's subcommands, in the order a user meets them.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a container under trace, from its first instruction, so its profile covers startup.
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace run -p 8080:80 nginx:1.27                 # exercised by a crawl of its exposed port\n",
        "  trace run --name web -p 8080:80 nginx:1.27 -- ./smoke-test.sh\n",
        "  trace run --exec 'redis-cli ping' redis:7       # the exercise runs inside the container\n",
        "  trace run --duration 2m --out profiles/api my/api:dev\n",
        "\n",
        "Outputs go to ./profiles/NAME: --name, else the image's name (nginx for nginx:1.27), the same on\n",
        "every run. -v is --volume here, as in docker run; more log detail is --verbose."
    ))]
    Run(Box<RunArgs>),
    /// Mark a step of the exercise, from inside it: what follows belongs to step NAME
    /// (coverage.md tells each step's new system calls and files, and the startup's).
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace run -p 8080:80 nginx:1.27 -- sh -c './serve-tests.sh && trace mark reload && ./reload-tests.sh'\n",
        "\n",
        "trace gives a host exercise the socket in TRACE_MARK; without it (the exercise run without\n",
        "trace) the mark is skipped with a note and trace mark succeeds, so the exercise runs the same."
    ))]
    Mark(MarkArgs),
    /// Render the profiles from a saved recording.json again (byte for byte what tracing wrote).
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace render profiles/web/recording.json\n",
        "  trace render profiles/web/recording.json --format spo --arch x86_64,arm64 -o k8s/web\n",
        "  curl -s https://ci.example/recording.json | trace render - -o profiles/web"
    ))]
    Render(RenderArgs),
    /// Hardening advice (hardening.md, docker run flags, compose) from a saved recording.json.
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace advise profiles/web/recording.json\n",
        "  trace advise profiles/web/recording.json --profile-path deploy/web -o deploy/web"
    ))]
    Advise(AdviseArgs),
    /// Compare a recording with committed profiles: exit 0 when everything observed is allowed,
    /// 1 on drift (each new system call, file, capability, socket listed), 2 on bad input.
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace check --against profiles/web new/web/recording.json\n",
        "  trace check --against profiles/web new/web/recording.json --output-format json\n",
        "  trace check --against profiles/web new/web/recording.json --strict"
    ))]
    Check(CheckArgs),
    /// Merge recordings of one image into one, keeping which recording saw what.
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace merge profiles/web/recording.json new/web/recording.json -o profiles/web/recording.json\n",
        "  trace render profiles/web/recording.json      # then render the merged recording"
    ))]
    Merge(MergeArgs),
    /// Build a slim image from a recording: the files it used, the original configuration.
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace minimize profiles/web/recording.json\n",
        "  trace minimize profiles/web/recording.json --tag web:slim --include /usr/lib/plugins"
    ))]
    Minimize(MinimizeArgs),
    /// Print a shell completion script for trace.
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace completions bash > /usr/share/bash-completion/completions/trace\n",
        "  trace completions zsh > /usr/share/zsh/vendor-completions/_trace\n",
        "  trace completions fish > /usr/share/fish/vendor_completions.d/trace.fish"
    ))]
    Completions(CompletionsArgs),
    /// Print trace's manual page, or write one page per subcommand with --out.
    #[command(after_help = concat!(
        "Examples:\n",
        "  trace man | man -l -\n",
        "  trace man -o /usr/share/man/man1     # trace.1, trace-run.1, trace-render.1, ..."
    ))]
    Man(ManArgs),
}

/// `trace mark NAME`
#[derive(Debug, Args)]
pub struct MarkArgs {
    /// The step that starts now: up to 64 letters, digits, '.', '_' and '-', starting with a
    /// letter or digit (`startup` is the step before the first mark).
    #[arg(value_name = "NAME", value_parser = parse_step)]
    pub name: String,
}

pub(super) fn parse_step(text: &str) -> Result<String, String> {
    if crate::recording::is_step_name(text) {
        Ok(text.to_owned())
    } else {
        Err("a step name is up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit, and not startup".into())
    }
}

/// `trace completions SHELL`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
}

/// `trace man [--out DIR]`
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write trace.1 and one trace-SUBCOMMAND.1 per subcommand into DIR instead of printing
    /// trace.1.
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// What `trace check` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Lines for a person or a CI log.
    #[default]
    Text,
    /// One JSON document (docs/check.md).
    Json,
    /// GitHub Actions workflow commands: an `::error` annotation per drift, on the committed file.
    Github,
    /// A SARIF 2.1.0 log, for code-scanning tools.
    Sarif,
}

/// `trace check --against DIR RECORDING.json [--strict] [--output-format FORMAT]`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The recording to check (a new run's recording.json; - reads standard input).
    #[arg(value_name = "RECORDING")]
    pub recording: PathBuf,
    /// The directory of the committed profiles (seccomp.json or seccomp-profile.yaml,
    /// apparmor.profile or apparmor-profile.yaml, and recording.json when present).
    #[arg(long, value_name = "DIR")]
    pub against: PathBuf,
    /// Also report what the profiles allow and the recording no longer shows, as drift.
    #[arg(long)]
    pub strict: bool,
    /// What to print: text (for a person or a CI log), json, github (workflow annotations) or
    /// sarif (SARIF 2.1.0).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = ReportFormat::Text)]
    pub output_format: ReportFormat,
    /// The old spelling of --output-format text|json (deprecated: --format is the profile
    /// format everywhere else).
    #[arg(long = "format", value_name = "FORMAT", hide = true, conflicts_with = "output_format",
          value_parser = ["text", "json"])]
    pub deprecated_format: Option<String>,
    /// Of a merged recording, report drift only for what was seen in at least M of its runs
    /// (at most the number of runs) [default: everything].
    #[arg(
        long = "min-runs",
        value_name = "M",
        default_value_t = 0,
        hide_default_value = true
    )]
    pub min_runs: usize,
    /// A system call allowed on purpose though not observed (repeatable): not reported by
    /// --strict as no longer observed (the committed recording's are not either).
    #[arg(long = "include-syscall", value_name = "NAME[=REASON]", value_parser = parse_include)]
    pub include_syscall: Vec<IncludedSyscall>,
}

impl CheckArgs {
    /// The report format, from --output-format or the deprecated --format.
    pub fn report_format(&self) -> ReportFormat {
        match self.deprecated_format.as_deref() {
            Some("json") => ReportFormat::Json,
            Some(_) => ReportFormat::Text,
            None => self.output_format,
        }
    }
}

/// How profiles are rendered: `--format`, `--arch`, `--relative-to-default`, and where the advice
/// names them (`--profile-path`).
#[derive(Debug, Args, Clone, Default)]
pub struct ProfileArgs {
    /// Profile format: docker (seccomp.json, apparmor.profile), oci (seccomp.json as the OCI
    /// runtime spec's `LinuxSeccomp`, apparmor.profile) or spo (Kubernetes Security Profiles
    /// Operator seccomp-profile.yaml and apparmor-profile.yaml).
    #[arg(long = "format", value_name = "FORMAT", default_value = "docker", value_parser = parse_format)]
    pub format: Format,
    /// Architectures of the seccomp profile, comma-separated: `x86_64` (or amd64), aarch64 (or
    /// arm64), by system call name.
    #[arg(long = "arch", value_name = "ARCH,...", value_delimiter = ',', value_parser = parse_arch)]
    pub arch: Vec<Arch>,
    /// Never looser than Docker's default seccomp profile: keep its argument filters (clone
    /// without namespace flags, personality values, socket without `AF_ALG/AF_VSOCK`); allow
    /// personality, prctl and clone only with the argument values recorded, when few.
    #[arg(long)]
    pub relative_to_default: bool,
    /// Where the profiles will be used from, as the advice (hardening.md, hardening.json) names
    /// them in its `docker run` line and compose snippet: a directory, relative to where those
    /// run (e.g. `deploy/web`) or absolute [default: the output directory, named relative to it:
    /// `seccomp.json`].
    #[arg(long = "profile-path", value_name = "DIR", value_parser = parse_profile_path)]
    pub profile_path: Option<String>,
    /// Of a merged recording, keep in the profiles and the advice only the system calls, files,
    /// programs, capabilities, sockets and ports seen in at least M of its runs (recording.json
    /// keeps everything); at most the number of runs [default: everything].
    #[arg(
        long = "min-runs",
        value_name = "M",
        default_value_t = 0,
        hide_default_value = true
    )]
    pub min_runs: usize,
    /// Allow system call NAME though it was not observed, on purpose, for a path the exercise
    /// does not take (repeatable); the reason goes into the profile's comment, recording.json
    /// and coverage.md.
    #[arg(long = "include-syscall", value_name = "NAME[=REASON]", value_parser = parse_include)]
    pub include_syscall: Vec<IncludedSyscall>,
}

impl ProfileArgs {
    /// The render options the flags describe.
    pub fn options(&self) -> Options {
        let mut arches = if self.arch.is_empty() {
            vec![Arch::X86_64]
        } else {
            self.arch.clone()
        };
        arches.sort_unstable();
        arches.dedup();
        Options {
            format: self.format,
            seccomp: SeccompOptions {
                arches,
                relative_to_default: self.relative_to_default,
            },
            profile_path: self.profile_path.clone(),
            min_runs: self.min_runs,
            include_syscalls: self.include_syscall.clone(),
        }
    }
}

pub(super) fn parse_include(text: &str) -> Result<IncludedSyscall, String> {
    IncludedSyscall::parse(text).map_err(|e| e.to_string())
}

pub(super) fn parse_format(text: &str) -> Result<Format, String> {
    text.parse()
}

pub(super) fn parse_profile_path(text: &str) -> Result<String, String> {
    crate::render::advice::check_profile_path(text).map_err(|e| e.to_string())
}

/// An architecture by its kernel name, or its Debian/Docker name (`amd64`, `arm64`).
pub(super) fn parse_arch(text: &str) -> Result<Arch, String> {
    match text {
        "amd64" => Ok(Arch::X86_64),
        "arm64" => Ok(Arch::Aarch64),
        _ => text.parse().map_err(|_| {
            format!("unknown architecture {text:?} (x86_64 or amd64, aarch64 or arm64)")
        }),
    }
}

/// `trace run [OPTIONS] IMAGE [ARGS...] [-- CMD...]`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The image to run; pulled when it is not on this machine (see --pull).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// When to pull the image: missing (only when it is not on this machine), always, never.
    #[arg(long, value_name = "WHEN", default_value = "missing",
          value_parser = ["missing", "always", "never"])]
    pub pull: String,
    /// Command or entrypoint arguments, as after the image in `docker run`.
    #[arg(value_name = "ARGS", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Container name, also the name of the output directory and of the AppArmor profile
    /// [default: the container gets Docker's random name, the outputs the image's name: nginx
    /// for docker.io/library/nginx:1.27].
    #[arg(long)]
    pub name: Option<String>,
    /// Environment variable KEY=VALUE (or KEY, taken from trace's environment).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Publish a port: `[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`.
    #[arg(short, long = "publish", value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Bind mount or volume: SOURCE:DESTINATION[:OPTIONS].
    #[arg(short, long = "volume", value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// User (name|uid[:group|gid]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Override the image's entrypoint.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Add a capability.
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability (ALL for every one).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security option, e.g. no-new-privileges, seccomp=FILE.
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Network mode.
    #[arg(long)]
    pub network: Option<String>,
    /// Mount the root file system read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Mount a tmpfs: PATH[:OPTIONS].
    #[arg(long, value_name = "PATH")]
    pub tmpfs: Vec<String>,
    /// The OCI runtime to start the container with, by the engine's name for it (runc, crun)
    /// [default: the engine's].
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// Signal that stops the container at the end, e.g. SIGINT [default: the image's
    /// STOPSIGNAL, else SIGTERM].
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds the engine waits after the stop signal before it kills the container
    /// [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// The engine and its socket.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Exercise inside the container: run with /bin/sh -c once it is ready.
    #[arg(long, value_name = "CMD", conflicts_with = "exercise")]
    pub exec: Option<String>,
    /// When the container is ready: port:N (a TCP connect works), log:TEXT, delay:D
    /// [default: the first exposed port, else delay:1s].
    #[arg(long, value_name = "COND", value_parser = parse_ready,
          help = concat!("When the container is ready: port:N (a TCP connect works), log:TEXT, or delay:D, D ",
                         durations!(), " [default: the first exposed port, else delay:1s]"))]
    pub ready: Option<crate::session::exercise::Ready>,
    /// Keep the container afterwards (default: stop and remove it).
    #[arg(long)]
    pub keep: bool,
    /// Where to write the outputs [default: ./profiles/NAME, NAME as for --name].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Stop after this long.
    #[arg(short, long, value_name = "D", value_parser = parse_duration,
          help = concat!("Stop after this long: ", durations!()))]
    pub duration: Option<Duration>,
    /// Also write a JSON summary of the run to FILE, for scripts (docs/summary.md).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Log more on stderr (repeatable); `-v` is --volume here, as in docker run.
    #[arg(long, action = ArgAction::Count)]
    pub verbose: u8,
    /// After recording, build the slim image and run the exercise again against it; fail when
    /// it fails there.
    #[arg(long)]
    pub minimize: bool,
    /// What the slim image keeps besides the recorded files (with --minimize).
    #[command(flatten)]
    pub slim: SlimArgs,
    /// How to render the profiles.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// After recording, check it against the committed profiles in DIR (read before anything is
    /// written) as `trace check --against DIR` does.
    #[arg(long = "check", value_name = "DIR")]
    pub check: Option<PathBuf>,
    /// Exercise on the host, once the container is ready; it sees `TRACE_CONTAINER`, `TRACE_CONTAINER_ID`
    /// and `TRACE_CONTAINER_IP`. Without --exec or CMD, trace GETs / on each exposed port and
    /// crawls the links it finds.
    #[arg(last = true, value_name = "CMD")]
    pub exercise: Vec<OsString>,
}

impl RunArgs {
    /// Moves what follows a `--` among the container arguments to the host exercise: clap keeps
    /// `--` inside ARGS, which take hyphen values (`trace run nginx -g 'daemon off;' -- ./t.sh`).
    #[must_use]
    pub fn split_exercise(mut self) -> Self {
        if let Some(at) = self.args.iter().position(|a| a == "--") {
            let exercise = self.args.split_off(at);
            self.exercise
                .splice(0..0, exercise.into_iter().skip(1).map(OsString::from));
        }
        self
    }

    /// Seconds the stop at the end waits after the stop signal before it kills.
    pub fn stop_timeout(&self) -> u32 {
        self.stop_timeout
            .unwrap_or(crate::runtime::lifecycle::STOP_TIMEOUT_S)
    }

    /// The container the options describe.
    pub fn spec(&self) -> crate::runtime::create::RunSpec {
        use crate::runtime::create::Pull;
        crate::runtime::create::RunSpec {
            image: self.image.clone(),
            pull: match self.pull.as_str() {
                "always" => Pull::Always,
                "never" => Pull::Never,
                _ => Pull::Missing,
            },
            args: self.args.clone(),
            name: self.name.clone(),
            env: self.env.clone(),
            publish: self.publish.clone(),
            volumes: self.volume.clone(),
            user: self.user.clone(),
            workdir: self.workdir.clone(),
            entrypoint: self.entrypoint.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            network: self.network.clone(),
            read_only: self.read_only,
            tmpfs: self.tmpfs.clone(),
            runtime: self.runtime.clone(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
        }
    }
}

/// `trace minimize RECORDING [--tag NAME] [--include PATH]... [--include-from FILE]...`
#[derive(Debug, Args)]
pub struct MinimizeArgs {
    /// A recording.json written by trace (of an image Docker still has); - reads standard input.
    #[arg(value_name = "RECORDING")]
    pub recording: PathBuf,
    /// The slim image's options.
    #[command(flatten)]
    pub slim: SlimArgs,
}

/// The slim image's tag, and what it keeps besides the recorded files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
pub struct SlimArgs {
    /// Tag of the slim image [default: the recorded image's tag + `-slim`, e.g. app:1.2-slim].
    #[arg(long, value_name = "NAME[:TAG]")]
    pub tag: Option<String>,
    /// Keep this path too, and everything below it when it is a directory (repeatable): files a
    /// trace cannot see (error paths, plugins loaded later).
    #[arg(long, value_name = "PATH")]
    pub include: Vec<OsString>,
    /// Keep the paths listed in FILE: one per line, `#` comments, in files.txt's form.
    #[arg(long, value_name = "FILE")]
    pub include_from: Vec<PathBuf>,
}

/// `trace --container NAME... [--label K=V]... [--compose-project [P]] [-- CMD ARGS...]`
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("select")
        .required(true)
        .multiple(true)
        .args(["container", "label", "compose_project", "pod"])
))]
pub struct AttachArgs {
    /// A container to record, by name or id (repeatable): running, or waited for and recorded
    /// from its first instruction when it does not run yet.
    #[arg(short, long, value_name = "NAME|ID")]
    pub container: Vec<String>,
    /// Record every container with this label, running or started during the run (repeatable:
    /// a container must have them all).
    #[arg(short, long, value_name = "KEY[=VALUE]", value_parser = parse_label)]
    pub label: Vec<(String, Option<String>)>,
    /// Record a compose project's containers [default project: `$COMPOSE_PROJECT_NAME`, else the
    /// current directory's name, as compose picks it].
    #[arg(long, value_name = "PROJECT", num_args = 0..=1, default_missing_value = "")]
    pub compose_project: Option<String>,
    /// Record the containers of a Kubernetes pod on this node through its CRI socket
    /// (repeatable): `[NAMESPACE/]NAME`, or the pods whose labels hold,
    /// `[NAMESPACE/]KEY[=VALUE][,...]`; the namespace is `default` when not given, every one
    /// when `*`. One directory per container of the pod's workload (docs/kubernetes.md).
    #[arg(long, value_name = "[NS/]NAME|[NS/]K=V,...", value_parser = parse_pod,
          conflicts_with_all = ["container", "label", "compose_project", "restart"])]
    pub pod: Vec<crate::session::select::PodSelector>,
    /// The CRI socket --pod talks to [default: `$CONTAINER_RUNTIME_ENDPOINT`, else
    /// /run/containerd/containerd.sock].
    #[arg(long, value_name = "PATH", conflicts_with_all = ["container", "label", "compose_project"])]
    pub cri_socket: Option<String>,
    /// Restart the running containers selected, so that their startup is recorded too.
    #[arg(long)]
    pub restart: bool,
    /// The engine and its socket.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Containers (lives: a restart is a new one) recorded at once; each costs ~72 KiB of
    /// counters per CPU.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONTAINERS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(trace_common::MAX_SLOTS)))]
    pub max_containers: u32,
    /// Where to write the outputs: with one --container its directory [default:
    /// ./profiles/<container name>]; else the directory holding one directory per container or
    /// compose service [default: ./profiles].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Stop after this long.
    #[arg(short, long, value_name = "D", value_parser = parse_duration,
          help = concat!("Stop after this long: ", durations!()))]
    pub duration: Option<Duration>,
    /// Also write a JSON summary of the run to FILE, for scripts (docs/summary.md).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// How to render the profiles.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// After recording, check it against the committed profiles in DIR (read before anything is
    /// written) as `trace check --against DIR` does; with several output directories, against
    /// DIR/<name> for each.
    #[arg(long = "check", value_name = "DIR")]
    pub check: Option<PathBuf>,
    /// The exercise: a command run on the host while tracing (it may start the containers);
    /// trace stops when it exits and exits with its status. With one running --container it sees
    /// `TRACE_CONTAINER` (name) and `TRACE_CONTAINER_ID` in its environment.
    #[arg(last = true, value_name = "CMD")]
    pub exercise: Vec<OsString>,
}

/// The container engine whose containers are recorded, and where it listens.
#[derive(Debug, Args, Clone, Default, PartialEq, Eq)]
pub struct EngineArgs {
    /// The container engine: docker, or podman (through its API service, `podman system
    /// service`).
    #[arg(long, value_name = "ENGINE", default_value = "docker", value_parser = parse_engine)]
    pub engine: EngineKind,
    /// The engine's socket, `unix:///PATH` or `tcp://HOST:PORT` [default: `$DOCKER_HOST`, else
    /// `unix:///var/run/docker.sock`; with --engine podman `$CONTAINER_HOST`, else
    /// `unix:///run/podman/podman.sock`].
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,
}

impl EngineArgs {
    /// The engine and socket the flags and the environment name.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.engine, self.host.as_deref())
    }
}

pub(super) fn parse_engine(text: &str) -> Result<EngineKind, String> {
    text.parse()
}

/// Target slots by default: containers (lives) recorded at once.
pub const DEFAULT_MAX_CONTAINERS: u32 = 16;

pub(super) fn parse_label(text: &str) -> Result<(String, Option<String>), String> {
    crate::session::select::parse_label(text)
}

pub(super) fn parse_pod(text: &str) -> Result<crate::session::select::PodSelector, String> {
    crate::session::select::parse_pod(text)
}

/// `trace render RECORDING [--out DIR]`
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A recording.json written by trace; - reads it from standard input (then --out is needed).
    #[arg(value_name = "RECORDING")]
    pub recording: PathBuf,
    /// Where to write the profiles [default: the recording's directory].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to render the profiles.
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// `trace advise RECORDING [--out DIR]`
#[derive(Debug, Args)]
pub struct AdviseArgs {
    /// A recording.json written by trace; - reads it from standard input (then --out is needed).
    #[arg(value_name = "RECORDING")]
    pub recording: PathBuf,
    /// Where to write hardening.md, hardening.json and the profiles they name [default: the
    /// recording's directory].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to render the profiles the advice names, and where it names them.
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// `trace merge A.json B.json [...] -o OUT.json`
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Recordings (recording.json files, merged ones too) of one image; - (once) reads one from
    /// standard input.
    #[arg(value_name = "RECORDING", required = true)]
    pub recordings: Vec<PathBuf>,
    /// The merged recording to write: a file, not a directory as elsewhere, since merge writes
    /// only the recording (render it with `trace render`).
    #[arg(short, long, value_name = "OUT.json", required = true)]
    pub out: PathBuf,
    /// Merge recordings of different images (the merged recording names the first one's).
    #[arg(long)]
    pub allow_different_images: bool,
}

pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .or_else(|e| text.parse::<u64>().map(Duration::from_secs).map_err(|_| e))
        .map_err(|e| format!("{e}: expected {}", durations!()))?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

pub(super) fn parse_ready(text: &str) -> Result<crate::session::exercise::Ready, String> {
    use crate::session::exercise::Ready;
    let (kind, value) = text
        .split_once(':')
        .ok_or("expected port:N, log:TEXT or delay:D")?;
    match kind {
        "port" => match value.parse::<u16>() {
            Ok(port) if port > 0 => Ok(Ready::Port(port)),
            _ => Err(format!("{value:?} is not a TCP port (1-65535)")),
        },
        "log" if !value.is_empty() => Ok(Ready::Log(value.to_owned())),
        "log" => Err("log: needs the text to wait for".into()),
        "delay" => parse_duration(value).map(Ready::Delay),
        _ => Err(format!(
            "unknown condition {kind:?}: expected port:N, log:TEXT or delay:D"
        )),
    }
}
