//! Command-line interface: the clap types in `args`, one module per subcommand.
//!
//! Conventions every subcommand keeps: `--format` is the profile format (docker, oci, spo) and
//! `--output-format` the format of what trace prints (text, json, ...); `-o/--out` is where the
//! files go (a directory, except for `trace merge`, which writes one file); durations are written
//! as `durations!` says; `-q` and `-v` work everywhere (`-v` is `--volume` in `trace run`, as in
//! `docker run`: there verbosity is `--verbose`).

#[macro_use]
mod args;
mod advise;
mod attach;
mod check;
mod docs;
mod input;
mod mark;
mod merge;
mod minimize;
mod render;
mod run;
mod summary;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

pub use args::*;

/// What the recording subcommands set up first, in this order: the signal handlers (so that no
/// SIGINT or SIGTERM can kill trace between attaching and writing) and the check that this host
/// can record; then they connect to their runtime.
fn start_recording() -> anyhow::Result<crate::session::StopSignals> {
    use anyhow::Context;
    let signals =
        crate::session::StopSignals::install().context("cannot install signal handlers")?;
    crate::probe::preflight()?;
    Ok(signals)
}

/// Connects to the Docker or Podman engine named on the command line, and says so when the engine
/// that answers is not the one named.
async fn connect(engine: &EngineArgs) -> anyhow::Result<bollard::Docker> {
    let endpoint = engine.endpoint();
    let docker = endpoint.connect().await?;
    let facts = crate::runtime::engine::facts(&docker).await?;
    if facts.engine != endpoint.engine {
        note!(
            "trace: the engine at {} is {} {}: recording its containers",
            endpoint.host,
            facts.engine.title(),
            facts.version
        );
    }
    Ok(docker)
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
        Some(Command::Mark(args)) => mark::run(&args),
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
            // An argument the recording cannot satisfy is bad usage, as clap's errors are.
            if e.downcast_ref::<crate::recording::MinRunsError>().is_some() {
                2
            } else {
                1
            }
        }
    }
}

#[cfg(test)]
mod tests;
