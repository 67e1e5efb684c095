//! The image's flattened file system as a tar stream (what the container export endpoint
//! sends): index its entries, then write the kept ones as the slim image's one layer. Both read
//! the stream once, entry by entry, holding no file data in memory but the one file being read.
//!
//! Entries keep their type, mode, owner (numeric and by name), modification time, device numbers
//! and extended attributes (`SCHILY.xattr.*` records: file capabilities); names of any length and
//! bytes are written with GNU long-name records. They are written in the export's order, so a
//! directory comes before what it holds and a hard link after the entry it links to.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use super::interpreter::{HEAD_BYTES, interpreter};
use super::select::{ImageIndex, Kind, Node};
use crate::recording::{PathBytes, normalize};

/// Prefix of the PAX records that carry extended attributes.
const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Lists the entries of a file-system tar stream (later entries replace earlier ones), with the
/// interpreter of each executable file.
pub fn index(reader: impl Read) -> io::Result<ImageIndex> {
    index_reading(reader, |_, _| false, |_| ()).map(|(index, _)| index)
}

/// [`index`], and in the same pass `digest` of the whole contents of each regular file that
/// `read(path, size)` accepts (asked once per file, in stream order; one file in memory at a
/// time).
pub fn index_reading<T>(
    reader: impl Read,
    mut read: impl FnMut(&PathBytes, u64) -> bool,
    mut digest: impl FnMut(&[u8]) -> T,
) -> io::Result<(ImageIndex, BTreeMap<PathBytes, T>)> {
    let mut archive = tar::Archive::new(reader);
    let mut index = ImageIndex::default();
    let mut digests = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path_bytes());
        if path.as_bytes() == b"/" {
            continue;
        }
        let kind = kind_of(&entry);
        let size = if kind == Kind::File { entry.size() } else { 0 };
        let data = if kind == Kind::File && read(&path, size) {
            let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            (&mut entry).take(size).read_to_end(&mut data)?;
            Some(data)
        } else {
            None
        };
        if kind == Kind::File && entry.header().mode()? & 0o111 != 0 {
            let mut read = Vec::new();
            let head = if let Some(data) = &data {
                let end = usize::try_from(HEAD_BYTES).map_or(data.len(), |h| h.min(data.len()));
                &data[..end]
            } else {
                (&mut entry).take(HEAD_BYTES).read_to_end(&mut read)?;
                &read
            };
            if let Some(program) = interpreter(head) {
                index.set_interpreter(path.clone(), program);
            }
        }
        if let Some(data) = data {
            digests.insert(path.clone(), digest(&data));
        }
        index.insert(path, Node { kind, size });
    }
    Ok((index, digests))
}

fn kind_of<R: Read>(entry: &tar::Entry<'_, R>) -> Kind {
    let target = || entry.link_name_bytes().unwrap_or_default().into_owned();
    match entry.header().entry_type() {
        EntryType::Directory => Kind::Dir,
        EntryType::Regular | EntryType::Continuous => Kind::File,
        EntryType::Symlink => Kind::Symlink(target()),
        EntryType::Link => Kind::HardLink(normalize(&target())),
        _ => Kind::Other,
    }
}

/// What writing the layer produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Entries written.
    pub entries: usize,
    /// Size of the layer tar in bytes.
    pub bytes: u64,
    /// `sha256:<hex>` of the layer tar: its diff id.
    pub diff_id: String,
}

/// Copies the entries of `reader` whose normalised paths are in `keep` to a new tar on `out`;
/// an entry in `metadata` gets that header's mode, owner and time instead of its own (the image's
/// own directories that a container's export shows with Docker's init-layer metadata).
pub fn write_layer(
    reader: impl Read,
    keep: &BTreeSet<PathBytes>,
    metadata: &BTreeMap<PathBytes, Header>,
    out: impl Write,
) -> io::Result<Layer> {
    let mut archive = tar::Archive::new(reader);
    let mut builder = tar::Builder::new(Digesting::new(out));
    let mut entries = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path_bytes());
        if path.as_bytes() == b"/" || !keep.contains(&path) {
            continue;
        }
        let xattrs = xattr_records(&mut entry)?;
        if !xattrs.is_empty() {
            let mut header = Header::new_ustar();
            header.set_entry_type(EntryType::XHeader);
            header.set_path("PaxHeaders/xattrs")?;
            header.set_size(xattrs.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append(&header, xattrs.as_slice())?;
        }
        let mut header = copy_metadata(entry.header(), metadata.get(&path))?;
        let name = Path::new(std::ffi::OsStr::from_bytes(&path.as_bytes()[1..]));
        match kind_of(&entry) {
            Kind::Symlink(target) => {
                builder.append_link(
                    &mut header,
                    name,
                    Path::new(std::ffi::OsStr::from_bytes(&target)),
                )?;
            }
            Kind::HardLink(target) => {
                let target = Path::new(std::ffi::OsStr::from_bytes(&target.as_bytes()[1..]));
                builder.append_link(&mut header, name, target)?;
            }
            Kind::File => {
                header.set_size(entry.size());
                builder.append_data(&mut header, name, &mut entry)?;
            }
            Kind::Dir | Kind::Other => builder.append_data(&mut header, name, io::empty())?,
        }
        entries += 1;
    }
    let digesting = builder.into_inner()?;
    let (bytes, digest) = digesting.finish()?;
    Ok(Layer {
        entries,
        bytes,
        diff_id: format!("sha256:{digest}"),
    })
}

/// A GNU header with the entry's type and device numbers, and the mode, owner and time of
/// `instead` or else its own (size 0, no name).
fn copy_metadata(entry: &Header, instead: Option<&Header>) -> io::Result<Header> {
    let source = instead.unwrap_or(entry);
    let mut header = Header::new_gnu();
    header.set_entry_type(entry.entry_type());
    header.set_mode(source.mode()?);
    header.set_uid(source.uid()?);
    header.set_gid(source.gid()?);
    header.set_mtime(source.mtime()?);
    header.set_size(0);
    // Names longer than the field (32 bytes) or not UTF-8 are left out: the numeric ids count.
    if let Some(name) = source
        .username_bytes()
        .and_then(|n| std::str::from_utf8(n).ok())
    {
        let _ = header.set_username(name);
    }
    if let Some(name) = source
        .groupname_bytes()
        .and_then(|n| std::str::from_utf8(n).ok())
    {
        let _ = header.set_groupname(name);
    }
    if matches!(entry.entry_type(), EntryType::Char | EntryType::Block) {
        header.set_device_major(entry.device_major()?.unwrap_or(0))?;
        header.set_device_minor(entry.device_minor()?.unwrap_or(0))?;
    }
    Ok(header)
}

/// The entry's extended attributes as the body of a PAX header (`"<len> <key>=<value>\n"`
/// records); empty when it has none.
fn xattr_records<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let Some(extensions) = entry.pax_extensions()? else {
        return Ok(body);
    };
    for extension in extensions {
        let extension = extension?;
        if extension.key_bytes().starts_with(XATTR_PREFIX) {
            body.extend(pax_record(extension.key_bytes(), extension.value_bytes()));
        }
    }
    Ok(body)
}

/// One PAX record; its length field counts the whole record, itself included.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while rest + len.to_string().len() != len {
        len = rest + len.to_string().len();
    }
    let mut record = format!("{len} ").into_bytes();
    record.extend_from_slice(key);
    record.push(b'=');
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

/// A writer that counts and hashes what passes through it.
struct Digesting<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Digesting<W> {
    fn new(inner: W) -> Self {
        Digesting {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Flushes; returns the byte count and the hex SHA-256.
    fn finish(mut self) -> io::Result<(u64, String)> {
        self.inner.flush()?;
        let digest = self.hasher.finalize();
        Ok((self.bytes, hex(&digest)))
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
