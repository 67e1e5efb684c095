//! Kernel struct offsets from the running kernel's BTF.
//!
//! Rust eBPF has no CO-RE field relocations, so the offsets the programs need are read here and
//! passed in as globals. The kernel's BTF is read at most once per process.

use std::sync::OnceLock;

use btf_rs::{Backend, Btf, Member, Struct, Type};

use super::ProbeError;

/// Where the running kernel publishes its BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The offsets the eBPF programs need, `None` where this kernel's BTF lacks the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelLayout {
    /// Byte offset of `thread_info.status` in `task_struct` (x86 only).
    pub compat_status_offset: Option<u64>,
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
    Ok(KernelLayout {
        compat_status_offset: member_offset(btf, "task_struct", &["thread_info", "status"])?,
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

    /// Needs only a readable kernel BTF (no privileges).
    #[test]
    fn thread_info_status_offset_on_this_kernel() {
        let btf = match Btf::from_file(VMLINUX_BTF) {
            Ok(btf) => btf,
            Err(e) => {
                eprintln!("skipping: cannot read {VMLINUX_BTF}: {e}");
                return;
            }
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
}
