//! Writing outputs: checked before tracing starts, each file written atomically (a temporary file
//! in the same directory, synced, then renamed over the target), so a reader never sees half a file
//! and an interrupted write leaves the previous version in place.
//!
//! The output directory may be writable by others (a shared checkout, a CI workspace), and trace
//! runs as root: every temporary file is created exclusively (`O_CREAT | O_EXCL`, which fails on
//! anything already at the name, a planted symlink included) under a random name, and the rename
//! replaces whatever is at the final name (a link itself, never its target).

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
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
    // Created exclusively under a random name, removed when dropped.
    tempfile::Builder::new()
        .prefix(".trace-write-check.")
        .tempfile_in(dir)
        .map_err(not_writable)?
        .close()
        .map_err(not_writable)
}

/// Writes `contents` to `dir/name` atomically.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, OutError> {
    let path = dir.join(name);
    let result = (|| {
        let mut file = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            // As `File::create` would: readable by all unless the umask says otherwise.
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)?;
        file.write_all(contents)?;
        file.as_file().sync_all()?;
        // On failure the temporary file is removed when the error drops it.
        file.persist(&path).map_err(|e| e.error)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    })();
    result.map_err(|source| OutError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::fs::symlink;

    fn names(dir: &Path) -> Vec<std::ffi::OsString> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_replaces_without_leaving_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b");
        prepare_dir(&out).unwrap();
        write_atomic(&out, "x.json", b"one").unwrap();
        write_atomic(&out, "x.json", b"two").unwrap();
        assert_eq!(fs::read(out.join("x.json")).unwrap(), b"two");
        assert_eq!(names(&out), ["x.json"]);
        // The mode a plain `File::create` gets under the same umask, not the temporary file's 0600.
        fs::write(out.join("plain"), b"").unwrap();
        let mode = |name: &str| fs::metadata(out.join(name)).unwrap().permissions().mode();
        assert_eq!(mode("x.json"), mode("plain"));
    }

    #[test]
    fn refuses_a_directory_under_a_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), b"").unwrap();
        let err = prepare_dir(&dir.path().join("file/sub")).unwrap_err();
        assert!(err.to_string().contains("is not writable"), "{err}");
    }

    /// Symlinks planted at the temporary names an earlier version used (`.NAME.<pid>.tmp`,
    /// `.trace-write-check.<pid>`) and at the output's own name: the files they point to keep
    /// their contents, and the output replaces the link.
    #[test]
    fn planted_symlinks_are_never_followed() {
        let victims = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        let victim = |name: &str| {
            let path = victims.path().join(name);
            fs::write(&path, b"precious").unwrap();
            path
        };
        symlink(
            victim("check"),
            out.path().join(format!(".trace-write-check.{pid}")),
        )
        .unwrap();
        symlink(victim("tmp"), out.path().join(format!(".x.json.{pid}.tmp"))).unwrap();
        symlink(victim("final"), out.path().join("y.json")).unwrap();

        prepare_dir(out.path()).unwrap();
        write_atomic(out.path(), "x.json", b"written").unwrap();
        write_atomic(out.path(), "y.json", b"written").unwrap();

        for name in ["check", "tmp", "final"] {
            assert_eq!(
                fs::read(victims.path().join(name)).unwrap(),
                b"precious",
                "{name} was written through a link"
            );
        }
        assert_eq!(fs::read(out.path().join("x.json")).unwrap(), b"written");
        let y = out.path().join("y.json");
        assert!(!fs::symlink_metadata(&y).unwrap().is_symlink());
        assert_eq!(fs::read(&y).unwrap(), b"written");
    }
}
