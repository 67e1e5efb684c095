//! Booting a guest under qemu with software emulation until it powers itself off.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::image::Image;

/// The most a guest may take from the release of its checks to power-off; the checks take 3-5
/// minutes under TCG.
const TIMEOUT: Duration = Duration::from_mins(20);
/// The most a guest may wait for that release.
const RELEASE_TIMEOUT: Duration = Duration::from_hours(1);
/// The guest's memory, MiB.
const MEMORY: &str = "3072";
/// Lines of the console shown when a guest does not finish.
const CONSOLE_TAIL: usize = 15;

/// Boots `image` with `share` as the guest's `/mnt/vm` and waits until the guest powers off. The
/// guest boots and loads the images at once, and starts its checks once `released` is set (the
/// host writes `in/go`). The root file system is opened in snapshot mode: the cached image is
/// never written. The console goes to `console.log` beside the shared folder.
pub fn boot(image: &Image, share: &Path, released: &AtomicBool) -> Result<()> {
    let console = share.with_extension("console.log");
    // At the lowest CPU priority: `cargo xtask test` runs the guests beside its other tests,
    // which come first.
    let mut qemu = Command::new("nice");
    qemu.args(["-n", "19", "qemu-system-x86_64"])
        .args(["-accel", "tcg,thread=multi", "-smp", "2", "-m", MEMORY])
        .arg("-kernel")
        .arg(&image.kernel)
        .arg("-initrd")
        .arg(&image.initrd)
        .args([
            "-append",
            // no_timer_check: a guest starved of CPU (low priority, emulated) must not fail the
            // early check that its timer ticks ("IO-APIC + timer doesn't work").
            "root=/dev/vda rw console=ttyS0 panic=-1 no_timer_check systemd.show_status=0",
        ])
        .arg("-drive")
        .arg(format!(
            "file={},format=raw,if=virtio,snapshot=on",
            image.root.display()
        ))
        .arg("-fsdev")
        .arg(format!(
            "local,id=vm,path={},security_model=none",
            share.display()
        ))
        .args(["-device", "virtio-9p-pci,fsdev=vm,mount_tag=vm"])
        .args(["-nic", "none", "-display", "none", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-no-reboot")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(share.with_extension("qemu.log"))?);
    let mut child = qemu
        .spawn()
        .context("cannot start qemu-system-x86_64 through nice (run `cargo xtask setup`)")?;
    let booted = Instant::now();
    let mut released_at = None;
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                let log = fs::read_to_string(share.with_extension("qemu.log")).unwrap_or_default();
                bail!("qemu failed ({status}): {}", log.trim());
            }
            return Ok(());
        }
        if released_at.is_none() && released.load(Ordering::Acquire) {
            fs::write(share.join("in/go"), "")?;
            released_at = Some(Instant::now());
        }
        let late = match released_at {
            Some(at) => at.elapsed() > TIMEOUT,
            None => booted.elapsed() > RELEASE_TIMEOUT,
        };
        if late {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the guest did not power off within {} s of its release; its console ended with: {}",
                TIMEOUT.as_secs(),
                tail(&console)
            );
        }
        sleep(Duration::from_millis(500));
    }
}

/// The last lines of the console, joined.
pub fn tail(console: &Path) -> String {
    let text = fs::read(console).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(CONSOLE_TAIL)..].join(" | ")
}
