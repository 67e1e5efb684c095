//! Command-line types.

use clap::{Args, Parser, Subcommand};

/// Developer tasks for trace (run as `cargo xtask ...`).
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install and start what trace and its tests need (Debian 12, as root); quick when done.
    Setup,
    /// The project's one test command: fmt, setup, clippy, build trace, cargo test.
    Test(TestArgs),
    /// Trace a container while an exercise runs, then prove the recorded seccomp profile.
    Demo(DemoArgs),
    /// Measure which calls of an OCI runtime's baseline the runtime needs (runc, or crun with
    /// --runtime crun): start busybox `true` under the baseline-only profile and under it minus
    /// one call at a time, with and without no-new-privileges.
    #[command(alias = "runc-baseline")]
    RuntimeBaseline(RuncBaselineArgs),
    /// Measure what tracing costs, side by side with an empty program, bpftrace and strace:
    /// system call overhead in and around the traced container, a file storm, nginx and python's
    /// http.server under load, trace's footprint (docs/bench.md). Prints a table, writes bench/results.json.
    Bench(BenchArgs),
    /// Boot Debian guests under qemu (their stock kernels, systemd, cgroup v2, AppArmor
    /// enforcing) and run the real-system checks that matter inside each (docs/vm.md).
    Vm(VmArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Let the real-system tests skip when the machine cannot run them (default: they must run).
    #[arg(long)]
    pub allow_skip: bool,
    /// Skip `cargo fmt --check` and `cargo clippy`.
    #[arg(long)]
    pub no_lint: bool,
    /// Skip the VM tier (`cargo xtask vm`), which boots Debian guests under emulation.
    #[arg(long)]
    pub no_vm: bool,
    /// Extra arguments for `cargo test` (e.g. a test name filter).
    #[arg(last = true, value_name = "CARGO_TEST_ARGS")]
    pub passthrough: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Trace this running container instead of starting the built-in demo (busybox httpd).
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// Leave the traced demo container and the proof container running.
    #[arg(long)]
    pub keep: bool,
    /// The exercise to run while tracing and again against the profile (default:
    /// xtask/demo/exercise.sh). It finds the container's name in `$TRACE_CONTAINER`.
    #[arg(last = true, value_name = "EXERCISE")]
    pub exercise: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RuncBaselineArgs {
    /// Starts per leave-one-out profile and mode.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub starts: u32,
    /// Starts under the full baseline per mode [default: --starts].
    #[arg(long, value_name = "N")]
    pub full_starts: Option<u32>,
    /// The image to start `true` in [default: trace-test/busybox:local, built if needed].
    #[arg(long, value_name = "TAG")]
    pub image: Option<String>,
    /// `docker run`s at a time.
    #[arg(long, value_name = "J", default_value_t = 2)]
    pub jobs: u32,
    /// The OCI runtime, by Docker's name for it (`docker run --runtime`): runc, or crun
    /// (`cargo xtask setup` adds it to Docker).
    #[arg(long, value_name = "NAME", default_value = "runc")]
    pub runtime: String,
    /// Where to write the results, relative to the workspace root [default:
    /// bench/RUNTIME-baseline.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

impl RuncBaselineArgs {
    /// Where the results go.
    pub fn out(&self) -> std::path::PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| format!("bench/{}-baseline.json", self.runtime).into())
    }
}

/// The parts of `cargo xtask bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPart {
    /// System call overhead in the target, a neighbour and the host.
    Syscalls,
    /// The file storm and the render time.
    Storm,
    /// nginx and python's http.server under load, each beside an untraced twin.
    Service,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Tiny sizes: a smoke run of every part in well under a minute (results go to
    /// target/bench/results-quick.json).
    #[arg(long)]
    pub quick: bool,
    /// Interleaved rounds of the system call configurations [default: 15; --quick: 2].
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,
    /// System calls per timed workload run [default: 5000000; --quick: 200000]; the stat
    /// loop makes a fifth as many (a stat costs 3-4 getppids).
    #[arg(long, value_name = "N")]
    pub syscalls: Option<u64>,
    /// Another `trace` binary measured alongside as `trace (<its file name>)` (e.g. the build
    /// before a change to the kernel side), in the same rounds; repeatable.
    #[arg(long, value_name = "TRACE")]
    pub baseline: Vec<std::path::PathBuf>,
    /// Run only this part (e.g. `syscalls` to compare builds quickly).
    #[arg(long, value_name = "PART")]
    pub only: Option<BenchPart>,
    /// Where to write the results [default: bench/results.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Default, Args)]
pub struct VmArgs {
    /// Only this guest (repeatable) [default: every guest].
    #[arg(long, value_name = "GUEST")]
    pub guest: Vec<crate::vm::Guest>,
    /// The `trace` binary to run in the guests [default: the debug build, built first].
    #[arg(long, value_name = "TRACE")]
    pub trace: Option<std::path::PathBuf>,
}
