//! Capability checks: the `capability:cap_capable` tracepoint (recent kernels) adds one per
//! check to a per-CPU counter per (capability, verdict, checker). runc's checks (before the
//! entrypoint runs, and those of a `docker exec` init) and the kernel's checks with borrowed
//! credentials (overlayfs) are counted apart from the application's.
//! Nothing goes to the ring buffer.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use trace_common::{CAP_SLOTS, CapChecker, NO_OFFSET, Phase, cap_slot};

use crate::{
    CAP_CRED_OFFSET, CAP_FIELD_OFFSET, CAP_RET_OFFSET, CAPS, OFFSETS, count, current_target,
    global,
    kernel::{current_task, read},
    runc_task,
};

/// `capability:cap_capable(cred, target_ns, capable_ns, cap, ret)`; `ret != 0` is a denial.
#[tracepoint]
pub fn cap_check(ctx: TracePointContext) -> u32 {
    if let Some(target) = current_target() {
        let _ = try_cap_check(&ctx, target.slot, target.phase);
    }
    0
}

/// Who the check counts for: runc (its phases, or a `docker exec` init), the kernel acting with
/// other credentials than the task's own (overlayfs uses its mounter's), or the application.
#[inline(always)]
fn checker(ctx: &TracePointContext, phase: Phase) -> CapChecker {
    if phase != Phase::Application || runc_task() {
        return CapChecker::Runc;
    }
    let real_cred_at = global!(OFFSETS.task_real_cred);
    if real_cred_at == NO_OFFSET {
        return CapChecker::Application;
    }
    let cred_at = global!(CAP_CRED_OFFSET) as usize;
    // SAFETY: the helper reads the tracepoint record safely.
    let cred: Result<u64, _> = unsafe { ctx.read_at(cred_at) };
    let real: Result<u64, i64> = read(current_task().wrapping_add(real_cred_at));
    match (cred, real) {
        (Ok(cred), Ok(real)) if cred != real => CapChecker::OtherCredentials,
        _ => CapChecker::Application,
    }
}

fn try_cap_check(ctx: &TracePointContext, slot: u32, phase: Phase) -> Result<(), i64> {
    // The offsets come from the tracepoint's format file; the verifier does not allow direct
    // context loads at offsets it cannot see as constants, so these are helper reads.
    let (cap_at, ret_at) = (global!(CAP_FIELD_OFFSET), global!(CAP_RET_OFFSET));
    // SAFETY: the helper reads the tracepoint record safely.
    let cap: i32 = unsafe { ctx.read_at(cap_at as usize) }.map_err(i64::from)?;
    // SAFETY: as above.
    let ret: i32 = unsafe { ctx.read_at(ret_at as usize) }.map_err(i64::from)?;
    if let Some(cap) = cap_slot(cap as u32, ret != 0, checker(ctx, phase)) {
        count(&CAPS, slot * CAP_SLOTS + cap);
    }
    Ok(())
}
