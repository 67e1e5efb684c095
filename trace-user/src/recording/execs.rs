//! Executed programs: how often, and a few sample command lines.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::paths::{ArgBytes, normalize};
use super::{Category, Recording};

/// At most this many distinct sample command lines are kept per program: the smallest ones (by
/// bytes), so the samples do not depend on the order events arrived in.
pub const EXEC_SAMPLES: usize = 4;
/// A sample keeps at most this many arguments (`argv[0]` included).
pub const EXEC_SAMPLE_ARGS: usize = 16;
/// An argument in a sample is cut to at most this many bytes.
pub const EXEC_SAMPLE_ARG_BYTES: usize = 256;

/// One executed program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecUse {
    /// Number of successful `execve` calls of it.
    pub count: u64,
    /// Up to [`EXEC_SAMPLES`] distinct command lines, each cut to [`EXEC_SAMPLE_ARGS`] arguments
    /// of at most [`EXEC_SAMPLE_ARG_BYTES`] bytes.
    pub argv: BTreeSet<Vec<ArgBytes>>,
}

impl Recording {
    /// Records one execution of `path` (normalised) with the command line `argv` (bounded as
    /// documented on [`ExecUse`]). Order-independent: the same executions in any order give the
    /// same recording. The file-level [`Access::Exec`](super::Access::Exec) is recorded separately
    /// with [`Recording::record_file`].
    pub fn record_exec<A: AsRef<[u8]>>(&mut self, path: impl AsRef<[u8]>, argv: &[A]) {
        let entry = self.execs.entry(normalize(path.as_ref())).or_default();
        entry.count += 1;
        let sample: Vec<ArgBytes> = argv
            .iter()
            .take(EXEC_SAMPLE_ARGS)
            .map(|arg| {
                let arg = arg.as_ref();
                ArgBytes(arg[..arg.len().min(EXEC_SAMPLE_ARG_BYTES)].to_vec())
            })
            .collect();
        entry.argv.insert(sample);
        while entry.argv.len() > EXEC_SAMPLES {
            entry.argv.pop_last();
        }
    }

    /// Whether `execs` is a real observation rather than absent.
    pub fn execs_recorded(&self) -> bool {
        self.events.recorded.contains(&Category::Execs)
    }
}
