//! Progress of a transfer on stderr: a line redrawn a few times a second on a terminal, one line
//! every ten seconds otherwise, and a last line with the total.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the line is redrawn on a terminal.
const TTY_EVERY: Duration = Duration::from_millis(250);
/// How often a line is printed when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Bytes moved so far by one transfer.
pub struct Progress {
    what: &'static str,
    bytes: u64,
    started: Instant,
    shown: Instant,
    tty: bool,
    drawn: bool,
}

impl Progress {
    /// A transfer described by `what` ("exporting the image", ...).
    pub fn new(what: &'static str) -> Self {
        let now = Instant::now();
        Progress {
            what,
            bytes: 0,
            started: now,
            shown: now,
            tty: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    /// Counts `n` more bytes, and shows them when it is time.
    pub fn add(&mut self, n: usize) {
        self.bytes += n as u64;
        let every = if self.tty { TTY_EVERY } else { LOG_EVERY };
        if self.shown.elapsed() < every {
            return;
        }
        self.shown = Instant::now();
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[Ktrace: {}: {}", self.what, size(self.bytes));
            self.drawn = true;
        } else {
            let _ = writeln!(err, "trace: {}: {} so far", self.what, size(self.bytes));
        }
        let _ = err.flush();
    }

    /// Prints the total.
    pub fn finish(&mut self) {
        let clear = if self.drawn { "\r\x1b[K" } else { "" };
        say!(
            "{clear}trace: {}: {} in {:.1} s",
            self.what,
            size(self.bytes),
            self.started.elapsed().as_secs_f64()
        );
        self.drawn = false;
    }
}

/// A byte count as Docker shows sizes (decimal units): `812 B`, `4.2 kB`, `71.3 MB`, `1.21 GB`.
pub fn size(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a display value
    let value = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", value / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", value / 1e6),
        _ => format!("{:.2} GB", value / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(size(812), "812 B");
        assert_eq!(size(4_200), "4.2 kB");
        assert_eq!(size(71_340_000), "71.3 MB");
        assert_eq!(size(1_210_000_000), "1.21 GB");
    }
}
