//! The records the kernel side sends through the ring buffer, decoded into owned types.
//!
//! One decoder, [`decode`], for every record kind; it checks lengths and kinds and returns a
//! [`DecodeError`] instead of guessing. The layouts are `trace_common`'s `#[repr(C)]` headers,
//! read field by field at their `offset_of!` positions (native endianness: the kernel is local).

use std::mem::{offset_of, size_of};

use trace_common::{
    CgroupRecord, ExecRecord, FileOp, FileRecord, NO_SLOT, PATH_BASE, PATH_REQUESTED,
    PATH_RESOLVED, PATH_SECOND_BASE, PATH_SECOND_REQUESTED, PATH_SLOTS, Phase, RECORD_BIND,
    RECORD_CGROUP, RECORD_CGROUP_GONE, RECORD_EXEC, RECORD_FILE, RECORD_LISTEN, SocketRecord,
};

/// One fact the kernel side saw for the first time (repeats are filtered in the kernel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeEvent {
    /// A file access.
    File(FileEvent),
    /// A program started.
    Exec(ExecEvent),
    /// A successful `bind(2)` of an `AF_INET`/`AF_INET6` socket.
    Bind(BindEvent),
    /// A successful `listen(2)` on an `AF_INET`/`AF_INET6` socket.
    Listen(BindEvent),
    /// A container cgroup was made: a new target (or, with no slot, one that is not recorded).
    CgroupCaught(CgroupEvent),
    /// A target's cgroup was removed: its tasks are gone, its counters final.
    CgroupGone(CgroupEvent),
}

impl ProbeEvent {
    /// The cgroup id of the target the event belongs to.
    pub fn cgroup_id(&self) -> u64 {
        match self {
            ProbeEvent::File(e) => e.cgroup_id,
            ProbeEvent::Exec(e) => e.cgroup_id,
            ProbeEvent::Bind(e) | ProbeEvent::Listen(e) => e.cgroup_id,
            ProbeEvent::CgroupCaught(e) | ProbeEvent::CgroupGone(e) => e.cgroup_id,
        }
    }
}

/// A container cgroup caught or gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupEvent {
    /// Its cgroup id.
    pub cgroup_id: u64,
    /// Its counter slot; `None` when it was not caught (no free slot, or at another level than
    /// the targets).
    pub slot: Option<u32>,
    /// Its level in the cgroup v2 hierarchy.
    pub level: u32,
    /// The container id from its name (64 hex digits; empty in a [`ProbeEvent::CgroupGone`]).
    pub container_id: String,
}

/// A file access. Paths are absolute as the container sees them, except `requested` and
/// `second_requested`, which are what the program passed (relative ones come with their base).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEvent {
    /// What was done (the system calls behind each operation: [`FileOp`]).
    pub op: FileOp,
    /// Open flags for [`FileOp::Open`], the mode for `Chmod` and `Access`, the protection for
    /// `MmapExec`, renameat2's flags for `Rename`; 0 otherwise.
    pub flags: u32,
    /// The call's return value, or `-errno` (e.g. -2, `ENOENT`, for a probe of a missing path).
    pub result: i64,
    /// The path as passed; `None` for calls on a file descriptor (fchmod, mmap, ...).
    pub requested: Option<Vec<u8>>,
    /// The absolute directory a relative `requested` is relative to (the cwd or the dirfd's
    /// directory); `None` when `requested` is absolute.
    pub base: Option<Vec<u8>>,
    /// The absolute path of the object after the call, symlinks and `..` resolved (the kernel's
    /// `d_path` walk); `None` when the call has no object to walk (path-only calls, failures).
    pub resolved: Option<Vec<u8>>,
    /// Rename, link, symlink: the new path, as passed.
    pub second_requested: Option<Vec<u8>>,
    /// The absolute directory a relative `second_requested` is relative to.
    pub second_base: Option<Vec<u8>>,
    /// A path is incomplete: cut (longer than 4096 bytes: walked paths keep their end, strings
    /// their start), or missing although the call succeeded (unreadable, or the record full).
    pub truncated: bool,
    /// The process (thread group) id in the host's pid namespace, of the first sighting.
    pub pid: u32,
    /// The target's cgroup id.
    pub cgroup_id: u64,
    /// The target's phase when the call returned (the first sighting per phase is sent).
    pub phase: Phase,
    /// The paths are not inside the container (`trace_common::FileRecord::outside_root`): runc's
    /// work from the host's root directory before it pivoted into the container's root file
    /// system (`trace run`), or a file outside the task's root (runc's exec fifo): host paths
    /// (`/var/lib/docker/overlay2/...`, `/proc/<host pid>/...`, `/run/docker/...`).
    pub outside_root: bool,
}

/// A program started: the executable's absolute path and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecEvent {
    /// The executable's absolute path as the container sees it (symlinks resolved).
    pub path: Vec<u8>,
    /// The arguments, `argv[0]` first, up to 2048 bytes in all.
    pub argv: Vec<Vec<u8>>,
    /// The path or the arguments were cut.
    pub truncated: bool,
    /// The process id in the host's pid namespace.
    pub pid: u32,
    /// The target's cgroup id.
    pub cgroup_id: u64,
    /// The target's phase with this program running ([`Phase::Application`] for the
    /// entrypoint).
    pub phase: Phase,
}

/// A bound or listening `AF_INET`/`AF_INET6` socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindEvent {
    /// `AF_INET` (2) or `AF_INET6` (10).
    pub family: u16,
    /// The socket type (`SOCK_STREAM` 1, `SOCK_DGRAM` 2, ...).
    pub sock_type: u16,
    /// The port in host byte order: for bind the one asked for (0: any), for listen the bound one.
    pub port: u16,
    /// The process id in the host's pid namespace, of the first sighting.
    pub pid: u32,
    /// The target's cgroup id.
    pub cgroup_id: u64,
    /// The target's phase when the call returned.
    pub phase: Phase,
}

/// Why a ring-buffer record could not be decoded (a kernel/userspace build mismatch).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Too short for its header, or for the lengths its header gives.
    #[error("{what} record of {len} bytes is shorter than the {need} bytes it needs")]
    Short {
        /// The record kind, e.g. "file".
        what: &'static str,
        /// The record's length.
        len: usize,
        /// The length needed.
        need: usize,
    },
    /// The kind tag names no known record.
    #[error("unknown record kind {kind}")]
    UnknownKind {
        /// The tag.
        kind: u32,
    },
    /// A file record with an unknown operation.
    #[error("file record with unknown operation {op}")]
    UnknownOp {
        /// The operation number.
        op: u32,
    },
    /// A record with an unknown phase.
    #[error("record with unknown phase {phase}")]
    UnknownPhase {
        /// The phase byte.
        phase: u8,
    },
}

fn phase_at(record: &[u8], at: usize) -> Option<Result<Phase, DecodeError>> {
    let phase = *record.get(at)?;
    Some(Phase::from_u8(phase).ok_or(DecodeError::UnknownPhase { phase }))
}

// The destructuring in `decode_file` follows the slot order.
const _: () = assert!(
    PATH_REQUESTED == 0
        && PATH_BASE == 1
        && PATH_RESOLVED == 2
        && PATH_SECOND_REQUESTED == 3
        && PATH_SECOND_BASE == 4
);

/// Decodes one ring-buffer record.
pub fn decode(record: &[u8]) -> Result<ProbeEvent, DecodeError> {
    let kind = u32_at(record, 0).ok_or(DecodeError::Short {
        what: "any",
        len: record.len(),
        need: 4,
    })?;
    match kind {
        RECORD_FILE => decode_file(record).map(ProbeEvent::File),
        RECORD_EXEC => decode_exec(record).map(ProbeEvent::Exec),
        RECORD_BIND => decode_socket(record).map(ProbeEvent::Bind),
        RECORD_LISTEN => decode_socket(record).map(ProbeEvent::Listen),
        RECORD_CGROUP => decode_cgroup(record).map(ProbeEvent::CgroupCaught),
        RECORD_CGROUP_GONE => decode_cgroup(record).map(ProbeEvent::CgroupGone),
        kind => Err(DecodeError::UnknownKind { kind }),
    }
}

fn decode_file(record: &[u8]) -> Result<FileEvent, DecodeError> {
    let header = size_of::<FileRecord>();
    let short = |need| DecodeError::Short {
        what: "file",
        len: record.len(),
        need,
    };
    if record.len() < header {
        return Err(short(header));
    }
    let field_u32 = |at| u32_at(record, at).ok_or(short(header));
    let op_number = field_u32(offset_of!(FileRecord, op))?;
    let op = FileOp::from_u32(op_number).ok_or(DecodeError::UnknownOp { op: op_number })?;
    let flags = field_u32(offset_of!(FileRecord, flags))?;
    let pid = field_u32(offset_of!(FileRecord, pid))?;
    let result = i64_at(record, offset_of!(FileRecord, result)).ok_or(short(header))?;
    let cgroup_id = u64_at(record, offset_of!(FileRecord, cgroup_id)).ok_or(short(header))?;
    let present = record[offset_of!(FileRecord, present)];
    let truncated = record[offset_of!(FileRecord, truncated)];
    let phase = phase_at(record, offset_of!(FileRecord, phase)).ok_or(short(header))??;
    let outside_root = record[offset_of!(FileRecord, outside_root)] != 0;

    let lens_at = offset_of!(FileRecord, lens);
    let mut paths: [Option<Vec<u8>>; PATH_SLOTS] = Default::default();
    let mut at = header;
    for (slot, path) in paths.iter_mut().enumerate() {
        let len = usize::from(u16_at(record, lens_at + 2 * slot).ok_or(short(header))?);
        if present & (1 << slot) == 0 {
            continue;
        }
        let bytes = record.get(at..at + len).ok_or(short(at + len))?;
        *path = Some(bytes.to_vec());
        at += len;
    }
    let [requested, base, resolved, second_requested, second_base] = paths;
    Ok(FileEvent {
        op,
        flags,
        result,
        requested,
        base,
        resolved,
        second_requested,
        second_base,
        truncated: truncated != 0,
        pid,
        cgroup_id,
        phase,
        outside_root,
    })
}

fn decode_exec(record: &[u8]) -> Result<ExecEvent, DecodeError> {
    let header = size_of::<ExecRecord>();
    let short = |need| DecodeError::Short {
        what: "exec",
        len: record.len(),
        need,
    };
    let pid = u32_at(record, offset_of!(ExecRecord, pid)).ok_or(short(header))?;
    let cgroup_id = u64_at(record, offset_of!(ExecRecord, cgroup_id)).ok_or(short(header))?;
    let argv_len = u16_at(record, offset_of!(ExecRecord, argv_len)).ok_or(short(header))?;
    let path_len = u16_at(record, offset_of!(ExecRecord, path_len)).ok_or(short(header))?;
    let truncated = *record
        .get(offset_of!(ExecRecord, truncated))
        .ok_or(short(header))?;
    let phase = phase_at(record, offset_of!(ExecRecord, phase)).ok_or(short(header))??;
    if record.len() < header {
        return Err(short(header));
    }
    let argv_end = header + usize::from(argv_len);
    let path_end = argv_end + usize::from(path_len);
    let argv_area = record.get(header..argv_end).ok_or(short(path_end))?;
    let path = record.get(argv_end..path_end).ok_or(short(path_end))?;
    // Each argument ends with a NUL; a cut area may end without one.
    let argv_area = argv_area.strip_suffix(&[0]).unwrap_or(argv_area);
    let argv = if argv_area.is_empty() {
        Vec::new()
    } else {
        argv_area.split(|&b| b == 0).map(<[u8]>::to_vec).collect()
    };
    Ok(ExecEvent {
        path: path.to_vec(),
        argv,
        truncated: truncated != 0,
        pid,
        cgroup_id,
        phase,
    })
}

fn decode_socket(record: &[u8]) -> Result<BindEvent, DecodeError> {
    let need = size_of::<SocketRecord>();
    let short = || DecodeError::Short {
        what: "socket",
        len: record.len(),
        need,
    };
    if record.len() < need {
        return Err(short());
    }
    Ok(BindEvent {
        family: u16_at(record, offset_of!(SocketRecord, family)).ok_or_else(short)?,
        sock_type: u16_at(record, offset_of!(SocketRecord, sock_type)).ok_or_else(short)?,
        port: u16_at(record, offset_of!(SocketRecord, port)).ok_or_else(short)?,
        pid: u32_at(record, offset_of!(SocketRecord, pid)).ok_or_else(short)?,
        cgroup_id: u64_at(record, offset_of!(SocketRecord, cgroup_id)).ok_or_else(short)?,
        phase: phase_at(record, offset_of!(SocketRecord, phase)).ok_or_else(short)??,
    })
}

fn decode_cgroup(record: &[u8]) -> Result<CgroupEvent, DecodeError> {
    let need = size_of::<CgroupRecord>();
    let short = || DecodeError::Short {
        what: "cgroup",
        len: record.len(),
        need,
    };
    if record.len() < need {
        return Err(short());
    }
    let slot = u32_at(record, offset_of!(CgroupRecord, slot)).ok_or_else(short)?;
    let id_at = offset_of!(CgroupRecord, container_id);
    let id = record.get(id_at..need).ok_or_else(short)?;
    // The kernel checked the digits; a gone record has none.
    let container_id = String::from_utf8_lossy(id)
        .trim_end_matches('\0')
        .to_owned();
    Ok(CgroupEvent {
        cgroup_id: u64_at(record, offset_of!(CgroupRecord, cgroup_id)).ok_or_else(short)?,
        slot: (slot != NO_SLOT).then_some(slot),
        level: u32_at(record, offset_of!(CgroupRecord, level)).ok_or_else(short)?,
        container_id,
    })
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn i64_at(bytes: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}
