//! Running child processes with their output streamed, and naming them in errors.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A `cargo` command (the cargo that runs xtask) in the workspace root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(trace_tests::workspace_root());
    cmd
}

/// The cargo target folder: `$CARGO_TARGET_DIR` (relative to the workspace root), else `target`.
pub fn target_dir() -> PathBuf {
    let root = trace_tests::workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// Echoes `cmd` to stderr, runs it with inherited stdio, and fails unless it exits with 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = show(cmd);
    eprintln!("+ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// `cmd` as a shell-like line: the variables it sets, the program (file name only) and arguments.
pub fn show(cmd: &Command) -> String {
    let mut words: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.display(), v?.display())))
        .collect();
    let program = cmd.get_program();
    let program = std::path::Path::new(program).file_name().unwrap_or(program);
    words.push(program.display().to_string());
    words.extend(cmd.get_args().map(OsStr::display).map(|a| a.to_string()));
    words.join(" ")
}

/// An error and its causes on one line (child output may hold line breaks).
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_names_env_program_and_args() {
        let mut cmd = Command::new("/usr/bin/cargo");
        cmd.args(["test", "--workspace"])
            .env("TRACE_SYSTEM_TESTS", "require");
        assert_eq!(
            show(&cmd),
            "TRACE_SYSTEM_TESTS=require cargo test --workspace"
        );
    }

    #[test]
    fn one_line_joins_the_chain() {
        let e = anyhow::anyhow!("docker said\nno\n").context("step `images`");
        assert_eq!(one_line(&e), "step `images`: docker said | no");
    }
}
