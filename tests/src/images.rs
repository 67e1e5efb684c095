//! The test images, built locally from `tests/images/<dir>/` (there is no registry).
//!
//! Each image folder has a `Dockerfile` (`FROM scratch`, `COPY rootfs/ /`) and a `rootfs/`. The build
//! context is a temporary copy of that folder to which `/bin/busybox` (the host's busybox-static)
//! is added with one symlink per applet (what `busybox --install -s /bin` makes) and an empty
//! `/tmp`. All timestamps are set to a fixed time, so the same inputs give the same layer.
//!
//! The image carries a label with a hash of all its inputs: an image is rebuilt when it is missing
//! or when its folder or the host's busybox changed since it was built.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{docker, workspace_root};

/// The static busybox that every image is made of (Debian package busybox-static).
const BUSYBOX: &str = "/bin/busybox";
/// The image label that holds the hash of the build inputs.
const INPUTS_LABEL: &str = "trace.inputs";
/// Bump when the way a build context is made changes, so that old images get rebuilt.
const CONTEXT_FORMAT: u32 = 2;
/// The modification time of every file in a build context: 2026-01-01T00:00:00Z.
const FIXED_MTIME: libc::time_t = 1_767_225_600;

/// An image that the tests (and the demo) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestImage {
    /// `trace-test/busybox:local`: busybox with its applets in `/bin`, an `/etc/passwd` with root
    /// and nobody, and the tests' script `/exercise.sh`. Default command `/bin/sh`.
    Busybox,
    /// `trace-demo/httpd:local`: busybox httpd serving `/www` on port 80 (the default command).
    Demo,
    /// `trace-test/workload:local`: busybox plus `/usr/local/bin/workload`, compiled from
    /// `tests/images/workload/workload.c` with the host's gcc and dynamically linked (its libraries
    /// are copied in at their real paths, with the host's `/lib`-style directory symlinks), and the
    /// files under `/data` it accesses.
    Workload,
    /// `trace-test/python:local`: a Debian bookworm minbase with python3 (debootstrap, ~170 MB),
    /// serving `/srv/www` on port 8000, with the exercise `/srv/exercise.py`. Built from
    /// `tests/images/python/debootstrap.conf`, not a Dockerfile.
    Python,
    /// `trace-test/nginx:local`: a Debian bookworm minbase with nginx-light (debootstrap), serving
    /// `/var/www/html` on port 80. Built from `tests/images/nginx/debootstrap.conf`.
    Nginx,
    /// `trace-test/bench:local`: busybox plus `/usr/local/bin/loop`, the workloads of
    /// `cargo xtask bench`, compiled from `tests/images/bench/loop.c` with `gcc -static`, and the
    /// host's `/usr/bin/strace` with its shared libraries. Default command `sleep 3600`.
    Bench,
}

impl TestImage {
    /// Every test image.
    pub const ALL: [Self; 6] = [
        Self::Busybox,
        Self::Demo,
        Self::Workload,
        Self::Python,
        Self::Nginx,
        Self::Bench,
    ];

    /// The local tag of the image.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Busybox => "trace-test/busybox:local",
            Self::Demo => "trace-demo/httpd:local",
            Self::Workload => "trace-test/workload:local",
            Self::Python => "trace-test/python:local",
            Self::Nginx => "trace-test/nginx:local",
            Self::Bench => "trace-test/bench:local",
        }
    }

    /// Built by debootstrap from `debootstrap.conf` rather than from a Dockerfile.
    fn debootstrapped(self) -> bool {
        matches!(self, Self::Python | Self::Nginx)
    }

    /// The folder under `tests/images/` that defines the image.
    fn dir(self) -> &'static str {
        match self {
            Self::Busybox => "busybox",
            Self::Demo => "demo",
            Self::Workload => "workload",
            Self::Python => "python",
            Self::Nginx => "nginx",
            Self::Bench => "bench",
        }
    }

    /// Host programs copied into the image with their shared libraries (part of its inputs).
    fn host_programs(self) -> &'static [&'static str] {
        match self {
            Self::Bench => &[STRACE],
            _ => &[],
        }
    }
}

/// The host's strace (Debian package strace), copied into the bench image.
const STRACE: &str = "/usr/bin/strace";

/// Builds `image` unless an up-to-date one is present; returns its tag.
///
/// Checked once per process (later calls return at once). Builds with `docker build`
/// (`DOCKER_BUILDKIT=0`, so the build needs no registry and no buildx), and prints a line to stderr
/// when it does.
pub fn ensure_image(image: TestImage) -> Result<String> {
    // Serializes concurrent tests, and remembers what this process has already checked.
    static CHECKED: Mutex<Vec<TestImage>> = Mutex::new(Vec::new());
    let mut checked = CHECKED.lock().unwrap_or_else(PoisonError::into_inner);
    let tag = image.tag();
    if !checked.contains(&image) {
        let inputs = Inputs::read(
            &workspace_root().join("tests/images").join(image.dir()),
            image.host_programs(),
        )
        .with_context(|| format!("reading the inputs of image {tag}"))?;
        let hash = inputs.hash();
        let present = docker::docker(&[
            "image",
            "inspect",
            "--format",
            &format!("{{{{.Id}}}} {{{{index .Config.Labels {INPUTS_LABEL:?}}}}}"),
            tag,
        ])?;
        let present = String::from_utf8_lossy(&present.stdout).trim().to_string();
        let (old_id, old_hash) = present.split_once(' ').unwrap_or((&present, ""));
        if old_hash != hash {
            let started = Instant::now();
            eprintln!("building image {tag} from tests/images/{}", image.dir());
            build(image, &inputs, tag, &hash).with_context(|| format!("building image {tag}"))?;
            eprintln!(
                "built image {tag} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            if !old_id.is_empty() {
                // The replaced image is now untagged; drop it unless a container still uses it.
                let _ = docker::docker(&["image", "rm", old_id]);
            }
        }
        checked.push(image);
    }
    Ok(tag.to_string())
}

/// Everything a build context is made of.
struct Inputs {
    /// The image folder: `Dockerfile` and `rootfs/`.
    dir: PathBuf,
    /// Files under `dir`, relative, sorted, with their contents and exec bit.
    files: Vec<(PathBuf, Vec<u8>, Kind)>,
    busybox: Vec<u8>,
    /// `busybox --list`: the applets to link in `/bin`.
    applets: Vec<String>,
    /// Host programs copied in with their libraries ([`TestImage::host_programs`]): path, contents.
    programs: Vec<(&'static str, Vec<u8>)>,
}

impl Inputs {
    fn read(dir: &Path, host_programs: &[&'static str]) -> Result<Self> {
        let mut files = Vec::new();
        collect_files(dir, Path::new(""), &mut files)?;
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let busybox = fs::read(BUSYBOX).with_context(|| {
            format!("reading {BUSYBOX} (install busybox-static, or run `cargo xtask setup`)")
        })?;
        let list = Command::new(BUSYBOX)
            .arg("--list")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running `{BUSYBOX} --list`"))?;
        if !list.status.success() {
            bail!("`{BUSYBOX} --list` failed ({})", list.status);
        }
        let applets = parse_applets(&String::from_utf8_lossy(&list.stdout));
        let programs = host_programs
            .iter()
            .map(|&path| {
                Ok((
                    path,
                    fs::read(path).with_context(|| format!("reading {path}"))?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
            busybox,
            applets,
            programs,
        })
    }

    /// A hex digest of everything that goes into the image.
    fn hash(&self) -> String {
        let mut h = Fnv64::new();
        h.write(&CONTEXT_FORMAT.to_le_bytes());
        for (path, contents, kind) in &self.files {
            h.write_field(path.as_os_str().as_bytes());
            h.write_field(contents);
            h.write(&[*kind as u8]);
        }
        h.write_field(&self.busybox);
        for applet in &self.applets {
            h.write_field(applet.as_bytes());
        }
        for (path, contents) in &self.programs {
            h.write_field(path.as_bytes());
            h.write_field(contents);
        }
        format!("{:016x}", h.0)
    }
}

/// What an input file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File = 0,
    Executable = 1,
    /// Its contents are the link's target.
    Symlink = 2,
}

/// Lists the regular files and symlinks under `root.join(rel)` (recursively), relative to `root`.
fn collect_files(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, Vec<u8>, Kind)>) -> Result<()> {
    let dir = root.join(rel);
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let rel = rel.join(entry.file_name());
        let meta = entry.metadata()?;
        if meta.is_dir() {
            collect_files(root, &rel, out)?;
        } else if meta.is_symlink() {
            let target = fs::read_link(entry.path())?;
            out.push((rel, target.as_os_str().as_bytes().to_vec(), Kind::Symlink));
        } else if meta.is_file() {
            let contents = fs::read(entry.path())?;
            let kind = if meta.permissions().mode() & 0o111 == 0 {
                Kind::File
            } else {
                Kind::Executable
            };
            out.push((rel, contents, kind));
        } else {
            bail!(
                "{}: only files, symlinks and folders are supported",
                entry.path().display()
            );
        }
    }
    Ok(())
}

fn parse_applets(list: &str) -> Vec<String> {
    let mut applets: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.contains('/') && *name != "busybox")
        .map(str::to_string)
        .collect();
    applets.sort();
    applets.dedup();
    applets
}

/// Writes the build context into a temporary folder and runs `docker build` on it.
fn build(image: TestImage, inputs: &Inputs, tag: &str, hash: &str) -> Result<()> {
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
fn build_debootstrap(inputs: &Inputs, tag: &str, hash: &str) -> Result<()> {
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
fn write_input(path: &Path, contents: &[u8], kind: Kind) -> Result<()> {
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

/// Compiles `source` to `rootfs/usr/local/bin/workload` with the host's gcc (dynamically linked)
/// and copies in the shared libraries it needs, each at its real path, plus every directory symlink
/// on the way to it as the host has it (e.g. Debian's `/lib -> usr/lib`), so that opening a library
/// by its usual name goes through a symlink as it does on a real distribution.
fn compile_workload(source: &Path, rootfs: &Path) -> Result<()> {
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
fn copy_with_libraries(program: &Path, rootfs: &Path) -> Result<()> {
    copy_with_symlinks(program, rootfs)?;
    copy_libraries(program, rootfs)
}

/// Copies the shared libraries `ldd` names for `binary` into `rootfs` (see [`copy_with_symlinks`]).
fn copy_libraries(binary: &Path, rootfs: &Path) -> Result<()> {
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
fn parse_ldd(output: &str) -> Vec<String> {
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
fn copy_with_symlinks(path: &Path, rootfs: &Path) -> Result<()> {
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

/// Sets the modification time of `path` and everything under it (symlinks themselves, not their
/// targets) to [`FIXED_MTIME`].
fn fix_mtimes(path: &Path) -> Result<()> {
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

/// 64-bit FNV-1a: a small hash whose value never changes between Rust releases (unlike std's).
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Writes the length first, so that fields cannot run into each other.
    fn write_field(&mut self, bytes: &[u8]) {
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv64_matches_the_reference_values() {
        let hash = |s: &[u8]| {
            let mut h = Fnv64::new();
            h.write(s);
            h.0
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn ldd_output_gives_absolute_library_paths() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n\t/lib64/ld-linux-x86-64.so.2 (0x7f)\n";
        assert_eq!(
            parse_ldd(out),
            [
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
    }

    #[test]
    fn applets_are_sorted_plain_names() {
        let applets = parse_applets("sh\n[\nls\n\nbusybox\nls\n/bad\n");
        assert_eq!(applets, ["[", "ls", "sh"]);
    }

    #[test]
    fn image_folders_exist_with_a_dockerfile_from_scratch() {
        for image in TestImage::ALL {
            let dir = workspace_root().join("tests/images").join(image.dir());
            if image.debootstrapped() {
                assert!(dir.join("debootstrap.conf").is_file());
            } else {
                let dockerfile = fs::read_to_string(dir.join("Dockerfile")).unwrap();
                assert!(dockerfile.contains("FROM scratch"), "{}", image.tag());
            }
            assert!(dir.join("rootfs").is_dir(), "{}", image.tag());
            assert!(image.tag().ends_with(":local"));
        }
    }

    #[test]
    fn file_contents_and_modes_change_the_hash() {
        let inputs = |contents: &[u8], exec| Inputs {
            dir: PathBuf::new(),
            files: vec![(
                "rootfs/x".into(),
                contents.to_vec(),
                if exec { Kind::Executable } else { Kind::File },
            )],
            busybox: b"bb".to_vec(),
            applets: vec!["sh".into()],
            programs: vec![],
        };
        let base = inputs(b"1", false).hash();
        assert_eq!(base, inputs(b"1", false).hash());
        assert_ne!(base, inputs(b"2", false).hash());
        assert_ne!(base, inputs(b"1", true).hash());
    }

    #[test]
    fn build_context_mtimes_are_fixed() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/f"), "x").unwrap();
        symlink("/nonexistent", dir.path().join("d/l")).unwrap();
        fix_mtimes(dir.path()).unwrap();
        for p in ["", "d", "d/f", "d/l"] {
            let meta = fs::symlink_metadata(dir.path().join(p)).unwrap();
            assert_eq!(
                meta.modified().unwrap(),
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(u64::try_from(FIXED_MTIME).unwrap()),
                "{p}"
            );
        }
    }
}
