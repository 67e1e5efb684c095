//! trace: watch a real container with eBPF while its tests exercise it, and write the security
//! profiles that lock it down.
//!
//! A recording flows one way, one module (room) per stage:
//!
//! ```text
//! runtime     the container through the Docker API: its cgroup v2 id and level, its lifecycle for
//!             `trace run`, who its processes are, what /proc still shows of them
//!   -> probe      load + attach the eBPF programs, filter by cgroup in the kernel, read the maps
//!                 and ring buffers into typed events and counters
//!   -> ingest     those events and counters as recording entries (the one place that decides
//!                 which access a kernel event stands for)
//!   -> recording  the aggregated model: plain data, serializable, mergeable, versioned
//!                 (recording.json)
//!   -> render     pure functions: recording -> seccomp.json, apparmor.profile, files.txt, advice,
//!                 summary
//!   -> out        atomic writes of the output directory
//! ```
//!
//! Beside the stages:
//! - `platform`: facts about runc, Docker, AppArmor and the Security Profiles Operator in terms of
//!   the recording (runc's baseline, the runtime's paths, which permission mediates an access,
//!   the image files a recording used); render, check and minimize share them.
//! - `session`: one recording session for N containers (arm, start or wait, exercise, stop,
//!   finish), driving the stages above; `exercise`: the built-in exercise of `trace run`.
//! - `check`: a recording against committed profiles (drift); `minimize`: a slim image from a
//!   recording.
//! - `cli`: the command line, one module per subcommand; `term`: terminal output that never fails.
//!
//! Rendering needs no root and no kernel:
//!
//! ```
//! let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/recording-v1.json")).unwrap();
//! let recording = trace_user::recording::Recording::from_json(&text, "recording.json").unwrap();
//! let seccomp = trace_user::render::seccomp::render(&recording);
//! assert!(seccomp.contains("\"SCMP_ACT_ALLOW\""));
//! ```
#![deny(missing_docs)]

#[macro_use]
mod term;

pub mod check;
pub mod cli;
pub mod exercise;
pub mod ingest;
pub mod minimize;
pub mod out;
pub mod platform;
pub mod probe;
pub mod reach;
pub mod recording;
pub mod render;
pub mod runtime;
pub mod session;
