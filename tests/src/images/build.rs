//! Building an image: its build context (the folder, busybox and its applets, fixed times) or a
//! debootstrap root file system, then `docker build` with the inputs' hash as a label.

use super::{
    FIXED_MTIME, INPUTS_LABEL, Inputs, Kind, Linking, TestImage, compile_c, compile_workload,
    copy_with_libraries,
};
use anyhow::{Context, Result, bail};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes the build context into a temporary folder and runs `docker build` on it.
pub(super) fn build(image: TestImage, inputs: &Inputs, tag: &str, hash: &str) -> Result<()> {
    if image.debootstrapped() {
        return build_debootstrap(inputs, tag, hash);
    }
    let context = tempfile::tempdir().context("creating a temporary build context")?;
    let root = context.path();
    for (rel, contents, kind) in &inputs.files {
        write_input(&root.join(rel), contents, *kind)?;
    }
    let rootfs = root.join("rootfs");
    let bin = rootfs.join("bin");
    fs::create_dir_all(&bin)?;
    fs::write(bin.join("busybox"), &inputs.busybox)?;
    fs::set_permissions(bin.join("busybox"), fs::Permissions::from_mode(0o755))?;
    for applet in &inputs.applets {
        let link = bin.join(applet);
        if !link.exists() {
            symlink("busybox", &link)?;
        }
    }
    let tmp = rootfs.join("tmp");
    fs::create_dir_all(&tmp)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777))?;
    if image == TestImage::Workload {
        compile_workload(&inputs.dir.join("workload.c"), &rootfs)?;
    }
    if image == TestImage::Bench {
        compile_c(
            &inputs.dir.join("loop.c"),
            &rootfs.join("usr/local/bin/loop"),
            Linking::Static,
        )?;
    }
    if image == TestImage::Pause {
        compile_c(
            &inputs.dir.join("pause.c"),
            &rootfs.join("pause"),
            Linking::Static,
        )?;
    }
    for (program, _) in &inputs.programs {
        copy_with_libraries(Path::new(program), &rootfs)?;
    }
    fix_mtimes(root)?;

    let output = Command::new("docker")
        .args(["build", "--quiet", "--label"])
        .arg(format!("{INPUTS_LABEL}={hash}"))
        .args(["--tag", tag])
        .arg(root)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .context("cannot run `docker build`")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprint!("{stderr}");
        let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        bail!(
            "`docker build` of {} failed ({}): {}",
            inputs.dir.display(),
            output.status,
            last.trim()
        );
    }
    Ok(())
}

/// Builds an image from `debootstrap.conf` (`key=value` lines: suite, include, mirror, cmd, expose):
/// debootstrap a minbase root, copy `rootfs/` over it, `docker import` it with the command.
pub(super) fn build_debootstrap(inputs: &Inputs, tag: &str, hash: &str) -> Result<()> {
    let conf_path = inputs.dir.join("debootstrap.conf");
    let conf = fs::read_to_string(&conf_path)
        .with_context(|| format!("reading {}", conf_path.display()))?;
    let value = |key: &str| {
        conf.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .with_context(|| format!("{} has no {key}=", conf_path.display()))
    };
    let mirror = std::env::var("TRACE_DEBIAN_MIRROR").unwrap_or(value("mirror")?.to_string());
    let work = tempfile::tempdir().context("creating a temporary root")?;
    let root = work.path().join("root");
    let debootstrap = Command::new("debootstrap")
        .args([
            "--variant=minbase",
            &format!("--include={}", value("include")?),
            value("suite")?,
        ])
        .arg(&root)
        .arg(&mirror)
        .stdin(Stdio::null())
        .output()
        .context("cannot run debootstrap (install debootstrap, or run `cargo xtask setup`)")?;
    if !debootstrap.status.success() {
        let log = String::from_utf8_lossy(&debootstrap.stdout);
        bail!(
            "debootstrap failed ({}): {}",
            debootstrap.status,
            log.lines().last().unwrap_or("")
        );
    }
    clean_apt(&root)?;
    for (rel, contents, kind) in &inputs.files {
        let Ok(inside) = rel.strip_prefix("rootfs") else {
            continue;
        };
        write_input(&root.join(inside), contents, *kind)?;
    }
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["--numeric-owner", "-c", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run tar")?;
    let import = Command::new("docker")
        .args(["import", "--change", &format!("CMD {}", value("cmd")?)])
        .args(["--change", &format!("EXPOSE {}", value("expose")?)])
        .args([
            "--change",
            &format!("LABEL {INPUTS_LABEL}={hash}"),
            "-",
            tag,
        ])
        .stdin(tar.stdout.take().context("tar has no stdout")?)
        .output()
        .context("cannot run `docker import`")?;
    let tar_status = tar.wait().context("waiting for tar")?;
    if !tar_status.success() {
        bail!("tar of the debootstrap root failed ({tar_status})");
    }
    if !import.status.success() {
        bail!(
            "`docker import` failed ({}): {}",
            import.status,
            String::from_utf8_lossy(&import.stderr).trim()
        );
    }
    Ok(())
}

/// Removes what `apt-get clean` would and the package lists, as Debian's own images do: the
/// downloaded packages are most of a fresh debootstrap root (about 90 of the nginx image's
/// 220 MB).
fn clean_apt(root: &Path) -> Result<()> {
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = root.join(dir);
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            if entry.file_type()?.is_file() && entry.file_name() != "lock" {
                fs::remove_file(entry.path())?;
            }
        }
    }
    Ok(())
}

/// Writes one input file (or symlink) at `path`, creating its parent directories.
pub(super) fn write_input(path: &Path, contents: &[u8], kind: Kind) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    if kind == Kind::Symlink {
        symlink(std::ffi::OsStr::from_bytes(contents), path)?;
        return Ok(());
    }
    fs::write(path, contents)?;
    let mode = if kind == Kind::Executable {
        0o755
    } else {
        0o644
    };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Sets the modification time of `path` and everything under it (symlinks themselves, not their
/// targets) to [`FIXED_MTIME`].
pub(super) fn fix_mtimes(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            fix_mtimes(&entry?.path())?;
        }
    }
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .with_context(|| format!("{} contains a NUL byte", path.display()))?;
    let time = libc::timespec {
        tv_sec: FIXED_MTIME,
        tv_nsec: 0,
    };
    let times = [time, time];
    // SAFETY: `c_path` is a NUL-terminated string and `times` two valid timespecs, both alive for
    // the whole call; utimensat only reads them.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("setting the mtime of {}", path.display()));
    }
    Ok(())
}
