//! The checks before anything is started: privileges and kernel BTF.

use std::{fs, io, path::Path};

use super::{ProbeError, VMLINUX_BTF, btf};

const PROC_STATUS: &str = "/proc/self/status";
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Checks, before anything is started, that this process may load BPF and the kernel has what the
/// probe needs (BTF). Errors say what to do.
///
/// It also reads the kernel's BTF (once per process: ~3 ms, or ~150 ms on kernels that cannot
/// mmap it), so that [`super::Probe::load`] is quick.
pub fn preflight() -> Result<(), ProbeError> {
    let status = fs::read_to_string(PROC_STATUS).map_err(|source| ProbeError::Capabilities {
        path: PROC_STATUS,
        source,
    })?;
    let cap_eff = parse_cap_eff(&status).ok_or_else(|| ProbeError::Capabilities {
        path: PROC_STATUS,
        source: io::Error::new(io::ErrorKind::InvalidData, "no CapEff line"),
    })?;
    if !may_load_bpf(cap_eff) {
        return Err(ProbeError::NotPrivileged { cap_eff });
    }
    if !Path::new(VMLINUX_BTF).exists() {
        return Err(ProbeError::NoBtf { path: VMLINUX_BTF });
    }
    btf::kernel_layout().map(drop)
}

/// The `CapEff:` mask of a `/proc/<pid>/status` text.
fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// `CAP_BPF` with `CAP_PERFMON` (tracing programs, kernel reads), or `CAP_SYS_ADMIN` (older kernels).
fn may_load_bpf(cap_eff: u64) -> bool {
    let has = |cap: u32| cap_eff & (1u64 << cap) != 0;
    (has(CAP_BPF) && has(CAP_PERFMON)) || has(CAP_SYS_ADMIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities() {
        let status = "Name:\ttrace\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_ffff_ffff));
        assert!(may_load_bpf(0x1ff_ffff_ffff));
        assert!(may_load_bpf(1 << CAP_SYS_ADMIN));
        assert!(may_load_bpf((1 << CAP_BPF) | (1 << CAP_PERFMON)));
        assert!(!may_load_bpf(1 << CAP_BPF));
        assert!(!may_load_bpf(0));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }
}
