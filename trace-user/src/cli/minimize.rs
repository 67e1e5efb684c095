//! `trace minimize RECORDING`: a slim image with the files the recording used and the original
//! configuration; prints the sizes before and after.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::Context;
use bollard::Docker;

use super::{MinimizeArgs, SlimArgs};
use crate::minimize::{self, Options, Report};
use crate::recording::{PathBytes, Recording, decode};
use crate::runtime;
use crate::session::StopSignals;

pub(super) fn run(args: &MinimizeArgs) -> anyhow::Result<i32> {
    let path = &args.recording;
    let recording = super::input::read_recording(path)?;
    let options = options(&args.slim)?;
    super::block_on(async {
        let mut signals = StopSignals::install().context("cannot install signal handlers")?;
        let docker = runtime::docker::connect().await?;
        let report = minimize::minimize(&docker, &recording, &options, &mut signals).await?;
        print_report(&report);
        Ok(0)
    })
}

/// Minimizes `recording`'s image with the slim options; prints and returns the report.
pub(super) async fn minimize_recording(
    docker: &Docker,
    recording: &Recording,
    slim: &SlimArgs,
    signals: &mut StopSignals,
) -> anyhow::Result<Report> {
    let report = minimize::minimize(docker, recording, &options(slim)?, signals).await?;
    print_report(&report);
    Ok(report)
}

fn print_report(report: &Report) {
    show!("{}", report.render());
    for (origin, path) in &report.missing {
        if *origin == minimize::select::Origin::Include {
            say!("trace: warning: --include {path}: not in the image");
        }
    }
}

/// The minimize options of the command line: `--include` paths and the lines of each
/// `--include-from` file.
pub(super) fn options(slim: &SlimArgs) -> anyhow::Result<Options> {
    let mut include = Vec::new();
    for path in &slim.include {
        include.push(
            absolute(path.as_bytes()).with_context(|| {
                format!("--include {}: expected an absolute path", path.display())
            })?,
        );
    }
    for file in &slim.include_from {
        include.extend(read_include_file(file)?);
    }
    Ok(Options {
        tag: slim.tag.clone(),
        include,
    })
}

/// The paths of an include file: one per line, in files.txt's form (`\\` and `\xHH` escapes);
/// blank lines and lines starting with `#` are skipped.
fn read_include_file(file: &Path) -> anyhow::Result<Vec<PathBytes>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("--include-from: cannot read {}", file.display()))?;
    let mut paths = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let at = || format!("{}:{}", file.display(), number + 1);
        let bytes = decode(line).with_context(at)?;
        paths.push(
            absolute(&bytes).with_context(|| format!("{}: expected an absolute path", at()))?,
        );
    }
    Ok(paths)
}

fn absolute(bytes: &[u8]) -> Option<PathBytes> {
    bytes
        .starts_with(b"/")
        .then(|| crate::recording::normalize(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_files_take_files_txt_lines_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keep.txt");
        std::fs::write(
            &file,
            "# plugins loaded on demand\n/usr/lib/plugins/\n\n  # indented comment\n/etc/odd\\x0aname\r\n",
        )
        .unwrap();
        let parsed = options(&SlimArgs {
            tag: None,
            include: vec!["/srv//www/".into()],
            include_from: vec![file.clone()],
        })
        .unwrap();
        assert_eq!(
            parsed.include,
            [
                PathBytes::from("/srv/www"),
                PathBytes::from("/usr/lib/plugins"),
                PathBytes::new(b"/etc/odd\nname".to_vec()),
            ]
        );
        std::fs::write(&file, "/ok\nrelative/path\n").unwrap();
        let err = options_error(&file);
        assert!(
            err.ends_with("keep.txt:2: expected an absolute path"),
            "{err}"
        );
        std::fs::write(&file, "/bad\\q\n").unwrap();
        assert!(options_error(&file).contains("keep.txt:1"));
        let err = format!(
            "{:#}",
            options(&SlimArgs {
                include: vec!["etc".into()],
                ..SlimArgs::default()
            })
            .unwrap_err()
        );
        assert_eq!(err, "--include etc: expected an absolute path");
    }

    fn options_error(file: &Path) -> String {
        let slim = SlimArgs {
            include_from: vec![file.to_owned()],
            ..SlimArgs::default()
        };
        format!("{:#}", options(&slim).unwrap_err())
    }
}
