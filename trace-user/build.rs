//! Builds the eBPF object from `trace-ebpf` and leaves it at `$OUT_DIR/trace-ebpf.o` for
//! `src/probe` to embed.
//!
//! The eBPF crate needs Debian's rustc (>= 1.96, with the prebuilt `core` for bpfel-unknown-none)
//! and bpf-linker, so this runs Debian's cargo in a clean environment: nothing of the outer build
//! (rustup toolchain, RUSTFLAGS, clippy's wrapper, target dir, profile settings) leaks into it, and
//! the `RUSTC_BOOTSTRAP` it needs stays out of the userspace build. See docs/building.md.
//!
//! It also sets `TRACE_VERSION`, the version `trace --version` prints, with the commit built.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

/// The one fix for every missing piece of the toolchain.
const SETUP_HINT: &str = "run `cargo xtask setup` (installs Debian's rustc-web, \
                          libstd-rust-web-dev-bpf, llvm-22-dev and bpf-linker 0.13.0)";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
/// Oldest Debian rustc known to build the eBPF crate (its LLVM must match bpf-linker's).
const MIN_RUSTC: (u32, u32) = (1, 96);
const BPF_TARGET: &str = "bpfel-unknown-none";
/// The binary's name in trace-ebpf/Cargo.toml.
const EBPF_BIN: &str = "trace-ebpf";

/// Outer-build `CARGO_*` variables the inner cargo may keep: where crates live and how to fetch
/// them, and the jobserver (so the two builds share the CPU budget).
const KEEP_CARGO_VARS: &[&str] = &[
    "CARGO_HOME",
    "CARGO_MAKEFLAGS",
    "CARGO_NET_",
    "CARGO_HTTP_",
    "CARGO_REGISTRIES_",
    "CARGO_REGISTRY_",
];
/// Non-`CARGO_*` variables of the outer build that would change the inner one.
const DROP_VARS: &[&str] = &[
    "RUSTC",
    "RUSTDOC",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_LINKER",
    "RUSTC_BOOTSTRAP",
    "RUSTUP_TOOLCHAIN",
    "TARGET",
    "HOST",
    "OUT_DIR",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
];

/// Why the build stopped.
enum Failure {
    /// A piece of the toolchain is missing: one line, naming the fix.
    Toolchain(String),
    /// Anything else, with details for stderr.
    Build { summary: String, details: String },
}

fn main() -> ExitCode {
    version();
    match build() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Toolchain(what)) => {
            // `cargo::error` with a clean exit prints just this line, without the script's output.
            println!("cargo::error={what}: {SETUP_HINT}");
            ExitCode::SUCCESS
        }
        Err(Failure::Build { summary, details }) => {
            println!("cargo::error={summary}");
            eprintln!("{details}");
            ExitCode::FAILURE
        }
    }
}

/// Sets `TRACE_VERSION` for `trace --version`: the package version and the commit it was built
/// from, `0.1.0 (commit 1a2b3c4)`. The commit is `$TRACE_BUILD_COMMIT` when set (a packager building
/// from a tarball), else `git rev-parse --short HEAD` of this checkout; without either it is left
/// out (`0.1.0`).
fn version() {
    let package = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo::rerun-if-env-changed=TRACE_BUILD_COMMIT");
    let commit = env::var("TRACE_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_owned())
        .or_else(git_commit);
    match commit {
        Some(commit) => println!("cargo::rustc-env=TRACE_VERSION={package} (commit {commit})"),
        None => println!("cargo::rustc-env=TRACE_VERSION={package}"),
    }
}

/// The short commit of the checkout holding this crate, and reruns when HEAD moves.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(args)
            .current_dir(env::var_os("CARGO_MANIFEST_DIR")?)
            .output()
            .ok()?;
        let text = String::from_utf8(output.stdout).ok()?;
        (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    // HEAD names a branch whose ref file (or packed-refs) moves with each commit; in a worktree
    // these live in different git directories, which `--git-path` resolves.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        // A path that does not exist would rerun this script on every build.
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo::rerun-if-changed={path}");
        }
    }
    Some(commit)
}

fn build() -> Result<(), Failure> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let root = manifest_dir.parent().ok_or_else(|| Failure::Build {
        summary: "trace-user has no parent directory".into(),
        details: manifest_dir.display().to_string(),
    })?;
    let ebpf_dir = root.join("trace-ebpf");
    for input in [
        "trace-ebpf/src",
        "trace-ebpf/Cargo.toml",
        "trace-ebpf/Cargo.lock",
        "trace-ebpf/.cargo/config.toml",
        "trace-common/src",
        "trace-common/Cargo.toml",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(input).display());
    }

    let linker = check_toolchain()?;

    let target_dir = out_dir.join("ebpf-target");
    let mut cargo = Command::new(DEBIAN_CARGO);
    cargo
        .current_dir(&ebpf_dir)
        .args(["build", "--release", "--target", BPF_TARGET, "--target-dir"])
        .arg(&target_dir);
    for (name, _) in env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let leaks = if name.starts_with("CARGO_") {
            !KEEP_CARGO_VARS.iter().any(|keep| name.starts_with(keep))
        } else {
            DROP_VARS.contains(&name)
        };
        if leaks {
            cargo.env_remove(name);
        }
    }
    cargo
        .env_remove("CARGO")
        .env("RUSTC", DEBIAN_RUSTC)
        // aya-ebpf uses #![feature(asm_experimental_arch)]; Debian's rustc is a stable build.
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_BPFEL_UNKNOWN_NONE_LINKER", &linker);
    // aya-ebpf picks pt_regs layouts by `bpf_target_arch`; match the userspace target, not the host.
    if let Ok(arch) = env::var("CARGO_CFG_TARGET_ARCH") {
        cargo.env("AYA_BPF_TARGET_ARCH", arch);
    }

    let output = cargo.output().map_err(|e| Failure::Build {
        summary: format!("cannot run {DEBIAN_CARGO}: {e}"),
        details: String::new(),
    })?;
    if !output.status.success() {
        return Err(Failure::Build {
            summary: format!(
                "building the eBPF object (trace-ebpf) failed ({}); its cargo output follows",
                output.status
            ),
            details: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }

    let object = target_dir.join(BPF_TARGET).join("release").join(EBPF_BIN);
    let dest = out_dir.join("trace-ebpf.o");
    fs::copy(&object, &dest).map_err(|e| Failure::Build {
        summary: format!(
            "cannot copy {} to {}: {e}",
            object.display(),
            dest.display()
        ),
        details: String::new(),
    })?;
    Ok(())
}

/// Checks Debian's rustc, its bpfel `core` and bpf-linker; returns bpf-linker's path.
fn check_toolchain() -> Result<PathBuf, Failure> {
    let version = Command::new(DEBIAN_RUSTC)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .ok_or_else(|| Failure::Toolchain(format!("the eBPF build needs {DEBIAN_RUSTC}")))?;
    let found = parse_rustc_version(&version);
    if found.is_none_or(|v| v < MIN_RUSTC) {
        return Err(Failure::Toolchain(format!(
            "the eBPF build needs {DEBIAN_RUSTC} >= {}.{} (found `{}`)",
            MIN_RUSTC.0,
            MIN_RUSTC.1,
            version.trim()
        )));
    }
    if !Path::new(DEBIAN_CARGO).is_file() {
        return Err(Failure::Toolchain(format!(
            "the eBPF build needs {DEBIAN_CARGO}"
        )));
    }

    let sysroot = Command::new(DEBIAN_RUSTC)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let core_dir = sysroot.map(|s| s.join("lib/rustlib").join(BPF_TARGET).join("lib"));
    if !core_dir.as_deref().is_some_and(has_core_rlib) {
        return Err(Failure::Toolchain(format!(
            "{DEBIAN_RUSTC} has no prebuilt core for {BPF_TARGET}"
        )));
    }

    find_bpf_linker().ok_or_else(|| {
        Failure::Toolchain(
            "the eBPF build needs bpf-linker (not on PATH nor in ~/.cargo/bin)".into(),
        )
    })
}

/// `rustc 1.96.0 (ac68faa20 2026-05-25)` -> `(1, 96)`.
fn parse_rustc_version(version: &str) -> Option<(u32, u32)> {
    let number = version.strip_prefix("rustc ")?.split_whitespace().next()?;
    let mut parts = number.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn has_core_rlib(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
}

/// bpf-linker on PATH, else where `cargo install` puts it.
fn find_bpf_linker() -> Option<PathBuf> {
    let on_path = env::var_os("PATH")
        .into_iter()
        .flat_map(|path| env::split_paths(&path).collect::<Vec<_>>());
    let cargo_bins = [
        env::var_os("CARGO_HOME").map(|home| PathBuf::from(home).join("bin")),
        env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin")),
    ];
    on_path
        .chain(cargo_bins.into_iter().flatten())
        .map(|dir| dir.join("bpf-linker"))
        .find(|candidate| candidate.is_file())
}

fn env_var(name: &str) -> Result<String, Failure> {
    env::var(name).map_err(|e| Failure::Build {
        summary: format!("build script: {name}: {e}"),
        details: String::new(),
    })
}
