//! Kernel struct offsets from the running kernel's BTF.
//!
//! Rust eBPF has no CO-RE field relocations, so the offsets the programs need are read here and
//! passed in as globals. The kernel's BTF is read at most once per process.

use std::sync::OnceLock;

use btf_rs::{Backend, Btf, Member, Struct, Type};
use trace_common::{KernelOffsets, NO_OFFSET, PT_REGS_R10_OFFSET};

use super::ProbeError;

/// Where the running kernel publishes its BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The offsets the eBPF programs need, `None` (or [`NO_OFFSET`]) where this kernel's BTF lacks
/// the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelLayout {
    /// Byte offset of `thread_info.status` in `task_struct` (x86 only).
    pub compat_status_offset: Option<u64>,
    /// The struct members the file, exec and socket programs read.
    pub offsets: KernelOffsets,
    /// `struct pt_regs` holds the argument registers where the programs read them
    /// ([`PT_REGS_R10_OFFSET`]: `r10 r9 r8 ax cx dx si di`, the `x86_64` layout).
    pub pt_regs_ok: bool,
}

/// Where each [`KernelOffsets`] field comes from: (struct, member path).
const OFFSET_SOURCES: [(&str, &[&str]); 30] = [
    ("task_struct", &["fs"]),
    ("task_struct", &["files"]),
    ("task_struct", &["mm"]),
    ("fs_struct", &["root"]),
    ("fs_struct", &["pwd"]),
    ("files_struct", &["fdt"]),
    ("fdtable", &["max_fds"]),
    ("fdtable", &["fd"]),
    ("file", &["f_path"]),
    ("file", &["private_data"]),
    ("path", &["mnt"]),
    ("path", &["dentry"]),
    ("dentry", &["d_parent"]),
    ("dentry", &["d_name"]),
    ("dentry", &["d_inode"]),
    ("qstr", &["len"]),
    ("qstr", &["name"]),
    ("inode", &["i_ino"]),
    ("mount", &["mnt_parent"]),
    ("mount", &["mnt_mountpoint"]),
    ("mount", &["mnt"]),
    ("vfsmount", &["mnt_root"]),
    ("mm_struct", &["exe_file"]),
    ("mm_struct", &["arg_start"]),
    ("mm_struct", &["arg_end"]),
    ("socket", &["type"]),
    ("socket", &["sk"]),
    ("sock", &["__sk_common", "skc_family"]),
    ("sock", &["__sk_common", "skc_num"]),
    ("task_struct", &["real_cred"]),
];

/// The [`KernelOffsets`] fields in [`OFFSET_SOURCES`] order.
fn offset_fields(o: &mut KernelOffsets) -> [&mut u64; 30] {
    [
        &mut o.task_fs,
        &mut o.task_files,
        &mut o.task_mm,
        &mut o.fs_root,
        &mut o.fs_pwd,
        &mut o.files_fdt,
        &mut o.fdtable_max_fds,
        &mut o.fdtable_fd,
        &mut o.file_f_path,
        &mut o.file_private_data,
        &mut o.path_mnt,
        &mut o.path_dentry,
        &mut o.dentry_d_parent,
        &mut o.dentry_d_name,
        &mut o.dentry_d_inode,
        &mut o.qstr_len,
        &mut o.qstr_name,
        &mut o.inode_i_ino,
        &mut o.mount_mnt_parent,
        &mut o.mount_mnt_mountpoint,
        &mut o.mount_mnt,
        &mut o.vfsmount_mnt_root,
        &mut o.mm_exe_file,
        &mut o.mm_arg_start,
        &mut o.mm_arg_end,
        &mut o.socket_type,
        &mut o.socket_sk,
        &mut o.sock_family,
        &mut o.sock_num,
        &mut o.task_real_cred,
    ]
}

static LAYOUT: OnceLock<KernelLayout> = OnceLock::new();

/// The running kernel's layout, parsed from [`VMLINUX_BTF`] on first use.
pub fn kernel_layout() -> Result<KernelLayout, ProbeError> {
    if let Some(layout) = LAYOUT.get() {
        return Ok(*layout);
    }
    // Mapping the file costs ~3 ms where parsing all of it costs ~150 ms; kernels whose sysfs
    // cannot mmap vmlinux BTF (before ~6.16) take the parsing path.
    let btf = Btf::from_file_with_backend(VMLINUX_BTF, Backend::Mmap)
        .or_else(|_| Btf::from_file_with_backend(VMLINUX_BTF, Backend::Cache))
        .map_err(|source| ProbeError::Btf {
            path: VMLINUX_BTF,
            source,
        })?;
    let layout = layout_from(&btf).map_err(|source| ProbeError::Btf {
        path: VMLINUX_BTF,
        source,
    })?;
    Ok(*LAYOUT.get_or_init(|| layout))
}

fn layout_from(btf: &Btf) -> Result<KernelLayout, btf_rs::Error> {
    let mut offsets = KernelOffsets::NONE;
    for ((name, path), field) in OFFSET_SOURCES.iter().zip(offset_fields(&mut offsets)) {
        *field = member_offset(btf, name, path)?.unwrap_or(NO_OFFSET);
    }
    // r10 r9 r8 ax cx dx si di, 8 bytes each from PT_REGS_R10_OFFSET.
    let mut pt_regs_ok = true;
    for (i, reg) in (0u64..).zip(["r10", "r9", "r8", "ax", "cx", "dx", "si", "di"]) {
        pt_regs_ok &= member_offset(btf, "pt_regs", &[reg])? == Some(PT_REGS_R10_OFFSET + 8 * i);
    }
    Ok(KernelLayout {
        compat_status_offset: member_offset(btf, "task_struct", &["thread_info", "status"])?,
        offsets,
        pt_regs_ok,
    })
}

/// Byte offset of the member reached by `path` from `struct name`, descending into anonymous
/// structs and unions; `None` if the struct or a member is missing or a bitfield.
pub fn member_offset(btf: &Btf, name: &str, path: &[&str]) -> Result<Option<u64>, btf_rs::Error> {
    let Some(mut current) = find_struct(btf, name) else {
        return Ok(None);
    };
    let mut bits = 0u64;
    for (i, field) in path.iter().enumerate() {
        let Some((offset, member)) = find_member(btf, &current, field)? else {
            return Ok(None);
        };
        if member.bitfield_size().is_some_and(|size| size != 0) {
            return Ok(None);
        }
        bits += offset;
        if i + 1 < path.len() {
            match strip(btf, btf.resolve_chained_type(&member)?)? {
                Type::Struct(s) | Type::Union(s) => current = s,
                _ => return Ok(None),
            }
        }
    }
    Ok(bits.is_multiple_of(8).then_some(bits / 8))
}

/// The struct (not a forward declaration) called `name`.
fn find_struct(btf: &Btf, name: &str) -> Option<Struct> {
    // A name that is not in the BTF at all is an error for some backends.
    let types = btf.resolve_types_by_name(name).ok()?;
    types.into_iter().find_map(|t| match t {
        Type::Struct(s) => Some(s),
        _ => None,
    })
}

/// The member `name` of `parent` and its bit offset, looking inside anonymous members.
fn find_member(
    btf: &Btf,
    parent: &Struct,
    name: &str,
) -> Result<Option<(u64, Member)>, btf_rs::Error> {
    for member in &parent.members {
        let offset = u64::from(member.bit_offset());
        let member_name = btf.resolve_name(member)?;
        if member_name == name {
            return Ok(Some((offset, member.clone())));
        }
        if member_name.is_empty()
            && let Type::Struct(inner) | Type::Union(inner) =
                strip(btf, btf.resolve_chained_type(member)?)?
            && let Some((inner_offset, found)) = find_member(btf, &inner, name)?
        {
            return Ok(Some((offset + inner_offset, found)));
        }
    }
    Ok(None)
}

/// Follows typedefs and qualifiers to the underlying type.
fn strip(btf: &Btf, mut t: Type) -> Result<Type, btf_rs::Error> {
    // BTF chains are short; the bound only guards against a malformed loop.
    for _ in 0..32 {
        t = match t {
            Type::Typedef(_)
            | Type::Volatile(_)
            | Type::Const(_)
            | Type::Restrict(_)
            | Type::TypeTag(_) => match t.as_btf_type() {
                Some(inner) => btf.resolve_chained_type(inner)?,
                None => return Ok(t),
            },
            _ => return Ok(t),
        };
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This kernel's BTF, or `None` after saying why not (a failure under
    /// `TRACE_SYSTEM_TESTS=require`: [`trace_tests::cannot_run`]).
    fn vmlinux_or_skip() -> Option<Btf> {
        Btf::from_file(VMLINUX_BTF)
            .inspect_err(|e| {
                trace_tests::cannot_run(
                    "a kernel BTF test",
                    &format!("cannot read {VMLINUX_BTF}: {e}"),
                );
            })
            .ok()
    }

    /// Needs only a readable kernel BTF (no privileges).
    #[test]
    fn thread_info_status_offset_on_this_kernel() {
        let Some(btf) = vmlinux_or_skip() else {
            return;
        };
        let layout = layout_from(&btf).expect("BTF lookups");
        if cfg!(target_arch = "x86_64") {
            // thread_info is task_struct's first member; status follows two unsigned longs.
            let thread_info = member_offset(&btf, "task_struct", &["thread_info"]).expect("BTF");
            let status = member_offset(&btf, "thread_info", &["status"]).expect("BTF");
            assert_eq!(
                layout.compat_status_offset,
                Some(thread_info.expect("thread_info") + status.expect("status"))
            );
        }
        // Missing names give None, not errors.
        assert_eq!(
            member_offset(&btf, "task_struct", &["no_such_field"]).expect("BTF"),
            None
        );
        assert_eq!(
            member_offset(&btf, "no_such_struct_xyz", &["x"]).expect("BTF"),
            None
        );
        // Anonymous members are searched: `sk_buff.next` sits in an anonymous struct inside an
        // anonymous union, at offset 0.
        assert_eq!(
            member_offset(&btf, "sk_buff", &["next"]).expect("BTF"),
            Some(0)
        );
    }

    /// Every offset the programs need is in this kernel's BTF, and the anonymous-member cases
    /// land where the kernel's headers put them.
    #[test]
    fn file_offsets_on_this_kernel() {
        let Some(btf) = vmlinux_or_skip() else {
            return;
        };
        let layout = layout_from(&btf).expect("BTF lookups");
        let mut offsets = layout.offsets;
        for ((name, path), field) in OFFSET_SOURCES.iter().zip(offset_fields(&mut offsets)) {
            assert_ne!(*field, NO_OFFSET, "{name}.{}", path.join("."));
        }
        let o = layout.offsets;
        // `struct qstr { union { struct { u32 hash; u32 len; }; u64 hash_len; }; name }`.
        assert_eq!((o.qstr_len, o.qstr_name), (4, 8));
        // `struct path { struct vfsmount *mnt; struct dentry *dentry; }`.
        assert_eq!((o.path_mnt, o.path_dentry), (0, 8));
        if cfg!(target_arch = "x86_64") {
            assert!(layout.pt_regs_ok);
        }
    }
}
