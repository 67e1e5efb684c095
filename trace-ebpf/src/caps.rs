//! Capability checks: the `capability:cap_capable` tracepoint (recent kernels) adds one per
//! check to a per-CPU counter per (capability, verdict, checker). runc's checks (before the
//! entrypoint runs, and those of a `docker exec` init) are counted apart from the application's.
//! Nothing goes to the ring buffer.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use trace_common::{Phase, cap_slot};

use crate::{CAP_FIELD_OFFSET, CAP_RET_OFFSET, CAPS, count, global, runc_task, target_phase};

/// `capability:cap_capable(cred, target_ns, capable_ns, cap, ret)`; `ret != 0` is a denial.
#[tracepoint]
pub fn cap_check(ctx: TracePointContext) -> u32 {
    if let Some(phase) = target_phase() {
        let _ = try_cap_check(&ctx, phase != Phase::Application || runc_task());
    }
    0
}

fn try_cap_check(ctx: &TracePointContext, runc: bool) -> Result<(), i64> {
    // The offsets come from the tracepoint's format file; the verifier does not allow direct
    // context loads at offsets it cannot see as constants, so these are helper reads.
    let (cap_at, ret_at) = (global!(CAP_FIELD_OFFSET), global!(CAP_RET_OFFSET));
    // SAFETY: the helper reads the tracepoint record safely.
    let cap: i32 = unsafe { ctx.read_at(cap_at as usize) }.map_err(i64::from)?;
    // SAFETY: as above.
    let ret: i32 = unsafe { ctx.read_at(ret_at as usize) }.map_err(i64::from)?;
    if let Some(slot) = cap_slot(cap as u32, ret != 0, runc) {
        count(&CAPS, slot);
    }
    Ok(())
}
