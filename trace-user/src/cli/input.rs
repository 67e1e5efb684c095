//! Reading the recordings a subcommand is given: a path, or `-` for standard input.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::out::{self, OutError};
use crate::recording::{Recording, RecordingError};

/// The argument that names standard input.
pub const STDIN: &str = "-";

/// Why the recordings given cannot be read, or their outputs not written.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// `-` was given and standard input is a terminal: trace would wait for a recording typed in.
    #[error(
        "- reads the recording from standard input, which is a terminal: pipe or redirect one into trace"
    )]
    StdinIsTerminal,
    /// `-` was given more than once.
    #[error("- (standard input) can be given once")]
    StdinTwice,
    /// The recording comes from standard input and no `--out` says where the outputs go.
    #[error("the recording comes from standard input: say where the outputs go with --out DIR")]
    NoOutDir,
    /// A recording cannot be read.
    #[error(transparent)]
    Recording(#[from] RecordingError),
    /// The output directory cannot be written.
    #[error(transparent)]
    Out(#[from] OutError),
}

/// Whether `path` is `-`, standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

/// Reads the recording at `path`, or from standard input for `-` (with the same size limit).
pub fn read_recording(path: &Path) -> Result<Recording, InputError> {
    if is_stdin(path) {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(InputError::StdinIsTerminal);
        }
        Ok(Recording::read_from(stdin.lock(), "standard input")?)
    } else {
        Ok(Recording::read(path)?)
    }
}

/// Reads the recordings at `paths`, in order; `-` may be given once.
pub fn read_recordings(paths: &[PathBuf]) -> Result<Vec<Recording>, InputError> {
    if paths.iter().filter(|p| is_stdin(p)).count() > 1 {
        return Err(InputError::StdinTwice);
    }
    paths.iter().map(|path| read_recording(path)).collect()
}

/// Reads a recording and prepares the directory its outputs go to: `out`, else the recording's
/// own directory (standard input has none: `--out` is needed).
pub fn recording_and_dir(
    path: &Path,
    out: Option<&Path>,
) -> Result<(Recording, PathBuf), InputError> {
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None if is_stdin(path) => return Err(InputError::NoOutDir),
        None => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    };
    let recording = read_recording(path)?;
    out::prepare_dir(&dir)?;
    Ok((recording, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_needs_an_out_dir_and_comes_once() {
        let err = recording_and_dir(Path::new("-"), None).unwrap_err();
        assert!(matches!(err, InputError::NoOutDir), "{err}");
        let twice = read_recordings(&["-".into(), "a.json".into(), "-".into()]).unwrap_err();
        assert_eq!(twice.to_string(), "- (standard input) can be given once");
        assert!(is_stdin(Path::new("-")) && !is_stdin(Path::new("./-")));
    }
}
