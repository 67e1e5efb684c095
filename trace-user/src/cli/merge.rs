//! `trace merge`: one recording from several recordings of one image, keeping which saw what.

use std::path::Path;

use anyhow::anyhow;

use super::MergeArgs;
use crate::out;
use crate::recording::{MergeError, MergeOptions, Recording};

pub(super) fn run(args: &MergeArgs) -> anyhow::Result<i32> {
    // Everything is read and merged before anything is written: an error leaves no output.
    let inputs = super::input::read_recordings(&args.recordings)?;
    let options = MergeOptions {
        allow_different_images: args.allow_different_images,
    };
    let mut merged = inputs[0].clone();
    for (recording, path) in inputs.iter().zip(&args.recordings).skip(1) {
        merged = merged.merge(recording, options).map_err(|e| {
            let hint = match e {
                MergeError::DifferentImages { .. } => {
                    " (--allow-different-images merges them anyway)"
                }
                _ => "",
            };
            anyhow!("cannot merge {}: {e}{hint}", path.display())
        })?;
    }

    let (dir, name) = split_out(&args.out)?;
    out::prepare_dir(dir)?;
    let written = out::write_atomic(dir, name, merged.to_json().as_bytes())?;
    showln!("{}", summary(&written, inputs.len(), &merged));
    Ok(0)
}

/// The output's directory (`.` for a bare file name) and file name.
pub(super) fn split_out(path: &Path) -> anyhow::Result<(&Path, &str)> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        anyhow!(
            "{}: the output must be a file with a UTF-8 name",
            path.display()
        )
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok((dir, name))
}

/// One line: where it went, how many recordings and runs, what the merged recording holds.
fn summary(written: &Path, inputs: usize, merged: &Recording) -> String {
    let runs = merged.source_list().len();
    let gaps = match merged.gaps.len() {
        0 => String::new(),
        n => format!("; {n} gaps (see the recording)"),
    };
    format!(
        "{}: {inputs} recordings ({runs} runs) of {} merged: {} system calls, {} files, {} programs, {} capabilities{gaps}",
        written.display(),
        merged.container.image,
        merged.distinct_syscalls(),
        merged.files.len(),
        merged.execs.len(),
        merged.capabilities.len(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const V4: &str = include_str!("../../tests/data/recording-v4.json");

    fn args(dir: &Path, inputs: &[&str], out: &str) -> MergeArgs {
        MergeArgs {
            recordings: inputs.iter().map(|i| dir.join(i)).collect(),
            out: dir.join(out),
            allow_different_images: false,
        }
    }

    #[test]
    fn merges_and_writes_and_refuses_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let a = Recording::from_json(V4, "a").unwrap();
        let mut b = a.clone();
        b.container.id = "b".repeat(64);
        b.started_at = "2026-11-28T16:00:00Z".into();
        std::fs::write(dir.path().join("a.json"), a.to_json()).unwrap();
        std::fs::write(dir.path().join("b.json"), b.to_json()).unwrap();
        let mut c = b.clone();
        c.container.id = "c".repeat(64);
        c.container.image_id = format!("sha256:{}", "0f".repeat(32));
        std::fs::write(dir.path().join("c.json"), c.to_json()).unwrap();

        run(&args(
            dir.path(),
            &["a.json", "b.json", "a.json"],
            "out/m.json",
        ))
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join("out/m.json")).unwrap();
        let merged = Recording::from_json(&text, "m").unwrap();
        assert_eq!(merged.sources.len(), 2);
        assert_eq!(merged, a.merge(&b, MergeOptions::default()).unwrap());
        assert!(summary(&PathBuf::from("m.json"), 3, &merged).starts_with(
            "m.json: 3 recordings (2 runs) of trace-test/workload:local merged: 10 system calls, "
        ));

        let err = run(&args(dir.path(), &["a.json", "c.json"], "n.json")).unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("recordings of different images"),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
        let err = run(&args(dir.path(), &["a.json", "missing.json"], "n.json")).unwrap_err();
        assert!(format!("{err:#}").starts_with("cannot read "), "{err:#}");
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        let err = run(&args(dir.path(), &["bad.json", "a.json"], "n.json")).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a valid trace recording"),
            "{err:#}"
        );
        assert!(!dir.path().join("n.json").exists(), "nothing written");

        let mut allowed = args(dir.path(), &["c.json", "a.json"], "n.json");
        allowed.allow_different_images = true;
        run(&allowed).unwrap();
        assert!(dir.path().join("n.json").exists());
    }
}
