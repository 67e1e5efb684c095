//! trace: watch a real container with eBPF while its tests exercise it, and write the security
//! profiles that lock it down.
//!
//! Data flows one way, one module per stage:
//!
//! ```text
//! runtime    resolve the container (Docker API) -> its cgroup v2 id and level
//!   -> probe      load + attach the eBPF programs, filter by cgroup in the kernel, read the maps
//!   -> recording  the aggregated model: plain data, serializable, versioned (recording.json)
//!   -> render     pure functions: recording -> seccomp.json, apparmor.profile, files.txt, summary
//!   -> out        atomic writes
//! ```
//!
//! `session` waits for the stop condition while the probe records; `cli` wires it together.
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
pub mod recording;
pub mod render;
pub mod runtime;
pub mod session;
