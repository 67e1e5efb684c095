//! Executed programs: the `sched:sched_process_exec` tracepoint, which fires once the new
//! program is in place (a successful `execve`/`execveat`; failed ones are file records of
//! `files::file_path`).
//!
//! Two records per first sighting: a file record (op `Exec`: the file name as passed, its base if
//! relative, the executable's absolute path) keyed by the executable, and an exec record (the
//! executable's path and the argument area) keyed by the executable and a hash of the arguments.

use aya_ebpf::{EbpfContext as _, macros::tracepoint, programs::TracePointContext};
use trace_common::{ARGV_MAX, ExecRecord, FileOp, RECORD_EXEC};

use crate::{
    OFFSETS,
    files::{FileCall, emit},
    global, in_target,
    kernel::{PathRef, current_task, file_f_path, fs_root, read, read_ptr},
    path::{
        Builder, DedupKey, KEY_EXEC, current_pid, hash_record, key_tag, record, remember, scratch,
        seen, walk,
    },
};

/// Offset of `__data_loc char[] filename` in the `sched_process_exec` record.
const FILENAME_LOC_OFFSET: usize = 8;

/// `sched:sched_process_exec`.
#[tracepoint]
pub fn exec_done(ctx: TracePointContext) -> u32 {
    if in_target() {
        let _ = try_exec_done(&ctx);
    }
    0
}

fn try_exec_done(ctx: &TracePointContext) -> Result<(), i64> {
    // SAFETY: a direct load at a fixed offset of the tracepoint record (checked by the verifier
    // against the context size).
    let loc = unsafe {
        *ctx.as_ptr()
            .cast::<u8>()
            .add(FILENAME_LOC_OFFSET)
            .cast::<u32>()
    };
    // `__data_loc`: the low 16 bits are the string's offset in the record.
    let filename = (ctx.as_ptr() as u64).wrapping_add(u64::from(loc & 0xffff));

    let mm = read_ptr(current_task(), global!(OFFSETS.task_mm))?;
    let exe = file_f_path(read_ptr(mm, global!(OFFSETS.mm_exe_file))?)?;

    let mut call = FileCall::new(FileOp::Exec, 0);
    call.path = filename;
    call.path_in_kernel = true;
    call.object = Some(exe);
    let _ = emit(&call);
    exec_record(mm, exe)
}

/// Sends the exec record unless this program ran with these arguments before.
#[inline(always)]
fn exec_record(mm: u64, exe: PathRef) -> Result<(), i64> {
    let (Some(s), Some(rec)) = (scratch(), record()) else {
        return Err(-1);
    };
    let header = size_of::<ExecRecord>() as u64;
    let mut b = Builder::new(rec, header);

    let start: u64 = read(mm.wrapping_add(global!(OFFSETS.mm_arg_start)))?;
    let end: u64 = read(mm.wrapping_add(global!(OFFSETS.mm_arg_end)))?;
    let mut truncated = 0u32;
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
        d: key_tag(KEY_EXEC, FileOp::Exec as u32, 0, 0),
    };
    if seen(&key) {
        return Ok(());
    }
    let mut path_len = 0;
    match walk(s, exe, fs_root()?).map(|cut| (cut, b.walked(s))) {
        Ok((cut, Some(len))) => {
            path_len = len;
            truncated |= u32::from(cut);
        }
        _ => truncated |= 1,
    }
    let head = ExecRecord {
        kind: RECORD_EXEC,
        pid: current_pid(),
        argv_len: argv_len as u16,
        path_len: path_len as u16,
        truncated,
    };
    // SAFETY: the record buffer starts 8-aligned and holds far more than the header.
    unsafe { core::ptr::write(rec.cast::<ExecRecord>(), head) };
    if b.send(RECORD_EXEC) {
        remember(&key);
    }
    Ok(())
}
