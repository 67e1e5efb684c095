//! The workspace's debug build for the tests, with clippy's lints in the same compiler run.
//!
//! `cargo clippy` only checks (no code), so a lint pass followed by the test build compiles every
//! dependency twice. Here `clippy-driver` is cargo's wrapper for the workspace's own crates
//! (what `cargo clippy` does too), in a build that also generates code: the lints come out of
//! the build, and the dependencies are compiled once. Every warning of a workspace crate counts
//! as a lint failure, as `cargo clippy -- -D warnings` would; warnings do not stop the build, so
//! the tests still run and one run reports both.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cmd::{self, cargo};

/// A cargo command for the workspace; with `lint`, its own crates are compiled by
/// `clippy-driver`. Every cargo run of one `cargo xtask test` must agree on this: the wrapper is
/// part of the crates' fingerprints, so a run without it compiles them again.
pub fn workspace_cargo(lint: bool) -> Command {
    let mut cmd = cargo();
    if lint {
        cmd.env("RUSTC_WORKSPACE_WRAPPER", clippy_driver());
    }
    cmd
}

/// Builds the debug binaries and every test target (`cargo test --workspace --all-targets
/// --no-run`), printing the compiler's messages. Returns the distinct warnings of the workspace's
/// crates; fails if the build does.
pub fn run(with_lints: bool) -> Result<usize> {
    let mut cmd = workspace_cargo(with_lints);
    cmd.args([
        "test",
        "--workspace",
        "--all-targets",
        "--no-run",
        "--message-format=json-diagnostic-rendered-ansi",
    ])
    .stdout(Stdio::piped());
    let shown = cmd::show(&cmd);
    eprintln!("+ {shown}");
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let stdout = child.stdout.take().context("cargo's output is piped")?;
    let mut warnings = BTreeSet::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("cannot read cargo's output")?;
        if let Some(warning) = diagnostic(&line) {
            warnings.insert(warning);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(warnings.len())
}

/// The lint step's result from the number of warnings the build gave.
pub fn lint_verdict(warnings: usize) -> Result<()> {
    match warnings {
        0 => Ok(()),
        1 => bail!("1 warning (clippy's lints are denied)"),
        n => bail!("{n} warnings (clippy's lints are denied)"),
    }
}

/// One line of cargo's JSON output: prints a compiler message to stderr, and returns its text
/// when it is a warning of a workspace crate (a path package). A lib and its unit tests repeat
/// the same warning: the caller counts distinct texts.
fn diagnostic(line: &str) -> Option<String> {
    let message: CargoMessage = serde_json::from_str(line).ok()?;
    if message.reason != "compiler-message" {
        return None;
    }
    let diagnostic = message.message?;
    if let Some(rendered) = &diagnostic.rendered {
        eprint!("{rendered}");
    }
    let ours = message
        .package_id
        .is_some_and(|id| id.starts_with("path+file://"));
    (ours && diagnostic.level == "warning").then(|| diagnostic.rendered.unwrap_or_default())
}

/// The fields read of a line of `cargo --message-format=json`.
#[derive(Deserialize)]
struct CargoMessage {
    reason: String,
    package_id: Option<String>,
    message: Option<Diagnostic>,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

/// `clippy-driver` beside the cargo that runs xtask (rustup points `$CARGO` at the toolchain's
/// own), else the one on `PATH`.
fn clippy_driver() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|cargo| Some(cargo.parent()?.join("clippy-driver")))
        .filter(|driver| driver.is_file())
        .unwrap_or_else(|| PathBuf::from("clippy-driver"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(package: &str, level: &str, text: &str) -> String {
        serde_json::json!({
            "reason": "compiler-message",
            "package_id": package,
            "message": {"level": level, "rendered": text},
        })
        .to_string()
    }

    #[test]
    fn only_warnings_of_workspace_crates_count() {
        let ours = "path+file:///src/trace/trace-user#0.1.0";
        let theirs = "registry+https://github.com/rust-lang/crates.io-index#tokio@1.0.0";
        assert_eq!(
            diagnostic(&message(ours, "warning", "w: len_zero\n")),
            Some("w: len_zero\n".to_string())
        );
        assert_eq!(diagnostic(&message(theirs, "warning", "w\n")), None);
        assert_eq!(diagnostic(&message(ours, "error", "e\n")), None);
        assert_eq!(
            diagnostic(r#"{"reason":"compiler-artifact","package_id":"x"}"#),
            None
        );
        assert_eq!(diagnostic("   Compiling trace-user"), None);
    }

    #[test]
    fn any_warning_fails_the_lint_step() {
        assert!(lint_verdict(0).is_ok());
        assert_eq!(
            lint_verdict(2).unwrap_err().to_string(),
            "2 warnings (clippy's lints are denied)"
        );
    }
}
