//! Booting a guest under qemu with software emulation until it powers itself off.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::image::Image;

/// The most a guest may take from boot to power-off; the checks take 3-5 minutes under TCG.
const TIMEOUT: Duration = Duration::from_mins(20);
/// The guest's memory, MiB.
const MEMORY: &str = "3072";
/// Lines of the console shown when a guest does not finish.
const CONSOLE_TAIL: usize = 15;

/// Boots `image` with `share` as the guest's `/mnt/vm` and waits until the guest powers off. The
/// root file system is opened in snapshot mode: the cached image is never written. The console
/// goes to `console.log` beside the shared folder.
pub fn boot(image: &Image, share: &Path) -> Result<()> {
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
            "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=0",
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
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                let log = fs::read_to_string(share.with_extension("qemu.log")).unwrap_or_default();
                bail!("qemu failed ({status}): {}", log.trim());
            }
            return Ok(());
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the guest did not power off within {} s; its console ended with: {}",
                TIMEOUT.as_secs(),
                tail(&console)
            );
        }
        sleep(Duration::from_millis(500));
    }
}

/// The last lines of the console, joined.
fn tail(console: &Path) -> String {
    let text = fs::read(console).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(CONSOLE_TAIL)..].join(" | ")
}
