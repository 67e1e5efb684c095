//! The floor of the system call counter's cost: trace-ebpf's empty `floor` program on the same
//! attach point (raw tracepoint `sys_enter`). trace never attaches it; benchmarks
//! (`cargo xtask bench`) do, to measure what the kernel's tracepoint dispatch alone costs.

use aya::{EbpfLoader, programs::RawTracePoint};

use super::{ProbeError, SYSCALL_TRACEPOINT, embedded_object, raise_memlock_rlimit};

/// The empty program (a function name in trace-ebpf).
const FLOOR_PROGRAM: &str = "floor";
/// Where it attaches, for errors.
const FLOOR_ATTACH: &str = "raw_tracepoint/sys_enter";

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
        let load_error = |source| ProbeError::LoadProgram {
            program: FLOOR_PROGRAM,
            source,
        };
        let program: &mut RawTracePoint = ebpf
            .program_mut(FLOOR_PROGRAM)
            .ok_or(ProbeError::Missing {
                kind: "program",
                name: FLOOR_PROGRAM,
            })?
            .try_into()
            .map_err(load_error)?;
        program.load().map_err(load_error)?;
        program
            .attach(SYSCALL_TRACEPOINT)
            .map_err(|source| ProbeError::Attach {
                program: FLOOR_PROGRAM,
                attach_point: FLOOR_ATTACH,
                source,
            })?;
        Ok(Floor { _ebpf: ebpf })
    }
}
