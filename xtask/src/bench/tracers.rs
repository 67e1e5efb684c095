//! The tracers compared: each runs as its own process, started, waited for until armed, and
//! stopped, with its CPU time taken from `wait4` and its peak memory from `/proc` ([`PeakRss`]).

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Bench;

/// What watches the system calls while a workload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Config {
    /// Nothing attached.
    Untraced,
    /// trace-ebpf's empty program on `sys_enter`: the kernel's dispatch alone.
    Floor,
    /// `trace --container TARGET`.
    Trace,
    /// `trace --container TARGET` and 7 idle containers: 8 targets armed.
    TraceEight,
    /// The same with another `trace` binary: the one at this index of `--baseline`.
    TraceBaseline(u8),
    /// bpftrace counting the target cgroup's system calls per number.
    Bpftrace,
    /// `strace -f -c` around the workload, inside the container (ptrace).
    Strace,
}

/// The labels of the `--baseline` builds, by index: `trace (<file name>)`.
static BASELINE_NAMES: OnceLock<Vec<String>> = OnceLock::new();

impl Config {
    /// The configurations of the `--baseline` builds, naming each after its file.
    pub fn baselines(binaries: &[PathBuf]) -> Vec<Config> {
        let names = BASELINE_NAMES.get_or_init(|| {
            binaries
                .iter()
                .map(|b| {
                    let file = b.file_name().unwrap_or(b.as_os_str());
                    format!("trace ({})", file.to_string_lossy())
                })
                .collect()
        });
        (0..names.len())
            .filter_map(|i| u8::try_from(i).ok().map(Config::TraceBaseline))
            .collect()
    }

    pub fn name(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Config::Untraced => "untraced",
            Config::Floor => "floor",
            Config::Trace => "trace",
            Config::TraceEight => "trace, 8 targets",
            Config::TraceBaseline(i) => {
                return BASELINE_NAMES
                    .get()
                    .and_then(|names| names.get(usize::from(i)))
                    .map_or_else(
                        || Cow::Owned(format!("trace (baseline {i})")),
                        |n| Cow::Borrowed(n.as_str()),
                    );
            }
            Config::Bpftrace => "bpftrace",
            Config::Strace => "strace -f -c",
        })
    }
}

/// The container a tracer watches.
pub struct Target<'a> {
    pub name: &'a str,
    /// Idle containers `trace, 8 targets` records besides it.
    pub idle: &'a [&'a str],
    /// Its cgroup v2 directory on the host (bpftrace filters on its id; only bpftrace needs it).
    pub cgroup_dir: Option<&'a Path>,
}

/// How long a tracer gets to exit after it is told to stop, before it is told again.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How many times a tracer is told to stop before it is killed and the bench fails.
const STOP_ATTEMPTS: u32 = 3;

/// A tracer process, armed.
pub struct Session {
    config: Config,
    child: Child,
    /// The floor's stdin: closing it stops the floor.
    stdin: Option<ChildStdin>,
    /// What it printed, collected by a thread.
    output: Option<JoinHandle<String>>,
    started: Instant,
    /// From the spawn to the line saying it is armed.
    pub armed_after: Duration,
    peak_rss: PeakRss,
}

/// What a tracer process used: CPU time from `wait4`, peak RSS from [`PeakRss`].
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Usage {
    /// Seconds from the spawn to its exit.
    pub lifetime_ms: f64,
    pub armed_ms: f64,
    pub user_ms: f64,
    pub system_ms: f64,
    pub max_rss_kib: u64,
    /// Peak anonymous memory (`RssAnon`): the process's own heap and stacks, without mapped
    /// files and shared maps (trace's 64 MiB ring buffer is mapped twice, 128 MiB of its RSS).
    pub max_anon_kib: u64,
}

/// Starts the tracer of `config` on `target` and waits until it is armed; `None` for the
/// configurations without a tracer process.
pub fn start(
    bench: &Bench,
    config: Config,
    target: &Target<'_>,
    out_dir: &Path,
) -> Result<Option<Session>> {
    let (mut cmd, armed_line, on_stderr): (Command, &str, bool) = match config {
        Config::Untraced | Config::Strace => return Ok(None),
        Config::Floor => (Command::new(&bench.floor), "armed", false),
        Config::Trace | Config::TraceBaseline(_) | Config::TraceEight => {
            let binary = match config {
                Config::TraceBaseline(i) => bench
                    .baseline
                    .get(usize::from(i))
                    .context("no such --baseline trace binary")?,
                _ => &bench.trace,
            };
            let mut cmd = Command::new(binary);
            cmd.args(["--container", target.name, "--out"]).arg(out_dir);
            if config == Config::TraceEight {
                for idle in target.idle {
                    cmd.args(["--container", idle]);
                }
            }
            (cmd, "trace: recording container", true)
        }
        Config::Bpftrace => {
            let cgroup_dir = target.cgroup_dir.context("bpftrace needs the cgroup")?;
            let mut cmd = Command::new("bpftrace");
            cmd.args(["-e", &bpftrace_program(cgroup_dir)]);
            (cmd, "armed", false)
        }
    };
    let stdin = if config == Config::Floor {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", config.name()))?;
    let peak_rss = PeakRss::watch(child.id());
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().context("no stdout")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let (watched, other): (Box<dyn Read + Send>, Box<dyn Read + Send>) = if on_stderr {
        (Box::new(stderr), Box::new(stdout))
    } else {
        (Box::new(stdout), Box::new(stderr))
    };
    let other = std::thread::spawn(move || read_all(other));
    let mut lines = BufReader::new(watched);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line)? == 0 {
            let _ = child.kill();
            let _ = child.wait();
            let other = other.join().unwrap_or_default();
            bail!(
                "{} exited before it was armed: {}{}",
                config.name(),
                seen.trim(),
                other.trim()
            );
        }
        seen.push_str(&line);
        if line.starts_with(armed_line) {
            break;
        }
    }
    let armed_after = started.elapsed();
    let output = std::thread::spawn(move || {
        let rest = read_all(Box::new(lines));
        let other = other.join().unwrap_or_default();
        format!("{seen}{rest}{other}")
    });
    Ok(Some(Session {
        config,
        child,
        stdin,
        output: Some(output),
        started,
        armed_after,
        peak_rss,
    }))
}

/// bpftrace's equivalent of trace's counter: the target cgroup's calls per number, on the classic
/// `raw_syscalls:sys_enter` tracepoint (bpftrace 0.17 has no raw tracepoints). The interval probe
/// comes last and fires 100 ms after it is attached: then the counter runs.
fn bpftrace_program(cgroup_dir: &Path) -> String {
    format!(
        "tracepoint:raw_syscalls:sys_enter /cgroup == cgroupid(\"{}\")/ {{ @calls[args->id] = count(); }}\n\
         interval:ms:100 {{ if (@armed == 0) {{ printf(\"armed\\n\"); @armed = 1; }} }}\n",
        cgroup_dir.display()
    )
}

fn read_all(mut from: Box<dyn Read + Send>) -> String {
    let mut text = String::new();
    let _ = from.read_to_string(&mut text);
    text
}

impl Session {
    /// Stops the tracer (SIGINT; the floor: stdin closed), waits for it and returns what it used.
    ///
    /// A tracer still running [`STOP_GRACE`] later gets SIGINT again: bpftrace 0.17 once slept
    /// on in `epoll_wait` after handling the first (1 of ~150 sessions), and a second one stops
    /// it; trace ignores a repeated SIGINT. After [`STOP_ATTEMPTS`] it is killed and this fails.
    pub fn stop(mut self) -> Result<(Usage, String)> {
        let pid = i32::try_from(self.child.id()).context("pid out of range")?;
        let interrupt = || {
            // SAFETY: kill(2) on our own child, not yet reaped; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGINT) };
        };
        // The floor reads its stdin (and dies of SIGINT); the others stop on SIGINT.
        if self.stdin.take().is_none() {
            interrupt();
        }
        let mut reaped = None;
        for attempt in 1..=STOP_ATTEMPTS {
            reaped = reap(pid, Some(STOP_GRACE))?;
            if reaped.is_some() || attempt == STOP_ATTEMPTS {
                break;
            }
            eprintln!(
                "bench: {} still running {} s after it was told to stop ({attempt}/{STOP_ATTEMPTS}): SIGINT again",
                self.config.name(),
                STOP_GRACE.as_secs()
            );
            interrupt();
        }
        let Some((status, rusage)) = reaped else {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = reap(pid, None);
            bail!(
                "{} did not stop when told {STOP_ATTEMPTS} times, {} s apart: killed",
                self.config.name(),
                STOP_GRACE.as_secs()
            );
        };
        let usage = usage(&rusage, self.peak_rss);
        let lifetime = self.started.elapsed();
        let output = self
            .output
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        // trace exits 130 after SIGINT, bpftrace 0; anything else is a failure.
        let code = libc::WEXITSTATUS(status);
        if !libc::WIFEXITED(status) || (code != 0 && code != 130) {
            bail!(
                "tracer exited with wait status {status:#x}: {}",
                output.trim()
            );
        }
        Ok((
            Usage {
                lifetime_ms: super::millis(lifetime),
                armed_ms: super::millis(self.armed_after),
                ..usage
            },
            output,
        ))
    }
}

/// The peak resident memory of a child, sampled from `/proc/PID/status` every 10 ms until it
/// exits: `VmHWM` (the high-water mark of its resident set) and the largest `RssAnon` seen. Not
/// `wait4`'s `ru_maxrss`: Linux carries the high-water mark of what a process had before `exec`
/// into it, and a spawned child had the bench's memory before its `exec` (370 MiB once the bench
/// has read the storm's recording: every later session "peaked" there). Growth in the last 10 ms
/// before the exit can be missed.
pub struct PeakRss(JoinHandle<(u64, u64)>);

impl PeakRss {
    pub fn watch(pid: u32) -> PeakRss {
        let path = format!("/proc/{pid}/status");
        PeakRss(std::thread::spawn(move || {
            let (mut hwm, mut anon) = (0, 0);
            // The lines are gone once the process has released its memory (exited).
            while let Some(status) = std::fs::read_to_string(&path).ok()
                && let Some(kib) = status_kib(&status, "VmHWM:")
            {
                hwm = hwm.max(kib);
                anon = anon.max(status_kib(&status, "RssAnon:").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            (hwm, anon)
        }))
    }

    /// The peaks seen, `(VmHWM, RssAnon)` (call after the process exited).
    fn finish(self) -> (u64, u64) {
        self.0.join().unwrap_or((0, 0))
    }
}

/// The KiB figure of a `/proc/PID/status` line, e.g. `VmHWM:  144252 kB`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// Waits for child `pid` and returns its wait status and resource usage.
pub fn wait4(pid: i32, peak_rss: PeakRss) -> Result<(i32, Usage)> {
    let (status, rusage) = reap(pid, None)?.context("wait4 returned without the child")?;
    Ok((status, usage(&rusage, peak_rss)))
}

/// Reaps child `pid` with `wait4`: blocking, or with `within`, polling every 10 ms until that
/// has passed (then `None`: it still runs).
fn reap(pid: i32, within: Option<Duration>) -> Result<Option<(i32, libc::rusage)>> {
    let deadline = within.map(|d| Instant::now() + d);
    let flags = if deadline.is_some() { libc::WNOHANG } else { 0 };
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain integers; zeroed is a valid value that wait4 overwrites.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid and writable for the call; `pid` is our unreaped child.
        let rc = unsafe { libc::wait4(pid, &raw mut status, flags, &raw mut rusage) };
        if rc == pid {
            return Ok(Some((status, rusage)));
        }
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err).context("wait4");
        }
        match deadline {
            Some(deadline) if Instant::now() >= deadline => return Ok(None),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The CPU time of a reaped child, with the peak memory its watcher saw.
fn usage(rusage: &libc::rusage, peak_rss: PeakRss) -> Usage {
    let ms = |tv: libc::timeval| {
        super::millis(Duration::new(
            u64::try_from(tv.tv_sec).unwrap_or(0),
            u32::try_from(tv.tv_usec).unwrap_or(0) * 1000,
        ))
    };
    let (max_rss_kib, max_anon_kib) = peak_rss.finish();
    Usage {
        lifetime_ms: 0.0,
        armed_ms: 0.0,
        user_ms: ms(rusage.ru_utime),
        system_ms: ms(rusage.ru_stime),
        max_rss_kib,
        max_anon_kib,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_read_from_the_status_line() {
        let status = "Name:\ttrace\nVmPeak:\t  900000 kB\nVmHWM:\t  144252 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(144_252));
        assert_eq!(status_kib(status, "RssAnon:"), None);
        assert_eq!(
            status_kib("Name:\tzombie\nState:\tZ (zombie)\n", "VmHWM:"),
            None
        );
    }

    #[test]
    #[allow(clippy::zombie_processes, reason = "wait4 reaps it")]
    fn peak_rss_of_a_real_child() {
        // `sleep` peaks at a few MiB; ru_maxrss would report the test process's 64 MiB and more.
        let _ballast = vec![1u8; 64 << 20];
        let child = Command::new("sleep").arg("0.2").spawn().unwrap();
        let peak = PeakRss::watch(child.id());
        let (status, usage) = wait4(i32::try_from(child.id()).unwrap(), peak).unwrap();
        assert!(libc::WIFEXITED(status));
        assert!(usage.max_rss_kib > 0, "no sample of the child's VmHWM");
        assert!(usage.max_rss_kib < 32 << 10, "{} KiB", usage.max_rss_kib);
        assert!(usage.max_anon_kib <= usage.max_rss_kib);
    }

    #[test]
    #[allow(
        clippy::zombie_processes,
        reason = "reaped by `reap`, the code under test"
    )]
    fn reaping_within_a_time_leaves_a_running_child_running() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let started = Instant::now();
        assert!(
            reap(pid, Some(Duration::from_millis(50)))
                .unwrap()
                .is_none()
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        child.kill().unwrap();
        let (status, _) = reap(pid, None).unwrap().unwrap();
        assert!(libc::WIFSIGNALED(status));
    }

    #[test]
    fn bpftrace_filters_on_the_cgroup_and_says_when_armed() {
        let program = bpftrace_program(Path::new("/sys/fs/cgroup/unified/docker/abc"));
        assert!(program.contains("cgroupid(\"/sys/fs/cgroup/unified/docker/abc\")"));
        assert!(program.contains("printf(\"armed\\n\")"));
    }
}
