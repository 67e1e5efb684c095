//! `trace minimize`: a slim image from a recording. The image's flattened file system is exported
//! from a container that is never started, the entries the recording used are selected
//! ([`select`], a pure function of the recording and the image's entry list), written as one
//! layer ([`layer`]), and loaded as a new image whose configuration is the original's, verbatim,
//! but for its layers and history ([`image`]). See docs/minimize.md.
//!
//! ```text
//! recording + --include ──► wanted paths ─┐
//! export (pass 1) ──► image index ────────┴─► select ──► keep
//! export (pass 2) + keep ──► layer.tar (temporary file, sha256)
//! save ──► original config ──► slim config + manifest + layer ──► load ──► inspect
//! ```

pub(crate) mod engine;
pub mod image;
pub mod interpreter;
pub mod layer;
pub mod progress;
pub mod select;

use std::collections::BTreeSet;

use bollard::Docker;
use serde_json::Value;

pub use self::engine::{Interrupted, StreamError};
use self::image::InvalidTag;
use self::progress::{Progress, size};
use self::select::{Origin, Selection, Wanted};
use crate::platform::docker::{DOCKER_MOUNTS, short_id};
use crate::platform::image::used_files;
use crate::recording::{PathBytes, Recording};
use crate::runtime::docker::DockerError;
use crate::session::StopSignals;

/// Files the runtime reads to start a container with a user given by name (`--user app`, or
/// `User` in the configuration): kept whenever the image has them.
pub const RUNTIME_FILES: [&str; 2] = ["/etc/passwd", "/etc/group"];

/// Paths Docker makes in every container (the mount points of its own bind mounts, its marker
/// file): never image content, so never kept.
const DOCKER_MADE: [&str; 1] = ["/.dockerenv"];

/// Why a slim image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MinimizeError {
    /// The recording cannot say which files the image needs.
    #[error(
        "the recording holds no file observations (a version 1 recording, or a probe without file events): it cannot say what the image needs"
    )]
    FilesNotRecorded,
    /// `--tag` is not a valid image name.
    #[error("--tag")]
    Tag(#[source] InvalidTag),
    /// `--tag` names the image the recording was made from.
    #[error("--tag {tag} names the recorded image itself; choose another tag")]
    TagIsOriginal {
        /// The tag.
        tag: String,
    },
    /// The recorded image is not in Docker's image store.
    #[error(
        "the recorded image {image} ({image_id}) is not in Docker's image store: minimize needs the image the recording was made from"
    )]
    ImageNotStored {
        /// The image as the container named it.
        image: String,
        /// Its id.
        image_id: String,
        /// What Docker said.
        #[source]
        source: DockerError,
    },
    /// The image's configuration could not be read.
    #[error("cannot read the image's configuration")]
    ReadConfig(#[source] StreamError),
    /// The container to export the image from could not be created.
    #[error("cannot create a container to export the image from")]
    CreateExport(#[source] DockerError),
    /// The image's file system could not be read.
    #[error("cannot read the image's file system")]
    ReadFiles(#[source] StreamError),
    /// The slim layer could not be written.
    #[error("cannot write the slim layer")]
    WriteLayer(#[source] StreamError),
    /// Docker refused the upload.
    #[error("Docker refused the slim image")]
    Load(#[source] DockerError),
    /// The upload was taken but no image came of it.
    #[error("the slim image did not appear after loading it")]
    NotLoaded(#[source] DockerError),
    /// A signal came first.
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

/// What to minimize beyond the recording.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The slim image's tag (default: [`image::default_tag`]).
    pub tag: Option<String>,
    /// Paths to keep besides the recorded ones; a directory keeps everything below it.
    pub include: Vec<PathBytes>,
}

/// What minimizing made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The recorded image as the container named it.
    pub original: String,
    /// Its id.
    pub original_id: String,
    /// Its size (inspect `Size`).
    pub original_size: u64,
    /// The slim image's tag.
    pub tag: String,
    /// Its id.
    pub id: String,
    /// Its size (inspect `Size`).
    pub size: u64,
    /// Entries kept, of how many.
    pub kept: usize,
    /// Entries in the image.
    pub total: usize,
    /// Wanted paths the image does not hold.
    pub missing: Vec<(Origin, PathBytes)>,
}

impl Report {
    /// How many times smaller the slim image is.
    pub fn ratio(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // a display value
        let ratio = self.original_size as f64 / self.size.max(1) as f64;
        ratio
    }

    /// The lines printed on stdout.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut text = format!(
            "minimized {} by {:.2}x: {} => {}\n",
            self.original,
            self.ratio(),
            size(self.original_size),
            size(self.size)
        );
        let _ = write!(
            text,
            "slim image: {} ({})\nkept {} of {} entries of the image\n",
            self.tag,
            short_id(&self.id),
            self.kept,
            self.total
        );
        let from_recording = self
            .missing
            .iter()
            .filter(|(o, _)| *o == Origin::Recording)
            .count();
        if from_recording > 0 {
            let _ = writeln!(
                text,
                "{from_recording} recorded paths are not in the image (made or mounted at run time)"
            );
        }
        text
    }
}

/// Every path the slim image must have: the recording's used files (files.txt), the `include`
/// paths with what is below them, the runtime's user files, the configured working directory,
/// and the configured volumes with their contents (Docker copies them into a new volume).
pub fn wanted(recording: &Recording, config: &Value, include: &[PathBytes]) -> Vec<Wanted> {
    let mut wanted: Vec<Wanted> = used_files(recording)
        .into_iter()
        .map(|(path, _)| Wanted {
            path,
            subtree: false,
            origin: Origin::Recording,
        })
        .collect();
    wanted.extend(include.iter().map(|path| Wanted {
        path: path.clone(),
        subtree: true,
        origin: Origin::Include,
    }));
    let runtime = |path: &str, subtree| Wanted {
        path: PathBytes::from(path),
        subtree,
        origin: Origin::Runtime,
    };
    wanted.extend(RUNTIME_FILES.iter().map(|p| runtime(p, false)));
    let settings = &config["config"];
    if let Some(dir) = settings["WorkingDir"].as_str().filter(|d| !d.is_empty()) {
        wanted.push(runtime(dir, false));
    }
    if let Some(volumes) = settings["Volumes"].as_object() {
        wanted.extend(volumes.keys().map(|v| runtime(v, true)));
    }
    wanted
}

/// The selection without what Docker itself makes in every container.
fn without_docker_made(mut selection: Selection) -> Selection {
    for path in DOCKER_MOUNTS.iter().chain(&DOCKER_MADE) {
        selection.keep.remove(&PathBytes::from(*path));
    }
    selection
}

/// Builds the slim image of `recording`'s image and loads it into Docker (see the module
/// documentation). SIGINT or SIGTERM before the upload stops it, with the export container
/// removed.
pub async fn minimize(
    docker: &Docker,
    recording: &Recording,
    options: &Options,
    signals: &mut StopSignals,
) -> Result<Report, MinimizeError> {
    if !recording.files_recorded() {
        return Err(MinimizeError::FilesNotRecorded);
    }
    if recording.events.dropped > 0 {
        say!(
            "trace: warning: {} events were dropped while recording: the slim image may miss files",
            recording.events.dropped
        );
    }
    let container = &recording.container;
    let tag = image::check_tag(
        &options
            .tag
            .clone()
            .unwrap_or_else(|| image::default_tag(&container.image, &container.name)),
    )
    .map_err(MinimizeError::Tag)?;
    let (original_id, original_size) = engine::image_id_and_size(docker, &container.image_id)
        .await
        .map_err(|source| MinimizeError::ImageNotStored {
            image: container.image.clone(),
            image_id: container.image_id.clone(),
            source,
        })?;
    if let Ok((existing, _)) = engine::image_id_and_size(docker, &tag).await
        && existing == original_id
    {
        return Err(MinimizeError::TagIsOriginal { tag });
    }

    let saved = unless_interrupted(
        signals,
        engine::consume(
            docker.export_image(&original_id),
            Progress::new("reading the image's configuration"),
            |reader| image::read_save(reader).map_err(io_error),
        ),
    )
    .await
    .map_err(MinimizeError::ReadConfig)?;
    let wanted = wanted(recording, &saved.config, &options.include);

    let export_id = engine::create_export_container(docker, &original_id)
        .await
        .map_err(MinimizeError::CreateExport)?;
    // From here the container exists: remove it whatever happens.
    let written = unless_interrupted(
        signals,
        export_layer(docker, &export_id, wanted, saved.shadowed),
    )
    .await;
    engine::remove(docker, &export_id).await;
    let (selection, total, layer, file) = written?;

    let created_by = format!(
        "trace minimize: {} of {total} entries of {}",
        selection.keep.len(),
        container.image
    );
    let config = image::slim_config(&saved.config, &layer.diff_id, &created_by);
    let tarball = image::tarball(&config, &layer, &tag);
    engine::load(docker, tarball.head, file, tarball.tail)
        .await
        .map_err(MinimizeError::Load)?;
    let (id, size) = engine::image_id_and_size(docker, &tag)
        .await
        .map_err(MinimizeError::NotLoaded)?;
    Ok(Report {
        original: container.image.clone(),
        original_id,
        original_size,
        tag,
        id,
        size,
        kept: layer.entries,
        total,
        missing: selection.missing,
    })
}

/// Indexes the export container's file system, selects, and writes the kept entries (with the
/// image's own `metadata` for the directories Docker's init layer shadows) into a temporary file (removed when it is closed); returns the selection, the number of entries in
/// the image, the layer and the file, rewound.
async fn export_layer(
    docker: &Docker,
    export_id: &str,
    wanted: Vec<Wanted>,
    metadata: std::collections::BTreeMap<PathBytes, tar::Header>,
) -> Result<(Selection, usize, layer::Layer, std::fs::File), MinimizeError> {
    let index = engine::consume(
        engine::export(docker, export_id),
        Progress::new("reading the image's files"),
        |reader| layer::index(reader),
    )
    .await
    .map_err(MinimizeError::ReadFiles)?;
    let total = index.len();
    let selection = without_docker_made(select::select(&index, &wanted));
    let keep: BTreeSet<PathBytes> = selection.keep.clone();
    let (layer, file) = engine::consume(
        engine::export(docker, export_id),
        Progress::new("writing the slim layer"),
        move |reader| {
            use std::io::Seek;
            let mut file = tempfile::tempfile()?;
            let out = std::io::BufWriter::new(&mut file);
            let layer = layer::write_layer(reader, &keep, &metadata, out)?;
            file.rewind()?;
            Ok((layer, file))
        },
    )
    .await
    .map_err(MinimizeError::WriteLayer)?;
    Ok((selection, total, layer, file))
}

/// `work`, unless SIGINT or SIGTERM comes first (then `work` is dropped).
async fn unless_interrupted<T, E: From<Interrupted>>(
    signals: &mut StopSignals,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::select! {
        done = work => done,
        code = signals.received() => Err(Interrupted { signal: code - 128 }.into()),
    }
}

fn io_error(e: image::ImageError) -> std::io::Error {
    std::io::Error::other(e)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::recording::{Access, Category, ContainerInfo, HostInfo};

    #[test]
    fn wanted_paths_come_from_the_recording_the_includes_and_the_configuration() {
        let mut recording = Recording::started(
            ContainerInfo {
                id: "c".into(),
                name: "web".into(),
                image: "app:1".into(),
                image_id: "sha256:00".into(),
                mounts: [PathBytes::from("/data")].into(),
                config: None,
                runtimes: std::collections::BTreeSet::new(),
            },
            HostInfo {
                kernel: "6".into(),
                arch: "x86_64".into(),
            },
            "2026-01-01T00:00:00Z".into(),
            true,
        );
        recording.mark_recorded(Category::Files);
        recording.record_file("/usr/bin/app", Access::Exec);
        recording.record_file("/data/db", Access::Read);
        recording.record_file("/etc/hosts", Access::Read);
        let config = json!({"config": {"WorkingDir": "/srv", "Volumes": {"/data": {}}}});
        let wanted = wanted(
            &recording,
            &config,
            &[PathBytes::from("/usr/share/zoneinfo")],
        );
        let described: Vec<(String, bool, Origin)> = wanted
            .iter()
            .map(|w| (w.path.to_string(), w.subtree, w.origin))
            .collect();
        assert_eq!(
            described,
            [
                ("/usr/bin/app".to_owned(), false, Origin::Recording),
                ("/usr/share/zoneinfo".to_owned(), true, Origin::Include),
                ("/etc/passwd".to_owned(), false, Origin::Runtime),
                ("/etc/group".to_owned(), false, Origin::Runtime),
                ("/srv".to_owned(), false, Origin::Runtime),
                ("/data".to_owned(), true, Origin::Runtime),
            ]
        );
    }

    #[test]
    fn the_report_says_how_much_smaller() {
        let report = Report {
            original: "app:1".into(),
            original_id: "sha256:aa".into(),
            original_size: 226_000_000,
            tag: "app:1-slim".into(),
            id: "sha256:0123456789abcdef".into(),
            size: 71_000_000,
            kept: 10,
            total: 100,
            missing: vec![(Origin::Recording, PathBytes::from("/tmp/x"))],
        };
        assert_eq!(
            report.render(),
            "minimized app:1 by 3.18x: 226.0 MB => 71.0 MB\nslim image: app:1-slim (0123456789ab)\nkept 10 of 100 entries of the image\n1 recorded paths are not in the image (made or mounted at run time)\n"
        );
    }
}
