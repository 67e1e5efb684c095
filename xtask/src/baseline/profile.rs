//! The profiles measured: the baseline alone, and the baseline without one call at a time.

use super::{BASELINE_COMMENT, FIXTURE, Tally, Variant};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use trace_tests::workspace_root;

/// `trace render` of the fixture recording with its calls cleared, started by `runtime` under
/// Docker: the profile trace writes for a container that made no calls at all, i.e. that
/// runtime's baseline (and the `ENOSYS` rule).
pub(super) fn render_empty_profile(trace: &Path, dir: &Path, runtime: &str) -> Result<Value> {
    let fixture_path = workspace_root().join(FIXTURE);
    let fixture = fs::read_to_string(&fixture_path)
        .with_context(|| format!("reading {}", fixture_path.display()))?;
    let mut recording: Value = serde_json::from_str(&fixture)
        .with_context(|| format!("parsing {}", fixture_path.display()))?;
    recording["syscalls"] = json!({});
    recording["unknown_syscalls"] = json!([]);
    recording["container"]["runtimes"] = json!([{
        "engine": "docker",
        "engine_version": "",
        "name": runtime,
        "version": "",
    }]);
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
pub(super) fn baseline_rule(profile: &Value) -> Result<usize> {
    let rules = profile["syscalls"]
        .as_array()
        .context("the profile has no `syscalls` list")?;
    let found: Vec<usize> = rules
        .iter()
        .enumerate()
        .filter(|(_, rule)| rule["comment"].as_str().is_some_and(is_baseline_comment))
        .map(|(i, _)| i)
        .collect();
    match found[..] {
        [i] if rules[i]["action"] == "SCMP_ACT_ALLOW" => Ok(i),
        [_] => bail!("the baseline rule is not an allow rule"),
        _ => bail!(
            "expected one rule whose comment starts with `RUNTIME{BASELINE_COMMENT}`, found {}",
            found.len()
        ),
    }
}

/// Whether a rule's comment is the baseline's: `runc baseline: ...`, `crun baseline: ...`.
fn is_baseline_comment(comment: &str) -> bool {
    comment
        .split_once(BASELINE_COMMENT)
        .is_some_and(|(runtime, _)| !runtime.is_empty() && !runtime.contains(' '))
}

/// The names of the baseline rule.
pub(super) fn baseline_names(profile: &Value) -> Result<Vec<String>> {
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
pub(super) fn without(profile: &Value, name: &str) -> Result<Value> {
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

pub(super) fn variant(
    dir: &Path,
    file: &str,
    removed: Option<&str>,
    profile: &Value,
) -> Result<Variant> {
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
