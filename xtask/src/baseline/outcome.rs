//! How a start went: runc's mode, the container's exit, a failure and whom it is put down to,
//! and the tally per profile.

use anyhow::Result;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::Output;

/// runc's two ways of installing the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Filter installed before runc sets up ids, capabilities and the working directory.
    Default,
    /// `--security-opt no-new-privileges`: filter installed just before `execve`.
    Nnp,
}

impl Mode {
    pub(super) const ALL: [Self; 2] = [Self::Default, Self::Nnp];

    pub(super) fn key(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Nnp => "nnp",
        }
    }

    pub(super) fn docker_args(self) -> &'static [&'static str] {
        match self {
            Self::Default => &[],
            Self::Nnp => &["--security-opt", "no-new-privileges"],
        }
    }
}

/// Who a failed start failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Culprit {
    /// The OCI runtime (the only other code that runs under the filter).
    Runtime,
    /// The payload: the container exited just as the payload did under strace.
    Payload,
    /// Either: the payload check could not run.
    Unattributed,
}

impl Culprit {
    /// Its name in the results, `runtime` being the OCI runtime's.
    pub(super) fn key(self, runtime: &str) -> &str {
        match self {
            Self::Runtime => runtime,
            Self::Payload => "payload",
            Self::Unattributed => "unattributed",
        }
    }
}

/// How a process ended: its exit code (128 + the signal when killed, as `docker run` reports it)
/// and the first non-empty line of its stderr.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Exit {
    pub(super) code: i32,
    pub(super) line: String,
}

impl Exit {
    pub(super) fn of(output: &Output) -> Self {
        let code = output
            .status
            .code()
            .or_else(|| output.status.signal().map(|s| 128 + s))
            .unwrap_or(-1);
        Self {
            code,
            line: without_addresses(&message_of(first_line(&output.stderr))),
        }
    }

    pub(super) fn describe(&self) -> String {
        let mut text = format!("exit {}", self.code);
        if self.code > 128 {
            let _ = write!(text, " (signal {})", self.code - 128);
        }
        if !self.line.is_empty() {
            let _ = write!(text, ": {}", self.line);
        }
        text
    }
}

/// `text` with hex numbers (addresses in Go runtime errors) shown as `0x…`, so that the same
/// failure reads the same in every start.
pub(super) fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - at - 2);
        out.push_str(if digits == 0 { "0x" } else { "0x…" });
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// The message of a line: crun's init writes JSON log lines (`{"msg": ..., "time": ...}`), whose
/// message alone reads the same in every start; any other line as it is.
pub(super) fn message_of(line: &str) -> String {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v["msg"].as_str().map(str::to_owned))
        .unwrap_or_else(|| line.to_owned())
}

pub(super) fn first_line(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// What went wrong in one failed start.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Failure {
    pub(super) culprit: Culprit,
    /// The gist of docker's error text, or the container's exit status and first stderr line.
    pub(super) text: String,
}

impl Failure {
    /// A start that did not end within the deadline: the runtime hung.
    pub(super) fn hung(runtime: &str, deadline: std::time::Duration) -> Self {
        Self {
            culprit: Culprit::Runtime,
            text: format!(
                "no exit within {} s: `{runtime} start` waits for an init that is gone",
                deadline.as_secs()
            ),
        }
    }

    /// Puts a failed `docker run` down to runc or the payload (see the module docs); `payload` is
    /// how the payload alone fared under the same profile.
    pub(super) fn of(output: &Output, payload: &Result<Option<Exit>, String>) -> Self {
        let runc = |text: &str| Self {
            culprit: Culprit::Runtime,
            text: without_addresses(text),
        };
        let first = first_line(&output.stderr);
        if let Some(at) = first.find("OCI runtime") {
            let text = &first[at..];
            let text = text
                .split_once("unable to start container process: ")
                .map_or(text, |(_, rest)| rest);
            let text = text.strip_suffix('.').unwrap_or(text);
            return runc(text.strip_suffix(": unknown").unwrap_or(text));
        }
        if let Some((_, text)) = first.split_once("Error response from daemon: ") {
            return runc(&format!("daemon: {text}"));
        }
        let exit = Exit::of(output);
        let culprit = match payload {
            Ok(Some(alone)) if *alone == exit => Culprit::Payload,
            Ok(_) => Culprit::Runtime,
            Err(_) => Culprit::Unattributed,
        };
        Self {
            culprit,
            text: exit.describe(),
        }
    }
}

/// The starts of one profile in one mode.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) starts: u32,
    pub(super) failures: BTreeMap<Failure, u32>,
}

impl Tally {
    pub(super) fn failed(&self) -> u32 {
        self.failures.values().sum()
    }

    pub(super) fn failed_in(&self, culprit: Culprit) -> u32 {
        self.failures
            .iter()
            .filter(|(f, _)| f.culprit == culprit)
            .map(|(_, n)| n)
            .sum()
    }

    pub(super) fn to_json(&self, runtime: &str) -> Value {
        let errors: Vec<Value> = self
            .failures
            .iter()
            .map(|(f, n)| json!({ "culprit": f.culprit.key(runtime), "text": f.text, "count": n }))
            .collect();
        json!({ "starts": self.starts, "failures": self.failed(), "errors": errors })
    }
}
