//! Reading the binaries from the image, by path, the way `trace minimize` reads an image: its
//! flattened file system exported from a container that is created from it and never started,
//! indexed once, each path resolved in that index as the kernel would resolve it inside the
//! container (its symlinks followed within the image, never on the host). The files named as
//! recorded are read and analysed in that same pass; a second pass reads only those a path
//! reaches through a link or a hard link, if any. The export is a tar stream: nothing of the image touches the
//! host's file system, so a link planted in the image can only lead to another entry of it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

use bollard::Docker;

use super::elf;
use crate::minimize::engine::{self, StreamError};
use crate::minimize::layer;
use crate::minimize::progress::Progress;
use crate::minimize::select::{ImageIndex, Kind, resolve};
use crate::recording::{Access, Binary, PathBytes, Reach, Recording, Skip, normalize};
use crate::runtime::docker::DockerError;

/// How much reading an image's binaries may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Binaries read at most.
    pub binaries: usize,
    /// The largest binary read, in bytes.
    pub file_bytes: u64,
    /// Bytes read in all.
    pub total_bytes: u64,
}

/// The limits trace reads with: 256 binaries, 128 MiB each, 1 GiB in all (a container that
/// maps a few hundred libraries; a browser's largest binary is about 250 MiB and is left out).
pub const LIMITS: Limits = Limits {
    binaries: 256,
    file_bytes: 128 << 20,
    total_bytes: 1 << 30,
};

/// Why the image's binaries could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// The recorded image is no longer in the engine's store.
    #[error("the image {image_id} is not in the engine's image store")]
    ImageNotStored {
        /// Its id.
        image_id: String,
        /// What the engine said.
        #[source]
        source: DockerError,
    },
    /// The container to export the image from could not be created.
    #[error("cannot create a container to read the image from")]
    CreateExport(#[source] DockerError),
    /// The export could not be read.
    #[error("cannot read the image's files")]
    Read(#[source] StreamError),
}

/// The paths whose binaries are read: every program executed and every file mapped executable
/// (the libraries), as the recording names them.
pub fn wanted(recording: &Recording) -> BTreeSet<PathBytes> {
    let mapped = recording.files.iter().filter(|(_, used)| {
        used.access.contains(&Access::Exec) || used.access.contains(&Access::MmapExec)
    });
    recording
        .execs
        .keys()
        .chain(mapped.map(|(path, _)| path))
        .map(|path| normalize(path.as_bytes()))
        .collect()
}

/// What to read: the regular file each wanted path resolves to in the image, with its size, and
/// why the other paths are not read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Image paths to read, with their sizes.
    pub read: BTreeMap<PathBytes, u64>,
    /// Wanted paths not read, and why.
    pub skipped: BTreeMap<PathBytes, Skip>,
}

/// Resolves each of `wanted` in `index` and keeps within `limits`, in path order. Pure.
pub fn plan(index: &ImageIndex, wanted: &BTreeSet<PathBytes>, limits: Limits) -> Plan {
    let mut plan = Plan::default();
    let mut total = 0u64;
    for path in wanted {
        let file = resolve(index, path.as_bytes()).and_then(|at| match index.get(&at) {
            Some(node) if node.kind == Kind::File => Some((at, node.size)),
            Some(node) => match &node.kind {
                Kind::HardLink(target) => index
                    .get(target)
                    .filter(|n| n.kind == Kind::File)
                    .map(|n| (target.clone(), n.size)),
                _ => None,
            },
            None => None,
        });
        let Some((at, size)) = file else {
            plan.skipped.insert(path.clone(), Skip::NotInImage);
            continue;
        };
        if plan.read.contains_key(&at) {
            continue;
        }
        if size > limits.file_bytes {
            plan.skipped.insert(path.clone(), Skip::TooLarge);
        } else if plan.read.len() >= limits.binaries || total + size > limits.total_bytes {
            plan.skipped.insert(path.clone(), Skip::OverBudget);
        } else {
            total += size;
            plan.read.insert(at, size);
        }
    }
    plan
}

/// Reads and analyses the files of `plan` from a file-system tar stream (the export).
pub fn read_binaries(reader: impl Read, plan: &Plan) -> io::Result<Reach> {
    let mut reach = Reach {
        binaries: BTreeMap::new(),
        skipped: plan.skipped.clone(),
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path_bytes());
        let Some(&size) = plan.read.get(&path) else {
            continue;
        };
        // The size the index saw bounds the read, whatever this header says.
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry).take(size).read_to_end(&mut data)?;
        add(&mut reach, path, elf::analyse(&data));
    }
    Ok(reach)
}

/// One file's analysis into `reach`.
fn add(reach: &mut Reach, path: PathBytes, analysis: Result<Binary, Skip>) {
    match analysis {
        Ok(binary) => {
            reach.binaries.insert(path, binary);
        }
        Err(why) => {
            reach.skipped.insert(path, why);
        }
    }
}

/// What the first pass found of the files it read, by their path in the image.
pub type Analysed = BTreeMap<PathBytes, Result<Binary, Skip>>;

/// Indexes the export and analyses, in the same pass, the files of `wanted` as they are named
/// (most of a recording's programs and libraries are), within `limits`.
pub fn index_and_analyse(
    reader: impl Read,
    wanted: &BTreeSet<PathBytes>,
    limits: Limits,
) -> io::Result<(ImageIndex, Analysed)> {
    let mut total = 0u64;
    let mut count = 0usize;
    let read = |path: &PathBytes, size: u64| {
        let keep = wanted.contains(path)
            && size <= limits.file_bytes
            && count < limits.binaries
            && total + size <= limits.total_bytes;
        if keep {
            total += size;
            count += 1;
        }
        keep
    };
    layer::index_reading(reader, read, elf::analyse)
}

/// The planned files the first pass analysed, and the plan of the rest.
pub fn use_analysed(plan: Plan, mut analysed: Analysed) -> (Reach, Plan) {
    let mut reach = Reach {
        binaries: BTreeMap::new(),
        skipped: plan.skipped,
    };
    let mut rest = Plan::default();
    for (path, size) in plan.read {
        match analysed.remove(&path) {
            Some(analysis) => add(&mut reach, path, analysis),
            None => {
                rest.read.insert(path, size);
            }
        }
    }
    (reach, rest)
}

/// What the programs and libraries `recording` ran can reach, read from its image (see the
/// module documentation); `None` when it recorded no files or programs to read.
pub async fn gather(docker: &Docker, recording: &Recording) -> Result<Option<Reach>, ReachError> {
    if !recording.files_recorded() && !recording.execs_recorded() {
        return Ok(None);
    }
    let wanted = wanted(recording);
    let image_id = &recording.container.image_id;
    let (image, _) = engine::image_id_and_size(docker, image_id)
        .await
        .map_err(|source| ReachError::ImageNotStored {
            image_id: image_id.clone(),
            source,
        })?;
    let export = engine::create_export_container(docker, &image)
        .await
        .map_err(ReachError::CreateExport)?;
    // From here the container exists: remove it whatever happens.
    let read = read_export(docker, &export, wanted).await;
    engine::remove(docker, &export).await;
    read.map(Some)
}

async fn read_export(
    docker: &Docker,
    export: &str,
    wanted: BTreeSet<PathBytes>,
) -> Result<Reach, ReachError> {
    let first = wanted.clone();
    let (index, analysed) = engine::consume(
        engine::export(docker, export),
        Progress::new("reading the image's programs and libraries"),
        move |reader| index_and_analyse(reader, &first, LIMITS),
    )
    .await
    .map_err(ReachError::Read)?;
    let (mut reach, rest) = use_analysed(plan(&index, &wanted, LIMITS), analysed);
    if rest.read.is_empty() {
        return Ok(reach);
    }
    let more = engine::consume(
        engine::export(docker, export),
        Progress::new("reading the programs and libraries behind links"),
        move |reader| read_binaries(reader, &rest),
    )
    .await
    .map_err(ReachError::Read)?;
    reach.binaries.extend(more.binaries);
    reach.skipped.extend(more.skipped);
    Ok(reach)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minimize::select::Node;
    use crate::recording::{Binary, Linking, Machine};

    fn index(entries: &[(&str, Kind, u64)]) -> ImageIndex {
        let mut index = ImageIndex::default();
        for (path, kind, size) in entries {
            index.insert(
                PathBytes::from(*path),
                Node {
                    kind: kind.clone(),
                    size: *size,
                },
            );
        }
        index
    }

    fn paths(list: &[&str]) -> BTreeSet<PathBytes> {
        list.iter().map(|p| PathBytes::from(*p)).collect()
    }

    #[test]
    fn paths_resolve_inside_the_image_and_stay_within_the_limits() {
        let image = index(&[
            ("/bin", Kind::Symlink(b"usr/bin".to_vec()), 0),
            ("/usr", Kind::Dir, 0),
            ("/usr/bin", Kind::Dir, 0),
            ("/usr/bin/app", Kind::File, 100),
            ("/usr/bin/twin", Kind::HardLink("/usr/bin/app".into()), 0),
            ("/usr/bin/big", Kind::File, 5000),
            ("/usr/bin/b", Kind::File, 300),
            ("/usr/bin/c", Kind::File, 300),
            // Planted: a link out of the image leads to the image's own root, never the host's.
            (
                "/usr/bin/escape",
                Kind::Symlink(b"../../../../etc/shadow".to_vec()),
                0,
            ),
            ("/usr/bin/dir", Kind::Dir, 0),
        ]);
        let limits = Limits {
            binaries: 3,
            file_bytes: 1000,
            total_bytes: 500,
        };
        let plan = plan(
            &image,
            &paths(&[
                "/bin/app",
                "/usr/bin/twin",
                "/usr/bin/big",
                "/usr/bin/b",
                "/usr/bin/c",
                "/usr/bin/escape",
                "/usr/bin/dir",
                "/tmp/made-at-run-time",
            ]),
            limits,
        );
        assert_eq!(
            plan.read,
            [
                (PathBytes::from("/usr/bin/app"), 100),
                (PathBytes::from("/usr/bin/b"), 300)
            ]
            .into()
        );
        let skipped: Vec<(String, Skip)> = plan
            .skipped
            .iter()
            .map(|(p, s)| (p.to_string(), *s))
            .collect();
        assert_eq!(
            skipped,
            [
                ("/tmp/made-at-run-time".to_owned(), Skip::NotInImage),
                ("/usr/bin/big".to_owned(), Skip::TooLarge),
                ("/usr/bin/c".to_owned(), Skip::OverBudget),
                ("/usr/bin/dir".to_owned(), Skip::NotInImage),
                ("/usr/bin/escape".to_owned(), Skip::NotInImage),
            ]
        );
    }

    /// A tar holding one script and this test program: the script is not ELF, the program is
    /// read and its imports listed; entries not planned are passed over.
    /// The first pass analyses what is named as recorded; only a path that reaches its file
    /// through a link is left to a second pass, and both give what one planned read gives.
    #[test]
    fn one_pass_reads_what_is_named_and_leaves_links_to_a_second() {
        let Some(me) = elf::glibc_test_program() else {
            return;
        };
        let mut tar = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        for name in ["usr/", "usr/bin/"] {
            tar.append_data(&mut dir.clone(), name, std::io::empty())
                .unwrap();
        }
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        tar.append_link(&mut link, "bin", "usr/bin").unwrap();
        for name in ["usr/bin/app", "usr/bin/tool", "usr/bin/unused"] {
            let mut header = tar::Header::new_gnu();
            header.set_size(me.len() as u64);
            header.set_mode(0o755);
            tar.append_data(&mut header, name, me.as_slice()).unwrap();
        }
        let stream = tar.into_inner().unwrap();
        let wanted = paths(&["/usr/bin/app", "/bin/tool", "/missing"]);

        let (index, analysed) = index_and_analyse(stream.as_slice(), &wanted, LIMITS).unwrap();
        // The index is the same, interpreters included, whether a file was read whole or not.
        assert_eq!(index, layer::index(stream.as_slice()).unwrap());
        assert_ne!(index, ImageIndex::default());
        assert_eq!(
            analysed.keys().collect::<Vec<_>>(),
            [&PathBytes::from("/usr/bin/app")],
            "only what is named as recorded is read in the first pass"
        );
        let planned = plan(&index, &wanted, LIMITS);
        let (mut reach, rest) = use_analysed(planned.clone(), analysed);
        assert_eq!(
            rest.read,
            [(PathBytes::from("/usr/bin/tool"), me.len() as u64)].into()
        );
        let more = read_binaries(stream.as_slice(), &rest).unwrap();
        reach.binaries.extend(more.binaries);
        reach.skipped.extend(more.skipped);
        assert_eq!(reach, read_binaries(stream.as_slice(), &planned).unwrap());
        assert_eq!(reach.binaries.len(), 2);
        assert_eq!(
            reach.skipped[&PathBytes::from("/missing")],
            Skip::NotInImage
        );

        // A budget of one file: the first pass reads one, the plan still names both.
        let one = Limits {
            binaries: 1,
            ..LIMITS
        };
        let (_, analysed) = index_and_analyse(stream.as_slice(), &wanted, one).unwrap();
        assert_eq!(analysed.len(), 1);
    }

    #[test]
    fn the_planned_files_are_read_from_the_stream() {
        let Some(me) = elf::glibc_test_program() else {
            return;
        };
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("usr/bin/app", me.as_slice()),
            ("usr/bin/run.sh", b"#!/bin/sh\n".as_slice()),
            ("usr/bin/other", b"not read".as_slice()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o755);
            tar.append_data(&mut header, name, data).unwrap();
        }
        let stream = tar.into_inner().unwrap();
        let plan = Plan {
            read: [
                (PathBytes::from("/usr/bin/app"), me.len() as u64),
                (PathBytes::from("/usr/bin/run.sh"), 10),
            ]
            .into(),
            skipped: [(PathBytes::from("/gone"), Skip::NotInImage)].into(),
        };
        let reach = read_binaries(stream.as_slice(), &plan).unwrap();
        let app: &Binary = &reach.binaries[&PathBytes::from("/usr/bin/app")];
        assert_eq!(
            (app.machine, app.linking),
            (Machine::X86_64, Linking::Dynamic)
        );
        assert!(app.imports.contains("pthread_create"));
        assert_eq!(
            reach.skipped,
            [
                (PathBytes::from("/gone"), Skip::NotInImage),
                (PathBytes::from("/usr/bin/run.sh"), Skip::NotElf)
            ]
            .into()
        );
    }
}
