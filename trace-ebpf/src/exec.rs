//! Executed programs: the `sched:sched_process_exec` tracepoint, which fires once the new
//! program is in place (a successful `execve`/`execveat`; failed ones are file records of
//! `files::file_path`).
//!
//! Two records per first sighting: a file record (op `Exec`: the file name as passed, its base if
//! relative, the executable's absolute path) keyed by the name and the executable, and an exec record (the
//! executable's path and the argument area) keyed by the executable and a hash of the arguments.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use trace_common::{ARGV_MAX, ExecRecord, FileOp, RECORD_EXEC};

use crate::{
    OFFSETS, Target, current_target,
    files::{FileCall, emit},
    global,
    kernel::{PathRef, current_task, file_f_path, fs_root, read, read_ptr},
    path::{
        Builder, DedupKey, KEY_EXEC, current_pid, hash_record, key_tag, record, remember, scratch,
        seen, walk,
    },
    phases::{exec_filename, exec_phase},
};

/// `sched:sched_process_exec`.
#[tracepoint]
pub fn exec_done(ctx: TracePointContext) -> u32 {
    if let Some(target) = current_target() {
        let _ = try_exec_done(&ctx, target);
    }
    0
}

fn try_exec_done(ctx: &TracePointContext, mut target: Target) -> Result<(), i64> {
    let filename = exec_filename(ctx);
    // `phases::phase_exec` moves the target to the application on this very exec, but may run
    // before or after this program: the phase is decided here the same way.
    target.phase = exec_phase(target.phase, filename);

    let mm = read_ptr(current_task(), global!(OFFSETS.task_mm))?;
    let exe = file_f_path(read_ptr(mm, global!(OFFSETS.mm_exe_file))?)?;

    let mut call = FileCall::new(FileOp::Exec, target, 0);
    call.path = filename;
    call.path_in_kernel = true;
    call.object = exe;
    let _ = emit(&call);
    exec_record(mm, exe, &target)
}

/// Sends the exec record unless this program ran with these arguments before.
#[inline(always)]
fn exec_record(mm: u64, exe: PathRef, target: &Target) -> Result<(), i64> {
    let (Some(s), Some(rec)) = (scratch(), record()) else {
        return Err(-1);
    };
    let header = size_of::<ExecRecord>() as u64;
    let mut b = Builder::new(rec, header);

    let start: u64 = read(mm.wrapping_add(global!(OFFSETS.mm_arg_start)))?;
    let end: u64 = read(mm.wrapping_add(global!(OFFSETS.mm_arg_end)))?;
    let mut truncated = 0u8;
    let mut argv_len = end.saturating_sub(start);
    if argv_len > ARGV_MAX as u64 {
        argv_len = ARGV_MAX as u64;
        truncated |= 2;
    }
    let argv_len = b.user_bytes(start, argv_len).unwrap_or_else(|| {
        truncated |= 2;
        0
    });

    let key = DedupKey {
        a: exe.dentry,
        b: exe.vfsmnt,
        c: hash_record(s, header, argv_len),
        d: key_tag(KEY_EXEC, FileOp::Exec as u32, target.phase, 0, 0),
        t: target.cgroup_id,
    };
    if seen(&key) {
        return Ok(());
    }
    let mut path_len = 0;
    match walk(s, exe, fs_root()?).map(|cut| (cut, b.walked(s))) {
        Ok((cut, Some(len))) => {
            path_len = len;
            truncated |= u8::from(cut);
        }
        _ => truncated |= 1,
    }
    let head = ExecRecord {
        kind: RECORD_EXEC,
        pid: current_pid(),
        cgroup_id: target.cgroup_id,
        argv_len: argv_len as u16,
        path_len: path_len as u16,
        truncated,
        phase: target.phase as u8,
        pad: 0,
    };
    // SAFETY: the record buffer starts 8-aligned and holds far more than the header.
    unsafe { core::ptr::write(rec.cast::<ExecRecord>(), head) };
    if b.send(target.slot, RECORD_EXEC) {
        remember(&key);
    }
    Ok(())
}
