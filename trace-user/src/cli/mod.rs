//! Command-line interface: clap types here, one module per subcommand.
//!
//! Conventions every subcommand keeps: `--format` is the profile format (docker, oci, spo) and
//! `--output-format` the format of what trace prints (text, json, ...); `-o/--out` is where the
//! files go (a directory, except for `trace merge`, which writes one file); durations are written
//! as `durations!` says; `-q` and `-v` work everywhere (`-v` is `--volume` in `trace run`, as in
//! `docker run`: there verbosity is `--verbose`).

mod advise;
mod attach;
mod check;
mod docs;
mod input;
mod merge;
mod minimize;
mod render;
mod run;
mod summary;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::render::seccomp::{Arch, SeccompOptions};
use crate::render::{Format, Options};

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
        "  DOCKER_HOST  the Docker engine to talk to [default: unix:///var/run/docker.sock]",
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
        }
    }
}

fn parse_format(text: &str) -> Result<Format, String> {
    text.parse()
}

fn parse_profile_path(text: &str) -> Result<String, String> {
    crate::render::advice::check_profile_path(text).map_err(|e| e.to_string())
}

/// An architecture by its kernel name, or its Debian/Docker name (`amd64`, `arm64`).
fn parse_arch(text: &str) -> Result<Arch, String> {
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
    /// The image to run (local, or pullable by the engine).
    #[arg(value_name = "IMAGE")]
    pub image: String,
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

    /// The container the options describe.
    pub fn spec(&self) -> crate::runtime::create::RunSpec {
        crate::runtime::create::RunSpec {
            image: self.image.clone(),
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
        .args(["container", "label", "compose_project"])
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
    /// Restart the running containers selected, so that their startup is recorded too.
    #[arg(long)]
    pub restart: bool,
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

/// Target slots by default: containers (lives) recorded at once.
pub const DEFAULT_MAX_CONTAINERS: u32 = 16;

fn parse_label(text: &str) -> Result<(String, Option<String>), String> {
    crate::session::select::parse_label(text)
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

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .or_else(|e| text.parse::<u64>().map(Duration::from_secs).map_err(|_| e))
        .map_err(|e| format!("{e}: expected {}", durations!()))?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

fn parse_ready(text: &str) -> Result<crate::session::exercise::Ready, String> {
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

/// What the recording subcommands set up first, in this order: the signal handlers (so that no
/// SIGINT or SIGTERM can kill trace between attaching and writing), the check that this host can
/// record, and the Docker connection.
async fn start_recording() -> anyhow::Result<(crate::session::StopSignals, bollard::Docker)> {
    use anyhow::Context;
    let signals =
        crate::session::StopSignals::install().context("cannot install signal handlers")?;
    crate::probe::preflight()?;
    let docker = crate::runtime::docker::connect().await?;
    Ok((signals, docker))
}

/// Runs a recording subcommand on a single-threaded tokio runtime, on a host trace can record.
fn block_on(
    recording: impl std::future::Future<Output = anyhow::Result<i32>>,
) -> anyhow::Result<i32> {
    // Syscall numbers are named with the x86 tables (trace-user/src/recording/syscalls.rs).
    anyhow::ensure!(
        cfg!(target_arch = "x86_64"),
        "trace records x86_64 hosts only for now (this is {})",
        std::env::consts::ARCH
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?
        .block_on(recording)
}

/// Parses `args` (the program's name first) as trace's command line; clap's error for bad usage,
/// or for recording options given with a subcommand.
pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    if let Some(sub) = matches.subcommand_name() {
        // The recording options belong to recording without a subcommand.
        let given = command
            .get_arguments()
            .filter(|a| !a.is_global_set())
            .find(|a| {
                matches!(
                    matches.value_source(a.get_id().as_str()),
                    Some(clap::parser::ValueSource::CommandLine)
                )
            });
        if let Some(arg) = given {
            let name = arg
                .get_long()
                .map_or_else(|| arg.get_id().to_string(), |l| format!("--{l}"));
            return Err(command.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("{name} records selected containers and cannot be used with `trace {sub}`"),
            ));
        }
    }
    Ok(cli)
}

/// Runs trace with the process's arguments; returns the process exit code.
pub fn main() -> i32 {
    let cli = parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let mut global = cli.global;
    if let Some(Command::Run(run)) = &cli.command {
        global.verbose = global.verbose.max(run.verbose);
    }
    crate::term::set_quiet(global.quiet);
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(global.log_filter()),
    )
    .target(env_logger::Target::Pipe(Box::new(crate::term::LogWriter)))
    .init();
    let result = match cli.command {
        Some(Command::Run(args)) => run::run((*args).split_exercise()),
        Some(Command::Render(args)) => render::run(&args),
        Some(Command::Advise(args)) => advise::run(&args),
        Some(Command::Check(args)) => Ok(check::run(&args)),
        Some(Command::Merge(args)) => merge::run(&args),
        Some(Command::Minimize(args)) => minimize::run(&args),
        Some(Command::Completions(args)) => Ok(docs::completions(&args)),
        Some(Command::Man(args)) => docs::man(&args),
        None => attach::run(cli.attach),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            say!("trace: error: {e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
