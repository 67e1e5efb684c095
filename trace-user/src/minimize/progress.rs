//! Progress of a transfer on stderr: the live progress line on a terminal (see `crate::term`),
//! one line every ten seconds otherwise, and a last line with the total.

use std::time::{Duration, Instant};

use crate::term::Live;

/// How often a line is printed when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Bytes moved so far by one transfer.
pub struct Progress {
    what: &'static str,
    bytes: u64,
    shown: Instant,
    live: Live,
}

impl Progress {
    /// A transfer described by `what` ("exporting the image", ...).
    pub fn new(what: &'static str) -> Self {
        Progress {
            what,
            bytes: 0,
            shown: Instant::now(),
            live: Live::new(),
        }
    }

    /// Counts `n` more bytes, and shows them when it is time.
    pub fn add(&mut self, n: usize) {
        self.bytes += n as u64;
        if crate::term::progress_shown() {
            self.live
                .set(&format!("trace: {}: {}", self.what, size(self.bytes)));
        } else if self.shown.elapsed() >= LOG_EVERY {
            self.shown = Instant::now();
            note!("trace: {}: {} so far", self.what, size(self.bytes));
        }
    }

    /// Prints the total.
    pub fn finish(&mut self) {
        let elapsed = self.live.elapsed();
        self.live.finish();
        note!(
            "trace: {}: {} in {:.1} s",
            self.what,
            size(self.bytes),
            elapsed.as_secs_f64()
        );
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
