//! The files of the image a recording shows the container used: the list files.txt writes and
//! the image minimizer keeps.
//!
//! In it: every path the container found in the image (any access but `create` or `link`, where it
//! made the path, and `probe`, where the path was missing), every executed program, the directory
//! each created path was created in (it must exist: `/tmp`, a cache directory), and every
//! requested path that led through symlinks to a used path or a directory holding one (the image
//! needs the symlinks as well as their targets: `/lib64/ld-linux-x86-64.so.2`, `/bin/sh`, `/lib`).
//!
//! Left out: `/proc`, `/sys`, `/dev` (the runtime provides them), the container's mounts (volumes,
//! bind mounts, and `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf` which Docker always mounts)
//! and everything the container created itself.

use std::collections::BTreeSet;

use super::docker::{DOCKER_MOUNTS, PSEUDO_FILESYSTEMS};
use crate::recording::{Access, FileUse, PathBytes, Recording, normalize};

/// One line of the list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    path: PathBytes,
    dir: bool,
}

/// The files of the image the container used: `(path, is_dir)`, sorted (see the module
/// documentation).
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

    let files: Vec<(PathBytes, &FileUse)> = recording
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
