//! The exercise's marks: `trace mark NAME` ends one step of the exercise and starts the next
//! (docs/coverage.md). trace listens on a Unix socket in a directory only it can enter and names
//! it to a host exercise in [`MARK_ENV`]; at each mark the session drains the probe's records and
//! reads its counters, so that what happened before the mark belongs to the earlier step, and
//! only then answers, so that what the exercise does next belongs to the new one.
//!
//! One line each way: the exercise sends `NAME\n`, trace answers `ok\n` or `error: WHY\n`. A
//! peer is trusted no more than it must be: it must run as trace's user, its line is read for at
//! most [`READ_TIMEOUT`] and [`MAX_LINE`] bytes, the name must be a step name
//! ([`is_step_name`]), and at most [`MAX_STEPS`] marks are taken.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::recording::{MAX_STEP_NAME, MAX_STEPS, STARTUP_STEP, is_step_name};

/// The environment variable naming the socket.
pub const MARK_ENV: &str = "TRACE_MARK";
/// How long a peer may take to send its line.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest line read: a step name and its newline.
pub const MAX_LINE: usize = MAX_STEP_NAME + 1;
/// The answer to a mark taken.
pub const OK: &str = "ok";

/// Where marks arrive while a session records.
#[derive(Debug)]
pub struct Marks {
    listener: UnixListener,
    path: PathBuf,
    taken: usize,
    // Removed (with the socket) when the session ends.
    _dir: tempfile::TempDir,
}

/// A connection whose line was read: the step's name, or why it is refused.
#[derive(Debug)]
pub struct Incoming {
    stream: UnixStream,
    /// The name asked for, checked.
    pub name: Result<String, String>,
}

impl Marks {
    /// A socket in a new directory that only trace's user can enter.
    pub fn listen() -> std::io::Result<Marks> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("trace-mark.")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let path = dir.path().join("mark.sock");
        let listener = UnixListener::bind(&path)?;
        Ok(Marks {
            listener,
            path,
            taken: 0,
            _dir: dir,
        })
    }

    /// The socket's path, as [`MARK_ENV`] gives it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next connection (cancel-safe: a connection is not lost when another event comes
    /// first).
    pub async fn accept(&self) -> std::io::Result<UnixStream> {
        self.listener.accept().await.map(|(stream, _)| stream)
    }

    /// Reads and checks the line of `stream` (see the module documentation).
    pub async fn read(&mut self, mut stream: UnixStream) -> Incoming {
        let name = match check_peer(&stream) {
            Err(why) => Err(why),
            Ok(()) => read_name(&mut stream).await,
        };
        let name = name.and_then(|name| {
            if self.taken >= MAX_STEPS {
                Err(format!("no more than {MAX_STEPS} marks are taken"))
            } else {
                self.taken += 1;
                Ok(name)
            }
        });
        Incoming { stream, name }
    }
}

impl Incoming {
    /// Answers the peer: [`OK`], or the reason it was refused.
    pub async fn answer(mut self, answer: Result<(), String>) {
        let line = match answer.and(self.name.map(|_| ())) {
            Ok(()) => format!("{OK}\n"),
            Err(why) => format!("error: {why}\n"),
        };
        // A peer that went away has nothing to read.
        let _ = tokio::time::timeout(READ_TIMEOUT, self.stream.write_all(line.as_bytes())).await;
    }
}

/// The peer must run as trace's user (the socket's directory already keeps others out).
fn check_peer(stream: &UnixStream) -> Result<(), String> {
    let peer = stream.peer_cred().map_err(|e| e.to_string())?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if peer.uid() == me {
        Ok(())
    } else {
        Err("the mark comes from another user".into())
    }
}

async fn read_name(stream: &mut UnixStream) -> Result<String, String> {
    let limited = tokio::io::AsyncReadExt::take(stream, MAX_LINE as u64);
    let mut reader = BufReader::new(limited);
    let mut line = Vec::new();
    match tokio::time::timeout(READ_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return Err(format!("no line within {} s", READ_TIMEOUT.as_secs())),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(_)) => {}
    }
    let Some(name) = line.strip_suffix(b"\n") else {
        return Err(format!(
            "a step name is one line of at most {MAX_STEP_NAME} bytes"
        ));
    };
    match std::str::from_utf8(name) {
        Ok(name) if is_step_name(name) => Ok(name.to_owned()),
        _ => Err(format!(
            "{} is not a step name: up to {MAX_STEP_NAME} letters, digits, '.', '_' and '-', starting with a letter or digit, not {STARTUP_STEP}",
            crate::recording::encode(name)
        )),
    }
}

/// Sends a mark to the session listening at `socket`: `Ok` once it took the mark, else why not.
/// Blocking: `trace mark` runs nothing else.
pub fn send(socket: &Path, name: &str, timeout: Duration) -> Result<(), String> {
    use std::io::{BufRead, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|e| format!("cannot reach trace at {}: {e}", socket.display()))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .and_then(|()| writeln!(stream, "{name}"))
        .map_err(|e| format!("cannot send the mark: {e}"))?;
    let mut answer = String::new();
    std::io::BufReader::new(std::io::Read::take(&stream, 1024))
        .read_line(&mut answer)
        .map_err(|e| format!("no answer from trace: {e}"))?;
    let answer = answer.trim_end();
    match answer.strip_prefix("error: ") {
        None if answer == OK => Ok(()),
        None => Err(format!(
            "unexpected answer from trace: {}",
            crate::recording::encode(answer.as_bytes())
        )),
        Some(why) => Err(crate::recording::encode(why.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session's side and `trace mark`'s side: a good name is taken and answered `ok`; a bad
    /// one, a line too long and a silent peer are refused with a reason, and the session goes on.
    #[tokio::test(flavor = "current_thread")]
    async fn marks_are_taken_checked_and_answered() {
        let mut marks = Marks::listen().unwrap();
        let socket = marks.path().to_owned();
        let client = |name: &'static str| {
            let socket = socket.clone();
            tokio::task::spawn_blocking(move || send(&socket, name, Duration::from_secs(5)))
        };

        let sent = client("reload");
        let incoming = marks.read(marks.accept().await.unwrap()).await;
        assert_eq!(incoming.name.as_deref(), Ok("reload"));
        incoming.answer(Ok(())).await;
        assert_eq!(sent.await.unwrap(), Ok(()));

        for (bad, why) in [
            ("startup", "is not a step name"),
            ("a\u{1b}[2Jb", "a\\x1b[2Jb is not a step name"),
        ] {
            let sent = client(bad);
            let incoming = marks.read(marks.accept().await.unwrap()).await;
            assert!(incoming.name.as_ref().unwrap_err().contains(why), "{bad:?}");
            incoming.answer(Ok(())).await;
            let refused = sent.await.unwrap().unwrap_err();
            // Escaped once by the session, the answer's backslashes once more by the client.
            assert!(
                refused.contains("is not a step name") && !refused.contains('\u{1b}'),
                "{refused}"
            );
        }

        let long = "x".repeat(MAX_LINE + 10);
        let sent = tokio::task::spawn_blocking({
            let socket = socket.clone();
            move || send(&socket, &long, Duration::from_secs(5))
        });
        let incoming = marks.read(marks.accept().await.unwrap()).await;
        assert!(
            incoming
                .name
                .as_ref()
                .unwrap_err()
                .contains("one line of at most")
        );
        incoming.answer(Ok(())).await;
        assert!(sent.await.unwrap().is_err());

        // Connected and silent: refused after the read timeout, not waited for.
        let silent = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        let started = std::time::Instant::now();
        let incoming = marks.read(marks.accept().await.unwrap()).await;
        assert!(incoming.name.is_err() && started.elapsed() < READ_TIMEOUT * 2);
        drop(silent);
        // Only the one good mark counted; past the bound, good names are refused too.
        assert_eq!(marks.taken, 1);
        marks.taken = MAX_STEPS;
        let sent = client("one-more");
        let incoming = marks.read(marks.accept().await.unwrap()).await;
        incoming.answer(Ok(())).await;
        let refused = sent.await.unwrap().unwrap_err();
        assert!(refused.contains("no more than 64 marks"), "{refused}");
    }

    #[test]
    fn the_socket_s_directory_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let marks = rt.block_on(async { Marks::listen().unwrap() });
        let dir = marks.path().parent().unwrap().to_owned();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(marks);
        assert!(!dir.exists(), "removed with the session");
    }
}
