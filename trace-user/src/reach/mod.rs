//! What the programs and libraries a container ran could call, read from its image when
//! recording stops: the facts behind the coverage report (docs/coverage.md), kept in the
//! recording as [`crate::recording::Reach`].
//!
//! ```text
//! recording: executed programs, files mapped executable
//!   -> image: exported from a container never started, each path resolved in it ([`image`])
//!   -> ELF: machine, C library or not, imported functions ([`elf`]); static code scanned ([`scan`])
//!   -> recording.reach
//! ```
//!
//! It sits beside the probe in the one-way flow: both turn something outside trace (the kernel's
//! events; the image's files) into facts of the recording, at recording time, while the image is
//! at hand. Everything after it is pure: the coverage renderer reads only the recording, so
//! `trace render` reproduces coverage.md from recording.json alone, and which functions reach
//! which calls ([`crate::platform::libc`]) is applied there.

pub mod elf;
pub mod image;
pub mod scan;

pub use image::{LIMITS, Limits, ReachError, gather};
