//! Which entries of an image the slim image keeps: a pure function of the wanted paths and the
//! image's own entry list, so a recording can only select what the image holds.
//!
//! Each wanted path is walked through the image as the kernel resolves it: component by
//! component, following every symlink (the last one too, at most [`MAX_SYMLINKS`] per walk).
//! Every entry met on the way is kept: the directories, each symlink (`/lib -> usr/lib`,
//! `libfoo.so.1 -> libfoo.so.1.2.3`) and what it ends at. Then, until nothing changes: a kept
//! symlink keeps what its target resolves to, a kept hard link keeps the entry it links to, a
//! kept executable keeps the interpreter the kernel loads for it (the dynamic loader, a script's
//! `#!` program: the kernel opens them inside `execve`, where a trace does not see them), and
//! every kept entry keeps its parent directories (with their modes and owners).
//! A wanted subtree (`--include DIR`, a configured volume) keeps every entry below the directory
//! it resolves to.

use std::collections::{BTreeMap, BTreeSet};

use crate::recording::{PathBytes, normalize};

/// Symlinks followed in one walk at most, as the kernel's `MAXSYMLINKS`; a deeper chain (or a
/// loop) counts as missing.
pub const MAX_SYMLINKS: usize = 40;

/// What an image entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symlink, with its target as stored (relative or absolute bytes).
    Symlink(Vec<u8>),
    /// A hard link to another entry of the image (normalised path).
    HardLink(PathBytes),
    /// A device node, fifo or socket.
    Other,
}

/// One entry of the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// What it is.
    pub kind: Kind,
    /// Its data size in bytes (0 but for regular files).
    pub size: u64,
}

/// The image's entries by normalised absolute path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageIndex {
    nodes: BTreeMap<PathBytes, Node>,
    /// Executables -> the interpreter the kernel loads for them (see [`super::interpreter`]).
    interpreters: BTreeMap<PathBytes, Vec<u8>>,
}

impl ImageIndex {
    /// Adds (or replaces, as a later tar entry does) the entry at `path`.
    pub fn insert(&mut self, path: PathBytes, node: Node) {
        self.nodes.insert(path, node);
    }

    /// Records that the kernel loads `interpreter` to run the executable at `path`.
    pub fn set_interpreter(&mut self, path: PathBytes, interpreter: Vec<u8>) {
        self.interpreters.insert(path, interpreter);
    }

    /// The entry at `path`.
    pub fn get(&self, path: &PathBytes) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the image has no entries.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Entries at and below `dir`, in order.
    fn subtree<'a>(&'a self, dir: &'a PathBytes) -> impl Iterator<Item = &'a PathBytes> + 'a {
        self.nodes
            .range(dir.clone()..)
            .map(|(p, _)| p)
            .take_while(move |p| p.as_bytes().starts_with(dir.as_bytes()))
            .filter(move |p| p.is_within(dir))
    }

    /// The entries of `keep` only.
    #[must_use]
    pub fn restricted_to(&self, keep: &BTreeSet<PathBytes>) -> ImageIndex {
        ImageIndex {
            nodes: self
                .nodes
                .iter()
                .filter(|(p, _)| keep.contains(*p))
                .map(|(p, n)| (p.clone(), n.clone()))
                .collect(),
            interpreters: self
                .interpreters
                .iter()
                .filter(|(p, _)| keep.contains(*p))
                .map(|(p, i)| (p.clone(), i.clone()))
                .collect(),
        }
    }

    /// Data bytes of the regular files in `keep` (or of every entry without a filter).
    pub fn data_size(&self, keep: Option<&BTreeSet<PathBytes>>) -> u64 {
        self.nodes
            .iter()
            .filter(|(p, _)| keep.is_none_or(|k| k.contains(*p)))
            .map(|(_, n)| n.size)
            .sum()
    }
}

/// Why a path is wanted; reported with the paths the image does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Used in the recording (files.txt).
    Recording,
    /// Named by `--include` or `--include-from`.
    Include,
    /// Needed by the runtime or the image's configuration (`/etc/passwd`, volumes, working
    /// directory); quietly skipped when absent.
    Runtime,
}

/// A path the slim image must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// Absolute path in the image (normalised when selecting).
    pub path: PathBytes,
    /// Keep everything below it too, when it is a directory.
    pub subtree: bool,
    /// Why it is wanted.
    pub origin: Origin,
}

/// What to keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Paths of the image entries to keep (normalised, absolute).
    pub keep: BTreeSet<PathBytes>,
    /// Wanted paths (not [`Origin::Runtime`] ones) that do not resolve in the image, sorted.
    pub missing: Vec<(Origin, PathBytes)>,
}

/// The entries of `index` that make every `wanted` path resolve as it does in the full image (see
/// the module documentation).
pub fn select(index: &ImageIndex, wanted: &[Wanted]) -> Selection {
    let mut kept = Kept::default();
    let mut missing = BTreeSet::new();
    for want in wanted {
        match walk(index, want.path.as_bytes(), &mut kept) {
            Some(end) if want.subtree => {
                for path in index.subtree(&end) {
                    kept.add(path.clone());
                }
            }
            None if want.origin != Origin::Runtime => {
                missing.insert((want.origin, normalize(want.path.as_bytes())));
            }
            Some(_) | None => {}
        }
    }
    while let Some(path) = kept.queue.pop() {
        let mut parent = path.parent();
        while let Some(dir) = parent.filter(|d| d.as_bytes() != b"/") {
            if index.get(&dir).is_some() {
                kept.add(dir.clone());
            }
            parent = dir.parent();
        }
        match index.get(&path).map(|n| &n.kind) {
            Some(Kind::Symlink(target)) => {
                let dir = path.parent().unwrap_or_default();
                let mut joined = dir.as_bytes().to_vec();
                joined.push(b'/');
                joined.extend_from_slice(target);
                // An absolute target restarts from the root inside `walk`.
                let from = if target.starts_with(b"/") {
                    target.as_slice()
                } else {
                    &joined
                };
                walk(index, from, &mut kept);
            }
            Some(Kind::HardLink(target)) if index.get(target).is_some() => {
                kept.add(target.clone());
            }
            _ => {}
        }
        if let Some(interpreter) = index.interpreters.get(&path) {
            walk(index, interpreter, &mut kept);
        }
    }
    Selection {
        keep: kept.keep,
        missing: missing.into_iter().collect(),
    }
}

/// Kept paths, and those whose targets and parents are still to be kept.
#[derive(Default)]
struct Kept {
    keep: BTreeSet<PathBytes>,
    queue: Vec<PathBytes>,
}

impl Kept {
    fn add(&mut self, path: PathBytes) {
        if self.keep.insert(path.clone()) {
            self.queue.push(path);
        }
    }
}

/// Resolves `path` in the image as the kernel would (every symlink followed, `..` taken
/// physically, never above `/`), keeping each entry met; the entry it ends at, or `None` when
/// a component is missing, is not a directory, or the symlinks go deeper than [`MAX_SYMLINKS`].
fn walk<'a>(index: &'a ImageIndex, path: &'a [u8], kept: &mut Kept) -> Option<PathBytes> {
    // Components still to resolve, the next one last.
    let mut pending: Vec<&[u8]> = path.split(|&b| b == b'/').rev().collect();
    let mut at: Vec<u8> = Vec::new();
    let mut followed = 0;
    // Symlink targets are borrowed from `index`, which outlives the walk.
    while let Some(name) = pending.pop() {
        match name {
            b"" | b"." => continue,
            b".." => {
                let cut = at.iter().rposition(|&b| b == b'/').unwrap_or(0);
                at.truncate(cut);
                continue;
            }
            _ => {}
        }
        let mut next = at.clone();
        next.push(b'/');
        next.extend_from_slice(name);
        let next = PathBytes::new(next);
        let node = index.get(&next)?;
        kept.add(next.clone());
        match &node.kind {
            Kind::Symlink(target) => {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return None;
                }
                if target.starts_with(b"/") {
                    at.clear();
                }
                pending.extend(target.split(|&b| b == b'/').rev());
            }
            Kind::Dir => at = next.as_bytes().to_vec(),
            _ if pending.is_empty() => at = next.as_bytes().to_vec(),
            // A file in the middle of the path: ENOTDIR.
            _ => return None,
        }
    }
    Some(if at.is_empty() {
        PathBytes::from("/")
    } else {
        PathBytes::new(at)
    })
}

/// Where `path` resolves in `index` (for tests and reports); `None` when it does not.
pub fn resolve(index: &ImageIndex, path: &[u8]) -> Option<PathBytes> {
    walk(index, path, &mut Kept::default())
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
