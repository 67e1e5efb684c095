//! `cargo xtask demo`: trace's main job end to end, on a fresh machine.
//!
//! 1. setup, and `trace` built in release;
//! 2. `trace --container NAME --out profiles/NAME -- EXERCISE...` (default exercise:
//!    xtask/demo/exercise.sh). Without `--container`, the exercise itself starts the built-in demo
//!    container (busybox httpd, image `trace-demo/httpd:local`) as `trace-demo`, as tests start
//!    the containers they test, so trace records it from its first instruction; with it, trace
//!    attaches to the running container NAME;
//! 4. the proof: a fresh container of the same image and command under
//!    `--security-opt seccomp=profiles/NAME/seccomp.json`, the same exercise against it (and, for the
//!    built-in demo, a mkdir that the exercise never made, which must be refused): PASS or FAIL;
//! 5. the files written. Containers started here are removed at the end unless `--keep`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use trace_tests::{Container, TestImage, docker, docker_ok, ensure_image, is_root, workspace_root};

use crate::cli::DemoArgs;
use crate::cmd::{self, cargo, one_line, target_dir};
use crate::setup;

/// The name of the built-in demo container.
const DEMO_CONTAINER: &str = "trace-demo";
/// The default exercise, relative to the workspace root.
const DEFAULT_EXERCISE: &str = "xtask/demo/exercise.sh";

pub fn run(args: &DemoArgs) -> Result<()> {
    if !is_root() {
        bail!("the demo needs root (eBPF and Docker): run `cargo xtask demo` as root");
    }
    setup::run()?;
    cmd::run(cargo().args(["build", "--release", "-p", "trace-user", "--bin", "trace"]))?;
    let trace = target_dir().join("release/trace");
    let root = workspace_root();

    let (name, demo_image) = if let Some(name) = &args.container {
        (name.clone(), None)
    } else {
        let image = ensure_image(TestImage::Demo)?;
        remove_container(DEMO_CONTAINER);
        (DEMO_CONTAINER.to_string(), Some(image))
    };
    let out = PathBuf::from("profiles").join(&name);
    let exercise = if args.exercise.is_empty() {
        vec![root.join(DEFAULT_EXERCISE).display().to_string()]
    } else {
        args.exercise.clone()
    };

    let mut tracing = Command::new(&trace);
    tracing
        .current_dir(&root)
        .args(["--container", &name, "--out"])
        .arg(&out)
        .arg("--")
        .args(&exercise)
        .env("TRACE_CONTAINER", &name);
    if let Some(image) = &demo_image {
        eprintln!(
            "demo: tracing {name}, which `{}` starts from {image}",
            exercise.join(" ")
        );
        tracing.env("TRACE_DEMO_IMAGE", image);
    } else {
        eprintln!("demo: tracing {name} while `{}` runs", exercise.join(" "));
    }
    let traced = cmd::run(&mut tracing).context("tracing the exercise");
    // The demo container, started by the exercise, is removed at the end like the proof's.
    let demo = match demo_image {
        Some(_) => Container::existing(&name).ok(),
        None => None,
    };
    traced?;
    let target = Target::inspect(&name)?;

    let seccomp = root.join(&out).join("seccomp.json");
    if !seccomp.is_file() {
        bail!("trace wrote no {}", out.join("seccomp.json").display());
    }
    if args.container.is_some() {
        eprintln!(
            "demo: note: the proof container gets {name}'s image and command, not its other run options"
        );
    }
    let (verdict, proof) = prove(
        &target,
        &format!("{name}-proof"),
        &seccomp,
        &exercise,
        &root,
        demo.is_some(),
    );

    println!("files in {}:", out.display());
    list_files(&root.join(&out), &out)?;
    match &verdict {
        Ok(how) => println!("PASS: {how}"),
        Err(why) => println!("FAIL: {why}"),
    }

    if args.keep {
        for container in [demo, proof].into_iter().flatten() {
            eprintln!("demo: left container {} running (--keep)", container.keep());
        }
    }
    verdict
        .map(drop)
        .map_err(|_| anyhow::anyhow!("the recorded seccomp profile did not pass the exercise"))
}

/// What a fresh copy of the traced container needs: its image and the command it runs.
struct Target {
    /// The image id (not the tag, which may have moved).
    image: String,
    /// The executable of the main process (its entrypoint) and its arguments.
    path: String,
    args: Vec<String>,
}

impl Target {
    fn inspect(name: &str) -> Result<Self> {
        let json = docker_ok(&["container", "inspect", "--format", "{{json .}}", name])
            .with_context(|| format!("no container {name} to trace"))?;
        Self::from_inspect(&json).with_context(|| format!("reading `docker inspect {name}`"))
    }

    fn from_inspect(json: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json)?;
        if value["State"]["Running"] != true {
            bail!("the container is not running");
        }
        let string = |v: &serde_json::Value, what: &str| {
            v.as_str()
                .map(str::to_string)
                .with_context(|| format!("no {what}"))
        };
        Ok(Self {
            image: string(&value["Image"], "Image")?,
            path: string(&value["Path"], "Path")?,
            args: value["Args"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|a| string(a, "Args"))
                .collect::<Result<_>>()?,
        })
    }
}

/// Starts `proof_name` like `target` under the seccomp profile and runs the exercise against it.
/// Returns the verdict (what passed, or why not) and the container, if it started.
fn prove(
    target: &Target,
    proof_name: &str,
    seccomp: &Path,
    exercise: &[String],
    root: &Path,
    deny_check: bool,
) -> (Result<String, String>, Option<Container>) {
    remove_container(proof_name);
    let security_opt = format!("seccomp={}", seccomp.display());
    let extra = [
        "--security-opt",
        &security_opt,
        "--entrypoint",
        &target.path,
    ];
    let args: Vec<&str> = target.args.iter().map(String::as_str).collect();
    eprintln!("demo: proving the profile on a fresh container {proof_name}");
    let proof = match Container::run_named(&target.image, proof_name, &extra, &args) {
        Ok(proof) => proof,
        Err(e) => {
            return (
                Err(format!(
                    "the container does not start under the profile: {}",
                    one_line(&e)
                )),
                None,
            );
        }
    };
    let (program, exercise_args) = exercise.split_first().unzip();
    let verdict = match cmd::run(
        Command::new(program.map_or("true", String::as_str))
            .args(exercise_args.unwrap_or_default())
            .current_dir(root)
            .env("TRACE_CONTAINER", proof_name),
    ) {
        Err(e) => Err(format!(
            "the exercise failed against {proof_name}: {}",
            one_line(&e)
        )),
        Ok(()) => match docker_ok(&["inspect", "--format", "{{.State.Running}}", proof_name]) {
            Ok(running) if running == "true" => {
                let passed = format!(
                    "the exercise passed against {proof_name}, confined by {}",
                    seccomp.display()
                );
                if deny_check {
                    check_denied(&proof, &passed)
                } else {
                    Ok(passed)
                }
            }
            Ok(_) => Err(format!(
                "the exercise passed but {proof_name} exited (killed by its profile?)"
            )),
            Err(e) => Err(one_line(&e)),
        },
    };
    (verdict, Some(proof))
}

/// The other half of the proof, for the built-in demo: a call the exercise never made (mkdir) is
/// refused in the confined container.
fn check_denied(proof: &Container, passed: &str) -> Result<String, String> {
    match proof.exec(&["mkdir", "/tmp/never-made-by-the-exercise"]) {
        Ok(out) if out.status.success() => Err(format!(
            "{passed}, but it allowed mkdir, which the exercise never called"
        )),
        Ok(out) => Ok(format!(
            "{passed}; mkdir, which the exercise never called, was refused ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(one_line(&e)),
    }
}

fn remove_container(name: &str) {
    // "No such container" is the usual answer; anything else shows up when it is started again.
    let _ = docker(&["rm", "-f", name]);
}

/// Prints the files in `dir` (shown as `shown`) with their sizes, to stdout.
fn list_files(dir: &Path, shown: &Path) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        println!(
            "  {}  {} bytes",
            shown.join(entry.file_name()).display(),
            entry.metadata()?.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_comes_from_docker_inspect() {
        let json = r#"{"Id":"abc","Image":"sha256:1234","Path":"/bin/httpd",
            "Args":["-f","-p","80"],"State":{"Running":true},"Config":{"Image":"x:local"}}"#;
        let target = Target::from_inspect(json).unwrap();
        assert_eq!(target.image, "sha256:1234");
        assert_eq!(target.path, "/bin/httpd");
        assert_eq!(target.args, ["-f", "-p", "80"]);
    }

    #[test]
    fn a_stopped_container_cannot_be_traced() {
        let json = r#"{"Image":"i","Path":"p","Args":[],"State":{"Running":false}}"#;
        let e = Target::from_inspect(json).err().unwrap();
        assert_eq!(e.to_string(), "the container is not running");
    }
}
