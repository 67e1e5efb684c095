//! `cargo xtask runc-baseline`: measure which calls of trace's runc baseline runc really needs.
//!
//! Every profile trace writes allows the runc baseline (`RUNC_BASELINE` in
//! trace-user/src/platform/runc.rs, which a unit test holds to the JSON this writes): calls runc
//! makes in the container's process after it has installed the seccomp filter and before it
//! executes the entrypoint. This measures that set on the Docker engine of this machine, in both
//! of runc's modes (default, and `no-new-privileges`, where runc installs the filter later):
//!
//! 1. the real profile: `trace render` of a recording with no system calls at all, so that it
//!    allows the baseline and nothing else; busybox `true` must start under it every time;
//! 2. leave-one-out: the same profile without one baseline call at a time, started `--starts` times
//!    per mode;
//! 3. the reverse check, run first: the payload (the image's `/bin/true`) run on the host under
//!    strace, with the profile's refusals injected (every call outside it fails with `EPERM`, the
//!    `ENOSYS` rule's calls with `ENOSYS`), once with the whole profile and once per left-out call.
//!    A call that fails the payload there is needed by the payload itself, whatever runc does.
//!
//! A failed start is put down to runc when docker reports a runc error ("OCI runtime ... failed") or
//! another daemon error, or when the container exits differently from the payload under strace
//! (runc's init process writes its errors to the container's stderr once `docker start` has begun,
//! which is always the case with `no-new-privileges`). It is put down to the payload when it exits
//! exactly as the payload did under strace (status and first line of stderr).
//!
//! Prints a table to stdout and writes the results as JSON (default `bench/runc-baseline.json`).
//! Fails if a start under the whole baseline failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use trace_tests::{TestImage, docker, docker_ok, ensure_image, workspace_root};

use crate::cli::RuncBaselineArgs;
use crate::cmd::{self, cargo, one_line, target_dir};

/// The recording the empty profile is rendered from (its calls and unknown calls are cleared).
const FIXTURE: &str = "trace-user/tests/data/recording-v1.json";
/// How the baseline rule's comment starts in a rendered profile.
const BASELINE_COMMENT: &str = "runc baseline";
/// The payload: `docker run IMAGE true` finds it here in the test image.
const PAYLOAD: &str = "/bin/true";
/// The environment Docker gives a container of an image without `ENV`.
const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Docker 20.10 ignores `defaultErrnoRet`: calls outside the profile fail with EPERM.
const EPERM: u64 = 1;
/// Print a progress line after this many starts.
const PROGRESS_EVERY: usize = 50;

/// runc's two ways of installing the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Filter installed before runc sets up ids, capabilities and the working directory.
    Default,
    /// `--security-opt no-new-privileges`: filter installed just before `execve`.
    Nnp,
}

impl Mode {
    const ALL: [Self; 2] = [Self::Default, Self::Nnp];

    fn key(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Nnp => "nnp",
        }
    }

    fn docker_args(self) -> &'static [&'static str] {
        match self {
            Self::Default => &[],
            Self::Nnp => &["--security-opt", "no-new-privileges"],
        }
    }
}

/// Who a failed start failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Culprit {
    /// runc (the only other code that runs under the filter).
    Runc,
    /// The payload: the container exited just as the payload did under strace.
    Payload,
    /// Either: the payload check could not run.
    Unattributed,
}

impl Culprit {
    fn key(self) -> &'static str {
        match self {
            Self::Runc => "runc",
            Self::Payload => "payload",
            Self::Unattributed => "unattributed",
        }
    }
}

/// How a process ended: its exit code (128 + the signal when killed, as `docker run` reports it)
/// and the first non-empty line of its stderr.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Exit {
    code: i32,
    line: String,
}

impl Exit {
    fn of(output: &Output) -> Self {
        let code = output
            .status
            .code()
            .or_else(|| output.status.signal().map(|s| 128 + s))
            .unwrap_or(-1);
        Self {
            code,
            line: without_addresses(first_line(&output.stderr)),
        }
    }

    fn describe(&self) -> String {
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
fn without_addresses(text: &str) -> String {
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

fn first_line(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// What went wrong in one failed start.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Failure {
    culprit: Culprit,
    /// The gist of docker's error text, or the container's exit status and first stderr line.
    text: String,
}

impl Failure {
    /// Puts a failed `docker run` down to runc or the payload (see the module docs); `payload` is
    /// how the payload alone fared under the same profile.
    fn of(output: &Output, payload: &Result<Option<Exit>, String>) -> Self {
        let runc = |text: &str| Self {
            culprit: Culprit::Runc,
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
            Ok(_) => Culprit::Runc,
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
struct Tally {
    starts: u32,
    failures: BTreeMap<Failure, u32>,
}

impl Tally {
    fn failed(&self) -> u32 {
        self.failures.values().sum()
    }

    fn failed_in(&self, culprit: Culprit) -> u32 {
        self.failures
            .iter()
            .filter(|(f, _)| f.culprit == culprit)
            .map(|(_, n)| n)
            .sum()
    }

    fn to_json(&self) -> Value {
        let errors: Vec<Value> = self
            .failures
            .iter()
            .map(|(f, n)| json!({ "culprit": f.culprit.key(), "text": f.text, "count": n }))
            .collect();
        json!({ "starts": self.starts, "failures": self.failed(), "errors": errors })
    }
}

/// One profile to start under: the whole baseline, or the baseline without `removed`.
struct Variant {
    removed: Option<String>,
    path: PathBuf,
    tallies: [Tally; 2],
    /// The reverse check: `Ok(None)` when the payload runs under this profile, `Ok(Some(exit))`
    /// when it fails, `Err(why)` when it could not be checked.
    payload: Result<Option<Exit>, String>,
}

pub fn run(args: &RuncBaselineArgs) -> Result<()> {
    let started = Instant::now();
    let full_starts = args.full_starts.unwrap_or(args.starts);
    if args.starts == 0 || full_starts == 0 || args.jobs == 0 {
        bail!("--starts, --full-starts and --jobs must be at least 1");
    }
    cmd::run(cargo().args(["build", "-p", "trace-user", "--bin", "trace"]))?;
    let trace = target_dir().join("debug/trace");
    let image = match &args.image {
        Some(tag) => tag.clone(),
        None => ensure_image(TestImage::Busybox)?,
    };
    let dir = target_dir().join("runc-baseline");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let profile = render_empty_profile(&trace, &dir)?;
    let baseline = baseline_names(&profile)?;
    eprintln!(
        "runc-baseline: {} calls in the baseline of `trace render`; image {image}",
        baseline.len()
    );
    let mut variants = vec![variant(&dir, "full", None, &profile)?];
    for name in &baseline {
        let without = without(&profile, name)?;
        variants.push(variant(
            &dir,
            &format!("without-{name}"),
            Some(name),
            &without,
        )?);
    }

    // 3. The payload on its own, first: the failed starts are told apart with it.
    match payload_check(&image, &dir, &variants) {
        Ok(results) => {
            for (variant, result) in variants.iter_mut().zip(results) {
                variant.payload = Ok(result);
            }
        }
        Err(e) => {
            let why = one_line(&e);
            eprintln!("runc-baseline: payload check skipped: {why}");
            for variant in &mut variants {
                variant.payload = Err(why.clone());
            }
        }
    }

    // 1. The whole baseline: every start must succeed.
    let phase = Instant::now();
    let full_jobs: Vec<(usize, Mode)> = jobs(0..1, full_starts);
    start_all(&image, &mut variants, &full_jobs, args.jobs)?;
    let full_ok = variants[0].tallies.iter().all(|t| t.failed() == 0);
    for mode in Mode::ALL {
        let tally = &variants[0].tallies[mode as usize];
        if tally.failed() > 0 {
            eprintln!(
                "runc-baseline: FAILURE: {} of {} starts failed under the FULL baseline ({} mode):",
                tally.failed(),
                tally.starts,
                mode.key()
            );
            for (failure, n) in &tally.failures {
                eprintln!(
                    "runc-baseline:   {n}x {}: {}",
                    failure.culprit.key(),
                    failure.text
                );
            }
        }
    }
    let full_secs = phase.elapsed().as_secs_f64();
    eprintln!("runc-baseline: full baseline: {full_starts} starts per mode in {full_secs:.1} s");

    // 2. Leave-one-out.
    let phase = Instant::now();
    let loo_jobs = jobs(1..variants.len(), args.starts);
    start_all(&image, &mut variants, &loo_jobs, args.jobs)?;
    let loo_secs = phase.elapsed().as_secs_f64();

    print!("{}", table(&variants));
    let elapsed = started.elapsed().as_secs_f64();
    let out = workspace_root().join(&args.out);
    let json = results_json(&image, args, full_starts, &variants, [full_secs, loo_secs]);
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(&json).expect("a JSON value serializes") + "\n";
    fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "runc-baseline: {} starts in {elapsed:.1} s (full baseline {full_secs:.1} s, leave-one-out \
         {loo_secs:.1} s); wrote {}",
        full_jobs.len() + loo_jobs.len(),
        args.out.display()
    );
    if !full_ok {
        bail!("busybox did not always start under the full runc baseline (see above)");
    }
    Ok(())
}

/// `trace render` of the fixture recording with its calls cleared: the profile trace writes for a
/// container that made no calls at all, i.e. the runc baseline (and the `ENOSYS` rule).
fn render_empty_profile(trace: &Path, dir: &Path) -> Result<Value> {
    let fixture_path = workspace_root().join(FIXTURE);
    let fixture = fs::read_to_string(&fixture_path)
        .with_context(|| format!("reading {}", fixture_path.display()))?;
    let mut recording: Value = serde_json::from_str(&fixture)
        .with_context(|| format!("parsing {}", fixture_path.display()))?;
    recording["syscalls"] = json!({});
    recording["unknown_syscalls"] = json!([]);
    let recording_path = dir.join("recording.json");
    fs::write(
        &recording_path,
        serde_json::to_string_pretty(&recording).expect("a JSON value serializes"),
    )?;
    let render = Command::new(trace)
        .arg("render")
        .arg(&recording_path)
        .arg("--out")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", trace.display()))?;
    if !render.status.success() {
        bail!(
            "`trace render` failed ({}): {}",
            render.status,
            String::from_utf8_lossy(&render.stderr).trim()
        );
    }
    let path = dir.join("seccomp.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The index of the baseline rule in `profile["syscalls"]`.
fn baseline_rule(profile: &Value) -> Result<usize> {
    let rules = profile["syscalls"]
        .as_array()
        .context("the profile has no `syscalls` list")?;
    let found: Vec<usize> = rules
        .iter()
        .enumerate()
        .filter(|(_, rule)| {
            rule["comment"]
                .as_str()
                .is_some_and(|c| c.starts_with(BASELINE_COMMENT))
        })
        .map(|(i, _)| i)
        .collect();
    match found[..] {
        [i] if rules[i]["action"] == "SCMP_ACT_ALLOW" => Ok(i),
        [_] => bail!("the {BASELINE_COMMENT} rule is not an allow rule"),
        _ => bail!(
            "expected one rule whose comment starts with {BASELINE_COMMENT:?}, found {}",
            found.len()
        ),
    }
}

/// The names of the baseline rule.
fn baseline_names(profile: &Value) -> Result<Vec<String>> {
    let rule = &profile["syscalls"][baseline_rule(profile)?];
    rule["names"]
        .as_array()
        .context("the baseline rule has no names")?
        .iter()
        .map(|n| {
            n.as_str()
                .map(str::to_string)
                .context("a name is not a string")
        })
        .collect()
}

/// `profile` with `name` taken out of its baseline rule.
fn without(profile: &Value, name: &str) -> Result<Value> {
    let mut profile = profile.clone();
    let rule = baseline_rule(&profile)?;
    let names = profile["syscalls"][rule]["names"]
        .as_array_mut()
        .context("the baseline rule has no names")?;
    let before = names.len();
    names.retain(|n| n != name);
    if names.len() + 1 != before {
        bail!("{name} is not in the baseline rule once");
    }
    Ok(profile)
}

fn variant(dir: &Path, file: &str, removed: Option<&str>, profile: &Value) -> Result<Variant> {
    let path = dir.join(format!("{file}.json"));
    fs::write(
        &path,
        serde_json::to_string_pretty(profile).expect("a JSON value serializes"),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    Ok(Variant {
        removed: removed.map(str::to_string),
        path,
        tallies: [Tally::default(), Tally::default()],
        payload: Err("not run".into()),
    })
}

/// `starts` starts of each of the variants `range`, in both modes, interleaved so that concurrent
/// starts mix profiles and modes.
fn jobs(range: std::ops::Range<usize>, starts: u32) -> Vec<(usize, Mode)> {
    let mut jobs = Vec::new();
    for _ in 0..starts {
        for v in range.clone() {
            for mode in Mode::ALL {
                jobs.push((v, mode));
            }
        }
    }
    jobs
}

/// Runs `docker run --rm --security-opt seccomp=PROFILE [nnp] IMAGE true` for every job, `parallel`
/// at a time, and adds the outcomes to the variants' tallies.
fn start_all(
    image: &str,
    variants: &mut [Variant],
    jobs: &[(usize, Mode)],
    parallel: u32,
) -> Result<()> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Mode, Option<Failure>)>> = Mutex::new(Vec::new());
    let paths: Vec<String> = variants
        .iter()
        .map(|v| format!("seccomp={}", v.path.display()))
        .collect();
    let payloads: Vec<_> = variants.iter().map(|v| v.payload.clone()).collect();
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some(&(v, mode)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let mut args = vec!["run", "--rm", "--security-opt", &paths[v]];
                        args.extend_from_slice(mode.docker_args());
                        args.extend([image, "true"]);
                        let output = docker(&args)?;
                        let failure =
                            (!output.status.success()).then(|| Failure::of(&output, &payloads[v]));
                        outcomes
                            .lock()
                            .expect("no worker panics holding the lock")
                            .push((v, mode, failure));
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if n.is_multiple_of(PROGRESS_EVERY) || n == jobs.len() {
                            eprintln!(
                                "runc-baseline: {n}/{} starts ({:.1} s)",
                                jobs.len(),
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a start worker panicked")?;
        }
        Ok(())
    })?;
    for (v, mode, failure) in outcomes.into_inner().expect("workers are done") {
        let tally = &mut variants[v].tallies[mode as usize];
        tally.starts += 1;
        if let Some(failure) = failure {
            *tally.failures.entry(failure).or_default() += 1;
        }
    }
    Ok(())
}

/// The reverse check (see the module docs): for each variant, how the payload fails under its
/// profile (`None`: it does not). Needs strace; the payload is copied out of the image.
fn payload_check(image: &str, dir: &Path, variants: &[Variant]) -> Result<Vec<Option<Exit>>> {
    let payload_dir = dir.join("payload");
    fs::create_dir_all(&payload_dir)?;
    // Named like the applet: busybox picks the applet from argv[0].
    let payload = payload_dir.join(Path::new(PAYLOAD).file_name().expect("PAYLOAD has a name"));
    let _ = fs::remove_file(&payload);
    let id = docker_ok(&["create", image, "true"])?;
    let copied = docker_ok(&[
        "cp",
        "-L",
        &format!("{id}:{PAYLOAD}"),
        &payload.display().to_string(),
    ]);
    let _ = docker(&["rm", &id]);
    copied.with_context(|| format!("copying {PAYLOAD} out of {image}"))?;

    let mut results = Vec::new();
    for variant in variants {
        let text = fs::read_to_string(&variant.path)?;
        let profile: Value = serde_json::from_str(&text)?;
        let mut strace = Command::new("strace");
        strace.args(["-f", "-qq", "-o", "/dev/null"]);
        strace.args(inject_args(&profile)?);
        let output = strace
            .arg(&payload)
            .env_clear()
            .env("PATH", CONTAINER_PATH)
            .env("HOME", "/root")
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .context("cannot run strace (`cargo xtask setup` installs it)")?;
        results.push((!output.status.success()).then(|| Exit::of(&output)));
    }
    if let Some(Some(how)) = results.first() {
        bail!(
            "the payload fails under strace even with the full profile ({})",
            how.describe()
        );
    }
    Ok(results)
}

/// strace options that make the calls `profile` refuses fail as the filter would: errno rules with
/// their errno, every call outside the profile with `EPERM`. Names strace does not know are skipped
/// (`?name`).
fn inject_args(profile: &Value) -> Result<Vec<String>> {
    if profile["defaultAction"] != "SCMP_ACT_ERRNO" {
        bail!("the profile's default action is not SCMP_ACT_ERRNO");
    }
    let mut listed: Vec<String> = Vec::new();
    let mut by_errno: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for rule in profile["syscalls"].as_array().context("no syscalls")? {
        let names = rule["names"].as_array().context("a rule has no names")?;
        let names: Vec<String> = names
            .iter()
            .filter_map(Value::as_str)
            .map(|n| format!("?{n}"))
            .collect();
        match rule["action"].as_str() {
            Some("SCMP_ACT_ALLOW") => {}
            Some("SCMP_ACT_ERRNO") => by_errno
                .entry(rule["errnoRet"].as_u64().unwrap_or(EPERM))
                .or_default()
                .extend(names.iter().cloned()),
            other => bail!("cannot emulate rule action {other:?}"),
        }
        listed.extend(names);
    }
    let mut args = vec![
        "-e".to_string(),
        format!("inject=!{}:error={EPERM}", listed.join(",")),
    ];
    for (errno, names) in by_errno {
        args.extend([
            "-e".to_string(),
            format!("inject={}:error={errno}", names.join(",")),
        ]);
    }
    Ok(args)
}

/// How runc and the payload fared in one variant's row: runc is "needed" in a mode when a start
/// failed with a runc error.
fn needed_by(variant: &Variant) -> Vec<&'static str> {
    let mut who = Vec::new();
    for mode in Mode::ALL {
        let tally = &variant.tallies[mode as usize];
        if tally.failed_in(Culprit::Runc) > 0 {
            who.push(match mode {
                Mode::Default => "runc",
                Mode::Nnp => "runc-nnp",
            });
        }
        if tally.failed_in(Culprit::Unattributed) > 0 {
            who.push(match mode {
                Mode::Default => "runc or payload",
                Mode::Nnp => "runc-nnp or payload",
            });
        }
    }
    if matches!(variant.payload, Ok(Some(_))) {
        who.push("payload");
    }
    who
}

/// The table for stdout: one row per profile, then the distinct failures and where they came from.
fn table(variants: &[Variant]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>9}  {:<9} needed by",
        "name", "default", "nnp", "payload"
    );
    for variant in variants {
        let name = variant.removed.as_deref().unwrap_or("(full baseline)");
        let [default, nnp] = &variant.tallies;
        let payload = match &variant.payload {
            Ok(None) => "ok",
            Ok(Some(_)) => "fails",
            Err(_) => "?",
        };
        let who = needed_by(variant);
        let who = if variant.removed.is_none() {
            String::new()
        } else if who.is_empty() {
            "-".to_string()
        } else {
            who.join(", ")
        };
        let _ = writeln!(
            out,
            "{name:<16} {:>9} {:>9}  {payload:<9} {who}",
            format!("{}/{}", default.failed(), default.starts),
            format!("{}/{}", nnp.failed(), nnp.starts),
        );
    }
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for variant in variants {
        let name = variant.removed.as_deref().unwrap_or("(full)");
        for mode in Mode::ALL {
            for failure in variant.tallies[mode as usize].failures.keys() {
                seen.entry(format!("{}: {}", failure.culprit.key(), failure.text))
                    .or_default()
                    .push(format!("{name} ({})", mode.key()));
            }
        }
        if let Ok(Some(how)) = &variant.payload {
            seen.entry(format!("payload alone, under strace: {}", how.describe()))
                .or_default()
                .push(name.to_string());
        }
    }
    if !seen.is_empty() {
        let _ = writeln!(out, "\nfailures seen:");
        for (text, names) in seen {
            let _ = writeln!(out, "  {text}\n    <- {}", names.join(", "));
        }
    }
    out
}

fn results_json(
    image: &str,
    args: &RuncBaselineArgs,
    full_starts: u32,
    variants: &[Variant],
    [full_secs, loo_secs]: [f64; 2],
) -> Value {
    let info = |format: &str| docker_ok(&["info", "--format", format]).unwrap_or_default();
    let image_id =
        docker_ok(&["image", "inspect", "--format", "{{.Id}}", image]).unwrap_or_default();
    let row = |variant: &Variant| {
        json!({
            "default": variant.tallies[Mode::Default as usize].to_json(),
            "nnp": variant.tallies[Mode::Nnp as usize].to_json(),
            "payload": match &variant.payload {
                Ok(None) => json!({ "fails": false }),
                Ok(Some(how)) => json!({ "fails": true, "how": how.describe() }),
                Err(why) => json!({ "checked": false, "why": why }),
            },
        })
    };
    let leave_one_out: Vec<Value> = variants[1..]
        .iter()
        .map(|v| {
            let mut r = row(v);
            r["name"] = json!(v.removed);
            r["needed_by"] = json!(needed_by(v));
            r
        })
        .collect();
    let mut command = format!("cargo xtask runc-baseline --starts {}", args.starts);
    if args.full_starts.is_some() {
        let _ = write!(command, " --full-starts {full_starts}");
    }
    if let Some(tag) = &args.image {
        let _ = write!(command, " --image {tag}");
    }
    json!({
        "schema": "trace-runc-baseline",
        "schema_version": 1,
        "measured_at": utc_now(),
        "command": command,
        "docker": info("{{.ServerVersion}}"),
        "runc": info("{{.RuncCommit.ID}}"),
        "kernel": info("{{.KernelVersion}}"),
        "image": { "tag": image, "id": image_id },
        "payload": ["true"],
        "parallel_starts": args.jobs,
        "seconds": { "full": round1(full_secs), "leave_one_out": round1(loo_secs) },
        "baseline": variants[1..].iter().map(|v| v.removed.clone()).collect::<Vec<_>>(),
        "full": row(&variants[0]),
        "leave_one_out": leave_one_out,
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (the proleptic Gregorian calendar).
fn utc(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use std::process::ExitStatus;

    use super::*;

    fn output(code: i32, stderr: &str) -> Output {
        Output {
            status: ExitStatus::from_raw(code << 8),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn failures_are_put_down_to_runc_or_the_payload() {
        let runc = output(
            125,
            "docker: Error response from daemon: failed to create shim task: OCI runtime create \
             failed: runc create failed: unable to start container process: unable to apply caps: \
             operation not permitted: unknown.\n\nRun 'docker run --help' for more information\n",
        );
        let alone = Ok(Some(Exit {
            code: 127,
            line: String::new(),
        }));
        assert_eq!(
            Failure::of(&runc, &alone),
            Failure {
                culprit: Culprit::Runc,
                text: "unable to apply caps: operation not permitted".into()
            }
        );
        let payload = Failure::of(&output(127, ""), &alone);
        assert_eq!(payload.culprit, Culprit::Payload);
        assert_eq!(payload.text, "exit 127");
        // runc's init process reports on the container's stderr once the start has begun.
        let init = output(1, "exec /bin/true: operation not permitted\n");
        let failure = Failure::of(&init, &Ok(None));
        assert_eq!(failure.culprit, Culprit::Runc);
        assert_eq!(
            failure.text,
            "exit 1: exec /bin/true: operation not permitted"
        );
        assert_eq!(
            Failure::of(&init, &Err("no strace".into())).culprit,
            Culprit::Unattributed
        );
        let daemon = Failure::of(
            &output(
                125,
                "docker: Error response from daemon: cannot start a stopped process: unknown.\n",
            ),
            &alone,
        );
        assert_eq!(daemon.culprit, Culprit::Runc);
        assert_eq!(
            daemon.text,
            "daemon: cannot start a stopped process: unknown."
        );
    }

    #[test]
    fn addresses_are_masked() {
        assert_eq!(
            without_addresses("futexwakeup addr=0xc5dd38 returned -1"),
            "futexwakeup addr=0x… returned -1"
        );
        assert_eq!(without_addresses("at 0x"), "at 0x");
        assert_eq!(without_addresses("0xff"), "0x…");
    }

    #[test]
    fn signals_count_as_128_plus() {
        let killed = Output {
            status: ExitStatus::from_raw(11),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        assert_eq!(Exit::of(&killed).describe(), "exit 139 (signal 11)");
    }

    fn profile() -> Value {
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                { "names": [], "action": "SCMP_ACT_ALLOW", "comment": "Observed ..." },
                { "names": ["close", "read"], "action": "SCMP_ACT_ALLOW",
                  "comment": "runc baseline: ..." },
                { "names": ["statx"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
            ],
        })
    }

    #[test]
    fn leave_one_out_edits_only_the_baseline_rule() {
        let p = profile();
        assert_eq!(baseline_names(&p).unwrap(), ["close", "read"]);
        let w = without(&p, "read").unwrap();
        assert_eq!(baseline_names(&w).unwrap(), ["close"]);
        assert_eq!(w["syscalls"][2], p["syscalls"][2]);
        assert!(without(&p, "statx").is_err());
    }

    #[test]
    fn strace_injects_what_the_filter_refuses() {
        assert_eq!(
            inject_args(&profile()).unwrap(),
            [
                "-e",
                "inject=!?close,?read,?statx:error=1",
                "-e",
                "inject=?statx:error=38"
            ]
        );
    }

    #[test]
    fn utc_formats_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_910_399), "2026-11-28T23:59:59Z");
    }
}
