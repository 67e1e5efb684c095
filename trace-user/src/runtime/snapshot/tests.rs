use super::parse::{FdInfo, unescape_newlines};
use super::*;
use crate::runtime::cgroup::{cgroup2_mount, locate, unified_path};

/// Lines of a python container's maps, read from the host, cut to what the rules need.
const PYTHON_MAPS: &[u8] = b"\
00400000-0041f000 r--p 00000000 00:29 878093                             /usr/bin/python3.11
0041f000-006d3000 r-xp 0001f000 00:29 878093                             /usr/bin/python3.11
00a85000-00aca000 rw-p 00000000 00:00 0 
0b89c000-0bac3000 rw-p 00000000 00:00 0                                  [heap]
7fbe6d946000-7fbe6d94d000 r--s 00000000 00:29 870616                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache
7fbe6d9cc000-7fbe6db22000 r-xp 00026000 00:29 870525                     /usr/lib/x86_64-linux-gnu/libc.so.6
7fbe6dcb6000-7fbe6dcba000 r--p 00000000 00:00 0                          [vvar]
7fbe6dcbc000-7fbe6dcbe000 r-xp 00000000 00:00 0                          [vdso]
7fbe6dcbf000-7fbe6dce5000 r-xp 00001000 00:29 869749                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffe46a58000-7ffe46a79000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

fn pairs(text: &[u8]) -> Vec<(String, bool)> {
    parse_maps(text)
        .into_iter()
        .map(|(path, exec)| (String::from_utf8_lossy(path.as_bytes()).into_owned(), exec))
        .collect()
}

#[test]
fn maps_keep_file_backed_mappings_with_their_exec_bit() {
    assert_eq!(
        pairs(PYTHON_MAPS),
        [
            ("/usr/bin/python3.11", false),
            ("/usr/bin/python3.11", true),
            ("/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache", false),
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", true),
            ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", true),
        ]
        .map(|(p, x)| (p.to_owned(), x))
    );
}

#[test]
fn maps_paths_may_hold_spaces_escaped_newlines_and_any_bytes() {
    let text = b"\
7fa853616000-7fa853617000 r--s 00000000 00:29 934004                     /tmp/odd dir/with space.so
7fa853617000-7fa853618000 r-xs 00000000 00:29 934003                     /tmp/odd dir/new\\012line lib
7fa853618000-7fa853619000 r--p 00000000 00:29 934005                     /tmp/ends in a space 
7fa85361a000-7fa85361b000 r--p 00000000 00:29 934006                     /tmp/caf\xe9
7fa85361b000-7fa85361c000 r--p 00000000 00:29 934007 /short/padding
";
    let found = parse_maps(text);
    let paths: Vec<&[u8]> = found.iter().map(|(p, _)| p.as_bytes()).collect();
    assert_eq!(
        paths,
        [
            b"/tmp/odd dir/with space.so".as_slice(),
            b"/tmp/odd dir/new\nline lib",
            b"/tmp/ends in a space ",
            b"/tmp/caf\xe9",
            b"/short/padding",
        ]
    );
    assert_eq!(
        found.iter().map(|(_, x)| *x).collect::<Vec<_>>(),
        [false, true, false, false, false]
    );
}

#[test]
fn maps_skip_deleted_anonymous_and_pseudo_mappings() {
    let text = b"\
7f0000000000-7f0000001000 r-xp 00000000 00:01 1025                       /memfd:runc_cloned:/proc/self/exe (deleted)
7f0000001000-7f0000002000 rw-s 00000000 00:01 32768                      /SYSV00000000 (deleted)
7f0000002000-7f0000003000 rw-s 00000000 00:01 4                          /dev/zero (deleted)
7f0000003000-7f0000004000 rw-p 00000000 00:0e 1057                       anon_inode:[io_uring]
7f0000004000-7f0000005000 rw-p 00000000 00:00 0                          [anon:glibc.malloc]
7f0000005000-7f0000006000 r-xp 00000000 00:1c 7                          /
7f0000006000-7f0000007000 rw-p 00000000 00:00 0 
not a maps line

";
    assert_eq!(pairs(text), []);
}

#[test]
fn newline_escape_decodes_only_012() {
    assert_eq!(unescape_newlines(b"/a\\012b\\012"), b"/a\nb\n");
    assert_eq!(unescape_newlines(b"/a\\040b\\01"), b"/a\\040b\\01");
    assert_eq!(unescape_newlines(b""), b"");
}

#[test]
fn fd_targets_keep_only_files_in_the_container() {
    assert_eq!(
        usable_path(b"/dev/null"),
        Some(PathBytes::from("/dev/null"))
    );
    assert_eq!(
        usable_path(b"/tmp/odd dir/new\nline lib"),
        Some(PathBytes::from(b"/tmp/odd dir/new\nline lib".as_slice()))
    );
    assert_eq!(
        usable_path(b"/tmp/caf\xe9"),
        Some(PathBytes::from(b"/tmp/caf\xe9".as_slice()))
    );
    for pseudo in [
        b"socket:[22937]".as_slice(),
        b"pipe:[23584]",
        b"anon_inode:[eventfd]",
        b"anon_inode:inotify",
        b"/tmp/gone.txt (deleted)",
        b"",
    ] {
        assert_eq!(usable_path(pseudo), None, "{}", pseudo.escape_ascii());
    }
    assert_eq!(usable_path(b"/"), Some(PathBytes::from("/")));
    assert_eq!(file_path(b"/"), None);
}

#[test]
fn fdinfo_flags_are_octal() {
    // As a python process in a container showed them.
    let text = b"pos:\t0\nflags:\t02102001\nmnt_id:\t79\nino:\t934010\n";
    assert_eq!(
        parse_fdinfo(text),
        Some(FdInfo {
            flags: 0o2_102_001,
            mnt_id: Some(79)
        })
    );
    assert_eq!(
        parse_fdinfo(b"pos:\t0\nflags:\t01\n"),
        Some(FdInfo {
            flags: 1,
            mnt_id: None
        })
    );
    assert_eq!(parse_fdinfo(b"pos:\t0\nmnt_id:\t79\n"), None);
    assert_eq!(parse_fdinfo(b"flags:\t9\n"), None);
    // Another field starting with "flags" is not it.
    assert_eq!(parse_fdinfo(b"flagsx:\t01\n"), None);
}

#[test]
fn fd_accesses_follow_the_access_mode() {
    use Access::{Append, List, Metadata, Read, Write};
    let cases: [(u32, &[Access]); 10] = [
        (0o2_100_000, &[Read]),         // O_RDONLY|O_LARGEFILE|O_CLOEXEC
        (0o100_002, &[Read, Write]),    // the stdin /dev/null docker opens
        (0o1, &[Write]),                // a pipe's write end (were it a file)
        (0o2_100_001, &[Write]),        // open(.., "w"): O_TRUNC is gone once open
        (0o2_102_001, &[Append]),       // open(.., "a")
        (0o2_100_002, &[Read, Write]),  // open(.., "w+")
        (0o2_102_002, &[Read, Append]), // O_RDWR|O_APPEND
        (0o2_300_000, &[List]),         // opendir
        (0o12_000_000, &[Metadata]),    // O_PATH on a file
        (0o3, &[Metadata]),             // mode 3: ioctl only
    ];
    for (flags, accesses) in cases {
        assert_eq!(fd_accesses(flags), accesses, "flags {flags:o}");
    }
    assert_eq!(fd_accesses(0o12_200_000), &[] as &[Access]); // O_PATH|O_DIRECTORY
}

#[test]
fn procs_and_mount_ids_parse() {
    assert_eq!(
        parse_procs(b"19140\n19622\n\nx\n-1\n 7 \n").collect::<Vec<_>>(),
        [19140, 19622, 7]
    );
    assert_eq!(parse_procs(b"").count(), 0);
    let mountinfo = b"79 53 0:41 / / rw,relatime master:2 - overlay overlay rw\n\
81 79 0:45 / /dev rw,nosuid - tmpfs tmpfs rw\n\
96 79 254:0 /var/lib/docker/containers/af41/hosts /etc/hosts rw - ext4 /dev/vda rw\n";
    assert_eq!(mount_ids(mountinfo), BTreeSet::from([79, 81, 96]));
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a file in a directory")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn cgroup_walk_reads_below_in_order_without_following_symlinks() {
    let tree = tempfile::tempdir().expect("temporary directory");
    let root = tree.path().join("cg");
    write(&root.join("cgroup.procs"), "10\n11\n");
    write(&root.join("b/cgroup.procs"), "30\n");
    write(&root.join("a/cgroup.procs"), "20\n10\n");
    write(&root.join("a/inner/cgroup.procs"), "21\n");
    write(&tree.path().join("elsewhere/cgroup.procs"), "99\n");
    std::os::unix::fs::symlink(tree.path().join("elsewhere"), root.join("c")).expect("symlink");
    // A threaded cgroup or one removed meanwhile: no readable process list, its children count.
    write(&root.join("d/e/cgroup.procs"), "40\n");
    assert_eq!(cgroup_pids(&root).expect("pids"), [10, 11, 20, 21, 30, 40]);

    // A symlinked process list of the container's own cgroup is refused, not followed.
    let linked = tree.path().join("linked");
    std::fs::create_dir(&linked).expect("mkdir");
    std::os::unix::fs::symlink(
        tree.path().join("elsewhere/cgroup.procs"),
        linked.join("cgroup.procs"),
    )
    .expect("symlink");
    assert!(matches!(
        cgroup_pids(&linked),
        Err(SnapshotError::Procs { .. })
    ));
}

#[test]
fn cgroup_walk_stops_at_the_depth_bound() {
    let tree = tempfile::tempdir().expect("temporary directory");
    let mut dir = tree.path().to_path_buf();
    for level in 0..MAX_CGROUP_DEPTH + 3 {
        write(&dir.join("cgroup.procs"), &format!("{}\n", level + 1));
        dir = dir.join("x");
    }
    let pids = cgroup_pids(tree.path()).expect("pids");
    let expected: Vec<u32> = (1..=u32::try_from(MAX_CGROUP_DEPTH).expect("small") + 1).collect();
    assert_eq!(pids, expected);
}

#[test]
fn a_missing_cgroup_is_an_error_with_a_one_line_message() {
    let error = of_cgroup(Path::new("/nonexistent/cgroup")).expect_err("no such cgroup");
    assert!(matches!(error, SnapshotError::Procs { .. }));
    let message = error.to_string();
    assert_eq!(
        message,
        "cannot read the process list /nonexistent/cgroup/cgroup.procs"
    );
    assert!(std::error::Error::source(&error).is_some());
}

/// The cgroup v2 directory of this test process, or why it cannot be had.
fn own_cgroup() -> Result<PathBuf, String> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let path = unified_path(&cgroup).ok_or("no cgroup v2 membership")?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let mount = cgroup2_mount(&mountinfo).ok_or("cgroup2 is not mounted")?;
    let (dir, _level) = locate(path, &mount).map_err(|e| e.to_string())?;
    std::fs::read(dir.join("cgroup.procs")).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn own(path: &str) -> PathBytes {
    PathBytes::new(
        std::fs::read_link(path)
            .expect("readlink of this process")
            .into_os_string()
            .into_vec(),
    )
}

#[test]
fn finds_its_own_executable_and_working_directory_in_its_cgroup() {
    let dir = match own_cgroup() {
        Ok(dir) => dir,
        Err(reason) => {
            trace_tests::cannot_run(
                "finds_its_own_executable_and_working_directory_in_its_cgroup",
                &reason,
            );
            return;
        }
    };
    // Not skipping trace's own mount namespace: this process is in it.
    let found = scan(&dir, None).expect("snapshot of this process's cgroup");
    let exe = FoundFile {
        path: own("/proc/self/exe"),
        access: Access::Exec,
    };
    let cwd = FoundFile {
        path: own("/proc/self/cwd"),
        access: Access::Chdir,
    };
    assert!(found.contains(&exe), "{exe:?} not in {} files", found.len());
    assert!(found.contains(&cwd), "{cwd:?} not in {} files", found.len());
    assert!(found.is_sorted());
    assert!(found.windows(2).all(|w| w[0] != w[1]));
    assert!(found.len() <= MAX_FILES);
}

#[test]
fn of_cgroup_leaves_out_processes_of_its_own_mount_namespace() {
    let dir = match own_cgroup() {
        Ok(dir) => dir,
        Err(reason) => {
            trace_tests::cannot_run(
                "of_cgroup_leaves_out_processes_of_its_own_mount_namespace",
                &reason,
            );
            return;
        }
    };
    let found = of_cgroup(&dir).expect("snapshot of this process's cgroup");
    let exe = own("/proc/self/exe");
    assert!(
        !found.iter().any(|f| f.path == exe),
        "{exe:?} is a path of trace's own namespace"
    );
}
