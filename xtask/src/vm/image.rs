//! A guest's root file system image, built from Debian's packages and cached.
//!
//! debootstrap installs a minimal Debian with the distribution's kernel, systemd, Docker,
//! AppArmor's tools, busybox (wget for the checks) and python3 (reads recordings); the guest is
//! then configured to mount the shared folder and run the checks at boot
//! (`xtask/vm/trace-vm.service`), and `mkfs.ext4 -d` makes the image. The kernel and initrd
//! are taken out of it for qemu's `-kernel`. An image is rebuilt when its recipe changed
//! ([`Recipe::stamp`]); building takes about two minutes.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::Guest;
use crate::cmd;

/// Debian's packages on top of debootstrap's minbase (and [`Guest::extra_packages`]).
const PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "systemd-sysv",
    "udev",
    "kmod",
    "docker.io",
    "apparmor",
    "busybox",
    "python3",
    "e2fsprogs",
];
const MIRROR: &str = "http://deb.debian.org/debian";
/// The unit that runs the checks at boot.
const SERVICE: &str = include_str!("../../vm/trace-vm.service");
/// The root file system's size (a sparse file; the guest loads the test images into it).
const ROOT_SIZE: &str = "6G";
/// Bump when the way an image is made changes, so that cached images get rebuilt.
const FORMAT: u32 = 1;

/// A built image: the root file system and the kernel and initrd to boot it with.
pub struct Image {
    pub root: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
}

/// What an image is made of; its stamp names a cached image.
struct Recipe {
    guest: Guest,
}

impl Recipe {
    fn stamp(&self) -> String {
        format!(
            "format {FORMAT}\nsuite {}\nmirror {MIRROR}\npackages {}\nsize {ROOT_SIZE}\n{SERVICE}",
            self.guest.suite(),
            self.packages()
        )
    }

    /// The packages, comma-separated as debootstrap's `--include` takes them.
    fn packages(&self) -> String {
        let mut all = PACKAGES.to_vec();
        all.extend(self.guest.extra_packages());
        all.join(",")
    }
}

/// The cached image of `guest` under `work`, built first when missing or out of date.
pub fn ensure(guest: Guest, work: &Path) -> Result<Image> {
    let dir = work.join(guest.suite());
    let image = Image {
        root: dir.join("root.ext4"),
        kernel: dir.join("vmlinuz"),
        initrd: dir.join("initrd.img"),
    };
    let recipe = Recipe { guest };
    let stamp_path = dir.join("stamp");
    let stamp = recipe.stamp();
    if fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp)
        && [&image.root, &image.kernel, &image.initrd]
            .iter()
            .all(|p| p.is_file())
    {
        return Ok(image);
    }
    let started = Instant::now();
    eprintln!("vm: building the {} image", guest.describe());
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    build(&recipe, &dir, &image)
        .with_context(|| format!("building the {} image", guest.suite()))?;
    fs::write(&stamp_path, stamp)?;
    eprintln!(
        "vm: built the {} image in {:.0} s",
        guest.describe(),
        started.elapsed().as_secs_f64()
    );
    Ok(image)
}

fn build(recipe: &Recipe, dir: &Path, image: &Image) -> Result<()> {
    let rootfs = dir.join("rootfs");
    let log = dir.join("debootstrap.log");
    let output = Command::new("debootstrap")
        .args(["--variant=minbase", "--include"])
        .arg(recipe.packages())
        .arg(recipe.guest.suite())
        .arg(&rootfs)
        .arg(MIRROR)
        .output()
        .context("cannot run debootstrap (run `cargo xtask setup`)")?;
    fs::write(&log, [output.stdout, output.stderr].concat())?;
    if !output.status.success() {
        bail!(
            "debootstrap failed ({}); its log is {}",
            output.status,
            log.display()
        );
    }
    configure(&rootfs)?;
    let boot = rootfs.join("boot");
    copy_newest(&boot, "vmlinuz-", &image.kernel)?;
    copy_newest(&boot, "initrd.img-", &image.initrd)?;
    cmd::run(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "root", "-d"])
            .arg(&rootfs)
            .arg(&image.root)
            .arg(ROOT_SIZE),
    )?;
    fs::remove_dir_all(&rootfs).with_context(|| format!("removing {}", rootfs.display()))
}

/// Mounts the root and the shared folder, names the host, lets root log in on the console
/// (for a developer watching it), and enables the checks' unit.
fn configure(rootfs: &Path) -> Result<()> {
    let etc = rootfs.join("etc");
    fs::write(
        etc.join("fstab"),
        "/dev/vda / ext4 rw,errors=remount-ro 0 1\n\
         vm /mnt/vm 9p trans=virtio,version=9p2000.L,msize=524288 0 0\n",
    )?;
    fs::write(etc.join("hostname"), "trace-vm\n")?;
    fs::create_dir_all(rootfs.join("mnt/vm"))?;
    cmd::run(
        Command::new("chroot")
            .arg(rootfs)
            .args(["passwd", "-d", "root"]),
    )?;
    let units = etc.join("systemd/system");
    fs::write(units.join("trace-vm.service"), SERVICE)?;
    let wants = units.join("multi-user.target.wants");
    fs::create_dir_all(&wants)?;
    symlink(
        "/etc/systemd/system/trace-vm.service",
        wants.join("trace-vm.service"),
    )?;
    // The package cache is not needed in the image.
    let archives = rootfs.join("var/cache/apt/archives");
    for entry in fs::read_dir(&archives)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "deb") {
            fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// Copies the file of `dir` whose name starts with `prefix` and sorts last (the newest kernel).
fn copy_newest(dir: &Path, prefix: &str, to: &Path) -> Result<()> {
    let newest = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .max()
        .with_context(|| format!("no {prefix}* in {}", dir.display()))?;
    fs::copy(dir.join(&newest), to)
        .with_context(|| format!("copying {newest} out of the image"))?;
    Ok(())
}
