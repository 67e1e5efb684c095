//! Capability checks: the `capability:cap_capable` tracepoint (recent kernels), or on kernels
//! without it an fexit program on the `cap_capable` function itself, adds one per check to a
//! per-CPU counter per (capability, verdict, checker). runc's checks (before the
//! entrypoint runs, and those of a `docker exec` init) and the kernel's checks with borrowed
//! credentials (overlayfs) are counted apart from the application's.
//! Nothing goes to the ring buffer.

use aya_ebpf::{
    macros::{fexit, tracepoint},
    programs::{FExitContext, TracePointContext},
};
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

/// `cap_capable(cred, target_ns, cap, opts)` returned `ret` (its fifth slot): the same check,
/// where the tracepoint is missing (before 6.14).
#[fexit(function = "cap_capable")]
pub fn cap_check_fexit(ctx: FExitContext) -> u32 {
    if let Some(target) = current_target() {
        let cred: u64 = ctx.arg(0);
        let cap: u64 = ctx.arg(2);
        let ret: u64 = ctx.arg(4);
        count_check(
            Some(cred),
            cap as u32,
            ret as i32,
            target.slot,
            target.phase,
        );
    }
    0
}

/// Who the check counts for: runc (its phases, or a `docker exec` init), the kernel acting with
/// other credentials than the task's own (`cred`; overlayfs uses its mounter's), or the
/// application.
#[inline(always)]
fn checker(cred: Option<u64>, phase: Phase) -> CapChecker {
    if phase != Phase::Application || runc_task() {
        return CapChecker::Runc;
    }
    let real_cred_at = global!(OFFSETS.task_real_cred);
    if real_cred_at == NO_OFFSET {
        return CapChecker::Application;
    }
    let real: Result<u64, i64> = read(current_task().wrapping_add(real_cred_at));
    match (cred, real) {
        (Some(cred), Ok(real)) if cred != real => CapChecker::OtherCredentials,
        _ => CapChecker::Application,
    }
}

/// Counts one check of `cap` with result `ret` (non-zero: denied).
#[inline(always)]
fn count_check(cred: Option<u64>, cap: u32, ret: i32, slot: u32, phase: Phase) {
    if let Some(cap) = cap_slot(cap, ret != 0, checker(cred, phase)) {
        count(&CAPS, slot * CAP_SLOTS + cap);
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
    let cred_at = global!(CAP_CRED_OFFSET) as usize;
    // SAFETY: as above.
    let cred: Option<u64> = unsafe { ctx.read_at(cred_at) }.ok();
    count_check(cred, cap as u32, ret, slot, phase);
    Ok(())
}
