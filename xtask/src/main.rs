//! `cargo xtask`: set up a machine for trace, run every check, and show trace end to end.
//!
//! See `cargo xtask --help`; each subcommand lives in a module of its own.

mod baseline;
mod bench;
mod build;
mod cli;
mod cmd;
mod cri;
mod demo;
mod runtimes;
mod setup;
mod test;
mod vm;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let result = match cli::Cli::parse().command {
        cli::Command::Setup => setup::run(),
        cli::Command::Test(args) => test::run(&args),
        cli::Command::Demo(args) => demo::run(&args),
        cli::Command::RuntimeBaseline(args) => baseline::run(&args),
        cli::Command::Bench(args) => bench::run(&args),
        cli::Command::Vm(args) => vm::run(&args, &std::sync::atomic::AtomicBool::new(true)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {}", cmd::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
