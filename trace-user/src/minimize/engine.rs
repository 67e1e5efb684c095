//! The Docker side of minimizing: the image's file system through a container that is created
//! and never started (the export endpoint), its configuration (the save endpoint), and loading
//! the slim image (the load endpoint). Streams are consumed on a blocking thread, chunk by chunk,
//! with progress on stderr.

use std::collections::HashMap;
use std::io::{self, Read};

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::ImportImageOptionsBuilder;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::progress::Progress;
use crate::runtime::docker::DockerError;
use crate::runtime::lifecycle;

/// Chunks in flight between the HTTP stream and the blocking reader.
const CHANNEL_CHUNKS: usize = 16;
/// Bytes per chunk when uploading the slim image.
const UPLOAD_CHUNK: usize = 256 << 10;
/// The label that marks the export container as trace's.
const EXPORT_LABEL: &str = "trace.minimize";

/// Why reading a stream from Docker stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The blocking reader panicked or was cancelled.
    #[error("the stream reader stopped")]
    Stopped(#[source] tokio::task::JoinError),
    /// The stream or the reader failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A signal came first.
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

/// SIGINT or SIGTERM stopped the work.
#[derive(Debug, thiserror::Error)]
#[error("interrupted (signal {signal})")]
pub struct Interrupted {
    /// The signal's number.
    pub signal: i32,
}

/// Feeds `source` to `consume` (on a blocking thread) as a [`Read`]; returns its result.
pub async fn consume<T: Send + 'static>(
    source: impl Stream<Item = Result<Bytes, bollard::errors::Error>>,
    mut progress: Progress,
    consume: impl FnOnce(&mut dyn Read) -> io::Result<T> + Send + 'static,
) -> Result<T, StreamError> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let worker = tokio::task::spawn_blocking(move || {
        consume(&mut ChannelReader {
            rx,
            current: Bytes::new(),
        })
    });
    let mut source = std::pin::pin!(source);
    while let Some(chunk) = source.next().await {
        let chunk = chunk.map_err(|e| io::Error::other(DockerError::Api(e)));
        let failed = chunk.is_err();
        if let Ok(bytes) = &chunk {
            progress.add(bytes.len());
        }
        // A closed channel: the reader has what it needs (or failed, and says why below).
        if tx.send(chunk).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    progress.finish();
    Ok(worker.await.map_err(StreamError::Stopped)??)
}

/// A blocking [`Read`] over the chunks an async task sends.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.current = chunk?,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Creates a container from `image_id` that is never started, only exported; returns its id.
pub async fn create_export_container(
    docker: &Docker,
    image_id: &str,
) -> Result<String, DockerError> {
    let body = ContainerCreateBody {
        image: Some(image_id.to_owned()),
        // Never run; an entrypoint lets images without a command be created too.
        entrypoint: Some(vec!["/trace-minimize-never-started".to_owned()]),
        network_disabled: Some(true),
        labels: Some(HashMap::from([(
            EXPORT_LABEL.to_owned(),
            "export".to_owned(),
        )])),
        ..ContainerCreateBody::default()
    };
    let created = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await
        .map_err(DockerError::Api)?;
    Ok(created.id)
}

/// The container's file system, flattened, as a tar stream.
pub fn export(
    docker: &Docker,
    id: &str,
) -> impl Stream<Item = Result<Bytes, bollard::errors::Error>> {
    docker.export_container(id)
}

/// Removes the export container.
pub async fn remove(docker: &Docker, id: &str) {
    lifecycle::remove(docker, id).await;
}

/// Uploads `head`, the file `layer` and `tail` as one `docker save` stream to the load endpoint.
pub async fn load(
    docker: &Docker,
    head: Vec<u8>,
    layer: std::fs::File,
    tail: Vec<u8>,
) -> Result<(), DockerError> {
    struct Upload {
        head: Option<Bytes>,
        layer: tokio::fs::File,
        tail: Option<Bytes>,
        progress: Progress,
    }
    let upload = Upload {
        head: Some(Bytes::from(head)),
        layer: tokio::fs::File::from_std(layer),
        tail: Some(Bytes::from(tail)),
        progress: Progress::new("loading the slim image"),
    };
    let body = futures_util::stream::unfold(upload, |mut up| async move {
        if let Some(head) = up.head.take() {
            up.progress.add(head.len());
            return Some((Ok(head), up));
        }
        let mut buf = vec![0; UPLOAD_CHUNK];
        match up.layer.read(&mut buf).await {
            Ok(0) => {
                let tail = up.tail.take()?;
                up.progress.add(tail.len());
                up.progress.finish();
                Some((Ok(tail), up))
            }
            Ok(n) => {
                buf.truncate(n);
                up.progress.add(n);
                Some((Ok(Bytes::from(buf)), up))
            }
            Err(e) => {
                up.tail = None;
                Some((Err(e), up))
            }
        }
    });
    let options = ImportImageOptionsBuilder::default().quiet(true).build();
    let mut responses = docker.import_image(options, bollard::body_try_stream(body), None);
    while let Some(response) = responses.next().await {
        let info = response.map_err(DockerError::Api)?;
        if let Some(message) = info
            .stream
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            log::info!("load: {message}");
        }
    }
    Ok(())
}

/// The image's id and size in bytes, as inspect reports them.
pub async fn image_id_and_size(docker: &Docker, image: &str) -> Result<(String, u64), DockerError> {
    let inspect = docker
        .inspect_image(image)
        .await
        .map_err(DockerError::Api)?;
    Ok((
        inspect.id.unwrap_or_default(),
        inspect
            .size
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0),
    ))
}
