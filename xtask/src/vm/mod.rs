//! `cargo xtask vm`: trace on the hosts users run, each a Debian guest booted under qemu.
//!
//! Each guest is a stock Debian install (its distribution kernel, systemd, cgroup v2, Docker's
//! systemd cgroup driver, AppArmor enforcing) built with debootstrap and cached under
//! `target/vm/` ([`image`]). It boots with software emulation (nested KVM does not work on the
//! machines the project runs on) and runs `xtask/vm/guest.sh` once Docker is up: trace run and
//! attach, both generated profiles enforced while the exercise passes, no AppArmor denial, an
//! unused call and file refused, `docker stop` clean under the profile, no recording gap
//! ([`boot`]). The guest shares one folder with the host (9p): the inputs (the `trace` binary,
//! the test images, the scripts) and the results, which [`results`] reads.

mod boot;
mod image;
mod results;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use trace_tests::{TestImage, ensure_image, workspace_root};

use crate::cli::VmArgs;
use crate::cmd::{self, target_dir};

/// A Debian release booted as a guest, with its own kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Guest {
    /// Debian 12, kernel 6.1.
    Bookworm,
    /// Debian 13, kernel 6.12.
    Trixie,
}

impl Guest {
    pub const ALL: [Self; 2] = [Self::Bookworm, Self::Trixie];

    /// The Debian suite.
    pub fn suite(self) -> &'static str {
        match self {
            Self::Bookworm => "bookworm",
            Self::Trixie => "trixie",
        }
    }

    /// Packages this release needs beyond the common ones: Debian 13 moved Docker's command
    /// line out of `docker.io`.
    pub fn extra_packages(self) -> &'static [&'static str] {
        match self {
            Self::Bookworm => &[],
            Self::Trixie => &["docker-cli"],
        }
    }

    /// Its name for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Bookworm => "Debian 12 (bookworm)",
            Self::Trixie => "Debian 13 (trixie)",
        }
    }
}

/// The images the guest's checks run, saved into the shared folder.
const IMAGES: [TestImage; 3] = [TestImage::Nginx, TestImage::Demo, TestImage::Busybox];

/// Runs the VM tier; each guest starts its checks once `released` is set (at once for
/// `cargo xtask vm`; `cargo xtask test` sets it when its other tests are done).
pub fn run(args: &VmArgs, released: &AtomicBool) -> Result<()> {
    let trace = if let Some(path) = &args.trace {
        path.clone()
    } else {
        cmd::run(cmd::cargo().args(["build", "-p", "trace-user", "--bin", "trace"]))?;
        target_dir().join("debug/trace")
    };
    let guests = if args.guest.is_empty() {
        Guest::ALL.to_vec()
    } else {
        args.guest.clone()
    };
    let work = target_dir().join("vm");
    let images = save_images(&work)?;
    // The guests build and boot side by side: most of a build waits on the mirror, and a
    // guest's checks leave a CPU idle much of the time.
    let reports: Vec<(Guest, Result<results::Report>, f64)> = std::thread::scope(|scope| {
        let runs: Vec<_> = guests
            .iter()
            .map(|&guest| {
                let (work, trace, images) = (&work, &trace, &images);
                scope.spawn(move || {
                    let started = Instant::now();
                    let report = run_guest(guest, work, trace, images, released);
                    (guest, report, started.elapsed().as_secs_f64())
                })
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("a guest's thread does not panic"))
            .collect()
    });
    let mut failed = Vec::new();
    for (guest, report, seconds) in reports {
        let name = guest.describe();
        match report {
            Ok(report) => {
                eprint!("{}", report.render(name));
                let verdict = if report.passed() { "passed" } else { "FAILED" };
                eprintln!("vm: {name}: {verdict} in {seconds:.0} s");
                if !report.passed() {
                    failed.push(name);
                }
            }
            Err(e) => {
                eprintln!("vm: {name}: {}", cmd::one_line(&e));
                failed.push(name);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("the VM tier failed on {}", failed.join(", "))
    }
}

/// Builds every guest's image that is missing or out of date, side by side (`cargo xtask test`
/// runs this while it lints, builds and runs the other tiers: it mostly waits on the mirror).
pub fn build_images() -> Result<()> {
    let work = target_dir().join("vm");
    std::thread::scope(|scope| {
        let builds: Vec<_> = Guest::ALL
            .iter()
            .map(|&guest| {
                let work = &work;
                scope.spawn(move || image::ensure(guest, work).map(drop))
            })
            .collect();
        builds
            .into_iter()
            .try_for_each(|build| build.join().expect("an image build does not panic"))
    })
}

/// Boots `guest` on its cached image with a fresh shared folder, and reads its results.
fn run_guest(
    guest: Guest,
    work: &Path,
    trace: &Path,
    images: &Path,
    released: &AtomicBool,
) -> Result<results::Report> {
    let image = image::ensure(guest, work)?;
    let share = work.join(format!("{}-share", guest.suite()));
    if share.exists() {
        fs::remove_dir_all(&share).with_context(|| format!("removing {}", share.display()))?;
    }
    let (inputs, outputs) = (share.join("in"), share.join("out"));
    fs::create_dir_all(&inputs)?;
    fs::create_dir_all(&outputs)?;
    copy(trace, &inputs.join("trace"))?;
    let scripts = workspace_root().join("xtask");
    copy(&scripts.join("vm/guest.sh"), &inputs.join("guest.sh"))?;
    copy(&scripts.join("vm/exercise.sh"), &inputs.join("exercise.sh"))?;
    // A hard link: the saved images are large and the same for every guest.
    fs::hard_link(images, inputs.join("images.tar"))
        .or_else(|_| copy(images, &inputs.join("images.tar")))?;
    eprintln!(
        "vm: {}: booting (results in {})",
        guest.describe(),
        outputs.display()
    );
    boot::boot(&image, &share, released)?;
    results::read(&outputs).with_context(|| {
        format!(
            "its console ended with: {}",
            boot::tail(&share.with_extension("console.log"))
        )
    })
}

/// `docker save` of the test images, once per run.
fn save_images(work: &Path) -> Result<PathBuf> {
    fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    let tags = IMAGES
        .iter()
        .map(|&image| ensure_image(image))
        .collect::<Result<Vec<_>>>()?;
    let path = work.join("images.tar");
    cmd::run(
        std::process::Command::new("docker")
            .args(["save", "-o"])
            .arg(&path)
            .args(&tags),
    )?;
    Ok(path)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}
