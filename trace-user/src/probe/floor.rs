//! The floor of the system call counter's cost: trace-ebpf's empty `floor` program on the same
//! attach point (raw tracepoint `sys_enter`). trace never attaches it; benchmarks
//! (`cargo xtask bench`) do, to measure what the kernel's tracepoint dispatch alone costs.

use aya::EbpfLoader;

use super::attach::{attach_sys_enter, raise_memlock_rlimit};
use super::{ProbeError, embedded_object};

/// The empty program (a function name in trace-ebpf).
const FLOOR_PROGRAM: &str = "floor";

/// trace-ebpf's empty `floor` program, attached to `sys_enter`; dropping it detaches it.
pub struct Floor {
    _ebpf: aya::Ebpf,
}

impl Floor {
    /// Loads the embedded object and attaches only the `floor` program (the object's maps are
    /// created but no other program runs).
    pub fn attach() -> Result<Floor, ProbeError> {
        raise_memlock_rlimit();
        let mut ebpf = EbpfLoader::new()
            .btf(None)
            .load(embedded_object())
            .map_err(|source| ProbeError::Object { source })?;
        attach_sys_enter(&mut ebpf, FLOOR_PROGRAM)?;
        Ok(Floor { _ebpf: ebpf })
    }
}
