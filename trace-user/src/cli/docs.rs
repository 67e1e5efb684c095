//! `trace completions SHELL` and `trace man`: shell completions and manual pages generated from
//! the command-line definition, so they never disagree with `--help`.

use std::path::Path;

use clap::CommandFactory;

use super::{Cli, CompletionsArgs, ManArgs};
use crate::out;

pub(super) fn completions(args: &CompletionsArgs) -> i32 {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "trace", &mut script);
    crate::term::write(crate::term::Stream::Stdout, &script);
    0
}

pub(super) fn man(args: &ManArgs) -> anyhow::Result<i32> {
    match &args.out {
        None => {
            crate::term::write(crate::term::Stream::Stdout, &page(&Cli::command())?);
        }
        Some(dir) => {
            for written in write_pages(dir)? {
                showln!("{}", written.display());
            }
        }
    }
    Ok(0)
}

/// The manual page of `command` (roff).
fn page(command: &clap::Command) -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    Ok(page)
}

/// Writes trace.1 and trace-SUBCOMMAND.1 for each subcommand into `dir`; returns their paths.
pub fn write_pages(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    out::prepare_dir(dir)?;
    let mut command = Cli::command();
    command.build();
    let mut written = vec![out::write_atomic(dir, "trace.1", &page(&command)?)?];
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        // A subcommand's page is named and headed as `trace-run(1)`, `trace run` in its synopsis.
        let name = format!("trace-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("trace {}", sub.get_name()));
        written.push(out::write_atomic(dir, &format!("{name}.1"), &page(&sub)?)?);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_name_every_subcommand() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "trace", &mut script);
            let script = String::from_utf8(script).unwrap();
            for sub in [
                "run",
                "render",
                "advise",
                "check",
                "merge",
                "minimize",
                "completions",
                "man",
            ] {
                assert!(script.contains(sub), "{shell}: {sub}");
            }
            assert!(script.contains("output-format"), "{shell}");
        }
    }

    #[test]
    fn man_pages_one_per_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_pages(dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "trace.1",
                "trace-run.1",
                "trace-mark.1",
                "trace-render.1",
                "trace-advise.1",
                "trace-check.1",
                "trace-merge.1",
                "trace-minimize.1",
                "trace-completions.1",
                "trace-man.1",
            ]
        );
        let main = std::fs::read_to_string(dir.path().join("trace.1")).unwrap();
        assert!(main.contains(".TH trace 1"), "{main}");
        let run = std::fs::read_to_string(dir.path().join("trace-run.1")).unwrap();
        assert!(run.contains(".TH trace-run 1"), "{run}");
        assert!(run.contains("summary\\-json"), "{run}");
    }
}
