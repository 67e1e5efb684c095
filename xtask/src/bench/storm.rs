//! Point 3: a file storm. A container opens N distinct files (made beforehand, untraced, on a
//! tmpfs) and opens them all again, in a burst, while trace records it: every path must be in
//! the recording, and no event may be dropped. Then point 5's render time: `trace render` of a
//! recording with `render_files` files (the storm's, cut to size).

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use trace_tests::Container;

use super::Bench;
use super::syscalls::Sample;
use super::tracers::{self, Config, Target, Usage};

const STORM_DIR: &str = "/storm";
const LOOP_IN_IMAGE: &str = "/usr/local/bin/loop";

/// What the storm showed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StormResult {
    /// Distinct files opened (each twice).
    pub files: u64,
    /// Of those, the paths found in recording.json.
    pub recorded: u64,
    /// Paths of the storm missing from it (at most 10 shown).
    pub missing_examples: Vec<String>,
    /// `events.dropped` of the recording.
    pub dropped: u64,
    /// All paths in the recording (the storm's and the rest).
    pub recording_files: u64,
    /// The burst untraced and traced (open + close pairs).
    pub untraced: Sample,
    pub traced: Sample,
    /// What the trace process used.
    pub trace_usage: Usage,
    /// The same burst under each `--baseline` build, in its own fresh container.
    pub baselines: Vec<BaselineStorm>,
    /// The recording, kept for the render measurement.
    #[serde(skip)]
    pub recording: serde_json::Value,
}

/// The storm under a `--baseline` build.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BaselineStorm {
    pub config: String,
    pub recorded: u64,
    pub dropped: u64,
    pub traced: Sample,
    pub trace_usage: Usage,
}

impl StormResult {
    pub fn complete(&self) -> bool {
        self.recorded == self.files && self.dropped == 0
    }
}

pub fn run(bench: &Bench) -> Result<StormResult> {
    let (result, recording) = storm(bench, Config::Trace)?;
    let mut baselines = Vec::new();
    for config in Config::baselines(&bench.baseline) {
        let (other, _) = storm(bench, config)?;
        baselines.push(BaselineStorm {
            config: config.name().into_owned(),
            recorded: other.recorded,
            dropped: other.dropped,
            traced: other.traced,
            trace_usage: other.trace_usage,
        });
    }
    Ok(StormResult {
        baselines,
        recording,
        ..result
    })
}

/// The storm under `config`, in a container of its own; returns the result and the recording.
fn storm(bench: &Bench, config: Config) -> Result<(StormResult, serde_json::Value)> {
    let files = bench.sizes.storm_files;
    let container = Container::run(
        &bench.image,
        "trace-bench-storm",
        &["--tmpfs", &format!("{STORM_DIR}:size=2g,nr_inodes=0")],
        &[],
    )?;
    eprintln!("bench: storm: making {files} files");
    exec(&container, &["mkfiles", STORM_DIR, &files.to_string()])?;
    let storm = ["storm", STORM_DIR, &files.to_string(), "2"];
    let untraced = parse(&exec(&container, &storm)?)?;
    let out = tempfile::tempdir()?;
    let target = Target {
        idle: &[],
        name: container.name(),
        cgroup_dir: None,
    };
    let session =
        tracers::start(bench, config, &target, out.path())?.context("trace has a session")?;
    let traced = parse(&exec(&container, &storm)?)?;
    let (trace_usage, output) = session.stop()?;
    let path = out.path().join("recording.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("trace wrote no recording: {}", output.trim()))?;
    let recording: serde_json::Value = serde_json::from_str(&text).context("recording.json")?;
    let recorded_paths: BTreeSet<&str> = recording["files"]
        .as_object()
        .context("recording.json has no files")?
        .keys()
        .map(String::as_str)
        .collect();
    let mut recorded = 0;
    let mut missing_examples = Vec::new();
    for i in 0..files {
        let name = format!("{STORM_DIR}/d{:03}/f{i:05}", i / 1000);
        if recorded_paths.contains(name.as_str()) {
            recorded += 1;
        } else if missing_examples.len() < 10 {
            missing_examples.push(name);
        }
    }
    let dropped = recording["events"]["dropped"]
        .as_u64()
        .context("recording.json has no events.dropped")?;
    let result = StormResult {
        files,
        recorded,
        missing_examples,
        dropped,
        recording_files: recorded_paths.len() as u64,
        untraced,
        traced,
        trace_usage,
        baselines: Vec::new(),
        recording: serde_json::Value::Null,
    };
    eprintln!(
        "bench: storm under {}: {recorded} of {files} paths recorded, {dropped} dropped; burst {:.2} s untraced, {:.2} s traced; peak RSS {} KiB",
        config.name(),
        secs(untraced.wall_ns),
        secs(traced.wall_ns),
        trace_usage.max_rss_kib
    );
    Ok((result, recording))
}

fn exec(container: &Container, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new("docker");
    cmd.args(["exec", container.name(), LOOP_IN_IMAGE])
        .args(args);
    super::output(&mut cmd)
}

fn parse(stdout: &str) -> Result<Sample> {
    stdout
        .lines()
        .find_map(Sample::parse)
        .with_context(|| format!("the storm printed no timing: {stdout:?}"))
}

#[allow(clippy::cast_precision_loss, reason = "seconds for a message")]
fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// How long `trace render` took, and what it used.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RenderResult {
    pub files: u64,
    pub wall_ms: f64,
    pub usage: Usage,
}

/// Renders the storm's recording, cut to `render_files` files, with `trace render`.
pub fn render_time(bench: &Bench, storm: &StormResult) -> Result<RenderResult> {
    let mut recording = storm.recording.clone();
    let files = recording["files"]
        .as_object_mut()
        .context("recording.json has no files")?;
    let keep = usize::try_from(bench.sizes.render_files)?;
    if files.len() > keep {
        let cut: Vec<String> = files.keys().skip(keep).cloned().collect();
        for key in cut {
            files.remove(&key);
        }
    }
    let count = files.len() as u64;
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("recording.json");
    std::fs::write(&input, serde_json::to_vec(&recording)?)?;
    let started = Instant::now();
    let child = Command::new(&bench.trace)
        .arg("render")
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("out"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start trace render")?;
    let peak_rss = tracers::PeakRss::watch(child.id());
    let (status, usage) = tracers::wait4(i32::try_from(child.id())?, peak_rss)?;
    let wall_ms = super::millis(started.elapsed());
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("trace render of a {count}-file recording failed (wait status {status:#x})");
    }
    eprintln!("bench: render: {count} files in {wall_ms:.0} ms");
    Ok(RenderResult {
        files: count,
        wall_ms,
        usage,
    })
}
