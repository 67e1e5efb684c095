//! The reverse check: the payload run on the host under strace with the profile's refusals
//! injected, so that a call the payload itself needs is not put down to the runtime.

use super::{CONTAINER_PATH, Culprit, EPERM, Exit, Mode, PAYLOAD, Variant};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use trace_tests::{docker, docker_ok};

/// The reverse check (see the module docs): for each variant, how the payload fails under its
/// profile (`None`: it does not). Needs strace; the payload is copied out of the image.
pub(super) fn payload_check(
    image: &str,
    dir: &Path,
    variants: &[Variant],
) -> Result<Vec<Option<Exit>>> {
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
pub(super) fn inject_args(profile: &Value) -> Result<Vec<String>> {
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

/// How the runtime (named `runtime`) and the payload fared in one variant's row: the runtime is
/// "needed" in a mode when a start failed with a runtime error (`runc`, `runc-nnp`).
pub(super) fn needed_by(variant: &Variant, runtime: &str) -> Vec<String> {
    let mut who = Vec::new();
    for mode in Mode::ALL {
        let tally = &variant.tallies[mode as usize];
        let name = match mode {
            Mode::Default => runtime.to_owned(),
            Mode::Nnp => format!("{runtime}-nnp"),
        };
        if tally.failed_in(Culprit::Runtime) > 0 {
            who.push(name.clone());
        }
        if tally.failed_in(Culprit::Unattributed) > 0 {
            who.push(format!("{name} or payload"));
        }
    }
    if matches!(variant.payload, Ok(Some(_))) {
        who.push("payload".to_owned());
    }
    who
}
