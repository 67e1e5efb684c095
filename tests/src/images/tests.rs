use std::os::unix::fs::symlink;

use super::build::fix_mtimes;
use super::compile::parse_ldd;
use super::*;

#[test]
fn fnv64_matches_the_reference_values() {
    let hash = |s: &[u8]| {
        let mut h = Fnv64::new();
        h.write(s);
        h.0
    };
    assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn ldd_output_gives_absolute_library_paths() {
    let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n\t/lib64/ld-linux-x86-64.so.2 (0x7f)\n";
    assert_eq!(
        parse_ldd(out),
        [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2"
        ]
    );
}

#[test]
fn applets_are_sorted_plain_names() {
    let applets = parse_applets("sh\n[\nls\n\nbusybox\nls\n/bad\n");
    assert_eq!(applets, ["[", "ls", "sh"]);
}

#[test]
fn image_folders_exist_with_a_dockerfile_from_scratch() {
    for image in TestImage::ALL {
        let dir = workspace_root().join("tests/images").join(image.dir());
        if image.debootstrapped() {
            assert!(dir.join("debootstrap.conf").is_file());
        } else {
            let dockerfile = fs::read_to_string(dir.join("Dockerfile")).unwrap();
            assert!(dockerfile.contains("FROM scratch"), "{}", image.tag());
        }
        // An image's own files come from its rootfs/ folder or are compiled from a C source.
        let compiled = fs::read_dir(&dir)
            .unwrap()
            .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "c"));
        assert!(dir.join("rootfs").is_dir() || compiled, "{}", image.tag());
        assert!(image.tag().ends_with(":local"));
    }
}

#[test]
fn file_contents_and_modes_change_the_hash() {
    let inputs = |contents: &[u8], exec| Inputs {
        dir: PathBuf::new(),
        files: vec![(
            "rootfs/x".into(),
            contents.to_vec(),
            if exec { Kind::Executable } else { Kind::File },
        )],
        busybox: b"bb".to_vec(),
        applets: vec!["sh".into()],
        programs: vec![],
    };
    let base = inputs(b"1", false).hash();
    assert_eq!(base, inputs(b"1", false).hash());
    assert_ne!(base, inputs(b"2", false).hash());
    assert_ne!(base, inputs(b"1", true).hash());
}

#[test]
fn build_context_mtimes_are_fixed() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("d")).unwrap();
    fs::write(dir.path().join("d/f"), "x").unwrap();
    symlink("/nonexistent", dir.path().join("d/l")).unwrap();
    fix_mtimes(dir.path()).unwrap();
    for p in ["", "d", "d/f", "d/l"] {
        let meta = fs::symlink_metadata(dir.path().join(p)).unwrap();
        assert_eq!(
            meta.modified().unwrap(),
            std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(u64::try_from(FIXED_MTIME).unwrap()),
            "{p}"
        );
    }
}
