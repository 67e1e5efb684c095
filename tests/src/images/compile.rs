//! C programs for the images, compiled with the host's gcc, and the shared libraries they need
//! copied in with their symlinks.

use anyhow::{Context, Result, bail};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Compiles `source` to `rootfs/usr/local/bin/workload` with the host's gcc (dynamically linked)
/// and copies in the shared libraries it needs, each at its real path, plus every directory symlink
/// on the way to it as the host has it (e.g. Debian's `/lib -> usr/lib`), so that opening a library
/// by its usual name goes through a symlink as it does on a real distribution.
pub(super) fn compile_workload(source: &Path, rootfs: &Path) -> Result<()> {
    let output = rootfs.join("usr/local/bin/workload");
    compile_c(source, &output, Linking::Dynamic)?;
    copy_libraries(&output, rootfs)
}

/// How [`compile_c`] links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linking {
    /// Against the host's shared libraries.
    Dynamic,
    /// `-static`: runs anywhere, needs nothing else in the image.
    Static,
}

/// Compiles C file `source` to `output` with the host's gcc (`-O2 -Wall -Werror`), creating the
/// output's folder.
pub fn compile_c(source: &Path, output: &Path, linking: Linking) -> Result<()> {
    if let Some(parent) = output.parent() {
        fs::create_dir_all(parent)?;
    }
    let gcc = Command::new("gcc")
        .args(["-O2", "-Wall", "-Werror"])
        .args((linking == Linking::Static).then_some("-static"))
        .arg("-o")
        .arg(output)
        .arg(source)
        .stdin(Stdio::null())
        .output()
        .context("cannot run gcc (install gcc)")?;
    if !gcc.status.success() {
        bail!(
            "gcc failed: {}",
            String::from_utf8_lossy(&gcc.stderr).trim()
        );
    }
    Ok(())
}

/// Copies host program `program` into `rootfs` at its path, with its shared libraries.
pub(super) fn copy_with_libraries(program: &Path, rootfs: &Path) -> Result<()> {
    copy_with_symlinks(program, rootfs)?;
    copy_libraries(program, rootfs)
}

/// Copies the shared libraries `ldd` names for `binary` into `rootfs` (see [`copy_with_symlinks`]).
pub(super) fn copy_libraries(binary: &Path, rootfs: &Path) -> Result<()> {
    let ldd = Command::new("ldd")
        .arg(binary)
        .stdin(Stdio::null())
        .output()
        .context("cannot run ldd")?;
    if !ldd.status.success() {
        bail!(
            "ldd failed: {}",
            String::from_utf8_lossy(&ldd.stderr).trim()
        );
    }
    for library in parse_ldd(&String::from_utf8_lossy(&ldd.stdout)) {
        copy_with_symlinks(Path::new(&library), rootfs)?;
    }
    Ok(())
}

/// The absolute library paths in `ldd` output (`libc.so.6 => /lib/.../libc.so.6 (0x...)` and the
/// loader's `/lib64/ld-linux-x86-64.so.2 (0x...)`).
pub(super) fn parse_ldd(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| {
            let path = line
                .split_once("=>")
                .map_or(line, |(_, right)| right)
                .split_whitespace()
                .next()?;
            path.starts_with('/').then(|| path.to_string())
        })
        .collect()
}

/// Copies host file `path` into `rootfs` at its canonical path and recreates, in `rootfs`, each
/// symlink met while resolving `path` (directory components and the file itself).
pub(super) fn copy_with_symlinks(path: &Path, rootfs: &Path) -> Result<()> {
    let mut walked = PathBuf::from("/");
    for component in path.components().skip(1) {
        walked.push(component);
        let meta =
            fs::symlink_metadata(&walked).with_context(|| format!("{}", walked.display()))?;
        if meta.is_symlink() {
            let inside = rootfs.join(walked.strip_prefix("/")?);
            if fs::symlink_metadata(&inside).is_err() {
                if let Some(parent) = inside.parent() {
                    fs::create_dir_all(parent)?;
                }
                symlink(fs::read_link(&walked)?, &inside)?;
            }
            walked = fs::canonicalize(&walked)?;
        }
    }
    let real = fs::canonicalize(path)?;
    let inside = rootfs.join(real.strip_prefix("/")?);
    if let Some(parent) = inside.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::copy(&real, &inside).with_context(|| format!("copying {}", real.display()))?;
    Ok(())
}
