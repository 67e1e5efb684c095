//! Sockets: the exits of `socket`, `bind` and `listen` (one program, told apart by
//! `__syscall_nr`). `socket(2)` calls are counted per (family, type) in a per-CPU array; a
//! successful `bind` or `listen` of an `AF_INET`/`AF_INET6` socket sends a record per first
//! (family, type, port).

use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use trace_common::{RECORD_BIND, RECORD_LISTEN, SOCKET_SLOTS, SocketRecord, socket_slot};

use crate::{
    OFFSETS, SOCKETS, Target, count, current_target, global,
    kernel::{exit_nr_ret, fd_file, read, read_ptr, syscall_args},
    path::{DedupKey, KEY_SOCKET, current_pid, key_tag, remember, seen, send},
};

const SYS_SOCKET: i32 = 41;
const SYS_BIND: i32 = 49;
const SYS_LISTEN: i32 = 50;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// `sys_exit` of socket, bind, listen.
#[tracepoint]
pub fn socket_exit(ctx: TracePointContext) -> u32 {
    if let Some(target) = current_target() {
        let _ = try_socket_exit(&ctx, &target);
    }
    0
}

fn try_socket_exit(ctx: &TracePointContext, target: &Target) -> Result<(), i64> {
    let (nr, ret) = exit_nr_ret(ctx);
    let a = syscall_args()?;
    match nr {
        // Every attempt is counted, failed ones too: they are what the program asks for.
        SYS_SOCKET => count(
            &SOCKETS,
            target.slot * SOCKET_SLOTS + socket_slot(a[0] as u32, a[1] as u32),
        ),
        SYS_BIND if ret == 0 => {
            // `struct sockaddr_in`/`_in6` both start with the family and the port (big-endian).
            // SAFETY: the helper reads user memory safely.
            let head: [u8; 4] =
                unsafe { bpf_probe_read_user(a[1] as *const [u8; 4]) }.map_err(i64::from)?;
            let family = u16::from_ne_bytes([head[0], head[1]]);
            if family != AF_INET && family != AF_INET6 {
                return Ok(());
            }
            let port = u16::from_be_bytes([head[2], head[3]]);
            let sock = socket_of(a[0])?;
            let sock_type: u16 = read(sock.wrapping_add(global!(OFFSETS.socket_type)))?;
            record(RECORD_BIND, family, sock_type, port, target);
        }
        SYS_LISTEN if ret == 0 => {
            let sock = socket_of(a[0])?;
            let sock_type: u16 = read(sock.wrapping_add(global!(OFFSETS.socket_type)))?;
            let sk = read_ptr(sock, global!(OFFSETS.socket_sk))?;
            let family: u16 = read(sk.wrapping_add(global!(OFFSETS.sock_family)))?;
            if family != AF_INET && family != AF_INET6 {
                return Ok(());
            }
            // `skc_num` is the bound local port in host byte order.
            let port: u16 = read(sk.wrapping_add(global!(OFFSETS.sock_num)))?;
            record(RECORD_LISTEN, family, sock_type, port, target);
        }
        _ => {}
    }
    Ok(())
}

/// The `struct socket *` of descriptor `fd` (`file->private_data` of a socket file).
#[inline(always)]
fn socket_of(fd: u64) -> Result<u64, i64> {
    let file = fd_file(i64::from(fd as i32))?;
    read_ptr(file, global!(OFFSETS.file_private_data))
}

#[inline(always)]
fn record(kind: u32, family: u16, sock_type: u16, port: u16, target: &Target) {
    let phase = target.phase;
    let key = DedupKey {
        a: u64::from(family),
        b: u64::from(sock_type),
        c: u64::from(port),
        d: key_tag(KEY_SOCKET, kind, phase, 0, 0),
        t: target.cgroup_id,
    };
    if seen(&key) {
        return;
    }
    let rec = SocketRecord {
        kind,
        pid: current_pid(),
        cgroup_id: target.cgroup_id,
        family,
        sock_type,
        port,
        phase: phase as u8,
        pad: 0,
    };
    // SAFETY: `SocketRecord` is `repr(C)` plain integers without padding bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts((&raw const rec).cast::<u8>(), size_of::<SocketRecord>())
    };
    if send(bytes, target.slot, kind) {
        remember(&key);
    }
}
