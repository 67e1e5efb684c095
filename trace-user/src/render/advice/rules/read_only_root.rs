//! A read-only root file system, with a tmpfs for each directory the container wrote to.

use super::{examples, modifies, path_text, written_paths};
use crate::recording::{Access, PathBytes, Recording, encode};
use crate::render::advice::quote::{self};
use crate::render::advice::{Advice, Level, Tmpfs, Topic};
use std::collections::BTreeMap;

/// A directory to mount a tmpfs on, with why.
pub(super) struct TmpfsDir {
    written: Vec<String>,
    exec: bool,
}

/// Where the writes go under a read-only root.
pub(super) struct TmpfsPlan {
    /// The outermost directories written, each with what was written there.
    dirs: BTreeMap<PathBytes, TmpfsDir>,
    /// Files the image ships that it changed.
    image_files: Vec<String>,
    /// Why some directories cannot be a tmpfs.
    blocked: Vec<String>,
}

pub(super) fn tmpfs_plan(recording: &Recording) -> TmpfsPlan {
    let mut image_files = Vec::new();
    let mut dirs: BTreeMap<PathBytes, TmpfsDir> = BTreeMap::new();
    for (path, used) in written_paths(recording) {
        if !used.made_by_container() && used.found_in_image() {
            image_files.push(path_text(path));
        }
        let Some(dir) = path.parent() else { continue };
        dirs.entry(dir)
            .or_insert(TmpfsDir {
                written: Vec::new(),
                exec: false,
            })
            .written
            .push(path_text(path));
    }
    // The outermost directories only: a tmpfs on /run covers /run/nginx.
    let outer: Vec<PathBytes> = dirs.keys().cloned().collect();
    let mut merged: BTreeMap<PathBytes, TmpfsDir> = BTreeMap::new();
    for (dir, info) in dirs {
        let top = outer
            .iter()
            .find(|o| dir.is_within(o))
            .cloned()
            .unwrap_or(dir);
        let entry = merged.entry(top).or_insert(TmpfsDir {
            written: Vec::new(),
            exec: false,
        });
        entry.written.extend(info.written);
    }
    // A tmpfs hides what the image has there: refuse directories whose image files it used.
    let mut blocked = Vec::new();
    for (dir, info) in &mut merged {
        info.exec = recording.files.iter().any(|(path, used)| {
            path.is_within(dir)
                && (used.access.contains(&Access::Exec) || used.access.contains(&Access::MmapExec))
        });
        let hidden: Vec<String> = recording
            .files
            .iter()
            .filter(|(path, used)| {
                path.is_within(dir) && *path != dir && used.found_in_image() && !modifies(used)
            })
            .map(|(path, _)| path_text(path))
            .collect();
        let text = String::from_utf8_lossy(dir.as_bytes()).into_owned();
        if !hidden.is_empty() {
            blocked.push(format!(
                "{}: a tmpfs there would hide the image's files it used: {}",
                path_text(dir),
                examples(&hidden)
            ));
        } else if !quote::printable(&text)
            || text.contains([':', ','])
            || encode(dir.as_bytes()) != text
        {
            blocked.push(format!(
                "{}: this path cannot be written as a `--tmpfs` flag",
                path_text(dir)
            ));
        }
    }
    TmpfsPlan {
        dirs: merged,
        image_files,
        blocked,
    }
}

/// `--read-only` with a tmpfs for each directory it wrote to that is not a volume.
pub fn read_only_root(recording: &Recording, advice: &mut Advice) {
    let topic = Topic::ReadOnlyRoot;
    if !recording.files_recorded() {
        advice.push(
            topic,
            Level::Note,
            "File accesses were not recorded: no read-only advice.".into(),
            Vec::new(),
        );
        return;
    }
    let TmpfsPlan {
        dirs: merged,
        image_files,
        blocked,
    } = tmpfs_plan(recording);
    if !image_files.is_empty() {
        advice.push(
            topic,
            Level::Note,
            "It changes files the image ships: under `--read-only` these need a volume (or the application must write elsewhere).".into(),
            vec![format!("image files modified: {}", examples(&image_files))],
        );
    }
    if recording
        .container
        .config
        .as_ref()
        .is_some_and(|c| c.read_only_rootfs)
    {
        advice.push(
            topic,
            Level::Note,
            "The root file system is already read-only.".into(),
            Vec::new(),
        );
        return;
    }
    if !blocked.is_empty() {
        advice.push(
            topic,
            Level::Note,
            "A read-only root file system needs a decision first: some directories it writes cannot simply be tmpfs.".into(),
            blocked,
        );
        return;
    }
    let mut evidence: Vec<String> = merged
        .iter()
        .map(|(dir, info)| {
            format!(
                "{} (tmpfs{}): it wrote {}",
                path_text(dir),
                if info.exec {
                    ", exec: it ran code from there"
                } else {
                    ""
                },
                examples(&info.written)
            )
        })
        .collect();
    if evidence.is_empty() {
        evidence.push("no write outside volumes and /dev".into());
    }
    let title = if merged.is_empty() {
        "It writes nothing outside its volumes: run it with `--read-only`.".to_owned()
    } else {
        "Run it with `--read-only`, with a tmpfs for each directory it writes to.".to_owned()
    };
    advice.push(topic, Level::Advice, title, evidence);
    advice.plan.read_only = Some(
        merged
            .iter()
            .map(|(dir, info)| Tmpfs {
                path: String::from_utf8_lossy(dir.as_bytes()).into_owned(),
                exec: info.exec,
            })
            .collect(),
    );
}
