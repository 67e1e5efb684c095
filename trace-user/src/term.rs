//! Every line trace shows goes through here: its messages to stderr, its reports to stdout, the
//! log, the live progress line, and the exercise's own output while the progress line is drawn.
//!
//! - Never failing: either stream may be closed under trace (`trace ... 2>&1 | head`); a line that
//!   cannot be shown is dropped, so trace still writes its outputs, removes its containers and exits
//!   with its own status. (`println!` and `eprintln!` panic on a closed stream.)
//! - Quiet (`-q`): [`note!`] lines (what trace is doing) and the progress line are not shown;
//!   errors, warnings and results ([`say!`], [`show!`], [`showln!`]) still are.
//! - One live progress line on stderr ([`Live`], drawn with indicatif), only when stderr is a
//!   terminal and trace is not quiet: every other line is written with the progress line cleared
//!   and redrawn below it, and while a line without its end is on the screen (an exercise's prompt or
//!   partial output) the progress line waits for it to end.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Like `eprintln!`, ignoring a closed or broken stderr: errors, warnings and results.
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::term::write_line($crate::term::Stream::Stderr, &::std::format!($($arg)*));
    }};
}

/// Like [`say!`], for what trace is doing (not shown with `--quiet`).
macro_rules! note {
    ($($arg:tt)*) => {{
        if !$crate::term::quiet() {
            $crate::term::write_line($crate::term::Stream::Stderr, &::std::format!($($arg)*));
        }
    }};
}

/// Like `print!` to stdout, ignoring a closed or broken stdout.
macro_rules! show {
    ($($arg:tt)*) => {{
        $crate::term::write($crate::term::Stream::Stdout, ::std::format!($($arg)*).as_bytes());
    }};
}

/// Like `println!`, ignoring a closed or broken stdout.
macro_rules! showln {
    ($($arg:tt)*) => {{
        $crate::term::write_line($crate::term::Stream::Stdout, &::std::format!($($arg)*));
    }};
}

/// Where a line goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Results and reports.
    Stdout,
    /// Messages, the log and the progress line.
    Stderr,
}

static QUIET: AtomicBool = AtomicBool::new(false);

/// Sets `--quiet`: informational lines ([`note!`]) and the progress line are not shown.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether trace is quiet (`--quiet`).
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether a progress line would be drawn: stderr is a terminal and trace is not quiet.
pub fn progress_shown() -> bool {
    !quiet() && std::io::stderr().is_terminal()
}

/// The screen's state: the progress line, and whether a line is left unfinished on it.
struct Screen {
    /// The progress line while it is drawn.
    bar: Option<ProgressBar>,
    /// The text of the progress line while a [`Live`] is active (drawn again after an unfinished
    /// line ends).
    live: Option<String>,
    /// A line without its end is on the terminal: the progress line waits.
    unfinished: bool,
}

static SCREEN: Mutex<Screen> = Mutex::new(Screen {
    bar: None,
    live: None,
    unfinished: false,
});

fn screen() -> MutexGuard<'static, Screen> {
    // A panic while the lock was held leaves nothing half-done that matters to the next line.
    SCREEN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes `text` and a newline to `stream`.
pub fn write_line(stream: Stream, text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    write(stream, line.as_bytes());
}

/// Writes `bytes` to `stream` as they are, around the progress line; errors are dropped.
pub fn write(stream: Stream, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let put = || {
        let _ = match stream {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Stream::Stderr => std::io::stderr().lock().write_all(bytes),
        };
    };
    let on_screen = match stream {
        Stream::Stderr => std::io::stderr().is_terminal(),
        Stream::Stdout => std::io::stdout().is_terminal(),
    };
    let mut screen = screen();
    if !on_screen || screen.live.is_none() {
        drop(screen);
        put();
        return;
    }
    let ends_line = bytes.ends_with(b"\n");
    match screen.bar.take() {
        Some(bar) if ends_line => {
            bar.suspend(put);
            screen.bar = Some(bar);
        }
        Some(bar) => {
            // A redraw would wipe the unfinished line: the progress line goes until it ends.
            bar.finish_and_clear();
            put();
        }
        None => put(),
    }
    screen.unfinished = !ends_line;
    if ends_line
        && screen.bar.is_none()
        && let Some(text) = screen.live.clone().filter(|t| !t.is_empty())
    {
        screen.bar = Some(new_bar(&text));
    }
}

fn new_bar(text: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template("{msg}").expect("a fixed template"));
    bar.set_message(text.to_owned());
    bar
}

/// The live progress line of one long step: drawn on stderr when it is a terminal and trace is
/// not quiet, cleared when dropped.
#[derive(Debug)]
pub struct Live {
    started: Instant,
    shown: bool,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    /// A progress line starting now (nothing is drawn until [`Live::set`]).
    pub fn new() -> Self {
        let shown = progress_shown();
        if shown {
            let mut screen = screen();
            screen.live = Some(String::new());
        }
        Live {
            started: Instant::now(),
            shown,
        }
    }

    /// How long since the line started.
    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Shows `text` as the progress line.
    pub fn set(&self, text: &str) {
        if !self.shown {
            return;
        }
        let mut screen = screen();
        screen.live = Some(text.to_owned());
        if let Some(bar) = &screen.bar {
            bar.set_message(text.to_owned());
        } else if !screen.unfinished {
            screen.bar = Some(new_bar(text));
        }
    }

    /// Clears the line for good.
    pub fn finish(&mut self) {
        if !std::mem::take(&mut self.shown) {
            return;
        }
        let mut screen = screen();
        if let Some(bar) = screen.bar.take() {
            bar.finish_and_clear();
        }
        screen.live = None;
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A writer for the log (`env_logger`) that goes through [`write`] to stderr.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write(Stream::Stderr, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hides_notes_only() {
        // Under `cargo test` stderr is captured, not a terminal: no progress line either way.
        set_quiet(true);
        assert!(quiet() && !progress_shown());
        let live = Live::new();
        live.set("trace: 1.0s");
        assert!(screen().bar.is_none() && screen().live.is_none());
        drop(live);
        set_quiet(false);
        assert!(!quiet());
    }
}
