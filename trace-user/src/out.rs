//! Writing outputs: checked before tracing starts, each file written atomically (a temporary file
//! in the same directory, synced, then renamed over the target), so a reader never sees half a file
//! and an interrupted write leaves the previous version in place.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    /// The directory cannot be created or written to.
    #[error("output directory {} is not writable", .dir.display())]
    NotWritable {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing one file failed (the previous version, if any, is untouched).
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Creates `dir` if needed and proves a file can be created in it (then removes that file).
pub fn prepare_dir(dir: &Path) -> Result<(), OutError> {
    let not_writable = |source| OutError::NotWritable {
        dir: dir.to_owned(),
        source,
    };
    fs::create_dir_all(dir).map_err(not_writable)?;
    let probe = dir.join(format!(".trace-write-check.{}", std::process::id()));
    File::create(&probe).map_err(not_writable)?;
    fs::remove_file(&probe).map_err(not_writable)
}

/// Writes `contents` to `dir/name` atomically.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, OutError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        OutError::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leaving_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b");
        prepare_dir(&out).unwrap();
        write_atomic(&out, "x.json", b"one").unwrap();
        write_atomic(&out, "x.json", b"two").unwrap();
        assert_eq!(fs::read(out.join("x.json")).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.json"]);
    }

    #[test]
    fn refuses_a_directory_under_a_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), b"").unwrap();
        let err = prepare_dir(&dir.path().join("file/sub")).unwrap_err();
        assert!(err.to_string().contains("is not writable"), "{err}");
    }
}
