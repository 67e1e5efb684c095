//! files.txt: the files of the image the container used, for building a minimal image.
//!
//! One absolute path per line, sorted by bytes, each written in recording.json's byte-string form
//! (a line without a backslash is the path itself; `\\` is a backslash, `\xHH` any other byte, so a
//! file name holding a newline still takes one line). A line ending in `/` is a directory that
//! must exist, not its contents (copy with `tar --no-recursion -T` or the like).
//!
//! In the list: every path the container found in the image (any access but `create` or `link`,
//! where it made the path, and `probe`, where the path was missing), every executed program, the directory
//! each created path was created in (it must exist: `/tmp`, a cache directory), and every
//! requested path that led through symlinks to a used path or a directory holding one (the image
//! needs the symlinks as well as their targets: `/lib64/ld-linux-x86-64.so.2`, `/bin/sh`, `/lib`).
//!
//! Left out: `/proc`, `/sys`, `/dev` (the runtime provides them), the container's mounts (volumes,
//! bind mounts, and `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf` which Docker always mounts)
//! and everything the container created itself. See docs/files.md.

use std::collections::BTreeSet;

use crate::recording::{Access, PathBytes, Recording, encode, normalize};

/// Provided by the runtime, never part of an image.
const PSEUDO_FILESYSTEMS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Bind-mounted by Docker into every container (the first two also with `--network host`).
pub const DOCKER_MOUNTS: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/// What files.txt says when the recording holds no file observations: a comment line, which is not
/// an absolute path, so a tool that reads the list fails rather than minimizing to nothing.
pub const NOT_RECORDED: &str = "# files were not recorded (a version 1 recording, or a probe without file events): this list is empty and must not be used to minimize an image\n";

/// One line of the list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    path: PathBytes,
    dir: bool,
}

/// The list's paths: `(path, is_dir)`, sorted.
pub fn used_files(recording: &Recording) -> Vec<(PathBytes, bool)> {
    let mounts: Vec<PathBytes> = recording
        .container
        .mounts
        .iter()
        .map(|m| normalize(m.as_bytes()))
        .chain(
            PSEUDO_FILESYSTEMS
                .iter()
                .chain(&DOCKER_MOUNTS)
                .map(|p| PathBytes::from(*p)),
        )
        .collect();
    let outside_image = |p: &PathBytes| mounts.iter().any(|m| p.is_within(m));

    let files: Vec<(PathBytes, &crate::recording::FileUse)> = recording
        .files
        .iter()
        .map(|(p, used)| (normalize(p.as_bytes()), used))
        .collect();
    let created: BTreeSet<&PathBytes> = files
        .iter()
        .filter(|(_, used)| used.made_by_container())
        .map(|(p, _)| p)
        .collect();

    let mut entries: BTreeSet<Entry> = BTreeSet::new();
    // Paths some access reached, missing ones aside: the targets symlinks must lead to.
    let mut reached: BTreeSet<PathBytes> = BTreeSet::new();
    for (path, used) in &files {
        if used.found_in_image() {
            entries.insert(Entry {
                path: path.clone(),
                dir: used.dir,
            });
        }
        if used.access.iter().any(|&a| a != Access::Probe) {
            reached.insert(path.clone());
        }
        if used.made_by_container() {
            // The directory it was made in, or the first one up that the container did not make.
            let mut parent = path.parent();
            while let Some(dir) = parent.filter(|d| d.as_bytes() != b"/") {
                if !created.contains(&dir) {
                    entries.insert(Entry {
                        path: dir,
                        dir: true,
                    });
                    break;
                }
                parent = dir.parent();
            }
        }
    }
    for path in recording.execs.keys() {
        let path = normalize(path.as_bytes());
        reached.insert(path.clone());
        entries.insert(Entry { path, dir: false });
    }

    // Symlinks: a requested path that led to a reached path (or a directory above one). Chains
    // (a link to a link) are followed until nothing changes.
    let links: Vec<(PathBytes, Vec<PathBytes>)> = recording
        .links
        .iter()
        .map(|(from, to)| {
            (
                normalize(from.as_bytes()),
                to.iter().map(|t| normalize(t.as_bytes())).collect(),
            )
        })
        .collect();
    loop {
        let before = reached.len();
        for (from, targets) in &links {
            let leads_to_use = targets.iter().any(|target| {
                reached
                    .range(target.clone()..)
                    .take_while(|r| r.as_bytes().starts_with(target.as_bytes()))
                    // A link straight to a file the container created is the path asked for, not
                    // a symlink of the image: it does not exist before the container runs.
                    .any(|r| r.is_within(target) && !(r == target && created.contains(r)))
            });
            if leads_to_use && reached.insert(from.clone()) {
                entries.insert(Entry {
                    path: from.clone(),
                    dir: false,
                });
            }
        }
        if reached.len() == before {
            break;
        }
    }

    // A symlink line wins over a directory line for the same path: the image has the link.
    let mut out: Vec<(PathBytes, bool)> = Vec::new();
    for entry in entries {
        if outside_image(&entry.path)
            || created.contains(&entry.path)
            || entry.path.as_bytes() == b"/"
        {
            continue;
        }
        match out.last_mut() {
            Some((last, dir)) if *last == entry.path => *dir &= entry.dir,
            _ => out.push((entry.path, entry.dir)),
        }
    }
    out
}

/// files.txt as text (see the module documentation).
pub fn render(recording: &Recording) -> String {
    if !recording.files_recorded() {
        return NOT_RECORDED.to_owned();
    }
    let mut text = String::new();
    for (path, dir) in used_files(recording) {
        text.push_str(&encode(path.as_bytes()));
        if dir {
            text.push('/');
        }
        text.push('\n');
    }
    text
}
