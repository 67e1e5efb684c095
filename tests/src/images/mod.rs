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
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{docker, workspace_root};

mod build;
mod compile;
#[cfg(test)]
mod tests;

use build::build;
pub use compile::{Linking, compile_c};
use compile::{compile_workload, copy_with_libraries};

/// The static busybox that every image is made of (Debian package busybox-static).
const BUSYBOX: &str = "/bin/busybox";
/// The image label that holds the hash of the build inputs.
pub(crate) const INPUTS_LABEL: &str = "trace.inputs";
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
    /// `trace-test/redis:local`: a Debian bookworm minbase with redis-server (debootstrap), in the
    /// foreground on port 6379, in memory only (`/etc/redis/bench.conf`). Built from
    /// `tests/images/redis/debootstrap.conf`; the bench's services use it, not the tests, so it
    /// is not one of [`TestImage::ALL`].
    Redis,
    /// `trace-test/bench:local`: busybox plus `/usr/local/bin/loop`, the workloads of
    /// `cargo xtask bench`, compiled from `tests/images/bench/loop.c` with `gcc -static`, and the
    /// host's `/usr/bin/strace` with its shared libraries. Default command `sleep 3600`.
    Bench,
    /// `trace-test/pause:local`: busybox plus `/pause` (its entrypoint), compiled from
    /// `tests/images/pause/pause.c` with `gcc -static`: the sandbox image of the CRI tests.
    Pause,
}

impl TestImage {
    /// Every image the tests use (setup builds them; the bench builds redis when it needs it).
    pub const ALL: [Self; 7] = [
        Self::Busybox,
        Self::Demo,
        Self::Workload,
        Self::Python,
        Self::Nginx,
        Self::Bench,
        Self::Pause,
    ];

    /// The local tag of the image.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Busybox => "trace-test/busybox:local",
            Self::Demo => "trace-demo/httpd:local",
            Self::Workload => "trace-test/workload:local",
            Self::Python => "trace-test/python:local",
            Self::Nginx => "trace-test/nginx:local",
            Self::Redis => "trace-test/redis:local",
            Self::Bench => "trace-test/bench:local",
            Self::Pause => "trace-test/pause:local",
        }
    }

    /// Built by debootstrap from `debootstrap.conf` rather than from a Dockerfile.
    fn debootstrapped(self) -> bool {
        matches!(self, Self::Python | Self::Nginx | Self::Redis)
    }

    /// The folder under `tests/images/` that defines the image.
    fn dir(self) -> &'static str {
        match self {
            Self::Busybox => "busybox",
            Self::Demo => "demo",
            Self::Workload => "workload",
            Self::Python => "python",
            Self::Nginx => "nginx",
            Self::Redis => "redis",
            Self::Bench => "bench",
            Self::Pause => "pause",
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
