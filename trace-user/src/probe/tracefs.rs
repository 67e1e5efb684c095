//! tracefs: where the tracepoint ids and record formats are. aya attaches classic tracepoints
//! through it and looks for it once per process, so [`ensure_mounted`] runs before the first
//! attach.

use std::{
    ffi::CString,
    fs, io,
    path::{Path, PathBuf},
};

/// Where tracefs lives (the kernel creates the directory; systemd usually mounts it).
pub const TRACEFS: &str = "/sys/kernel/tracing";
/// Where older systems mount it (inside debugfs).
const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";

/// The tracefs directory, mounting tracefs at [`TRACEFS`] if no tracefs is mounted (root only).
pub fn ensure_mounted() -> io::Result<PathBuf> {
    if let Some(dir) = mounted() {
        return Ok(dir);
    }
    let source = CString::new("tracefs").map_err(io::Error::other)?;
    let target = CString::new(TRACEFS).map_err(io::Error::other)?;
    // SAFETY: all pointers are NUL-terminated strings that outlive the call; no data argument.
    let ret = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    log::info!("mounted tracefs at {TRACEFS}");
    mounted().ok_or_else(|| io::Error::other(format!("no events under {TRACEFS} after mounting")))
}

/// The first tracefs directory with events in it (aya picks the same one).
fn mounted() -> Option<PathBuf> {
    [TRACEFS, DEBUGFS_TRACING]
        .into_iter()
        .map(PathBuf::from)
        .find(|dir| dir.join("events").is_dir())
}

/// The `format` file of tracepoint `category/name`.
pub fn read_format(tracefs: &Path, category: &str, name: &str) -> io::Result<String> {
    fs::read_to_string(
        tracefs
            .join("events")
            .join(category)
            .join(name)
            .join("format"),
    )
}

/// A field of a tracepoint record: its offset and size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Offset from the start of the record.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// The field called `name` in a tracepoint `format` text, e.g.
/// `field:int cap; offset:32; size:4; signed:1;` (tab-separated).
pub fn field(format: &str, name: &str) -> Option<Field> {
    format.lines().find_map(|line| {
        let mut parts = line.trim().split(';').map(str::trim);
        let declaration = parts.next()?.strip_prefix("field:")?;
        // The name is the declaration's last word, without an array suffix.
        let last = declaration.rsplit(char::is_whitespace).next()?;
        let field_name = last.split('[').next()?;
        if field_name != name {
            return None;
        }
        let mut offset = None;
        let mut size = None;
        for part in parts {
            if let Some(v) = part.strip_prefix("offset:") {
                offset = v.parse().ok();
            } else if let Some(v) = part.strip_prefix("size:") {
                size = v.parse().ok();
            }
        }
        Some(Field {
            offset: offset?,
            size: size?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP_CAPABLE: &str = "name: cap_capable
ID: 2073
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const struct cred * cred;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int cap;\toffset:32;\tsize:4;\tsigned:1;
\tfield:int ret;\toffset:36;\tsize:4;\tsigned:1;

print fmt: \"cap %d, ret %d\", REC->cap, REC->ret
";

    #[test]
    fn fields_of_a_format() {
        assert_eq!(
            field(CAP_CAPABLE, "cap"),
            Some(Field {
                offset: 32,
                size: 4
            })
        );
        assert_eq!(
            field(CAP_CAPABLE, "ret"),
            Some(Field {
                offset: 36,
                size: 4
            })
        );
        assert_eq!(
            field(CAP_CAPABLE, "cred"),
            Some(Field { offset: 8, size: 8 })
        );
        assert_eq!(field(CAP_CAPABLE, "common_type").map(|f| f.offset), Some(0));
        assert_eq!(field(CAP_CAPABLE, "capable_ns"), None);
        let exec = "\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;";
        assert_eq!(field(exec, "filename"), Some(Field { offset: 8, size: 4 }));
    }
}
