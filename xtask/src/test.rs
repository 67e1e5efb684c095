//! `cargo xtask test`: the project's one test command (and what CI runs).
//!
//! Order: `cargo fmt --check` (instant), setup, one build of the debug `trace` binary and every
//! test with clippy's lints (after setup: trace-user's build script needs the eBPF toolchain),
//! `cargo test --workspace` with the real-system tier required, and beside it the VM tier (`cargo xtask vm`:
//! its guests boot at the lowest CPU priority and start their checks when the tests are done). A
//! lint or test failure does not stop the later steps, so one run reports everything; a failed
//! setup or build does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};

use crate::cli::{TestArgs, VmArgs};
use crate::cmd::{self, cargo, one_line, target_dir};
use crate::{build, setup, vm};

pub fn run(args: &TestArgs) -> Result<()> {
    let mut report = Report::default();
    if !args.no_lint {
        report.record("fmt", cmd::run(cargo().args(["fmt", "--all", "--check"])));
    }
    setup::run()?;
    // The VM tier's images build in the background: debootstrap mostly waits on the mirror.
    let vm_images = (!args.no_vm).then(|| std::thread::spawn(vm::build_images));
    // One compiler run over the debug `trace` binary (trace-user's integration tests need it),
    // every test, and clippy's lints: clippy-driver compiles the workspace's crates with their
    // code generated, so the dependencies are compiled once, not checked for clippy and then
    // built again.
    let lint = !args.no_lint;
    match build::run(lint) {
        Ok(warnings) => {
            report.record("build", Ok(()));
            if lint {
                report.record("clippy", build::lint_verdict(warnings));
            }
        }
        Err(e) => report.record("build", Err(e)),
    }
    if report.failed.contains(&"build") {
        bail!("{} failed; tests not run", report.failed.join(", "));
    }
    // The VM tier's guests boot and load their images beside the tests, at the lowest CPU
    // priority; their checks, which have deadlines, start once the tests are done.
    let released = Arc::new(AtomicBool::new(false));
    let vm = vm_images.map(|images| {
        let released = Arc::clone(&released);
        std::thread::spawn(move || {
            images.join().expect("the image builds do not panic")?;
            vm::run(
                &VmArgs {
                    trace: Some(target_dir().join("debug/trace")),
                    ..VmArgs::default()
                },
                &released,
            )
        })
    });
    let tier = if args.allow_skip {
        "allow-skip"
    } else {
        "require"
    };
    report.record(
        "tests",
        cmd::run(
            build::workspace_cargo(lint)
                .args(["test", "--workspace", "--no-fail-fast"])
                .args(&args.passthrough)
                .env("TRACE_BIN", target_dir().join("debug/trace"))
                .env("TRACE_SYSTEM_TESTS", tier),
        ),
    );

    released.store(true, Ordering::Release);
    if let Some(vm) = vm {
        report.record("vm", vm.join().expect("the VM tier does not panic"));
    }

    if report.failed.is_empty() {
        eprintln!("xtask test: all passed ({})", report.passed.join(", "));
        Ok(())
    } else {
        bail!("{} failed", report.failed.join(", "))
    }
}

/// Which steps passed and failed so far.
#[derive(Default)]
struct Report {
    passed: Vec<&'static str>,
    failed: Vec<&'static str>,
}

impl Report {
    fn record(&mut self, step: &'static str, result: Result<()>) {
        match result {
            Ok(()) => self.passed.push(step),
            Err(e) => {
                eprintln!("xtask test: {step} failed: {}", one_line(&e));
                self.failed.push(step);
            }
        }
    }
}
