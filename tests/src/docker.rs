//! The Docker CLI, and containers (of Docker or Podman) that remove themselves.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};

/// Runs `docker ARGS...` (the `docker` on `PATH`) and returns its output, whatever its exit status.
///
/// Errors only when `docker` cannot be started.
pub fn docker(args: &[&str]) -> Result<Output> {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `docker {}`", args.join(" ")))
}

/// Runs `docker ARGS...` and returns its stdout, trimmed; a non-zero exit is an error that quotes
/// docker's stderr.
pub fn docker_ok(args: &[&str]) -> Result<String> {
    let output = docker(args)?;
    if !output.status.success() {
        bail!(
            "`docker {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Runs `docker run --rm EXTRA_ARGS... IMAGE CMD...` to completion and returns its output,
/// whatever its exit status (a test may expect the command to fail).
pub fn run_once(image: &str, extra_args: &[&str], cmd: &[&str]) -> Result<Output> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra_args);
    args.push(image);
    args.extend_from_slice(cmd);
    docker(&args)
}

/// The container engine a test drives through its CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `docker`.
    Docker,
    /// `podman` (its CLI takes the same options for what the tests do).
    Podman,
}

impl Engine {
    /// Runs `ENGINE ARGS...` and returns its output, whatever its exit status.
    pub fn cli(self, args: &[&str]) -> Result<Output> {
        match self {
            Self::Docker => docker(args),
            Self::Podman => crate::podman::podman(args),
        }
    }

    /// Runs `ENGINE ARGS...` and returns its stdout, trimmed; a non-zero exit is an error.
    pub fn cli_ok(self, args: &[&str]) -> Result<String> {
        match self {
            Self::Docker => docker_ok(args),
            Self::Podman => crate::podman::podman_ok(args),
        }
    }
}

/// A detached container, removed (`docker rm -f`, `podman rm -f`) when dropped.
#[derive(Debug)]
pub struct Container {
    engine: Engine,
    name: String,
    id: String,
    keep: bool,
}

impl Container {
    /// Starts `docker run -d --name <unique> EXTRA_ARGS... IMAGE CMD...`.
    ///
    /// The name is `name_prefix`, this process's id and a counter, so parallel tests never
    /// collide. An empty `cmd` runs the image's default command.
    pub fn run(image: &str, name_prefix: &str, extra_args: &[&str], cmd: &[&str]) -> Result<Self> {
        Self::run_named(image, &unique_name(name_prefix), extra_args, cmd)
    }

    /// Like [`Container::run`] with exactly the name `name` (which must not be in use).
    pub fn run_named(image: &str, name: &str, extra_args: &[&str], cmd: &[&str]) -> Result<Self> {
        Self::run_in(Engine::Docker, image, name, extra_args, cmd)
    }

    /// Like [`Container::run`] in `engine` (`podman run -d ...` for Podman).
    pub fn run_with(
        engine: Engine,
        image: &str,
        name_prefix: &str,
        extra_args: &[&str],
        cmd: &[&str],
    ) -> Result<Self> {
        Self::run_in(engine, image, &unique_name(name_prefix), extra_args, cmd)
    }

    fn run_in(
        engine: Engine,
        image: &str,
        name: &str,
        extra_args: &[&str],
        cmd: &[&str],
    ) -> Result<Self> {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(extra_args);
        args.push(image);
        args.extend_from_slice(cmd);
        match engine.cli_ok(&args) {
            Ok(stdout) => Ok(Self {
                engine,
                name: name.to_string(),
                id: stdout.lines().last().unwrap_or_default().to_string(),
                keep: false,
            }),
            Err(e) => {
                // `run` may have created the container before it failed to start it.
                let _ = engine.cli(&["rm", "-f", name]);
                Err(e.context(format!("starting container {name} from {image}")))
            }
        }
    }

    /// Takes charge of the existing container `name` (started by someone else), to remove it
    /// when dropped.
    pub fn existing(name: &str) -> Result<Self> {
        Self::existing_in(Engine::Docker, name)
    }

    /// Like [`Container::existing`], for a container of `engine`.
    pub fn existing_in(engine: Engine, name: &str) -> Result<Self> {
        let id = engine.cli_ok(&["inspect", "--format", "{{.Id}}", name])?;
        Ok(Self {
            engine,
            name: name.to_string(),
            id,
            keep: false,
        })
    }

    /// A name no other test uses: `name_prefix`, this process's id and a counter.
    pub fn unique_name(name_prefix: &str) -> String {
        unique_name(name_prefix)
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The container's full id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs `docker exec NAME ARGS...` (`podman exec`) and returns its output, whatever its exit
    /// status.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["exec", self.name.as_str()];
        all.extend_from_slice(args);
        self.engine.cli(&all)
    }

    /// The host pid of the container's main process (`State.Pid`); an error when it is not running.
    pub fn pid(&self) -> Result<u32> {
        let pid = self
            .engine
            .cli_ok(&["inspect", "--format", "{{.State.Pid}}", &self.id])?;
        match pid.parse() {
            Ok(0) => bail!("container {} is not running", self.name),
            Ok(pid) => Ok(pid),
            Err(_) => bail!("container {}: unexpected State.Pid {pid:?}", self.name),
        }
    }

    /// Leaves the container running after `self` is dropped; returns its name.
    pub fn keep(mut self) -> String {
        self.keep = true;
        std::mem::take(&mut self.name)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if !self.keep {
            // Nothing useful to do on failure in a destructor: the container may already be gone.
            let _ = self.engine.cli(&["rm", "-f", &self.id]);
        }
    }
}

/// `docker save TAG | LOADER`: puts a test image into another engine's store; `what` names the
/// loader in errors.
pub(crate) fn save_into(tag: &str, loader: &mut Command, what: &str) -> Result<()> {
    let mut save = Command::new("docker")
        .args(["save", tag])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run `docker save`")?;
    let output = loader
        .stdin(save.stdout.take().context("docker save has no stdout")?)
        .output()
        .with_context(|| format!("cannot run `{what}`"))?;
    let saved = save.wait().context("waiting for docker save")?;
    if !saved.success() {
        bail!("`docker save {tag}` failed ({saved})");
    }
    if !output.status.success() {
        bail!(
            "`{what}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// `<prefix>-<pid>-<n>`, with characters Docker does not allow in names replaced by `-`.
fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let prefix = prefix.trim_start_matches(['_', '.', '-']);
    let prefix = if prefix.is_empty() {
        "trace-test"
    } else {
        prefix
    };
    format!("{prefix}-{}-{n}", std::process::id())
}

/// The proof that a generated profile works: calls `start(extra, n)` for the `n`-th of `starts`
/// starts in each of runc's two modes, with `extra` the `docker run` options that put the
/// container under the seccomp profile `seccomp_json`: the profile alone, then with
/// `no-new-privileges` (runc installs the filter later there, so it makes other calls under it).
pub fn start_under_profile(
    seccomp_json: &Path,
    starts: usize,
    mut start: impl FnMut(&[&str], usize),
) {
    let profile = format!("seccomp={}", seccomp_json.display());
    let alone = ["--security-opt", profile.as_str()];
    let no_new_privileges = [
        "--security-opt",
        profile.as_str(),
        "--security-opt",
        "no-new-privileges",
    ];
    for extra in [&alone[..], &no_new_privileges[..]] {
        for n in 1..=starts {
            start(extra, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_valid_and_distinct() {
        let pid = std::process::id();
        let a = unique_name("records::uname");
        let b = unique_name("records::uname");
        assert!(a.starts_with(&format!("records--uname-{pid}-")), "{a}");
        assert_ne!(a, b);
        assert!(unique_name("").starts_with("trace-test-"));
        assert!(unique_name("-x y").starts_with(&format!("x-y-{pid}-")));
    }
}
