use std::ffi::OsStr;

use super::*;

const LONG: &[u8] = b"usr/lib/a-very-long-directory-name-that-goes-on-and-on/and-a-file-name-that-pushes-it-past-one-hundred-bytes-\xff.so";

fn header(kind: EntryType, mode: u32, uid: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(uid);
    header.set_gid(uid + 1);
    header.set_mtime(1_700_000_000);
    header.set_size(0);
    header
}

/// An export-like stream: directories, files (one with a file capability), symlinks, a hard link,
/// a device, a name longer than 100 bytes and not UTF-8.
fn export() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let path = |p: &[u8]| Path::new(OsStr::from_bytes(p)).to_path_buf();
    for dir in ["usr/", "usr/bin/", "usr/lib/", "etc/", "dev/"] {
        let mut h = header(EntryType::Directory, 0o755, 0);
        b.append_data(&mut h, dir, io::empty()).unwrap();
    }
    let mut h = header(EntryType::Directory, 0o700, 7);
    b.append_data(
        &mut h,
        "usr/lib/a-very-long-directory-name-that-goes-on-and-on/",
        io::empty(),
    )
    .unwrap();
    let caps = pax_record(b"SCHILY.xattr.security.capability", b"\x01\x00\x00\x02");
    let mut x = Header::new_ustar();
    x.set_entry_type(EntryType::XHeader);
    x.set_size(caps.len() as u64);
    x.set_cksum();
    b.append(&x, caps.as_slice()).unwrap();
    let mut h = header(EntryType::Regular, 0o4755, 0);
    h.set_size(5);
    b.append_data(&mut h, "usr/bin/ping", &b"ping\n"[..])
        .unwrap();
    let mut h = header(EntryType::Regular, 0o644, 1000);
    h.set_size(3);
    b.append_data(&mut h, path(LONG), &b"lib"[..]).unwrap();
    let mut h = header(EntryType::Symlink, 0o777, 0);
    b.append_link(&mut h, "lib", "usr/lib").unwrap();
    let mut h = header(EntryType::Symlink, 0o777, 0);
    b.append_link(&mut h, "usr/lib/libx.so", path(&LONG[8..]))
        .unwrap();
    let mut h = header(EntryType::Link, 0o4755, 0);
    b.append_link(&mut h, "usr/bin/ping6", "usr/bin/ping")
        .unwrap();
    let mut h = header(EntryType::Char, 0o666, 0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    b.append_data(&mut h, "dev/null", io::empty()).unwrap();
    let mut h = header(EntryType::Regular, 0o600, 0);
    h.set_size(6);
    b.append_data(&mut h, "etc/shadow", &b"secret"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn index_lists_every_entry_with_its_kind() {
    let index = index(export().as_slice()).unwrap();
    assert_eq!(index.len(), 13);
    let get = |p: &[u8]| index.get(&PathBytes::new(p.to_vec())).unwrap().clone();
    assert_eq!(get(b"/usr/lib").kind, Kind::Dir);
    assert_eq!(get(b"/lib").kind, Kind::Symlink(b"usr/lib".to_vec()));
    assert_eq!(
        get(b"/usr/bin/ping6").kind,
        Kind::HardLink(PathBytes::from("/usr/bin/ping"))
    );
    assert_eq!(get(b"/dev/null").kind, Kind::Other);
    let mut long = b"/".to_vec();
    long.extend_from_slice(LONG);
    assert_eq!(
        get(&long),
        Node {
            kind: Kind::File,
            size: 3
        }
    );
    assert_eq!(index.data_size(None), 5 + 3 + 6);
}

#[test]
fn the_layer_holds_exactly_the_kept_entries_with_their_metadata() {
    let mut long = b"/".to_vec();
    long.extend_from_slice(LONG);
    let keep: BTreeSet<PathBytes> = [
        &b"/usr"[..],
        b"/usr/bin",
        b"/usr/bin/ping",
        b"/usr/bin/ping6",
        b"/usr/lib",
        b"/usr/lib/a-very-long-directory-name-that-goes-on-and-on",
        &long,
        b"/usr/lib/libx.so",
        b"/lib",
        b"/dev/null",
        b"/not/in/the/image",
    ]
    .iter()
    .map(|p| PathBytes::new(p.to_vec()))
    .collect();
    let mut out = Vec::new();
    let mut image_usr = header(EntryType::Directory, 0o750, 5);
    image_usr.set_mtime(86_400);
    let metadata = BTreeMap::from([(PathBytes::from("/usr"), image_usr)]);
    let layer = write_layer(export().as_slice(), &keep, &metadata, &mut out).unwrap();
    assert_eq!(layer.entries, 10);
    assert_eq!(layer.bytes, out.len() as u64);
    assert_eq!(
        layer.diff_id,
        format!("sha256:{}", hex(&Sha256::digest(&out)))
    );

    let mut archive = tar::Archive::new(out.as_slice());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path_bytes().into_owned();
        let h = entry.header().clone();
        match name.as_slice() {
            b"usr/bin/ping" => {
                assert_eq!((h.mode().unwrap(), h.uid().unwrap()), (0o4755, 0));
                let caps: Vec<(Vec<u8>, Vec<u8>)> = entry
                    .pax_extensions()
                    .unwrap()
                    .unwrap()
                    .map(|e| {
                        let e = e.unwrap();
                        (e.key_bytes().to_vec(), e.value_bytes().to_vec())
                    })
                    .collect();
                assert_eq!(
                    caps,
                    [(
                        b"SCHILY.xattr.security.capability".to_vec(),
                        b"\x01\x00\x00\x02".to_vec()
                    )]
                );
                let mut data = String::new();
                entry.read_to_string(&mut data).unwrap();
                assert_eq!(data, "ping\n");
            }
            b"usr/lib/a-very-long-directory-name-that-goes-on-and-on" => {
                assert_eq!(h.entry_type(), EntryType::Directory);
                assert_eq!(
                    (h.mode().unwrap(), h.uid().unwrap(), h.gid().unwrap()),
                    (0o700, 7, 8)
                );
                assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            }
            b"usr" => {
                assert_eq!(h.entry_type(), EntryType::Directory);
                assert_eq!((h.mode().unwrap(), h.uid().unwrap()), (0o750, 5));
                assert_eq!(h.mtime().unwrap(), 86_400, "the image's own metadata");
            }
            b"usr/bin/ping6" => {
                assert_eq!(h.entry_type(), EntryType::Link);
                assert_eq!(&*entry.link_name_bytes().unwrap(), b"usr/bin/ping");
            }
            b"usr/lib/libx.so" => {
                assert_eq!(&*entry.link_name_bytes().unwrap(), &LONG[8..]);
            }
            b"dev/null" => {
                assert_eq!(h.entry_type(), EntryType::Char);
                assert_eq!(
                    (h.device_major().unwrap(), h.device_minor().unwrap()),
                    (Some(1), Some(3))
                );
            }
            _ => {}
        }
        seen.push(name);
    }
    assert!(seen.iter().any(|n| n.as_slice() == LONG), "the long name");
    assert!(!seen.iter().any(|n| n.starts_with(b"etc")), "not kept");
    assert_eq!(seen.len(), 10);
}

#[test]
fn pax_records_count_their_own_length() {
    for (key, value, expected) in [
        (&b"a"[..], &b"b"[..], "6 a=b\n"),
        (b"k", &[b'v'; 4][..], "9 k=vvvv\n"),
        (b"k", &[b'v'; 5][..], "11 k=vvvvv\n"),
    ] {
        assert_eq!(String::from_utf8(pax_record(key, value)).unwrap(), expected);
    }
}
