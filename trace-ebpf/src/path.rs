//! Paths and records: the kernel's d_path walk, string hashes, the in-kernel dedup set, and the
//! per-CPU buffer a variable-length record is assembled in before it goes to the ring buffer.
//!
//! The walk is the algorithm of the kernel's `prepend_path()`: from a `struct path` up the
//! `d_parent` chain to the mount's root, then across to the mount point in the parent mount
//! (`struct mount`'s `mnt_parent`/`mnt_mountpoint`), until the task's root (`task->fs->root`)
//! or the root of the mount tree. Inside a container that yields the path the container sees.
//! Components are written backwards into a per-CPU scratch buffer; the loop runs in `bpf_loop`
//! with its state in that map value, which is what keeps it verifiable (a loop over stack state
//! is not; see docs/probe.md).

use core::ffi::c_void;

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{
        bpf_get_current_pid_tgid,
        generated::{
            bpf_loop, bpf_probe_read_kernel, bpf_probe_read_user, bpf_probe_read_user_str,
        },
    },
    macros::map,
    maps::PerCpuArray,
};
use trace_common::{DROPPED_SLOTS, PATH_MAX, Phase};

use crate::{
    DROPPED, EVENTS, OFFSETS, SEEN, WAKEUP_BYTES, count, global,
    kernel::{PathRef, read, read_ptr},
};

/// Bytes of the walk buffer: a path of up to `PATH_MAX` plus room for one name (<= 255 bytes)
/// written at a masked offset.
const WALK_BUF: usize = PATH_MAX + 256;
/// Masks offsets into the walk buffer (`PATH_MAX` is a power of two).
pub const WALK_MASK: u64 = PATH_MAX as u64 - 1;
/// Most steps of one walk: every step writes at least two bytes or crosses a mount.
const WALK_STEPS: u32 = PATH_MAX as u32 + 64;

/// Size of the per-CPU record buffer (the most a per-CPU map value may hold: 32 KiB).
pub const RECORD_BUF: usize = 32 * 1024;
/// Payload offsets are masked with this, lengths of pieces with [`PIECE_MASK`]: the verifier then
/// knows every write stays inside [`RECORD_BUF`] (header <= 64 + 0x3fff + 0x1fff < 32 KiB).
pub const PAYLOAD_MASK: u64 = 0x3fff;
/// Masks the length of one piece of payload (a path is at most `PATH_MAX` = 0x1000 bytes).
pub const PIECE_MASK: u64 = 0x1fff;
/// [`PIECE_MASK`] as a global that the compiler cannot see through, for lengths that it already
/// knows to be in bounds: it would drop a constant mask as redundant and pass a length whose
/// bound the verifier learned after a stack spill, which a 6.1 verifier does not carry to the
/// spilled copy (`R2 min value is negative`). The verifier knows this value (a frozen read-only
/// map), so the `&` right before the helper call bounds the length on every kernel.
#[unsafe(no_mangle)]
static PIECE_LEN_MASK: u64 = PIECE_MASK;

/// `status` bits of the walk.
const WALK_DONE: u64 = 1;
const WALK_TRUNCATED: u64 = 2;
/// The walk reached the top of the mount tree without meeting the task's root: the object is
/// outside the task's root directory (or on a detached mount).
const WALK_OUTSIDE: u64 = 4;

/// Per-CPU working memory of the walk and the hashes. Fields are accessed with volatile loads
/// and stores so the compiler keeps them in the map value, where the verifier tracks them cheaply.
#[repr(C)]
pub struct Scratch {
    dentry: u64,
    vfsmnt: u64,
    mnt: u64,
    mnt_root: u64,
    root_dentry: u64,
    root_vfsmnt: u64,
    /// Where the walk wrote its last byte: the path is `buf[pos..PATH_MAX]`.
    pos: u64,
    status: u64,
    hash: u64,
    hash_len: u64,
    hash_start: u64,
    /// The walk's output, written backwards from `PATH_MAX`.
    buf: [u8; WALK_BUF],
    /// A second user string (rename's new name) or the argument area of an exec.
    pub str2: [u8; PATH_MAX],
}

#[map(name = "SCRATCH")]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// Where records are assembled: a header, then the payload.
#[map(name = "RECORD")]
static RECORD: PerCpuArray<[u8; RECORD_BUF]> = PerCpuArray::with_max_entries(1, 0);

/// Volatile field access on a `*mut Scratch`.
macro_rules! vget {
    ($s:expr, $field:ident) => {
        // SAFETY: `$s` is this CPU's scratch map value, valid and aligned for the program run.
        unsafe { core::ptr::read_volatile(&raw const (*$s).$field) }
    };
}
macro_rules! vset {
    ($s:expr, $field:ident, $value:expr) => {{
        let value = $value;
        // SAFETY: as in `vget`.
        unsafe { core::ptr::write_volatile(&raw mut (*$s).$field, value) }
    }};
}

/// This CPU's scratch space.
#[inline(always)]
pub fn scratch() -> Option<*mut Scratch> {
    SCRATCH.get_ptr_mut(0)
}

/// This CPU's record buffer.
#[inline(always)]
pub fn record() -> Option<*mut u8> {
    RECORD.get_ptr_mut(0).map(|p| p.cast::<u8>())
}

/// The current process id (thread group id) in the host's pid namespace.
#[inline(always)]
pub fn current_pid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

// ---------------------------------------------------------------------------------------------
// The walk.

/// Walks `path` up to `root`. The text is then `walked()`; returns whether it was cut.
#[inline(always)]
pub fn walk(s: *mut Scratch, path: PathRef, root: PathRef) -> Result<bool, i64> {
    let mount = path.vfsmnt.wrapping_sub(global!(OFFSETS.mount_mnt));
    vset!(s, dentry, path.dentry);
    vset!(s, vfsmnt, path.vfsmnt);
    vset!(s, mnt, mount);
    vset!(
        s,
        mnt_root,
        read_ptr(path.vfsmnt, global!(OFFSETS.vfsmount_mnt_root))?
    );
    vset!(s, root_dentry, root.dentry);
    vset!(s, root_vfsmnt, root.vfsmnt);
    vset!(s, pos, PATH_MAX as u64);
    vset!(s, status, 0);
    // SAFETY: `walk_step` is a static function of the callback type bpf_loop expects; its
    // context argument is unused.
    unsafe {
        bpf_loop(
            WALK_STEPS,
            walk_step as *mut c_void,
            core::ptr::null_mut(),
            0,
        )
    };
    let pos = vget!(s, pos);
    if pos >= PATH_MAX as u64 {
        // Nothing above the start: it is the root itself.
        let at = (PATH_MAX as u64 - 1) & WALK_MASK;
        // SAFETY: `at` < WALK_BUF.
        unsafe { *(&raw mut (*s).buf).cast::<u8>().add(at as usize) = b'/' };
        vset!(s, pos, at);
    }
    Ok(vget!(s, status) & WALK_TRUNCATED != 0)
}

/// Whether the last [`walk`] ended outside the task's root directory.
#[inline(always)]
pub fn walked_outside(s: *mut Scratch) -> bool {
    vget!(s, status) & WALK_OUTSIDE != 0
}

/// One step of the walk: returns 0 to go on, 1 to stop.
extern "C" fn walk_step(_index: u64, _ctx: *mut c_void) -> i64 {
    let Some(s) = scratch() else { return 1 };
    match try_walk_step(s) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(_) => {
            vset!(s, status, vget!(s, status) | WALK_TRUNCATED);
            1
        }
    }
}

#[inline(always)]
fn try_walk_step(s: *mut Scratch) -> Result<bool, i64> {
    let dentry = vget!(s, dentry);
    let vfsmnt = vget!(s, vfsmnt);
    if dentry == vget!(s, root_dentry) && vfsmnt == vget!(s, root_vfsmnt) {
        vset!(s, status, vget!(s, status) | WALK_DONE);
        return Ok(false);
    }
    let parent = read_ptr(dentry, global!(OFFSETS.dentry_d_parent))?;
    if dentry == vget!(s, mnt_root) || dentry == parent {
        // At the root of this mount: continue from its mount point in the parent mount.
        let mnt = vget!(s, mnt);
        let mnt_parent = read_ptr(mnt, global!(OFFSETS.mount_mnt_parent))?;
        if mnt_parent == mnt {
            // The root of the mount tree (or a detached mount): the path is complete.
            vset!(s, status, vget!(s, status) | WALK_DONE | WALK_OUTSIDE);
            return Ok(false);
        }
        let mountpoint = read_ptr(mnt, global!(OFFSETS.mount_mnt_mountpoint))?;
        let parent_vfsmnt = mnt_parent.wrapping_add(global!(OFFSETS.mount_mnt));
        vset!(s, dentry, mountpoint);
        vset!(s, mnt, mnt_parent);
        vset!(s, vfsmnt, parent_vfsmnt);
        vset!(
            s,
            mnt_root,
            read_ptr(parent_vfsmnt, global!(OFFSETS.vfsmount_mnt_root))?
        );
        return Ok(true);
    }

    let name = dentry.wrapping_add(global!(OFFSETS.dentry_d_name));
    let len: u32 = read(name.wrapping_add(global!(OFFSETS.qstr_len)))?;
    let text = read_ptr(name, global!(OFFSETS.qstr_name))?;
    let len = u64::from(len);
    let pos = vget!(s, pos);
    if len > 255 || pos < len + 1 {
        vset!(s, status, vget!(s, status) | WALK_TRUNCATED);
        return Ok(false);
    }
    let start = (pos - len) & WALK_MASK;
    // SAFETY: the destination is inside the scratch value (start <= 4095, len <= 255, buffer
    // 4096 + 256 bytes); the source is kernel memory the helper reads safely.
    unsafe {
        let dst = (&raw mut (*s).buf).cast::<u8>().add(start as usize);
        bpf_probe_read_kernel(dst.cast(), (len & 0xff) as u32, text as *const c_void);
    }
    let slash = (pos - len - 1) & WALK_MASK;
    // SAFETY: `slash` < WALK_BUF.
    unsafe { *(&raw mut (*s).buf).cast::<u8>().add(slash as usize) = b'/' };
    vset!(s, pos, slash);
    vset!(s, dentry, parent);
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Hashes (FxHash over 8-byte words) of strings in the record buffer or in `Scratch::str2`.

const HASH_MUL: u64 = 0x517c_c1b7_2722_0a95;

#[inline(always)]
fn mix(hash: u64, word: u64) -> u64 {
    (hash.rotate_left(5) ^ word).wrapping_mul(HASH_MUL)
}

/// Hash of `len` bytes at byte `start` (8-aligned) of the record buffer.
#[inline(always)]
pub fn hash_record(s: *mut Scratch, start: u64, len: u64) -> u64 {
    hash_with(s, start, len, hash_record_step)
}

/// Hash of the first `len` bytes of `Scratch::str2`.
#[inline(always)]
pub fn hash_str2(s: *mut Scratch, len: u64) -> u64 {
    hash_with(s, 0, len, hash_str2_step)
}

/// Strings up to this many bytes (most paths) can be hashed by [`hash_short`].
pub const SHORT_STR: u64 = 64;

/// Zeroes the [`SHORT_STR`] bytes at `start` (8-aligned) of the record buffer, before a string is
/// read there, for [`hash_short`].
#[inline(always)]
pub fn clear_short(rec: *mut u8, start: u64) {
    let at = (start & (PAYLOAD_MASK & !7)) as usize;
    for word in 0..(SHORT_STR / 8) as usize {
        // SAFETY: `at` + 64 is inside the 32 KiB record buffer; 8-aligned.
        unsafe { core::ptr::write_volatile(rec.add(at).cast::<u64>().add(word), 0) };
    }
}

/// A hash of a string of `len` <= [`SHORT_STR`] bytes at `start` of the record buffer, read
/// there after [`clear_short`]: all eight words, with no branch on the length (the NUL and the
/// cleared bytes end it). Not the hash of [`hash_record`] (only compared with itself: the length
/// decides which one a string gets). A `bpf_loop` callback per word (two map lookups, an indirect
/// call) cost more than reading the string; a loop that stops at the length multiplied the
/// verifier's work (start to armed 0.8 s instead of 0.2 s).
#[inline(always)]
pub fn hash_short(rec: *mut u8, start: u64, len: u64) -> u64 {
    let at = (start & (PAYLOAD_MASK & !7)) as usize;
    let mut hash = len;
    for word in 0..(SHORT_STR / 8) as usize {
        // SAFETY: as in `clear_short`.
        hash = mix(hash, unsafe {
            core::ptr::read_volatile(rec.add(at).cast::<u64>().add(word))
        });
    }
    hash
}

#[inline(always)]
fn hash_with(
    s: *mut Scratch,
    start: u64,
    len: u64,
    step: extern "C" fn(u64, *mut c_void) -> i64,
) -> u64 {
    vset!(s, hash, len);
    vset!(s, hash_len, len);
    vset!(s, hash_start, start);
    let words = (len + 7) / 8;
    // SAFETY: `step` is a static function of the callback type bpf_loop expects.
    unsafe { bpf_loop(words as u32, step as *mut c_void, core::ptr::null_mut(), 0) };
    vget!(s, hash)
}

/// The bytes of word `index` of a string of `len` bytes, the bytes past the end cleared.
#[inline(always)]
fn word_mask(index: u64, len: u64) -> u64 {
    let left = len.saturating_sub(index * 8);
    if left >= 8 {
        u64::MAX
    } else {
        (1u64 << (left * 8)) - 1
    }
}

extern "C" fn hash_record_step(index: u64, _ctx: *mut c_void) -> i64 {
    let (Some(s), Some(rec)) = (scratch(), record()) else {
        return 1;
    };
    let len = vget!(s, hash_len);
    if index * 8 >= len {
        return 1;
    }
    let at = (vget!(s, hash_start) + index * 8) & (PAYLOAD_MASK & !7);
    // SAFETY: `at` is 8-aligned and below 0x3ff8, inside the 32 KiB record buffer.
    let word = unsafe { core::ptr::read_volatile(rec.add(at as usize).cast::<u64>()) };
    vset!(s, hash, mix(vget!(s, hash), word & word_mask(index, len)));
    0
}

extern "C" fn hash_str2_step(index: u64, _ctx: *mut c_void) -> i64 {
    let Some(s) = scratch() else { return 1 };
    let len = vget!(s, hash_len);
    if index * 8 >= len {
        return 1;
    }
    let at = (index * 8) & (WALK_MASK & !7);
    // SAFETY: `at` is 8-aligned and below PATH_MAX, inside `str2`.
    let word = unsafe {
        core::ptr::read_volatile(
            (&raw const (*s).str2)
                .cast::<u8>()
                .add(at as usize)
                .cast::<u64>(),
        )
    };
    vset!(s, hash, mix(vget!(s, hash), word & word_mask(index, len)));
    0
}

/// Mixes two identities (kernel addresses, hashes) into one key word.
#[inline(always)]
pub fn combine(a: u64, b: u64) -> u64 {
    mix(mix(0, a), b)
}

// ---------------------------------------------------------------------------------------------
// Assembling a record.

/// A record being assembled in the per-CPU record buffer: `header` bytes, then the payload.
pub struct Builder {
    pub rec: *mut u8,
    header: u64,
    /// Payload bytes written so far.
    pub len: u64,
}

impl Builder {
    #[inline(always)]
    pub fn new(rec: *mut u8, header: u64) -> Self {
        Builder {
            rec,
            header,
            len: 0,
        }
    }

    /// Where the next piece goes, if the payload is not full.
    #[inline(always)]
    fn cursor(&self) -> Option<*mut u8> {
        if self.len > PAYLOAD_MASK {
            return None;
        }
        // SAFETY: header + (len & 0x3fff) < 32 KiB - 0x1fff: the piece written there (masked to
        // 0x1fff bytes) stays inside the record buffer.
        Some(unsafe {
            self.rec
                .add((self.header + (self.len & PAYLOAD_MASK)) as usize)
        })
    }

    /// Appends the NUL-terminated user string at `ptr` (without its NUL). Returns its length
    /// and whether it was cut, or `None` if it could not be read.
    #[inline(always)]
    pub fn user_str(&mut self, ptr: u64) -> Option<(u64, bool)> {
        let dst = self.cursor()?;
        // SAFETY: `dst` has room for PATH_MAX bytes (see `cursor`); the helper reads user memory
        // safely and always NUL-terminates.
        let n =
            unsafe { bpf_probe_read_user_str(dst.cast(), PATH_MAX as u32, ptr as *const c_void) };
        self.finish_str(n)
    }

    /// Appends the NUL-terminated kernel string at `ptr`, as [`Builder::user_str`].
    #[inline(always)]
    pub fn kernel_str(&mut self, ptr: u64) -> Option<(u64, bool)> {
        let dst = self.cursor()?;
        // SAFETY: as in `user_str`, for kernel memory.
        let n = unsafe {
            aya_ebpf::helpers::generated::bpf_probe_read_kernel_str(
                dst.cast(),
                PATH_MAX as u32,
                ptr as *const c_void,
            )
        };
        self.finish_str(n)
    }

    #[inline(always)]
    fn finish_str(&mut self, n: i64) -> Option<(u64, bool)> {
        if n <= 0 {
            return None;
        }
        // `n` counts the NUL; PATH_MAX means the string was cut there.
        let len = (n as u64 - 1) & PIECE_MASK;
        self.len += len;
        Some((len, n as u64 >= PATH_MAX as u64))
    }

    /// Appends `len` bytes from `src` (kernel memory or a map value). Returns the bytes written.
    #[inline(always)]
    pub fn bytes(&mut self, src: *const u8, len: u64) -> Option<u64> {
        let dst = self.cursor()?;
        let len = len & global!(PIECE_LEN_MASK);
        // SAFETY: `dst` has room for 0x1fff bytes (see `cursor`); the helper reads `src` safely.
        let ret = unsafe { bpf_probe_read_kernel(dst.cast(), len as u32, src.cast()) };
        if ret != 0 {
            return None;
        }
        self.len += len;
        Some(len)
    }

    /// Appends `len` bytes of user memory at `src`. Returns the bytes written.
    #[inline(always)]
    pub fn user_bytes(&mut self, src: u64, len: u64) -> Option<u64> {
        let dst = self.cursor()?;
        let len = len & global!(PIECE_LEN_MASK);
        // SAFETY: `dst` has room for 0x1fff bytes (see `cursor`); the helper reads user memory
        // safely.
        let ret = unsafe { bpf_probe_read_user(dst.cast(), len as u32, src as *const c_void) };
        if ret != 0 {
            return None;
        }
        self.len += len;
        Some(len)
    }

    /// Appends the walk's text from the scratch buffer. Returns its length.
    #[inline(always)]
    pub fn walked(&mut self, s: *mut Scratch) -> Option<u64> {
        let pos = vget!(s, pos) & WALK_MASK;
        // SAFETY: `pos` < WALK_BUF.
        let src = unsafe { (&raw const (*s).buf).cast::<u8>().add(pos as usize) };
        self.bytes(src, PATH_MAX as u64 - pos)
    }

    /// The first byte of the payload piece that starts at `at` (payload offset).
    #[inline(always)]
    pub fn byte_at(&self, at: u64) -> u8 {
        // SAFETY: header + (at & 0x3fff) is inside the record buffer.
        unsafe { *self.rec.add((self.header + (at & PAYLOAD_MASK)) as usize) }
    }

    /// Sends header + payload to the ring buffer. On failure counts a drop of `kind` for the
    /// target in `slot`.
    #[inline(always)]
    pub fn send(&self, slot: u32, kind: u32) -> bool {
        // header + len <= 64 + 0x3fff + 0x1fff: the mask changes nothing but shows the verifier
        // the bound.
        let size = (self.header + self.len) & (RECORD_BUF as u64 - 1);
        // SAFETY: `size` < RECORD_BUF, so the slice stays inside the record buffer.
        let data = unsafe { core::slice::from_raw_parts(self.rec, size as usize) };
        send(data, slot, kind)
    }
}

/// Sends `data` to the ring buffer without a wakeup, unless enough is pending for userspace to
/// be worth waking. On failure counts a drop of record `kind` for the target in `slot`.
#[inline(always)]
pub fn send(data: &[u8], slot: u32, kind: u32) -> bool {
    let flags = if EVENTS.query(u64::from(BPF_RB_AVAIL_DATA)) >= global!(WAKEUP_BYTES) {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    if EVENTS.output::<[u8]>(data, u64::from(flags)).is_ok() {
        return true;
    }
    count(&DROPPED, slot * DROPPED_SLOTS + kind % DROPPED_SLOTS);
    false
}

// ---------------------------------------------------------------------------------------------
// Dedup.

/// A fact already sent for one target. `d` tags what `a`..`c` are: `kind << 60 | op << 48 |
/// phase << 44 | errno << 32 | flags`; `a`..`c` are the object (dentry, vfsmount, inode number)
/// or hashes of the strings; `t` is the target's cgroup id, so each target (and each life of a
/// container) gets its own first sightings.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DedupKey {
    pub a: u64,
    pub b: u64,
    pub c: u64,
    pub d: u64,
    pub t: u64,
}

/// Key kinds.
pub const KEY_OBJECT: u64 = 1;
pub const KEY_STRINGS: u64 = 2;
pub const KEY_EXEC: u64 = 3;
pub const KEY_SOCKET: u64 = 4;

/// The `d` word of a key. The phase is part of it, so a fact of runc's setup does not hide the
/// same fact of the application (userspace may drop runc's).
#[inline(always)]
pub fn key_tag(kind: u64, op: u32, phase: Phase, result: i64, flags: u32) -> u64 {
    let errno = if result < 0 {
        (-result) as u64 & 0xfff
    } else {
        0
    };
    (kind << 60)
        | (u64::from(op & 0xfff) << 48)
        | (u64::from(phase as u8 & 0xf) << 44)
        | (errno << 32)
        | u64::from(flags)
}

/// Slots of [`RECENT`] (a power of two).
const RECENT_SLOTS: u32 = 1024;

/// A per-CPU direct-mapped cache of keys known to be in [`SEEN`], looked at first: a hit costs
/// an inlined array lookup and four compares instead of hashing the key and searching the LRU
/// map's shared buckets. A slot holds a key that was sent, so a hit is always right; a key
/// pushed out of the slot (or evicted from SEEN meanwhile) costs at most one repeated record,
/// which userspace merges. No real key is all zeros (`d` has its kind), the slots' initial value.
#[map(name = "RECENT")]
static RECENT: PerCpuArray<DedupKey> = PerCpuArray::with_max_entries(RECENT_SLOTS, 0);

/// `key`'s slot in [`RECENT`].
#[inline(always)]
fn recent_slot(key: &DedupKey) -> Option<*mut DedupKey> {
    let hash = combine(key.a ^ key.b ^ key.t, key.c ^ key.d);
    RECENT.get_ptr_mut((hash >> 32) as u32 & (RECENT_SLOTS - 1))
}

/// Whether `key` was sent already.
#[inline(always)]
pub fn seen(key: &DedupKey) -> bool {
    let slot = recent_slot(key);
    if let Some(slot) = slot {
        // SAFETY: the slot is this CPU's value of an existing entry, valid for the program run.
        let cached = unsafe { core::ptr::read_volatile(slot) };
        if cached.a == key.a
            && cached.b == key.b
            && cached.c == key.c
            && cached.d == key.d
            && cached.t == key.t
        {
            return true;
        }
    }
    // SAFETY: the value is only tested for presence, never read through.
    if unsafe { SEEN.get(key) }.is_none() {
        return false;
    }
    if let Some(slot) = slot {
        // SAFETY: as above; tracing programs do not nest on a CPU, so nothing else writes it.
        unsafe { core::ptr::write_volatile(slot, *key) };
    }
    true
}

/// Remembers that `key` was sent.
#[inline(always)]
pub fn remember(key: &DedupKey) {
    // An LRU map evicts instead of failing; an error here only costs a repeated record later.
    let _ = SEEN.insert(key, &1, 0);
    if let Some(slot) = recent_slot(key) {
        // SAFETY: as in `seen`.
        unsafe { core::ptr::write_volatile(slot, *key) };
    }
}
